/* test_options.c: the options table, presets, environment, the JSON views,
 * and instance isolation (every mapping back after hak_destroy). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <regex.h>
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

/* Every preset of the design, with exactly the options its row changes
 * from the defaults (in table order, as name=value). */
static const struct {
  const char *name, *sets;
} preset_rows[] = {
    {"none", ""},
    {"seed-buggy", ""},
    {"fix-a", "remote_accounting=push"},
    {"fix-b", "idle_trim_ms=100 trim_ss=1"},
    {"phase1", "remote_accounting=push idle_trim_ms=100 trim_ss=1"},
    {"lg20", "ss_lg=20"},
    {"reuse", "refill=reuse remote_accounting=push idle_trim_ms=100 trim_ss=1"},
    {"adopt", "refill=reuse remote_accounting=push idle_trim_ms=100 trim_ss=1 orphan_policy=adopt"},
    {"mesh", "remote_accounting=push idle_trim_ms=100 trim_ss=1 compaction=mesh slot_order=random "
              "slab0=last"},
    {"mesh-adopt", "refill=reuse remote_accounting=push idle_trim_ms=100 trim_ss=1 orphan_policy=adopt "
                   "compaction=mesh slot_order=random slab0=last"},
};

/* "name=value ..." of every option (but preset) where a differs from b. */
static void diff_options(const hak_config *a, const hak_config *b, char *out, size_t len) {
  out[0] = '\0';
  for (int i = 0; i < HAK_OPT_COUNT; i++) {
    char va[300], vb[300];
    if (i == HAK_OPT_preset) continue;
    hak_config_value_str(a, (hak_option_id)i, va, sizeof va);
    hak_config_value_str(b, (hak_option_id)i, vb, sizeof vb);
    if (strcmp(va, vb))
      snprintf(out + strlen(out), len - strlen(out), "%s%s=%s", out[0] ? " " : "",
               hak_option_name((hak_option_id)i), va);
  }
}

static void test_options_presets(void **state) {
  (void)state;
  /* Adding a preset means saying here what it sets. */
  assert_int_equal(sizeof preset_rows / sizeof *preset_rows, HAK_PRESET_COUNT);
  hak_config def;
  hak_config_default(&def);
  for (size_t i = 0; i < HAK_PRESET_COUNT; i++) {
    hak_config c, row;
    char got[512];
    assert_string_equal(hak_preset_name((hak_preset_t)i), preset_rows[i].name);
    hak_preset_config((hak_preset_t)i, &row);
    assert_int_equal(row.preset, i);
    diff_options(&row, &def, got, sizeof got);
    if (strcmp(got, preset_rows[i].sets))
      fail_msg("preset %s sets '%s', want '%s'", preset_rows[i].name, got, preset_rows[i].sets);
    /* Applied to the defaults, a preset gives exactly its configuration. */
    hak_config_default(&c);
    assert_int_equal(hak_config_apply_preset(&c, preset_rows[i].name), 0);
    assert_int_equal(c.preset, i);
    diff_options(&c, &row, got, sizeof got);
    assert_string_equal(got, "");
  }
  hak_config c;
  hak_config_default(&c);
  assert_int_equal(hak_config_apply_preset(&c, "seed_buggy"), 0); /* underscores too */
  assert_int_equal(c.preset, HAK_PRESET_seed_buggy);
  assert_int_equal(hak_config_apply_preset(&c, "phase2"), -HAK_EINVAL);
}

/* The preset ids of the C enum are the names users write, '-' as '_'. */
static void test_options_preset_ids_are_their_names(void **state) {
  (void)state;
  static const char *const ids[] = {
#define PRESET_ID(id, ...) #id,
      HAK_PRESETS(PRESET_ID)
#undef PRESET_ID
  };
  for (int i = 0; i < HAK_PRESET_COUNT; i++) {
    char want[64];
    snprintf(want, sizeof want, "%s", hak_preset_name((hak_preset_t)i));
    for (char *p = want; *p; p++)
      if (*p == '-') *p = '_';
    assert_string_equal(ids[i], want);
    assert_true(strlen(hak_preset_description((hak_preset_t)i)) > 0);
  }
  assert_string_equal(hak_preset_name(HAK_PRESET_COUNT), "?");
}

/* Presets set only the options marked by_preset, and each marked one is set
 * by some preset: a later preset can then reset exactly what presets
 * control. */
static void test_options_presets_stay_in_their_columns(void **state) {
  (void)state;
  hak_config def;
  hak_config_default(&def);
  for (int i = 0; i < HAK_OPT_COUNT; i++) {
    if (i == HAK_OPT_preset) continue;
    char dv[300];
    hak_config_value_str(&def, (hak_option_id)i, dv, sizeof dv);
    int changed_by = 0;
    for (int p = 0; p < HAK_PRESET_COUNT; p++) {
      hak_config row;
      char pv[300];
      hak_preset_config((hak_preset_t)p, &row);
      hak_config_value_str(&row, (hak_option_id)i, pv, sizeof pv);
      if (strcmp(pv, dv) == 0) continue;
      changed_by++;
      if (!hak_option_by_preset((hak_option_id)i))
        fail_msg("preset %s sets %s, which is not marked by_preset",
                 hak_preset_name((hak_preset_t)p), hak_option_name((hak_option_id)i));
    }
    if (hak_option_by_preset((hak_option_id)i) && !changed_by)
      fail_msg("%s is marked by_preset but no preset sets it", hak_option_name((hak_option_id)i));
  }
  assert_false(hak_option_by_preset(HAK_OPT_preset));

  /* Everything else set by hand survives every preset; what presets
   * control returns to the preset's value. */
  static const char *const others[] = {"slab_lg=15", "empty_reserve=3", "ss_map_limit=9",
                                       "flush_on_exit=1", "size_classes=16,32,48",
                                       "on_bad_free=count", "large_cache_mb=0", "slot_seed=77",
                                       NULL};
  static const char *const controlled[] = {"refill=reuse", "remote_accounting=drain",
                                           "idle_trim_ms=7", "trim_ss=1", "ss_lg=22",
                                           "orphan_policy=adopt", "compaction=mesh",
                                           "slot_order=random", NULL};
  for (int p = 0; p < HAK_PRESET_COUNT; p++) {
    hak_config c, row, want;
    char err[256], got[512];
    hak_config_default(&c);
    for (const char *const *s = others; *s; s++) assert_int_equal(hak_config_set_kv(&c, *s, err, sizeof err), 0);
    for (const char *const *s = controlled; *s; s++) assert_int_equal(hak_config_set_kv(&c, *s, err, sizeof err), 0);
    assert_int_equal(hak_config_apply_preset(&c, hak_preset_name((hak_preset_t)p)), 0);
    hak_preset_config((hak_preset_t)p, &row);
    hak_config_copy(&want, &row);
    for (const char *const *s = others; *s; s++) assert_int_equal(hak_config_set_kv(&want, *s, err, sizeof err), 0);
    diff_options(&c, &want, got, sizeof got);
    if (got[0]) fail_msg("after preset %s: %s", hak_preset_name((hak_preset_t)p), got);
  }
}

/* Every name of every enumerated option sets its constant and prints back
 * as itself; the constants count from 0 in the lists' order. */
static void test_options_enum_names_round_trip(void **state) {
  (void)state;
  int enums = 0;
  for (int i = 0; i < HAK_OPT_COUNT; i++) {
    const char *const *names = hak_option_values((hak_option_id)i);
    if (hak_option_kind((hak_option_id)i) != 'E') {
      assert_null(names);
      continue;
    }
    enums++;
    assert_non_null(names);
    for (int v = 0; names[v]; v++) {
      hak_config c;
      char err[256], buf[64], kv[128];
      hak_config_default(&c);
      snprintf(kv, sizeof kv, "%s=%s", hak_option_name((hak_option_id)i), names[v]);
      assert_int_equal(hak_config_set_kv(&c, kv, err, sizeof err), 0);
      assert_string_equal(hak_config_value_str(&c, (hak_option_id)i, buf, sizeof buf), names[v]);
      json_t *j = hak_config_to_json(&c);
      json_t *shown = json_object_get(j, hak_option_name((hak_option_id)i));
      /* An option added after run.json version 1 is left out at its default. */
      if (hak_option_after_v1((hak_option_id)i) && v == 0) assert_null(shown);
      else assert_string_equal(json_string_value(shown), names[v]);
      json_decref(j);
    }
  }
  /* preset, refill, remote_accounting, orphan_policy, on_bad_free, compaction, slot_order,
   * slab0 */
  assert_int_equal(enums, 8);
  hak_config c;
  hak_config_default(&c);
  char err[256];
  const struct {
    const char *kv;
    int *field;
    int want;
  } consts[] = {
      {"refill=fresh", &c.refill, HAK_REFILL_FRESH},
      {"refill=reuse", &c.refill, HAK_REFILL_REUSE},
      {"remote_accounting=none", &c.remote_accounting, HAK_ACCT_NONE},
      {"remote_accounting=push", &c.remote_accounting, HAK_ACCT_PUSH},
      {"remote_accounting=drain", &c.remote_accounting, HAK_ACCT_DRAIN},
      {"orphan_policy=leave", &c.orphan_policy, HAK_ORPHAN_LEAVE},
      {"orphan_policy=adopt", &c.orphan_policy, HAK_ORPHAN_ADOPT},
      {"on_bad_free=abort", &c.on_bad_free, HAK_BADFREE_ABORT},
      {"on_bad_free=count", &c.on_bad_free, HAK_BADFREE_COUNT},
      {"compaction=none", &c.compaction, HAK_COMPACTION_NONE},
      {"compaction=mesh", &c.compaction, HAK_COMPACTION_MESH},
      {"slot_order=bump", &c.slot_order, HAK_SLOT_BUMP},
      {"slot_order=random", &c.slot_order, HAK_SLOT_RANDOM},
      {"preset=seed-buggy", &c.preset, HAK_PRESET_seed_buggy},
      {"preset=adopt", &c.preset, HAK_PRESET_adopt},
      {"preset=mesh-adopt", &c.preset, HAK_PRESET_mesh_adopt},
  };
  for (size_t k = 0; k < sizeof consts / sizeof *consts; k++) {
    assert_int_equal(hak_config_set_kv(&c, consts[k].kv, err, sizeof err), 0);
    assert_int_equal(*consts[k].field, consts[k].want);
  }
  assert_int_equal(HAK_REFILL_FRESH, 0);
  assert_int_equal(HAK_ACCT_DRAIN, 2);
  assert_int_equal(HAK_BADFREE_COUNT, 1);
  /* A value outside the list prints as "?", never past the array. */
  c.refill = 7;
  char buf[16];
  assert_string_equal(hak_config_value_str(&c, HAK_OPT_refill, buf, sizeof buf), "?");
  c.refill = -1;
  assert_string_equal(hak_config_value_str(&c, HAK_OPT_refill, buf, sizeof buf), "?");
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
                      "phase1, lg20, reuse, adopt, mesh, mesh-adopt)"},
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

/* The run label: the preset, then what differs from it. */
static void test_options_label(void **state) {
  (void)state;
  static const struct {
    const char *settings[6];
    const char *want;
  } cases[] = {
      {{NULL}, "none"},
      {{"preset=phase1", NULL}, "phase1"},
      {{"preset=phase1", "remote_accounting=drain", NULL}, "phase1+remote_accounting=drain"},
      /* Setting what the preset sets anyway is no override. */
      {{"preset=phase1", "remote_accounting=push", "idle_trim_ms=100", NULL}, "phase1"},
      {{"ss_lg=20", NULL}, "none+ss_lg=20"},
      /* lg20 is ss_lg=20: the same configuration, labelled by its preset. */
      {{"preset=lg20", NULL}, "lg20"},
      {{"preset=lg20", "ss_lg=21", NULL}, "lg20+ss_lg=21"},
      /* Table order, whatever the order given; a later preset resets. */
      {{"preset=adopt", "large_cache_mb=0", "idle_trim_ms=1", "refill=fresh", NULL},
       "adopt+refill=fresh+idle_trim_ms=1+large_cache_mb=0"},
      {{"idle_trim_ms=1", "slab_lg=15", "preset=fix-b", NULL}, "fix-b+slab_lg=15"},
      {{"preset=seed_buggy", "size_classes=16,32,64", "on_bad_free=count", NULL},
       "seed-buggy+size_classes=16,32,64+on_bad_free=count"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    hak_config c;
    char err[256], label[HAK_LABEL_MAX];
    hak_config_default(&c);
    for (const char *const *s = cases[i].settings; *s; s++)
      assert_int_equal(hak_config_set_kv(&c, *s, err, sizeof err), 0);
    assert_string_equal(hak_config_label(&c, label, sizeof label), cases[i].want);
  }
  /* Environment overrides count like any other. */
  hak_config c;
  char err[256], label[HAK_LABEL_MAX];
  setenv("HAKMEM_PRESET", "phase1", 1);
  setenv("HAKMEM_REMOTE_ACCOUNTING", "drain", 1);
  hak_config_default(&c);
  assert_int_equal(hak_config_from_env(&c, true, err, sizeof err), 0);
  assert_string_equal(hak_config_label(&c, label, sizeof label), "phase1+remote_accounting=drain");
  unsetenv("HAKMEM_PRESET");
  unsetenv("HAKMEM_REMOTE_ACCOUNTING");

  /* Every option away from its preset's value, the longest values: the
   * label still fits HAK_LABEL_MAX, and a short buffer is cut, ended. */
  hak_config_default(&c);
  char classes[256] = "8";
  while (strlen(classes) + 6 < sizeof classes) strcat(classes, ",1024");
  static const char *const all[] = {"preset=seed-buggy", "refill=reuse", "remote_accounting=drain",
                                    "idle_trim_ms=3599999", "trim_ss=1", "ss_lg=22",
                                    "slab_lg=18", "empty_reserve=999999", "orphan_policy=adopt",
                                    "ss_map_limit=4294967295", "flush_on_exit=1",
                                    "on_bad_free=count", "large_cache_mb=65535",
                                    "compaction=mesh", "slot_order=random",
                                    "slot_seed=4294967295", "slab0=last", NULL};
  for (const char *const *s = all; *s; s++) assert_int_equal(hak_config_set_kv(&c, *s, err, sizeof err), 0);
  snprintf(c.size_classes_buf, sizeof c.size_classes_buf, "%s", classes);
  c.size_classes = c.size_classes_buf;
  hak_config_label(&c, label, sizeof label);
  assert_true(strlen(label) < sizeof label - 1);
  assert_int_equal(strncmp(label, "seed-buggy+refill=reuse+", 24), 0);
  size_t plus = 0;
  for (char *p = label; *p; p++) plus += *p == '+';
  assert_int_equal(plus, HAK_OPT_COUNT - 1);
  char small[12];
  assert_string_equal(hak_config_label(&c, small, sizeof small), "seed-buggy+");
}

/* libhakmem.so's variables are rows of the same table: same parser, same
 * messages, each naming the variable. */
static void test_options_preload_rows(void **state) {
  (void)state;
  static const char *const vars[] = {"HAKMEM_STATS", "HAKMEM_STATS_JSON", "HAKMEM_SAMPLE_FILE",
                                     "HAKMEM_SAMPLE_MS"};
  assert_int_equal(HAK_PRELOAD_OPT_COUNT, 4);
  for (int i = 0; i < HAK_PRELOAD_OPT_COUNT; i++) {
    assert_string_equal(hak_preload_option_env((hak_preload_option_id)i), vars[i]);
    unsetenv(vars[i]);
  }
  hak_preload_config pc;
  char err[256];
  hak_preload_config_default(&pc);
  assert_int_equal(hak_preload_config_from_env(&pc, err, sizeof err), 0);
  assert_false(pc.stats);
  assert_string_equal(pc.stats_json, "");
  assert_string_equal(pc.sample_file, "");
  assert_int_equal(pc.sample_ms, 0);

  /* HAKMEM_STATS: anything but "0" (or empty) is on. */
  static const struct {
    const char *v;
    bool on;
  } flags[] = {{"1", true}, {"yes", true}, {"2", true}, {"0", false}, {"", false}};
  for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
    hak_preload_config_default(&pc);
    setenv("HAKMEM_STATS", flags[i].v, 1);
    assert_int_equal(hak_preload_config_from_env(&pc, err, sizeof err), 0);
    assert_int_equal(pc.stats, flags[i].on);
  }
  unsetenv("HAKMEM_STATS");

  /* A sample file alone samples every 100 ms. */
  setenv("HAKMEM_SAMPLE_FILE", "/tmp/s-%p.jsonl", 1);
  setenv("HAKMEM_STATS_JSON", "/tmp/j.json", 1);
  hak_preload_config_default(&pc);
  assert_int_equal(hak_preload_config_from_env(&pc, err, sizeof err), 0);
  assert_string_equal(pc.sample_file, "/tmp/s-%p.jsonl");
  assert_string_equal(pc.stats_json, "/tmp/j.json");
  assert_int_equal(pc.sample_ms, 100);
  setenv("HAKMEM_SAMPLE_MS", "3600000", 1);
  assert_int_equal(hak_preload_config_from_env(&pc, err, sizeof err), 0);
  assert_int_equal(pc.sample_ms, 3600000);

  static char long_path[HAK_PATH_MAX + 1];
  memset(long_path, 'a', HAK_PATH_MAX);
  static const struct {
    const char *var, *value, *msg;
  } bad[] = {
      {"HAKMEM_SAMPLE_MS", "0", "HAKMEM_SAMPLE_MS: sample_ms (an integer in 1..3600000): bad value '0'"},
      {"HAKMEM_SAMPLE_MS", "3600001",
       "HAKMEM_SAMPLE_MS: sample_ms (an integer in 1..3600000): bad value '3600001'"},
      {"HAKMEM_SAMPLE_MS", "-5", "HAKMEM_SAMPLE_MS: sample_ms (an integer in 1..3600000): bad value '-5'"},
      {"HAKMEM_SAMPLE_MS", "10ms", "HAKMEM_SAMPLE_MS: sample_ms (an integer in 1..3600000): bad value '10ms'"},
      {"HAKMEM_STATS_JSON", long_path, "HAKMEM_STATS_JSON: stats_json: too long (at most 4095 bytes)"},
      {"HAKMEM_SAMPLE_FILE", long_path, "HAKMEM_SAMPLE_FILE: sample_file: too long (at most 4095 bytes)"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char *old = getenv(bad[i].var) ? strdup(getenv(bad[i].var)) : NULL;
    setenv(bad[i].var, bad[i].value, 1);
    hak_preload_config_default(&pc);
    err[0] = '\0';
    assert_int_equal(hak_preload_config_from_env(&pc, err, sizeof err), -HAK_EINVAL);
    assert_string_equal(err, bad[i].msg);
    if (old) setenv(bad[i].var, old, 1);
    else unsetenv(bad[i].var);
    free(old);
  }
  /* A period needs a file. */
  unsetenv("HAKMEM_SAMPLE_FILE");
  setenv("HAKMEM_SAMPLE_MS", "5", 1);
  hak_preload_config_default(&pc);
  assert_int_equal(hak_preload_config_from_env(&pc, err, sizeof err), -HAK_EINVAL);
  assert_string_equal(err, "HAKMEM_SAMPLE_MS needs HAKMEM_SAMPLE_FILE");
  for (int i = 0; i < HAK_PRELOAD_OPT_COUNT; i++) unsetenv(vars[i]);

  /* By name, as the core's options. */
  hak_preload_config_default(&pc);
  assert_int_equal(hak_preload_config_set(&pc, "sample-ms", "250", err, sizeof err), 0);
  assert_int_equal(pc.sample_ms, 250);
  assert_int_equal(hak_preload_config_set(&pc, "stats", "1", err, sizeof err), 0);
  assert_true(pc.stats);
  assert_int_equal(hak_preload_config_set(&pc, "preset", "adopt", err, sizeof err), -HAK_EINVAL);
  assert_string_equal(err, "unknown option 'preset'");
  /* And the core does not know them. */
  hak_config c;
  hak_config_default(&c);
  assert_int_equal(hak_config_set(&c, "stats", "1", err, sizeof err), -HAK_EINVAL);
}

/* The listing names every option, variable and preset; the Markdown
 * tables have a header, a rule and one row per option or preset, every
 * row with the header's column count. */
static size_t count_lines(const char *text) {
  size_t n = 0;
  for (const char *p = text; *p; p++) n += *p == '\n';
  return n;
}

static void test_options_listing(void **state) {
  (void)state;
  char *text = hak_options_listing(HAK_LIST_TEXT);
  assert_non_null(text);
  for (int i = 0; i < HAK_OPT_COUNT; i++) {
    assert_non_null(strstr(text, hak_option_name((hak_option_id)i)));
    assert_non_null(strstr(text, hak_option_env((hak_option_id)i)));
  }
  for (int i = 0; i < HAK_PRELOAD_OPT_COUNT; i++)
    assert_non_null(strstr(text, hak_preload_option_env((hak_preload_option_id)i)));
  for (int p = 0; p < HAK_PRESET_COUNT; p++) {
    char line[64];
    snprintf(line, sizeof line, "\n%s ", hak_preset_name((hak_preset_t)p));
    assert_non_null(strstr(text, line)); /* a row of the presets table */
  }
  assert_null(strstr(text, " \n")); /* no trailing blanks */
  free(text);

  static const struct {
    hak_list_format format;
    size_t rows;
  } md[] = {{HAK_LIST_OPTIONS, HAK_OPT_COUNT},
            {HAK_LIST_PRESETS, HAK_PRESET_COUNT},
            {HAK_LIST_VARIABLES, HAK_OPT_COUNT},
            {HAK_LIST_PRELOAD, HAK_PRELOAD_OPT_COUNT}};
  for (size_t i = 0; i < sizeof md / sizeof *md; i++) {
    text = hak_options_listing(md[i].format);
    assert_non_null(text);
    assert_int_equal(count_lines(text), md[i].rows + 2);
    size_t cols = 0;
    for (char *line = text; *line;) {
      char *end = strchr(line, '\n');
      size_t bars = 0;
      for (char *p = line; p < end; p++) bars += *p == '|';
      if (!cols) cols = bars;
      assert_int_equal(bars, cols);
      assert_true(line[0] == '|' && end[-1] == '|');
      line = end + 1;
    }
    free(text);
  }
  /* Presets: a column for each option presets control, and the preset's
   * value there. */
  text = hak_options_listing(HAK_LIST_PRESETS);
  assert_non_null(strstr(text, "| preset | refill | remote_accounting | idle_trim_ms | trim_ss | ss_lg | "
                               "orphan_policy | compaction | slot_order | slab0 | models |\n"));
  assert_non_null(strstr(text, "| `lg20` | `fresh` | `none` | 0 | 0 | 20 | `leave` | `none` | `bump` | `first` | "));
  assert_non_null(strstr(text, "| `mesh` | `fresh` | `push` | 100 | 1 | 21 | `leave` | `mesh` | `random` | `last` | "));
  free(text);
  assert_null(hak_options_listing((hak_list_format)99));
}

/* docs/run.schema.json describes run.json's config from this table: every
 * option is there, required unless it came after version 1 (then with the
 * table's default: run.json leaves it out there), each enum lists the
 * table's names in its order (the preset list among them), and the bounds
 * it states are the ones the parser applies. */
static void test_options_run_schema_matches_table(void **state) {
  (void)state;
  json_error_t e;
  json_t *schema = json_load_file(HAK_TEST_SOURCE_DIR "/docs/run.schema.json", 0, &e);
  if (!schema) fail_msg("docs/run.schema.json: %s", e.text);
  json_t *config = json_object_get(json_object_get(schema, "properties"), "config");
  /* Required in a hakmem run: the schema's else branch (another
   * allocator's run has no hakmem options). */
  json_t *props = json_object_get(config, "properties");
  json_t *required = json_object_get(
      json_object_get(json_object_get(json_object_get(schema, "else"), "properties"), "config"),
      "required");
  assert_non_null(props);
  /* Every option can be named in a variant's label (slab0 once could not:
   * the pattern allowed no digit in an option's name). */
  regex_t label;
  const char *pattern = json_string_value(json_object_get(json_object_get(props, "variant"), "pattern"));
  assert_non_null(pattern);
  assert_int_equal(regcomp(&label, pattern, REG_EXTENDED | REG_NOSUB), 0);
  for (int i = 0; i < HAK_OPT_COUNT; i++) {
    const char *name = hak_option_name((hak_option_id)i);
    char text[128];
    snprintf(text, sizeof text, "mesh+%s=1+slot_order=bump", name);
    if (regexec(&label, text, 0, NULL, 0)) fail_msg("run.schema.json: variant label %s refused", text);
  }
  regfree(&label);
  for (int i = 0; i < HAK_OPT_COUNT; i++) {
    const char *name = hak_option_name((hak_option_id)i);
    json_t *p = json_object_get(props, name);
    if (!p) fail_msg("run.schema.json: config.%s missing", name);
    int found = 0;
    size_t k;
    json_t *r;
    json_array_foreach(required, k, r) found |= !strcmp(json_string_value(r), name);
    if (hak_option_after_v1((hak_option_id)i)) {
      hak_config def;
      char want[300], have[300];
      hak_config_default(&def);
      hak_config_value_str(&def, (hak_option_id)i, want, sizeof want);
      json_t *d = json_object_get(p, "default");
      if (json_is_string(d)) snprintf(have, sizeof have, "%s", json_string_value(d));
      else snprintf(have, sizeof have, "%lld", (long long)json_integer_value(d));
      if (found) fail_msg("run.schema.json: config.%s came after version 1: not required", name);
      if (!d || strcmp(have, want)) fail_msg("run.schema.json: config.%s default is not %s", name, want);
    } else if (!found) {
      fail_msg("run.schema.json: config.%s not required", name);
    }
    const char *const *values = hak_option_values((hak_option_id)i);
    json_t *en = json_object_get(p, "enum");
    if (values) {
      size_t n = 0;
      while (values[n]) n++;
      if (json_array_size(en) != n) fail_msg("run.schema.json: config.%s enum has %zu names, the table %zu", name, json_array_size(en), n);
      for (size_t v = 0; v < n; v++)
        if (strcmp(json_string_value(json_array_get(en, v)), values[v]))
          fail_msg("run.schema.json: config.%s enum[%zu] is not '%s'", name, v, values[v]);
      continue;
    }
    if (hak_option_kind((hak_option_id)i) != 'U') continue;
    /* Integers: the stated bounds are the parser's. */
    hak_config c;
    char err[256], v[32];
    hak_config_default(&c);
    json_t *mn = json_object_get(p, "minimum"), *mx = json_object_get(p, "maximum");
    if (en) {
      mn = json_array_get(en, 0);
      mx = json_array_get(en, json_array_size(en) - 1);
      assert_int_equal(json_array_size(en), json_integer_value(mx) - json_integer_value(mn) + 1);
    }
    if (mn) {
      long long lo = json_integer_value(mn);
      snprintf(v, sizeof v, "%lld", lo);
      if (hak_config_set(&c, name, v, err, sizeof err)) fail_msg("config.%s minimum %s refused", name, v);
      snprintf(v, sizeof v, "%lld", lo - 1);
      if (lo > 0 && !hak_config_set(&c, name, v, err, sizeof err)) fail_msg("config.%s: %s accepted", name, v);
    }
    if (mx) {
      long long hi = json_integer_value(mx);
      snprintf(v, sizeof v, "%lld", hi);
      if (hak_config_set(&c, name, v, err, sizeof err)) fail_msg("config.%s maximum %s refused", name, v);
      snprintf(v, sizeof v, "%lld", hi + 1);
      if (!hak_config_set(&c, name, v, err, sizeof err)) fail_msg("config.%s: %s accepted", name, v);
    }
  }
  /* And the label, which run.json carries beside the options. */
  assert_non_null(json_object_get(props, "variant"));
  json_decref(schema);
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
  /* Options added after run.json version 1: only when away from their default. */
  char err[256];
  assert_int_equal(hak_config_set_kv(&c, "compaction=mesh", err, sizeof err), 0);
  assert_int_equal(hak_config_set_kv(&c, "slot_order=random", err, sizeof err), 0);
  j = hak_config_to_json(&c);
  assert_string_equal(json_string_value(json_object_get(j, "compaction")), "mesh");
  assert_string_equal(json_string_value(json_object_get(j, "slot_order")), "random");
  assert_null(json_object_get(j, "slot_seed"));
  json_decref(j);
  assert_int_equal(hak_config_set_kv(&c, "slot_seed=9", err, sizeof err), 0);
  j = hak_config_to_json(&c);
  assert_int_equal(json_integer_value(json_object_get(j, "slot_seed")), 9);
  json_decref(j);
  hak_config_apply_preset(&c, "adopt");
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
      cmocka_unit_test(test_options_preset_ids_are_their_names),
      cmocka_unit_test(test_options_presets_stay_in_their_columns),
      cmocka_unit_test(test_options_enum_names_round_trip),
      cmocka_unit_test(test_options_set_and_errors),
      cmocka_unit_test(test_options_environment),
      cmocka_unit_test(test_options_label),
      cmocka_unit_test(test_options_preload_rows),
      cmocka_unit_test(test_options_listing),
      cmocka_unit_test(test_options_run_schema_matches_table),
      cmocka_unit_test(test_options_json),
      cmocka_unit_test(test_options_invalid_config_refused_by_create),
      cmocka_unit_test(test_options_destroy_returns_every_mapping),
  };
  return cmocka_run_group_tests_name("allocator.options", tests, NULL, NULL);
}
