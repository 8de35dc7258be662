/* test_accounting.c: total_active_blocks, remote counts and free-list
 * lengths after each step of one scripted two-thread sequence, under each
 * remote_accounting variant (none = the seed's bug, push = Option A,
 * drain). Thread A owns the slab; thread B frees some of A's blocks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "runner.h"
#include "testutil.h"

enum { MAXB = 512 };

/* A variant's expected numbers for the sequence below. */
typedef struct {
  const char *variant;
  int64_t active_rel_k[5]; /* total_active_blocks - K after steps 1..5 */
  int64_t active_end;      /* after steps 6 and 7: A's SuperSlab holds no live block */
  int64_t b_active_end;    /* B's SuperSlab after step 7 (one block freed remotely) */
  uint32_t trimmed;        /* SuperSlabs the final trim unmaps */
} variant_expect;

/* Remote count and free-list length of A's slab after steps 1..7 (the
 * same under every variant; the free list after step 6 is K). */
static const uint32_t want_remote[7] = {0, 0, 3, 3, 0, 0, 0};
static const int64_t want_free_rel[7] = {0, 2, 2, 0, 2, -1, -1}; /* -1: K */

static void check(hak_allocator *a, void *block, uint32_t k, int step, int64_t active) {
  hak_ss_info info = ss_info(a, block);
  uint32_t free_want = want_free_rel[step - 1] < 0 ? k : (uint32_t)want_free_rel[step - 1];
  if (info.total_active_blocks != active || slab_remote_count(a, block) != want_remote[step - 1] ||
      slab_free_count(a, block) != free_want)
    fail_msg("step %d: active %lld (want %lld), remote %u (want %u), free list %u (want %u)",
             step, (long long)info.total_active_blocks, (long long)active,
             slab_remote_count(a, block), want_remote[step - 1], slab_free_count(a, block),
             free_want);
  assert_int_equal(info.remote_pending, want_remote[step - 1]);
}

/* Steps (A and B are real threads; blocks are 1024 bytes, so K, the
 * capacity of A's first slab, is small):
 *   1. A allocates the K blocks of its first slab
 *   2. A frees blocks 0,1 (local)
 *   3. B frees blocks 2,3,4 (remote pushes)
 *   4. A allocates 2: popped from its free list, no drain
 *   5. A allocates 1: free list empty and slab fully carved, so the refill
 *      drains the 3 remote blocks and pops one of them
 *   6. A frees every block it still holds (K - 2 of them, local)
 *   7. B allocates a 16-byte block in a SuperSlab of its own, A frees it
 *      (remote), B exits under orphan policy leave: nobody drains it
 * then A detaches and a trim pass (empty_reserve 0) runs. */
static void run_sequence(const variant_expect *v) {
  char opt[64];
  snprintf(opt, sizeof opt, "remote_accounting=%s", v->variant);
  hak_allocator *a = make_alloc(
      (const char *[]){opt, "size_classes=16,1024", "empty_reserve=0", NULL}, 0);
  hak_runner *ta = runner_start(), *tb = runner_start();
  void **slots = calloc(MAXB, sizeof *slots);
  void *extra[3] = {0};

  test_batch b1 = {a, slots, 0, 1, 1024};
  runner_call(ta, batch_alloc, &b1);
  uint32_t k = slab_capacity(a, slots[0]);
  assert_int_equal(slab_index(a, slots[0]), 0);
  assert_true(k > 5 && k < MAXB);
  b1 = (test_batch){a, slots, 1, (int)k, 1024};
  runner_call(ta, batch_alloc, &b1);
  for (uint32_t i = 1; i < k; i++) assert_int_equal(slab_index(a, slots[i]), 0);
  void *probe = slots[k - 1];
  check(a, probe, k, 1, k + v->active_rel_k[0]);

  test_batch b2 = {a, slots, 0, 2, 0};
  runner_call(ta, batch_free, &b2);
  check(a, probe, k, 2, k + v->active_rel_k[1]);

  test_batch b3 = {a, slots, 2, 5, 0};
  runner_call(tb, batch_free, &b3);
  check(a, probe, k, 3, k + v->active_rel_k[2]);

  test_batch b4 = {a, extra, 0, 2, 1024};
  runner_call(ta, batch_alloc, &b4);
  assert_int_equal(slab_index(a, extra[0]), 0); /* reused, not a new slab */
  check(a, probe, k, 4, k + v->active_rel_k[3]);

  test_batch b5 = {a, extra, 2, 3, 1024};
  runner_call(ta, batch_alloc, &b5);
  assert_int_equal(slab_index(a, extra[2]), 0); /* one of the drained blocks */
  check(a, probe, k, 5, k + v->active_rel_k[4]);

  test_batch b6a = {a, slots, 5, (int)k, 0}, b6b = {a, extra, 0, 3, 0};
  runner_call(ta, batch_free, &b6a);
  runner_call(ta, batch_free, &b6b);
  check(a, probe, k, 6, v->active_end);

  void *bslot[1];
  test_batch b7 = {a, bslot, 0, 1, 16};
  runner_call(tb, batch_alloc, &b7);
  void *bblock = bslot[0];
  assert_int_not_equal(ss_info(a, bblock).id, ss_info(a, probe).id);
  runner_call(ta, batch_free, &b7);
  runner_exit(tb);
  hak_ss_info bi = ss_info(a, bblock);
  assert_int_equal(bi.total_active_blocks, v->b_active_end);
  assert_int_equal(bi.remote_pending, 1);
  assert_int_equal(bi.slabs_orphaned, 1);
  assert_false(bi.owner_alive);
  check(a, probe, k, 7, v->active_end);

  hak_stats s;
  hak_get_stats(a, &s);
  assert_int_equal(s.allocs, k + 4);
  assert_int_equal(s.frees_local, k);
  assert_int_equal(s.frees_remote, 4);
  assert_int_equal(s.drains, 1);
  assert_int_equal(s.drained_blocks, 3);
  assert_int_equal(s.ss_allocated, 2);
  assert_int_equal(s.slabs_orphaned, 1);

  /* A exits: its slab is empty, so it is released, and nothing is cached.
   * Trim then believes the counters: A's SuperSlab is empty in truth, but
   * only a correct counter lets trim see it. */
  runner_call(ta, batch_detach, a);
  runner_exit(ta);
  hak_trim_report r;
  assert_int_equal(hak_trim(a, &r, NULL, 0), v->trimmed);
  assert_int_equal(r.scanned, 2);
  assert_int_equal(r.skipped_nonempty, 2 - v->trimmed);
  assert_int_equal(r.skipped_cached, 0);
  hak_get_stats(a, &s);
  assert_int_equal(s.ss_live, 2 - v->trimmed);
  free(slots);
  hak_destroy(a);
}

static void test_accounting_none(void **state) {
  (void)state;
  /* The seed's bug: remote frees never reach the counter. A's SuperSlab
   * is left reading 3 with no live block, B's reading 1: trim frees none. */
  const variant_expect v = {"none", {0, -2, -2, 0, 1}, 3, 1, 0};
  run_sequence(&v);
}

static void test_accounting_push(void **state) {
  (void)state;
  /* Option A: every remote free decrements at the push; both SuperSlabs
   * reach 0 and trim frees both. */
  const variant_expect v = {"push", {0, -2, -5, -3, -2}, 0, 0, 2};
  run_sequence(&v);
}

static void test_accounting_drain(void **state) {
  (void)state;
  /* Decrement at drain: A's SuperSlab catches up when A drains (step 5);
   * B's block is never drained (B is dead, policy leave), so B's
   * SuperSlab reads 1 forever and only A's is trimmed. */
  const variant_expect v = {"drain", {0, -2, -2, 0, -2}, 0, 1, 1};
  run_sequence(&v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_accounting_none),
      cmocka_unit_test(test_accounting_push),
      cmocka_unit_test(test_accounting_drain),
  };
  return cmocka_run_group_tests_name("allocator.accounting", tests, NULL, NULL);
}
