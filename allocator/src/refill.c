/* refill.c: where a thread gets blocks when its current slab is exhausted.
 *
 * In order (the first that yields room wins):
 *   1. drain the current slab's remote stack (no lock: it is ours);
 *   then, under the class lock:
 *   2. another slab this thread owns in the class, after draining it;
 *   3. orphan_policy adopt: reclaim an orphaned slab that has room
 *      (drained as it is adopted: mimalloc's reclaim of abandoned pages);
 *   4. a free slab (uncarved or released): refill fresh looks only in the
 *      thread's home SuperSlab, refill reuse in every SuperSlab of the
 *      class, oldest first (to let the newest ones empty);
 *   5. fresh only: a wholly empty SuperSlab nobody caches (the empty
 *      reserve that trim keeps) becomes this thread's home;
 *   6. map a new SuperSlab (may fail: NULL, errno ENOMEM, counted).
 * Under fresh, steps 4-6 mean a thread never carves slabs out of another
 * thread's SuperSlab: every new thread maps one per class it touches,
 * which is what the seed's numbers show HAKMEM doing.
 */
#include <errno.h>

#include "internal.h"

static void owned_push(hak_class_cache *cc, hak_slab *s) {
  s->owned_next = cc->owned;
  if (cc->owned) cc->owned->owned_pprev = &s->owned_next;
  cc->owned = s;
  s->owned_pprev = &cc->owned;
}

void hak_orphan_push(hak_class_state *cs, hak_slab *s) {
  s->orphan_next = cs->orphans;
  if (cs->orphans) cs->orphans->orphan_pprev = &s->orphan_next;
  cs->orphans = s;
  s->orphan_pprev = &cs->orphans;
}

void hak_list_unlink_owned(hak_slab *s) {
  if (!s->owned_pprev) return;
  *s->owned_pprev = s->owned_next;
  if (s->owned_next) s->owned_next->owned_pprev = s->owned_pprev;
  s->owned_next = NULL;
  s->owned_pprev = NULL;
}

void hak_list_unlink_orphan(hak_slab *s) {
  if (!s->orphan_pprev) return;
  *s->orphan_pprev = s->orphan_next;
  if (s->orphan_next) s->orphan_next->orphan_pprev = s->orphan_pprev;
  s->orphan_next = NULL;
  s->orphan_pprev = NULL;
}

/* Cache references (class lock): see hak_superslab.cached_by. */
void hak_set_current(hak_class_cache *cc, hak_superslab *ss, hak_slab *slab) {
  if (cc->ss != ss) {
    if (cc->ss) cc->ss->cached_by--;
    if (ss) ss->cached_by++;
    cc->ss = ss;
  }
  cc->slab = slab;
}

void hak_set_home(hak_class_cache *cc, hak_superslab *ss) {
  if (cc->home == ss) return;
  if (cc->home) cc->home->cached_by--;
  if (ss) ss->cached_by++;
  cc->home = ss;
}

/* Sets or clears a slab's orphaned mark, keeping the SuperSlab's count. */
void hak_slab_set_orphaned(hak_superslab *ss, hak_slab *s, bool orphaned) {
  if (s->orphaned == orphaned) return;
  s->orphaned = orphaned;
  if (orphaned) ss->slabs_orphaned++;
  else ss->slabs_orphaned--;
}

/* Returns an empty slab to its SuperSlab: nobody's, uncarved. Its pages
 * stay touched (slab->touched keeps the high water). Class lock held. */
void hak_slab_release(hak_class_state *cs, hak_superslab *ss, hak_slab *s) {
  hak_list_unlink_owned(s);
  hak_list_unlink_orphan(s);
  s->free_list = NULL;
  s->free_count = 0;
  s->carved = 0;
  hak_slab_set_orphaned(ss, s, false);
  atomic_store_explicit(&s->owner_tid, HAK_TID_NONE, memory_order_relaxed);
  ss->free_slabs++;
  hak_ss_sync_lists(cs, ss, false);
}

static bool has_room(const hak_superslab *ss, const hak_slab *s) {
  return s->free_list || s->carved < s->capacity ||
         atomic_load_explicit(&ss->remote_heads[s->index], memory_order_relaxed) != 0;
}

/* Step 3: the first orphan of the class with room becomes ours. */
static hak_slab *adopt_orphan(hak_allocator *a, hak_tcache *tc, hak_class_state *cs,
                              hak_class_cache *cc) {
  for (hak_slab *s = cs->orphans; s; s = s->orphan_next) {
    hak_superslab *ss = hak_ss_of_slab(a, s);
    if (!has_room(ss, s)) continue;
    hak_list_unlink_orphan(s);
    hak_slab_set_orphaned(ss, s, false);
    atomic_store_explicit(&s->owner_tid, tc->tid, memory_order_release);
    uint32_t drained = hak_ss_remote_drain(a, ss, s, tc);
    owned_push(cc, s);
    hak_gstat_add(&a->g.adoptions, 1);
    if (HAK_OBS(a, adopt)) a->obs.adopt(a->obs.ctx, ss->id, s->index, tc->tid, drained);
    return s;
  }
  return NULL;
}

/* Gives the first free slab of ss to tc. Class lock held. */
static hak_slab *take_free_slab(hak_allocator *a, hak_tcache *tc, hak_class_state *cs,
                                hak_superslab *ss, hak_class_cache *cc) {
  for (uint32_t i = 0; i < ss->nslabs; i++) {
    hak_slab *s = &ss->slabs[i];
    if (atomic_load_explicit(&s->owner_tid, memory_order_relaxed) != HAK_TID_NONE) continue;
    atomic_store_explicit(&s->owner_tid, tc->tid, memory_order_release);
    ss->free_slabs--;
    hak_ss_sync_lists(cs, ss, false);
    owned_push(cc, s);
    hak_gstat_add(&a->g.slabs_carved, 1);
    return s;
  }
  return NULL;
}

/* Step 4 for refill reuse: the SuperSlab that has had a free slab longest
 * (the with_free list is in the order SuperSlabs gained one). */
static hak_superslab *find_free_slab_ss(hak_class_state *cs) { return cs->with_free.head; }

/* Step 5 for refill fresh: a wholly empty SuperSlab nobody caches. */
static hak_superslab *find_empty_ss(hak_class_state *cs) {
  for (hak_superslab *ss = cs->all_free.head; ss; ss = ss->all_free.next)
    if (ss->cached_by == 0 &&
        hak_ss_active(ss) == 0)
      return ss;
  return NULL;
}

static hak_slab *refill_locked(hak_allocator *a, hak_tcache *tc, uint32_t c) {
  hak_class_state *cs = &a->classes[c];
  hak_class_cache *cc = &tc->cls[c];

  for (hak_slab *s = cc->owned; s; s = s->owned_next) {
    if (s == cc->slab) continue;
    hak_superslab *ss = hak_ss_of_slab(a, s);
    hak_ss_remote_drain(a, ss, s, tc);
    if (has_room(ss, s)) {
      hak_set_current(cc, ss, s);
      return s;
    }
  }

  if (a->cfg.orphan_policy == HAK_ORPHAN_ADOPT) {
    hak_slab *s = adopt_orphan(a, tc, cs, cc);
    if (s) {
      hak_set_current(cc, hak_ss_of_slab(a, s), s);
      return s;
    }
  }

  hak_superslab *ss = NULL;
  if (a->cfg.refill == HAK_REFILL_REUSE) {
    ss = find_free_slab_ss(cs);
  } else {
    if (cc->home && cc->home->free_slabs) ss = cc->home;
    if (!ss && (ss = find_empty_ss(cs)) != NULL) {
      ss->owner_tid = tc->tid;
      hak_gstat_add(&a->g.ss_reused, 1);
    }
  }
  if (!ss) {
    ss = hak_ss_map(a, c, tc);
    if (!ss) {
      hak_gstat_add(&a->g.ooms, 1);
      if (HAK_OBS(a, oom))
        a->obs.oom(a->obs.ctx, atomic_load_explicit(&a->ss_live, memory_order_relaxed), ENOMEM,
                   a->cfg.ss_map_limit);
      errno = ENOMEM;
      return NULL;
    }
  }
  if (a->cfg.refill == HAK_REFILL_FRESH) hak_set_home(cc, ss);
  hak_slab *s = take_free_slab(a, tc, cs, ss, cc);
  hak_set_current(cc, ss, s);
  return s;
}

hak_slab *hak_refill(hak_allocator *a, hak_tcache *tc, uint32_t c) {
  hak_class_cache *cc = &tc->cls[c];
  hak_tstat_add(&tc->stats.refills, 1);
  if (cc->slab && hak_ss_remote_drain(a, cc->ss, cc->slab, tc)) return cc->slab;
  hak_class_state *cs = &a->classes[c];
  pthread_mutex_lock(&cs->lock);
  hak_slab *s = refill_locked(a, tc, c);
  pthread_mutex_unlock(&cs->lock);
  return s;
}
