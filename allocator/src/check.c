/* check.c: validators of every invariant internal.h states, for tests
 * (hak_check, hak_check_thread) and for debug builds (-Ddebug_checks=true
 * runs the thread's validator at each slab change and exit, and enables
 * HAK_ASSERT). Each returns the first violation as one line.
 *
 * What can be checked when:
 *   - a SuperSlab's counts and its slabs' states: under the class lock;
 *   - a slab's free list and remote stack (walked, and matched against
 *     `used` and the stacks' counts), and the counter identities of each
 *     accounting variant: only when no thread runs (quiescent);
 *   - a thread's queues and its own slabs' free lists: by that thread, at
 *     any time, or by anyone when quiescent;
 *   - compaction=mesh: aliases and primaries point at each other, an
 *     alias's count is its bitmap's, a primary's free list holds no offset
 *     live through an alias, and the mapping counts are one per SuperSlab
 *     plus the splits its aliases make.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

static int fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (err && errlen) vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -HAK_EINVAL;
}

_Noreturn void hak_assert_fail(const char *cond, const char *file, int line) {
  fprintf(stderr, "[hakmem] assertion failed: %s (%s:%d)\n", cond, file, line);
  abort();
}

static bool block_start(const hak_superslab *ss, const hak_slab *s, const void *p) {
  uintptr_t off = (uintptr_t)p - (uintptr_t)s->data;
  return off < s->span && off % ss->block_size == 0;
}

/* Length of a list of blocks of slab s (free list or remote stack), or -1
 * (with err) when a link leaves the slab, misses a block start or loops. */
static int64_t list_len(const hak_allocator *a, const hak_superslab *ss, const hak_slab *s,
                        const void *head, const char *what, char *err, size_t errlen) {
  int64_t n = 0;
  for (const void *q = head; q; q = hak_link_get(a, q)) {
    if (!block_start(ss, s, q) || (uint64_t)n >= s->carved) {
      fail(err, errlen, "ss %u slab %u: %s link %p is not a carved block of the slab (after %" PRId64
           " blocks)", ss->id, s->index, what, q, n);
      return -1;
    }
    n++;
  }
  return n;
}

/* Blocks of s in live threads' free caches (no thread running). */
static uint32_t cached_in(hak_allocator *a, uint32_t c, const hak_slab *s) {
  uint32_t n = 0;
  pthread_mutex_lock(&a->map_lock);
  for (hak_tcache *tc = a->threads; tc; tc = tc->next) n += hak_fc_count_in(a, &tc->cls[c], s);
  pthread_mutex_unlock(&a->map_lock);
  return n;
}

static uint32_t popcount(const uint64_t *w, uint32_t words) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < words; i++) n += (uint32_t)__builtin_popcountll(w[i]);
  return n;
}

/* compaction=mesh (class lock held): an alias points at a primary of its
 * class that lists it, holds no list of its own, and its `used` is its
 * bitmap's count; a primary lists exactly its aliases, counts their blocks
 * and (walk_lists) keeps no offset of theirs on its free list. */
static int check_mesh_slab(hak_allocator *a, hak_superslab *ss, hak_slab *s, uint32_t owner,
                           uint32_t used, uintptr_t rword, bool walk_lists, char *err,
                           size_t errlen) {
  const hak_class_state *cs = &a->classes[ss->class_idx];
  hak_ss_mesh *m = atomic_load_explicit(&ss->mesh, memory_order_relaxed);
  uint32_t i = s->index;
  if (owner == HAK_TID_ALIAS) {
    hak_slab_mesh *mb = m ? &m->slab[i] : NULL;
    hak_slab *p = mb ? mb->primary : NULL;
    if (!p || i == 0 || s->queue != HAK_Q_NONE || s->orphaned || s->free_list || rword ||
        (used == 0 && !mb->stuck) || popcount(mb->live, cs->mesh_words) != used)
      return fail(err, errlen, "ss %u slab %u: alias with primary %p, queue %u, used %u", ss->id, i,
                  (void *)p, s->queue, used);
    hak_superslab *ps = hak_ss_of_slab(a, p);
    hak_ss_mesh *pm = atomic_load_explicit(&ps->mesh, memory_order_relaxed);
    bool listed = false;
    for (hak_slab *b = pm ? pm->slab[p->index].aliases : NULL; b && !listed;
         b = hak_slab_mesh_of(hak_ss_of_slab(a, b), b)->next_alias)
      listed = b == s;
    if (ps->class_idx != ss->class_idx || p->index == 0 || !listed ||
        atomic_load_explicit(&p->owner_tid, memory_order_relaxed) == HAK_TID_ALIAS)
      return fail(err, errlen, "ss %u slab %u: alias of slab %u of ss %u, which does not list it",
                  ss->id, i, p->index, ps->id);
    return 0;
  }
  if (!m) return 0;
  hak_slab_mesh *mp = &m->slab[i];
  uint32_t n = 0, blocks = 0;
  for (hak_slab *b = mp->aliases; b && n <= ss->nslabs * cs->count; n++) {
    hak_slab_mesh *mb = hak_slab_mesh_of(hak_ss_of_slab(a, b), b);
    if (mb->primary != s)
      return fail(err, errlen, "ss %u slab %u: lists an alias that is not its own", ss->id, i);
    blocks += atomic_load_explicit(&b->used, memory_order_relaxed);
    b = mb->next_alias;
  }
  if (n != atomic_load_explicit(&mp->naliases, memory_order_relaxed) || blocks != mp->alias_blocks ||
      (n && (i == 0 || owner == HAK_TID_NONE || used < blocks)))
    return fail(err, errlen, "ss %u slab %u: %u aliases (%u kept), %u of their blocks (%u kept)",
                ss->id, i, n, mp->naliases, blocks, mp->alias_blocks);
  if (!walk_lists || !n) return 0;
  for (const void *q = s->free_list; q; q = hak_link_get(a, q)) {
    uint32_t k = (uint32_t)(((uintptr_t)q - (uintptr_t)s->data) / ss->block_size);
    for (hak_slab *b = mp->aliases; b;) {
      hak_slab_mesh *mb = hak_slab_mesh_of(hak_ss_of_slab(a, b), b);
      if ((mb->live[k >> 6] >> (k & 63)) & 1u)
        return fail(err, errlen, "ss %u slab %u: free block %u is live through an alias", ss->id, i,
                    k);
      b = mb->next_alias;
    }
  }
  return 0;
}

int hak_check_ss(hak_allocator *a, hak_superslab *ss, bool walk_lists, char *err,
                 size_t errlen) {
  const hak_class_state *cs = &a->classes[ss->class_idx];
  if (ss->class_idx >= a->class_count || ss->block_size != cs->block_size ||
      ss->nslabs != cs->nslabs || ss->slab_shift != cs->slab_shift)
    return fail(err, errlen, "ss %u: geometry does not match class %u", ss->id, ss->class_idx);
  if (hak_registry_lookup(a, ss) != ss)
    return fail(err, errlen, "ss %u: not in the registry", ss->id);
  uint32_t nfree = 0, norphaned = 0, nlive = 0, nalias = 0, nprimaries = 0;
  int64_t owner_sum = 0, used_sum = 0, pending_sum = 0;
  hak_ss_mesh *m = atomic_load_explicit(&ss->mesh, memory_order_relaxed);
  for (uint32_t i = 0; i < ss->nslabs; i++) {
    hak_slab *s = &ss->slabs[i];
    uint32_t owner = atomic_load_explicit(&s->owner_tid, memory_order_acquire);
    uint32_t used = atomic_load_explicit(&s->used, memory_order_acquire);
    uintptr_t rword = atomic_load_explicit(&ss->remote_heads[i], memory_order_acquire);
    uint32_t pending = hak_remote_count(rword);
    owner_sum += (int64_t)used + atomic_load_explicit(&ss->acct_adjust[i], memory_order_acquire);
    /* By address: a primary's aliases' blocks count in the aliases. */
    used_sum += used - (m ? m->slab[i].alias_blocks : 0);
    pending_sum += pending;
    if (s->index != i) return fail(err, errlen, "ss %u slab %u: index %u", ss->id, i, s->index);
    if (check_mesh_slab(a, ss, s, owner, used, rword, walk_lists, err, errlen)) return -HAK_EINVAL;
    nprimaries += m && m->slab[i].naliases != 0;
    if (owner == HAK_TID_ALIAS) {
      nalias++;
      continue;
    }
    /* A live owner writes its slab's other fields: read them only when it
     * is not running (walk_lists), or when nobody owns the slab. */
    bool stable = walk_lists || owner == HAK_TID_NONE || s->orphaned;
    if (stable && (ss->touched[i] > s->capacity || s->span != s->capacity * ss->block_size))
      return fail(err, errlen, "ss %u slab %u: high water %u, capacity %u, span %u", ss->id, i,
                  ss->touched[i], s->capacity, s->span);
    if (owner == HAK_TID_NONE) {
      nfree++;
      if (s->orphaned || used || s->queue != HAK_Q_NONE || pending)
        return fail(err, errlen, "ss %u slab %u: free slab with state (used %u, queue %u, "
                    "pending %u)", ss->id, i, used, s->queue, pending);
      continue;
    }
    if (s->orphaned) {
      norphaned++;
      bool adopt = a->cfg.orphan_policy == HAK_ORPHAN_ADOPT;
      if (adopt ? (owner != HAK_TID_ORPHAN || s->queue != HAK_Q_ORPHAN)
                : (hak_tid_alive(a, owner) || s->queue != HAK_Q_NONE))
        return fail(err, errlen, "ss %u slab %u: orphan with owner %u, queue %u", ss->id, i, owner,
                    s->queue);
    } else {
      nlive++;
      if (!hak_tid_alive(a, owner) ||
          (walk_lists && (s->queue < HAK_Q_CURRENT || s->queue > HAK_Q_FULL)))
        return fail(err, errlen, "ss %u slab %u: owned by %u (alive %d) in queue %u", ss->id, i,
                    owner, hak_tid_alive(a, owner), s->queue);
    }
    if (!walk_lists) continue;
    if (s->carved > s->capacity || ss->touched[i] < s->carved)
      return fail(err, errlen, "ss %u slab %u: carved %u, touched %u, capacity %u", ss->id, i,
                  s->carved, ss->touched[i], s->capacity);
    int64_t nf = list_len(a, ss, s, s->free_list, "free-list", err, errlen);
    if (nf < 0) return -HAK_EINVAL;
    int64_t nr = list_len(a, ss, s, hak_remote_first(rword), "remote-stack", err, errlen);
    if (nr < 0) return -HAK_EINVAL;
    int64_t cached = s->orphaned ? 0 : cached_in(a, ss->class_idx, s);
    if ((int64_t)used != (int64_t)s->carved - nf - cached || nr != pending)
      return fail(err, errlen, "ss %u slab %u: used %u != carved %u - free list %" PRId64
                  " - cached %" PRId64 ", or remote stack %" PRId64 " != remote count %u",
                  ss->id, i, used, s->carved, nf, cached, nr, pending);
  }
  if (nfree != ss->free_slabs || norphaned != ss->slabs_orphaned || nlive != ss->slabs_live ||
      nalias != ss->slabs_alias)
    return fail(err, errlen,
                "ss %u: counts free %u/%u orphaned %u/%u live %u/%u alias %u/%u (seen/kept)",
                ss->id, nfree, ss->free_slabs, norphaned, ss->slabs_orphaned, nlive,
                ss->slabs_live, nalias, ss->slabs_alias);
  if (m && (m->primaries != nprimaries || m->vmas != hak_ss_vmas(a, ss)))
    return fail(err, errlen, "ss %u: %u primaries (%u kept), %u mappings (%u kept)", ss->id,
                nprimaries, m->primaries, hak_ss_vmas(a, ss), m->vmas);
  if (!m && nalias) return fail(err, errlen, "ss %u: aliases without mesh state", ss->id);
  if (ss->with_free.in != (ss->free_slabs > 0) || ss->all_free.in != (ss->free_slabs == ss->nslabs))
    return fail(err, errlen, "ss %u: with_free/all_free membership does not match %u free slabs",
                ss->id, ss->free_slabs);
  if (nlive == 0 && ss->frozen_active != owner_sum)
    return fail(err, errlen, "ss %u: frozen counter %" PRId64 " != slabs' %" PRId64, ss->id,
                ss->frozen_active, owner_sum);
  if (walk_lists) {
    int64_t active = hak_ss_active(ss), live = used_sum - pending_sum;
    int acct = a->cfg.remote_accounting;
    bool ok = acct == HAK_ACCT_PUSH    ? active == live
              : acct == HAK_ACCT_DRAIN ? active == used_sum
                                       : active >= live;
    if (!ok)
      return fail(err, errlen, "ss %u: counter %" PRId64 " vs live blocks %" PRId64
                  " (used %" PRId64 ", pending %" PRId64 ") breaks remote_accounting=%d",
                  ss->id, active, live, used_sum, pending_sum, acct);
  }
  return 0;
}

static int check_queue(hak_allocator *a, hak_tcache *tc, uint32_t c, hak_slab *head,
                       hak_slab *tail, uint8_t q, uint32_t *count, char *err, size_t errlen) {
  hak_slab *prev = NULL;
  for (hak_slab *s = head; s; prev = s, s = s->next) {
    hak_superslab *ss = hak_ss_of_slab(a, s);
    if (s->prev != prev || s->queue != q || ss->class_idx != c ||
        atomic_load_explicit(&s->owner_tid, memory_order_relaxed) != tc->tid)
      return fail(err, errlen, "thread %u class %u: slab %u of ss %u misplaced in queue %u", tc->tid,
                  c, s->index, ss->id, q);
    bool room = s->free_list || s->carved < s->capacity;
    if (q == HAK_Q_AVAIL ? !room : room)
      return fail(err, errlen, "thread %u class %u: slab %u of ss %u in queue %u with%s room",
                  tc->tid, c, s->index, ss->id, q, room ? "" : "out");
    if (list_len(a, ss, s, s->free_list, "free-list", err, errlen) < 0) return -HAK_EINVAL;
    if (++*count > 1u << 24) return fail(err, errlen, "thread %u class %u: queue loops", tc->tid, c);
  }
  if (prev != tail) return fail(err, errlen, "thread %u class %u: queue %u tail", tc->tid, c, q);
  return 0;
}

int hak_check_tcache(hak_allocator *a, hak_tcache *tc, char *err, size_t errlen) {
  for (uint32_t c = 0; c < a->class_count; c++) {
    hak_class_cache *cc = &tc->cls[c];
    uint32_t count = 0;
    if (cc->slab != &a->empty_slab) {
      hak_slab *s = cc->slab;
      if (s->queue != HAK_Q_CURRENT || hak_ss_of_slab(a, s) != cc->ss ||
          cc->ss->class_idx != c ||
          atomic_load_explicit(&s->owner_tid, memory_order_relaxed) != tc->tid)
        return fail(err, errlen, "thread %u class %u: current slab misplaced", tc->tid, c);
      if (list_len(a, cc->ss, s, s->free_list, "free-list", err, errlen) < 0) return -HAK_EINVAL;
      count++;
    }
    uint32_t before_full;
    if (check_queue(a, tc, c, cc->avail_head, cc->avail_tail, HAK_Q_AVAIL, &count, err, errlen) ||
        (before_full = count,
         check_queue(a, tc, c, cc->full_head, cc->full_tail, HAK_Q_FULL, &count, err, errlen)))
      return -HAK_EINVAL;
    if (count - before_full != cc->nfull)
      return fail(err, errlen, "thread %u class %u: %u slabs in the full queue, %u counted",
                  tc->tid, c, count - before_full, cc->nfull);
    /* The free cache: blocks of the thread's own live slabs of the class,
     * as many as counted, within the cap. */
    uint32_t cached = 0;
    for (void *q = cc->fc_head; q; q = hak_fc_get(a, q)) {
      hak_superslab *ss = hak_registry_lookup(a, q);
      hak_slab *s = ss ? hak_slab_of(ss, q) : NULL;
      if (!s || ss->class_idx != c || !block_start(ss, s, q) ||
          atomic_load_explicit(&s->owner_tid, memory_order_relaxed) != tc->tid ||
          ++cached > cc->fc_cap || !hak_fc_link_ok(hak_fc_get(a, q)))
        return fail(err, errlen, "thread %u class %u: free cache block %p is not one of its own",
                    tc->tid, c, q);
    }
    if (cached != cc->fc_count)
      return fail(err, errlen, "thread %u class %u: %u blocks in the free cache, %u counted",
                  tc->tid, c, cached, cc->fc_count);
    if (count != cc->nslabs)
      return fail(err, errlen, "thread %u class %u: %u slabs in queues, %u counted", tc->tid, c,
                  count, cc->nslabs);
  }
  return 0;
}

/* The SuperSlab mapping counts: one per SuperSlab, plus the splits meshes
 * made. Under trim_lock, so that a trim thread's pass cannot run between
 * the classes' walks. */
static int check_mappings(hak_allocator *a, char *err, size_t errlen) {
  uint64_t split = 0, live = 0;
  pthread_mutex_lock(&a->trim_lock);
  for (uint32_t c = 0; c < a->class_count; c++) {
    pthread_mutex_lock(&a->classes[c].lock);
    for (hak_superslab *ss = a->classes[c].first; ss; ss = ss->next) {
      split += hak_ss_vmas(a, ss) - 1;
      live++;
    }
    pthread_mutex_unlock(&a->classes[c].lock);
  }
  uint64_t kept_split = atomic_load_explicit(&a->ss_split, memory_order_relaxed);
  uint64_t kept = atomic_load_explicit(&a->g.ss_mappings, memory_order_relaxed);
  pthread_mutex_unlock(&a->trim_lock);
  if (split != kept_split || live + split != kept)
    return fail(err, errlen, "SuperSlab mappings: %" PRIu64 " + %" PRIu64 " splits, kept %" PRIu64
                " splits and %" PRIu64 " mappings", live, split, kept_split, kept);
  return 0;
}

int hak_check(hak_allocator *a, bool quiescent, char *err, size_t errlen) {
  int rc = 0;
  for (uint32_t c = 0; c < a->class_count && !rc; c++) {
    hak_class_state *cs = &a->classes[c];
    pthread_mutex_lock(&cs->lock);
    uint32_t n = 0, last_id = 0;
    for (hak_superslab *ss = cs->first; ss && !rc; ss = ss->next, n++) {
      if (ss->id <= last_id) rc = fail(err, errlen, "class %u: ss %u out of mapping order", c, ss->id);
      else if (ss->class_idx != c) rc = fail(err, errlen, "ss %u: in the list of class %u", ss->id, c);
      else rc = hak_check_ss(a, ss, quiescent, err, errlen);
      last_id = ss->id;
    }
    if (!rc && n != cs->count) rc = fail(err, errlen, "class %u: %u SuperSlabs, %u counted", c, n, cs->count);
    for (hak_slab *s = cs->orphans, *prev = NULL; s && !rc; prev = s, s = s->next)
      if (s->prev != prev || s->queue != HAK_Q_ORPHAN || !s->orphaned ||
          hak_ss_of_slab(a, s)->class_idx != c)
        rc = fail(err, errlen, "class %u: orphan list broken at slab %u", c, s->index);
    pthread_mutex_unlock(&cs->lock);
  }
  if (rc || !quiescent) return rc;
  if ((rc = check_mappings(a, err, errlen)) != 0) return rc;
  pthread_mutex_lock(&a->map_lock);
  for (hak_tcache *tc = a->threads; tc && !rc; tc = tc->next) rc = hak_check_tcache(a, tc, err, errlen);
  pthread_mutex_unlock(&a->map_lock);
  /* Home references: one per thread whose home it is (class lock, for a
   * trim thread may still unmap; then map_lock, in the lock order). */
  for (uint32_t c = 0; c < a->class_count && !rc; c++) {
    pthread_mutex_lock(&a->classes[c].lock);
    pthread_mutex_lock(&a->map_lock);
    for (hak_superslab *ss = a->classes[c].first; ss && !rc; ss = ss->next) {
      uint32_t refs = 0;
      for (hak_tcache *tc = a->threads; tc; tc = tc->next) refs += tc->cls[c].home == ss;
      if (refs != ss->home_refs)
        rc = fail(err, errlen, "ss %u: %u home references kept, %u found", ss->id, ss->home_refs, refs);
    }
    pthread_mutex_unlock(&a->map_lock);
    pthread_mutex_unlock(&a->classes[c].lock);
  }
  return rc;
}

int hak_check_thread(hak_allocator *a, char *err, size_t errlen) {
  hak_tcache *tc = hak_tcache_peek(a);
  return tc ? hak_check_tcache(a, tc, err, errlen) : 0;
}

#ifdef HAK_DEBUG
void hak_debug_check_thread(hak_allocator *a, hak_tcache *tc) {
  char err[256];
  if (hak_check_tcache(a, tc, err, sizeof err) != 0) {
    fprintf(stderr, "[hakmem] debug check failed: %s\n", err);
    abort();
  }
}
#endif
