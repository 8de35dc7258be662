/* alloc.c: the malloc family of one instance. The fast paths:
 *   allocation - pop the current slab's free list, else bump-carve the
 *                next block, else refill (refill.c); then count the block
 *                in total_active_blocks (the slab owner's part of it);
 *   free       - registry lookup (a foreign pointer is refused without being
 *                read), then a local push onto the slab's free list if the
 *                caller owns the slab, else ss_remote_push.
 * A local free decrements total_active_blocks as its last access to the
 * SuperSlab (see internal.h for why trim depends on that). Neither path
 * takes an atomic read-modify-write: the counter's owner part is a plain
 * store (hak_slab_active_add).
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

static inline void *alloc_small(hak_allocator *a, hak_tcache *tc, uint32_t c) {
  hak_class_cache *cc = &tc->cls[c];
  hak_slab *slab = cc->slab;
  void *p;
  for (;;) {
    if (HAK_LIKELY(slab != NULL)) {
      p = slab->free_list;
      if (HAK_LIKELY(p != NULL)) {
        slab->free_list = *(void **)p;
        slab->free_count--;
        break;
      }
      if (slab->carved < slab->capacity) {
        p = slab->data + (size_t)slab->carved * cc->ss->block_size;
        if (++slab->carved > slab->touched) {
          slab->touched = slab->carved;
          atomic_fetch_add_explicit(&cc->ss->touched_blocks, 1, memory_order_relaxed);
        }
        break;
      }
    }
    slab = hak_refill(a, tc, c);
    if (!slab) return NULL;
  }
  atomic_store_explicit(&slab->used, atomic_load_explicit(&slab->used, memory_order_relaxed) + 1,
                        memory_order_relaxed);
  hak_slab_active_add(cc->ss, slab->index, 1);
  hak_tstat_add(&tc->stats.allocs, 1);
  return p;
}

void *hak_malloc(hak_allocator *a, size_t size) {
  if (HAK_UNLIKELY(size > a->class_max)) return hak_large_alloc(a, size, 0);
  hak_tcache *tc = hak_tcache_get(a);
  if (HAK_UNLIKELY(!tc)) {
    errno = ENOMEM;
    return NULL;
  }
  return alloc_small(a, tc, a->size_to_class[(size + 7) / 8]);
}

void *hak_calloc(hak_allocator *a, size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  void *p = hak_malloc(a, total);
  if (p) memset(p, 0, total);
  return p;
}

/* Alignment every block of class c is guaranteed (see superslab.c layout). */
static size_t class_align(const hak_allocator *a, uint32_t c) {
  uint32_t bs = a->classes[c].block_size;
  if ((bs & (bs - 1)) == 0) return bs < 4096 ? bs : 4096;
  uint32_t low = bs & -bs;
  return low < 16 ? low : 16;
}

void *hak_memalign(hak_allocator *a, size_t align, size_t size) {
  if (align == 0 || (align & (align - 1)) != 0) {
    errno = EINVAL;
    return NULL;
  }
  if (size <= a->class_max) {
    hak_tcache *tc = NULL;
    for (uint32_t c = a->size_to_class[(size + 7) / 8]; c < a->class_count; c++) {
      if (class_align(a, c) < align) continue;
      if (!tc && !(tc = hak_tcache_get(a))) break;
      return alloc_small(a, tc, c);
    }
  }
  return hak_large_alloc(a, size, align);
}

int hak_free(hak_allocator *a, void *p) {
  if (!p) return 0;
  hak_superslab *ss = hak_registry_lookup(a, p);
  if (HAK_UNLIKELY(!ss)) return hak_large_free(a, p) ? 0 : -HAK_EINVAL;
  hak_slab *slab = hak_slab_of(a, ss, p);
  /* Only block starts are valid: a pointer into the header or into the
   * middle of a block is refused, untouched. */
  uintptr_t off = (uintptr_t)p - (uintptr_t)slab->data;
  uint32_t shift = a->classes[ss->class_idx].shift;
  if (HAK_UNLIKELY((char *)p < slab->data)) return -HAK_EINVAL;
  uintptr_t idx = shift ? off >> shift : off / ss->block_size;
  if (HAK_UNLIKELY(idx * ss->block_size != off || idx >= slab->capacity)) return -HAK_EINVAL;
  hak_tcache *tc = hak_tcache_for_free(a);
  if (tc && atomic_load_explicit(&slab->owner_tid, memory_order_relaxed) == tc->tid) {
    *(void **)p = slab->free_list;
    slab->free_list = p;
    slab->free_count++;
    atomic_store_explicit(&slab->used,
                          atomic_load_explicit(&slab->used, memory_order_relaxed) - 1,
                          memory_order_relaxed);
    hak_tstat_add(&tc->stats.frees_local, 1);
    hak_slab_active_add(ss, slab->index, -1);
  } else {
    hak_ss_remote_push(a, ss, slab, p, tc);
  }
  return 0;
}

size_t hak_usable_size(hak_allocator *a, const void *p) {
  if (!p) return 0;
  hak_superslab *ss = hak_registry_lookup(a, p);
  if (ss) return ss->block_size;
  return hak_large_usable(a, p);
}

bool hak_owns(hak_allocator *a, const void *p) { return hak_registry_lookup(a, p) != NULL; }

void *hak_realloc(hak_allocator *a, void *p, size_t size) {
  if (!p) return hak_malloc(a, size);
  if (size == 0) {
    hak_free(a, p);
    return NULL;
  }
  size_t old = hak_usable_size(a, p);
  if (old == 0) {
    errno = EINVAL;
    return NULL;
  }
  /* Keep the block when it fits and would not move to a smaller class. */
  if (size <= old && (size > a->class_max || hak_size_class(a, size) == hak_size_class(a, old)))
    return p;
  void *q = hak_malloc(a, size);
  if (!q) return NULL;
  memcpy(q, p, old < size ? old : size);
  hak_free(a, p);
  return q;
}
