/* alloc.c: the malloc family of one instance, and the checks on free.
 *
 * The fast paths, lock-free and without atomic read-modify-write:
 *   allocation - pop the current slab's free list, checking the link it
 *                reads (the owner part of the counter is the slab's
 *                `used`); everything else is hak_alloc_slow (refill.c);
 *   free       - registry bit (a foreign pointer is refused without being
 *                read), the block's slab from the address, an exact check
 *                that p is a block start, then a push onto the slab's free
 *                list if the caller owns the slab, else ss_remote_push. A
 *                local free into a slab that is not the current one may
 *                move it between the owner's queues or give it back when
 *                it empties.
 *
 * Double frees, without a read of the block on the local path (the read
 * would be a cache miss that stalls every free): a local free refuses the
 * block at the head of the list; a remote free (which writes the block
 * under a CAS anyway) refuses a block whose first word decodes to a valid
 * link; any other repeat puts a block on a list twice, and the link it
 * then holds is found invalid by the pop or drain that reads it, before
 * the block is handed out a second time. With strict_free every local free
 * also reads the block and walks the owner's lists to confirm.
 *
 * compaction=mesh: a block of a merged slab (an alias) is freed through
 * alias.c, which checks it against the alias's bitmap; a block of a slab
 * with aliases whose offset is live through one of them is a double free
 * (checked on the remote path and the strict local path).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fast.h"
#include "queue.h"

/* The thread's own pop (the fast path's, for callers with a class). */
/* The free cache's first block; NULL when empty or when its link shows a
 * block freed twice or written after its free (reported; under count the
 * cache is dropped: its blocks are free in every count, only leaked). */
static void *fc_pop(hak_allocator *a, hak_class_cache *cc, hak_slab **slab) {
  void *p = cc->fc_head;
  if (!p) return NULL;
  void *next = hak_fc_get(a, p);
  if (!hak_fc_link_ok(next)) {
    hak_bad_block(a, "malloc", p, "double free or write after free",
                  hak_ss_base(a, p)->block_size);
    cc->fc_head = NULL;
    cc->fc_count = 0;
    return NULL;
  }
  cc->fc_head = next;
  cc->fc_count--;
  *slab = hak_slab_of(hak_ss_base(a, p), p);
  return p;
}

static void *alloc_small(hak_allocator *a, hak_tcache *tc, uint32_t c) {
  hak_slab *slab = tc->cls[c].slab;
  void *p = fc_pop(a, &tc->cls[c], &slab);
  if (!p) p = hak_slab_pop(a, slab);
  if (!p) return hak_alloc_slow(a, tc, c);
  *(uintptr_t *)p = 0;
  atomic_store_explicit(&slab->used, atomic_load_explicit(&slab->used, memory_order_relaxed) + 1,
                        memory_order_relaxed);
  hak_tstat_add(&tc->stats.allocs, 1);
  return p;
}

void *hak_malloc(hak_allocator *a, size_t size) { return hak_malloc_fast(a, size); }

void *hak_malloc_slow(hak_allocator *a, size_t size) {
  if (size > a->class_max) return hak_large_alloc(a, size, 0, NULL);
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
  if (total > a->class_max) {
    bool fresh;
    void *p = hak_large_alloc(a, total, 0, &fresh);
    if (p && !fresh) memset(p, 0, total);
    return p;
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
  return hak_large_alloc(a, size, align, NULL);
}

int hak_bad_block(hak_allocator *a, const char *fn, const void *p, const char *what,
                  size_t block_size) {
  char line[160];
  snprintf(line, sizeof line, "[hakmem] %s(): %s: %p (block of %zu bytes)", fn, what, p,
           block_size);
  hak_log_line(a, line);
  if (a->cfg.on_bad_free == HAK_BADFREE_ABORT) abort();
  hak_gstat_add(&a->g.bad_frees, 1);
  return -HAK_EBADFREE;
}

int hak_bad_free(hak_allocator *a, const void *p, const char *what, size_t block_size) {
  return hak_bad_block(a, "free", p, what, block_size);
}

void hak_list_corrupt(hak_allocator *a, hak_superslab *ss, hak_slab *s, const void *p) {
  hak_bad_block(a, "malloc", p, "double free or write after free", ss->block_size);
  s->free_list = NULL; /* counted: what followed p is lost, never handed out */
}

/* q is the start of one of the slab's blocks. */
static inline bool is_block_start(const hak_superslab *ss, const hak_slab *slab, uintptr_t q) {
  uintptr_t off = q - (uintptr_t)slab->data;
  return off < slab->span && hak_is_block_offset(ss, off);
}

/* The block's first word decodes to NULL or to a block of its own slab:
 * what every block on a free list or remote stack holds. Live data does
 * so only by chance: the key is random with its top bit set, so no
 * user-space pointer and no small integer decodes into a slab. */
static inline bool looks_listed(const hak_allocator *a, const hak_superslab *ss,
                                const hak_slab *slab, const void *p) {
  uintptr_t w = (uintptr_t)hak_link_get(a, p);
  return w == 0 || is_block_start(ss, slab, w);
}

/* The owner's confirmation: p is on the slab's free list or remote stack
 * (pushers only prepend, and only the owner pops, so the walk is safe). */
static bool on_own_lists(const hak_allocator *a, const hak_superslab *ss, const hak_slab *slab,
                         const void *p) {
  uint32_t budget = slab->capacity + 1;
  for (const void *q = slab->free_list; q && budget--; q = hak_link_get(a, q))
    if (q == p) return true;
  const void *q =
      hak_remote_first(atomic_load_explicit(&ss->remote_heads[slab->index], memory_order_acquire));
  for (budget = slab->capacity + 1; q && budget--; q = hak_link_get(a, q))
    if (q == p) return true;
  return false;
}

/* A local free into a slab that was full (it has room again: to the avail
 * queue) or that it emptied (not the current one: back to its SuperSlab). */
int hak_free_local_slow(hak_allocator *a, hak_tcache *tc, hak_slab *slab, uint32_t used) {
  hak_class_cache *cc = &tc->cls[hak_ss_of_slab(a, slab)->class_idx];
  if (used == 0 && slab->queue != HAK_Q_CURRENT) {
    hak_slab_release_empty(a, tc, cc, slab);
  } else if (slab->queue == HAK_Q_FULL) {
    hak_queue_remove(cc, slab);
    hak_queue_push_avail(cc, slab);
  }
  return 0;
}

int hak_free(hak_allocator *a, void *p) { return hak_free_fast(a, p); }

int hak_free_remote(hak_allocator *a, hak_tcache *tc, hak_superslab *ss, hak_slab *slab,
                    void *p) {
  /* compaction=mesh, a SuperSlab that took part in a mesh: a block of a
   * merged slab (no thread owns it: every free of it comes here), or of a
   * slab holding merged blocks (alias.c). */
  if (HAK_UNLIKELY(atomic_load_explicit(&ss->mesh, memory_order_acquire) != NULL)) {
    if (atomic_load_explicit(&slab->owner_tid, memory_order_acquire) == HAK_TID_ALIAS)
      return hak_alias_free(a, ss, slab, p);
    if (hak_alias_shadowed(a, ss, slab, p)) return hak_bad_free(a, p, "double free", ss->block_size);
  }
  /* Another thread's slab: its lists cannot be walked from here, and the
   * pattern alone is the evidence (see looks_listed). */
  if (looks_listed(a, ss, slab, p)) return hak_bad_free(a, p, "double free", ss->block_size);
  hak_ss_remote_push(a, ss, slab, p, tc);
  return 0;
}

/* Every free the fast path did not finish. */
int hak_free_slow(hak_allocator *a, void *p) {
  if (!p) return 0;
  hak_superslab *ss = hak_registry_lookup(a, p);
  if (!ss) return hak_large_free(a, p);
  hak_slab *slab = hak_slab_of(ss, p);
  /* Only block starts are valid: a pointer into the header or into the
   * middle of a block is refused, untouched. */
  if (!is_block_start(ss, slab, (uintptr_t)p)) {
    /* The header or a slab's tail: never handed out, so never a block. */
    if ((char *)p < slab->data || (char *)p >= hak_slab_end(slab)) return -HAK_EINVAL;
    return hak_bad_free(a, p, "pointer inside a block", ss->block_size);
  }
  hak_tcache *tc = hak_tcache_for_free(a);
  if (tc && atomic_load_explicit(&slab->owner_tid, memory_order_relaxed) == tc->tid) {
    void *head = slab->free_list;
    hak_class_cache *cc = &tc->cls[ss->class_idx];
    if (p == head || p == cc->fc_head ||
        (a->strict_free && ((looks_listed(a, ss, slab, p) && on_own_lists(a, ss, slab, p)) ||
                            hak_fc_has(a, cc, p) || hak_alias_shadowed(a, ss, slab, p))))
      return hak_bad_free(a, p, "double free", ss->block_size);
    hak_link_set(a, p, head);
    slab->free_list = p;
    uint32_t used = atomic_load_explicit(&slab->used, memory_order_relaxed) - 1;
    atomic_store_explicit(&slab->used, used, memory_order_release);
    hak_tstat_add(&tc->stats.frees_local, 1);
    if (slab->queue == HAK_Q_FULL || used == 0) return hak_free_local_slow(a, tc, slab, used);
    return 0;
  }
  return hak_free_remote(a, tc, ss, slab, p);
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
