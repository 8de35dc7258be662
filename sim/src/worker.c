/* worker.c: one real thread per trace thread. A worker runs the batches
 * queued for it, in order, each op calling the allocator from this very
 * thread (so a free of another thread's block is a real remote push), and
 * returns from its thread function at the trace's thread_exit, which runs
 * the allocator's exit path (orphaning) through its pthread key destructor.
 *
 * Every block gets its first and last byte written with a value derived
 * from its trace id; both are checked before the block is freed or
 * reallocated, so an allocator that hands the same memory out twice is
 * caught at the event where it shows.
 *
 * In free mode a free may reach a worker before the alloc it depends on
 * has run in another worker: it waits on the slot's ready flag. The
 * earliest pending op in trace order never waits, so this cannot deadlock.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

_Thread_local int64_t hr_tl_trace_tid = -1;
_Thread_local uint64_t hr_tl_t;

static uint8_t first_byte(uint64_t id) { return (uint8_t)(id * 0x9E3779B97F4A7C15ULL >> 56); }
static uint8_t last_byte(uint64_t id) { return (uint8_t)~first_byte(id + 1); }

/* Records the first failure: "block ID: what" (the caller adds file and
 * event index). */
static void fail(hr_worker *w, const hr_op *op, int kind, const char *what) {
  pthread_mutex_lock(&w->lock);
  atomic_store(&w->run->abort, true);
  if (!w->fail) {
    w->fail = kind;
    w->fail_t = op->t;
    snprintf(w->fail_msg, sizeof w->fail_msg, "block %llu: %s", (unsigned long long)op->id,
             what);
  }
  pthread_mutex_unlock(&w->lock);
}

/* A 1-byte block has one byte to mark: its first. */
static void mark(void *p, uint64_t size, uint64_t id) {
  if (!size) return;
  ((uint8_t *)p)[0] = first_byte(id);
  if (size > 1) ((uint8_t *)p)[size - 1] = last_byte(id);
}

static bool intact(const hr_block *b, uint64_t id) {
  if (!b->size) return true;
  const uint8_t *p = b->ptr;
  return p[0] == first_byte(id) && (b->size == 1 || p[b->size - 1] == last_byte(id));
}

/* Free mode: wait until the alloc of this slot has run; false if another
 * worker failed (the alloc may never run). */
static bool wait_ready(hr_run *run, hr_block *b) {
  for (unsigned spins = 0; !atomic_load_explicit(&b->ready, memory_order_acquire); spins++) {
    if (atomic_load_explicit(&run->abort, memory_order_relaxed)) return false;
    if (spins > 64) sched_yield();
  }
  return true;
}

static void record_new(hr_run *run, hr_block *b, void *p, uint64_t size, uint32_t tid) {
  b->ptr = p;
  b->size = size;
  b->usable = 0;
  b->ss_id = hak_ss_id_of(run->alloc, p, &b->slab, &b->usable);
  hr_truth_alloc(&run->truth, b);
  atomic_store_explicit(&b->ready, 1, memory_order_release);
}

/* Freed slots go to a local list, handed to the coordinator (under the
 * worker's lock) once per batch. */
static void remember_freed(hr_worker *w, uint32_t slot) {
  if (w->nlocal == w->local_cap) {
    uint64_t ncap = w->local_cap ? w->local_cap * 2 : 1024;
    uint32_t *n = realloc(w->local_freed, ncap * sizeof *n);
    if (!n) abort(); /* out of memory in the replayer itself */
    w->local_freed = n;
    w->local_cap = ncap;
  }
  w->local_freed[w->nlocal++] = slot;
}

/* Worker lock held. */
static void publish_freed(hr_worker *w) {
  if (w->nlocal == 0) return; /* (also: no memcpy from a NULL list) */
  if (w->nfreed + w->nlocal > w->freed_cap) {
    uint64_t ncap = w->freed_cap ? w->freed_cap : 1024;
    while (ncap < w->nfreed + w->nlocal) ncap *= 2;
    uint32_t *n = realloc(w->freed, ncap * sizeof *n);
    if (!n) abort();
    w->freed = n;
    w->freed_cap = ncap;
  }
  memcpy(w->freed + w->nfreed, w->local_freed, w->nlocal * sizeof *w->freed);
  w->nfreed += w->nlocal;
  w->nlocal = 0;
}

/* Runs one op; false when the batch must stop. */
static bool run_op(hr_worker *w, const hr_op *op) {
  hr_run *run = w->run;
  hak_allocator *a = run->alloc;
  hr_tl_t = op->t;
  void *p;
  switch (op->op) {
  case HT_OP_ALLOC:
  case HT_OP_CALLOC:
  case HT_OP_MEMALIGN: {
    uint64_t size = op->op == HT_OP_CALLOC ? op->n * op->size : op->size;
    p = op->op == HT_OP_ALLOC    ? hak_malloc(a, op->size)
        : op->op == HT_OP_CALLOC ? hak_calloc(a, op->n, op->size)
                                 : hak_memalign(a, op->align, op->size);
    if (!p) {
      fail(w, op, HR_FAIL_OOM, "allocation failed (ENOMEM)");
      return false;
    }
    if (op->op == HT_OP_CALLOC)
      for (uint64_t i = 0; i < size; i += 4096)
        if (((uint8_t *)p)[i]) {
          fail(w, op, HR_FAIL_CORRUPT, "calloc returned memory that is not zeroed");
          return false;
        }
    mark(p, size, op->id);
    record_new(run, hr_block_at(&run->blocks, op->slot), p, size, w->tid);
    return true;
  }
  case HT_OP_FREE: {
    hr_block *b = hr_block_at(&run->blocks, op->slot);
    if (!wait_ready(run, b)) return false;
    if (op->t == run->opt->inject_overwrite && op->t && b->size) ((uint8_t *)b->ptr)[0] ^= 0xff;
    if (!intact(b, op->id)) {
      fail(w, op, HR_FAIL_CORRUPT,
           "overwritten before its free: the allocator handed its memory out twice");
      return false;
    }
    hr_truth_free_block(&run->truth, b);
    atomic_store_explicit(&b->ready, 0, memory_order_relaxed);
    if (hak_free(a, b->ptr) != 0) {
      fail(w, op, HR_FAIL_CORRUPT, "the allocator refused to free it (foreign pointer)");
      return false;
    }
    remember_freed(w, op->slot);
    return true;
  }
  case HT_OP_REALLOC: {
    hr_block *old = hr_block_at(&run->blocks, op->slot);
    if (!wait_ready(run, old)) return false;
    if (op->t == run->opt->inject_overwrite && op->t && old->size) ((uint8_t *)old->ptr)[0] ^= 0xff;
    if (!intact(old, op->id)) {
      fail(w, op, HR_FAIL_CORRUPT,
           "overwritten before its realloc: the allocator handed its memory out twice");
      return false;
    }
    uint8_t keep = old->size ? ((uint8_t *)old->ptr)[0] : 0;
    hr_block prev = *old;
    hr_truth_free_block(&run->truth, old);
    atomic_store_explicit(&old->ready, 0, memory_order_relaxed);
    p = hak_realloc(a, prev.ptr, op->size ? op->size : 1);
    if (!p) { /* the old block stays live, as realloc promises */
      hr_truth_alloc(&run->truth, old);
      atomic_store_explicit(&old->ready, 1, memory_order_relaxed);
      fail(w, op, HR_FAIL_OOM, "realloc failed (ENOMEM)");
      return false;
    }
    if (prev.size && op->size && ((uint8_t *)p)[0] != keep) {
      fail(w, op, HR_FAIL_CORRUPT, "realloc lost the block's contents");
      return false;
    }
    mark(p, op->size, op->new_id);
    record_new(run, hr_block_at(&run->blocks, op->slot2), p, op->size, w->tid);
    remember_freed(w, op->slot);
    return true;
  }
  default:
    return true;
  }
}

/* The coordinator's HR_OP_STARTED: the thread's mappings count against
 * the map limit from now on (--thread-maps), and its start is logged. */
static void run_started(hr_run *run, const hr_op *op) {
  hak_set_extra_maps(run->alloc, run->opt->thread_maps * op->n);
  json_t *ev = json_pack("{ss sI sI}", "type", "thread_start", "t", (json_int_t)op->t, "thread",
                         (json_int_t)op->tid);
  json_object_set_new(ev, "parent", op->tid == 0 ? json_null() : json_integer((json_int_t)op->id));
  hr_events_add(&run->events, ev);
}

static hr_batch *next_batch(hr_worker *w) {
  pthread_mutex_lock(&w->lock);
  while (!w->head) {
    w->sleeping = true;
    pthread_cond_wait(&w->cond, &w->lock);
  }
  w->sleeping = false;
  hr_batch *b = w->head;
  pthread_mutex_unlock(&w->lock);
  return b;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* Waits until the turn reaches seq. While it is the next in line the
 * worker spins briefly (the turn often comes within microseconds and a
 * sleeping worker costs a futex wake on the critical path; measured on a
 * loaded 2-CPU machine, 1,000 pauses beat both no spinning and 20,000,
 * which starves the turn holder when other processes want the CPUs);
 * otherwise it sleeps:
 * on two cores, more spinners would take the CPU from the worker that
 * holds the turn. The holder wakes its successor when it takes the turn
 * (hr_wake_next), so the successor is spinning by the time it is needed. */
static void wait_my_turn(hr_worker *w, uint64_t seq) {
  hr_run *run = w->run;
  for (;;) {
    for (unsigned i = 0; i < 1000; i++) {
      uint64_t turn = atomic_load_explicit(&run->turn, memory_order_acquire);
      if (turn == seq) return;
      if (turn + 1 != seq) break;
      cpu_relax();
    }
    pthread_mutex_lock(&w->lock);
    atomic_store(&w->waiting_turn, true);
    if (atomic_load(&run->turn) != seq) pthread_cond_wait(&w->cond, &w->lock);
    atomic_store(&w->waiting_turn, false);
    pthread_mutex_unlock(&w->lock);
    if (atomic_load(&run->turn) == seq) return;
  }
}

/* Wakes the owner of batch seq if it sleeps waiting for its turn. */
static void wake_owner(hr_run *run, uint64_t seq) {
  if (seq >= atomic_load(&run->assigned)) return; /* not queued yet: submit wakes it */
  hr_worker *next = atomic_load(&run->owner[seq % HR_RING]);
  if (!atomic_load(&next->waiting_turn)) return;
  pthread_mutex_lock(&next->lock);
  pthread_cond_broadcast(&next->cond);
  pthread_mutex_unlock(&next->lock);
}

void hr_pass_turn(hr_run *run, uint64_t seq) {
  atomic_store(&run->turn, seq);
  wake_owner(run, seq);
  if (atomic_load(&run->coord_waiting) && seq >= atomic_load(&run->coord_wait_for)) {
    pthread_mutex_lock(&run->turn_lock);
    pthread_cond_broadcast(&run->turn_cond);
    pthread_mutex_unlock(&run->turn_lock);
  }
}

void hr_wait_turn(hr_run *run, uint64_t seq) {
  for (unsigned i = 0; i < 2000; i++) {
    if (atomic_load_explicit(&run->turn, memory_order_acquire) >= seq) return;
    cpu_relax();
  }
  pthread_mutex_lock(&run->turn_lock);
  atomic_store(&run->coord_wait_for, seq);
  while (atomic_load(&run->turn) < seq) {
    atomic_store(&run->coord_waiting, true);
    if (atomic_load(&run->turn) >= seq) break;
    pthread_cond_wait(&run->turn_cond, &run->turn_lock);
  }
  atomic_store(&run->coord_waiting, false);
  pthread_mutex_unlock(&run->turn_lock);
}

static void *worker_main(void *arg) {
  hr_worker *w = arg;
  hr_run *run = w->run;
  bool det = run->opt->deterministic;
  hr_tl_trace_tid = w->tid;
  for (;;) {
    hr_batch *b = next_batch(w);
    if (det) {
      wait_my_turn(w, b->seq);
      wake_owner(run, b->seq + 1); /* let the next in line start spinning */
    }
    bool ok = !atomic_load(&run->abort);
    for (uint32_t i = 0; ok && i < b->n; i++) {
      if (b->ops[i].op == HR_OP_STARTED) run_started(run, &b->ops[i]);
      else ok = run_op(w, &b->ops[i]);
    }
    pthread_mutex_lock(&w->lock);
    publish_freed(w);
    w->head = b->next;
    if (!w->head) w->tail = NULL;
    atomic_fetch_add(&w->completed, 1);
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    bool exit_now = b->exit_after;
    uint64_t seq = b->seq;
    if (exit_now) hr_tl_t = b->exit_t;
    free(b->ops);
    free(b);
    /* An exiting thread keeps the turn: its exit path (orphaning) runs
     * after this function returns, and the coordinator passes the turn on
     * once it has joined the thread. */
    if (exit_now) break;
    if (det) hr_pass_turn(run, seq + 1);
  }
  return NULL;
}

int hr_worker_start(hr_run *run, uint32_t tid) {
  hr_worker *w = calloc(1, sizeof *w);
  if (!w) return -1;
  w->run = run;
  w->tid = tid;
  pthread_mutex_init(&w->lock, NULL);
  pthread_cond_init(&w->cond, NULL);
  if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
    free(w);
    return -1;
  }
  run->workers[tid] = w;
  return 0;
}

void hr_worker_submit(hr_worker *w, hr_batch *b) {
  b->next = NULL;
  pthread_mutex_lock(&w->lock);
  if (w->tail) w->tail->next = b; else w->head = b;
  w->tail = b;
  w->queued++;
  if (w->sleeping) pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->lock);
}

/* Free mode: waits until every batch queued to w has run. */
void hr_worker_wait(hr_worker *w) {
  pthread_mutex_lock(&w->lock);
  while (atomic_load(&w->completed) < w->queued) pthread_cond_wait(&w->cond, &w->lock);
  pthread_mutex_unlock(&w->lock);
}

/* Joins the thread and gives back its buffers (a trace may start
 * millions of threads; only the small struct stays, for its failure). */
void hr_worker_join(hr_worker *w) {
  if (w->joined) return;
  pthread_join(w->thread, NULL);
  w->joined = true;
  hr_worker_collect(w);
  free(w->freed);
  free(w->local_freed);
  w->freed = w->local_freed = NULL;
  w->freed_cap = w->local_cap = w->nlocal = 0;
}

int hr_worker_collect(hr_worker *w) {
  pthread_mutex_lock(&w->lock);
  for (uint64_t i = 0; i < w->nfreed; i++) hr_blocks_recycle(&w->run->blocks, w->freed[i]);
  w->nfreed = 0;
  int f = w->fail;
  pthread_mutex_unlock(&w->lock);
  return f;
}
