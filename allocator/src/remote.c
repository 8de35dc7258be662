/* remote.c: cross-thread frees. ss_remote_push is the seed's function: a
 * lock-free multi-producer push onto the slab's remote stack
 * (remote_heads[slab_idx]), counted in remote_counts[slab_idx]. The drain
 * takes the whole stack with one exchange (so there is no ABA) and splices
 * it onto the owner's free list: one atomic operation per batch of frees.
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
  /* Count first: a drain that races ahead may see the count high for a
   * moment, never below the blocks on the stack. */
  atomic_fetch_add_explicit(&ss->remote_counts[i], 1, memory_order_relaxed);
  uintptr_t old = atomic_load_explicit(&ss->remote_heads[i], memory_order_relaxed);
  do {
    hak_link_set(a, p, (void *)old);
  } while (!atomic_compare_exchange_weak_explicit(&ss->remote_heads[i], &old, (uintptr_t)p,
                                                  memory_order_release, memory_order_relaxed));
  if (by) hak_tstat_add(&by->stats.frees_remote, 1);
  else hak_gstat_add(&a->g.frees_after_exit, 1);
  if (HAK_OBS(a, remote_push)) a->obs.remote_push(a->obs.ctx, ss->id, i, by ? by->tid : 0);
  if (a->cfg.remote_accounting == HAK_ACCT_PUSH)
    atomic_fetch_sub_explicit(&ss->total_active_blocks, 1, memory_order_release);
}

/* Moves the slab's remote stack onto its free list. Only the owner (or a
 * thread holding the class lock for a slab without a live owner) may call
 * it. Returns the number of blocks drained. */
uint32_t hak_ss_remote_drain(hak_allocator *a, hak_superslab *ss, hak_slab *slab,
                             hak_tcache *tc) {
  uint32_t i = slab->index;
  if (atomic_load_explicit(&ss->remote_heads[i], memory_order_relaxed) == 0) return 0;
  uintptr_t head = atomic_exchange_explicit(&ss->remote_heads[i], 0, memory_order_acquire);
  if (!head) return 0;
  /* At least the blocks just taken (pushes count before they link). A
   * chain longer than that, or a link out of the SuperSlab, is a block
   * pushed twice or written after its free. */
  uint32_t count = atomic_load_explicit(&ss->remote_counts[i], memory_order_acquire);
  uint32_t n = 1;
  void *tail = (void *)head;
  for (void *next; (next = hak_link_get(a, tail)) != NULL; tail = next, n++) {
    if (HAK_UNLIKELY(n >= count || !hak_link_ok(a, tail, next))) {
      hak_bad_block(a, "malloc", tail, "double free or write after free", ss->block_size);
      atomic_fetch_sub_explicit(&ss->remote_counts[i], n, memory_order_relaxed);
      return 0; /* counted: the chain is dropped, never handed out */
    }
  }
  hak_link_set(a, tail, slab->free_list);
  slab->free_list = (void *)head;
  /* Adjust first: a concurrent reader of the counter may see it high for
   * a moment, never low. */
  if (a->cfg.remote_accounting != HAK_ACCT_DRAIN)
    atomic_store_explicit(&slab->acct_adjust,
                          atomic_load_explicit(&slab->acct_adjust, memory_order_relaxed) + n,
                          memory_order_release);
  atomic_store_explicit(&slab->used, atomic_load_explicit(&slab->used, memory_order_relaxed) - n,
                        memory_order_release);
  atomic_fetch_sub_explicit(&ss->remote_counts[i], n, memory_order_relaxed);
  if (tc) {
    hak_tstat_add(&tc->stats.drains, 1);
    hak_tstat_add(&tc->stats.drained_blocks, n);
  }
  if (HAK_OBS(a, drain)) a->obs.drain(a->obs.ctx, ss->id, i, n, tc ? tc->tid : 0);
  return n;
}
