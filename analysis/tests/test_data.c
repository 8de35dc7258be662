/* test_data.c: the data files plot writes, exact against golden copies
 * (analysis/tests/golden/, HA_UPDATE_GOLDEN=1 rewrites them, to be
 * reviewed as a diff), their agreement with the run's own summary, and
 * every input error of the readers (run.json, --ss-detail, metric paths). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ha.h"
#include "ha_testutil.h"

static const char *const dat_files[] = {"ladder.dat", "superslabs.dat", "occupancy.dat",
                                        "remote.dat",  "trim.dat",       "drift.dat",
                                        "mappings.dat"};

/* Writes the data of one fixture and compares every file with golden/NAME/. */
static void golden_case(const char *run_rel, const char *detail_rel, const char *name) {
  char *dir = ha_test_mkdir();
  json_t *run;
  ha_err err;
  assert_int_equal(ha_run_load(ha_test_src(run_rel), &run, &err), 0);
  char detail[4096] = "";
  if (detail_rel) snprintf(detail, sizeof detail, "%s", ha_test_src(detail_rel));
  if (ha_plot_data(run, detail_rel ? detail : NULL, dir, &err) != 0) fail_msg("%s", err.msg);
  int update = getenv("HA_UPDATE_GOLDEN") != NULL;
  size_t nfiles = sizeof dat_files / sizeof *dat_files + (detail_rel ? 1 : 0);
  for (size_t i = 0; i < nfiles; i++) {
    const char *f = i < sizeof dat_files / sizeof *dat_files ? dat_files[i] : "ssdetail.dat";
    char *got_path = ha_test_path(dir, f);
    char *got = ha_test_slurp(got_path, NULL);
    assert_non_null(got);
    char rel[256];
    snprintf(rel, sizeof rel, "analysis/tests/golden/%s/%s", name, f);
    if (update) {
      FILE *out = fopen(ha_test_src(rel), "w");
      assert_non_null(out);
      fputs(got, out);
      fclose(out);
    }
    char *want = ha_test_slurp(ha_test_src(rel), NULL);
    if (!want) fail_msg("%s missing (HA_UPDATE_GOLDEN=1 writes it)", rel);
    if (strcmp(got, want)) fail_msg("%s differs from %s", got_path, rel);
    free(got);
    free(want);
    free(got_path);
  }
  json_decref(run);
  ha_test_rmdir(dir);
}

static void test_data_golden_every_op(void **state) {
  golden_case("sim/tests/golden/every-op.seed-buggy.json", NULL, "every-op");
}

static void test_data_golden_larson_phase1(void **state) {
  golden_case("sim/tests/golden/larson-small.phase1.json",
              "sim/tests/golden/larson-small.phase1.ss.jsonl", "larson-small-phase1");
}

/* A run that meshed: mappings.dat's meshes, released bytes and potential. */
static void test_data_golden_phase_mesh(void **state) {
  golden_case("sim/tests/golden/phase.mesh.json", NULL, "phase-mesh");
}

/* Last data row of a file, split into numbers. */
static int last_row(const char *path, double *v, int max) {
  char *text = ha_test_slurp(path, NULL);
  assert_non_null(text);
  char *line = NULL;
  for (char *p = strtok(text, "\n"); p; p = strtok(NULL, "\n"))
    if (p[0] != '#') line = p;
  int n = 0;
  for (char *p = line; p && n < max;) {
    char *end;
    v[n] = strtod(p, &end);
    if (end == p) break;
    n++;
    p = end;
  }
  free(text);
  return n;
}

static int count_rows(const char *path) {
  char *text = ha_test_slurp(path, NULL);
  assert_non_null(text);
  int n = 0;
  for (char *p = strtok(text, "\n"); p; p = strtok(NULL, "\n")) n += p[0] != '#';
  free(text);
  return n;
}

/* The data say what the summary says: cumulative maps, trims, the end state. */
static void test_data_agrees_with_summary(void **state) {
  const char *runs[] = {"sim/tests/golden/every-op.seed-buggy.json",
                        "sim/tests/golden/larson-small.phase1.json"};
  for (size_t r = 0; r < 2; r++) {
    char *dir = ha_test_mkdir();
    json_t *run;
    ha_err err;
    assert_int_equal(ha_run_load(ha_test_src(runs[r]), &run, &err), 0);
    assert_int_equal(ha_plot_data(run, NULL, dir, &err), 0);
    double v[16];
    char *p = ha_test_path(dir, "superslabs.dat");
    assert_int_equal(last_row(p, v, 16), 9);
    assert_int_equal((long)v[0], json_integer_value(ha_path_get(run, "summary.events")));
    assert_int_equal((long)v[1], json_integer_value(ha_path_get(run, "summary.ss_live_end")));
    assert_int_equal((long)v[4], json_integer_value(ha_path_get(run, "summary.logically_nonempty_but_empty_end")));
    assert_int_equal((long)v[7], json_integer_value(ha_path_get(run, "summary.ss_allocated")));
    assert_int_equal((long)v[8], json_integer_value(ha_path_get(run, "summary.ss_freed")));
    free(p);
    p = ha_test_path(dir, "trim.dat");
    assert_int_equal(count_rows(p), json_integer_value(ha_path_get(run, "summary.trims")));
    free(p);
    p = ha_test_path(dir, "drift.dat");
    assert_int_equal(last_row(p, v, 16), 4);
    assert_int_equal((long)v[1], json_integer_value(ha_path_get(run, "summary.accounting_drift_end")));
    free(p);
    p = ha_test_path(dir, "ladder.dat");
    assert_int_equal(count_rows(p), json_array_size(json_object_get(run, "samples")));
    free(p);
    json_decref(run);
    ha_test_rmdir(dir);
  }
}

/* The occupancy cells of one sample add up to its live SuperSlabs. */
static void test_data_occupancy_sums_to_live(void **state) {
  char *dir = ha_test_mkdir();
  json_t *run;
  ha_err err;
  assert_int_equal(ha_run_load(ha_test_src("sim/tests/golden/larson-small.phase1.json"), &run, &err), 0);
  assert_int_equal(ha_plot_data(run, NULL, dir, &err), 0);
  char *p = ha_test_path(dir, "occupancy.dat");
  FILE *f = fopen(p, "r");
  assert_non_null(f);
  char line[256];
  long t0, t1, b, c, sum = 0, cur = -1;
  size_t sample = 0;
  const json_t *samples = json_object_get(run, "samples");
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#') continue;
    assert_int_equal(sscanf(line, "%ld %ld %ld %ld", &t0, &t1, &b, &c), 4);
    assert_true(b >= 0 && b <= 10 && c > 0 && t0 < t1);
    if (t1 != cur && cur >= 0) {
      while (json_integer_value(ha_path_get(json_array_get(samples, sample), "t")) != cur) sample++;
      assert_int_equal(sum, json_integer_value(ha_path_get(json_array_get(samples, sample), "ss.live")));
      sum = 0;
    }
    cur = t1;
    sum += c;
  }
  assert_int_equal(sum, json_integer_value(ha_path_get(run, "samples.-1.ss.live")));
  fclose(f);
  free(p);
  json_decref(run);
  ha_test_rmdir(dir);
}

/* Zero cannot sit on a log axis: the ladder writes NaN; a ratio of no
 * frees is NaN too. */
static void test_data_nan_where_undefined(void **state) {
  char *dir = ha_test_mkdir();
  json_t *run;
  ha_err err;
  assert_int_equal(ha_run_load(ha_test_src("sim/tests/golden/every-op.seed-buggy.json"), &run, &err), 0);
  json_t *s = json_array_get(json_object_get(run, "samples"), 0);
  json_object_set_new(s, "live_req_bytes", json_integer(0));
  json_object_set_new(json_object_get(s, "frees_interval"), "local", json_integer(0));
  json_object_set_new(json_object_get(s, "frees_interval"), "remote", json_integer(0));
  assert_int_equal(ha_plot_data(run, NULL, dir, &err), 0);
  double v[8];
  char *p = ha_test_path(dir, "ladder.dat");
  char *text = ha_test_slurp(p, NULL);
  assert_non_null(strstr(text, "\n1 NaN 64 "));
  free(text);
  free(p);
  p = ha_test_path(dir, "remote.dat");
  text = ha_test_slurp(p, NULL);
  assert_non_null(strstr(text, "\n1 NaN 0 "));
  free(text);
  free(p);
  (void)v;
  json_decref(run);
  ha_test_rmdir(dir);
}

static void expect_load_error(const char *path, const char *needle) {
  json_t *run = NULL;
  ha_err err;
  assert_int_equal(ha_run_load(path, &run, &err), HA_ERR_INPUT);
  assert_null(run);
  if (!strstr(err.msg, path) || !strstr(err.msg, needle)) fail_msg("message '%s' lacks '%s'", err.msg, needle);
}

/* A valid run with one field broken: every reader refuses it at load, exit
 * 2 naming the field (plot read "frees_interval": [] as LLONG_MIN twice and
 * summed them: a signed overflow under UBSan). */
static void test_data_run_fields_checked(void **state) {
  static const struct {
    const char *path, *value, *msg;
  } cases[] = {
      {"samples.0.frees_interval", "[]", "samples[0].frees_interval: expected object, got an array"},
      {"samples.1.frees_interval.local", "\"3\"", "samples[1].frees_interval.local: expected integer, got a string"},
      {"samples.2.t", "-1", "samples[2].t: below the minimum 0"},
      {"samples.0.occupancy_hist", "[1,2]", "samples[0].occupancy_hist: fewer than 11 items"},
      {"samples.0.utilization", "null", "samples[0].utilization: expected number, got null"},
      {"events.0.type", "\"frob\"", "events[0].type: not one of"},
      {"events.0.t", "1.5", "events[0].t: expected integer, got a real number"},
      {"summary.oom", "3", "summary.oom: expected boolean or object, got an integer"},
      {"summary.fragmentation.jw4", "\"big\"", "summary.fragmentation.jw4: expected number or null"},
      {"summary.events", "null", "summary.events: expected integer, got null"},
      {"config.ss_lg", "99", "config.ss_lg: above the maximum 22"},
      {"trace.hash", "\"crc:1\"", "trace.hash: does not match"},
      {"samples", "{}", "samples: expected array, got an object"},
  };
  char *dir = ha_test_mkdir();
  json_t *good = json_load_file(ha_test_src("sim/tests/golden/every-op.seed-buggy.json"), JSON_PRESERVE_ORDER, NULL);
  assert_non_null(good);
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    json_t *run = json_deep_copy(good);
    /* Set the value at the dotted path (the parent must exist). */
    char parent[128];
    snprintf(parent, sizeof parent, "%s", cases[i].path);
    char *dot = strrchr(parent, '.');
    json_t *holder = dot ? (*dot = '\0', ha_path_get(run, parent)) : run;
    const char *key = dot ? dot + 1 : cases[i].path;
    json_t *v = json_loads(cases[i].value, JSON_DECODE_ANY, NULL);
    assert_non_null(holder);
    assert_non_null(v);
    if (json_is_array(holder)) assert_int_equal(json_array_set_new(holder, (size_t)atoi(key), v), 0);
    else assert_int_equal(json_object_set_new(holder, key, v), 0);
    char name[32];
    snprintf(name, sizeof name, "bad%zu.json", i);
    char *path = ha_test_path(dir, name);
    assert_int_equal(json_dump_file(run, path, 0), 0);
    json_decref(run);
    expect_load_error(path, cases[i].msg);
    free(path);
  }
  json_decref(good);
  ha_test_rmdir(dir);
}

static void test_data_run_load_errors(void **state) {
  char *dir = ha_test_mkdir();
  char *missing = ha_test_path(dir, "missing.json");
  expect_load_error(missing, "cannot open");
  char *bad = ha_test_write(dir, "bad.json", "{\"schema\": ");
  expect_load_error(bad, "not valid JSON");
  char *trace = ha_test_write(dir, "trace.json", "{\"format\":\"hakmem-trace\",\"version\":1}");
  expect_load_error(trace, "not a hakreplay run");
  char *nosamples = ha_test_write(dir, "nos.json",
      "{\"schema\":{\"name\":\"hakreplay-run\",\"version\":1},\"events\":[],\"summary\":{},\"config\":{}}");
  expect_load_error(nosamples, "the document: missing field \"trace\" (docs/run.schema.json)");
  char *v2 = ha_test_write(dir, "v2.json", "{\"schema\":{\"name\":\"hakreplay-run\",\"version\":2}}");
  expect_load_error(v2, "version");
  free(missing);
  free(bad);
  free(trace);
  free(nosamples);
  free(v2);
  ha_test_rmdir(dir);
}

static void test_data_ssdetail_errors(void **state) {
  char *dir = ha_test_mkdir();
  json_t *run;
  ha_err err;
  assert_int_equal(ha_run_load(ha_test_src("sim/tests/golden/every-op.seed-buggy.json"), &run, &err), 0);
  static const struct {
    const char *text, *needle;
  } cases[] = {
      {"{\"t\": 1, \"ss\": []}\nnot json\n", ":2: not valid JSON"},
      {"{\"ss\": []}\n", ":1: no integer \"t\""},
      {"{\"t\": 1}\n", ":1: no \"ss\" array"},
      {"{\"t\": 1, \"ss\": [[1, 2, 3]]}\n", ":1: an \"ss\" entry is not"},
      {"{\"t\": 1, \"ss\": [[1, 2, \"x\", 4, 5]]}\n", ":1: an \"ss\" entry has a non-integer"},
      {"", "no samples"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *p = ha_test_write(dir, "detail.jsonl", cases[i].text);
    assert_int_equal(ha_plot_data(run, p, dir, &err), HA_ERR_INPUT);
    if (!strstr(err.msg, p) || !strstr(err.msg, cases[i].needle))
      fail_msg("case %zu: message '%s' lacks '%s'", i, err.msg, cases[i].needle);
    free(p);
  }
  char *p = ha_test_path(dir, "none.jsonl");
  assert_int_equal(ha_plot_data(run, p, dir, &err), HA_ERR_INPUT);
  assert_non_null(strstr(err.msg, "cannot open"));
  free(p);
  /* No temporary file is left behind by a failed write. */
  p = ha_test_path(dir, "ssdetail.dat");
  assert_null(ha_test_slurp(p, NULL));
  free(p);
  json_decref(run);
  ha_test_rmdir(dir);
}

static void test_data_path_get(void **state) {
  json_t *j = json_loads("{\"a\": {\"b\": [10, 20, {\"c\": 3}]}, \"x.y\": 1}", 0, NULL);
  assert_non_null(j);
  assert_int_equal(json_integer_value(ha_path_get(j, "a.b.0")), 10);
  assert_int_equal(json_integer_value(ha_path_get(j, "a.b.-2")), 20);
  assert_int_equal(json_integer_value(ha_path_get(j, "a.b.2.c")), 3);
  assert_true(json_is_array(ha_path_get(j, "a.b")));
  assert_null(ha_path_get(j, "a.b.3"));
  assert_null(ha_path_get(j, "a.b.-4"));
  assert_null(ha_path_get(j, "a.b.x"));
  assert_null(ha_path_get(j, "a.c"));
  assert_null(ha_path_get(j, "a."));
  assert_null(ha_path_get(j, "a..b"));
  assert_null(ha_path_get(j, "a.b.0.z"));
  json_decref(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_data_golden_every_op),
      cmocka_unit_test(test_data_golden_larson_phase1),
      cmocka_unit_test(test_data_golden_phase_mesh),
      cmocka_unit_test(test_data_agrees_with_summary),
      cmocka_unit_test(test_data_occupancy_sums_to_live),
      cmocka_unit_test(test_data_nan_where_undefined),
      cmocka_unit_test(test_data_run_load_errors),
      cmocka_unit_test(test_data_run_fields_checked),
      cmocka_unit_test(test_data_ssdetail_errors),
      cmocka_unit_test(test_data_path_get),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
