/* child.c: an external allocator's replay, in a child process of its own
 * (hakreplay --child FD, exec'd with the allocator in LD_PRELOAD, none for
 * glibc). The parent (extrun.c) reads and resolves the trace into the op
 * ring of the shared memfd; the child runs the ops with the process's own
 * malloc, free, calloc, realloc and memalign, keeps the ground truth (live
 * blocks and requested bytes, local and remote frees), measures the
 * allocator's memory (resident.c, selfreport.c) and sends samples and
 * thread events back as records.
 *
 * The replay is deterministic mode's: every trace thread is a real OS
 * thread, and one turn (turn.c) is passed along the trace, its holder
 * running the trace's events while they are its own thread's. A trace
 * thread's exit is the OS thread's real exit: it gives the turn to the
 * coordinator (the process's main thread) and returns, so the allocator's
 * thread-exit code (jemalloc's and tcmalloc's caches flushed, mimalloc's
 * heap abandoned, glibc's tcache freed) runs, and the coordinator joins it
 * before the next event: the allocator sees the trace's order exactly.
 * Thread starts, samples and the end are the holder's duties, as in det.c.
 *
 * Nothing of the child's own calls malloc once the replay runs: its state,
 * the slot table, the threads' records and stacks are MAP_SHARED mappings
 * (shmem, which the measurement does not count), and the records go to
 * the parent through the memfd. What libc allocates for a new thread (its
 * DTV) is the allocator's, as it would be in any program; a thread's static
 * TLS sits at the top of its stack, which is the replayer's.
 *
 * Every block gets its first and last byte marked, and both are checked
 * before its free or realloc (exec.c): an allocator that hands the same
 * memory out twice is caught at the event where it shows.
 */
#include <linux/futex.h>
#include <malloc.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define HR_X_MAX_THREADS 65536u /* OS threads alive at once */
#define HR_X_LOOKAHEAD 256      /* a holder whose thread is not in the next ops parks */

typedef struct xblock {
  void *ptr;
  uint64_t size;
  uint32_t tid;                /* the trace thread that allocated it */
} xblock;

typedef struct xthr {
  hr_turn_slot turn;           /* first: its own cache line */
  pthread_t th;
  void *stack;                 /* hr_stack_size(), kept for the next thread */
  struct xthr *next_free;
} xthr;

typedef struct child {
  hr_xshm *x;
  hr_turn_policy policy;
  hr_resident res;
  hr_self self;
  xblock **chunks;             /* [HR_MAX_CHUNKS] of HR_CHUNK slots, mapped on use */
  xthr **worker_of;            /* [threads] */
  xthr *thr;                   /* [HR_X_MAX_THREADS] */
  uint32_t thr_used;
  xthr *free_thr;              /* joined: their records and stacks reused */
  xthr *coord;
  xthr *to_join;               /* exited, for the coordinator to join */
  uint64_t pos, fed, next_sample;
  uint64_t live_blocks, live_bytes, peak, frees_local, frees_remote;
  uint64_t threads_alive, threads_started;
  uint32_t os_threads;
  bool ended;
  _Atomic bool stop;
  hr_failure failure;
} child;

static child *C;

void hr_xwait(_Atomic uint32_t *word, uint32_t seen, double seconds) {
  struct timespec ts = {.tv_sec = (time_t)seconds,
                        .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)};
  syscall(SYS_futex, word, FUTEX_WAIT, seen, &ts, NULL, 0);
}

void hr_xwake(_Atomic uint32_t *word) { syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0); }

/* The child did something the parent may wait for. */
static void ring_parent(hr_xshm *x) {
  atomic_fetch_add(&x->child_bell, 1);
  if (atomic_load(&x->parent_waits)) hr_xwake(&x->child_bell);
}

/* ------------------------------------------------------------ records */

static void put_rec(const hr_xrec *r) {
  hr_xshm *x = C->x;
  uint64_t put = atomic_load_explicit(&x->recs_put, memory_order_relaxed);
  for (unsigned spins = 0; put - atomic_load(&x->recs_taken) >= HR_X_RECS; spins++) {
    if (spins < 64) {
      sched_yield();
      continue;
    }
    uint32_t seen = atomic_load(&x->parent_bell);
    atomic_store(&x->child_waits, 1);
    if (put - atomic_load(&x->recs_taken) >= HR_X_RECS) hr_xwait(&x->parent_bell, seen, 0.05);
    atomic_store(&x->child_waits, 0);
  }
  x->recs[put % HR_X_RECS] = *r;
  atomic_store_explicit(&x->recs_put, put + 1, memory_order_release);
  ring_parent(x);
}

static void thread_rec(uint32_t kind, uint32_t tid, uint32_t parent, uint64_t t) {
  hr_xrec r = {.kind = kind, .tid = tid, .parent = parent, .t = t};
  put_rec(&r);
}

static void sample(uint64_t t, bool last) {
  hr_xrec r = {.kind = HR_XREC_SAMPLE,
               .t = t,
               .live_blocks = C->live_blocks,
               .live_bytes = C->live_bytes,
               .frees_local = C->frees_local,
               .frees_remote = C->frees_remote,
               .threads_alive = C->threads_alive};
  if (hr_resident_due(&C->res, last) && hr_resident_measure(&C->res, &r.resident, &r.mapped) == 0) {
    r.measured = 1;
    hr_self_read(&C->self, r.self);
  }
  put_rec(&r);
}

/* ------------------------------------------------------------ ops */

static uint8_t first_byte(uint64_t id) { return (uint8_t)(id * 0x9E3779B97F4A7C15ULL >> 56); }
static uint8_t last_byte(uint64_t id) { return (uint8_t)~first_byte(id + 1); }

/* The block's first and last byte marked, and every page between written
 * (with 0), as the program that asked for it would use it: its resident
 * memory is then what the allocator had to provide. */
static void mark(void *p, uint64_t size, uint64_t id) {
  if (!size) return;
  uint8_t *b = p;
  b[0] = first_byte(id);
  for (uint64_t i = 4096 - ((uintptr_t)b & 4095); i + 1 < size; i += 4096) b[i] = 0;
  if (size > 1) b[size - 1] = last_byte(id);
}

static bool intact(const xblock *b, uint64_t id) {
  if (!b->size) return true;
  const uint8_t *p = b->ptr;
  return p[0] == first_byte(id) && (b->size == 1 || p[b->size - 1] == last_byte(id));
}

static xblock *slot(uint32_t s) {
  xblock **c = &C->chunks[s >> HR_CHUNK_BITS];
  if (!*c && !(*c = hr_shared_map(sizeof(xblock) << HR_CHUNK_BITS))) return NULL;
  return &(*c)[s & ((1u << HR_CHUNK_BITS) - 1)];
}

static int fail(uint64_t t, const hr_op *op, int kind, const char *what) {
  C->failure.kind = kind;
  C->failure.t = t;
  snprintf(C->failure.msg, sizeof C->failure.msg, "block %llu: %s", (unsigned long long)op->id, what);
  return kind;
}

static void born(xblock *b, void *p, uint64_t size, uint32_t tid) {
  b->ptr = p;
  b->size = size;
  b->tid = tid;
  C->live_blocks++;
  C->live_bytes += size;
  if (C->live_bytes > C->peak) C->peak = C->live_bytes;
}

static void died(const xblock *b, uint32_t tid) {
  C->live_blocks--;
  C->live_bytes -= b->size;
  if (b->tid == tid) C->frees_local++;
  else C->frees_remote++;
}

static int exec(const hr_op *op, uint64_t t) {
  xblock *b = slot(op->slot);
  if (!b) return fail(t, op, HR_FAIL_OOM, "the replayer's slot table cannot grow");
  void *p;
  switch (op->op) {
  case HT_OP_ALLOC:
  case HT_OP_CALLOC:
  case HT_OP_MEMALIGN: {
    uint64_t size = op->op == HT_OP_CALLOC ? op->aux * op->size : op->size;
    p = op->op == HT_OP_ALLOC    ? malloc(op->size)
        : op->op == HT_OP_CALLOC ? calloc(op->aux, op->size)
                                 : memalign(op->aux, op->size);
    if (!p) return fail(t, op, HR_FAIL_OOM, "allocation failed (ENOMEM)");
    if (op->op == HT_OP_CALLOC)
      for (uint64_t i = 0; i < size; i += 4096)
        if (((uint8_t *)p)[i])
          return fail(t, op, HR_FAIL_CORRUPT, "calloc returned memory that is not zeroed");
    mark(p, size, op->id);
    born(b, p, size, op->tid);
    return 0;
  }
  case HT_OP_FREE:
    if (t == C->x->inject_overwrite && t && b->size) ((uint8_t *)b->ptr)[0] ^= 0xff;
    if (!intact(b, op->id))
      return fail(t, op, HR_FAIL_CORRUPT,
                  "overwritten before its free: the allocator handed its memory out twice");
    died(b, op->tid);
    free(b->ptr);
    return 0;
  case HT_OP_REALLOC: {
    if (t == C->x->inject_overwrite && t && b->size) ((uint8_t *)b->ptr)[0] ^= 0xff;
    if (!intact(b, op->id))
      return fail(t, op, HR_FAIL_CORRUPT,
                  "overwritten before its realloc: the allocator handed its memory out twice");
    uint8_t keep = b->size ? ((uint8_t *)b->ptr)[0] : 0;
    xblock prev = *b;
    p = realloc(prev.ptr, op->size ? op->size : 1);
    if (!p) return fail(t, op, HR_FAIL_OOM, "realloc failed (ENOMEM)");
    if (prev.size && op->size && ((uint8_t *)p)[0] != keep)
      return fail(t, op, HR_FAIL_CORRUPT, "realloc lost the block's contents");
    died(&prev, op->tid);
    xblock *nb = slot(op->slot2);
    if (!nb) return fail(t, op, HR_FAIL_OOM, "the replayer's slot table cannot grow");
    mark(p, op->size, op->new_id);
    born(nb, p, op->size, op->tid);
    return 0;
  }
  default:
    return 0;
  }
}

/* ------------------------------------------------------------ threads */

static void *thr_main(void *arg);

static xthr *new_thr(void) {
  xthr *w = C->free_thr;
  if (w) {
    C->free_thr = w->next_free;
  } else {
    if (C->thr_used == HR_X_MAX_THREADS) return NULL;
    w = &C->thr[C->thr_used++];
  }
  hr_turn_slot_init(&w->turn);
  w->next_free = NULL;
  return w;
}

static int start(uint32_t tid, uint32_t parent, uint64_t t) {
  xthr *w = new_thr();
  if (!w) return -1;
  pthread_attr_t attr;
  int rc;
  if (w->stack) {
    rc = pthread_attr_init(&attr);
    if (!rc) rc = pthread_attr_setstack(&attr, (char *)w->stack + 4096, hr_stack_size() - 4096);
  } else {
    rc = hr_stack_attr(&attr, &w->stack);
  }
  if (!rc) {
    rc = pthread_create(&w->th, &attr, thr_main, w);
    pthread_attr_destroy(&attr);
  }
  if (rc) {
    w->next_free = C->free_thr;
    C->free_thr = w;
    return -1;
  }
  C->os_threads++;
  C->worker_of[tid] = w;
  C->threads_alive++;
  C->threads_started++;
  thread_rec(HR_XREC_START, tid, parent, t);
  return 0;
}

/* The op at t, once the parent has fed it; false at the end of the trace. */
static bool have(uint64_t t) {
  hr_xshm *x = C->x;
  if (t < C->fed) return true;
  for (unsigned spins = 0;; spins++) {
    C->fed = atomic_load_explicit(&x->fed, memory_order_acquire);
    if (t < C->fed) return true;
    if (atomic_load(&x->feed_end)) {
      C->fed = atomic_load_explicit(&x->fed, memory_order_acquire);
      return t < C->fed;
    }
    if (spins < 64) {
      sched_yield();
      continue;
    }
    uint32_t seen = atomic_load(&x->parent_bell);
    atomic_store(&x->child_waits, 1);
    if (atomic_load(&x->fed) <= t && !atomic_load(&x->feed_end)) hr_xwait(&x->parent_bell, seen, 0.05);
    atomic_store(&x->child_waits, 0);
  }
}

/* The last sample and the outcome, for the parent; the coordinator then
 * stops the threads. */
static void finish(int failed) {
  hr_xshm *x = C->x;
  uint64_t end_t = failed ? C->failure.t : C->pos;
  sample(end_t, true);
  x->events_done = end_t;
  x->peak_live_bytes = C->peak;
  x->threads_started = C->threads_started;
  x->live_blocks_end = C->live_blocks;
  x->frees_local = C->frees_local;
  x->frees_remote = C->frees_remote;
  x->os_threads = C->os_threads;
  x->failure = C->failure;
  C->ended = true;
  atomic_store(&x->state, HR_XSTATE_DONE);
  ring_parent(x);
}

/* Whether w's trace thread has an op in the next HR_X_LOOKAHEAD fed ones. */
static bool near(xthr *w, uint64_t from) {
  uint64_t to = from + HR_X_LOOKAHEAD < C->fed ? from + HR_X_LOOKAHEAD : C->fed;
  for (uint64_t t = from; t < to; t++) {
    const hr_op *op = &C->x->ring[t % HR_X_RING];
    if (op->op != HT_OP_THREAD_START && C->worker_of[op->tid] == w) return true;
  }
  return false;
}

static void advance(uint64_t t) {
  hr_xshm *x = C->x;
  C->pos = t + 1;
  atomic_store_explicit(&x->done, t + 1, memory_order_release);
  if (atomic_load_explicit(&x->parent_waits, memory_order_relaxed)) ring_parent(x);
}

/* Runs the trace while its ops are w's. Returns 1 when w's trace thread
 * exited (its OS thread returns), 0 when it passed the turn or the replay
 * ended; *park: w's next turn is far. */
static int run_turn(xthr *w, bool *park) {
  hr_xshm *x = C->x;
  *park = false;
  for (;;) {
    uint64_t t = C->pos;
    if (!have(t)) {
      finish(0);
      if (w != C->coord) hr_turn_give(&C->coord->turn);
      return 0;
    }
    if (t == C->next_sample) {
      sample(t, false);
      C->next_sample += x->sample_every;
    }
    const hr_op *op = &x->ring[t % HR_X_RING];
    if (op->op == HT_OP_THREAD_START) {
      if (start(op->tid, (uint32_t)op->aux, t) != 0) {
        fail(t, op, HR_FAIL_OOM, "cannot create an OS thread for it (pthread_create)");
        snprintf(C->failure.msg, sizeof C->failure.msg,
                 "trace thread %u: cannot create an OS thread for it (pthread_create; "
                 "limits: ulimit -u, /proc/sys/kernel/threads-max)", op->tid);
        C->failure.kind = HR_FAIL_CORRUPT; /* the replayer's failure: exit 4 */
        finish(1);
        if (w != C->coord) hr_turn_give(&C->coord->turn);
        return 0;
      }
      advance(t);
      continue;
    }
    xthr *owner = C->worker_of[op->tid];
    if (owner != w) {
      bool far = !near(w, t + 1);
      hr_turn_give(&owner->turn);
      *park = far;
      return 0;
    }
    if (op->op == HT_OP_THREAD_EXIT) {
      C->worker_of[op->tid] = NULL;
      C->threads_alive--;
      thread_rec(HR_XREC_EXIT, op->tid, 0, t);
      advance(t);
      C->to_join = w;
      hr_turn_give(&C->coord->turn);
      return 1;
    }
    if (exec(op, t) != 0) {
      finish(1);
      if (w != C->coord) hr_turn_give(&C->coord->turn);
      return 0;
    }
    advance(t);
  }
}

static void *thr_main(void *arg) {
  xthr *w = arg;
  bool park = false;
  for (;;) {
    hr_turn_wait(&C->policy, &w->turn, park, NULL, NULL);
    if (atomic_load(&C->stop)) return NULL;
    if (run_turn(w, &park)) return NULL;
  }
}

/* ------------------------------------------------------------ main */

static int setup_failed(hr_xshm *x, const char *msg) {
  snprintf(x->msg, sizeof x->msg, "%s", msg);
  atomic_store(&x->state, HR_XSTATE_SETUP_FAILED);
  ring_parent(x);
  return HR_EXIT_USAGE;
}

int hr_child_main(int fd) {
  hr_xshm *x = mmap(NULL, sizeof *x, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (x == MAP_FAILED) return HR_EXIT_INTERNAL;
  C = hr_shared_map(sizeof *C);
  if (!C) return setup_failed(x, "out of memory");
  C->x = x;
  const hr_allocator_info *info = hr_allocator_find(x->allocator);
  char err[300];
  if (!info) return setup_failed(x, "unknown allocator");
  if (hr_self_init(&C->self, info, x->version, sizeof x->version, x->library, sizeof x->library,
                   err, sizeof err) != 0)
    return setup_failed(x, err);
  x->nself = C->self.n;
  for (uint32_t i = 0; i < C->self.n; i++)
    snprintf(x->self_names[i], sizeof x->self_names[i], "%s", C->self.names[i]);
  if (hr_resident_init(&C->res, false) != 0) return setup_failed(x, "cannot read /proc/self");
  C->chunks = hr_shared_map(HR_MAX_CHUNKS * sizeof *C->chunks);
  C->worker_of = hr_shared_map((x->threads ? x->threads : 1) * sizeof *C->worker_of);
  C->thr = hr_shared_map(HR_X_MAX_THREADS * sizeof *C->thr);
  if (!C->chunks || !C->worker_of || !C->thr) return setup_failed(x, "out of memory");
  C->policy = hr_turn_policy_default();
  C->next_sample = x->sample_every;
  C->coord = new_thr();
  /* Once more, warm: what the measurement and the self-report cost the
   * first time (their own buffers, the allocator's statistics) is then in
   * the baseline. */
  uint64_t r, m, self[HR_SELF_MAX];
  hr_resident_measure(&C->res, &r, &m);
  hr_self_read(&C->self, self);
  if (hr_resident_baseline(&C->res) != 0) return setup_failed(x, "cannot read /proc/self");
  C->res.measured = 0;
  atomic_store(&x->state, HR_XSTATE_RUNNING);
  ring_parent(x);

  /* The main trace thread runs from the start (it has no thread_start). */
  if (start(0, 0, 0) != 0) {
    C->failure = (hr_failure){.kind = HR_FAIL_CORRUPT, .msg = "cannot create an OS thread"};
    finish(1);
  }
  bool park;
  while (!C->ended) {
    run_turn(C->coord, &park);
    if (C->ended) break;
    hr_turn_wait(&C->policy, &C->coord->turn, true, NULL, NULL);
    if (C->to_join) {
      xthr *j = C->to_join;
      C->to_join = NULL;
      pthread_join(j->th, NULL); /* its allocator's thread exit has run */
      j->next_free = C->free_thr;
      C->free_thr = j;
    }
  }
  /* Trace threads that never exited: told to return, then joined. */
  atomic_store(&C->stop, true);
  if (C->to_join) pthread_join(C->to_join->th, NULL);
  for (uint32_t i = 0; i < x->threads; i++) {
    xthr *w = C->worker_of[i];
    if (!w) continue;
    hr_turn_give(&w->turn);
    pthread_join(w->th, NULL);
  }
  return HR_EXIT_OK;
}
