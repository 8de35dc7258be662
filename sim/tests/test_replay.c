/* test_replay.c: hakreplay end to end: golden run.json for deterministic
 * runs, determinism across runs, encodings and CPU counts, the seed's story
 * in miniature, OOM (exit 3, run.json still written), the corruption check
 * (exit 4), bad input and usage (exit 2, no output file), free mode, and
 * --ss-detail. Set HR_UPDATE_GOLDEN=1 to rewrite the golden files
 * (scripts/regen-golden.sh does, with every other golden of the project).
 *
 * The golden run.json files are complete, valid runs (the analysis tests
 * read them as their fixtures): what differs between machines is set to
 * fixed values, trace.path to the trace's path in the source tree and host
 * to zeros. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli_util.h"
#include "ha.h"

static char path_buf[8][512];

static const char *in_dir(int slot, const char *dir, const char *name) {
  snprintf(path_buf[slot], sizeof path_buf[slot], "%s/%s", dir, name);
  return path_buf[slot];
}

static const char *source(const char *rel) {
  static char buf[4][512];
  static int next;
  char *b = buf[next++ % 4];
  snprintf(b, 512, "%s/%s", ha_test_env("HAK_TEST_SOURCE_DIR"), rel);
  return b;
}

/* A Larson trace in the seed's configuration but for the chunks and the
 * generations per slot. */
static void make_larson_chunks(const char *out, const char *chunks, const char *generations) {
  const char *argv[] = {ha_test_env("HAKTRACE"), "gen", "larson", "--threads", "4", "--min", "8",
                        "--max", "128", "--chunks", chunks, "--rounds", "1", "--generations",
                        generations, "--seed", "12345", "-o", out, NULL};
  assert_int_equal(ha_test_run(argv, NULL, NULL), 0);
}

/* A small one: 4 slots x 256 blocks. */
static void make_larson(const char *out, const char *generations) {
  make_larson_chunks(out, "256", generations);
}

static int replay(const char *trace, const char *out, const char *const *extra, char **err) {
  const char *argv[32] = {ha_test_env("HAKREPLAY"), trace, "-o", out, "--quiet"};
  int n = 5;
  for (int i = 0; extra && extra[i]; i++) argv[n++] = extra[i];
  argv[n] = NULL;
  return ha_test_run(argv, NULL, err);
}

static json_t *summary(json_t *run) { return json_object_get(run, "summary"); }
static json_int_t sum_int(json_t *run, const char *key) {
  return json_integer_value(json_object_get(summary(run), key));
}

/* run.json as written, with trace.path and host set to what every machine
 * agrees on (keys keep their places). */
static json_t *load_golden_run(const char *path, const char *trace_rel) {
  json_error_t e;
  json_t *d = json_load_file(path, JSON_PRESERVE_ORDER, &e);
  if (!d) fail_msg("%s: %s (line %d)", path, e.text, e.line);
  json_object_set_new(json_object_get(d, "trace"), "path", json_string(trace_rel));
  json_object_set_new(d, "host",
                      json_pack("{sf sf si si si ss si si ss ss si}", "wall_seconds", 0.0,
                                "events_per_second", 0.0, "peak_rss_bytes", 0, "minor_faults", 0,
                                "major_faults", 0, "cpu", "(golden: not measured)", "cpus", 1,
                                "cpus_allowed", 1, "kernel", "", "machine", "", "os_threads", 0));
  return d;
}

static void check_golden(json_t *run, const char *golden_rel) {
  const char *golden = source(golden_rel);
  if (getenv("HR_UPDATE_GOLDEN")) {
    assert_int_equal(json_dump_file(run, golden, JSON_INDENT(1) | JSON_PRESERVE_ORDER), 0);
    return;
  }
  json_error_t e;
  json_t *want = json_load_file(golden, JSON_PRESERVE_ORDER, &e);
  if (!want) fail_msg("%s: %s", golden, e.text);
  if (!json_equal(want, run)) {
    char *got = json_dumps(run, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    fprintf(stderr, "run.json differs from %s; got:\n%s\n", golden, got);
    free(got);
    fail();
  }
  json_decref(want);
}

static void test_replay_golden_every_op(void **state) {
  (void)state;
  char *dir = ha_test_mkdir();
  const char *out = in_dir(0, dir, "run.json");
  const char *extra[] = {"--variant", "seed-buggy", NULL};
  assert_int_equal(replay(source("traces/samples/every-op.json"), out, extra, NULL), 0);
  json_t *run = load_golden_run(out, "traces/samples/every-op.json");
  /* Facts of the hand-written trace, beside the golden comparison. */
  assert_int_equal(sum_int(run, "events"), 14);
  assert_int_equal(sum_int(run, "threads_started"), 3);
  assert_int_equal(sum_int(run, "frees_remote"), 4);
  /* Blocks 1 and 3: memalign(4096, 100) is a 4096-byte class block. */
  assert_int_equal(sum_int(run, "live_blocks_end"), 2);
  check_golden(run, "sim/tests/golden/every-op.seed-buggy.json");
  json_decref(run);
  ha_test_rmdir(dir);
}

static void test_replay_golden_larson_small(void **state) {
  (void)state;
  char *dir = ha_test_mkdir();
  const char *out = in_dir(0, dir, "run.json");
  const char *extra[] = {"--variant", "adopt", "--opt", "idle_trim_ms=1", "--sample-every",
                         "50", NULL};
  assert_int_equal(replay(source("traces/samples/larson-small.jsonl"), out, extra, NULL), 0);
  json_t *run = load_golden_run(out, "traces/samples/larson-small.jsonl");
  check_golden(run, "sim/tests/golden/larson-small.adopt.json");
  json_decref(run);
  ha_test_rmdir(dir);
}

/* A text file byte for byte against its golden copy. */
static void check_golden_text(const char *path, const char *golden_rel) {
  char *got = ha_test_slurp(path, NULL);
  assert_non_null(got);
  if (getenv("HR_UPDATE_GOLDEN")) {
    FILE *f = fopen(source(golden_rel), "w");
    assert_non_null(f);
    fputs(got, f);
    assert_int_equal(fclose(f), 0);
  }
  char *want = ha_test_slurp(source(golden_rel), NULL);
  if (!want) fail_msg("%s missing (HR_UPDATE_GOLDEN=1 writes it)", golden_rel);
  if (strcmp(got, want)) fail_msg("%s differs from %s", path, golden_rel);
  free(got);
  free(want);
}

/* larson-small under phase1 with a trim every 100 events, sampled every 40
 * events with --ss-detail: the analysis tests' Larson fixture (trims,
 * a sawtooth, the heat map's data), so it is what the replayer writes today. */
static void test_replay_golden_larson_phase1(void **state) {
  (void)state;
  char *dir = ha_test_mkdir();
  const char *out = in_dir(0, dir, "run.json"), *detail = in_dir(1, dir, "ss.jsonl");
  const char *extra[] = {"--variant", "phase1", "--ops-per-ms", "1", "--sample-every", "40",
                         "--ss-detail", detail, NULL};
  assert_int_equal(replay(source("traces/samples/larson-small.jsonl"), out, extra, NULL), 0);
  json_t *run = load_golden_run(out, "traces/samples/larson-small.jsonl");
  check_golden(run, "sim/tests/golden/larson-small.phase1.json");
  check_golden_text(detail, "sim/tests/golden/larson-small.phase1.ss.jsonl");
  json_decref(run);
  ha_test_rmdir(dir);
}

/* The file, cut where the host object starts (it is written last). */
static char *before_host(const char *path) {
  char *text = ha_test_slurp(path, NULL);
  assert_non_null(text);
  char *host = strstr(text, "\"host\"");
  assert_non_null(host);
  *host = '\0';
  return text;
}

static void test_replay_deterministic(void **state) {
  (void)state;
  char *dir = ha_test_mkdir();
  const char *trace = in_dir(0, dir, "l.hkt");
  make_larson(trace, "12");
  const char *extra[] = {"--variant", "phase1", "--opt", "idle_trim_ms=2", NULL};
  assert_int_equal(replay(trace, in_dir(1, dir, "a.json"), extra, NULL), 0);
  assert_int_equal(replay(trace, in_dir(2, dir, "b.json"), extra, NULL), 0);
  char *a = before_host(path_buf[1]), *b = before_host(path_buf[2]);
  assert_string_equal(a, b);
  /* One CPU: the schedule, not the hardware, decides everything. */
  if (access("/usr/bin/taskset", X_OK) == 0) {
    const char *argv[] = {"/usr/bin/taskset", "-c", "0", ha_test_env("HAKREPLAY"), trace, "-o",
                          in_dir(3, dir, "c.json"), "--quiet", "--variant", "phase1", "--opt",
                          "idle_trim_ms=2", NULL};
    assert_int_equal(ha_test_run(argv, NULL, NULL), 0);
    char *c = before_host(path_buf[3]);
    assert_string_equal(a, c);
    free(c);
  }
  /* Trims ran at logical times: before every event whose index is a
   * positive multiple of 2 ms x 8380 events/ms (the default clock). */
  json_t *run = load_run(path_buf[1]);
  assert_true(sum_int(run, "events") > 2 * 16760);
  assert_int_equal(sum_int(run, "trims"), (sum_int(run, "events") - 1) / 16760);
  json_decref(run);
  free(a);
  free(b);
  ha_test_rmdir(dir);
}

static void test_replay_encodings_agree(void **state) {
  (void)state;
  char *dir = ha_test_mkdir();
  const char *hkt = in_dir(0, dir, "l.hkt"), *js = in_dir(1, dir, "l.json"),
             *jl = in_dir(2, dir, "l.jsonl");
  make_larson(hkt, "3");
  const char *c1[] = {ha_test_env("HAKTRACE"), "convert", hkt, js, NULL};
  const char *c2[] = {ha_test_env("HAKTRACE"), "convert", js, jl, NULL};
  assert_int_equal(ha_test_run(c1, NULL, NULL), 0);
  assert_int_equal(ha_test_run(c2, NULL, NULL), 0);
  const char *traces[3] = {hkt, js, jl};
  json_t *runs[3];
  for (int i = 0; i < 3; i++) {
    assert_int_equal(replay(traces[i], in_dir(3 + i, dir, "r.json"), NULL, NULL), 0);
    runs[i] = load_run(path_buf[3 + i]);
    json_object_del(json_object_get(runs[i], "trace"), "encoding");
  }
  assert_true(json_equal(runs[0], runs[1]));
  assert_true(json_equal(runs[0], runs[2]));
  for (int i = 0; i < 3; i++) json_decref(runs[i]);
  ha_test_rmdir(dir);
}

/* The seed's scenario at reduced scale: its Larson configuration for 30
 * generations (~250,000 events), logical time compressed so the presets'
 * 100 ms idle trim runs every 10,000 events. seed-buggy frees nothing and
 * shows the accounting bug; phase1 frees and has no drift; adopt stays
 * small. Trends, not timings. */
static void test_replay_seed_story(void **state) {
  (void)state;
  char *dir = ha_test_mkdir();
  const char *trace = in_dir(0, dir, "l.hkt");
  make_larson_chunks(trace, "1024", "30");
  const char *v[3] = {"seed-buggy", "phase1", "adopt"};
  json_t *r[3];
  for (int i = 0; i < 3; i++) {
    const char *extra[] = {"--variant", v[i], "--ops-per-ms", "100", NULL};
    assert_int_equal(replay(trace, in_dir(1 + i, dir, "r.json"), extra, NULL), 0);
    r[i] = load_run(path_buf[1 + i]);
  }
  assert_int_equal(sum_int(r[0], "ss_freed"), 0);
  assert_true(sum_int(r[0], "accounting_drift_end") > 0);
  assert_true(sum_int(r[0], "logically_nonempty_but_empty_end") > 0);
  assert_int_equal(sum_int(r[0], "ss_allocated"), sum_int(r[0], "ss_live_end"));
  /* One SuperSlab per class per thread, 4 x 30 workers plus main: larson's
   * five (8..128), and the 512-byte class of the DTV glibc callocs for
   * every new thread, in the thread that starts it (all but the last of
   * each chain). */
  assert_true(sum_int(r[0], "ss_allocated") >= 5 * 121);
  assert_true(sum_int(r[0], "ss_allocated") <= 6 * 121);
  assert_true(sum_int(r[1], "ss_freed") > 0);
  assert_true(sum_int(r[1], "ss_peak") < sum_int(r[0], "ss_peak") / 2);
  assert_int_equal(sum_int(r[1], "accounting_drift_end"), 0);
  assert_int_equal(sum_int(r[1], "logically_nonempty_but_empty_end"), 0);
  assert_true(sum_int(r[2], "ss_peak") <= 10);
  assert_true(sum_int(r[2], "adoptions") > 0);
  /* The same trace: the same ground truth at the end. */
  for (int i = 1; i < 3; i++) {
    assert_int_equal(sum_int(r[i], "live_blocks_end"), sum_int(r[0], "live_blocks_end"));
    assert_int_equal(sum_int(r[i], "frees_local") + sum_int(r[i], "frees_remote"),
                     sum_int(r[0], "frees_local") + sum_int(r[0], "frees_remote"));
  }
  for (int i = 0; i < 3; i++) json_decref(r[i]);
  ha_test_rmdir(dir);
}

static void test_replay_oom_writes_run_and_exits_3(void **state) {
  (void)state;
  char *dir = ha_test_mkdir();
  const char *trace = in_dir(0, dir, "l.hkt");
  make_larson(trace, "12");
  char *err = NULL;
  const char *extra[] = {"--variant", "seed-buggy", "--opt", "ss_map_limit=100",
                         "--thread-maps", "2", NULL};
  assert_int_equal(replay(trace, in_dir(1, dir, "r.json"), extra, &err), 3);
  assert_non_null(strstr(err, "out of memory"));
  assert_non_null(strstr(err, "alloc="));
  json_t *run = load_run(path_buf[1]);
  json_t *oom = json_object_get(summary(run), "oom");
  assert_string_equal(json_string_value(json_object_get(oom, "type")), "oom");
  json_int_t ss = json_integer_value(json_object_get(oom, "ss_live"));
  json_int_t maps = json_integer_value(json_object_get(oom, "thread_maps"));
  /* SuperSlabs and thread stacks meet the limit: the SuperSlab that did
   * not fit is the first to exceed it, or a thread's start stepped over it
   * by its two mappings just before (glibc's DTV calloc by the parent
   * needs a SuperSlab right after every start). */
  assert_true(ss + maps >= 100 && ss + maps <= 102);
  json_t *ml = json_object_get(summary(run), "map_limit");
  assert_int_equal(json_integer_value(json_object_get(ml, "ss_mappings")), ss);
  assert_int_equal(json_integer_value(json_object_get(ml, "thread_mappings")), maps);
  /* The last sample is the state at the failure. */
  json_t *samples = json_object_get(run, "samples");
  json_t *last = json_array_get(samples, json_array_size(samples) - 1);
  assert_int_equal(json_integer_value(json_object_get(last, "t")),
                   json_integer_value(json_object_get(oom, "t")));
  assert_int_equal(sum_int(run, "events"), json_integer_value(json_object_get(oom, "t")));
  /* Fixed variants on the same limit do not run out. */
  const char *fixed[] = {"--variant", "adopt", "--opt", "ss_map_limit=100", "--thread-maps", "2",
                         NULL};
  assert_int_equal(replay(trace, in_dir(2, dir, "a.json"), fixed, NULL), 0);
  /* Both runs name the same trace: the OOM run read the rest of it. */
  json_t *full = load_run(path_buf[2]);
  json_t *t1 = json_object_get(run, "trace"), *t2 = json_object_get(full, "trace");
  assert_true(json_equal(json_object_get(t1, "hash"), json_object_get(t2, "hash")));
  assert_true(json_equal(json_object_get(t1, "events"), json_object_get(t2, "events")));
  assert_true(sum_int(run, "events") < sum_int(full, "events"));
  json_decref(full);
  free(err);
  json_decref(run);
  ha_test_rmdir(dir);
}

static void test_replay_corruption_exits_4(void **state) {
  (void)state;
  char *dir = ha_test_mkdir();
  char *err = NULL;
  const char *extra[] = {"--inject-overwrite", "5", NULL};
  const char *out = in_dir(0, dir, "r.json");
  assert_int_equal(replay(source("traces/samples/every-op.json"), out, extra, &err), 4);
  assert_non_null(strstr(err, "every-op.json: event 5: block 1: overwritten before its free"));
  assert_int_equal(access(out, F_OK), -1); /* no run.json for a broken run */
  free(err);
  ha_test_rmdir(dir);
}

static void test_replay_bad_input_exits_2(void **state) {
  (void)state;
  char *dir = ha_test_mkdir();
  const char *bad = in_dir(0, dir, "bad.json"), *out = in_dir(1, dir, "r.json");
  FILE *f = fopen(bad, "w");
  fputs("{\"format\":\"hakmem-trace\",\"version\":1,\"meta\":{},\"threads\":1,\"events\":"
        "[[\"alloc\",0,1,8],[\"free\",0,2]]}\n",
        f);
  fclose(f);
  char *err = NULL;
  assert_int_equal(replay(bad, out, NULL, &err), 2);
  assert_non_null(strstr(err, "bad.json:1: event 1: "));
  assert_int_equal(access(out, F_OK), -1);
  free(err);
  static const char *const usage[][6] = {
      {"--mode", "fast", NULL},
      {"--variant", "phase2", NULL},
      {"--opt", "refill=steal", NULL},
      {"--opt", "nosuch=1", NULL},
      {"--sample-every", "0", NULL},
      {"--ops-per-ms", "x", NULL},
      {"--frobnicate", "1", NULL},
  };
  for (size_t i = 0; i < sizeof usage / sizeof *usage; i++) {
    err = NULL;
    assert_int_equal(replay(source("traces/samples/every-op.json"), out, usage[i], &err), 2);
    assert_non_null(strstr(err, "hakreplay: "));
    free(err);
  }
  const char *missing[] = {ha_test_env("HAKREPLAY"), in_dir(2, dir, "nope.hkt"), "-o", out, NULL};
  assert_int_equal(ha_test_run(missing, NULL, &err), 2);
  assert_non_null(strstr(err, "nope.hkt"));
  free(err);
  const char *none[] = {ha_test_env("HAKREPLAY"), NULL};
  assert_int_equal(ha_test_run(none, NULL, NULL), 2);
  assert_int_equal(access(out, F_OK), -1);
  ha_test_rmdir(dir);
}

static void test_replay_free_mode(void **state) {
  (void)state;
  char *dir = ha_test_mkdir();
  const char *trace = in_dir(0, dir, "l.hkt");
  make_larson(trace, "6");
  const char *free_mode[] = {"--variant", "adopt", "--mode", "free", NULL};
  assert_int_equal(replay(trace, in_dir(1, dir, "f.json"), free_mode, NULL), 0);
  assert_int_equal(replay(trace, in_dir(2, dir, "d.json"), NULL, NULL), 0);
  json_t *f = load_run(path_buf[1]), *d = load_run(path_buf[2]);
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(json_object_get(f, "config"), "replay"),
                                        "mode")),
      "free");
  assert_int_equal(sum_int(f, "events"), sum_int(d, "events"));
  assert_int_equal(sum_int(f, "live_blocks_end"), sum_int(d, "live_blocks_end"));
  json_decref(f);
  json_decref(d);
  ha_test_rmdir(dir);
}

static void test_replay_ss_detail(void **state) {
  (void)state;
  char *dir = ha_test_mkdir();
  const char *detail = in_dir(1, dir, "ss.jsonl");
  const char *extra[] = {"--ss-detail", detail, "--sample-every", "4", NULL};
  assert_int_equal(replay(source("traces/samples/every-op.json"), in_dir(0, dir, "r.json"), extra,
                          NULL),
                   0);
  json_t *run = load_run(path_buf[0]);
  size_t samples = json_array_size(json_object_get(run, "samples"));
  char *text = ha_test_slurp(detail, NULL);
  assert_non_null(text);
  size_t lines = 0;
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"), lines++) {
    json_error_t e;
    json_t *l = json_loads(line, 0, &e);
    assert_non_null(l);
    assert_true(json_is_array(json_object_get(l, "ss")));
    json_decref(l);
  }
  assert_int_equal(lines, samples);
  assert_int_equal(samples, 4); /* t = 4, 8, 12 and the end (14) */
  free(text);
  json_decref(run);
  ha_test_rmdir(dir);
}

static json_t *last_sample(json_t *run) {
  json_t *samples = json_object_get(run, "samples");
  return json_array_get(samples, json_array_size(samples) - 1);
}

static json_int_t get_int(json_t *o, const char *path) {
  /* "a.b.c" */
  char buf[128];
  snprintf(buf, sizeof buf, "%s", path);
  json_t *cur = o;
  for (char *k = strtok(buf, "."); k && cur; k = strtok(NULL, ".")) cur = json_object_get(cur, k);
  if (!json_is_integer(cur)) fail_msg("%s is not an integer", path);
  return json_integer_value(cur);
}

/* Hand-written: 5 blocks by main, 3 freed by thread 1, 1 by main. */
static void test_replay_drift_exact(void **state) {
  (void)state;
  char *dir = ha_test_mkdir();
  static const struct {
    const char *variant, *acct;
    json_int_t drift, lnbe;
  } cases[] = {
      {"seed-buggy", NULL, 3, 0}, /* 4 counted, 1 live */
      {"fix-a", NULL, 0, 0},
      {"seed-buggy", "remote_accounting=drain", 3, 0}, /* nobody refilled: not drained yet */
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const char *extra[] = {"--variant", cases[i].variant, cases[i].acct ? "--opt" : NULL,
                           cases[i].acct, NULL};
    assert_int_equal(replay(source("sim/tests/traces/remote-drift.json"),
                            in_dir(0, dir, "r.json"), extra, NULL),
                     0);
    json_t *run = load_run(path_buf[0]);
    json_t *last = last_sample(run);
    assert_int_equal(get_int(last, "accounting_drift"), cases[i].drift);
    assert_int_equal(sum_int(run, "accounting_drift_end"), cases[i].drift);
    assert_int_equal(get_int(last, "live_blocks"), 1);
    assert_int_equal(get_int(last, "remote_pending_blocks"), 3);
    assert_int_equal(get_int(last, "frees.remote"), 3);
    assert_int_equal(get_int(last, "frees.local"), 1);
    assert_int_equal(get_int(last, "ss.logically_nonempty_but_empty"), cases[i].lnbe);
    json_decref(run);
  }
  ha_test_rmdir(dir);
}

static json_t *find_event(json_t *run, const char *type, int nth) {
  size_t i;
  json_t *ev;
  json_array_foreach(json_object_get(run, "events"), i, ev) {
    if (!strcmp(json_string_value(json_object_get(ev, "type")), type) && nth-- == 0) return ev;
  }
  return NULL;
}

/* Hand-written: thread 1 exits holding 4 blocks; main frees them; thread 2
 * needs a block of the same class. */
static void test_replay_thread_exit_orphan_and_adopt(void **state) {
  (void)state;
  char *dir = ha_test_mkdir();
  const char *trace = source("sim/tests/traces/thread-exit.json");
  const char *leave[] = {"--variant", "phase1", NULL};
  assert_int_equal(replay(trace, in_dir(0, dir, "leave.json"), leave, NULL), 0);
  /* Thread 2 ran on thread 1's pool thread (the main trace thread's and
   * that one, plus the coordinator), and still mapped its own SuperSlab
   * below: a new thread to the allocator (sim.pool tests that directly). */
  json_error_t e;
  json_t *raw = json_load_file(path_buf[0], 0, &e);
  assert_non_null(raw);
  assert_int_equal(get_int(raw, "host.os_threads"), 3);
  json_decref(raw);
  json_t *run = load_run(path_buf[0]);
  json_t *ex = find_event(run, "thread_exit", 0);
  assert_non_null(ex);
  assert_int_equal(get_int(ex, "thread"), 1);
  assert_int_equal(get_int(ex, "t"), 5);
  assert_int_equal(get_int(ex, "orphaned_slabs"), 1);
  assert_null(find_event(run, "adopt", 0));
  assert_int_equal(sum_int(run, "ss_allocated"), 2); /* thread 2 maps its own */
  assert_int_equal(get_int(last_sample(run), "ss.orphaned"), 2);
  assert_int_equal(get_int(last_sample(run), "remote_pending_blocks"), 4);
  json_decref(run);

  const char *adopt[] = {"--variant", "adopt", NULL};
  assert_int_equal(replay(trace, in_dir(1, dir, "adopt.json"), adopt, NULL), 0);
  run = load_run(path_buf[1]);
  json_t *ad = find_event(run, "adopt", 0);
  assert_non_null(ad);
  assert_int_equal(get_int(ad, "t"), 11);
  assert_int_equal(get_int(ad, "ss"), 1);
  assert_int_equal(get_int(ad, "slab"), 0);
  assert_int_equal(get_int(ad, "by_thread"), 2);
  assert_int_equal(get_int(ad, "drained"), 4);
  assert_int_equal(sum_int(run, "ss_allocated"), 1);
  assert_int_equal(sum_int(run, "adoptions"), 1);
  assert_int_equal(get_int(last_sample(run), "remote_pending_blocks"), 0);
  json_decref(run);
  ha_test_rmdir(dir);
}

static void test_replay_map_limit_trace(void **state) {
  (void)state;
  char *dir = ha_test_mkdir();
  const char *extra[] = {"--opt", "ss_map_limit=2", NULL};
  assert_int_equal(
      replay(source("sim/tests/traces/map-limit.json"), in_dir(0, dir, "r.json"), extra, NULL), 3);
  json_t *run = load_run(path_buf[0]);
  json_t *oom = json_object_get(summary(run), "oom");
  assert_int_equal(get_int(oom, "t"), 2);
  assert_int_equal(get_int(oom, "ss_live"), 2);
  assert_int_equal(get_int(oom, "limit"), 2);
  assert_int_equal(sum_int(run, "events"), 2);
  assert_int_equal(get_int(last_sample(run), "live_blocks"), 2);
  json_decref(run);
  ha_test_rmdir(dir);
}

/* Broken binary traces: one line, exit 2, no output. */
static void test_replay_broken_hkt(void **state) {
  (void)state;
  char *dir = ha_test_mkdir();
  const char *trace = in_dir(0, dir, "l.hkt");
  make_larson(trace, "1");
  char *data = ha_test_slurp(trace, NULL);
  FILE *f = fopen(trace, "rb");
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fclose(f);
  const char *cut = in_dir(1, dir, "cut.hkt"), *magic = in_dir(2, dir, "magic.hkt");
  f = fopen(cut, "wb");
  fwrite(data, 1, (size_t)size - 7, f);
  fclose(f);
  data[0] ^= 0x55;
  f = fopen(magic, "wb");
  fwrite(data, 1, (size_t)size, f);
  fclose(f);
  const char *bad[2] = {cut, magic};
  for (int i = 0; i < 2; i++) {
    char *err = NULL;
    const char *out = in_dir(3, dir, "r.json");
    assert_int_equal(replay(bad[i], out, NULL, &err), 2);
    assert_non_null(strstr(err, bad[i]));
    /* exactly one line */
    assert_ptr_equal(strchr(err, '\n'), err + strlen(err) - 1);
    assert_int_equal(access(out, F_OK), -1);
    free(err);
  }
  free(data);
  ha_test_rmdir(dir);
}

/* Configuration precedence: --variant, then HAKMEM_* variables, then --opt;
 * the effective values are what run.json reports and what ran. */
static void test_replay_config_precedence(void **state) {
  (void)state;
  char *dir = ha_test_mkdir();
  setenv("HAKMEM_PRESET", "adopt", 1);           /* replaced by --variant */
  setenv("HAKMEM_TINY_SS_FORCE_LG", "20", 1);    /* applies on top of the preset */
  setenv("HAKMEM_EMPTY_RESERVE", "3", 1);        /* overridden by --opt */
  const char *extra[] = {"--variant", "fix-a", "--opt", "empty_reserve=2", "--opt",
                         "size_classes=16,64,256", NULL};
  int rc = replay(source("traces/samples/every-op.json"), in_dir(0, dir, "r.json"), extra, NULL);
  unsetenv("HAKMEM_PRESET");
  unsetenv("HAKMEM_TINY_SS_FORCE_LG");
  unsetenv("HAKMEM_EMPTY_RESERVE");
  assert_int_equal(rc, 0);
  json_t *run = load_run(path_buf[0]);
  json_t *cfg = json_object_get(run, "config");
  assert_string_equal(json_string_value(json_object_get(cfg, "preset")), "fix-a");
  assert_string_equal(json_string_value(json_object_get(cfg, "remote_accounting")), "push");
  assert_string_equal(json_string_value(json_object_get(cfg, "refill")), "fresh");
  assert_int_equal(get_int(cfg, "ss_lg"), 20);
  assert_int_equal(get_int(cfg, "empty_reserve"), 2);
  assert_string_equal(json_string_value(json_object_get(cfg, "size_classes")), "16,64,256");
  /* The label: the preset, then every override, wherever it came from. */
  assert_string_equal(json_string_value(json_object_get(cfg, "variant")),
                      "fix-a+ss_lg=20+empty_reserve=2+size_classes=16,64,256");
  /* 1 MiB SuperSlabs, three classes: what the samples measured. */
  json_t *last = last_sample(run);
  assert_int_equal(get_int(last, "ss_mapped_bytes") % (1 << 20), 0);
  assert_int_equal(get_int(last, "live_block_bytes"), 16);
  json_decref(run);
  ha_test_rmdir(dir);
}

/* A preset with an override is not the preset: config.variant says so,
 * config.preset stays the preset's name. */
static void test_replay_variant_label(void **state) {
  (void)state;
  char *dir = ha_test_mkdir();
  static const struct {
    const char *extra[6];
    const char *env, *preset, *variant;
  } cases[] = {
      {{"--variant", "phase1", "--opt", "remote_accounting=drain", NULL}, NULL, "phase1",
       "phase1+remote_accounting=drain"},
      {{"--variant", "phase1", NULL}, "HAKMEM_REMOTE_ACCOUNTING=drain", "phase1",
       "phase1+remote_accounting=drain"},
      {{"--variant", "phase1", "--opt", "remote_accounting=push", NULL}, NULL, "phase1", "phase1"},
      {{"--opt", "ss_lg=20", NULL}, NULL, "none", "none+ss_lg=20"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    if (cases[i].env) putenv((char *)cases[i].env);
    int rc = replay(source("traces/samples/every-op.json"), in_dir(0, dir, "r.json"), cases[i].extra, NULL);
    unsetenv("HAKMEM_REMOTE_ACCOUNTING");
    assert_int_equal(rc, 0);
    json_t *run = load_run(path_buf[0]);
    json_t *cfg = json_object_get(run, "config");
    assert_string_equal(json_string_value(json_object_get(cfg, "preset")), cases[i].preset);
    assert_string_equal(json_string_value(json_object_get(cfg, "variant")), cases[i].variant);
    json_decref(run);
  }
  ha_test_rmdir(dir);
}

/* Blocks of 0, 1 and 2 bytes: the replayer's marks must not collide with
 * themselves (a 1-byte block's first byte is its last). */
static void test_replay_tiny_blocks(void **state) {
  (void)state;
  char *dir = ha_test_mkdir();
  char *err = NULL;
  assert_int_equal(replay(source("sim/tests/traces/small-blocks.json"), in_dir(0, dir, "r.json"),
                          NULL, &err),
                   0);
  free(err);
  json_t *run = load_run(path_buf[0]);
  assert_int_equal(sum_int(run, "live_blocks_end"), 0);
  json_decref(run);
  ha_test_rmdir(dir);
}

/* A medium class's slabs are larger than slab_lg's 64 KiB (the 20 KiB
 * class: 512 KiB, four a SuperSlab). The ground truth counts blocks per
 * slab by the class's slab size: two slabs active, at their own size (by
 * 64 KiB it once indexed past its four slabs, and wrote into the heap). */
static void test_replay_medium_slabs(void **state) {
  (void)state;
  char *dir = ha_test_mkdir();
  const char *both[] = {NULL, "--variant", "mesh", NULL};
  for (int v = 0; v < 2; v++) {
    assert_int_equal(replay(source("sim/tests/traces/medium-slabs.json"), in_dir(v, dir, "r.json"),
                            both[v] ? NULL : both + 1, NULL),
                     0);
    json_t *run = load_run(path_buf[v]);
    json_t *samples = json_object_get(run, "samples");
    json_t *last = json_array_get(samples, json_array_size(samples) - 1);
    assert_int_equal(get_int(last, "live_blocks"), 30);
    assert_int_equal(get_int(last, "slab_active_bytes"), 2 * 512 * 1024);
    json_decref(run);
  }
  ha_test_rmdir(dir);
}

/* Every run.json the tests produce, OOM included, satisfies the documented
 * schema, as the analysis commands check it (docs/run.schema.json, built
 * into them); and the check does reject what breaks it. */
static void test_replay_schema(void **state) {
  (void)state;
  char *dir = ha_test_mkdir();
  const char *trace = in_dir(0, dir, "l.hkt");
  make_larson(trace, "4");
  const char *oom[] = {"--opt", "ss_map_limit=30", "--thread-maps", "2", NULL};
  const char *ok[] = {"--variant", "adopt", NULL};
  assert_int_equal(replay(trace, in_dir(1, dir, "oom.json"), oom, NULL), 3);
  assert_int_equal(replay(trace, in_dir(2, dir, "ok.json"), ok, NULL), 0);
  json_error_t e;
  ha_err err;
  for (int i = 1; i <= 2; i++) {
    json_t *run = json_load_file(path_buf[i], 0, &e);
    assert_non_null(run);
    if (ha_run_accept(run, "run.json", &err) != 0) fail_msg("%s", err.msg);
    if (i == 2) {
      json_object_set_new(json_object_get(run, "config"), "refill", json_string("steal"));
      assert_int_not_equal(ha_run_accept(run, "run.json", &err), 0);
      assert_non_null(strstr(err.msg, "run.json: config.refill: not one of"));
      json_object_del(json_object_get(run, "summary"), "ss_peak");
      json_object_set_new(json_object_get(run, "config"), "refill", json_string("reuse"));
      assert_int_not_equal(ha_run_accept(run, "run.json", &err), 0);
      assert_non_null(strstr(err.msg, "run.json: summary: missing field \"ss_peak\""));
    }
    json_decref(run);
  }
  ha_test_rmdir(dir);
}

/* The census kept from sample to sample (only the SuperSlabs changed
 * since the last sample are looked at again) against a full census at
 * every sample, under every preset, through orphaning, adoption, trims and
 * an OOM: --census-check exits 4 on any difference. */
static void test_replay_census_kept_matches_full(void **state) {
  (void)state;
  char *dir = ha_test_mkdir();
  const char *trace = in_dir(0, dir, "l.hkt");
  make_larson(trace, "20");
  static const char *const presets[] = {"seed-buggy", "fix-a", "fix-b", "phase1",
                                        "lg20",       "reuse", "adopt"};
  for (size_t i = 0; i < sizeof presets / sizeof *presets; i++) {
    const char *extra[] = {"--variant", presets[i], "--census-check", "--sample-every", "97",
                           "--ops-per-ms", "50", "--opt", "ss_map_limit=120", "--thread-maps",
                           "1", NULL};
    char *err = NULL;
    int rc = replay(trace, in_dir(1, dir, "r.json"), extra, &err);
    if (rc != 0 && rc != 3) fail_msg("%s: exit %d: %s", presets[i], rc, err ? err : "");
    free(err);
  }
  const char *hand[] = {"traces/samples/every-op.json", "sim/tests/traces/thread-exit.json",
                        "sim/tests/traces/remote-drift.json", "sim/tests/traces/exit-drain.json"};
  for (size_t i = 0; i < 4; i++) {
    const char *extra[] = {"--variant", "adopt", "--census-check", "--sample-every",
                           i == 3 ? "5" : "1", NULL};
    assert_int_equal(replay(source(hand[i]), in_dir(1, dir, "r.json"), extra, NULL), 0);
  }
  /* exit-drain.json: the exit's drain alone changed SuperSlab 1. */
  json_t *run = load_run(path_buf[1]);
  json_t *samples = json_object_get(run, "samples");
  assert_int_equal(get_int(json_array_get(samples, 0), "remote_pending_blocks"), 2);
  assert_int_equal(get_int(json_array_get(samples, 1), "remote_pending_blocks"), 0);
  json_decref(run);
  ha_test_rmdir(dir);
}

/* A phase trace: each thread builds a live set of 64-127-byte blocks (its
 * slabs fully carved), frees all but 5% of it, churns: sparse slabs that
 * mesh. */
static void make_phase(const char *out, const char *blocks, const char *steady) {
  const char *argv[] = {ha_test_env("HAKTRACE"), "gen", "phase", "--threads", "2", "--blocks",
                        blocks, "--cycles", "2", "--steady", steady, "--min", "64", "--max",
                        "128", "-o", out, NULL};
  assert_int_equal(ha_test_run(argv, NULL, NULL), 0);
}

static json_int_t ev_int(json_t *ev, const char *key) {
  return json_integer_value(json_object_get(ev, key));
}

/* The first free in a .jsonl trace, after event `after`, of a block
 * allocated before it: a block that was live through a mesh pass at
 * `after`. Its event index, or -1. */
static long free_across(const char *jsonl, long after) {
  char *text = ha_test_slurp(jsonl, NULL);
  assert_non_null(text);
  static unsigned char born[1 << 20]; /* ids allocated before `after` */
  memset(born, 0, sizeof born);
  long t = -1, found = -1; /* the header is line 0: event t is line t + 1 */
  for (char *line = strtok(text, "\n"); line && found < 0; line = strtok(NULL, "\n"), t++) {
    unsigned tid;
    unsigned long id;
    if (sscanf(line, "[\"alloc\",%u,%lu", &tid, &id) == 2 && t < after && id < sizeof born)
      born[id] = 1;
    else if (sscanf(line, "[\"free\",%u,%lu", &tid, &id) == 2 && t > after && id < sizeof born &&
             born[id])
      found = t;
  }
  free(text);
  return found;
}

/* Meshing in a replay (docs/meshing.md, "For the replayer"): under the
 * mesh preset, a pass at every trim point (free mode: every sample point)
 * merges slabs and releases their pages; the census kept from sample to sample stays right through the
 * merges and the frees through merged ranges (--census-check); every
 * block's marks survive its moves (the replayer's check at each free: a
 * block handed out twice or moved wrong is exit 4, and an overwrite after
 * a mesh is still found); the run is deterministic, and golden. Under
 * phase1 the same trace meshes nothing but has a potential. */
static void test_replay_mesh(void **state) {
  (void)state;
  char *dir = ha_test_mkdir();
  const char *trace = in_dir(0, dir, "p.jsonl");
  make_phase(trace, "3000", "10000");
  const char *extra[] = {"--variant", "mesh", "--opt", "idle_trim_ms=2", "--census-check", NULL};
  assert_int_equal(replay(trace, in_dir(1, dir, "a.json"), extra, NULL), 0);
  assert_int_equal(replay(trace, in_dir(2, dir, "b.json"), extra, NULL), 0);
  char *a = before_host(path_buf[1]), *b = before_host(path_buf[2]);
  assert_string_equal(a, b);
  free(a);
  free(b);

  json_t *run = load_run(path_buf[1]);
  assert_true(sum_int(run, "meshes") > 0);
  assert_true(sum_int(run, "mesh_released_bytes") > 0);
  assert_true(sum_int(run, "peak_ss_mappings") > sum_int(run, "ss_peak")); /* splits */
  /* One mesh event per trim point, adding up to the summary. */
  json_int_t passes = 0, meshes = 0, released = 0, first_mesh = -1;
  size_t i;
  json_t *ev;
  json_array_foreach(json_object_get(run, "events"), i, ev) {
    if (strcmp(json_string_value(json_object_get(ev, "type")), "mesh")) continue;
    assert_int_equal(ev_int(ev, "pass"), ++passes);
    assert_int_equal(ev_int(ev, "t") % 16760, 0);
    meshes += ev_int(ev, "meshes");
    released += ev_int(ev, "released_bytes");
    if (first_mesh < 0 && ev_int(ev, "meshes") > 0) first_mesh = ev_int(ev, "t");
  }
  assert_int_equal(passes, sum_int(run, "trims"));
  assert_int_equal(meshes, sum_int(run, "meshes"));
  assert_int_equal(released, sum_int(run, "mesh_released_bytes"));
  assert_int_equal(get_int(run, "summary.allocator_maps.mesh_passes"), passes);
  /* Samples: counts that only grow, the splits seen, the potential at
   * every tenth sample and the last. */
  json_t *samples = json_object_get(run, "samples"), *s;
  json_int_t prev = 0, potentials = 0, split = 0;
  json_array_foreach(samples, i, s) {
    assert_true(get_int(s, "meshes") >= prev);
    prev = get_int(s, "meshes");
    split |= get_int(s, "ss_mappings") > get_int(s, "ss.live");
    assert_true(get_int(s, "mappings") >= get_int(s, "ss_mappings"));
    bool has = json_object_get(s, "mesh_potential_bytes") != NULL;
    assert_int_equal(has, i % 10 == 0 || i + 1 == json_array_size(samples));
    potentials += has;
  }
  assert_true(split);
  assert_int_equal(prev, sum_int(run, "meshes"));
  assert_int_equal(get_int(run, "summary.mesh_potential.samples"), potentials);
  json_decref(run);
  json_error_t je;
  ha_err err;
  run = json_load_file(path_buf[1], 0, &je); /* as written, host included */
  assert_non_null(run);
  if (ha_run_accept(run, "run.json", &err) != 0) fail_msg("%s", err.msg);
  json_decref(run);

  /* The check at each free still finds an overwrite after the meshes. */
  long t = free_across(trace, (long)first_mesh);
  assert_true(t > 0);
  char n[32], *msg = NULL;
  snprintf(n, sizeof n, "%ld", t);
  const char *inject[] = {"--variant", "mesh", "--opt", "idle_trim_ms=2", "--inject-overwrite", n,
                          NULL};
  assert_int_equal(replay(trace, in_dir(3, dir, "c.json"), inject, &msg), 4);
  assert_non_null(strstr(msg, "overwritten before its free"));
  free(msg);

  /* Free mode meshes where its samples wait for every worker to idle:
   * a pass before each sample but the last (how much it merges depends on
   * the timing; that it merges, and that the blocks survive, does not). */
  const char *free_mode[] = {"--variant", "mesh", "--mode", "free", "--sample-every", "2000",
                             NULL};
  assert_int_equal(replay(trace, in_dir(3, dir, "f.json"), free_mode, NULL), 0);
  run = load_run(path_buf[3]);
  assert_true(sum_int(run, "meshes") > 0);
  assert_int_equal(get_int(run, "summary.allocator_maps.mesh_passes"),
                   (json_int_t)json_array_size(json_object_get(run, "samples")) - 1);
  json_decref(run);

  /* phase1: no memfd, no pass, but a potential. */
  const char *phase1[] = {"--variant", "phase1", "--opt", "idle_trim_ms=2", NULL};
  assert_int_equal(replay(trace, in_dir(4, dir, "d.json"), phase1, NULL), 0);
  run = load_run(path_buf[4]);
  assert_int_equal(sum_int(run, "meshes"), 0);
  assert_true(get_int(run, "summary.mesh_potential.peak_bytes") > 0);
  json_array_foreach(json_object_get(run, "events"), i, ev)
    assert_string_not_equal(json_string_value(json_object_get(ev, "type")), "mesh");
  json_decref(run);

  /* Golden: a smaller trace of the same kind. on_bad_free=count because
   * debug builds (the sanitizers') check every free strictly, which
   * changes which free block an allocation gets, and so what meshes: with
   * it every build frees the same way and the golden holds in all. */
  trace = in_dir(5, dir, "g.jsonl");
  make_phase(trace, "2000", "2000");
  const char *golden[] = {"--variant", "mesh", "--opt", "idle_trim_ms=1", "--opt", "on_bad_free=count",
                          "--sample-every", "1000", NULL};
  assert_int_equal(replay(trace, in_dir(6, dir, "g.json"), golden, NULL), 0);
  run = load_golden_run(path_buf[6], "(haktrace gen phase --threads 2 --blocks 2000 --cycles 2 "
                                     "--steady 2000 --min 64 --max 128)");
  assert_true(sum_int(run, "meshes") > 0);
  check_golden(run, "sim/tests/golden/phase.mesh.json");
  json_decref(run);
  ha_test_rmdir(dir);
}

/* The progress line: on a terminal (script(1) gives one) it is rewritten
 * with \r and ends with the events and the rate; never with --quiet or
 * when stderr is not a terminal (every other test: their stderr holds
 * exactly the messages they expect). */
static void test_replay_progress_on_a_terminal(void **state) {
  (void)state;
  if (access("/usr/bin/script", X_OK) != 0) skip();
  char *dir = ha_test_mkdir();
  for (int quiet = 0; quiet < 2; quiet++) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s -o %s %s", ha_test_env("HAKREPLAY"),
             source("traces/samples/larson-small.jsonl"), in_dir(0, dir, "r.json"),
             quiet ? "--quiet" : "");
    const char *argv[] = {"/usr/bin/script", "-q", "-e", "-c", cmd, "/dev/null", NULL};
    char *out = NULL;
    assert_int_equal(ha_test_run(argv, &out, NULL), 0);
    if (quiet) assert_null(strstr(out, "hakreplay:"));
    else assert_non_null(strstr(out, "\rhakreplay: 0.0 M events in "));
    free(out);
  }
  const char *argv[] = {ha_test_env("HAKREPLAY"), source("traces/samples/larson-small.jsonl"), "-o",
                        in_dir(0, dir, "r.json"), NULL};
  char *err = NULL;
  assert_int_equal(ha_test_run(argv, NULL, &err), 0);
  assert_true(!err || !strstr(err, "M events"));
  free(err);
  ha_test_rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_replay_golden_every_op),
      cmocka_unit_test(test_replay_golden_larson_small),
      cmocka_unit_test(test_replay_golden_larson_phase1),
      cmocka_unit_test(test_replay_deterministic),
      cmocka_unit_test(test_replay_encodings_agree),
      cmocka_unit_test(test_replay_seed_story),
      cmocka_unit_test(test_replay_oom_writes_run_and_exits_3),
      cmocka_unit_test(test_replay_corruption_exits_4),
      cmocka_unit_test(test_replay_bad_input_exits_2),
      cmocka_unit_test(test_replay_free_mode),
      cmocka_unit_test(test_replay_ss_detail),
      cmocka_unit_test(test_replay_schema),
      cmocka_unit_test(test_replay_drift_exact),
      cmocka_unit_test(test_replay_thread_exit_orphan_and_adopt),
      cmocka_unit_test(test_replay_map_limit_trace),
      cmocka_unit_test(test_replay_broken_hkt),
      cmocka_unit_test(test_replay_config_precedence),
      cmocka_unit_test(test_replay_variant_label),
      cmocka_unit_test(test_replay_tiny_blocks),
      cmocka_unit_test(test_replay_medium_slabs),
      cmocka_unit_test(test_replay_census_kept_matches_full),
      cmocka_unit_test(test_replay_progress_on_a_terminal),
      cmocka_unit_test(test_replay_mesh),
  };
  return cmocka_run_group_tests_name("sim.replay", tests, NULL, NULL);
}
