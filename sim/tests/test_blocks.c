/* test_blocks.c: the block table (sim/src/blocks.c): ids bind to distinct
 * slots and unbind to the same ones, unknown ids are refused, slot
 * addresses survive growth, and under churn (the generators reuse ids,
 * recorded traces never do) memory stays bounded by the live set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "internal.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void test_blocks_bind_unbind_roundtrip(void **state) {
  (void)state;
  hr_blocks b;
  assert_int_equal(hr_blocks_init(&b), 0);
  enum { N = 5000 };
  static uint64_t ids[N];
  static uint32_t slots[N];
  uint8_t *seen = calloc(N, 1);
  for (int i = 0; i < N; i++) {
    /* small, huge and the extremes the format allows */
    ids[i] = i == 0 ? 0 : i == 1 ? (uint64_t)INT64_MAX : (next_rand() >> (i % 3 ? 1 : 40)) ^ i;
    assert_int_equal(hr_blocks_bind(&b, ids[i], &slots[i]), 0);
    assert_true(slots[i] < N);
    assert_int_equal(seen[slots[i]], 0); /* distinct among live ids */
    seen[slots[i]] = 1;
  }
  for (int i = N; i-- > 0;) {
    uint32_t s;
    assert_int_equal(hr_blocks_unbind(&b, ids[i], &s), 0);
    assert_int_equal(s, slots[i]);
    assert_int_equal(hr_blocks_unbind(&b, ids[i], &s), -1); /* no longer live */
  }
  free(seen);
  hr_blocks_free(&b);
}

/* An id bound in the map before the flat array grew to cover it is
 * found after the growth (it moved). */
static void test_blocks_ids_move_into_the_array(void **state) {
  (void)state;
  hr_blocks b;
  assert_int_equal(hr_blocks_init(&b), 0);
  uint32_t big, s;
  assert_int_equal(hr_blocks_bind(&b, 5000000, &big), 0); /* beyond the array's bound: the map */
  assert_int_equal(b.map_used, 1);
  for (uint64_t id = 0; id < 400000; id++) assert_int_equal(hr_blocks_bind(&b, id * 13, &s), 0);
  assert_true(b.direct_cap > 5000000); /* grew with the live ids, past the first */
  assert_int_equal(b.map_used, 0);
  assert_int_equal(hr_blocks_unbind(&b, 5000000, &s), 0);
  assert_int_equal(s, big);
  assert_int_equal(hr_blocks_unbind(&b, 5000000, &s), -1);
  hr_blocks_free(&b);
}

static void test_blocks_unknown_id_refused(void **state) {
  (void)state;
  hr_blocks b;
  assert_int_equal(hr_blocks_init(&b), 0);
  uint32_t s;
  assert_int_equal(hr_blocks_unbind(&b, 7, &s), -1);
  assert_int_equal(hr_blocks_bind(&b, 7, &s), 0);
  assert_int_equal(hr_blocks_unbind(&b, 8, &s), -1);
  assert_int_equal(hr_blocks_unbind(&b, 7, &s), 0);
  hr_blocks_free(&b);
}

static void test_blocks_slot_addresses_stable(void **state) {
  (void)state;
  hr_blocks b;
  assert_int_equal(hr_blocks_init(&b), 0);
  uint32_t first;
  assert_int_equal(hr_blocks_bind(&b, 1, &first), 0);
  hr_block *p = hr_block_at(&b, first);
  p->size = 12345;
  for (uint64_t id = 2; id < 300000; id++) { /* several chunks, many map growths */
    uint32_t s;
    assert_int_equal(hr_blocks_bind(&b, id, &s), 0);
  }
  assert_ptr_equal(hr_block_at(&b, first), p);
  assert_int_equal(p->size, 12345);
  hr_blocks_free(&b);
}

/* Recycled slots are reused before new ones, and the map drops the
 * tombstones of dead ids, so churn over ever new ids (a recorded trace)
 * and over reused ids (Larson) both stay within the live set. */
static void test_blocks_churn_bounded_by_live_set(void **state) {
  (void)state;
  enum { LIVE = 4096 };
  for (int fresh_ids = 0; fresh_ids < 2; fresh_ids++) {
    hr_blocks b;
    assert_int_equal(hr_blocks_init(&b), 0);
    static uint64_t live[LIVE];
    uint64_t next_id = 0;
    for (int i = 0; i < LIVE; i++) {
      uint32_t s;
      live[i] = next_id++;
      assert_int_equal(hr_blocks_bind(&b, live[i], &s), 0);
    }
    for (int op = 0; op < 2000000; op++) {
      int k = (int)(next_rand() % LIVE);
      uint32_t s;
      assert_int_equal(hr_blocks_unbind(&b, live[k], &s), 0);
      assert_int_equal(hr_blocks_recycle(&b, s), 0);
      live[k] = fresh_ids ? next_id++ : live[k];
      assert_int_equal(hr_blocks_bind(&b, live[k], &s), 0);
      assert_true(s < LIVE);
    }
    assert_true(b.next <= LIVE);
    assert_true(b.map_cap <= 4 * LIVE);
    assert_true(b.direct_cap <= 2 * 16 * LIVE); /* HR_DIRECT_SLACK per live id, doubled */
    assert_int_equal(b.map_used + b.direct_used, LIVE);
    hr_blocks_free(&b);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_blocks_bind_unbind_roundtrip),
      cmocka_unit_test(test_blocks_unknown_id_refused),
      cmocka_unit_test(test_blocks_ids_move_into_the_array),
      cmocka_unit_test(test_blocks_slot_addresses_stable),
      cmocka_unit_test(test_blocks_churn_bounded_by_live_set),
  };
  return cmocka_run_group_tests_name("sim.blocks", tests, NULL, NULL);
}
