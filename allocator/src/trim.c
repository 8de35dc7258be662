/* trim.c: hak_tiny_trim and the background trim thread.
 *
 * A pass visits every SuperSlab of every class, newest first, and unmaps
 * those that meet the seed's three conditions:
 *   1. total_active_blocks == 0        (else skipped: nonempty)
 *   2. no thread caches it              (else skipped: cached): no live
 *      thread holds a slab of it in its queues or calls it home;
 *   3. beyond the empty reserve: the first empty_reserve empty, uncached
 *      SuperSlabs of each class (the newest) stay mapped (skipped: reserve).
 * Under compaction=mesh, an empty SuperSlab is also kept while a slab of
 * it is merged into another (its range shows the other's pages) or holds
 * the live blocks of slabs merged into it (skipped: meshed; alias.c).
 * The decision trusts total_active_blocks, as HAKMEM does: with the seed's
 * accounting bug, condition 1 never holds once a block was freed remotely.
 * A pass also returns the large-object cache's idle mappings (large.c).
 *
 * The background thread runs a pass every idle_trim_ms milliseconds when
 * trim_ss is 1 (HAKMEM_TINY_IDLE_TRIM_MS, HAKMEM_TINY_TRIM_SS).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* Takes ss's slabs out of the orphan list and unmaps it. Class lock held;
 * no live thread holds a slab of it (condition 2). */
static void trim_one(hak_allocator *a, hak_class_state *cs, hak_superslab *ss) {
  for (uint32_t i = 0; i < ss->nslabs; i++) hak_orphan_remove(cs, &ss->slabs[i]);
  hak_ss_unmap(a, ss, "trim");
}

static int cmp_u32(const void *x, const void *y) {
  uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
  return (a > b) - (a < b);
}

/* trim_lock held: makes room for n more ids in the scratch list. */
static bool ids_reserve(hak_allocator *a, size_t n) {
  if (n <= a->trim_ids_cap) return true;
  size_t cap = a->trim_ids_cap ? a->trim_ids_cap : 1024;
  while (cap < n) cap *= 2;
  uint32_t *ids = hak_os_map(a, cap * sizeof *ids);
  if (!ids) return false;
  if (a->trim_ids) {
    memcpy(ids, a->trim_ids, a->trim_ids_cap * sizeof *ids);
    hak_os_unmap(a, a->trim_ids, a->trim_ids_cap * sizeof *ids);
  }
  a->trim_ids = ids;
  a->trim_ids_cap = cap;
  return true;
}

uint32_t hak_trim(hak_allocator *a, hak_trim_report *out, uint32_t *ids, size_t ids_cap) {
  hak_trim_report r;
  memset(&r, 0, sizeof r);
  pthread_mutex_lock(&a->trim_lock);
  r.pass = atomic_fetch_add_explicit(&a->g.trims, 1, memory_order_relaxed) + 1;
  for (uint32_t c = 0; c < a->class_count; c++) {
    hak_class_state *cs = &a->classes[c];
    pthread_mutex_lock(&cs->lock);
    uint32_t kept = 0;
    /* A failed scratch allocation only loses the id list, not the trim. */
    bool have_ids = ids_reserve(a, r.freed + cs->count);
    for (hak_superslab *ss = cs->last, *prev; ss; ss = prev) {
      prev = ss->prev;
      r.scanned++;
      if (hak_ss_active(ss) != 0) {
        r.skipped_nonempty++;
      } else if (hak_ss_meshed(ss)) {
        r.skipped_meshed++;
      } else if (ss->slabs_live != 0 || ss->home_refs != 0) {
        r.skipped_cached++;
      } else if (kept < a->cfg.empty_reserve) {
        kept++;
        r.skipped_reserve++;
      } else {
        if (have_ids) a->trim_ids[r.freed] = ss->id;
        r.freed++;
        r.freed_bytes += a->ss_size;
        trim_one(a, cs, ss);
      }
    }
    pthread_mutex_unlock(&cs->lock);
  }
  hak_gstat_add(&a->g.trimmed_bytes, r.freed_bytes);
  hak_large_trim(a);
  /* With nothing freed the scratch list may not exist (trim_ids NULL). */
  bool have_all = r.freed > 0 && a->trim_ids_cap >= r.freed;
  if (have_all) qsort(a->trim_ids, r.freed, sizeof *a->trim_ids, cmp_u32);
  r.freed_ids = have_all ? a->trim_ids : NULL;
  if (HAK_OBS(a, trim)) a->obs.trim(a->obs.ctx, &r);
  if (ids && have_all) memcpy(ids, a->trim_ids, (r.freed < ids_cap ? r.freed : ids_cap) * sizeof *ids);
  pthread_mutex_unlock(&a->trim_lock);
  r.freed_ids = NULL;
  if (out) *out = r;
  return r.freed;
}

static void *trim_main(void *arg) {
  hak_allocator *a = arg;
  pthread_mutex_lock(&a->trim_wait_lock);
  while (!a->trim_stop) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    uint64_t ns = (uint64_t)until.tv_nsec + (uint64_t)a->cfg.idle_trim_ms * 1000000u;
    until.tv_sec += (time_t)(ns / 1000000000u);
    until.tv_nsec = (long)(ns % 1000000000u);
    int rc = 0;
    while (!a->trim_stop && rc != ETIMEDOUT)
      rc = pthread_cond_timedwait(&a->trim_wait_cond, &a->trim_wait_lock, &until);
    if (a->trim_stop) break;
    pthread_mutex_unlock(&a->trim_wait_lock);
    hak_trim(a, NULL, NULL, 0);
    pthread_mutex_lock(&a->trim_wait_lock);
  }
  pthread_mutex_unlock(&a->trim_wait_lock);
  return NULL;
}

int hak_trim_thread_start(hak_allocator *a) {
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&a->trim_wait_cond, &attr);
  pthread_condattr_destroy(&attr);
  pthread_mutex_init(&a->trim_wait_lock, NULL);
  a->trim_stop = false;
  if (pthread_create(&a->trim_thread, NULL, trim_main, a) != 0) return -HAK_ENOMEM;
  a->trim_thread_running = true;
  return 0;
}

void hak_trim_thread_stop(hak_allocator *a) {
  if (!a->trim_thread_running) return;
  pthread_mutex_lock(&a->trim_wait_lock);
  a->trim_stop = true;
  pthread_cond_signal(&a->trim_wait_cond);
  pthread_mutex_unlock(&a->trim_wait_lock);
  pthread_join(a->trim_thread, NULL);
  a->trim_thread_running = false;
  pthread_cond_destroy(&a->trim_wait_cond);
  pthread_mutex_destroy(&a->trim_wait_lock);
}
