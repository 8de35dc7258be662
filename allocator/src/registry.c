/* registry.c: which addresses are SuperSlabs of this instance.
 *
 * One bit per naturally aligned 2^ss_lg range of the 48-bit address space
 * (16 MiB of bits for 2 MiB SuperSlabs), in a MAP_NORESERVE mapping the
 * kernel backs page by page as SuperSlabs appear. A lookup masks nothing
 * and reads nothing but the bit: a pointer the allocator never handed out
 * finds it clear without any read of the memory it points to, and a set
 * bit names the SuperSlab at the pointer's aligned base. One load, where
 * a two-level table (mimalloc's segment map, jemalloc's rtree) needs two.
 * Writes happen under map_lock; reads take no lock (hak_registry_lookup
 * in internal.h).
 */
#include <sys/mman.h>

#include "internal.h"

#define HAK_VA_BITS 48u

int hak_registry_init(hak_allocator *a) {
  hak_registry *r = &a->reg;
  r->shift = a->cfg.ss_lg;
  r->limit = (uintptr_t)1 << HAK_VA_BITS;
  r->bytes = ((size_t)1 << (HAK_VA_BITS - r->shift)) / 8;
  void *p = mmap(NULL, r->bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    r->bits = NULL;
    return -HAK_ENOMEM;
  }
  hak_mappings_add(a, 1);
  r->bits = p;
  return 0;
}

void hak_registry_destroy(hak_allocator *a) {
  hak_registry *r = &a->reg;
  if (!r->bits) return;
  hak_os_unmap(a, (void *)r->bits, r->bytes);
  r->bits = NULL;
}

/* Caller holds map_lock. */
int hak_registry_set(hak_allocator *a, uintptr_t base, bool present) {
  hak_registry *r = &a->reg;
  if (base >= r->limit) return -HAK_EINVAL;
  uintptr_t idx = base >> r->shift;
  uint64_t bit = (uint64_t)1 << (idx & 63);
  if (present) atomic_fetch_or_explicit(&r->bits[idx >> 6], bit, memory_order_release);
  else atomic_fetch_and_explicit(&r->bits[idx >> 6], ~bit, memory_order_release);
  return 0;
}
