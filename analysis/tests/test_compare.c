/* test_compare.c: `hakreplay compare` through the built binary (HAKREPLAY):
 * a trace under 2-3 variants (runs written, replay flags passed through,
 * compare.md and compare.json with ratios to the first variant computed
 * from the runs themselves, overlay plots, index.html, the table printed),
 * a variant that runs out of memory shown as OOM, the default variants,
 * existing run.json files as input, the usage and input errors, and the
 * progress board on a terminal (script(1) gives it one). */
#include <unistd.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ha.h"
#include "ha_testutil.h"

#define LARSON_TRACE "traces/samples/larson-small.jsonl"

static json_t *load_json(const char *dir, const char *name) {
  char *p = ha_test_path(dir, name);
  json_error_t e;
  json_t *j = json_load_file(p, 0, &e);
  if (!j) fail_msg("%s: %s", p, e.text);
  free(p);
  return j;
}

static int compare(const char *const *extra, char **out, char **err) {
  const char *argv[32] = {ha_test_env("HAKREPLAY"), "compare"};
  int n = 2;
  for (int i = 0; extra[i]; i++) argv[n++] = extra[i];
  argv[n] = NULL;
  return ha_test_run(argv, out, err);
}

static double summary_num(const json_t *run, const char *key) {
  const json_t *v = json_object_get(json_object_get(run, "summary"), key);
  return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

static void test_compare_three_variants(void **state) {
  char *dir = ha_test_mkdir();
  char trace[4096];
  snprintf(trace, sizeof trace, "%s", ha_test_src(LARSON_TRACE));
  const char *args[] = {trace, "--variants", "seed-buggy,phase1,adopt", "-o", dir, "--jobs", "2",
                        "--ops-per-ms", "1", "--sample-every", "40", "--no-variant-plots", "--quiet", NULL};
  char *out, *err;
  int rc = compare(args, &out, &err);
  if (rc != 0) fail_msg("exit %d: %s", rc, err);
  static const char *names[] = {"seed-buggy", "phase1", "adopt"};
  json_t *runs[3];
  for (int i = 0; i < 3; i++) {
    char rel[64];
    snprintf(rel, sizeof rel, "%s/run.json", names[i]);
    runs[i] = load_json(dir, rel);
    assert_string_equal(json_string_value(ha_path_get(runs[i], "config.preset")), names[i]);
    assert_int_equal(json_integer_value(ha_path_get(runs[i], "config.replay.ops_per_ms")), 1);
    assert_int_equal(json_integer_value(ha_path_get(runs[i], "config.replay.sample_every")), 40);
  }
  /* compare.json: the summary of each, and the ratio to the first. */
  json_t *cmp = load_json(dir, "compare.json");
  assert_string_equal(json_string_value(ha_path_get(cmp, "schema.name")), "hakreplay-compare");
  assert_string_equal(json_string_value(json_object_get(cmp, "baseline")), "seed-buggy");
  json_t *vs = json_object_get(cmp, "variants");
  assert_int_equal(json_array_size(vs), 3);
  for (size_t i = 0; i < 3; i++) {
    json_t *v = json_array_get(vs, i);
    assert_string_equal(json_string_value(json_object_get(v, "name")), names[i]);
    assert_int_equal(json_integer_value(json_object_get(v, "replay_exit")), 0);
    assert_true(json_is_false(json_object_get(v, "oom")));
    assert_true(summary_num(runs[i], "ss_peak") == json_integer_value(ha_path_get(v, "summary.ss_peak")));
    double want = summary_num(runs[i], "peak_ss_mapped_bytes") / summary_num(runs[0], "peak_ss_mapped_bytes");
    assert_true(fabs(json_real_value(ha_path_get(v, "ratio.peak_ss_mapped_bytes")) - want) < 1e-9);
  }
  /* seed-buggy frees nothing: every ratio to its ss_freed is null. */
  assert_true(json_is_null(ha_path_get(json_array_get(vs, 1), "ratio.ss_freed")));

  /* compare.md: header, the OOM row, a row with values and ratios. */
  char *md_path = ha_test_path(dir, "compare.md");
  char *md = ha_test_slurp(md_path, NULL);
  assert_non_null(md);
  assert_string_equal(out, md); /* the table is printed */
  assert_non_null(strstr(md, "| metric | seed-buggy | phase1 | adopt |\n|---|---:|---:|---:|\n"));
  assert_non_null(strstr(md, "| out of memory | no | no | no |\n"));
  char row[256];
  long s0 = (long)summary_num(runs[0], "ss_peak"), s2 = (long)summary_num(runs[2], "ss_peak");
  char r2[32];
  snprintf(r2, sizeof r2, "%.3gx", (double)s2 / (double)s0);
  snprintf(row, sizeof row, "| SuperSlabs live, peak | %ld | %ld (1x) | %ld (%s) |\n", s0,
           (long)summary_num(runs[1], "ss_peak"), s2, r2);
  if (!strstr(md, row)) fail_msg("compare.md lacks '%s':\n%s", row, md);
  assert_non_null(strstr(md, "| trim passes | 0 | 8 | 8 |\n"));
  assert_non_null(strstr(md, "| slabs meshed | 0 | 0 | 0 |\n"));
  assert_non_null(strstr(md, "ratio to the first variant (seed-buggy)"));
  /* Overlays and the index. */
  static const char *files[] = {"ovl_mapped.png", "ovl_live.png",   "ovl_util.png",
                                "ovl_seed-buggy.dat", "ovl_adopt.dat", "ovl_mappings.png",
                                "ovl_mesh.png",   "ovm_adopt.dat",  "index.html"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    char *p = ha_test_path(dir, files[i]);
    char *t = ha_test_slurp(p, NULL);
    if (!t) fail_msg("%s missing", p);
    free(t);
    free(p);
  }
  char *ip = ha_test_path(dir, "index.html");
  char *html = ha_test_slurp(ip, NULL);
  assert_non_null(strstr(html, "<img src=\"ovl_live.png\""));
  assert_non_null(strstr(html, "<img src=\"ovl_mappings.png\""));
  assert_non_null(strstr(html, "<th>adopt</th>"));
  free(html);
  free(ip);
  free(md);
  free(md_path);
  json_decref(cmp);
  for (int i = 0; i < 3; i++) json_decref(runs[i]);
  free(out);
  free(err);
  ha_test_rmdir(dir);
}

/* A variant that hits the map limit (exit 3) is a result: shown as OOM.
 * The --opt every replay got is part of each column's name: these are not
 * the seed-buggy and adopt presets (the directories keep the names given). */
static void test_compare_oom_variant(void **state) {
  char *dir = ha_test_mkdir();
  char trace[4096];
  snprintf(trace, sizeof trace, "%s", ha_test_src(LARSON_TRACE));
  const char *args[] = {trace, "--variants", "seed-buggy,adopt", "--opt", "ss_map_limit=6", "-o", dir,
                        "--no-variant-plots", "--quiet", NULL};
  char *out, *err;
  int rc = compare(args, &out, &err);
  if (rc != 0) fail_msg("exit %d: %s", rc, err);
  assert_non_null(strstr(out, "| metric | seed-buggy+ss_map_limit=6 (OOM) | adopt+ss_map_limit=6 |"));
  assert_non_null(strstr(out, "| out of memory | OOM at t=581 (6 SuperSlabs) | no |"));
  assert_non_null(strstr(out, "ratio to the first variant (seed-buggy+ss_map_limit=6)"));
  json_t *run = load_json(dir, "seed-buggy/run.json");
  assert_string_equal(json_string_value(ha_path_get(run, "config.preset")), "seed-buggy");
  assert_string_equal(json_string_value(ha_path_get(run, "config.variant")), "seed-buggy+ss_map_limit=6");
  json_decref(run);
  char *ip = ha_test_path(dir, "index.html");
  char *html = ha_test_slurp(ip, NULL);
  assert_non_null(strstr(html, "<th>adopt+ss_map_limit=6</th>"));
  free(html);
  free(ip);
  json_t *cmp = load_json(dir, "compare.json");
  assert_string_equal(json_string_value(json_object_get(cmp, "baseline")), "seed-buggy+ss_map_limit=6");
  json_t *v0 = json_array_get(json_object_get(cmp, "variants"), 0);
  assert_string_equal(json_string_value(json_object_get(v0, "name")), "seed-buggy+ss_map_limit=6");
  assert_string_equal(json_string_value(json_object_get(v0, "preset")), "seed-buggy");
  assert_int_equal(json_integer_value(json_object_get(v0, "replay_exit")), 3);
  assert_true(json_is_true(json_object_get(v0, "oom")));
  assert_true(json_is_object(ha_path_get(v0, "summary.oom")));
  json_decref(cmp);
  free(out);
  free(err);
  ha_test_rmdir(dir);
}

/* Default variants: every preset, in the design's order. */
static void test_compare_default_variants(void **state) {
  char *dir = ha_test_mkdir();
  char trace[4096];
  snprintf(trace, sizeof trace, "%s", ha_test_src("traces/samples/every-op.json"));
  const char *args[] = {trace, "-o", dir, "--quiet", "--no-variant-plots", NULL};
  char *out, *err;
  int rc = compare(args, &out, &err);
  if (rc != 0) fail_msg("exit %d: %s", rc, err);
  assert_non_null(strstr(out, "| metric | seed-buggy | fix-a | fix-b | phase1 | lg20 | reuse | adopt | mesh | mesh-adopt |\n"));
  free(out);
  free(err);
  ha_test_rmdir(dir);
}

/* Existing run.json files: labelled by preset, or by file name when the
 * preset is taken; the same table, and each run's own plots. */
static void test_compare_existing_runs(void **state) {
  char *dir = ha_test_mkdir();
  char a[4096], b[4096];
  snprintf(a, sizeof a, "%s", ha_test_src("sim/tests/golden/every-op.seed-buggy.json"));
  snprintf(b, sizeof b, "%s", ha_test_src("sim/tests/golden/larson-small.phase1.json"));
  char *out_dir = ha_test_path(dir, "out");
  const char *args[] = {b, a, a, "-o", out_dir, "--quiet", NULL};
  char *out, *err;
  int rc = compare(args, &out, &err);
  if (rc != 0) fail_msg("exit %d: %s", rc, err);
  assert_non_null(strstr(out, "| metric | phase1 | seed-buggy | every-op.seed-buggy |\n"));
  assert_non_null(strstr(out, "several traces"));
  /* Each variant's own plots, linked from the comparison's index. */
  char *p = ha_test_path(out_dir, "every-op.seed-buggy/ladder.png");
  char *t = ha_test_slurp(p, NULL);
  assert_non_null(t);
  free(t);
  free(p);
  p = ha_test_path(out_dir, "phase1/index.html");
  t = ha_test_slurp(p, NULL);
  assert_non_null(t);
  assert_non_null(strstr(t, "variant phase1"));
  free(t);
  free(p);
  p = ha_test_path(out_dir, "index.html");
  t = ha_test_slurp(p, NULL);
  assert_non_null(strstr(t, "<a href=\"phase1/index.html\">phase1</a>"));
  free(t);
  free(p);
  free(out);
  free(err);
  free(out_dir);
  ha_test_rmdir(dir);
}

/* An existing run with an override is named by its variant: in the table,
 * in its own plots' titles; its directory is that label made a file name.
 * A run without config.variant (written before it existed) does not match
 * docs/run.schema.json and is refused, naming the field. */
static void test_compare_existing_run_with_override(void **state) {
  char *dir = ha_test_mkdir();
  char trace[4096], a[4096];
  snprintf(trace, sizeof trace, "%s", ha_test_src("traces/samples/every-op.json"));
  snprintf(a, sizeof a, "%s", ha_test_src("sim/tests/golden/every-op.seed-buggy.json"));
  char *run = ha_test_path(dir, "drain.json");
  const char *replay[] = {ha_test_env("HAKREPLAY"), trace, "--variant", "phase1", "--opt",
                          "remote_accounting=drain", "--quiet", "-o", run, NULL};
  assert_int_equal(ha_test_run(replay, NULL, NULL), 0);
  json_t *old = json_load_file(ha_test_src("sim/tests/golden/larson-small.phase1.json"), JSON_PRESERVE_ORDER, NULL);
  assert_non_null(old);
  assert_int_equal(json_object_del(json_object_get(old, "config"), "variant"), 0);
  char *old_path = ha_test_path(dir, "old.json");
  assert_int_equal(json_dump_file(old, old_path, 0), 0);
  json_decref(old);
  char *out_dir = ha_test_path(dir, "out");
  char *out, *err;
  const char *args0[] = {run, a, old_path, "-o", out_dir, "--quiet", "--no-variant-plots", NULL};
  int rc = compare(args0, &out, &err);
  if (rc != 2 || !strstr(err, "old.json: config: missing field \"variant\""))
    fail_msg("a run without config.variant: exit %d: %s", rc, err);
  free(out);
  free(err);
  char p1[4096];
  snprintf(p1, sizeof p1, "%s", ha_test_src("sim/tests/golden/larson-small.phase1.json"));
  const char *args[] = {run, a, p1, "-o", out_dir, "--quiet", "--no-variant-plots", NULL};
  rc = compare(args, &out, &err);
  if (rc != 0) fail_msg("exit %d: %s", rc, err);
  assert_non_null(strstr(out, "| metric | phase1+remote_accounting=drain | seed-buggy | phase1 |\n"));
  free(out);
  free(err);
  /* Its own plots. */
  const char *args2[] = {run, a, "-o", out_dir, "--quiet", NULL};
  rc = compare(args2, &out, &err);
  if (rc != 0) fail_msg("exit %d: %s", rc, err);
  char *p = ha_test_path(out_dir, "phase1_remote_accounting_drain/index.html");
  char *t = ha_test_slurp(p, NULL);
  assert_non_null(t);
  assert_non_null(strstr(t, "variant phase1+remote_accounting=drain"));
  free(t);
  free(p);
  free(out);
  free(err);
  free(out_dir);
  free(old_path);
  free(run);
  ha_test_rmdir(dir);
}

static void test_compare_errors(void **state) {
  char *dir = ha_test_mkdir();
  char *fresh = ha_test_path(dir, "new"); /* must not be created by a failing compare */
  char trace[4096], run[4096];
  snprintf(trace, sizeof trace, "%s", ha_test_src(LARSON_TRACE));
  snprintf(run, sizeof run, "%s", ha_test_src("sim/tests/golden/every-op.seed-buggy.json"));
  const struct {
    const char *args[10];
    const char *msg;
  } cases[] = {
      {{NULL}, "no trace or run.json given"},
      {{trace, "--variants", "seed-buggy,nosuch", "-o", fresh, "--quiet", NULL}, "unknown preset or allocator 'nosuch'"},
      {{trace, "--variants", "adopt,adopt", "-o", dir, NULL}, "variant adopt given twice"},
      {{trace, "--variants", ",", "-o", dir, NULL}, "no variant given"},
      {{trace, "--jobs", "0", NULL}, "--jobs"},
      {{trace, "--format", "gif", NULL}, "--format"},
      {{trace, "--bogus", "1", NULL}, "unknown option"},
      {{"/nonexistent/trace.jsonl", "-o", dir, NULL}, "cannot open"},
      {{run, "--variants", "adopt", "-o", dir, NULL}, "go with a trace"},
      {{run, trace, "-o", dir, NULL}, "expected run.json files only"},
      {{trace, run, "-o", dir, NULL}, "one trace at a time"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *out, *err;
    int rc = compare(cases[i].args, &out, &err);
    if (rc != 2) fail_msg("case %zu: exit %d, not 2: %s", i, rc, err);
    if (!strstr(err, cases[i].msg)) fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].msg);
    if (access(fresh, F_OK) == 0) fail_msg("case %zu: %s was made for a failed compare", i, fresh);
    free(out);
    free(err);
  }
  free(fresh);
  ha_test_rmdir(dir);
}

/* On a terminal: one line per variant, redrawn in place (cursor up two
 * lines), ending with each replay's outcome; a replay's messages (the OOM
 * lines) printed above the board. None with --quiet. */
static void test_compare_progress_board(void **state) {
  (void)state;
  if (access("/usr/bin/script", X_OK) != 0) skip();
  char *dir = ha_test_mkdir();
  for (int quiet = 0; quiet < 2; quiet++) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "%s compare %s --variants seed-buggy,adopt --opt ss_map_limit=6 -o %s "
             "--no-variant-plots %s > /dev/null",
             ha_test_env("HAKREPLAY"), ha_test_src(LARSON_TRACE), dir, quiet ? "--quiet" : "");
    const char *argv[] = {"/usr/bin/script", "-q", "-e", "-c", cmd, "/dev/null", NULL};
    char *out = NULL;
    assert_int_equal(ha_test_run(argv, &out, NULL), 0);
    if (quiet) {
      assert_null(strstr(out, "compare: adopt"));
    } else {
      assert_non_null(strstr(out, "\033[2A"));
      assert_non_null(strstr(out, "compare: adopt       done: "));
      assert_non_null(strstr(out, "compare: seed-buggy  done, out of memory: "));
      assert_non_null(strstr(out, "out of memory: block"));
    }
    free(out);
  }
  ha_test_rmdir(dir);
}

/* With more than one job each replay runs pinned to one CPU (when there
 * are several); with one job it has them all. */
static void test_compare_pins_parallel_replays(void **state) {
  (void)state;
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  char *dir = ha_test_mkdir();
  char trace[4096];
  snprintf(trace, sizeof trace, "%s", ha_test_src(LARSON_TRACE));
  for (int jobs = 1; jobs <= 2; jobs++) {
    const char *args[] = {trace, "--variants", "phase1,adopt", "-o", dir, "--jobs", jobs == 1 ? "1" : "2",
                          "--no-variant-plots", "--quiet", NULL};
    char *out, *err;
    int rc = compare(args, &out, &err);
    if (rc != 0) fail_msg("exit %d: %s", rc, err);
    json_t *run = load_json(dir, "adopt/run.json");
    json_int_t allowed = json_integer_value(ha_path_get(run, "host.cpus_allowed"));
    if (jobs == 2 && ncpu > 1) assert_int_equal(allowed, 1);
    else assert_true(allowed >= 1);
    json_decref(run);
    free(out);
    free(err);
  }
  ha_test_rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_compare_three_variants),
      cmocka_unit_test(test_compare_oom_variant),
      cmocka_unit_test(test_compare_default_variants),
      cmocka_unit_test(test_compare_existing_runs),
      cmocka_unit_test(test_compare_existing_run_with_override),
      cmocka_unit_test(test_compare_errors),
      cmocka_unit_test(test_compare_progress_board),
      cmocka_unit_test(test_compare_pins_parallel_replays),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
