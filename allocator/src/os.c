/* os.c: the operating-system layer. Every mapping the allocator makes
 * goes through here and is counted (with its peak), so an instance can
 * prove it gave every mapping back; residency is measured here too.
 *
 * Aligned mappings over-map by the alignment and unmap the excess head
 * and tail, leaving exactly one naturally aligned mapping (the seed's
 * "alloc_size = 2x" trick).
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

/* Racing first calls all store the same value: relaxed atomics suffice. */
size_t hak_page_size(void) {
  static _Atomic size_t ps;
  size_t v = atomic_load_explicit(&ps, memory_order_relaxed);
  if (!v) {
    v = (size_t)sysconf(_SC_PAGESIZE);
    atomic_store_explicit(&ps, v, memory_order_relaxed);
  }
  return v;
}

void hak_mappings_add(hak_allocator *a, int64_t n) {
  uint64_t now = atomic_fetch_add_explicit(&a->g.mappings, (uint64_t)n, memory_order_relaxed) +
                 (uint64_t)n;
  if (n > 0) hak_gstat_max(&a->g.peak_mappings, now);
}

void hak_ss_mappings_add(hak_allocator *a, int64_t n) {
  uint64_t now = atomic_fetch_add_explicit(&a->g.ss_mappings, (uint64_t)n, memory_order_relaxed) +
                 (uint64_t)n;
  if (n > 0) hak_gstat_max(&a->g.peak_ss_mappings, now);
}

uint64_t hak_os_resident(const void *p, size_t len) {
  enum { CHUNK = 1024 }; /* pages per mincore() call */
  unsigned char vec[CHUNK];
  size_t page = hak_page_size();
  uint64_t pages = 0;
  for (size_t off = 0; off < len; off += (size_t)CHUNK * page) {
    size_t n = len - off < (size_t)CHUNK * page ? len - off : (size_t)CHUNK * page;
    if (mincore((char *)p + off, n, vec) != 0) continue;
    for (size_t i = 0; i < (n + page - 1) / page; i++) pages += vec[i] & 1;
  }
  return pages * page;
}

void *hak_os_map(hak_allocator *a, size_t len) {
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
  hak_mappings_add(a, 1);
  return p;
}

void *hak_os_map_aligned(hak_allocator *a, size_t len, size_t align, void **base,
                         size_t *map_len) {
  size_t over = len + align;
  char *raw = mmap(NULL, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return NULL;
  uintptr_t start = ((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1);
  size_t head = start - (uintptr_t)raw;
  size_t tail = over - head - len;
  if (head) munmap(raw, head);
  if (tail) munmap((char *)start + len, tail);
  hak_mappings_add(a, 1);
  if (base) *base = (void *)start;
  if (map_len) *map_len = len;
  return (void *)start;
}

void hak_os_unmap(hak_allocator *a, void *p, size_t len) {
  if (!p) return;
  munmap(p, len);
  hak_mappings_add(a, -1);
}

uint64_t hak_live_mappings(const hak_allocator *a) {
  return atomic_load_explicit(&a->g.mappings, memory_order_relaxed);
}
