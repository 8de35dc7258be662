/* test_large.c: the large-object path and its cache of freed mappings. A
 * free/malloc pair of one large size costs no system call (the mapping
 * count does not move), calloc of a reused mapping is zeroed, the cache
 * keeps to its budget, and trim passes return idle mappings to the kernel
 * (two passes: one to age, one to release). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "testutil.h"

static hak_stats stats(hak_allocator *a) {
  hak_stats s;
  hak_get_stats(a, &s);
  return s;
}

static void test_large_pair_reuses_mapping(void **state) {
  (void)state;
  hak_allocator *a = make_alloc(NULL, 0);
  void *p = hak_malloc(a, 100000);
  memset(p, 0xab, 100000);
  uint64_t maps = hak_live_mappings(a);
  for (int i = 0; i < 100; i++) {
    assert_int_equal(hak_free(a, p), 0);
    void *q = hak_malloc(a, 100000);
    assert_ptr_equal(q, p);
    assert_int_equal(hak_live_mappings(a), maps); /* no munmap, no mmap */
  }
  hak_stats s = stats(a);
  assert_int_equal(s.large_allocs, 101);
  assert_int_equal(s.large_cache_hits, 100);
  assert_int_equal(s.large_cached_bytes, 0);
  /* A request within a quarter below the cached size takes it; a much
   * smaller one maps anew. */
  assert_int_equal(hak_free(a, p), 0);
  assert_int_equal(stats(a).large_cached_bytes, 102400);
  void *near = hak_malloc(a, 90000);
  assert_ptr_equal(near, p);
  assert_true(hak_usable_size(a, near) >= 100000);
  assert_int_equal(hak_free(a, near), 0);
  void *small = hak_malloc(a, 40000);
  assert_ptr_not_equal(small, p);
  assert_int_equal(hak_free(a, small), 0);
  hak_destroy(a);
}

static void test_large_calloc_of_reused_mapping_is_zero(void **state) {
  (void)state;
  hak_allocator *a = make_alloc(NULL, 0);
  unsigned char *p = hak_malloc(a, 70000);
  memset(p, 0xff, 70000);
  assert_int_equal(hak_free(a, p), 0);
  unsigned char *z = hak_calloc(a, 7, 10000);
  assert_ptr_equal(z, p);
  for (size_t i = 0; i < 70000; i++)
    if (z[i]) fail_msg("byte %zu of a reused mapping is %u after calloc", i, z[i]);
  assert_int_equal(hak_free(a, z), 0);
  hak_destroy(a);
}

static void test_large_trim_ages_then_releases(void **state) {
  (void)state;
  hak_allocator *a = make_alloc((const char *[]){"preset=phase1", NULL}, 0);
  void *p = hak_malloc(a, 300000);
  uint64_t maps = hak_live_mappings(a);
  assert_int_equal(hak_free(a, p), 0);
  assert_int_equal(hak_live_mappings(a), maps);
  hak_trim(a, NULL, NULL, 0); /* ages it */
  assert_int_equal(stats(a).large_cached_bytes, 303104);
  assert_int_equal(hak_live_mappings(a), maps);
  hak_trim(a, NULL, NULL, 0); /* releases it */
  assert_int_equal(stats(a).large_cached_bytes, 0);
  assert_int_equal(hak_live_mappings(a), maps - 1);
  /* A mapping reused between two passes starts its ageing again. */
  p = hak_malloc(a, 300000);
  assert_int_equal(hak_free(a, p), 0);
  hak_trim(a, NULL, NULL, 0);
  void *q = hak_malloc(a, 300000);
  assert_ptr_equal(q, p);
  assert_int_equal(hak_free(a, q), 0);
  hak_trim(a, NULL, NULL, 0);
  assert_int_equal(stats(a).large_cached_bytes, 303104);
  hak_destroy(a);
}

static void test_large_cache_budget(void **state) {
  (void)state;
  /* 1 MiB: two 600 KiB mappings do not both fit; the older goes. */
  hak_allocator *a = make_alloc((const char *[]){"large_cache_mb=1", NULL}, 0);
  void *p = hak_malloc(a, 600 * 1024), *q = hak_malloc(a, 600 * 1024);
  uint64_t maps = hak_live_mappings(a);
  assert_int_equal(hak_free(a, p), 0);
  assert_int_equal(hak_free(a, q), 0);
  assert_int_equal(stats(a).large_cached_bytes, 600 * 1024);
  assert_int_equal(hak_live_mappings(a), maps - 1);
  assert_ptr_equal(hak_malloc(a, 600 * 1024), q);
  /* A mapping larger than the whole budget is never kept. */
  void *huge = hak_malloc(a, 2u << 20);
  maps = hak_live_mappings(a);
  assert_int_equal(hak_free(a, huge), 0);
  assert_int_equal(hak_live_mappings(a), maps - 1);
  hak_destroy(a);

  /* large_cache_mb=0: every free unmaps at once. */
  a = make_alloc((const char *[]){"large_cache_mb=0", NULL}, 0);
  p = hak_malloc(a, 100000);
  maps = hak_live_mappings(a);
  assert_int_equal(hak_free(a, p), 0);
  assert_int_equal(hak_live_mappings(a), maps - 1);
  assert_int_equal(stats(a).large_cached_bytes, 0);
  hak_destroy(a);

  /* At most HAK_LARGE_CACHE_SLOTS (64) mappings, whatever their size. */
  a = make_alloc(NULL, 0);
  void *many[80];
  for (int i = 0; i < 80; i++) many[i] = hak_malloc(a, 40000);
  for (int i = 0; i < 80; i++) assert_int_equal(hak_free(a, many[i]), 0);
  assert_int_equal(stats(a).large_cached_bytes, 64 * 40960);
  hak_destroy(a);
}

static void test_large_background_trim_releases_cache(void **state) {
  (void)state;
  hak_allocator *a =
      make_alloc((const char *[]){"preset=phase1", "idle_trim_ms=5", NULL}, 1);
  void *p = hak_malloc(a, 500000);
  assert_int_equal(hak_free(a, p), 0);
  for (int i = 0; i < 500 && stats(a).large_cached_bytes != 0; i++) {
    struct timespec ts = {0, 10 * 1000000L};
    nanosleep(&ts, NULL);
  }
  assert_int_equal(stats(a).large_cached_bytes, 0);
  hak_destroy(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_large_pair_reuses_mapping),
      cmocka_unit_test(test_large_calloc_of_reused_mapping_is_zero),
      cmocka_unit_test(test_large_trim_ages_then_releases),
      cmocka_unit_test(test_large_cache_budget),
      cmocka_unit_test(test_large_background_trim_releases_cache),
  };
  return cmocka_run_group_tests_name("allocator.large", tests, NULL, NULL);
}
