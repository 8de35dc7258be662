/* test_trim.c: hak_tiny_trim frees exactly the empty SuperSlabs beyond the
 * empty reserve, never a cached or non-empty one; the background trim
 * thread does the same on its own; trim_ss gates it; flush_on_exit runs a
 * final pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "runner.h"
#include "testutil.h"

typedef struct {
  int passes;
  uint32_t freed_ids[16];
  uint32_t freed;
  char unmap_reasons[64];
} trim_log;

static void on_trim(void *ctx, const hak_trim_report *r) {
  trim_log *log = ctx;
  log->passes++;
  log->freed = r->freed;
  for (uint32_t i = 0; i < r->freed && i < 16; i++) log->freed_ids[i] = r->freed_ids[i];
}

static void on_unmap(void *ctx, uint32_t id, const char *reason) {
  trim_log *log = ctx;
  (void)id;
  strncat(log->unmap_reasons, reason, sizeof log->unmap_reasons - strlen(log->unmap_reasons) - 1);
}

static hak_allocator *make_observed(const char *const *settings, trim_log *log) {
  hak_config cfg;
  char err[200];
  hak_config_default(&cfg);
  for (const char *const *s = settings; *s; s++) assert_int_equal(hak_config_set_kv(&cfg, *s, err, sizeof err), 0);
  hak_observer obs = {.ctx = log, .trim = on_trim, .ss_unmap = on_unmap};
  hak_create_opts opts = {.observer = &obs, .no_trim_thread = true};
  hak_allocator *a;
  assert_int_equal(hak_create(&cfg, &opts, &a, err, sizeof err), 0);
  return a;
}

/* Five threads each map a SuperSlab (they are alive together, so under
 * fresh refill none can take another's), free all and exit; main keeps its
 * own SuperSlab cached; a sixth thread keeps one block live. */
typedef struct {
  hak_allocator *a;
  hak_runner *r[6];
  void *blocks[6][4];
  void *main_block;
} scene;

static void build_scene(scene *s, hak_allocator *a) {
  s->a = a;
  s->main_block = hak_malloc(a, 16); /* SuperSlab 1, cached by main */
  for (int t = 0; t < 6; t++) {
    s->r[t] = runner_start();
    test_batch b = {a, s->blocks[t], 0, 4, 16};
    runner_call(s->r[t], batch_alloc, &b); /* SuperSlabs 2..7 */
    assert_int_equal(ss_info(a, s->blocks[t][0]).id, 2 + t);
  }
  for (int t = 0; t < 5; t++) {
    test_batch b = {a, s->blocks[t], 0, 4, 0};
    runner_call(s->r[t], batch_free, &b);
    runner_exit(s->r[t]);
  }
  test_batch keep = {a, s->blocks[5], 1, 4, 0}; /* thread 6 keeps blocks[5][0] */
  runner_call(s->r[5], batch_free, &keep);
  hak_free(a, s->main_block);
}

static void test_trim_frees_exactly_empty_beyond_reserve(void **state) {
  (void)state;
  trim_log log = {0};
  hak_allocator *a = make_observed(
      (const char *[]){"preset=phase1", "empty_reserve=2", NULL}, &log);
  scene s;
  build_scene(&s, a);
  assert_int_equal(ss_count(a), 7);
  hak_trim_report r;
  uint32_t ids[8] = {0};
  /* Newest first: 7 is non-empty (and cached by its live thread), 6 and 5
   * are the reserve, 4, 3, 2 go, 1 is cached by main (and empty). */
  assert_int_equal(hak_trim(a, &r, ids, 8), 3);
  assert_int_equal(r.pass, 1);
  assert_int_equal(r.scanned, 7);
  assert_int_equal(r.skipped_nonempty, 1);
  assert_int_equal(r.skipped_cached, 1);
  assert_int_equal(r.skipped_reserve, 2);
  assert_int_equal(r.freed_bytes, 3u << 21);
  assert_int_equal(ids[0], 2);
  assert_int_equal(ids[1], 3);
  assert_int_equal(ids[2], 4);
  assert_int_equal(log.passes, 1);
  assert_int_equal(log.freed, 3);
  assert_int_equal(log.freed_ids[0], 2);
  assert_string_equal(log.unmap_reasons, "trimtrimtrim");
  hak_stats st;
  hak_get_stats(a, &st);
  assert_int_equal(st.ss_freed, 3);
  assert_int_equal(st.ss_live, 4);
  assert_int_equal(st.trims, 1);
  assert_int_equal(st.trimmed_bytes, 3u << 21);
  /* A second pass finds only the reserve. */
  assert_int_equal(hak_trim(a, &r, NULL, 0), 0);
  assert_int_equal(r.pass, 2);
  assert_int_equal(r.skipped_reserve, 2);
  /* The survivors still work: the live thread frees its block, main
   * allocates again from its cached slab. */
  test_batch b = {a, s.blocks[5], 0, 1, 0};
  runner_call(s.r[5], batch_free, &b);
  runner_exit(s.r[5]);
  void *p = hak_malloc(a, 16);
  assert_int_equal(ss_info(a, p).id, 1);
  hak_free(a, p);
  hak_destroy(a);
}

static void test_trim_never_frees_cached(void **state) {
  (void)state;
  hak_allocator *a = make_alloc((const char *[]){"preset=phase1", "empty_reserve=0", NULL}, 0);
  void *p = hak_malloc(a, 64);
  hak_free(a, p);
  hak_ss_info info = ss_info(a, p);
  assert_int_equal(info.total_active_blocks, 0);
  assert_int_equal(info.cached_by, 2); /* current slab and home SuperSlab */
  hak_trim_report r;
  assert_int_equal(hak_trim(a, &r, NULL, 0), 0);
  assert_int_equal(r.skipped_cached, 1);
  hak_thread_detach(a);
  assert_int_equal(hak_trim(a, &r, NULL, 0), 1);
  assert_int_equal(ss_count(a), 0);
  hak_destroy(a);
}

static uint64_t ss_live(hak_allocator *a) {
  hak_stats s;
  hak_get_stats(a, &s);
  return s.ss_live;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void test_trim_background_thread(void **state) {
  (void)state;
  hak_allocator *a = make_alloc(
      (const char *[]){"preset=phase1", "idle_trim_ms=5", "empty_reserve=2", NULL}, 1);
  scene s;
  build_scene(&s, a);
  /* Nobody calls hak_trim: the thread must bring 7 SuperSlabs down to 4. */
  for (int i = 0; i < 500 && ss_live(a) != 4; i++) sleep_ms(10);
  hak_stats st;
  hak_get_stats(a, &st);
  assert_int_equal(st.ss_live, 4);
  assert_int_equal(st.ss_freed, 3);
  assert_true(st.trims >= 1);
  test_batch b = {a, s.blocks[5], 0, 1, 0};
  runner_call(s.r[5], batch_free, &b);
  runner_exit(s.r[5]);
  hak_destroy(a);
}

static void test_trim_ss_gates_the_thread(void **state) {
  (void)state;
  /* idle_trim_ms set but trim_ss 0: no background pass ever runs. */
  hak_allocator *a = make_alloc(
      (const char *[]){"preset=phase1", "idle_trim_ms=1", "trim_ss=0", "empty_reserve=0", NULL}, 1);
  hak_runner *r = runner_start();
  void *blk[1];
  test_batch b = {a, blk, 0, 1, 16};
  runner_call(r, batch_alloc, &b);
  runner_call(r, batch_free, &b);
  runner_exit(r);
  sleep_ms(100);
  hak_stats st;
  hak_get_stats(a, &st);
  assert_int_equal(st.trims, 0);
  assert_int_equal(st.ss_live, 1);
  hak_destroy(a);
}

static void test_trim_flush_on_exit(void **state) {
  (void)state;
  trim_log log = {0};
  hak_allocator *a = make_observed(
      (const char *[]){"preset=phase1", "flush_on_exit=1", "empty_reserve=0", NULL}, &log);
  hak_runner *r = runner_start();
  void *blk[1];
  test_batch b = {a, blk, 0, 1, 16};
  runner_call(r, batch_alloc, &b);
  runner_call(r, batch_free, &b);
  runner_exit(r);
  hak_destroy(a);
  assert_int_equal(log.passes, 1);
  assert_int_equal(log.freed, 1);
  assert_string_equal(log.unmap_reasons, "trim"); /* destroy's unmaps are not observed */
}

/* A pass over an instance that never mapped anything (a background trim
 * can run that early) reports nothing and touches nothing. */
static void test_trim_empty_instance(void **state) {
  (void)state;
  trim_log log = {0};
  hak_allocator *a = make_observed((const char *[]){"preset=phase1", NULL}, &log);
  hak_trim_report r;
  uint32_t ids[4] = {7, 7, 7, 7};
  assert_int_equal(hak_trim(a, &r, ids, 4), 0);
  assert_int_equal(r.scanned, 0);
  assert_int_equal(r.freed_bytes, 0);
  assert_int_equal(ids[0], 7);
  assert_int_equal(log.passes, 1);
  assert_int_equal(log.freed, 0);
  hak_destroy(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_trim_frees_exactly_empty_beyond_reserve),
      cmocka_unit_test(test_trim_never_frees_cached),
      cmocka_unit_test(test_trim_background_thread),
      cmocka_unit_test(test_trim_ss_gates_the_thread),
      cmocka_unit_test(test_trim_flush_on_exit),
      cmocka_unit_test(test_trim_empty_instance),
  };
  return cmocka_run_group_tests_name("allocator.trim", tests, NULL, NULL);
}
