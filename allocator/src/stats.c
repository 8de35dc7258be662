/* stats.c: global counters, per-thread counter folding, the stats
 * snapshot, and the one-time out-of-memory log line. Per-thread counters
 * have one writer each; a snapshot sums the live threads' counters (under
 * map_lock) with those of exited threads and the global ones.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

void hak_gstat_max(_Atomic uint64_t *c, uint64_t v) {
  uint64_t cur = atomic_load_explicit(c, memory_order_relaxed);
  while (cur < v &&
         !atomic_compare_exchange_weak_explicit(c, &cur, v, memory_order_relaxed,
                                                memory_order_relaxed)) {
  }
}

/* map_lock held. */
void hak_stats_fold_thread(hak_allocator *a, const hak_thread_stats *ts) {
#define HAK_FOLD(name, desc)                                                      \
  hak_tstat_add(&a->exited.name,                                                  \
                atomic_load_explicit(&((hak_thread_stats *)ts)->name, memory_order_relaxed));
  HAK_THREAD_STAT_FIELDS(HAK_FOLD)
#undef HAK_FOLD
}

void hak_get_stats(hak_allocator *a, hak_stats *out) {
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&a->map_lock);
#define HAK_SUM(name, desc) \
  out->name = atomic_load_explicit(&a->exited.name, memory_order_relaxed);
  HAK_THREAD_STAT_FIELDS(HAK_SUM)
#undef HAK_SUM
  for (hak_tcache *tc = a->threads; tc; tc = tc->next) {
#define HAK_SUM_T(name, desc) \
    out->name += atomic_load_explicit(&tc->stats.name, memory_order_relaxed);
    HAK_THREAD_STAT_FIELDS(HAK_SUM_T)
#undef HAK_SUM_T
  }
  pthread_mutex_unlock(&a->map_lock);
#define HAK_GET_G(name, desc) out->name = atomic_load_explicit(&a->g.name, memory_order_relaxed);
  HAK_GLOBAL_STAT_FIELDS(HAK_GET_G)
  HAK_MAP_STAT_FIELDS(HAK_GET_G)
#undef HAK_GET_G
  out->frees_remote += out->frees_after_exit;
}

void hak_log_oom_once(hak_allocator *a, int err) {
  pthread_mutex_lock(&a->map_lock);
  bool first = !a->oom_logged;
  a->oom_logged = true;
  pthread_mutex_unlock(&a->map_lock);
  if (!first) return;
  char line[256];
  snprintf(line, sizeof line,
           "[hakmem] SuperSlab mmap failed: alloc=%" PRIu64 " freed=%" PRIu64
           " bytes=%" PRIu64 " errno=%d limit=%" PRIu32 " extra_maps=%" PRIu64,
           atomic_load_explicit(&a->g.ss_allocated, memory_order_relaxed),
           atomic_load_explicit(&a->g.ss_freed, memory_order_relaxed),
           atomic_load_explicit(&a->g.ss_allocated, memory_order_relaxed) * a->ss_size, err,
           a->cfg.ss_map_limit, atomic_load_explicit(&a->extra_maps, memory_order_relaxed));
  hak_log_line(a, line);
}

void hak_log_line(hak_allocator *a, const char *line) {
  if (a->log) a->log(a->log_ctx, line);
  else fprintf(stderr, "%s\n", line);
}
