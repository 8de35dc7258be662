/* remote.c: cross-thread frees. ss_remote_push is the seed's function: a
 * lock-free multi-producer push onto the slab's remote stack
 * (remote_heads[slab_idx]). The stack word holds the first block and the
 * number of blocks on the stack, updated together by one CAS, so the drain
 * takes the whole stack with one exchange (no ABA: the owner only ever
 * takes everything) and knows how many blocks it took without walking
 * them. When the owner's free list is empty, as it is when a refill
 * drains, the stack simply becomes the free list: one atomic operation
 * and no read of the blocks, however many were freed.
 *
 * Where total_active_blocks is decremented is the variant under study:
 *   none  - never (the seed's bug: the SuperSlab looks live forever);
 *   push  - by the pusher, as its very last access to the SuperSlab, so a
 *           trim that then sees 0 can unmap safely (Option A);
 *   drain - by the owner, for all drained blocks at once.
 * The drain always lowers the slab's `used`; under none and push it adds
 * the same number to acct_adjust, so the counter does not move there.
 */
#include "internal.h"

void hak_ss_remote_push(hak_allocator *a, hak_superslab *ss, hak_slab *slab, void *p,
                        hak_tcache *by) {
  uint32_t i = slab->index;
  uintptr_t old = atomic_load_explicit(&ss->remote_heads[i], memory_order_relaxed), w;
  do {
    hak_link_set(a, p, hak_remote_first(old));
    /* A slab holds fewer than 2^16 blocks (slab_lg <= 18, blocks >= 8
     * bytes), and a block is on the stack at most once (looks_listed). */
    w = (uintptr_t)p | ((uintptr_t)(hak_remote_count(old) + 1) << HAK_REMOTE_COUNT_SHIFT);
  } while (!atomic_compare_exchange_weak_explicit(&ss->remote_heads[i], &old, w,
                                                  memory_order_release, memory_order_relaxed));
  /* The first block on an empty stack: tell the owner its queue may have
   * room (a stale cache of a thread that left is harmless: thread caches
   * are never unmapped, and a spurious event costs one look). */
  if (hak_remote_count(old) == 0) {
    hak_tcache *owner = atomic_load_explicit(&slab->owner_tc, memory_order_relaxed);
    if (owner)
      atomic_fetch_add_explicit(&owner->remote_events[ss->class_idx], 1, memory_order_release);
  }
  if (by) hak_tstat_add(&by->stats.frees_remote, 1);
  else hak_gstat_add(&a->g.frees_after_exit, 1);
  if (HAK_OBS(a, remote_push)) a->obs.remote_push(a->obs.ctx, ss->id, i, by ? by->tid : 0);
  if (a->cfg.remote_accounting == HAK_ACCT_PUSH)
    atomic_fetch_sub_explicit(&ss->total_active_blocks, 1, memory_order_release);
}

/* A chain whose length or links do not match its count: a block pushed
 * twice or written after its free. Counted, the chain is dropped (never
 * handed out); aborts under on_bad_free=abort. */
static uint32_t corrupt(hak_allocator *a, hak_superslab *ss, const void *at) {
  hak_bad_block(a, "malloc", at, "double free or write after free", ss->block_size);
  return 0;
}

/* Moves the slab's remote stack onto its free list. Only the owner (or a
 * thread holding the class lock for a slab without a live owner) may call
 * it. Returns the number of blocks drained. */
uint32_t hak_ss_remote_drain(hak_allocator *a, hak_superslab *ss, hak_slab *slab,
                             hak_tcache *tc) {
  uint32_t i = slab->index;
  if (atomic_load_explicit(&ss->remote_heads[i], memory_order_relaxed) == 0) return 0;
  uintptr_t w = atomic_exchange_explicit(&ss->remote_heads[i], 0, memory_order_acquire);
  void *head = hak_remote_first(w);
  uint32_t n = hak_remote_count(w);
  if (!head) return 0;
  if (slab->free_list) {
    /* Splice in front of the local list: walk to the stack's tail, which
     * also checks that its links and length match the count. A list that
     * does not is found here or by the pop that reads it (hak_slab_pop). */
    void *tail = head;
    uint32_t seen = 1;
    for (void *next; (next = hak_link_get(a, tail)) != NULL; tail = next, seen++)
      if (HAK_UNLIKELY(seen >= n || !hak_link_ok(a, tail, next))) return corrupt(a, ss, tail);
    if (HAK_UNLIKELY(seen != n)) return corrupt(a, ss, tail);
    hak_link_set(a, tail, slab->free_list);
  }
  slab->free_list = head;
  /* Adjust first: a concurrent reader of the counter may see it high for
   * a moment, never low. */
  if (a->cfg.remote_accounting != HAK_ACCT_DRAIN)
    atomic_store_explicit(&ss->acct_adjust[i],
                          atomic_load_explicit(&ss->acct_adjust[i], memory_order_relaxed) + n,
                          memory_order_release);
  atomic_store_explicit(&slab->used, atomic_load_explicit(&slab->used, memory_order_relaxed) - n,
                        memory_order_release);
  if (tc) {
    hak_tstat_add(&tc->stats.drains, 1);
    hak_tstat_add(&tc->stats.drained_blocks, n);
  }
  if (HAK_OBS(a, drain)) a->obs.drain(a->obs.ctx, ss->id, i, n, tc ? tc->tid : 0);
  return n;
}
