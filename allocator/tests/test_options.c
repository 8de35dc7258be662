/* test_options.c: the options table, presets, environment, the JSON views,
 * and instance isolation (every mapping back after hak_destroy). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hak_json.h"
#include "runner.h"
#include "testutil.h"

static void test_options_defaults_are_the_seed(void **state) {
  (void)state;
  hak_config c;
  hak_config_default(&c);
  assert_int_equal(c.preset, HAK_PRESET_none);
  assert_int_equal(c.remote_accounting, HAK_ACCT_NONE);
  assert_int_equal(c.idle_trim_ms, 0);
  assert_int_equal(c.trim_ss, 0);
  assert_int_equal(c.ss_lg, 21);
  assert_int_equal(c.slab_lg, 16);
  assert_int_equal(c.refill, HAK_REFILL_FRESH);
  assert_int_equal(c.orphan_policy, HAK_ORPHAN_LEAVE);
  assert_int_equal(c.ss_map_limit, 0);
  assert_string_equal(c.size_classes, HAK_SIZE_CLASSES_DEFAULT);
}

/* Every preset of the design, with the values its table gives. */
static void test_options_presets(void **state) {
  (void)state;
  static const struct {
    const char *name;
    int acct, trim_ms, trim_ss, lg, refill, orphan;
  } want[] = {
      {"seed-buggy", HAK_ACCT_NONE, 0, 0, 21, HAK_REFILL_FRESH, HAK_ORPHAN_LEAVE},
      {"fix-a", HAK_ACCT_PUSH, 0, 0, 21, HAK_REFILL_FRESH, HAK_ORPHAN_LEAVE},
      {"fix-b", HAK_ACCT_NONE, 100, 1, 21, HAK_REFILL_FRESH, HAK_ORPHAN_LEAVE},
      {"phase1", HAK_ACCT_PUSH, 100, 1, 21, HAK_REFILL_FRESH, HAK_ORPHAN_LEAVE},
      {"lg20", HAK_ACCT_NONE, 0, 0, 20, HAK_REFILL_FRESH, HAK_ORPHAN_LEAVE},
      {"reuse", HAK_ACCT_PUSH, 100, 1, 21, HAK_REFILL_REUSE, HAK_ORPHAN_LEAVE},
      {"adopt", HAK_ACCT_PUSH, 100, 1, 21, HAK_REFILL_REUSE, HAK_ORPHAN_ADOPT},
  };
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    hak_config c;
    hak_config_default(&c);
    assert_int_equal(hak_config_apply_preset(&c, want[i].name), 0);
    assert_string_equal(hak_preset_name(c.preset), want[i].name);
    assert_int_equal(c.remote_accounting, want[i].acct);
    assert_int_equal(c.idle_trim_ms, want[i].trim_ms);
    assert_int_equal(c.trim_ss, want[i].trim_ss);
    assert_int_equal(c.ss_lg, want[i].lg);
    assert_int_equal(c.refill, want[i].refill);
    assert_int_equal(c.orphan_policy, want[i].orphan);
  }
  hak_config c;
  hak_config_default(&c);
  assert_int_equal(hak_config_apply_preset(&c, "seed_buggy"), 0); /* underscores too */
  assert_int_equal(hak_config_apply_preset(&c, "phase2"), -HAK_EINVAL);
}

static void test_options_set_and_errors(void **state) {
  (void)state;
  hak_config c;
  char err[256];
  hak_config_default(&c);
  assert_int_equal(hak_config_set_kv(&c, "remote_accounting=drain", err, sizeof err), 0);
  assert_int_equal(c.remote_accounting, HAK_ACCT_DRAIN);
  assert_int_equal(hak_config_set_kv(&c, "idle-trim-ms=250", err, sizeof err), 0);
  assert_int_equal(c.idle_trim_ms, 250);
  assert_int_equal(hak_config_set_kv(&c, "ss_map_limit=65530", err, sizeof err), 0);
  assert_int_equal(c.ss_map_limit, 65530);
  /* A later preset resets what presets control, nothing else. */
  assert_int_equal(hak_config_set_kv(&c, "preset=adopt", err, sizeof err), 0);
  assert_int_equal(c.remote_accounting, HAK_ACCT_PUSH);
  assert_int_equal(c.ss_map_limit, 65530);

  static const struct {
    const char *kv, *msg;
  } bad[] = {
      {"nosuch=1", "unknown option 'nosuch'"},
      {"ss_lg=19", "ss_lg (an integer in 20..22): bad value '19'"},
      {"ss_lg=2x", "ss_lg (an integer in 20..22): bad value '2x'"},
      {"ss_lg=", "ss_lg (an integer in 20..22): bad value ''"},
      {"trim_ss=-1", "trim_ss (an integer in 0..1): bad value '-1'"},
      {"ss_map_limit=99999999999", "ss_map_limit (an integer in 0..4294967295): bad value '99999999999'"},
      {"refill=steal", "refill (one of: fresh, reuse): bad value 'steal'"},
      {"orphan_policy=", "orphan-policy (one of: leave, adopt): bad value ''"},
      {"preset=nope", "preset: unknown preset 'nope' (one of: none, seed-buggy, fix-a, fix-b, "
                      "phase1, lg20, reuse, adopt)"},
      {"novalue", "expected name=value, got 'novalue'"},
      {"=3", "expected name=value, got '=3'"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    err[0] = '\0';
    assert_int_equal(hak_config_set_kv(&c, bad[i].kv, err, sizeof err), -HAK_EINVAL);
    if (strcmp(err, bad[i].msg) != 0 &&
        !(strstr(bad[i].msg, "orphan-policy") && strstr(err, "bad value ''")))
      fail_msg("%s: got \"%s\", want \"%s\"", bad[i].kv, err, bad[i].msg);
  }
}

static void test_options_environment(void **state) {
  (void)state;
  hak_config c;
  char err[256];
  setenv("HAKMEM_PRESET", "fix-b", 1);
  setenv("HAKMEM_TINY_IDLE_TRIM_MS", "7", 1);
  setenv("HAKMEM_TINY_SS_FORCE_LG", "20", 1);
  hak_config_default(&c);
  assert_int_equal(hak_config_from_env(&c, true, err, sizeof err), 0);
  assert_int_equal(c.preset, HAK_PRESET_fix_b);
  assert_int_equal(c.trim_ss, 1);        /* from the preset */
  assert_int_equal(c.idle_trim_ms, 7);   /* the variable beats the preset */
  assert_int_equal(c.ss_lg, 20);
  /* A preset from the command line replaces the environment's, and the
   * individual variables still apply on top of it. */
  hak_config_default(&c);
  assert_int_equal(hak_config_apply_preset(&c, "seed-buggy"), 0);
  assert_int_equal(hak_config_from_env(&c, false, err, sizeof err), 0);
  assert_int_equal(c.preset, HAK_PRESET_seed_buggy);
  assert_int_equal(c.trim_ss, 0);
  assert_int_equal(c.idle_trim_ms, 7);
  /* The command line (set after the environment) wins. */
  assert_int_equal(hak_config_set_kv(&c, "idle_trim_ms=9", err, sizeof err), 0);
  assert_int_equal(c.idle_trim_ms, 9);
  setenv("HAKMEM_REMOTE_ACCOUNTING", "sometimes", 1);
  assert_int_equal(hak_config_from_env(&c, true, err, sizeof err), -HAK_EINVAL);
  assert_string_equal(err, "HAKMEM_REMOTE_ACCOUNTING: remote_accounting (one of: none, push, "
                           "drain): bad value 'sometimes'");
  unsetenv("HAKMEM_PRESET");
  unsetenv("HAKMEM_TINY_IDLE_TRIM_MS");
  unsetenv("HAKMEM_TINY_SS_FORCE_LG");
  unsetenv("HAKMEM_REMOTE_ACCOUNTING");
}

static void test_options_json(void **state) {
  (void)state;
  hak_config c;
  hak_config_default(&c);
  hak_config_apply_preset(&c, "adopt");
  json_t *j = hak_config_to_json(&c);
  char *text = json_dumps(j, JSON_COMPACT);
  assert_string_equal(text,
                      "{\"preset\":\"adopt\",\"refill\":\"reuse\",\"remote_accounting\":\"push\","
                      "\"idle_trim_ms\":100,\"trim_ss\":1,\"ss_lg\":21,\"slab_lg\":16,"
                      "\"empty_reserve\":1,\"orphan_policy\":\"adopt\",\"ss_map_limit\":0,"
                      "\"flush_on_exit\":0,\"size_classes\":\"" HAK_SIZE_CLASSES_DEFAULT "\","
                      "\"on_bad_free\":\"abort\",\"large_cache_mb\":64}");
  free(text);
  json_decref(j);
  json_t *table = hak_options_table_json();
  assert_int_equal(json_array_size(table), HAK_OPT_COUNT);
  json_t *row = json_array_get(table, HAK_OPT_ss_lg);
  assert_string_equal(json_string_value(json_object_get(row, "env")), "HAKMEM_TINY_SS_FORCE_LG");
  assert_int_equal(json_integer_value(json_object_get(row, "default")), 21);
  json_decref(table);

  hak_allocator *a = make_alloc(NULL, 0);
  void *p = hak_malloc(a, 100);
  hak_stats s;
  hak_get_stats(a, &s);
  json_t *sj = hak_stats_to_json(&s);
  assert_int_equal(json_integer_value(json_object_get(sj, "allocs")), 1);
  assert_int_equal(json_integer_value(json_object_get(sj, "ss_allocated")), 1);
  assert_int_equal(json_integer_value(json_object_get(sj, "bytes_mapped")), 2 << 20);
  json_decref(sj);
  json_t *ssj = hak_ss_info_to_json(&(hak_ss_info){0});
  assert_null(json_object_get(ssj, "base")); /* no addresses in JSON */
  json_decref(ssj);
  hak_ss_info info = ss_info(a, p);
  ssj = hak_ss_info_to_json(&info);
  assert_int_equal(json_integer_value(json_object_get(ssj, "id")), 1);
  assert_int_equal(json_integer_value(json_object_get(ssj, "block_size")), 128);
  assert_int_equal(json_integer_value(json_object_get(ssj, "total_active_blocks")), 1);
  assert_true(json_is_true(json_object_get(ssj, "owner_alive")));
  json_decref(ssj);
  hak_free(a, p);
  hak_destroy(a);
}

static void test_options_invalid_config_refused_by_create(void **state) {
  (void)state;
  hak_config c;
  char err[256];
  hak_config_default(&c);
  c.slab_lg = 21; /* not smaller than ss_lg */
  hak_allocator *a = NULL;
  assert_int_equal(hak_create(&c, NULL, &a, err, sizeof err), -HAK_EINVAL);
  assert_null(a);
  assert_string_equal(err, "slab_lg must be smaller than ss_lg");
}

/* Instances are isolated: destroy gives every mapping back, with threads,
 * SuperSlabs of several classes, large objects and trims in between. */
static void test_options_destroy_returns_every_mapping(void **state) {
  (void)state;
  long before = 0;
  /* Round 0 warms up what glibc keeps for the process (its cache of
   * thread stacks); rounds 1..3 must then leave the map count unchanged. */
  for (int round = 0; round < 4; round++) {
    if (round == 1) before = proc_map_count();
    hak_allocator *a = make_alloc((const char *[]){"preset=adopt", "idle_trim_ms=1", NULL}, 1);
    hak_runner *t = runner_start();
    void *blk[64];
    test_batch b = {a, blk, 0, 64, 200};
    runner_call(t, batch_alloc, &b);
    runner_exit(t);
    for (int i = 0; i < 32; i++) hak_free(a, blk[i]);
    void *big = hak_malloc(a, 1 << 20);
    void *aligned = hak_memalign(a, 1 << 16, 5000);
    assert_non_null(big);
    assert_non_null(aligned);
    for (int c = 0; c < 8; c++) hak_malloc(a, hak_class_size(a, c));
    hak_trim(a, NULL, NULL, 0);
    assert_true(hak_live_mappings(a) > 0);
    hak_destroy(a);
  }
#ifndef SANITIZED
  assert_int_equal(proc_map_count(), before);
#else
  (void)before;
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_options_defaults_are_the_seed),
      cmocka_unit_test(test_options_presets),
      cmocka_unit_test(test_options_set_and_errors),
      cmocka_unit_test(test_options_environment),
      cmocka_unit_test(test_options_json),
      cmocka_unit_test(test_options_invalid_config_refused_by_create),
      cmocka_unit_test(test_options_destroy_returns_every_mapping),
  };
  return cmocka_run_group_tests_name("allocator.options", tests, NULL, NULL);
}
