/* test_backing.c: the memory behind the allocator: anonymous SuperSlabs,
 * or (compaction=mesh) shared mappings of one memfd per instance; resident
 * bytes measured with mincore() (hak_resident_bytes) against a known live
 * set; the instance's own count of kernel mappings and its peak. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../src/internal.h"
#include "testutil.h"

#define MIB (1024u * 1024u)

/* 80 MiB in 4 KiB blocks, every byte written, reads about 80 MiB resident:
 * each block is one page of its own (4 KiB blocks are page-aligned), so
 * the rest is one header page per SuperSlab and the metadata. Freed,
 * detached and trimmed, the SuperSlabs' pages are gone. */
static void resident_live_set(const char *const *settings) {
  hak_allocator *a = make_alloc(settings, 0);
  uint64_t empty = hak_resident_bytes(a);
  enum { N = 80 * 256 };
  void **blk = calloc(N, sizeof *blk);
  assert_non_null(blk);
  for (int i = 0; i < N; i++) {
    blk[i] = hak_malloc(a, 4096);
    assert_non_null(blk[i]);
    memset(blk[i], 0x5a, 4096);
  }
  uint64_t full = hak_resident_bytes(a);
  hak_stats st;
  hak_get_stats(a, &st);
  uint64_t headers = st.ss_live * hak_page_size();
  assert_true(full >= empty + 80ull * MIB + headers);
  assert_true(full <= empty + 80ull * MIB + headers + 1 * MIB);
  for (int i = 0; i < N; i++) assert_int_equal(hak_free(a, blk[i]), 0);
  hak_thread_detach(a);
  hak_trim(a, NULL, NULL, 0);
  hak_get_stats(a, &st);
  assert_int_equal(st.ss_live, 0);
  assert_true(hak_resident_bytes(a) <= empty + 64 * 1024);
  free(blk);
  hak_destroy(a);
}

static void test_backing_resident_bytes_anonymous(void **state) {
  (void)state;
  resident_live_set((const char *[]){"preset=phase1", "empty_reserve=0", NULL});
}

/* The same under compaction=mesh: mincore() of a memfd mapping reports
 * the file's pages, and unmapping a SuperSlab punches its file range. */
static void test_backing_resident_bytes_memfd(void **state) {
  (void)state;
  resident_live_set((const char *[]){"preset=phase1", "empty_reserve=0", "compaction=mesh", NULL});
}

/* compaction=mesh: each SuperSlab is one shared mapping of the instance's
 * memfd at its own offset, naturally aligned; the offsets of unmapped
 * SuperSlabs are reused (the file does not grow with every mapping), and
 * hak_destroy gives back every mapping (and the file). Without it, the
 * SuperSlabs are private anonymous mappings, as always. */
static void test_backing_memfd_superslabs(void **state) {
  (void)state;
  (void)proc_map_count();
  long before = proc_map_count();
  hak_allocator *a = make_alloc(
      (const char *[]){"preset=phase1", "empty_reserve=0", "compaction=mesh", NULL}, 0);
  assert_true(a->backing.fd >= 0);
  for (int round = 0; round < 8; round++) {
    void *p = hak_malloc(a, 256), *q = hak_malloc(a, 4096);
    memset(p, 1, 256);
    memset(q, 2, 4096);
    hak_ss_info ip = ss_info(a, p), iq = ss_info(a, q);
    assert_int_equal(ip.base % (2u << 20), 0);
    assert_int_equal(proc_maps_within(ip.base, 2u << 20), 1);
    char perms[5];
    proc_maps_perms(ip.base, perms);
    assert_string_equal(perms, "rw-s");
    assert_int_equal(proc_maps_within(iq.base, 2u << 20), 1);
    hak_free(a, p);
    hak_free(a, q);
    hak_thread_detach(a);
    assert_int_equal(hak_trim(a, NULL, NULL, 0), 2);
  }
  assert_int_equal(a->backing.next_slot, 2); /* two slots, reused every round */
  assert_int_equal(a->backing.nfree, 2);
  hak_destroy(a);
#ifndef SANITIZED
  assert_int_equal(proc_map_count(), before);
#else
  (void)before;
#endif

  a = make_alloc(NULL, 0);
  assert_int_equal(a->backing.fd, -1);
  void *p = hak_malloc(a, 256);
  char perms[5];
  proc_maps_perms((uintptr_t)p, perms);
  assert_string_equal(perms, "rw-p");
  hak_free(a, p);
  hak_destroy(a);
  /* no_mesh (libhakmem.so): compaction=mesh without the memfd. */
  hak_config cfg;
  char err[256];
  hak_config_default(&cfg);
  assert_int_equal(hak_config_set_kv(&cfg, "compaction=mesh", err, sizeof err), 0);
  hak_create_opts opts = {.no_trim_thread = true, .no_mesh = true};
  assert_int_equal(hak_create(&cfg, &opts, &a, err, sizeof err), 0);
  assert_int_equal(a->backing.fd, -1);
  hak_destroy(a);
}

/* The instance counts its mappings (and their peak) itself: SuperSlabs,
 * the registry, tables, thread caches, large objects. */
static void test_backing_mapping_counts(void **state) {
  (void)state;
  hak_allocator *a = make_alloc((const char *[]){"preset=phase1", "empty_reserve=0", NULL}, 0);
  hak_stats st;
  hak_get_stats(a, &st);
  uint64_t base = st.mappings;
  assert_int_equal(base, hak_live_mappings(a));
  assert_int_equal(st.ss_mappings, 0);
  void *small = hak_malloc(a, 16); /* a SuperSlab, and a thread cache chunk */
  void *big = hak_malloc(a, 1 * MIB); /* its mapping, and the large table's */
  hak_get_stats(a, &st);
  assert_int_equal(st.mappings, base + 4);
  assert_int_equal(st.ss_mappings, 1);
  assert_int_equal(st.peak_ss_mappings, 1);
  hak_free(a, small);
  hak_free(a, big); /* into the large cache: still mapped */
  hak_thread_detach(a);
  /* The first pass maps its scratch list of freed ids (kept), unmaps the
   * SuperSlab and ages the cached mapping; the second unmaps that. */
  hak_trim(a, NULL, NULL, 0);
  hak_trim(a, NULL, NULL, 0);
  hak_get_stats(a, &st);
  assert_int_equal(st.mappings, base + 3);
  assert_int_equal(st.peak_mappings, base + 5);
  assert_int_equal(st.ss_mappings, 0);
  assert_int_equal(st.peak_ss_mappings, 1);
  hak_destroy(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_backing_resident_bytes_anonymous),
      cmocka_unit_test(test_backing_resident_bytes_memfd),
      cmocka_unit_test(test_backing_memfd_superslabs),
      cmocka_unit_test(test_backing_mapping_counts),
  };
  return cmocka_run_group_tests_name("allocator.backing", tests, NULL, NULL);
}
