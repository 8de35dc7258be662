/* test_size_class.c: the size-class table, rounding, block alignment,
 * memalign, and foreign-pointer recognition. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "testutil.h"

static void test_size_class_default_table(void **state) {
  (void)state;
  hak_allocator *a = make_alloc(NULL, 0);
  /* HAKMEM's tiny classes, then four medium classes per doubling. */
  static const uint32_t want[] = {8,    16,    32,    64,    128,   256,   512,
                                  1024, 1280,  1536,  1792,  2048,  2560,  3072,
                                  3584, 4096,  5120,  6144,  7168,  8192,  10240,
                                  12288, 14336, 16384, 20480, 24576, 28672, 32768};
  enum { NC = sizeof want / sizeof *want };
  assert_int_equal(hak_class_count(a), NC);
  for (int c = 0; c < NC; c++) assert_int_equal(hak_class_size(a, c), want[c]);
  /* Internal waste of the medium classes stays under 25%. */
  for (int c = 8; c < NC; c++) assert_true((want[c] - want[c - 1]) * 4 <= want[c - 1]);
  assert_int_equal(hak_class_size(a, NC), 0);
  assert_int_equal(hak_class_size(a, -1), 0);
  hak_destroy(a);
}

static void test_size_class_rounding(void **state) {
  (void)state;
  hak_allocator *a = make_alloc(NULL, 0);
  /* The smallest class that holds the request, for every size 0..32 KiB. */
  for (size_t n = 0; n <= 32768; n++) {
    int c = hak_size_class(a, n);
    assert_true(c >= 0);
    assert_true(hak_class_size(a, c) >= n);
    if (c > 0) assert_true(hak_class_size(a, c - 1) < n);
  }
  assert_int_equal(hak_size_class(a, 0), 0);
  assert_int_equal(hak_size_class(a, 8), 0);
  assert_int_equal(hak_size_class(a, 9), 1);
  assert_int_equal(hak_size_class(a, 127), 4);
  assert_int_equal(hak_size_class(a, 128), 4);
  assert_int_equal(hak_size_class(a, 129), 5);
  assert_int_equal(hak_size_class(a, 1025), 8);
  assert_int_equal(hak_size_class(a, 32768), 27);
  assert_int_equal(hak_size_class(a, 32769), -1);
  /* Larson's 8..127 bytes span exactly the five classes 8..128. */
  for (size_t n = 8; n < 128; n++) assert_true(hak_size_class(a, n) <= 4);
  hak_destroy(a);
}

static void test_size_class_custom_table(void **state) {
  (void)state;
  hak_allocator *a = make_alloc((const char *[]){"size_classes=16,48,96,4096", NULL}, 0);
  assert_int_equal(hak_class_count(a), 4);
  assert_int_equal(hak_size_class(a, 17), 1);
  assert_int_equal(hak_size_class(a, 49), 2);
  assert_int_equal(hak_size_class(a, 97), 3);
  void *p = hak_malloc(a, 40);
  assert_int_equal(hak_usable_size(a, p), 48);
  assert_int_equal((uintptr_t)p % 16, 0);
  assert_int_equal(hak_free(a, p), 0);
  hak_destroy(a);
}

static void test_size_class_bad_tables_rejected(void **state) {
  (void)state;
  static const char *bad[] = {"", "7", "8,8", "16,8", "8,12", "8,", "8,,16", "x", "8;16",
                              "131072"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    hak_config cfg;
    char err[200] = "";
    hak_config_default(&cfg);
    assert_int_equal(hak_config_set(&cfg, "size_classes", bad[i], err, sizeof err), -HAK_EINVAL);
    assert_true(strlen(err) > 0);
  }
  /* The largest class allowed gets slabs big enough for it, at either
   * SuperSlab size. */
  hak_config cfg;
  char err[200];
  hak_config_default(&cfg);
  assert_int_equal(hak_config_set(&cfg, "size_classes", "8,65536", err, sizeof err), 0);
  assert_int_equal(hak_config_validate(&cfg, err, sizeof err), 0);
  assert_int_equal(hak_config_set(&cfg, "ss_lg", "20", err, sizeof err), 0);
  assert_int_equal(hak_config_validate(&cfg, err, sizeof err), 0);
}

/* Geometry: HAKMEM's tiny classes keep the slab_lg slab (64 KiB: 32 slabs
 * per 2 MiB SuperSlab); a medium class gets the smallest power-of-two slab
 * of at least 16 blocks, capped at half a SuperSlab. */
static void test_size_class_slab_geometry(void **state) {
  (void)state;
  hak_allocator *a = make_alloc(NULL, 0);
  static const struct { uint32_t size, nslabs, slab_kib; } want[] = {
      {8, 32, 64},     {1024, 32, 64},  {1280, 32, 64},  {4096, 32, 64},  {5120, 16, 128},
      {8192, 16, 128}, {10240, 8, 256}, {16384, 8, 256}, {20480, 4, 512}, {32768, 4, 512},
  };
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    void *p = hak_malloc(a, want[i].size);
    hak_ss_info info = ss_info(a, p);
    assert_int_equal(info.block_size, want[i].size);
    assert_int_equal(info.nslabs, want[i].nslabs);
    /* Slab 1 holds slab size / block size blocks exactly. */
    uint32_t per_slab = want[i].slab_kib * 1024u / want[i].size;
    assert_int_equal(info.capacity - slab_capacity(a, p), (info.nslabs - 1) * per_slab);
    if (want[i].size > 1024) assert_true(per_slab >= 16);
    /* hak_ss_id_of names the slab by the class's slab size, in every slab
     * (it once used slab_lg's 64 KiB: slab 2 of 512 KiB slabs read 16). */
    uint32_t n = info.capacity, idx, bs;
    void **blk = malloc((size_t)n * sizeof *blk);
    blk[0] = p;
    for (uint32_t k = 1; k < n; k++) blk[k] = hak_malloc(a, want[i].size);
    for (uint32_t k = 0; k < n; k++) {
      assert_int_equal(hak_ss_id_of(a, blk[k], &idx, &bs), info.id);
      assert_int_equal(idx, slab_index(a, blk[k]));
      assert_int_equal(bs, want[i].size);
    }
    assert_int_equal(slab_index(a, blk[n - 1]), info.nslabs - 1);
    for (uint32_t k = 0; k < n; k++) hak_free(a, blk[k]);
    free(blk);
  }
  hak_destroy(a);
}

static int cmp_ptr(const void *x, const void *y) {
  uintptr_t a = (uintptr_t) * (void *const *)x, b = (uintptr_t) * (void *const *)y;
  return (a > b) - (a < b);
}

/* Every block is aligned to its class size (powers of two, up to a page),
 * blocks never overlap, and each lies inside its SuperSlab past the header. */
static void test_size_class_alignment_of_every_block(void **state) {
  (void)state;
  hak_allocator *a = make_alloc(NULL, 0);
  enum { N = 3000 };
  void **ps = calloc(8 * N, sizeof *ps);
  for (int c = 0; c < 8; c++) {
    uint32_t bs = hak_class_size(a, c);
    for (int i = 0; i < N; i++) {
      void *p = hak_malloc(a, bs);
      assert_non_null(p);
      assert_int_equal((uintptr_t)p % bs, 0);
      hak_ss_info info = ss_info(a, p);
      assert_int_equal(info.class_idx, c);
      assert_true((uintptr_t)p >= info.base + hak_ss_header_bytes(a));
      assert_true((uintptr_t)p + bs <= info.base + ((uintptr_t)1 << info.lg));
      memset(p, 0xa5, bs);
      ps[c * N + i] = p;
    }
  }
  /* No two blocks overlap: sorted by address, each ends before the next. */
  qsort(ps, 8 * N, sizeof *ps, cmp_ptr);
  for (int i = 0; i + 1 < 8 * N; i++)
    assert_true((uintptr_t)ps[i] + hak_usable_size(a, ps[i]) <= (uintptr_t)ps[i + 1]);
  for (int i = 0; i < 8 * N; i++) assert_int_equal(hak_free(a, ps[i]), 0);
  free(ps);
  hak_destroy(a);
}

static void test_size_class_memalign(void **state) {
  (void)state;
  hak_allocator *a = make_alloc(NULL, 0);
  for (size_t align = 8; align <= 8192; align *= 2) {
    for (size_t size = 1; size <= 3000; size = size * 3 + 1) {
      void *p = hak_memalign(a, align, size);
      assert_non_null(p);
      assert_int_equal((uintptr_t)p % align, 0);
      assert_true(hak_usable_size(a, p) >= size);
      memset(p, 1, size);
      assert_int_equal(hak_free(a, p), 0);
    }
  }
  errno = 0;
  assert_null(hak_memalign(a, 24, 8));
  assert_int_equal(errno, EINVAL);
  assert_null(hak_memalign(a, 0, 8));
  hak_destroy(a);
}

/* Pointers the allocator never handed out are refused without being read. */
static void test_size_class_foreign_pointers(void **state) {
  (void)state;
  hak_allocator *a = make_alloc((const char *[]){"on_bad_free=count", NULL}, 0);
  void *p = hak_malloc(a, 16);
  hak_ss_info info = ss_info(a, p);
  int on_stack;
  void *heap = malloc(32);
  /* An unmapped page: reading it would crash the test. */
  void *gone = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(gone, 4096);
  void *foreign[] = {&on_stack, heap, gone, (void *)(uintptr_t)16, (void *)UINTPTR_MAX,
                     (char *)info.base + ((uintptr_t)1 << info.lg)};
  for (size_t i = 0; i < sizeof foreign / sizeof *foreign; i++) {
    assert_false(hak_owns(a, foreign[i]));
    assert_int_equal(hak_free(a, foreign[i]), -HAK_EINVAL);
    assert_int_equal(hak_usable_size(a, foreign[i]), 0);
  }
  /* Inside a SuperSlab but not a block start: the header is never a
   * block (refused as foreign), mid-block is a bad free. */
  assert_true(hak_owns(a, (void *)info.base));
  assert_int_equal(hak_free(a, (void *)info.base), -HAK_EINVAL);
  assert_int_equal(hak_free(a, (char *)p + 4), -HAK_EBADFREE);
  assert_int_equal(hak_free(a, NULL), 0);
  hak_stats st;
  hak_get_stats(a, &st);
  assert_int_equal(st.bad_frees, 1);
  /* Nothing was freed by the refusals. */
  assert_int_equal(ss_info(a, p).total_active_blocks, 1);
  assert_int_equal(hak_free(a, p), 0);
  free(heap);
  hak_destroy(a);
}

static void test_size_class_large_objects(void **state) {
  (void)state;
  hak_allocator *a = make_alloc((const char *[]){"on_bad_free=count", NULL}, 0);
  void *p = hak_malloc(a, 32769);
  assert_non_null(p);
  assert_false(hak_owns(a, p));
  assert_true(hak_usable_size(a, p) >= 32769);
  memset(p, 7, 32769);
  void *big = hak_malloc(a, 10u << 20);
  assert_non_null(big);
  hak_stats s;
  hak_get_stats(a, &s);
  assert_int_equal(s.large_allocs, 2);
  assert_int_equal(hak_free(a, p), 0);
  assert_int_equal(hak_free(a, big), 0);
  /* Already freed (its mapping waits in the cache): a double free. */
  assert_int_equal(hak_free(a, big), -HAK_EBADFREE);
  hak_get_stats(a, &s);
  assert_int_equal(s.large_frees, 2);
  assert_int_equal(s.bad_frees, 1);
  assert_int_equal(s.large_bytes_live, 0);
  hak_destroy(a);
}

static void test_size_class_calloc_realloc(void **state) {
  (void)state;
  hak_allocator *a = make_alloc(NULL, 0);
  unsigned char *p = hak_malloc(a, 64);
  memset(p, 0xff, 64);
  assert_int_equal(hak_free(a, p), 0);
  unsigned char *z = hak_calloc(a, 8, 8);
  assert_ptr_equal(z, p); /* the same block comes back, and is zeroed */
  for (int i = 0; i < 64; i++) assert_int_equal(z[i], 0);
  errno = 0;
  assert_null(hak_calloc(a, SIZE_MAX / 2, 3));
  assert_int_equal(errno, ENOMEM);
  for (int i = 0; i < 64; i++) z[i] = (unsigned char)i;
  unsigned char *same = hak_realloc(a, z, 40); /* still class 64 */
  assert_ptr_equal(same, z);
  unsigned char *grown = hak_realloc(a, same, 5000);
  for (int i = 0; i < 64; i++) assert_int_equal(grown[i], i);
  unsigned char *shrunk = hak_realloc(a, grown, 16);
  assert_true(hak_owns(a, shrunk));
  for (int i = 0; i < 16; i++) assert_int_equal(shrunk[i], i);
  assert_null(hak_realloc(a, shrunk, 0));
  void *fresh = hak_realloc(a, NULL, 24);
  assert_int_equal(hak_usable_size(a, fresh), 32);
  hak_free(a, fresh);
  hak_destroy(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_size_class_default_table),
      cmocka_unit_test(test_size_class_rounding),
      cmocka_unit_test(test_size_class_custom_table),
      cmocka_unit_test(test_size_class_bad_tables_rejected),
      cmocka_unit_test(test_size_class_slab_geometry),
      cmocka_unit_test(test_size_class_alignment_of_every_block),
      cmocka_unit_test(test_size_class_memalign),
      cmocka_unit_test(test_size_class_foreign_pointers),
      cmocka_unit_test(test_size_class_large_objects),
      cmocka_unit_test(test_size_class_calloc_realloc),
  };
  return cmocka_run_group_tests_name("allocator.size_class", tests, NULL, NULL);
}
