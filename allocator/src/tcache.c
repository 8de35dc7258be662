/* tcache.c: thread caches. A thread attaches to an instance on its first
 * call (getting a sequential tid) and detaches when it exits, through a
 * pthread key destructor, so the orphan policy runs on real thread exit.
 *
 * At exit, per class it used and under that class's lock, every slab the
 * thread holds (current, avail and full queues) is either released (no
 * block out: the slab goes back to its SuperSlab) or orphaned (blocks
 * still out):
 *   leave - the slab keeps the dead tid as owner, so every later free to it
 *           is a remote push that nobody will drain (the exiting thread
 *           does not drain it either: HAKMEM has no exit hook);
 *   adopt - the exiting thread drains it first, then releases it if that
 *           emptied it, else puts it on the class's orphan list.
 * Thread caches come from a small mmap'd pool, never from malloc, so the
 * allocator can serve as the process's malloc.
 */
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

_Thread_local hak_tls_last hak_tl_last;

bool hak_tid_alive(const hak_allocator *a, uint32_t tid) {
  if (tid == HAK_TID_NONE || tid > a->tid_alive_max) return false;
  return (atomic_load_explicit(&a->tid_alive[tid / 64], memory_order_relaxed) >>
          (tid % 64)) & 1u;
}

static void tid_mark(hak_allocator *a, uint32_t tid, bool alive) {
  if (tid > a->tid_alive_max) return;
  uint64_t bit = (uint64_t)1 << (tid % 64);
  if (alive) atomic_fetch_or_explicit(&a->tid_alive[tid / 64], bit, memory_order_relaxed);
  else atomic_fetch_and_explicit(&a->tid_alive[tid / 64], ~bit, memory_order_relaxed);
}

/* map_lock held. */
static hak_tcache *tcache_alloc(hak_allocator *a) {
  if (a->tc_free) {
    hak_tcache *tc = a->tc_free;
    a->tc_free = *(void **)tc;
    return tc;
  }
  if (!a->meta_bump || a->meta_bump + a->tcache_size > a->meta_end) {
    char *chunk = hak_os_map(a, HAK_META_CHUNK);
    if (!chunk) return NULL;
    *(void **)chunk = a->meta_chunks;
    a->meta_chunks = chunk;
    a->meta_bump = chunk + 64;
    a->meta_end = chunk + HAK_META_CHUNK;
  }
  hak_tcache *tc = (hak_tcache *)a->meta_bump;
  a->meta_bump += a->tcache_size;
  return tc;
}

static hak_tcache *attach(hak_allocator *a) {
  pthread_mutex_lock(&a->map_lock);
  hak_tcache *tc = tcache_alloc(a);
  if (!tc) {
    pthread_mutex_unlock(&a->map_lock);
    return NULL;
  }
  /* Everything but remote_events: a remote free may still announce itself
   * to the thread that had this cache before (a stale owner_tc), with an
   * atomic add; the counters only move forward, so the new thread starts
   * from what they read now. */
  memset(tc, 0, offsetof(hak_tcache, remote_events));
  memset(tc->cls, 0, a->tcache_size - offsetof(hak_tcache, cls));
  for (uint32_t c = 0; c < a->class_count; c++) {
    tc->cls[c].slab = &a->empty_slab;
    tc->cls[c].fc_cap = hak_fc_cap(a->classes[c].block_size);
    tc->cls[c].remote_seen = atomic_load_explicit(&tc->remote_events[c], memory_order_relaxed);
  }
  tc->alloc = a;
  tc->tid = ++a->next_tid;
  tc->next = a->threads;
  if (a->threads) a->threads->prev = tc;
  a->threads = tc;
  tid_mark(a, tc->tid, true);
  pthread_mutex_unlock(&a->map_lock);
  hak_gstat_add(&a->g.threads_attached, 1);
  pthread_setspecific(a->key, tc);
  if (HAK_OBS(a, thread_attach)) a->obs.thread_attach(a->obs.ctx, tc->tid);
  return tc;
}

hak_tcache *hak_tcache_attach_slow(hak_allocator *a, int mode) {
  hak_tcache *tc = pthread_getspecific(a->key);
  if (!tc && (mode == HAK_ATTACH || (mode == HAK_ATTACH_UNLESS_EXITED &&
                                     hak_tl_last.exited_instance != a->instance_id)))
    tc = attach(a);
  if (tc) {
    hak_tl_last.instance_id = a->instance_id;
    hak_tl_last.tc = tc;
    hak_tl_last.tid = tc->tid;
    hak_tl_last.fast_free_id = a->strict_free ? 0 : a->instance_id;
  }
  return tc;
}

/* Releases or orphans one of the exiting thread's slabs. Class lock held. */
static bool exit_slab(hak_allocator *a, hak_tcache *tc, hak_class_state *cs, hak_slab *s) {
  hak_superslab *ss = hak_ss_of_slab(a, s);
  s->queue = HAK_Q_NONE;
  s->next = s->prev = NULL;
  if (a->cfg.orphan_policy == HAK_ORPHAN_ADOPT) hak_ss_remote_drain(a, ss, s, tc);
  if (atomic_load_explicit(&s->used, memory_order_relaxed) == 0) {
    hak_slab_release(a, cs, ss, s);
    return true;
  }
  hak_slab_orphan(a, cs, ss, s);
  if (HAK_OBS(a, orphan)) a->obs.orphan(a->obs.ctx, ss->id, s->index, tc->tid);
  return false;
}

/* Class lock held. Returns the number of slabs orphaned; adds released
 * slabs to *released. Current first, then the avail and full queues. */
static uint32_t exit_class(hak_allocator *a, hak_tcache *tc, uint32_t c, uint32_t *released) {
  hak_class_state *cs = &a->classes[c];
  hak_class_cache *cc = &tc->cls[c];
  uint32_t orphaned = 0;
  hak_set_home(cc, NULL);
  hak_fc_flush(a, tc, cc); /* cached blocks back on their slabs' lists */
  hak_slab *lists[2] = {cc->avail_head, cc->full_head};
  if (cc->slab != &a->empty_slab) {
    if (exit_slab(a, tc, cs, cc->slab)) (*released)++;
    else orphaned++;
  }
  for (int l = 0; l < 2; l++) {
    for (hak_slab *s = lists[l], *next; s; s = next) {
      next = s->next;
      if (exit_slab(a, tc, cs, s)) (*released)++;
      else orphaned++;
    }
  }
  cc->slab = &a->empty_slab;
  cc->ss = NULL;
  cc->avail_head = cc->avail_tail = cc->full_head = cc->full_tail = NULL;
  cc->nslabs = cc->nfull = 0;
  cc->scan_pending = false;
  return orphaned;
}

/* Unlinks tc from the instance and recycles it. map_lock held. */
static void tcache_retire(hak_allocator *a, hak_tcache *tc) {
  if (tc->prev) tc->prev->next = tc->next; else a->threads = tc->next;
  if (tc->next) tc->next->prev = tc->prev;
  hak_stats_fold_thread(a, &tc->stats);
  tid_mark(a, tc->tid, false);
  *(void **)tc = a->tc_free;
  a->tc_free = tc;
}

void hak_tcache_exit(hak_tcache *tc) {
  hak_allocator *a = tc->alloc;
  uint32_t orphaned = 0, released = 0, tid = tc->tid;
  HAK_DEBUG_CHECK_THREAD(a, tc);
  for (uint32_t c = 0; c < a->class_count; c++) {
    hak_class_cache *cc = &tc->cls[c];
    if (cc->nslabs == 0 && !cc->home) continue; /* never used: no lock to take */
    pthread_mutex_lock(&a->classes[c].lock);
    orphaned += exit_class(a, tc, c, &released);
    pthread_mutex_unlock(&a->classes[c].lock);
  }
  hak_gstat_add(&a->g.slabs_orphaned, orphaned);
  hak_gstat_add(&a->g.slabs_released, released);
  hak_gstat_add(&a->g.threads_exited, 1);
  if (hak_tl_last.tc == tc) {
    hak_tl_last.instance_id = hak_tl_last.fast_free_id = 0;
    hak_tl_last.tc = NULL;
  }
  pthread_mutex_lock(&a->map_lock);
  tcache_retire(a, tc);
  pthread_mutex_unlock(&a->map_lock);
  if (HAK_OBS(a, thread_exit)) a->obs.thread_exit(a->obs.ctx, tid, orphaned, released);
}

/* The pthread key destructor: the real end of the thread. */
void hak_tcache_exit_thread(hak_tcache *tc) {
  hak_tl_last.exited_instance = tc->alloc->instance_id;
  hak_tcache_exit(tc);
}

void hak_thread_detach(hak_allocator *a) {
  hak_tcache *tc = pthread_getspecific(a->key);
  if (!tc) return;
  pthread_setspecific(a->key, NULL);
  hak_tcache_exit(tc);
}

uint32_t hak_thread_id(hak_allocator *a) {
  hak_tcache *tc = hak_tcache_get(a);
  return tc ? tc->tid : 0;
}

/* hak_destroy: forget every live thread cache without running exit paths
 * (their memory is about to be unmapped anyway). */
void hak_tcache_release_all(hak_allocator *a) {
  pthread_mutex_lock(&a->map_lock);
  while (a->threads) tcache_retire(a, a->threads);
  void *chunk = a->meta_chunks;
  while (chunk) {
    void *next = *(void **)chunk;
    hak_os_unmap(a, chunk, HAK_META_CHUNK);
    chunk = next;
  }
  a->meta_chunks = a->tc_free = NULL;
  a->meta_bump = a->meta_end = NULL;
  pthread_mutex_unlock(&a->map_lock);
  if (hak_tl_last.instance_id == a->instance_id) {
    hak_tl_last.instance_id = hak_tl_last.fast_free_id = 0;
    hak_tl_last.tc = NULL;
  }
}
