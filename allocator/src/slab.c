/* slab.c: who owns a slab, and the class's orphan list.
 *
 * A live thread keeps each slab it owns in exactly one of its per-class
 * places: current (the one it allocates from), the avail queue or the full
 * queue (queue.h). Only the owner touches those queues, without a lock:
 * trim never unmaps a SuperSlab that a live thread holds a slab of
 * (slabs_live != 0).
 *
 * Ownership changes (take, release, orphan, adopt) happen under the class
 * lock and keep the SuperSlab's slab counts, which trim and the census
 * read under the same lock. When the last live-owned slab of a SuperSlab
 * leaves its owner, the owner parts of its counter freeze (nobody can
 * allocate or drain there any more) and are summed once into
 * frozen_active.
 *
 * A mesh pass (mesh.c) also takes slabs from their owners: a merged slab
 * becomes an alias (owner HAK_TID_ALIAS, counted in slabs_alias), out of
 * every queue, until its last block is freed and it is a free slab again.
 * free_slabs + slabs_orphaned + slabs_live + slabs_alias == nslabs.
 */
#include "queue.h"

void hak_orphan_push(hak_class_state *cs, hak_slab *s) {
  s->prev = NULL;
  s->next = cs->orphans;
  if (cs->orphans) cs->orphans->prev = s;
  cs->orphans = s;
  s->queue = HAK_Q_ORPHAN;
}

void hak_orphan_remove(hak_class_state *cs, hak_slab *s) {
  if (s->queue != HAK_Q_ORPHAN) return;
  if (s->prev) s->prev->next = s->next; else cs->orphans = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
  s->queue = HAK_Q_NONE;
}

static void set_orphaned(hak_superslab *ss, hak_slab *s, bool orphaned) {
  if (s->orphaned == orphaned) return;
  s->orphaned = orphaned;
  if (orphaned) ss->slabs_orphaned++;
  else ss->slabs_orphaned--;
}

/* Sums the owner parts once no live thread holds a slab here. */
static void freeze(hak_superslab *ss);

void hak_ss_refreeze(hak_superslab *ss) {
  if (ss->slabs_live == 0) freeze(ss);
}

static void freeze(hak_superslab *ss) {
  int64_t sum = 0;
  for (uint32_t i = 0; i < ss->nslabs; i++)
    sum += (int64_t)atomic_load_explicit(&ss->slabs[i].used, memory_order_relaxed) +
           atomic_load_explicit(&ss->acct_adjust[i], memory_order_relaxed);
  ss->frozen_active = sum;
}

static void live_dec(hak_superslab *ss) {
  HAK_ASSERT(ss->slabs_live > 0);
  if (--ss->slabs_live == 0) freeze(ss);
}

void hak_slab_take(hak_allocator *a, hak_superslab *ss, hak_slab *s, hak_tcache *tc) {
  (void)a;
  uint32_t prev = atomic_load_explicit(&s->owner_tid, memory_order_relaxed);
  if (prev == HAK_TID_NONE) {
    ss->free_slabs--;
    hak_ss_sync_lists(&a->classes[ss->class_idx], ss, false);
  }
  set_orphaned(ss, s, false);
  ss->slabs_live++;
  tc->cls[ss->class_idx].nslabs++;
  atomic_store_explicit(&s->owner_tc, tc, memory_order_relaxed);
  atomic_store_explicit(&s->owner_tid, tc->tid, memory_order_release);
}

void hak_slab_release(hak_allocator *a, hak_class_state *cs, hak_superslab *ss, hak_slab *s) {
  (void)a;
  HAK_ASSERT(atomic_load_explicit(&s->used, memory_order_relaxed) == 0);
  HAK_ASSERT(s->queue == HAK_Q_NONE || s->queue == HAK_Q_ORPHAN);
  hak_orphan_remove(cs, s);
  bool was_live = !s->orphaned;
  s->free_list = NULL;
  s->carved = 0;
  set_orphaned(ss, s, false);
  atomic_store_explicit(&s->owner_tc, NULL, memory_order_relaxed);
  atomic_store_explicit(&s->owner_tid, HAK_TID_NONE, memory_order_relaxed);
  ss->free_slabs++;
  hak_ss_sync_lists(cs, ss, false);
  if (was_live) live_dec(ss);
}

void hak_slab_orphan(hak_allocator *a, hak_class_state *cs, hak_superslab *ss, hak_slab *s) {
  HAK_ASSERT(s->queue == HAK_Q_NONE);
  set_orphaned(ss, s, true);
  atomic_store_explicit(&s->owner_tc, NULL, memory_order_relaxed);
  if (a->cfg.orphan_policy == HAK_ORPHAN_ADOPT) {
    atomic_store_explicit(&s->owner_tid, HAK_TID_ORPHAN, memory_order_release);
    hak_orphan_push(cs, s);
  }
  live_dec(ss);
}

void hak_slab_alias(hak_allocator *a, hak_class_state *cs, hak_superslab *ss, hak_slab *s) {
  if (s->orphaned) {
    hak_orphan_remove(cs, s);
    set_orphaned(ss, s, false);
  } else {
    /* Its live owner is parked outside the allocator: its queues are ours
     * to change for the moment (internal.h). */
    hak_tcache *tc = atomic_load_explicit(&s->owner_tc, memory_order_relaxed);
    hak_class_cache *cc = &tc->cls[ss->class_idx];
    if (s->queue == HAK_Q_CURRENT) {
      cc->slab = &a->empty_slab;
      cc->ss = NULL;
      s->queue = HAK_Q_NONE;
    } else {
      hak_queue_remove(cc, s);
    }
    cc->nslabs--;
    live_dec(ss);
  }
  s->free_list = NULL;
  s->carved = 0;
  s->next = s->prev = NULL;
  atomic_store_explicit(&s->owner_tc, NULL, memory_order_relaxed);
  atomic_store_explicit(&s->owner_tid, HAK_TID_ALIAS, memory_order_release);
  ss->slabs_alias++;
}

void hak_slab_unalias(hak_allocator *a, hak_class_state *cs, hak_superslab *ss, hak_slab *s) {
  (void)a;
  HAK_ASSERT(atomic_load_explicit(&s->used, memory_order_relaxed) == 0);
  ss->slabs_alias--;
  atomic_store_explicit(&s->owner_tid, HAK_TID_NONE, memory_order_release);
  ss->free_slabs++;
  hak_ss_sync_lists(cs, ss, false);
}

void hak_slab_release_empty(hak_allocator *a, hak_tcache *tc, hak_class_cache *cc,
                            hak_slab *s) {
  hak_superslab *ss = hak_ss_of_slab(a, s);
  hak_class_state *cs = &a->classes[ss->class_idx];
  hak_queue_remove(cc, s);
  hak_fc_purge_slab(a, cc, s); /* its cached blocks are free: they go with it */
  pthread_mutex_lock(&cs->lock);
  hak_slab_release(a, cs, ss, s);
  pthread_mutex_unlock(&cs->lock);
  cc->nslabs--;
  hak_gstat_add(&a->g.slabs_emptied, 1);
  (void)tc;
}

void hak_set_home(hak_class_cache *cc, hak_superslab *ss) {
  if (cc->home == ss) return;
  if (cc->home) cc->home->home_refs--;
  if (ss) ss->home_refs++;
  cc->home = ss;
}
