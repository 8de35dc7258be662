/* fast.h: the allocation and free fast paths, inline so that both the
 * core's exported functions (alloc.c) and libhakmem.so's malloc and free
 * (preload.c) run them without a call. Everything they do not finish goes
 * to one out-of-line slow function each, called in tail position, so the
 * fast paths need no stack frame.
 *
 *   malloc: a size of a class, the thread's cache from the one-entry TLS
 *           cache, the block its free cache holds (freed last, so warm),
 *           else the current slab's first free block; the link it reads
 *           checked (hak_fc_link_ok, hak_link_ok); popped;
 *   free:   the registry bit, the block's slab, an exact block-start check
 *           (hak_is_block_offset), the caller owns the slab: pushed on the
 *           free cache unless it is full, the block is its head (a double
 *           free) or the slab would empty away from the current one.
 */
#ifndef HAK_FAST_H
#define HAK_FAST_H

#include "internal.h"

/* alloc.c: everything the fast paths leave (large sizes, a thread not yet
 * attached, an empty free list, remote frees, bad and foreign pointers). */
void *hak_malloc_slow(hak_allocator *a, size_t size);
int hak_free_slow(hak_allocator *a, void *p);
/* A block start of another thread's slab (not strict, tc attached). */
int hak_free_remote(hak_allocator *a, hak_tcache *tc, hak_superslab *ss, hak_slab *slab,
                    void *p);
/* After a local push by tc into a slab that was full or became empty. */
int hak_free_local_slow(hak_allocator *a, hak_tcache *tc, hak_slab *slab, uint32_t used);

static inline void *hak_malloc_fast(hak_allocator *a, size_t size) {
  if (HAK_LIKELY(size <= a->class_max) && HAK_LIKELY(hak_tl_last.instance_id == a->instance_id)) {
    hak_tcache *tc = hak_tl_last.tc;
    hak_class_cache *cc = &tc->cls[a->size_to_class[(size + 7) >> 3]];
    void *p = cc->fc_head, *next;
    if (p) {
      /* The block freed last (its lines are warm). */
      if (HAK_UNLIKELY(!hak_fc_link_ok(next = hak_fc_get(a, p)))) return hak_malloc_slow(a, size);
      cc->fc_head = next;
      cc->fc_count--;
      hak_superslab *ss = hak_ss_base(a, p);
      hak_slab *slab = hak_slab_of(ss, p);
      *(uintptr_t *)p = 0; /* no valid link: a second appearance on a list shows */
      atomic_store_explicit(&slab->used,
                            atomic_load_explicit(&slab->used, memory_order_relaxed) + 1,
                            memory_order_relaxed);
      hak_tstat_add(&tc->stats.allocs, 1);
      return p;
    }
    hak_slab *slab = cc->slab;
    p = slab->free_list;
    if (HAK_LIKELY(p != NULL)) {
      next = hak_link_get(a, p);
      if (HAK_LIKELY(hak_link_ok(a, p, next))) {
        /* The next allocation reads that block's link: start the miss now. */
        __builtin_prefetch(next, 1);
        slab->free_list = next;
        *(uintptr_t *)p = 0;
        atomic_store_explicit(&slab->used,
                              atomic_load_explicit(&slab->used, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        hak_tstat_add(&tc->stats.allocs, 1);
        return p;
      }
    }
  }
  return hak_malloc_slow(a, size);
}

static inline int hak_free_fast(hak_allocator *a, void *p) {
  if (HAK_LIKELY(hak_registry_has(a, p)) && /* false for NULL too */
      HAK_LIKELY(hak_tl_last.fast_free_id == a->instance_id)) {
    hak_superslab *ss = hak_ss_base(a, p);
    hak_slab *slab = hak_slab_of(ss, p);
    uintptr_t off = (uintptr_t)p - (uintptr_t)slab->data;
    if (HAK_LIKELY(off < slab->span) && HAK_LIKELY(hak_is_block_offset(ss, off))) {
      if (HAK_UNLIKELY(atomic_load_explicit(&slab->owner_tid, memory_order_relaxed) !=
                       hak_tl_last.tid))
        return hak_free_remote(a, hak_tl_last.tc, ss, slab, p);
      hak_tcache *tc = hak_tl_last.tc;
      hak_class_cache *cc = &tc->cls[ss->class_idx];
      uint32_t used = atomic_load_explicit(&slab->used, memory_order_relaxed) - 1;
      /* Into the free cache, unless it is full, p is its head (a double
       * free) or the slab empties away from the current one (released). */
      if (HAK_LIKELY(cc->fc_count < cc->fc_cap) && HAK_LIKELY(p != cc->fc_head) &&
          HAK_LIKELY(used != 0 || slab->queue == HAK_Q_CURRENT)) {
        hak_fc_set(a, p, cc->fc_head);
        cc->fc_head = p;
        cc->fc_count++;
        atomic_store_explicit(&slab->used, used, memory_order_release);
        hak_tstat_add(&tc->stats.frees_local, 1);
        return 0;
      }
    }
  }
  return hak_free_slow(a, p);
}

#endif
