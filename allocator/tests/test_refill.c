/* test_refill.c: where a new thread gets its slabs, with exact SuperSlab
 * counts: fresh maps one SuperSlab per class it touches, reuse takes free
 * slabs of existing SuperSlabs, adopt takes over a dead thread's slab. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_refill_fresh_maps_per_class_per_thread),
      cmocka_unit_test(test_refill_reuse_takes_existing_room),
      cmocka_unit_test(test_refill_adopt_takes_dead_threads_slab),
      cmocka_unit_test(test_refill_reuse_without_adopt_leaves_orphans),
      cmocka_unit_test(test_refill_fresh_reuses_wholly_empty_superslab),
  };
  return cmocka_run_group_tests_name("allocator.refill", tests, NULL, NULL);
}
