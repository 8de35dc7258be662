/* det.c: deterministic mode. One turn, passed along the trace: whoever
 * holds it runs the trace's events in order while they are its own trace
 * thread's, then gives the turn to the owner of the next one. So the
 * allocator sees exactly the trace's global order, and every number in
 * run.json outside `host` is a function of the trace and the configuration.
 *
 * The holder does the replay's shared work itself: it runs thread starts
 * (binding a pool thread to the new trace thread) and, at logical times
 * (the event index), trims and samples, between two events, with every
 * other thread waiting for the turn. A thread's exit runs on its own OS
 * thread, in turn. No other thread calls the allocator, so the block
 * table, the pool and the truth need no lock: the turn's release/acquire
 * orders one holder's writes before the next's reads.
 *
 * The trace is read ahead into the window (feed.c) under the feed's lock:
 * by the hot waiter, a few events at a time instead of pausing (design
 * D2), or by the holder when it finds the window empty (design D1, the
 * only one with one CPU or --no-help). fed, runs and status publish what
 * the reader resolved; done tells it which ring entries the holder has
 * read. Before running an op the holder prefetches what the same thread's
 * frees a few ops ahead will read.
 *
 * Before giving the turn, the holder looks at the runs ahead: the owner of
 * the run after the next is heated (it pauses, so it is likely on a CPU
 * when its turn comes), and the holder itself parks if its own next run is
 * not among the next HR_NEAR_RUNS. The coordinator (the process's main
 * thread) starts the first holder, then sleeps until one hands it the turn
 * at the end, printing progress meanwhile.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

#define HR_NEAR_RUNS 16 /* a waiter whose run is further away parks */
#define HR_HELP_CHUNK 8 /* events a helper reads ahead at a time */

/* Logical-time duties before event t: trim (a mesh pass first, under
 * compaction=mesh: mesh.c), then sample. Done by the holder as the
 * replayer, not as its trace thread (observers see no thread and the
 * coordinator's clock). */
static int duties(hr_run *run, uint64_t t) {
  hr_det *d = &run->det;
  bool trim = run->trim_every && t % run->trim_every == 0;
  bool sample = t % run->sample_every == 0;
  d->next_duty = UINT64_MAX;
  if (run->trim_every) d->next_duty = (t / run->trim_every + 1) * run->trim_every;
  uint64_t ns = (t / run->sample_every + 1) * run->sample_every;
  if (ns < d->next_duty) d->next_duty = ns;
  int64_t tid = hr_tl_trace_tid;
  hr_tl_trace_tid = -1;
  atomic_store_explicit(&run->t_now, t, memory_order_relaxed);
  int rc = 0;
  if (trim) {
    hr_mesh_pass(run);
    hak_trim(run->alloc, NULL, NULL, 0);
  }
  if (sample) rc = hr_sample(run, t);
  hr_tl_trace_tid = tid;
  return rc;
}

static int start_thread(hr_run *run, uint32_t tid, uint32_t parent, uint64_t t) {
  hr_worker *w = hr_pool_get(&run->pool);
  if (!w) {
    hr_thread_start_failed(run, tid, t);
    return -1;
  }
  w->tid = tid;
  run->det.worker_of[tid] = w;
  if (!run->det.bound) run->det.bound = w; /* roused after the next hand-off */
  hr_thread_started(run, tid, parent, t);
  return 0;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --turn-stats: how long the turn took to reach its new holder. */
static void took_turn(hr_turn_stats *st) {
  uint64_t dt = now_ns() - st->given_at;
  st->given_at = 0;
  st->latency_ns += dt;
  unsigned b = 0;
  while (b + 1 < HR_LATENCY_BUCKETS && (1ull << (b + 1)) <= dt) b++;
  st->latency_hist[b]++;
}

static void print_stats(hr_run *run) {
  hr_det *d = &run->det;
  const hr_turn_stats *st = &d->stats;
  uint64_t parks = 0, yields = 0;
  for (uint32_t i = 0; i < run->pool.n; i++) {
    parks += run->pool.all[i]->turn.parks;
    yields += run->pool.all[i]->turn.yields;
  }
  fprintf(stderr,
          "turn: %llu hand-offs, %.3f s in them (%.2f us each), %u pool threads, %llu parks, "
          "%llu yields, %llu of %llu events read ahead by waiters\n",
          (unsigned long long)st->passes, (double)st->latency_ns / 1e9,
          st->passes ? (double)st->latency_ns / 1e3 / (double)st->passes : 0.0, run->pool.n,
          (unsigned long long)parks, (unsigned long long)yields, (unsigned long long)st->helped,
          (unsigned long long)run->feed.fed);
  fprintf(stderr, "turn: hand-off latency, hand-offs per [2^k, 2^(k+1)) ns:");
  for (unsigned k = 0; k < HR_LATENCY_BUCKETS; k++)
    if (st->latency_hist[k]) fprintf(stderr, " %u:%llu", k, (unsigned long long)st->latency_hist[k]);
  fprintf(stderr, "\n");
}

/* Ends the holder's turn: the coordinator takes over. */
static bool end(hr_run *run, int why) {
  run->det.end = why;
  atomic_store_explicit(&run->progress, run->det.pos, memory_order_relaxed);
  hr_turn_give(run->det.coord);
  return true; /* nothing more for this worker: park */
}

/* Gives the turn to the owner of the op at pos; returns whether w's own
 * next run is far (it parks rather than yields). */
static bool pass(hr_run *run, hr_worker *w, hr_worker *next) {
  hr_det *d = &run->det;
  hr_feed *f = &run->feed;
  uint64_t runs = atomic_load_explicit(&d->runs, memory_order_acquire);
  /* A worker that ran many runs alone (a chain of threads on one pool
   * thread) left the cursor behind the runs still in the ring. */
  if (runs - d->cursor > HR_WINDOW) d->cursor = runs - HR_WINDOW;
  while (d->cursor + 1 < runs &&
         atomic_load_explicit(&f->run_start[(d->cursor + 1) % HR_RUNS], memory_order_relaxed) <= d->pos)
    d->cursor++;
  hr_worker *after = NULL;
  bool near = false; /* idle workers park: a start rouses them */
  for (uint64_t k = 1; k <= HR_NEAR_RUNS && d->cursor + k < runs; k++) {
    uint32_t tid = atomic_load_explicit(&f->run_tid[(d->cursor + k) % HR_RUNS], memory_order_relaxed);
    hr_worker *o = d->worker_of[tid];
    if (k == 1) after = o;
    if (o == w) {
      near = true;
      break;
    }
  }
  /* A pool thread bound by a start in this turn parked while idle: woken
   * after the hand-off, off the critical path (its first turn is usually
   * runs away). */
  hr_worker *bound = d->bound;
  d->bound = NULL;
  atomic_store_explicit(&run->progress, d->pos, memory_order_relaxed);
  d->stats.passes++;
  if (run->opt->turn_stats) d->stats.given_at = now_ns();
  hr_turn_give(&next->turn);
  /* From here on the shared state is the next holder's. */
  if (after && after != next && after != w) hr_turn_heat(&after->turn);
  if (bound && bound != next && bound != w) hr_turn_rouse(&bound->turn);
  return !near;
}

/* The feed's lock: held by the holder when it reads ahead itself, or by a
 * waiter reading ahead for it. */
static bool feed_trylock(hr_det *d) {
  return !atomic_load_explicit(&d->feeding, memory_order_relaxed) &&
         !atomic_exchange_explicit(&d->feeding, 1, memory_order_acquire);
}

static void feed_unlock(hr_det *d) { atomic_store_explicit(&d->feeding, 0, memory_order_release); }

/* Feed locked: reads up to n more events, never more than a window past
 * the holder, and publishes them. */
static void fill(hr_run *run, uint64_t n) {
  hr_det *d = &run->det;
  hr_feed *f = &run->feed;
  uint64_t limit = atomic_load_explicit(&d->done, memory_order_acquire) + HR_WINDOW;
  hr_feed_fill(f, f->fed + n < limit ? f->fed + n : limit);
  atomic_store_explicit(&d->runs, f->runs, memory_order_release);
  atomic_store_explicit(&d->status, f->status, memory_order_relaxed);
  atomic_store_explicit(&d->fed, f->fed, memory_order_release);
}

/* A hot waiter's help (turn.c calls it instead of pausing): a few events
 * read ahead, so the holder finds them resolved. */
static bool help(void *arg) {
  hr_run *run = arg;
  hr_det *d = &run->det;
  if (atomic_load_explicit(&d->status, memory_order_relaxed)) return false;
  uint64_t ahead = atomic_load_explicit(&d->fed, memory_order_relaxed) -
                   atomic_load_explicit(&d->done, memory_order_relaxed);
  if (ahead > HR_WINDOW - HR_HELP_CHUNK || !feed_trylock(d)) return false;
  uint64_t before = run->feed.fed;
  fill(run, HR_HELP_CHUNK);
  d->stats.helped += run->feed.fed - before; /* under the feed's lock */
  feed_unlock(d);
  return true;
}

/* The holder found no event left to run: it reads ahead itself (after the
 * helper in the lock, if any, publishes). Returns the events published. */
static uint64_t refill(hr_run *run, uint64_t t) {
  hr_det *d = &run->det;
  uint64_t fed = atomic_load_explicit(&d->fed, memory_order_acquire);
  while (fed == t && !atomic_load_explicit(&d->status, memory_order_relaxed)) {
    if (feed_trylock(d)) {
      fill(run, HR_WINDOW / 2);
      feed_unlock(d);
    } else {
      hr_cpu_relax();
    }
    fed = atomic_load_explicit(&d->fed, memory_order_acquire);
  }
  return fed;
}

/* Runs the trace from pos while its ops are w's; returns whether w's next
 * turn is far. */
static bool run_turn(hr_run *run, hr_worker *w) {
  hr_det *d = &run->det;
  hr_feed *f = &run->feed;
  uint64_t fed = atomic_load_explicit(&d->fed, memory_order_acquire);
  for (;;) {
    uint64_t t = d->pos;
    if (t == fed && (fed = refill(run, t)) == t) {
      int st = atomic_load_explicit(&d->status, memory_order_relaxed);
      return end(run, st == HR_FEED_END ? HR_END_DONE : st == HR_FEED_NOMEM ? HR_END_NOMEM : HR_END_READ);
    }
    if (t == d->next_duty && duties(run, t) != 0) return end(run, HR_END_DUTY);
    const hr_op *op = &f->ring[t % HR_WINDOW];
    if (op->op == HT_OP_THREAD_START) {
      if (start_thread(run, op->tid, (uint32_t)op->aux, t) != 0) return end(run, HR_END_NOMEM);
      d->pos = t + 1;
      continue;
    }
    hr_worker *owner = d->worker_of[op->tid];
    if (owner != w) return pass(run, w, owner);
    if (op->op == HT_OP_THREAD_EXIT) {
      hr_exit_thread(run->alloc, op->tid, t);
      d->worker_of[op->tid] = NULL;
      w->tid = -1;
      hr_pool_put(&run->pool, w);
      run->threads_alive--;
    } else {
      hr_prefetch(run, t + HR_PREFETCH < fed ? &f->ring[(t + HR_PREFETCH) % HR_WINDOW] : NULL,
                  t + HR_PREFETCH / 2 < fed ? &f->ring[(t + HR_PREFETCH / 2) % HR_WINDOW] : NULL,
                  op->tid);
      hr_tl_trace_tid = op->tid;
      hr_tl_t = t;
      if (hr_exec(run, op, t, &run->failure) != 0) return end(run, HR_END_FAILED);
    }
    d->pos = t + 1;
    atomic_store_explicit(&d->done, t + 1, memory_order_release); /* ring[t] is read */
    if ((t & 0xffff) == 0) atomic_store_explicit(&run->progress, t, memory_order_relaxed);
  }
}

static void *worker_main(void *arg) {
  hr_worker *w = arg;
  hr_run *run = w->run;
  bool far = false;
  for (;;) {
    hr_turn_wait(&run->det.policy, &w->turn, far, run->det.helpers ? help : NULL, run);
    if (atomic_load_explicit(&run->det.stop, memory_order_relaxed)) break;
    if (run->det.stats.given_at) took_turn(&run->det.stats);
    far = run_turn(run, w);
  }
  return NULL;
}

int hr_det_init(hr_run *run) {
  hr_det *d = &run->det;
  d->policy = hr_turn_policy_default();
  d->helpers = d->policy.spin > 0 && !run->opt->no_help;
  d->coord = aligned_alloc(_Alignof(hr_turn_slot), sizeof *d->coord);
  d->worker_of = calloc(run->nthreads, sizeof *d->worker_of);
  if (!d->coord || !d->worker_of) return -1;
  hr_turn_slot_init(d->coord);
  d->next_duty = run->sample_every;
  if (run->trim_every && run->trim_every < d->next_duty) d->next_duty = run->trim_every;
  return hr_pool_init(&run->pool, run, worker_main);
}

int hr_det_run(hr_run *run) {
  hr_det *d = &run->det;
  /* The main trace thread runs from the start (it has no thread_start). */
  if (start_thread(run, 0, 0, 0) != 0) return HR_END_NOMEM;
  hr_turn_give(&d->worker_of[0]->turn);
  while (!hr_turn_wait_for(d->coord, 0.25))
    hr_progress(run, atomic_load_explicit(&run->progress, memory_order_relaxed), false);
  /* The feed is the coordinator's from now on (a waiter may be reading
   * ahead still): locked for good. */
  while (!feed_trylock(d)) sched_yield();
  return d->end;
}

void hr_det_stop(hr_run *run) {
  /* Every worker waits for the turn: each is given one that tells it to
   * return. Trace threads still running exit through their key destructors. */
  atomic_store(&run->det.stop, true);
  for (uint32_t i = 0; i < run->pool.n; i++) hr_turn_give(&run->pool.all[i]->turn);
  hr_pool_join(&run->pool);
  if (run->opt->turn_stats) print_stats(run);
}

void hr_det_free(hr_run *run) {
  free(run->det.coord);
  free(run->det.worker_of);
}
