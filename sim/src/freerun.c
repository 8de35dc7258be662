/* freerun.c: free mode. The coordinator (the process's main thread) reads
 * the trace, resolves ids and appends each op to its trace thread's pool
 * worker, whose queue is single-producer single-consumer; workers run
 * concurrently and the allocator's own trim thread runs on wall-clock
 * time. Only the data dependencies of the trace are kept: a free waits
 * for its block's alloc (exec.c), which came earlier in trace order, so
 * the earliest op not yet run can always run.
 *
 * Queues are published (head stored, then a parked worker woken) when the
 * coordinator moves on to another thread's op, after HR_PUBLISH ops, and
 * before it waits for anything, so a wake-up costs a futex call per run of
 * ops at most, never per op. A freed slot is recycled once its free has
 * run (the worker's tail has passed it). Samples wait until every queue
 * is empty and idle: their ground truth is exact, as in deterministic mode.
 * That is also the one point where no worker is inside the allocator, so
 * under compaction=mesh a mesh pass runs there, before the sample (the
 * allocator's trim thread waits for it on trim_lock; mesh.c).
 */
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#define HR_PUBLISH 256 /* ops appended to one queue before it is published */

static void futex_wait(_Atomic uint32_t *addr, uint32_t val) {
  syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *addr) {
  syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* ------------------------------------------------------------ worker */

static void record_failure(hr_worker *w, const hr_failure *f) {
  if (!w->failure.kind || f->t < w->failure.t) w->failure = *f;
  atomic_store(&w->run->abort, true);
}

/* Waits until the queue holds ops past tail or the pool stops. */
static void wait_for_work(hr_worker *w, uint64_t tail) {
  hr_queue *q = &w->queue;
  hr_run *run = w->run;
  for (unsigned i = 0; i < 64; i++) {
    if (atomic_load_explicit(&q->head, memory_order_acquire) != tail) return;
    sched_yield();
  }
  atomic_store(&q->parked, 1); /* seq_cst: pairs with publish()'s head store */
  if (atomic_load(&q->head) != tail || atomic_load(&run->fr.stop)) {
    atomic_store(&q->parked, 0);
    return;
  }
  while (atomic_load(&q->parked)) futex_wait(&q->parked, 1);
}

static void *worker_main(void *arg) {
  hr_worker *w = arg;
  hr_run *run = w->run;
  hr_queue *q = &w->queue;
  uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
  for (;;) {
    uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    if (head == tail) {
      if (atomic_load(&run->fr.stop)) break;
      wait_for_work(w, tail);
      continue;
    }
    for (; tail < head; tail++) {
      const hr_qop *e = &q->ops[tail % HR_QUEUE];
      if (atomic_load_explicit(&run->abort, memory_order_relaxed)) {
        /* skipped: the replay stops at the first failure */
      } else if (e->op.op == HT_OP_THREAD_EXIT) {
        hr_exit_thread(run->alloc, e->op.tid, e->t);
      } else {
        hr_failure f;
        hr_prefetch(run, tail + HR_PREFETCH < head ? &q->ops[(tail + HR_PREFETCH) % HR_QUEUE].op : NULL,
                    tail + HR_PREFETCH / 2 < head ? &q->ops[(tail + HR_PREFETCH / 2) % HR_QUEUE].op
                                                  : NULL,
                    e->op.tid);
        hr_tl_trace_tid = e->op.tid;
        hr_tl_t = e->t;
        int rc = hr_exec(run, &e->op, e->t, &f);
        if (rc && rc != HR_FAIL_SKIPPED) record_failure(w, &f);
      }
      atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
    }
  }
  return NULL;
}

/* ------------------------------------------------------- coordinator */

static void publish(hr_worker *w) {
  hr_queue *q = &w->queue;
  if (q->unpublished == atomic_load_explicit(&q->head, memory_order_relaxed)) return;
  atomic_store(&q->head, q->unpublished); /* seq_cst: pairs with the worker's parked store */
  if (atomic_load(&q->parked)) {
    atomic_store(&q->parked, 0);
    futex_wake(&q->parked);
  }
}

static void publish_all(hr_run *run) {
  for (uint32_t i = 0; i < run->pool.n; i++) publish(run->pool.all[i]);
}

/* Slots whose frees have run go back to the table. */
static void recycle(hr_run *run) {
  hr_free *fr = &run->fr;
  while (fr->pend_head < fr->pend_tail) {
    hr_pending *p = &fr->pend[fr->pend_head % fr->pend_cap];
    if (atomic_load_explicit(&p->w->queue.tail, memory_order_acquire) <= p->pos) break;
    hr_blocks_recycle(&run->blocks, p->slot);
    fr->pend_head++;
  }
}

static int defer_recycle(hr_run *run, hr_worker *w, uint32_t slot, uint64_t pos) {
  hr_free *fr = &run->fr;
  if (fr->pend_tail - fr->pend_head == fr->pend_cap) {
    uint64_t ncap = fr->pend_cap ? fr->pend_cap * 2 : 4096;
    hr_pending *n = malloc(ncap * sizeof *n);
    if (!n) return -1;
    for (uint64_t i = fr->pend_head; i < fr->pend_tail; i++)
      n[i - fr->pend_head] = fr->pend[i % fr->pend_cap];
    free(fr->pend);
    fr->pend = n;
    fr->pend_tail -= fr->pend_head;
    fr->pend_head = 0;
    fr->pend_cap = ncap;
  }
  fr->pend[fr->pend_tail++ % fr->pend_cap] = (hr_pending){w, slot, pos};
  return 0;
}

/* Appends op (event t) to w's queue. */
static int append(hr_run *run, hr_worker *w, const hr_op *op, uint64_t t) {
  hr_free *fr = &run->fr;
  hr_queue *q = &w->queue;
  if (fr->current != w) {
    if (fr->current) publish(fr->current);
    fr->current = w;
  }
  if (q->unpublished - atomic_load_explicit(&q->tail, memory_order_acquire) == HR_QUEUE) {
    publish_all(run);
    while (q->unpublished - atomic_load_explicit(&q->tail, memory_order_acquire) == HR_QUEUE)
      sched_yield();
  }
  uint64_t pos = q->unpublished++;
  q->ops[pos % HR_QUEUE] = (hr_qop){*op, t};
  if (pos + 1 - atomic_load_explicit(&q->head, memory_order_relaxed) >= HR_PUBLISH) publish(w);
  if (op->op == HT_OP_FREE || op->op == HT_OP_REALLOC) return defer_recycle(run, w, op->slot, pos);
  return 0;
}

/* Every queued op has run (or was skipped), exits included. */
static void quiesce(hr_run *run) {
  publish_all(run);
  for (uint32_t i = 0; i < run->pool.n; i++) {
    hr_queue *q = &run->pool.all[i]->queue;
    while (atomic_load_explicit(&q->tail, memory_order_acquire) != q->unpublished) sched_yield();
  }
  recycle(run);
}

static int start_thread(hr_run *run, uint32_t tid, uint32_t parent, uint64_t t) {
  hr_worker *w = hr_pool_get(&run->pool);
  if (!w) {
    hr_thread_start_failed(run, tid, t);
    return -1;
  }
  /* Written before the queue's first publication, which the worker
   * acquires before it reads any op. */
  if (!w->queue.ops && !(w->queue.ops = malloc(HR_QUEUE * sizeof *w->queue.ops))) return -1;
  w->tid = tid;
  run->fr.worker_of[tid] = w;
  hr_thread_started(run, tid, parent, t);
  return 0;
}

/* The earliest failure of any worker, once all are quiescent. */
static void collect_failure(hr_run *run) {
  for (uint32_t i = 0; i < run->pool.n; i++) {
    const hr_failure *f = &run->pool.all[i]->failure;
    if (f->kind && (!run->failure.kind || f->t < run->failure.t)) run->failure = *f;
  }
}

int hr_free_init(hr_run *run) {
  run->fr.worker_of = calloc(run->nthreads, sizeof *run->fr.worker_of);
  if (!run->fr.worker_of) return -1;
  return hr_pool_init(&run->pool, run, worker_main);
}

int hr_free_run(hr_run *run) {
  hr_feed *f = &run->feed;
  if (start_thread(run, 0, 0, 0) != 0) return HR_END_NOMEM;
  uint64_t next_sample = run->sample_every;
  hr_op op;
  int end = HR_END_DONE;
  for (;;) {
    uint64_t t = f->fed;
    int rc = hr_feed_one(f, &op);
    if (rc) {
      end = rc == HR_FEED_END ? HR_END_DONE : rc == HR_FEED_NOMEM ? HR_END_NOMEM : HR_END_READ;
      break;
    }
    if (t == next_sample) { /* before event t, which exists: not at the end */
      next_sample += run->sample_every;
      quiesce(run);
      if (atomic_load(&run->abort)) break;
      atomic_store_explicit(&run->t_now, t, memory_order_relaxed);
      hr_mesh_pass(run); /* every worker idle: free mode's only quiescent point */
      if (hr_sample(run, t) != 0) {
        end = HR_END_DUTY;
        break;
      }
    }
    atomic_store_explicit(&run->t_now, t, memory_order_relaxed);
    if (op.op == HT_OP_THREAD_START) {
      rc = start_thread(run, op.tid, (uint32_t)op.aux, t);
    } else {
      hr_worker *w = run->fr.worker_of[op.tid];
      rc = append(run, w, &op, t);
      if (op.op == HT_OP_THREAD_EXIT) {
        run->fr.worker_of[op.tid] = NULL;
        w->tid = -1;
        hr_pool_put(&run->pool, w);
        run->threads_alive--;
      }
    }
    if (rc) {
      end = HR_END_NOMEM;
      break;
    }
    if ((t & 0xfff) == 0) {
      recycle(run);
      if (atomic_load_explicit(&run->abort, memory_order_relaxed)) break;
      if ((t & 0xffff) == 0) {
        atomic_store_explicit(&run->progress, t, memory_order_relaxed);
        hr_progress(run, t, false);
      }
    }
  }
  quiesce(run); /* after a failure too: every queued op runs or is skipped */
  atomic_store_explicit(&run->progress, f->fed, memory_order_relaxed);
  collect_failure(run);
  return run->failure.kind ? HR_END_FAILED : end;
}

void hr_free_stop(hr_run *run) {
  atomic_store(&run->fr.stop, true);
  for (uint32_t i = 0; i < run->pool.n; i++) {
    hr_queue *q = &run->pool.all[i]->queue;
    atomic_store(&q->parked, 0);
    futex_wake(&q->parked);
  }
  hr_pool_join(&run->pool);
}

void hr_free_free(hr_run *run) {
  free(run->fr.worker_of);
  free(run->fr.pend);
}
