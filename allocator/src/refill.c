/* refill.c: the allocation slow path, when the current slab's free list
 * is empty.
 *
 * In order (the first that yields a block wins):
 *   1. carve the current slab's next block (bump pointer);
 *   2. drain the current slab's remote stack;
 *   then the current slab goes to the full queue, and, still without a
 *   lock (the owner's queues are the owner's alone):
 *   3. the newest slab of the avail queue (this thread's slabs that got
 *      local frees while not current);
 *   4. once a remote free was announced (remote_events), the full queue,
 *      oldest first: a slab whose remote stack holds blocks is drained and
 *      becomes current;
 *   then, under the class lock (ownership changes hands):
 *   5. orphan_policy adopt: reclaim an orphaned slab that has room
 *      (drained as it is adopted: mimalloc's reclaim of abandoned pages);
 *   6. a free slab (uncarved or released): refill fresh looks only in the
 *      thread's home SuperSlab, refill reuse in every SuperSlab of the
 *      class, oldest first (to let the newest ones empty);
 *   7. fresh only: a wholly empty SuperSlab nobody holds (the empty
 *      reserve that trim keeps) becomes this thread's home;
 *   8. map a new SuperSlab (may fail: NULL, errno ENOMEM, counted).
 * Under fresh, steps 6-8 mean a thread never carves slabs out of another
 * thread's SuperSlab: every new thread maps one per class it touches,
 * which is what the seed's numbers show HAKMEM doing.
 */
#include <errno.h>

#include "queue.h"

/* Full slabs looked at per refill, at most, once a remote free has been
 * announced: bounds the lock-free scan of a long full queue. */
#define HAK_FULL_SCAN 256

/* Step 1: the next uncarved block, in the slab's slot order
 * (hak_slot_index). Touched memory is counted a page at a time (the slab's
 * high water moves by a page's worth of blocks), so the shared counter is
 * written once per page, not once per block; under slot_order=random the
 * first carve counts the whole slab, whose pages the order visits at once. */
static void *carve(hak_allocator *a, hak_superslab *ss, hak_slab *s) {
  uint32_t bs = ss->block_size;
  uint32_t idx = hak_slot_index(a, &a->classes[ss->class_idx], ss->id, s->index, s->capacity,
                                s->carved);
  void *p = s->data + (size_t)idx * bs;
  uint32_t *touched = &ss->touched[s->index];
  if (++s->carved > *touched) {
    uint32_t step = a->slot_random ? s->capacity : (uint32_t)(hak_page_size() / bs);
    uint32_t to = *touched + (step ? step : 1);
    if (to > s->capacity) to = s->capacity;
    atomic_fetch_add_explicit(&ss->touched_blocks, to - *touched, memory_order_relaxed);
    *touched = to;
  }
  return p;
}

static void set_current(hak_class_cache *cc, hak_superslab *ss, hak_slab *s) {
  cc->slab = s;
  cc->ss = ss;
  s->queue = HAK_Q_CURRENT;
}

/* Steps 3 and 4. The full queue is looked at only after a remote free
 * landed in an empty stack of one of this thread's slabs of the class
 * (remote_events moved), and then until a whole pass finds nothing: a
 * producer whose blocks other threads free finds them wherever they are
 * in the queue, and a thread nobody frees to never scans. */
static hak_slab *next_owned(hak_allocator *a, hak_tcache *tc, hak_class_cache *cc, uint32_t c) {
  hak_slab *s = cc->avail_head;
  if (s) {
    hak_queue_remove(cc, s);
    return s;
  }
  uint64_t events = atomic_load_explicit(&tc->remote_events[c], memory_order_acquire);
  if (events != cc->remote_seen) {
    cc->remote_seen = events;
    cc->scan_pending = true;
  }
  if (!cc->scan_pending) return NULL;
  uint32_t n = cc->nfull < HAK_FULL_SCAN ? cc->nfull : HAK_FULL_SCAN;
  for (uint32_t k = 0; k < n; k++) {
    s = cc->full_head;
    hak_queue_remove(cc, s);
    if (hak_ss_remote_drain(a, hak_ss_of_slab(a, s), s, tc)) return s;
    hak_queue_push_full(cc, s); /* rotated: the next look starts further on */
  }
  if (n == cc->nfull) cc->scan_pending = false; /* a whole pass found nothing */
  return NULL;
}

/* Step 5: the first orphan of the class with room becomes ours. */
static hak_slab *adopt_orphan(hak_allocator *a, hak_tcache *tc, hak_class_state *cs) {
  for (hak_slab *s = cs->orphans; s; s = s->next) {
    hak_superslab *ss = hak_ss_of_slab(a, s);
    if (!hak_slab_has_room(ss, s)) continue;
    hak_orphan_remove(cs, s);
    hak_slab_take(a, ss, s, tc);
    uint32_t drained = hak_ss_remote_drain(a, ss, s, tc);
    hak_gstat_add(&a->g.adoptions, 1);
    if (HAK_OBS(a, adopt)) a->obs.adopt(a->obs.ctx, ss->id, s->index, tc->tid, drained);
    return s;
  }
  return NULL;
}

/* Gives the first free slab of ss to tc. With slab0=last (the mesh
 * presets) slab 0 comes last: it holds the header and never meshes, and a
 * thread that lives for a few thousand operations (Larson's) needs one
 * slab per class, so slab 0 first puts nearly all its blocks where no mesh
 * can reach them (docs/meshing.md, "Slab 0 last"). */
static hak_slab *take_free_slab(hak_allocator *a, hak_tcache *tc, hak_superslab *ss) {
  uint32_t first = a->cfg.slab0 == HAK_SLAB0_LAST && ss->nslabs > 1;
  for (uint32_t k = 0; k < ss->nslabs; k++) {
    hak_slab *s = &ss->slabs[(first + k) % ss->nslabs];
    if (atomic_load_explicit(&s->owner_tid, memory_order_relaxed) != HAK_TID_NONE) continue;
    hak_slab_take(a, ss, s, tc);
    hak_gstat_add(&a->g.slabs_carved, 1);
    return s;
  }
  return NULL;
}

/* Step 7: a wholly empty SuperSlab nobody holds. */
static hak_superslab *find_empty_ss(hak_class_state *cs) {
  for (hak_superslab *ss = cs->all_free.head; ss; ss = ss->all_free.next)
    if (ss->home_refs == 0 && ss->slabs_live == 0 && hak_ss_active(ss) == 0) return ss;
  return NULL;
}

/* Steps 5-8, class lock held. */
static hak_slab *refill_locked(hak_allocator *a, hak_tcache *tc, uint32_t c) {
  hak_class_state *cs = &a->classes[c];
  hak_class_cache *cc = &tc->cls[c];
  if (a->cfg.orphan_policy == HAK_ORPHAN_ADOPT) {
    hak_slab *s = adopt_orphan(a, tc, cs);
    if (s) return s;
  }
  hak_superslab *ss = NULL;
  if (a->cfg.refill == HAK_REFILL_REUSE) {
    ss = cs->with_free.head;
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
  return take_free_slab(a, tc, ss);
}

void *hak_alloc_slow(hak_allocator *a, hak_tcache *tc, uint32_t c) {
  hak_class_cache *cc = &tc->cls[c];
  hak_slab *s = cc->slab;
  void *p = NULL;
  if (s != &a->empty_slab) {
    /* The fast path found a link it would not follow: pop reports it. */
    if (s->free_list && (p = hak_slab_pop(a, s)) != NULL) goto done;
    if (s->carved < s->capacity) {
      p = carve(a, cc->ss, s);
      goto done;
    }
    hak_tstat_add(&tc->stats.refills, 1);
    if (hak_ss_remote_drain(a, cc->ss, s, tc)) goto pop;
    hak_queue_push_full(cc, s);
  } else {
    hak_tstat_add(&tc->stats.refills, 1);
  }
  s = next_owned(a, tc, cc, c);
  if (!s) {
    hak_class_state *cs = &a->classes[c];
    pthread_mutex_lock(&cs->lock);
    s = refill_locked(a, tc, c);
    pthread_mutex_unlock(&cs->lock);
    if (!s) {
      cc->slab = &a->empty_slab;
      cc->ss = NULL;
      return NULL;
    }
  }
  set_current(cc, hak_ss_of_slab(a, s), s);
  HAK_DEBUG_CHECK_THREAD(a, tc);
pop:
  if ((p = hak_slab_pop(a, s)) == NULL) {
    if (s->carved == s->capacity) return hak_alloc_slow(a, tc, c); /* the list was corrupt */
    p = carve(a, cc->ss, s);
  }
done:
  *(uintptr_t *)p = 0;
  atomic_store_explicit(&s->used, atomic_load_explicit(&s->used, memory_order_relaxed) + 1,
                        memory_order_relaxed);
  hak_tstat_add(&tc->stats.allocs, 1);
  return p;
}
