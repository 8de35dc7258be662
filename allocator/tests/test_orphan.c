/* test_orphan.c: what happens to an exiting thread's slabs. Thread T
 * allocates N blocks and exits with them live; the main thread then frees
 * them all (remote frees into a dead thread's slab). Under `leave` they
 * pile up undrained; under `adopt` the next thread needing a slab of the
 * class reclaims the orphan and drains them. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runner.h"
#include "testutil.h"

enum { N = 10 };

typedef struct {
  int orphans, adopts;
  uint32_t adopt_drained, adopt_ss;
  uint32_t exit_orphaned, exit_released;
} orphan_log;

static void on_orphan(void *ctx, uint32_t ss, uint32_t slab, uint32_t tid) {
  (void)ss, (void)slab, (void)tid;
  ((orphan_log *)ctx)->orphans++;
}
static void on_adopt(void *ctx, uint32_t ss, uint32_t slab, uint32_t by, uint32_t drained) {
  orphan_log *log = ctx;
  (void)slab, (void)by;
  log->adopts++;
  log->adopt_drained = drained;
  log->adopt_ss = ss;
}
static void on_exit_cb(void *ctx, uint32_t tid, uint32_t orphaned, uint32_t released) {
  orphan_log *log = ctx;
  (void)tid;
  log->exit_orphaned += orphaned;
  log->exit_released += released;
}

static hak_allocator *make(const char *policy, const char *acct, orphan_log *log) {
  hak_config cfg;
  char err[200], o1[64], o2[64];
  hak_config_default(&cfg);
  snprintf(o1, sizeof o1, "orphan_policy=%s", policy);
  snprintf(o2, sizeof o2, "remote_accounting=%s", acct);
  assert_int_equal(hak_config_set_kv(&cfg, o1, err, sizeof err), 0);
  assert_int_equal(hak_config_set_kv(&cfg, o2, err, sizeof err), 0);
  assert_int_equal(hak_config_set_kv(&cfg, "empty_reserve=0", err, sizeof err), 0);
  hak_observer obs = {.ctx = log, .orphan = on_orphan, .adopt = on_adopt, .thread_exit = on_exit_cb};
  hak_create_opts opts = {.observer = &obs, .no_trim_thread = true};
  hak_allocator *a;
  assert_int_equal(hak_create(&cfg, &opts, &a, err, sizeof err), 0);
  return a;
}

/* T allocates N blocks of 1024 bytes, one 64-byte block it frees itself,
 * and exits. Returns the blocks. */
static void dead_thread_with_live_blocks(hak_allocator *a, void **blocks) {
  hak_runner *t = runner_start();
  test_batch b = {a, blocks, 0, N, 1024};
  runner_call(t, batch_alloc, &b);
  void *tmp[1];
  test_batch c = {a, tmp, 0, 1, 64}, cf = {a, tmp, 0, 1, 0};
  runner_call(t, batch_alloc, &c);
  runner_call(t, batch_free, &cf);
  runner_exit(t);
}

static void free_all_here(hak_allocator *a, void **blocks) {
  for (int i = 0; i < N; i++) assert_int_equal(hak_free(a, blocks[i]), 0);
}

static void test_orphan_leave_piles_up(void **state) {
  (void)state;
  orphan_log log = {0};
  hak_allocator *a = make("leave", "drain", &log);
  void *blocks[N];
  dead_thread_with_live_blocks(a, blocks);
  /* The 1024-byte slab had blocks out: orphaned; the 64-byte one was empty:
   * released. */
  assert_int_equal(log.exit_orphaned, 1);
  assert_int_equal(log.exit_released, 1);
  free_all_here(a, blocks);
  hak_ss_info info = ss_info(a, blocks[0]);
  assert_int_equal(info.remote_pending, N);
  assert_int_equal(info.slabs_orphaned, 1);
  assert_int_equal(info.total_active_blocks, N); /* drain accounting: nobody drains */
  /* The main thread needs a 1024-byte slab: under leave it never touches
   * the orphan; under fresh refill it maps its own SuperSlab. */
  void *p = hak_malloc(a, 1024);
  assert_int_not_equal(ss_info(a, p).id, info.id);
  assert_int_equal(ss_info(a, blocks[0]).remote_pending, N);
  hak_free(a, p);
  hak_stats s;
  hak_get_stats(a, &s);
  assert_int_equal(s.adoptions, 0);
  assert_int_equal(s.drained_blocks, 0);
  /* Empty in truth, full by the counter: trim cannot free it. */
  hak_trim_report r;
  hak_thread_detach(a);
  hak_trim(a, &r, NULL, 0);
  assert_true(hak_owns(a, blocks[0]));
  assert_int_equal(log.adopts, 0);
  hak_destroy(a);
}

static void test_orphan_leave_with_push_accounting_trims(void **state) {
  (void)state;
  orphan_log log = {0};
  hak_allocator *a = make("leave", "push", &log);
  void *blocks[N];
  dead_thread_with_live_blocks(a, blocks);
  free_all_here(a, blocks);
  hak_ss_info info = ss_info(a, blocks[0]);
  assert_int_equal(info.remote_pending, N);    /* still undrained */
  assert_int_equal(info.total_active_blocks, 0); /* but counted at the push */
  hak_trim_report r;
  hak_trim(a, &r, NULL, 0);
  assert_false(hak_owns(a, blocks[0])); /* the dead thread's SuperSlab is gone */
  hak_destroy(a);
}

static void test_orphan_adopt_reclaims_and_drains(void **state) {
  (void)state;
  orphan_log log = {0};
  hak_allocator *a = make("adopt", "drain", &log);
  void *blocks[N];
  dead_thread_with_live_blocks(a, blocks);
  assert_int_equal(log.exit_orphaned, 1);
  free_all_here(a, blocks);
  hak_ss_info before = ss_info(a, blocks[0]);
  assert_int_equal(before.remote_pending, N);
  assert_int_equal(before.total_active_blocks, N);
  assert_int_equal(before.slabs_orphaned, 1);
  /* The main thread needs a 1024-byte slab: it adopts the orphan, drains
   * its N blocks, and gets one of them back; no SuperSlab is mapped. */
  void *p = hak_malloc(a, 1024);
  hak_ss_info after = ss_info(a, p);
  assert_int_equal(after.id, before.id);
  assert_int_equal(log.adopts, 1);
  assert_int_equal(log.adopt_drained, N);
  assert_int_equal(log.adopt_ss, before.id);
  assert_int_equal(after.remote_pending, 0);
  assert_int_equal(after.total_active_blocks, 1);
  assert_int_equal(after.slabs_orphaned, 0);
  assert_int_equal(slab_free_count(a, p), N - 1);
  bool reused = false;
  for (int i = 0; i < N; i++) reused |= blocks[i] == p;
  assert_true(reused);
  hak_stats s;
  hak_get_stats(a, &s);
  assert_int_equal(s.adoptions, 1);
  assert_int_equal(s.drained_blocks, N);
  assert_int_equal(s.ss_allocated, 2); /* T's 1024 and 64 SuperSlabs only */
  /* Frees by the adopter are local now. */
  uint64_t local = s.frees_local;
  hak_free(a, p);
  hak_get_stats(a, &s);
  assert_int_equal(s.frees_local, local + 1);
  hak_destroy(a);
}

static void test_orphan_adopt_exit_drains_and_releases(void **state) {
  (void)state;
  /* Under adopt, an exiting thread drains first: a slab whose blocks all
   * came back remotely is released, not orphaned. */
  orphan_log log = {0};
  hak_allocator *a = make("adopt", "drain", &log);
  hak_runner *t = runner_start();
  void *blocks[N];
  test_batch b = {a, blocks, 0, N, 1024};
  runner_call(t, batch_alloc, &b);
  free_all_here(a, blocks); /* remote frees while T lives */
  runner_exit(t);
  assert_int_equal(log.exit_orphaned, 0);
  assert_int_equal(log.exit_released, 1);
  hak_ss_info info = ss_info(a, blocks[0]);
  assert_int_equal(info.total_active_blocks, 0);
  assert_int_equal(info.remote_pending, 0);
  assert_int_equal(info.slabs_free, info.nslabs);
  hak_destroy(a);
}

/* glibc frees some of a thread's memory after the pthread key destructors;
 * the allocator's exit path has run by then, and a free must not attach
 * the dying thread again (its cache would never be released). */
static pthread_key_t late_key;
static hak_allocator *late_alloc;

static void late_destructor(void *p) { hak_free(late_alloc, p); }

static void *late_thread(void *arg) {
  void *mine = hak_malloc(late_alloc, 32);
  pthread_setspecific(late_key, arg); /* freed after the allocator's own destructor */
  hak_free(late_alloc, mine);
  return NULL;
}

static void test_orphan_free_after_exit_does_not_reattach(void **state) {
  (void)state;
  orphan_log log = {0};
  late_alloc = make("leave", "push", &log);
  assert_int_equal(pthread_key_create(&late_key, late_destructor), 0); /* after the allocator's */
  void *block = hak_malloc(late_alloc, 48);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, late_thread, block), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  hak_stats s;
  hak_get_stats(late_alloc, &s);
  assert_int_equal(s.threads_attached, 2); /* main and the thread, once */
  assert_int_equal(s.threads_exited, 1);
  assert_int_equal(s.frees_after_exit, 1);
  assert_int_equal(s.frees_remote, 1);
  assert_int_equal(ss_info(late_alloc, block).remote_pending, 1);
  pthread_key_delete(late_key);
  hak_destroy(late_alloc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_orphan_leave_piles_up),
      cmocka_unit_test(test_orphan_leave_with_push_accounting_trims),
      cmocka_unit_test(test_orphan_adopt_reclaims_and_drains),
      cmocka_unit_test(test_orphan_adopt_exit_drains_and_releases),
      cmocka_unit_test(test_orphan_free_after_exit_does_not_reattach),
  };
  return cmocka_run_group_tests_name("allocator.orphan", tests, NULL, NULL);
}
