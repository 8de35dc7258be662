/* registry.c: which addresses are SuperSlabs of this instance.
 *
 * A two-level table indexed by address >> ss_lg: a top array of leaf
 * pointers and 2^14-entry leaves, both mapped lazily and read with atomic
 * loads, like mimalloc's segment map or jemalloc's rtree. A lookup masks
 * the pointer to its SuperSlab base and reads the table: a pointer the
 * allocator never handed out finds NULL without any read of the memory it
 * points to. Writes happen under map_lock; reads take no lock.
 */
#include <string.h>

#include "internal.h"

#define HAK_VA_BITS 48u

typedef _Atomic(hak_superslab *) reg_slot;

int hak_registry_init(hak_allocator *a) {
  hak_registry *r = &a->reg;
  r->shift = a->cfg.ss_lg;
  uint32_t index_bits = HAK_VA_BITS - r->shift;
  r->top_len = (size_t)1 << (index_bits > HAK_REG_LEAF_BITS ? index_bits - HAK_REG_LEAF_BITS : 0);
  r->top = hak_os_map(a, r->top_len * sizeof *r->top);
  return r->top ? 0 : -HAK_ENOMEM;
}

void hak_registry_destroy(hak_allocator *a) {
  hak_registry *r = &a->reg;
  if (!r->top) return;
  for (size_t i = 0; i < r->top_len; i++) {
    reg_slot *leaf = atomic_load_explicit(&r->top[i], memory_order_relaxed);
    if (leaf) hak_os_unmap(a, leaf, sizeof(reg_slot) << HAK_REG_LEAF_BITS);
  }
  hak_os_unmap(a, (void *)r->top, r->top_len * sizeof *r->top);
  r->top = NULL;
}

/* Caller holds map_lock. ss NULL removes the entry. */
int hak_registry_set(hak_allocator *a, uintptr_t base, hak_superslab *ss) {
  hak_registry *r = &a->reg;
  uintptr_t idx = base >> r->shift;
  size_t hi = idx >> HAK_REG_LEAF_BITS, lo = idx & ((1u << HAK_REG_LEAF_BITS) - 1);
  if (hi >= r->top_len) return -HAK_EINVAL;
  reg_slot *leaf = atomic_load_explicit(&r->top[hi], memory_order_relaxed);
  if (!leaf) {
    if (!ss) return 0;
    leaf = hak_os_map(a, sizeof(reg_slot) << HAK_REG_LEAF_BITS);
    if (!leaf) return -HAK_ENOMEM;
    atomic_store_explicit(&r->top[hi], leaf, memory_order_release);
  }
  atomic_store_explicit(&leaf[lo], ss, memory_order_release);
  return 0;
}

hak_superslab *hak_registry_lookup(const hak_allocator *a, const void *p) {
  const hak_registry *r = &a->reg;
  uintptr_t idx = (uintptr_t)p >> r->shift;
  size_t hi = idx >> HAK_REG_LEAF_BITS;
  if (HAK_UNLIKELY(hi >= r->top_len)) return NULL;
  reg_slot *leaf = atomic_load_explicit(&r->top[hi], memory_order_acquire);
  if (HAK_UNLIKELY(!leaf)) return NULL;
  return atomic_load_explicit(&leaf[idx & ((1u << HAK_REG_LEAF_BITS) - 1)],
                              memory_order_acquire);
}
