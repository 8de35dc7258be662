/* test_check.c: `hakreplay check` and baselines: a pass, a regression (each
 * bound kind, both ways), every malformed baseline (missing file, bad JSON,
 * wrong format, unknown key, unknown metric path, unknown bound kind, wrong
 * types, ratios without a recorded value, empty), usage errors, and
 * --record followed by check passing on the same run and failing on a
 * leaking one.  Through the built hakreplay (HAKREPLAY), since output and
 * exit codes are the contract. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ha.h"
#include "ha_testutil.h"

#define LARSON "sim/tests/golden/larson-small.phase1.json"
#define EVERY "sim/tests/golden/every-op.seed-buggy.json"

static char run_path[4096], every_path[4096];

static int setup(void **state) {
  snprintf(run_path, sizeof run_path, "%s", ha_test_src(LARSON));
  snprintf(every_path, sizeof every_path, "%s", ha_test_src(EVERY));
  return 0;
}

/* hakreplay check RUN --baseline FILE; returns the exit code. */
static int check(const char *run, const char *baseline, char **out, char **err) {
  const char *argv[] = {ha_test_env("HAKREPLAY"), "check", run, "--baseline", baseline, NULL};
  return ha_test_run(argv, out, err);
}

static char *baseline(const char *dir, const char *metrics) {
  char text[4096];
  snprintf(text, sizeof text, "{\"format\": \"hakreplay-baseline\", \"version\": 1, \"metrics\": {%s}}", metrics);
  return ha_test_write(dir, "base.json", text);
}

static void test_check_pass(void **state) {
  char *dir = ha_test_mkdir();
  char *b = baseline(dir,
      "\"summary.ss_allocated\": {\"max\": 22, \"min\": 22},"
      "\"summary.ss_freed\": {\"equals\": 0},"
      "\"summary.oom\": {\"equals\": false, \"note\": \"no OOM\"},"
      "\"config.preset\": {\"equals\": \"phase1\"},"
      "\"summary.trims\": {\"max_ratio\": 1.0, \"recorded\": 8},"
      "\"summary.peak_ss_mapped_bytes\": {\"min_ratio\": 0.5, \"recorded\": 92274688},"
      "\"samples.-1.ss.live\": {\"equals\": 22.0}");
  char *out, *err;
  int rc = check(run_path, b, &out, &err);
  if (rc != 0) fail_msg("exit %d: %s%s", rc, out, err);
  assert_non_null(strstr(out, "summary.ss_allocated"));
  assert_non_null(strstr(out, "<= 22"));
  assert_non_null(strstr(out, ">= 22"));
  assert_non_null(strstr(out, "== \"phase1\""));
  assert_non_null(strstr(out, "<= 8 (1x of 8)"));
  assert_non_null(strstr(out, ">= 46137344 (0.5x of 92274688)"));
  assert_non_null(strstr(out, "check: pass: 8 bounds hold"));
  assert_null(strstr(out, "REGRESSION"));
  assert_string_equal(err, "");
  free(out);
  free(err);
  free(b);
  ha_test_rmdir(dir);
}

/* Each bound kind failing, one at a time: exit 1 and the line says so. */
static void test_check_regression(void **state) {
  static const struct {
    const char *metric, *line;
  } cases[] = {
      {"\"summary.ss_allocated\": {\"max\": 21}", "<= 21"},
      {"\"summary.ss_allocated\": {\"min\": 23}", ">= 23"},
      {"\"summary.ss_freed\": {\"equals\": 1}", "== 1"},
      {"\"config.preset\": {\"equals\": \"adopt\"}", "== \"adopt\""},
      {"\"summary.ss_allocated\": {\"max_ratio\": 1.1, \"recorded\": 10}", "<= 11 (1.1x of 10)"},
      {"\"summary.ss_allocated\": {\"min_ratio\": 0.9, \"recorded\": 100}", ">= 90 (0.9x of 100)"},
      {"\"summary.fragmentation.jw1\": {\"max\": 1}", "<= 1"},
  };
  char *dir = ha_test_mkdir();
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *b = baseline(dir, cases[i].metric);
    char *out, *err;
    int rc = check(run_path, b, &out, &err);
    if (rc != 1) fail_msg("case %zu: exit %d, not 1: %s%s", i, rc, out, err);
    char *line = strstr(out, cases[i].line);
    if (!line) fail_msg("case %zu: no '%s' in %s", i, cases[i].line, out);
    char *eol = strchr(line, '\n');
    assert_non_null(eol);
    assert_memory_equal(eol - 10, "REGRESSION", 10);
    assert_non_null(strstr(out, "check: REGRESSION: 1 of 1 bounds do not hold"));
    free(out);
    free(err);
    free(b);
  }
  ha_test_rmdir(dir);
}

/* Malformed baselines: exit 2 and one line naming the file and the problem. */
static void test_check_malformed_baselines(void **state) {
  static const struct {
    const char *text, *msg;
  } cases[] = {
      {"{\"format\": \"hakreplay-baseline\", \"version\": 1, \"metrics\": {", "not valid JSON"},
      {"[]", "not a JSON object"},
      {"{\"version\": 1, \"metrics\": {\"summary.ss_freed\": {\"min\": 1}}}", "\"format\" is not"},
      {"{\"format\": \"hakreplay-baseline\", \"version\": 2, \"metrics\": {\"summary.ss_freed\": {\"min\": 1}}}", "\"version\" is not 1"},
      {"{\"format\": \"hakreplay-baseline\", \"version\": 1, \"metric\": {}}", "unknown key \"metric\""},
      {"{\"format\": \"hakreplay-baseline\", \"version\": 1, \"metrics\": {}}", "non-empty object"},
      {"{\"format\": \"hakreplay-baseline\", \"version\": 1, \"metrics\": []}", "non-empty object"},
      {"{\"format\": \"hakreplay-baseline\", \"version\": 1, \"metrics\": {\"summary.ss_leaked\": {\"max\": 1}}}",
       "metric \"summary.ss_leaked\": unknown metric path"},
      {"{\"format\": \"hakreplay-baseline\", \"version\": 1, \"metrics\": {\"summary.ss_freed\": {\"atmost\": 1}}}",
       "unknown bound kind \"atmost\""},
      {"{\"format\": \"hakreplay-baseline\", \"version\": 1, \"metrics\": {\"summary.ss_freed\": {\"max\": \"1\"}}}",
       "\"max\" must be a number"},
      {"{\"format\": \"hakreplay-baseline\", \"version\": 1, \"metrics\": {\"summary.ss_freed\": {\"max_ratio\": 1.1}}}",
       "needs a ratio >= 0 and a numeric \"recorded\""},
      {"{\"format\": \"hakreplay-baseline\", \"version\": 1, \"metrics\": {\"summary.ss_freed\": {\"min_ratio\": -1, \"recorded\": 3}}}",
       "needs a ratio >= 0"},
      {"{\"format\": \"hakreplay-baseline\", \"version\": 1, \"metrics\": {\"summary.ss_freed\": {\"note\": \"x\"}}}",
       "no bound"},
      {"{\"format\": \"hakreplay-baseline\", \"version\": 1, \"metrics\": {\"summary.ss_freed\": 3}}",
       "expected an object of bounds"},
      {"{\"format\": \"hakreplay-baseline\", \"version\": 1, \"metrics\": {\"config.preset\": {\"max\": 3}}}",
       "\"max\" bounds a number, the run has \"phase1\""},
  };
  char *dir = ha_test_mkdir();
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *b = ha_test_write(dir, "bad.json", cases[i].text);
    char *out, *err;
    int rc = check(run_path, b, &out, &err);
    if (rc != 2) fail_msg("case %zu: exit %d, not 2: %s%s", i, rc, out, err);
    if (!strstr(err, b) || !strstr(err, cases[i].msg)) fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].msg);
    assert_int_equal(strchr(err, '\n') - err + 1, (long)strlen(err)); /* one line */
    assert_string_equal(out, "");
    free(out);
    free(err);
    free(b);
  }
  /* Missing baseline, missing run, a trace given as the run. */
  char *missing = ha_test_path(dir, "nope.json");
  char *b = baseline(dir, "\"summary.ss_freed\": {\"min\": 0}");
  char *out, *err;
  assert_int_equal(check(run_path, missing, &out, &err), 2);
  assert_non_null(strstr(err, "nope.json: cannot open"));
  free(out);
  free(err);
  assert_int_equal(check(missing, b, &out, &err), 2);
  assert_non_null(strstr(err, "nope.json: cannot open"));
  free(out);
  free(err);
  assert_int_equal(check(ha_test_src("traces/samples/every-op.json"), b, &out, &err), 2);
  assert_non_null(strstr(err, "not a hakreplay run"));
  free(out);
  free(err);
  free(b);
  free(missing);
  ha_test_rmdir(dir);
}

static void test_check_usage_errors(void **state) {
  const char *hr = ha_test_env("HAKREPLAY");
  const char *cases[][10] = {
      {hr, "check", NULL},
      {hr, "check", run_path, NULL},
      {hr, "check", run_path, "--baseline", NULL},
      {hr, "check", run_path, run_path, "--baseline", "x", NULL},
      {hr, "check", "--record", run_path, NULL},
      {hr, "check", "--record", run_path, "-o", "/tmp/x.json", "--tolerance", "abc", NULL},
      {hr, "check", "--record", run_path, "-o", "/tmp/x.json", "--tolerance", "-0.5", NULL},
      {hr, "check", run_path, "--baseline", "x", "--frobnicate", "1", NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *out, *err;
    int rc = ha_test_run(cases[i], &out, &err);
    if (rc != 2) fail_msg("case %zu: exit %d, not 2", i, rc);
    assert_non_null(strstr(err, "hakreplay check: "));
    free(out);
    free(err);
  }
  const char *help[] = {hr, "check", "--help", NULL};
  char *out;
  assert_int_equal(ha_test_run(help, &out, NULL), 0);
  assert_non_null(strstr(out, "--record"));
  free(out);
}

/* --record then check: the same run passes, a leaking one does not. */
static void test_check_record_then_check(void **state) {
  char *dir = ha_test_mkdir();
  char *b = ha_test_path(dir, "recorded.json");
  const char *rec[] = {ha_test_env("HAKREPLAY"), "check", "--record", run_path, "-o", b, "--tolerance", "0.25", NULL};
  char *out, *err;
  int rc = ha_test_run(rec, &out, &err);
  if (rc != 0) fail_msg("record exit %d: %s", rc, err);
  free(out);
  free(err);
  json_t *base = json_load_file(b, 0, NULL);
  assert_non_null(base);
  assert_string_equal(json_string_value(json_object_get(base, "format")), "hakreplay-baseline");
  json_t *m = json_object_get(base, "metrics");
  assert_string_equal(json_string_value(json_object_get(json_object_get(m, "config.preset"), "equals")), "phase1");
  assert_string_equal(json_string_value(json_object_get(json_object_get(m, "config.variant"), "equals")), "phase1");
  assert_string_equal(json_string_value(ha_path_get(base, "recorded_from.variant")), "phase1");
  json_t *live = json_object_get(m, "summary.ss_live_end");
  assert_non_null(live);
  assert_true(json_real_value(json_object_get(live, "max_ratio")) == 1.25);
  assert_int_equal(json_integer_value(json_object_get(live, "recorded")), 22);
  assert_true(json_real_value(json_object_get(json_object_get(m, "summary.ss_freed"), "min_ratio")) == 0.75);
  assert_true(json_is_false(json_object_get(json_object_get(m, "summary.oom"), "equals")));
  json_decref(base);

  rc = check(run_path, b, &out, &err);
  if (rc != 0) fail_msg("check of the recorded run: exit %d: %s%s", rc, out, err);
  free(out);
  free(err);
  /* A different run (another preset and trace) regresses against it. */
  rc = check(every_path, b, &out, &err);
  assert_int_equal(rc, 1);
  assert_non_null(strstr(out, "config.preset"));
  free(out);
  free(err);
  /* The library agrees with the command. */
  json_t *run;
  ha_err e;
  assert_int_equal(ha_run_load(run_path, &run, &e), 0);
  assert_int_equal(ha_check_record(run, run_path, 0.1, &base, &e), 0);
  ha_check_item *items;
  size_t n;
  assert_int_equal(ha_check(run, base, "mem", &items, &n, &e), 0);
  assert_true(n >= 8);
  for (size_t i = 0; i < n; i++) assert_true(items[i].ok);
  free(items);
  /* The same numbers under phase1 with an override are not phase1's: the
   * variant is pinned, not only the preset. */
  json_object_set_new(json_object_get(run, "config"), "variant", json_string("phase1+remote_accounting=drain"));
  assert_int_equal(ha_check(run, base, "mem", &items, &n, &e), 1);
  for (size_t i = 0; i < n; i++) assert_int_equal(items[i].ok, strcmp(items[i].path, "config.variant") != 0);
  free(items);
  json_decref(base);
  assert_int_equal(ha_check_record(run, run_path, -1, &base, &e), HA_ERR_INPUT);
  json_decref(run);
  free(b);
  ha_test_rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_check_pass),
      cmocka_unit_test(test_check_regression),
      cmocka_unit_test(test_check_malformed_baselines),
      cmocka_unit_test(test_check_usage_errors),
      cmocka_unit_test(test_check_record_then_check),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
