/* test_refill.c: where a new thread gets its slabs, with exact SuperSlab
 * counts: fresh maps one SuperSlab per class it touches, reuse takes free
 * slabs of existing SuperSlabs, adopt takes over a dead thread's slab; and
 * the order in which a slab's blocks are carved (slot_order). */
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

static const size_t sizes[3] = {16, 64, 128};

/* A thread that allocates one block of each of the three sizes and exits,
 * leaving the blocks live (like a Larson thread's survivors). */
static void thread_touching_three_classes(hak_allocator *a, void **out) {
  hak_runner *t = runner_start();
  for (int i = 0; i < 3; i++) {
    test_batch b = {a, out, i, i + 1, sizes[i]};
    runner_call(t, batch_alloc, &b);
  }
  runner_exit(t);
}

static uint64_t allocated(hak_allocator *a) {
  hak_stats s;
  hak_get_stats(a, &s);
  return s.ss_allocated;
}

static void test_refill_fresh_maps_per_class_per_thread(void **state) {
  (void)state;
  hak_allocator *a = make_alloc((const char *[]){"preset=phase1", NULL}, 0);
  void *mine[3];
  for (int i = 0; i < 3; i++) mine[i] = hak_malloc(a, sizes[i]);
  assert_int_equal(allocated(a), 3);
  for (int i = 0; i < 3; i++) assert_int_equal(ss_info(a, mine[i]).id, i + 1);
  /* Each generation maps three SuperSlabs although the main thread's
   * three have 31 untouched slabs each. */
  void *survivors[5][3];
  for (int g = 0; g < 5; g++) {
    thread_touching_three_classes(a, survivors[g]);
    assert_int_equal(allocated(a), 3 + 3 * (g + 1));
    for (int i = 0; i < 3; i++)
      assert_int_equal(ss_info(a, survivors[g][i]).id, 3 + 3 * g + i + 1);
  }
  hak_destroy(a);
}

static void test_refill_reuse_takes_existing_room(void **state) {
  (void)state;
  hak_allocator *a = make_alloc((const char *[]){"preset=reuse", NULL}, 0);
  void *mine[3];
  for (int i = 0; i < 3; i++) mine[i] = hak_malloc(a, sizes[i]);
  void *survivors[5][3];
  for (int g = 0; g < 5; g++) {
    thread_touching_three_classes(a, survivors[g]);
    /* Each new thread carves a free slab of the main thread's SuperSlabs. */
    assert_int_equal(allocated(a), 3);
    for (int i = 0; i < 3; i++) {
      assert_int_equal(ss_info(a, survivors[g][i]).id, ss_info(a, mine[i]).id);
      assert_int_equal(slab_index(a, survivors[g][i]), g + 1);
    }
  }
  hak_stats s;
  hak_get_stats(a, &s);
  assert_int_equal(s.slabs_carved, 3 * 6);
  assert_int_equal(s.slabs_orphaned, 3 * 5);
  hak_destroy(a);
}

static void test_refill_adopt_takes_dead_threads_slab(void **state) {
  (void)state;
  hak_allocator *a = make_alloc((const char *[]){"preset=adopt", NULL}, 0);
  void *mine[3];
  for (int i = 0; i < 3; i++) mine[i] = hak_malloc(a, sizes[i]);
  for (int i = 0; i < 3; i++) assert_int_equal(slab_index(a, mine[i]), 0);
  void *prev[3];
  thread_touching_three_classes(a, prev);
  for (int g = 0; g < 5; g++) {
    /* The main thread frees the previous generation's survivors (remote
     * frees into orphaned slabs); the next thread adopts those slabs. */
    for (int i = 0; i < 3; i++) hak_free(a, prev[i]);
    void *cur[3];
    uint32_t prev_slab[3];
    for (int i = 0; i < 3; i++) prev_slab[i] = slab_index(a, prev[i]);
    thread_touching_three_classes(a, cur);
    hak_stats s;
    hak_get_stats(a, &s);
    assert_int_equal(s.ss_allocated, 3);
    assert_int_equal(s.adoptions, 3 * (g + 1));
    assert_int_equal(s.drained_blocks, 3 * (g + 1));
    for (int i = 0; i < 3; i++) {
      assert_int_equal(slab_index(a, cur[i]), prev_slab[i]); /* the adopted slab */
      assert_ptr_equal(cur[i], prev[i]);                     /* its drained block */
      prev[i] = cur[i];
    }
  }
  hak_destroy(a);
}

static void test_refill_reuse_without_adopt_leaves_orphans(void **state) {
  (void)state;
  /* reuse + leave: the next thread takes a fresh slab, not the orphan,
   * whose remote frees stay pending. */
  hak_allocator *a = make_alloc((const char *[]){"preset=reuse", NULL}, 0);
  void *prev[3], *cur[3];
  thread_touching_three_classes(a, prev);
  for (int i = 0; i < 3; i++) hak_free(a, prev[i]);
  thread_touching_three_classes(a, cur);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(slab_index(a, cur[i]), slab_index(a, prev[i]) + 1);
    assert_int_equal(slab_remote_count(a, prev[i]), 1);
  }
  hak_stats s;
  hak_get_stats(a, &s);
  assert_int_equal(s.adoptions, 0);
  assert_int_equal(s.ss_allocated, 3);
  hak_destroy(a);
}

static void test_refill_fresh_reuses_wholly_empty_superslab(void **state) {
  (void)state;
  /* A thread that leaves nothing behind releases all its slabs; under
   * fresh the next thread takes that wholly empty SuperSlab (the reserve)
   * instead of mapping. */
  hak_allocator *a = make_alloc((const char *[]){"preset=phase1", NULL}, 0);
  hak_runner *t = runner_start();
  void *blk[1];
  test_batch b = {a, blk, 0, 1, 16};
  runner_call(t, batch_alloc, &b);
  uint32_t first = ss_info(a, blk[0]).id;
  runner_call(t, batch_free, &b);
  runner_exit(t);
  t = runner_start();
  runner_call(t, batch_alloc, &b);
  assert_int_equal(ss_info(a, blk[0]).id, first);
  runner_call(t, batch_free, &b);
  runner_exit(t);
  hak_stats s;
  hak_get_stats(a, &s);
  assert_int_equal(s.ss_allocated, 1);
  assert_int_equal(s.ss_reused, 1);
  hak_destroy(a);
}

/* The offsets (from the SuperSlab's base) of the first n blocks of size
 * bytes a fresh instance hands out, and the slab each lies in. */
static void first_offsets(const char *const *settings, size_t size, uint32_t n, uint32_t *off,
                          uint32_t *slab) {
  hak_allocator *a = make_alloc(settings, 0);
  for (uint32_t i = 0; i < n; i++) {
    void *p = hak_malloc(a, size);
    assert_non_null(p);
    hak_ss_info info = ss_info(a, p);
    off[i] = (uint32_t)((uintptr_t)p - info.base);
    slab[i] = slab_index(a, p);
  }
  hak_destroy(a);
}

/* slot_order=random: a fresh slab's blocks come in no address order, each
 * of them once before the slab is full (and the next slab begins), the
 * whole slab counted touched at once; the same seed gives the same order,
 * another seed another. bump: address order. */
static void test_refill_slot_order_random(void **state) {
  (void)state;
  enum { N = 4096 }; /* 64-byte blocks: slab 0 holds 978, the others 1024 */
  static uint32_t off[N], slab[N], again[N], other[N], bump[N], ignore[N];
  const char *random7[] = {"slot_order=random", "slot_seed=7", NULL};
  first_offsets(random7, 64, N, off, slab);
  uint32_t cap0 = 0;
  while (cap0 < N && slab[cap0] == 0) cap0++;
  assert_int_equal(cap0, (65536 - 2944) / 64);
  for (uint32_t i = cap0; i < cap0 + 1024; i++) assert_int_equal(slab[i], 1);
  /* Slab 0, then slab 1: every block once. */
  static uint8_t seen[2][1024];
  uint32_t ascending = 0;
  for (uint32_t i = 0; i < cap0 + 1024; i++) {
    uint32_t s = slab[i], base = s == 0 ? 2944 : 65536;
    uint32_t k = (off[i] - base) / 64;
    assert_int_equal((off[i] - base) % 64, 0);
    assert_true(k < (s == 0 ? cap0 : 1024));
    assert_int_equal(seen[s][k]++, 0);
    if (i && slab[i - 1] == s && off[i] == off[i - 1] + 64) ascending++;
  }
  assert_true(ascending < 16); /* not address order */
  first_offsets(random7, 64, N, again, ignore);
  assert_memory_equal(off, again, sizeof off);
  first_offsets((const char *[]){"slot_order=random", "slot_seed=8", NULL}, 64, N, other, ignore);
  assert_memory_not_equal(off, other, sizeof off);
  first_offsets(NULL, 64, N, bump, ignore);
  for (uint32_t i = 1; i < cap0; i++) assert_int_equal(bump[i], bump[i - 1] + 64);

  /* The whole slab counts as touched at its first block. */
  hak_allocator *a = make_alloc(random7, 0);
  void *p = hak_malloc(a, 64);
  assert_int_equal(ss_info(a, p).touched_bytes, 2944 + (uint64_t)cap0 * 64);
  hak_free(a, p);
  hak_destroy(a);
}

/* slab0=last: a thread's blocks start in slab 1 and go through slab 31
 * before slab 0 (the header's, which never meshes) is taken; the default
 * takes slab 0 first. 64 KiB of 64-byte blocks a slab: 31 slabs, then 0. */
static void test_refill_slab0_last(void **state) {
  (void)state;
  enum { PER = 1024, N = 31 * PER + 8 };
  static uint32_t off[N], slab[N];
  first_offsets((const char *[]){"slab0=last", NULL}, 64, N, off, slab);
  for (uint32_t i = 0; i < 31 * PER; i++) assert_int_equal(slab[i], 1 + i / PER);
  for (uint32_t i = 31 * PER; i < N; i++) assert_int_equal(slab[i], 0);
  assert_int_equal(off[0], 65536); /* bump order: slab 1's first block */
  first_offsets(NULL, 64, 8, off, slab);
  assert_int_equal(slab[0], 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_refill_fresh_maps_per_class_per_thread),
      cmocka_unit_test(test_refill_reuse_takes_existing_room),
      cmocka_unit_test(test_refill_adopt_takes_dead_threads_slab),
      cmocka_unit_test(test_refill_reuse_without_adopt_leaves_orphans),
      cmocka_unit_test(test_refill_fresh_reuses_wholly_empty_superslab),
      cmocka_unit_test(test_refill_slot_order_random),
      cmocka_unit_test(test_refill_slab0_last),
  };
  return cmocka_run_group_tests_name("allocator.refill", tests, NULL, NULL);
}
