/* census.c: the census of a sample, the allocator's beliefs about each
 * live SuperSlab (total_active_blocks, remote pending, orphaned slabs,
 * touched bytes) joined by id with the ground truth (live blocks), summed
 * into the sample's counts.
 *
 * The sums are kept from sample to sample: each SuperSlab's contribution
 * at the last sample is remembered in its truth record, and a sample only
 * looks again at the SuperSlabs changed since (the dirty list: a block
 * allocated or freed in it, a drain, an orphaning, an adoption, a map or
 * an unmap, a mesh; and every SuperSlab holding a slab others were merged
 * into, mesh.c). With the seed's bug, tens of thousands of SuperSlabs are
 * live and a handful change between samples: walking them all at every
 * sample was most of such a replay's time.
 *
 * A full walk (hak_ss_census) is still used where looking at one
 * SuperSlab is not safe or not enough: in free mode (the allocator's trim
 * thread may unmap while the sample runs), for --ss-detail (every row is
 * written) and when the dirty list could not grow. --census-check does
 * both at every sample and fails the replay if they disagree: the tests
 * run it, so an allocator change that alters a SuperSlab without one of
 * the events above shows up there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* What one SuperSlab adds to the census (sign -1: takes it back). */
static void view_add(hr_census *c, const hr_census_view *v, uint32_t capacity, int64_t sign) {
  c->live += sign;
  if (v->live == 0) c->empty += sign;
  else if ((uint64_t)v->live >= capacity) c->full += sign;
  else c->partial += sign;
  if (v->orphaned > 0) c->orphaned += sign;
  if (v->active > 0 && v->live == 0) c->lnbe += sign;
  /* Bucket k covers ((k-1)*10%, k*10%]; bucket 0 is exactly empty. */
  uint64_t b = v->live == 0 ? 0 : (uint64_t)((v->live * 10 + capacity - 1) / capacity);
  c->hist[b > 10 ? 10 : b] += sign;
  c->drift += sign * (v->active - v->live);
  c->remote_pending += sign * (int64_t)v->pending;
  c->touched += sign * (int64_t)v->touched;
  c->meta += sign * (int64_t)v->header;
}

static hr_census_view view_of(hr_ss *ss, const hak_ss_info *info) {
  return (hr_census_view){
      .counted = true,
      .orphaned = info->slabs_orphaned,
      .active = info->total_active_blocks,
      .live = atomic_load_explicit(&ss->live_blocks, memory_order_relaxed),
      .pending = info->remote_pending,
      .touched = info->touched_bytes,
      .header = info->header_bytes,
  };
}

typedef struct walk {
  hr_run *run;
  hr_census *c;
  bool remember;               /* set every SuperSlab's view (a rebuild) */
  hr_census_row *rows;
  size_t nrows, cap;
  bool oom;
} walk;

static void walk_one(void *ctx, const hak_ss_info *info) {
  walk *w = ctx;
  hr_ss *ss = hr_truth_get(&w->run->truth, info->id);
  hr_census_view v = view_of(ss, info);
  view_add(w->c, &v, info->capacity, 1);
  if (w->remember) ss->seen = v;
  if (!w->run->sampler.detail) return;
  if (w->nrows == w->cap) {
    size_t ncap = w->cap ? w->cap * 2 : 1024;
    hr_census_row *n = realloc(w->rows, ncap * sizeof *n);
    if (!n) {
      w->oom = true;
      return;
    }
    w->rows = n;
    w->cap = ncap;
  }
  w->rows[w->nrows++] = (hr_census_row){info->id, info->class_idx, info->capacity,
                                        info->slabs_orphaned, v.live, v.active,
                                        info->remote_pending};
}

/* Takes the dirty list (and clears the marks of what it held). */
static uint32_t *take_dirty(hr_truth *t, uint32_t *n, bool *overflowed) {
  pthread_mutex_lock(&t->dirty_lock);
  uint32_t *ids = t->dirty;
  *n = t->ndirty;
  *overflowed = t->dirty_oom;
  t->dirty = NULL;
  t->ndirty = t->dirty_cap = 0;
  t->dirty_oom = false;
  pthread_mutex_unlock(&t->dirty_lock);
  for (uint32_t i = 0; i < *n; i++)
    atomic_store_explicit(&hr_truth_get(t, ids[i])->dirty, false, memory_order_relaxed);
  return ids;
}

/* Every record's view forgotten, every mark cleared: before a rebuild. */
static void forget_all(hr_truth *t) {
  for (uint32_t id = 1; id <= t->max_id && id < t->cap; id++) {
    hr_ss *ss = t->by_id[id];
    if (!ss) continue;
    ss->seen.counted = false;
    atomic_store_explicit(&ss->dirty, false, memory_order_relaxed);
  }
}

/* The dirty SuperSlabs looked at again, one by one. */
static void update(hr_run *run, const uint32_t *ids, uint32_t n) {
  hr_census *c = &run->sampler.census;
  for (uint32_t i = 0; i < n; i++) {
    hr_ss *ss = hr_truth_get(&run->truth, ids[i]);
    if (ss->seen.counted) view_add(c, &ss->seen, ss->capacity, -1);
    ss->seen.counted = false;
    hak_ss_info info;
    if (!ss->mapped || !hak_ss_of(run->alloc, (void *)ss->base, &info)) continue;
    ss->seen = view_of(ss, &info);
    view_add(c, &ss->seen, ss->capacity, 1);
  }
}

static void describe(char *buf, size_t len, const hr_census *a, const hr_census *b) {
#define HR_CMP(f)                                                                       \
  if (a->f != b->f) {                                                                   \
    snprintf(buf, len, #f " %lld, a full census says %lld", (long long)a->f, (long long)b->f); \
    return;                                                                             \
  }
  HR_CMP(live) HR_CMP(empty) HR_CMP(full) HR_CMP(partial) HR_CMP(orphaned) HR_CMP(lnbe)
  HR_CMP(drift) HR_CMP(remote_pending) HR_CMP(touched) HR_CMP(meta)
  for (int k = 0; k < HR_BUCKETS; k++) HR_CMP(hist[k])
#undef HR_CMP
  snprintf(buf, len, "no difference");
}

int hr_census_take(hr_run *run, uint64_t t, hr_census_row **rows, size_t *nrows) {
  hr_sampler *s = &run->sampler;
  uint32_t n;
  bool overflowed;
  bool primaries = hr_mesh_touch_primaries(run);
  uint32_t *ids = take_dirty(&run->truth, &n, &overflowed);
  bool full = !run->opt->deterministic || s->detail || overflowed || !primaries;
  walk w = {.run = run, .c = &s->census, .remember = true};
  if (full) {
    forget_all(&run->truth);
    memset(&s->census, 0, sizeof s->census);
    hak_ss_census(run->alloc, walk_one, &w);
  } else {
    update(run, ids, n);
  }
  free(ids);
  *rows = w.rows;
  *nrows = w.nrows;
  if (w.oom) return -1;
  if (run->opt->census_check && !full) {
    hr_census whole = {0};
    walk check = {.run = run, .c = &whole};
    hak_ss_census(run->alloc, walk_one, &check);
    free(check.rows);
    if (memcmp(&whole, &s->census, sizeof whole) != 0) {
      char why[160], msg[240];
      describe(why, sizeof why, &s->census, &whole);
      snprintf(msg, sizeof msg, "event %llu: the census kept from sample to sample is wrong: %s",
               (unsigned long long)t, why);
      hr_internal_error(run, msg);
    }
  }
  return 0;
}
