/* truth.c: the replayer's ground truth. For every live block it knows the
 * requested size, the class size and, by address, the SuperSlab and slab
 * holding it; from those it keeps, per SuperSlab (by id), the live blocks,
 * live bytes and slabs holding a live block, and the process-wide byte
 * ladder. The allocator's counters are never consulted here.
 *
 * The table of SuperSlab records grows under a lock (in the observer's
 * ss_map callback); readers go through the published pointer, and old
 * tables are kept until the end so a reader never sees freed memory.
 *
 * Counters are atomics for free mode, whose workers update them at once.
 * In deterministic mode one thread at a time updates them (the turn orders
 * the holders), so an update is a relaxed load and store, not a locked
 * read-modify-write: about ten fewer locked instructions per event.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct retired {
  struct retired *next;
  hr_ss **table;
} retired;

int hr_truth_init(hr_truth *t, size_t ss_size, bool exclusive) {
  memset(t, 0, sizeof *t);
  t->exclusive = exclusive;
  pthread_mutex_init(&t->lock, NULL);
  pthread_mutex_init(&t->dirty_lock, NULL);
  t->cap = 1024;
  t->by_id = calloc(t->cap, sizeof *t->by_id);
  if (!t->by_id) return -1;
  atomic_store(&t->published, t->by_id);
  t->ss_size = ss_size;
  return 0;
}

void hr_truth_free(hr_truth *t) {
  for (uint32_t i = 0; i <= t->max_id && i < t->cap; i++) {
    if (!t->by_id[i]) continue;
    free(t->by_id[i]->slab_live);
    free(t->by_id[i]);
  }
  free(t->by_id);
  free(t->dirty);
  pthread_mutex_destroy(&t->dirty_lock);
  while (t->retired) {
    retired *r = t->retired;
    t->retired = r->next;
    free(r->table);
    free(r);
  }
  pthread_mutex_destroy(&t->lock);
}

hr_ss *hr_truth_get(hr_truth *t, uint32_t id) {
  hr_ss **table = atomic_load_explicit(&t->published, memory_order_acquire);
  /* The id came from a block the allocator handed out after its ss_map
   * callback returned, so it is within the published table. */
  return table[id];
}

hr_ss *hr_truth_add(hr_truth *t, const hak_ss_info *info) {
  hr_ss *ss = calloc(1, sizeof *ss);
  if (!ss) return NULL;
  ss->slab_live = calloc(info->nslabs, sizeof *ss->slab_live);
  if (!ss->slab_live) {
    free(ss);
    return NULL;
  }
  ss->id = info->id;
  ss->class_idx = info->class_idx;
  ss->block_size = info->block_size;
  ss->capacity = info->capacity;
  ss->nslabs = info->nslabs;
  ss->slab_bytes = (uint32_t)(t->ss_size / info->nslabs); /* slabs tile the SuperSlab */
  ss->base = info->base;
  ss->mapped = true;
  pthread_mutex_lock(&t->lock);
  if (info->id >= t->cap) {
    uint32_t ncap = t->cap;
    while (ncap <= info->id) ncap *= 2;
    hr_ss **n = calloc(ncap, sizeof *n);
    retired *r = malloc(sizeof *r);
    if (!n || !r) {
      pthread_mutex_unlock(&t->lock);
      free(n);
      free(r);
      free(ss->slab_live);
      free(ss);
      return NULL;
    }
    memcpy(n, t->by_id, t->cap * sizeof *n);
    r->table = t->by_id;
    r->next = t->retired;
    t->retired = r;
    t->by_id = n;
    t->cap = ncap;
  }
  t->by_id[info->id] = ss;
  if (info->id > t->max_id) t->max_id = info->id;
  t->live++;
  atomic_store_explicit(&t->published, t->by_id, memory_order_release);
  pthread_mutex_unlock(&t->lock);
  hr_truth_mark(t, ss);
  return ss;
}

void hr_truth_mark(hr_truth *t, hr_ss *ss) {
  if (atomic_exchange_explicit(&ss->dirty, true, memory_order_relaxed)) return;
  pthread_mutex_lock(&t->dirty_lock);
  if (t->ndirty == t->dirty_cap) {
    uint32_t ncap = t->dirty_cap ? t->dirty_cap * 2 : 1024;
    uint32_t *n = realloc(t->dirty, ncap * sizeof *n);
    if (!n) {
      t->dirty_oom = true;
      pthread_mutex_unlock(&t->dirty_lock);
      return;
    }
    t->dirty = n;
    t->dirty_cap = ncap;
  }
  t->dirty[t->ndirty++] = ss->id;
  pthread_mutex_unlock(&t->dirty_lock);
}

/* Adds v to *p: one writer at a time (excl), or any number. */
static inline __attribute__((always_inline)) int64_t add64(bool excl, _Atomic int64_t *p,
                                                             int64_t v) {
  if (excl) {
    int64_t old = atomic_load_explicit(p, memory_order_relaxed);
    atomic_store_explicit(p, old + v, memory_order_relaxed);
    return old;
  }
  return atomic_fetch_add_explicit(p, v, memory_order_relaxed);
}

static inline __attribute__((always_inline)) int32_t add32(bool excl, _Atomic int32_t *p,
                                                             int32_t v) {
  if (excl) {
    int32_t old = atomic_load_explicit(p, memory_order_relaxed);
    atomic_store_explicit(p, old + v, memory_order_relaxed);
    return old;
  }
  return atomic_fetch_add_explicit(p, v, memory_order_relaxed);
}

/* The byte ladder covers SuperSlab blocks; large objects (their own
 * mappings) are counted beside it. sign: +1 alloc, -1 free. Inlined twice
 * per direction: exclusive or not is decided once per call. */
static inline __attribute__((always_inline)) void count(hr_truth *t, const hr_block *b,
                                                          bool excl, int sign) {
  if (!b->ss_id) {
    add64(excl, &t->large_blocks, sign);
    add64(excl, &t->large_bytes, sign * (int64_t)b->size);
    return;
  }
  add64(excl, &t->live_blocks, sign);
  int64_t r = add64(excl, &t->live_req_bytes, sign * (int64_t)b->size) + sign * (int64_t)b->size;
  if (sign > 0 && r > atomic_load_explicit(&t->peak_req_bytes, memory_order_relaxed))
    atomic_store_explicit(&t->peak_req_bytes, r, memory_order_relaxed);
  hr_ss *ss = hr_truth_get(t, b->ss_id);
  add64(excl, &t->live_block_bytes, sign * (int64_t)b->usable);
  add64(excl, &ss->live_blocks, sign);
  add64(excl, &ss->live_bytes, sign * (int64_t)b->size);
  if (add32(excl, &ss->slab_live[b->slab], sign) == (sign > 0 ? 0 : 1)) {
    add64(excl, &ss->slabs_active, sign);
    add64(excl, &t->slab_active_bytes, sign * (int64_t)ss->slab_bytes);
  }
  hr_truth_touch(t, ss);
}

void hr_truth_alloc(hr_truth *t, const hr_block *b) {
  if (t->exclusive) count(t, b, true, 1);
  else count(t, b, false, 1);
}

void hr_truth_free_block(hr_truth *t, const hr_block *b) {
  if (t->exclusive) count(t, b, true, -1);
  else count(t, b, false, -1);
}
