/* test_stress.c: many threads on fresh instances, checked against ground
 * truth the test keeps itself.
 *
 * Two workloads, each under several option variants:
 *   producer_consumer - 4 producers allocate (every class, a few large
 *                       objects) and hand the blocks through locked queues
 *                       to 4 consumers that free them: every free is remote;
 *   larson            - 8 slots, each a chain of short-lived threads doing
 *                       random replace ops on the slot's blocks; a thread
 *                       starts its successor and exits with live blocks,
 *                       which the successor frees remotely (orphan paths).
 * Every live block is claimed in an ownership table (a second hand-out of
 * a live address fails) and carries a tag and a pattern checked before it
 * is freed. At quiescence (workers parked on a barrier, then joined)
 * check_quiescent compares the stats and every SuperSlab's census with the
 * test's own count of live blocks; then everything is freed, one trim pass
 * runs with empty_reserve=0, and hak_destroy must give back every mapping.
 *
 * Workers never call cmocka (it is not thread-safe): they record failures,
 * which the main thread asserts once it has joined them. Worker threads run
 * on stacks the test maps itself and glibc keeps to one malloc arena, so
 * the process's mapping count after hak_destroy is comparable with the one
 * before hak_create. HAK_STRESS_SCALE (default 1) scales the work.
 */
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "testutil.h"


/* ------------------------------------------------------------ scale */

static double stress_scale(void) {
  const char *s = getenv("HAK_STRESS_SCALE");
  double v = s && *s ? strtod(s, NULL) : 1.0;
  return v >= 0.01 ? v : 0.01;
}

static uint32_t scaled(uint32_t base, uint32_t min) {
  double v = base * stress_scale();
  return v < min ? min : (uint32_t)v;
}

/* --------------------------------------------------- worker failures */

static struct {
  atomic_uint count;
  pthread_mutex_t lock;
  char first[512];
} fails = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void stress_fail(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void stress_fail(int line, const char *fmt, ...) {
  if (atomic_fetch_add(&fails.count, 1) != 0) return;
  pthread_mutex_lock(&fails.lock);
  int n = snprintf(fails.first, sizeof fails.first, "line %d: ", line);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(fails.first + n, sizeof fails.first - (size_t)n, fmt, ap);
  va_end(ap);
  pthread_mutex_unlock(&fails.lock);
}

#define CHECK(cond, ...)                                  \
  do {                                                    \
    if (!(cond)) stress_fail(__LINE__, __VA_ARGS__);      \
  } while (0)

static void assert_no_failures(void) {
  unsigned n = atomic_load(&fails.count);
  if (!n) return;
  char first[sizeof fails.first];
  pthread_mutex_lock(&fails.lock);
  memcpy(first, fails.first, sizeof first);
  pthread_mutex_unlock(&fails.lock);
  fail_msg("%u failure(s) in worker threads; first: %s", n, first);
}

static void failures_reset(void) {
  pthread_mutex_lock(&fails.lock);
  fails.first[0] = '\0';
  atomic_store(&fails.count, 0);
  pthread_mutex_unlock(&fails.lock);
}

/* ---------------------------------------------------------- random */

static uint64_t rng_next(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1DULL;
}

/* ------------------------------------------------- ownership table */

/* Live block address -> tag. Striped locks over open-addressed tables
 * with backward-shift deletion (no tombstones to pile up). */
#define OWN_STRIPE_BITS 6
#define OWN_SLOT_BITS 11
#define OWN_SLOTS (1u << OWN_SLOT_BITS)
#define OWN_MASK (OWN_SLOTS - 1)

typedef struct own_stripe {
  pthread_mutex_t lock;
  uint32_t used;
  uintptr_t key[OWN_SLOTS];
  uint64_t tag[OWN_SLOTS];
} own_stripe;

static own_stripe own[1u << OWN_STRIPE_BITS];

static uint64_t own_hash(uintptr_t p) { return (uint64_t)(p >> 3) * 0x9E3779B97F4A7C15ULL; }
static own_stripe *own_stripe_of(uint64_t h) { return &own[h >> (64 - OWN_STRIPE_BITS)]; }
static uint32_t own_home(uint64_t h) {
  return (uint32_t)(h >> (64 - OWN_STRIPE_BITS - OWN_SLOT_BITS)) & OWN_MASK;
}

static void own_init(void) {
  for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) pthread_mutex_init(&own[i].lock, NULL);
}

static void own_reset(void) {
  for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
    own[i].used = 0;
    memset(own[i].key, 0, sizeof own[i].key);
  }
}

static uint64_t own_count(void) {
  uint64_t n = 0;
  for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) n += own[i].used;
  return n;
}

/* Claims p for tag; false (and a failure) if p is already live. */
static bool own_claim(void *p, uint64_t tag) {
  uintptr_t k = (uintptr_t)p;
  uint64_t h = own_hash(k);
  own_stripe *s = own_stripe_of(h);
  bool ok = true;
  pthread_mutex_lock(&s->lock);
  if (s->used >= OWN_SLOTS * 3 / 4) {
    stress_fail(__LINE__, "ownership table stripe full");
    ok = false;
  } else {
    for (uint32_t i = own_home(h);; i = (i + 1) & OWN_MASK) {
      if (s->key[i] == k) {
        stress_fail(__LINE__, "%p handed out twice: live with tag %#llx, again as %#llx", p,
                    (unsigned long long)s->tag[i], (unsigned long long)tag);
        ok = false;
        break;
      }
      if (s->key[i] == 0) {
        s->key[i] = k;
        s->tag[i] = tag;
        s->used++;
        break;
      }
    }
  }
  pthread_mutex_unlock(&s->lock);
  return ok;
}

/* Releases p, which must be live with this tag. */
static bool own_release(void *p, uint64_t tag) {
  uintptr_t k = (uintptr_t)p;
  uint64_t h = own_hash(k);
  own_stripe *s = own_stripe_of(h);
  bool ok = false;
  pthread_mutex_lock(&s->lock);
  uint32_t i = own_home(h);
  while (s->key[i] != 0 && s->key[i] != k) i = (i + 1) & OWN_MASK;
  if (s->key[i] != k) {
    stress_fail(__LINE__, "freeing %p (tag %#llx) that is not live", p, (unsigned long long)tag);
  } else if (s->tag[i] != tag) {
    stress_fail(__LINE__, "%p is live as tag %#llx, freed as %#llx", p,
                (unsigned long long)s->tag[i], (unsigned long long)tag);
  } else {
    ok = true;
    /* Backward-shift: pull later entries of the run into the hole unless
     * their home lies cyclically in (hole, j]. */
    for (uint32_t j = i;;) {
      j = (j + 1) & OWN_MASK;
      if (s->key[j] == 0) break;
      uint32_t home = own_home(own_hash(s->key[j]));
      bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (stays) continue;
      s->key[i] = s->key[j];
      s->tag[i] = s->tag[j];
      i = j;
    }
    s->key[i] = 0;
    s->used--;
  }
  pthread_mutex_unlock(&s->lock);
  return ok;
}

/* ---------------------------------------------------------- blocks */

typedef struct blk {
  void *p;
  uint32_t size; /* requested bytes, >= 8 */
  uint64_t tag;  /* thread serial << 32 | sequence */
} blk;

static uint8_t pattern_seed(uint64_t tag) { return (uint8_t)(tag ^ (tag >> 32) ^ (tag >> 11)); }

static void blk_fill(const blk *b) {
  memcpy(b->p, &b->tag, sizeof b->tag);
  uint8_t *c = b->p, v = pattern_seed(b->tag);
  for (uint32_t i = 8; i < b->size; i++) c[i] = (uint8_t)(v + i);
}

static bool blk_intact(const blk *b) {
  uint64_t t;
  memcpy(&t, b->p, sizeof t);
  if (t != b->tag) return false;
  const uint8_t *c = b->p;
  uint8_t v = pattern_seed(b->tag);
  for (uint32_t i = 8; i < b->size; i++)
    if (c[i] != (uint8_t)(v + i)) return false;
  return true;
}

static bool blk_alloc(hak_allocator *a, blk *b, uint32_t size, uint64_t tag) {
  b->p = NULL;
  void *p = hak_malloc(a, size);
  if (!p) {
    stress_fail(__LINE__, "hak_malloc(%u) returned NULL", size);
    return false;
  }
  size_t usable = hak_usable_size(a, p);
  CHECK(usable >= size, "hak_usable_size(%p) = %zu < %u", p, usable, size);
  if (!own_claim(p, tag)) return false; /* someone else's live block: leave it */
  b->p = p;
  b->size = size;
  b->tag = tag;
  blk_fill(b);
  return true;
}

static void blk_free(hak_allocator *a, blk *b) {
  if (!b->p) return;
  CHECK(blk_intact(b), "block %p (tag %#llx, %u bytes) changed while live", b->p,
        (unsigned long long)b->tag, b->size);
  own_release(b->p, b->tag);
  int rc = hak_free(a, b->p);
  CHECK(rc == 0, "hak_free(%p) = %d", b->p, rc);
  b->p = NULL;
}

/* The first size the large path serves (beyond the default classes). */
#define LARGE_MIN 32769u

/* 8..(8 << max_shift) bytes with every power-of-two range equally likely
 * (max_shift 7: HAKMEM's tiny classes to 1 KiB; 12: the medium classes to
 * 32 KiB too); one in large_one_in (0: never) beyond the largest class, to
 * the large path. */
static uint32_t pick_size(uint64_t *rng, uint32_t max_shift, uint32_t large_one_in) {
  uint64_t r = rng_next(rng);
  if (large_one_in && r % large_one_in == 0) return LARGE_MIN + (uint32_t)((r >> 20) % 70000);
  uint32_t sh = (uint32_t)((r >> 8) % (max_shift + 1));
  uint32_t hi = 8u << sh, lo = sh ? (hi >> 1) + 1 : 8;
  return lo + (uint32_t)((r >> 32) % (hi - lo + 1));
}

/* ------------------------------------------------------ environment */

typedef struct variant {
  const char *settings[10];
  int trim_thread;
} variant;

#define STACK_SIZE (2u << 20) /* TSan keeps ~900 KiB of TLS on it */
#define MAX_STACKS 16

/* One test's instance and everything mapped for it before the baseline. */
typedef struct stress_env {
  hak_allocator *a;
  const variant *v;
  int acct;
  bool trimmed;          /* a trim may have unmapped SuperSlabs */
  long maps_before;
  atomic_uint next_serial;
  void *stacks[MAX_STACKS];
  blk *scratch;          /* main thread's list of live blocks */
  uint32_t *live_by_id;  /* live blocks per SuperSlab id */
  size_t id_cap;
} stress_env;

static void env_open(stress_env *e, const variant *v, size_t live_cap, size_t id_cap) {
  free(e->scratch); /* left by a failed run */
  free(e->live_by_id);
  memset(e, 0, sizeof *e);
  failures_reset();
  own_reset();
  e->v = v;
  for (int i = 0; i < MAX_STACKS; i++) {
    e->stacks[i] = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    assert_true(e->stacks[i] != MAP_FAILED);
  }
  e->scratch = calloc(live_cap, sizeof *e->scratch);
  e->id_cap = id_cap;
  e->live_by_id = calloc(id_cap, sizeof *e->live_by_id);
  assert_non_null(e->scratch);
  assert_non_null(e->live_by_id);
  (void)proc_map_count(); /* the first call may set up stdio buffers */
  e->maps_before = proc_map_count();
  e->a = make_alloc(v->settings, v->trim_thread);
  e->acct = hak_get_config(e->a)->remote_accounting;
  e->trimmed = v->trim_thread != 0;
}

/* hak_destroy must leave the process's mappings as they were. Sanitizer
 * runtimes map bookkeeping for every thread created (more so for threads
 * created by threads), so there the count is not comparable. */
static void env_close(stress_env *e) {
  hak_destroy(e->a);
  long after = proc_map_count();
  for (int i = 0; i < MAX_STACKS; i++) munmap(e->stacks[i], STACK_SIZE);
  free(e->scratch);
  free(e->live_by_id);
  e->scratch = NULL;
  e->live_by_id = NULL;
#ifndef SANITIZED
  assert_int_equal(after, e->maps_before);
#else
  (void)after;
#endif
  assert_int_equal(own_count(), 0);
}

static void spawn(stress_env *e, int stack, void *(*fn)(void *), void *arg, pthread_t *out) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstack(&attr, e->stacks[stack], STACK_SIZE);
  int rc = pthread_create(out, &attr, fn, arg);
  pthread_attr_destroy(&attr);
  CHECK(rc == 0, "pthread_create: %d", rc);
}

static uint64_t new_serial(stress_env *e) {
  return (uint64_t)(atomic_fetch_add(&e->next_serial, 1) + 1) << 32;
}

/* ----------------------------------------------------- quiescence */

typedef struct census {
  const stress_env *e;
  bool no_threads;
  uint32_t count;
  uint64_t live, pending;
  uint32_t bad;
  char msg[256];
} census;

static void census_bad(census *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void census_bad(census *c, const char *fmt, ...) {
  if (c->bad++) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->msg, sizeof c->msg, fmt, ap);
  va_end(ap);
}

/* Runs with the class locks held: compares, never calls the allocator. */
static void census_visit(void *ctx, const hak_ss_info *ss) {
  census *c = ctx;
  c->count++;
  if (ss->id >= c->e->id_cap) {
    census_bad(c, "SuperSlab id %u beyond the test's map", ss->id);
    return;
  }
  uint64_t live = c->e->live_by_id[ss->id];
  int64_t tab = ss->total_active_blocks;
  c->live += live;
  c->pending += ss->remote_pending;
  switch (c->e->acct) {
  case HAK_ACCT_PUSH:
    if (tab != (int64_t)live)
      census_bad(c, "push: ss %u total_active_blocks %lld != live %llu", ss->id, (long long)tab,
                 (unsigned long long)live);
    break;
  case HAK_ACCT_DRAIN:
    if (tab != (int64_t)(live + ss->remote_pending))
      census_bad(c, "drain: ss %u total_active_blocks %lld != live %llu + pending %llu", ss->id,
                 (long long)tab, (unsigned long long)live,
                 (unsigned long long)ss->remote_pending);
    break;
  default:
    if (tab < (int64_t)(live + ss->remote_pending))
      census_bad(c, "none: ss %u total_active_blocks %lld < live %llu + pending %llu", ss->id,
                 (long long)tab, (unsigned long long)live,
                 (unsigned long long)ss->remote_pending);
  }
  if (ss->used_blocks != live + ss->remote_pending)
    census_bad(c, "ss %u used_blocks %llu != live %llu + pending %llu", ss->id,
               (unsigned long long)ss->used_blocks, (unsigned long long)live,
               (unsigned long long)ss->remote_pending);
  if (ss->used_blocks > ss->capacity)
    census_bad(c, "ss %u used_blocks %llu > capacity %u", ss->id,
               (unsigned long long)ss->used_blocks, ss->capacity);
  if (ss->slabs_owned + ss->slabs_orphaned + ss->slabs_free + ss->slabs_alias != ss->nslabs)
    census_bad(c, "ss %u slab states do not add up to %u", ss->id, ss->nslabs);
  if (c->no_threads && (ss->cached_by || ss->slabs_owned || ss->owner_alive))
    census_bad(c, "ss %u: cached_by %u, %u slabs owned, owner alive %d with no thread left",
               ss->id, ss->cached_by, ss->slabs_owned, ss->owner_alive);
}

/* At a quiescent point (no worker between calls; live_threads attached,
 * parked), checks every counter against the n live blocks the test holds. */
static void check_quiescent(stress_env *e, const blk *live, size_t n, uint64_t live_threads) {
  hak_allocator *a = e->a;
  memset(e->live_by_id, 0, e->id_cap * sizeof *e->live_by_id);
  uint64_t small = 0, large = 0;
  for (size_t i = 0; i < n; i++) {
    if (!live[i].p) continue;
    assert_true(blk_intact(&live[i]));
    if (!hak_owns(a, live[i].p)) {
      assert_true(live[i].size >= LARGE_MIN);
      assert_true(hak_usable_size(a, live[i].p) >= live[i].size);
      large++;
      continue;
    }
    hak_ss_info info;
    assert_true(hak_ss_of(a, live[i].p, &info));
    assert_true(info.id < e->id_cap);
    assert_true(info.block_size >= live[i].size);
    e->live_by_id[info.id]++;
    small++;
  }
  assert_int_equal(own_count(), small + large);

  hak_stats st;
  hak_get_stats(a, &st);
  assert_int_equal(st.allocs - st.frees_local - st.frees_remote, small);
  assert_int_equal(st.large_allocs - st.large_frees, large);
  assert_int_equal(st.threads_attached - st.threads_exited, live_threads);
  assert_true(st.drained_blocks <= st.frees_remote);

  /* The allocator's own validators: every SuperSlab, slab, list and
   * parked thread's queues. */
  char err[256] = "";
  if (hak_check(a, true, err, sizeof err) != 0) fail_msg("hak_check: %s", err);

  census c = {.e = e, .no_threads = live_threads == 0};
  hak_ss_foreach(a, census_visit, &c);
  if (c.bad) fail_msg("%u census mismatch(es); first: %s", c.bad, c.msg);
  assert_int_equal(c.live, small); /* every live block's SuperSlab was walked */
  /* Remote-pending blocks are on the census unless trim unmapped their
   * SuperSlab, which only push accounting allows. */
  if (e->acct == HAK_ACCT_PUSH && e->trimmed)
    assert_true(c.pending <= st.frees_remote - st.drained_blocks);
  else
    assert_int_equal(c.pending, st.frees_remote - st.drained_blocks);
  if (!e->v->trim_thread) { /* else a trim may run between the reads */
    assert_int_equal(c.count, st.ss_live);
    assert_int_equal(st.ss_allocated - st.ss_freed, st.ss_live);
  }
}

/* The end of every test: free what is live from the main thread (all
 * remote), detach it, trim once with empty_reserve=0, check what is left.
 * Every worker has exited. */
static void finish(stress_env *e, blk *live, size_t n) {
  hak_allocator *a = e->a;
  for (size_t i = 0; i < n; i++) blk_free(a, &live[i]);
  assert_no_failures();
  hak_thread_detach(a);
  check_quiescent(e, NULL, 0, 0);

  hak_trim_report r;
  hak_trim(a, &r, NULL, 0);
  e->trimmed = true;
  assert_int_equal(r.skipped_cached, 0);
  assert_int_equal(r.skipped_reserve, 0);
  check_quiescent(e, NULL, 0, 0);
  hak_stats st;
  hak_get_stats(a, &st);
  /* No block live: no merged slab left, one mapping per SuperSlab. */
  assert_int_equal(st.ss_mappings, st.ss_live);
  if (e->acct == HAK_ACCT_PUSH) {
    /* Exact accounting: with no block live and no thread left, every
     * SuperSlab was empty and uncached. */
    assert_int_equal(r.skipped_nonempty, 0);
    assert_int_equal(st.ss_live, 0);
    assert_int_equal(ss_count(a), 0);
    assert_int_equal(st.ss_freed, st.ss_allocated);
  } else {
    /* What survives is exactly what trim saw as non-empty. */
    assert_int_equal(ss_count(a), r.skipped_nonempty);
    assert_int_equal(st.ss_allocated - st.ss_freed, r.skipped_nonempty);
  }
}

/* ---------------------------------------------- producer-consumer */

#define PC_THREADS 4
#define PC_QCAP 64
#define PC_RESIDUAL 32 /* blocks left in each queue at each check */

typedef struct pc_queue {
  pthread_mutex_t lock;
  pthread_cond_t not_empty, not_full;
  blk ring[PC_QCAP];
  uint32_t head, count;
} pc_queue;

typedef struct pc_ctx {
  stress_env *e;
  pc_queue q[PC_THREADS];
  pthread_barrier_t park, resume;
  uint32_t per_phase; /* items each producer makes per phase (x4) */
} pc_ctx;

typedef struct pc_arg {
  pc_ctx *cx;
  uint32_t idx;
} pc_arg;

static void pc_push(pc_queue *q, const blk *b) {
  pthread_mutex_lock(&q->lock);
  while (q->count == PC_QCAP) pthread_cond_wait(&q->not_full, &q->lock);
  q->ring[(q->head + q->count) % PC_QCAP] = *b;
  q->count++;
  pthread_cond_signal(&q->not_empty);
  pthread_mutex_unlock(&q->lock);
}

static blk pc_pop(pc_queue *q) {
  pthread_mutex_lock(&q->lock);
  while (q->count == 0) pthread_cond_wait(&q->not_empty, &q->lock);
  blk b = q->ring[q->head];
  q->head = (q->head + 1) % PC_QCAP;
  q->count--;
  pthread_cond_signal(&q->not_full);
  pthread_mutex_unlock(&q->lock);
  return b;
}

static void *pc_producer(void *p) {
  pc_arg *arg = p;
  pc_ctx *cx = arg->cx;
  uint64_t serial = new_serial(cx->e), seq = 0;
  uint64_t rng = 0x9E3779B97F4A7C15ULL * (arg->idx + 1);
  for (int phase = 0; phase < 2; phase++) {
    /* Item k goes to queue (idx + k) % 4: each queue gets per_phase items
     * per phase, from every producer. */
    for (uint32_t k = 0; k < cx->per_phase; k++) {
      blk b;
      /* On failure b.p is NULL: the consumer still expects the item. */
      blk_alloc(cx->e->a, &b, pick_size(&rng, 12, 64), serial | ++seq);
      pc_push(&cx->q[(arg->idx + k) % PC_THREADS], &b);
    }
    if (phase == 0) {
      pthread_barrier_wait(&cx->park);
      pthread_barrier_wait(&cx->resume);
    }
  }
  return NULL; /* exits with blocks still in the queues: orphans */
}

static void *pc_consumer(void *p) {
  pc_arg *arg = p;
  pc_ctx *cx = arg->cx;
  pc_queue *q = &cx->q[arg->idx];
  /* Phase 0 leaves PC_RESIDUAL in the queue; phase 1 takes as many as were
   * added, so PC_RESIDUAL are left at the end too. */
  for (uint32_t k = 0; k < cx->per_phase - PC_RESIDUAL; k++) {
    blk b = pc_pop(q);
    blk_free(cx->e->a, &b);
  }
  pthread_barrier_wait(&cx->park);
  pthread_barrier_wait(&cx->resume);
  for (uint32_t k = 0; k < cx->per_phase; k++) {
    blk b = pc_pop(q);
    blk_free(cx->e->a, &b);
  }
  return NULL;
}

/* Main thread, workers parked or gone: the queues' contents are the live
 * blocks. */
static size_t pc_collect(pc_ctx *cx) {
  size_t n = 0;
  for (int i = 0; i < PC_THREADS; i++) {
    pc_queue *q = &cx->q[i];
    pthread_mutex_lock(&q->lock);
    uint32_t count = q->count;
    for (uint32_t k = 0; k < count && k < PC_RESIDUAL; k++)
      cx->e->scratch[n++] = q->ring[(q->head + k) % PC_QCAP];
    pthread_mutex_unlock(&q->lock);
    assert_int_equal(count, PC_RESIDUAL);
  }
  return n;
}

static void run_producer_consumer(const variant *v) {
  /* Static: what a failed assertion leaves behind stays reachable. */
  static pc_ctx ctx;
  static stress_env e;
  pc_ctx *cx = &ctx;
  memset(cx, 0, sizeof *cx);
  env_open(&e, v, PC_THREADS * PC_RESIDUAL, 1u << 16);
  cx->e = &e;
  cx->per_phase = (scaled(12000, 2 * PC_RESIDUAL) + 3) & ~3u;
  for (int i = 0; i < PC_THREADS; i++) {
    pthread_mutex_init(&cx->q[i].lock, NULL);
    pthread_cond_init(&cx->q[i].not_empty, NULL);
    pthread_cond_init(&cx->q[i].not_full, NULL);
  }
  pthread_barrier_init(&cx->park, NULL, 2 * PC_THREADS + 1);
  pthread_barrier_init(&cx->resume, NULL, 2 * PC_THREADS + 1);

  pc_arg args[2 * PC_THREADS];
  pthread_t th[2 * PC_THREADS];
  for (uint32_t i = 0; i < 2 * PC_THREADS; i++) {
    args[i] = (pc_arg){cx, i % PC_THREADS};
    spawn(&e, (int)i, i < PC_THREADS ? pc_producer : pc_consumer, &args[i], &th[i]);
  }
  assert_no_failures();

  /* Every worker parked: producers own slabs, consumers own none. */
  pthread_barrier_wait(&cx->park);
  size_t n = pc_collect(cx);
  bool ok = atomic_load(&fails.count) == 0;
  if (ok) check_quiescent(&e, e.scratch, n, 2 * PC_THREADS);
  pthread_barrier_wait(&cx->resume);
  for (int i = 0; i < 2 * PC_THREADS; i++) pthread_join(th[i], NULL);
  assert_no_failures();
  assert_true(ok);

  n = pc_collect(cx);
  check_quiescent(&e, e.scratch, n, 0);
  hak_stats st;
  hak_get_stats(e.a, &st);
  assert_int_equal(st.frees_local, 0); /* every free was remote */
  assert_true(st.large_allocs > 0);
  if (v->trim_thread) assert_true(st.trims > 0);
  finish(&e, e.scratch, n);

  for (int i = 0; i < PC_THREADS; i++) {
    pthread_mutex_destroy(&cx->q[i].lock);
    pthread_cond_destroy(&cx->q[i].not_empty);
    pthread_cond_destroy(&cx->q[i].not_full);
  }
  pthread_barrier_destroy(&cx->park);
  pthread_barrier_destroy(&cx->resume);
  env_close(&e);
}

/* ---------------------------------------------------------- larson */

#define LARSON_SLOTS 8

typedef struct larson_ctx larson_ctx;

typedef struct larson_slot {
  larson_ctx *cx;
  uint32_t idx;
  uint32_t gen;         /* generation of the thread running the slot */
  pthread_t prev;       /* the predecessor, joined by its successor */
  pthread_t last;       /* the final generation, joined by main */
  uint64_t rng;
  blk *arr;
} larson_slot;

struct larson_ctx {
  stress_env *e;
  uint32_t blocks, ops, gens;
  pthread_barrier_t park, resume;
  larson_slot slot[LARSON_SLOTS];
  blk *arrays;
};

static uint32_t larson_size(uint64_t *rng) {
  /* Larson's 8..128 bytes, with one op in 16 up to 1024 and one in 512
   * to the large path. */
  uint64_t r = rng_next(rng);
  if (r % 512 == 0) return pick_size(rng, 7, 1);
  return pick_size(rng, r % 16 == 1 ? 7 : 4, 0);
}

static void *larson_thread(void *p) {
  larson_slot *s = p;
  larson_ctx *cx = s->cx;
  hak_allocator *a = cx->e->a;
  if (s->gen > 0) pthread_join(s->prev, NULL);
  uint64_t serial = new_serial(cx->e), seq = 0;
  if (s->gen == 0)
    for (uint32_t i = 0; i < cx->blocks; i++)
      blk_alloc(a, &s->arr[i], larson_size(&s->rng), serial | ++seq);
  for (uint32_t o = 0; o < cx->ops; o++) {
    blk *b = &s->arr[rng_next(&s->rng) % cx->blocks];
    blk_free(a, b); /* most are the predecessors' blocks: remote frees */
    blk_alloc(a, b, larson_size(&s->rng), serial | ++seq);
    char err[256];
    if (o % 512 == 511 && hak_check_thread(a, err, sizeof err) != 0)
      stress_fail(__LINE__, "hak_check_thread: %s", err);
  }
  if (s->gen + 1 < cx->gens) {
    s->gen++;
    s->prev = pthread_self();
    pthread_t next;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    /* The successor's stack was the predecessor's, which we joined. */
    pthread_attr_setstack(&attr, cx->e->stacks[s->idx * 2 + s->gen % 2], STACK_SIZE);
    int rc = pthread_create(&next, &attr, larson_thread, s);
    pthread_attr_destroy(&attr);
    if (rc == 0) return NULL; /* exit with live blocks */
    stress_fail(__LINE__, "pthread_create: %d", rc);
    s->gen = cx->gens - 1;
  }
  s->last = pthread_self();
  pthread_barrier_wait(&cx->park);
  pthread_barrier_wait(&cx->resume);
  return NULL;
}

static size_t larson_collect(larson_ctx *cx) {
  size_t n = 0;
  for (int i = 0; i < LARSON_SLOTS; i++)
    for (uint32_t k = 0; k < cx->blocks; k++)
      if (cx->slot[i].arr[k].p) cx->e->scratch[n++] = cx->slot[i].arr[k];
  return n;
}

static void run_larson(const variant *v) {
  static larson_ctx ctx;
  static stress_env e;
  larson_ctx *cx = &ctx;
  free(cx->arrays); /* left by a failed run */
  memset(cx, 0, sizeof *cx);
  cx->blocks = 256;
  cx->ops = 400;
  cx->gens = scaled(40, 2);
  /* fresh+leave maps up to one SuperSlab per class per thread. */
  env_open(&e, v, LARSON_SLOTS * cx->blocks, (size_t)LARSON_SLOTS * cx->gens * 8 + 1024);
  cx->e = &e;
  cx->arrays = calloc((size_t)LARSON_SLOTS * cx->blocks, sizeof *cx->arrays);
  assert_non_null(cx->arrays);
  pthread_barrier_init(&cx->park, NULL, LARSON_SLOTS + 1);
  pthread_barrier_init(&cx->resume, NULL, LARSON_SLOTS + 1);
  for (uint32_t i = 0; i < LARSON_SLOTS; i++) {
    larson_slot *s = &cx->slot[i];
    s->cx = cx;
    s->idx = i;
    s->rng = 0x2545F4914F6CDD1DULL * (i + 7);
    s->arr = cx->arrays + (size_t)i * cx->blocks;
    pthread_t t;
    spawn(&e, (int)i * 2, larson_thread, s, &t);
  }
  assert_no_failures();

  /* The last generation of every slot is parked, holding its blocks. */
  pthread_barrier_wait(&cx->park);
  size_t n = larson_collect(cx);
  bool ok = atomic_load(&fails.count) == 0;
  if (ok) check_quiescent(&e, e.scratch, n, LARSON_SLOTS);
  pthread_barrier_wait(&cx->resume);
  for (int i = 0; i < LARSON_SLOTS; i++) pthread_join(cx->slot[i].last, NULL);
  assert_no_failures();
  assert_true(ok);

  n = larson_collect(cx);
  check_quiescent(&e, e.scratch, n, 0);
  hak_stats st;
  hak_get_stats(e.a, &st);
  assert_int_equal(st.threads_exited, (uint64_t)LARSON_SLOTS * cx->gens);
  assert_true(st.frees_remote > 0);
  assert_true(st.slabs_orphaned > 0);
  if (hak_get_config(e.a)->orphan_policy == HAK_ORPHAN_ADOPT) assert_true(st.adoptions > 0);
  /* The trim thread raced the workers: under push and fresh it unmapped
   * the dead threads' SuperSlabs that their successors' frees emptied. */
  if (v->trim_thread) assert_true(st.trims > 0);
  if (v->trim_thread && e.acct == HAK_ACCT_PUSH &&
      hak_get_config(e.a)->refill == HAK_REFILL_FRESH)
    assert_true(st.ss_freed > 0);
  finish(&e, e.scratch, n);

  pthread_barrier_destroy(&cx->park);
  pthread_barrier_destroy(&cx->resume);
  free(cx->arrays);
  cx->arrays = NULL;
  env_close(&e);
}

/* ----------------------------------------------------------- mesh */

/* compaction=mesh: MESH_THREADS workers churn blocks of 64..1024 bytes in
 * MESH_THREADS arrays; each array is cut into as many stripes, and in phase
 * p worker w takes stripe (w + p) % MESH_THREADS of every array, so the
 * blocks it frees were mostly allocated by another worker (remote frees)
 * or by itself (local). A phase refills every empty entry, then frees 96%
 * of the stripe's blocks: the slabs are left sparse, at offsets the
 * random slot order scatters. The workers then park on a barrier and the
 * main thread checks everything against its ground truth, runs hak_mesh
 * (no worker is inside the allocator) and checks again: every live block
 * intact, wherever its slab went. After the last phase the workers exit
 * with live blocks (orphans) and one more pass runs before the end. */
#define MESH_THREADS 4
#define MESH_ENTRIES 1024 /* per array */

typedef struct mesh_ctx {
  stress_env *e;
  uint32_t phases;
  pthread_barrier_t park, resume;
  blk arr[MESH_THREADS][MESH_ENTRIES];
} mesh_ctx;

typedef struct mesh_arg {
  mesh_ctx *cx;
  uint32_t idx;
} mesh_arg;

static void *mesh_worker(void *p) {
  mesh_arg *arg = p;
  mesh_ctx *cx = arg->cx;
  hak_allocator *a = cx->e->a;
  uint64_t serial = new_serial(cx->e), seq = 0;
  uint64_t rng = 0x9E3779B97F4A7C15ULL * (arg->idx + 11);
  for (uint32_t ph = 0; ph < cx->phases; ph++) {
    uint32_t stripe = (arg->idx + ph) % MESH_THREADS;
    for (int step = 0; step < 2; step++)
      for (uint32_t j = 0; j < MESH_THREADS; j++)
        for (uint32_t k = stripe; k < MESH_ENTRIES; k += MESH_THREADS) {
          blk *b = &cx->arr[j][k];
          if (step == 0 && !b->p) blk_alloc(a, b, 64 + (uint32_t)(rng_next(&rng) % 961), serial | ++seq);
          else if (step == 1 && b->p && rng_next(&rng) % 100 < 96) blk_free(a, b);
        }
    pthread_barrier_wait(&cx->park);
    pthread_barrier_wait(&cx->resume);
  }
  return NULL; /* with live blocks: their slabs are orphaned */
}

static size_t mesh_collect(mesh_ctx *cx) {
  size_t n = 0;
  for (int j = 0; j < MESH_THREADS; j++)
    for (int k = 0; k < MESH_ENTRIES; k++)
      if (cx->arr[j][k].p) cx->e->scratch[n++] = cx->arr[j][k];
  return n;
}

/* Main thread, workers parked or gone: a pass between two full checks. */
static void mesh_point(mesh_ctx *cx, uint64_t live_threads, hak_mesh_report *sum) {
  size_t n = mesh_collect(cx);
  check_quiescent(cx->e, cx->e->scratch, n, live_threads);
  hak_mesh_report r;
  assert_int_equal(hak_mesh(cx->e->a, &r), 0);
  sum->meshes += r.meshes;
  sum->moved_blocks += r.moved_blocks;
  sum->released_bytes += r.released_bytes;
  sum->candidates += r.candidates;
  check_quiescent(cx->e, cx->e->scratch, n, live_threads);
}

static void run_mesh(const variant *v) {
  static mesh_ctx ctx;
  static stress_env e;
  mesh_ctx *cx = &ctx;
  memset(cx, 0, sizeof *cx);
  env_open(&e, v, MESH_THREADS * MESH_ENTRIES, 1u << 16);
  cx->e = &e;
  cx->phases = scaled(16, 4);
  pthread_barrier_init(&cx->park, NULL, MESH_THREADS + 1);
  pthread_barrier_init(&cx->resume, NULL, MESH_THREADS + 1);
  mesh_arg args[MESH_THREADS];
  pthread_t th[MESH_THREADS];
  for (uint32_t i = 0; i < MESH_THREADS; i++) {
    args[i] = (mesh_arg){cx, i};
    spawn(&e, (int)i, mesh_worker, &args[i], &th[i]);
  }
  hak_mesh_report sum = {0};
  for (uint32_t ph = 0; ph < cx->phases; ph++) {
    pthread_barrier_wait(&cx->park);
    bool ok = atomic_load(&fails.count) == 0;
    if (ok) mesh_point(cx, MESH_THREADS, &sum);
    pthread_barrier_wait(&cx->resume);
    if (!ok) break;
  }
  for (int i = 0; i < MESH_THREADS; i++) pthread_join(th[i], NULL);
  assert_no_failures();
  mesh_point(cx, 0, &sum); /* orphans now */
  hak_stats st;
  hak_get_stats(e.a, &st);
  print_message("%u phases: %u meshes of %u candidates, %llu blocks moved, %llu bytes released, "
                "%llu unmeshes, peak %llu SuperSlab mappings for %llu SuperSlabs\n",
                cx->phases, sum.meshes, sum.candidates, (unsigned long long)sum.moved_blocks,
                (unsigned long long)sum.released_bytes, (unsigned long long)st.unmeshes,
                (unsigned long long)st.peak_ss_mappings, (unsigned long long)st.ss_peak);
  assert_true(sum.meshes > 0);
  assert_true(st.unmeshes > 0);
  assert_true(st.frees_remote > 0 && st.frees_local > 0);
  assert_int_equal(st.meshes, sum.meshes);
  finish(&e, e.scratch, mesh_collect(cx));
  hak_get_stats(e.a, &st);
  assert_int_equal(st.unmeshes, st.meshes); /* every merged slab's range is its own again */
  pthread_barrier_destroy(&cx->park);
  pthread_barrier_destroy(&cx->resume);
  env_close(&e);
}

/* --------------------------------------------------------- variants */

/* Every variant sets empty_reserve=0, so the final trim keeps nothing. */
#define V(...) {.settings = {"empty_reserve=0", __VA_ARGS__, NULL}, .trim_thread = 0}
#define V_TRIM(...) \
  {.settings = {"empty_reserve=0", "idle_trim_ms=1", "trim_ss=1", __VA_ARGS__, NULL}, \
   .trim_thread = 1}

static const variant pc_push_fresh_leave =
    V("remote_accounting=push", "refill=fresh", "orphan_policy=leave");
static const variant pc_drain_reuse_adopt =
    V("remote_accounting=drain", "refill=reuse", "orphan_policy=adopt");
static const variant pc_none_fresh_leave =
    V("remote_accounting=none", "refill=fresh", "orphan_policy=leave");
static const variant pc_trim_thread_push_adopt =
    V_TRIM("remote_accounting=push", "refill=reuse", "orphan_policy=adopt");

/* Larson maps many SuperSlabs under fresh+leave: 1 MiB ones. */
static const variant larson_push_fresh_leave =
    V("ss_lg=20", "remote_accounting=push", "refill=fresh", "orphan_policy=leave");
static const variant larson_push_reuse_adopt =
    V("ss_lg=20", "remote_accounting=push", "refill=reuse", "orphan_policy=adopt");
static const variant larson_drain_fresh_adopt =
    V("ss_lg=20", "remote_accounting=drain", "refill=fresh", "orphan_policy=adopt");
static const variant larson_drain_reuse_leave =
    V("ss_lg=20", "remote_accounting=drain", "refill=reuse", "orphan_policy=leave");
static const variant larson_none_fresh_leave =
    V("ss_lg=20", "remote_accounting=none", "refill=fresh", "orphan_policy=leave");
static const variant larson_trim_thread_push_adopt =
    V_TRIM("ss_lg=20", "remote_accounting=push", "refill=reuse", "orphan_policy=adopt");
static const variant larson_trim_thread_push_leave =
    V_TRIM("ss_lg=20", "remote_accounting=push", "refill=fresh", "orphan_policy=leave");
static const variant larson_trim_thread_drain_adopt =
    V_TRIM("ss_lg=20", "remote_accounting=drain", "refill=fresh", "orphan_policy=adopt");

/* Meshing: phase1 and adopt with meshing, as the presets mesh and
 * mesh-adopt; drain accounting; bump slot order; the trim thread racing
 * the workers between passes. */
static const variant mesh_push_fresh_leave =
    V("remote_accounting=push", "refill=fresh", "orphan_policy=leave", "compaction=mesh",
      "slot_order=random");
static const variant mesh_push_reuse_adopt =
    V("remote_accounting=push", "refill=reuse", "orphan_policy=adopt", "compaction=mesh",
      "slot_order=random");
static const variant mesh_drain_reuse_adopt =
    V("remote_accounting=drain", "refill=reuse", "orphan_policy=adopt", "compaction=mesh",
      "slot_order=random");
static const variant mesh_push_fresh_leave_bump =
    V("remote_accounting=push", "refill=fresh", "orphan_policy=leave", "compaction=mesh",
      "slot_order=bump");
static const variant mesh_trim_thread_push_adopt =
    V_TRIM("remote_accounting=push", "refill=reuse", "orphan_policy=adopt", "compaction=mesh",
           "slot_order=random");

/* ------------------------------------------------------------ tests */

/* The checker itself: a live address handed out again, a wrong tag, an
 * unknown address and a changed byte are all caught. */
static void test_stress_checker_catches_double_handout(void **state) {
  (void)state;
  failures_reset();
  own_reset();
  uint64_t buf[16] = {0};
  blk b = {buf, sizeof buf, 0x100000001ULL};
  assert_true(own_claim(buf, b.tag));
  blk_fill(&b);
  assert_true(blk_intact(&b));
  assert_false(own_claim(buf, 0x200000001ULL));
  assert_int_equal(atomic_load(&fails.count), 1);
  assert_false(own_release(buf, 0x200000001ULL));
  assert_false(own_release(buf + 1, b.tag));
  assert_int_equal(atomic_load(&fails.count), 3);
  ((uint8_t *)buf)[77] ^= 1;
  assert_false(blk_intact(&b));
  assert_true(own_release(buf, b.tag));
  assert_int_equal(own_count(), 0);
  /* Many keys colliding into one stripe survive backward-shift deletes. */
  static uintptr_t keys[1000];
  uint64_t rng = 42;
  for (int i = 0; i < 1000; i++) {
    keys[i] = (uintptr_t)(rng_next(&rng) & ~(uint64_t)7) | 8;
    assert_true(own_claim((void *)keys[i], (uint64_t)i));
  }
  for (int i = 0; i < 1000; i += 2) assert_true(own_release((void *)keys[i], (uint64_t)i));
  for (int i = 1; i < 1000; i += 2) assert_false(own_claim((void *)keys[i], 7));
  for (int i = 1; i < 1000; i += 2) assert_true(own_release((void *)keys[i], (uint64_t)i));
  assert_int_equal(own_count(), 0);
  failures_reset();
}

/* One test per workload and variant: test_stress_<workload>_<variant>. */
#define STRESS_TEST(name, run, variant) \
  static void test_stress_##name(void **state) { \
    (void)state; \
    run(&variant); \
  }

STRESS_TEST(producer_consumer_push_fresh_leave, run_producer_consumer, pc_push_fresh_leave)
STRESS_TEST(producer_consumer_drain_reuse_adopt, run_producer_consumer, pc_drain_reuse_adopt)
STRESS_TEST(producer_consumer_none_fresh_leave, run_producer_consumer, pc_none_fresh_leave)
STRESS_TEST(producer_consumer_trim_thread_push_adopt, run_producer_consumer, pc_trim_thread_push_adopt)
STRESS_TEST(larson_push_fresh_leave, run_larson, larson_push_fresh_leave)
STRESS_TEST(larson_push_reuse_adopt, run_larson, larson_push_reuse_adopt)
STRESS_TEST(larson_drain_fresh_adopt, run_larson, larson_drain_fresh_adopt)
STRESS_TEST(larson_drain_reuse_leave, run_larson, larson_drain_reuse_leave)
STRESS_TEST(larson_none_fresh_leave, run_larson, larson_none_fresh_leave)
STRESS_TEST(larson_trim_thread_push_adopt, run_larson, larson_trim_thread_push_adopt)
STRESS_TEST(larson_trim_thread_push_leave, run_larson, larson_trim_thread_push_leave)
STRESS_TEST(larson_trim_thread_drain_adopt, run_larson, larson_trim_thread_drain_adopt)
STRESS_TEST(mesh_push_fresh_leave, run_mesh, mesh_push_fresh_leave)
STRESS_TEST(mesh_push_reuse_adopt, run_mesh, mesh_push_reuse_adopt)
STRESS_TEST(mesh_drain_reuse_adopt, run_mesh, mesh_drain_reuse_adopt)
STRESS_TEST(mesh_push_fresh_leave_bump, run_mesh, mesh_push_fresh_leave_bump)
STRESS_TEST(mesh_trim_thread_push_adopt, run_mesh, mesh_trim_thread_push_adopt)

/* Eight threads make the process's first large allocations at once: under
 * TSan this catches unsynchronised one-time setup on the large path. Runs
 * first, before any other test has made a large allocation. */
static pthread_barrier_t first_large_start;

static void *first_large_thread(void *p) {
  stress_env *e = p;
  uint64_t serial = new_serial(e);
  pthread_barrier_wait(&first_large_start);
  for (uint64_t i = 1; i <= 4; i++) {
    blk b;
    if (blk_alloc(e->a, &b, (uint32_t)(LARGE_MIN * i + 8), serial | i)) blk_free(e->a, &b);
  }
  return NULL;
}

static void test_stress_concurrent_first_large_allocs(void **state) {
  (void)state;
  static const variant v = V("remote_accounting=push");
  static stress_env e;
  enum { N = 8 };
  env_open(&e, &v, 1, 1024);
  pthread_barrier_init(&first_large_start, NULL, N);
  pthread_t th[N];
  for (int i = 0; i < N; i++) spawn(&e, i, first_large_thread, &e, &th[i]);
  for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
  pthread_barrier_destroy(&first_large_start);
  assert_no_failures();
  hak_stats st;
  hak_get_stats(e.a, &st);
  assert_int_equal(st.large_allocs, 4 * N);
  assert_int_equal(st.large_frees, 4 * N);
  assert_int_equal(st.large_bytes_live, 0);
  finish(&e, NULL, 0);
  env_close(&e);
}

/* The allocator's trim thread gets a default glibc stack, which glibc
 * caches after the join: start with one cached so the mapping count
 * returns to its baseline. */
static void *noop_thread(void *p) { return p; }

static int group_setup(void **state) {
  (void)state;
  own_init();
  /* glibc allocates a new thread's TLS vector in the creating thread: one
   * arena keeps Larson's thread-made threads from mapping arenas of their
   * own, which would outlive the instance. */
  mallopt(M_ARENA_MAX, 1);
  pthread_t t;
  if (pthread_create(&t, NULL, noop_thread, NULL) != 0) return -1;
  pthread_join(t, NULL);
  return 0;
}

/* argv[1], if given, is a cmocka filter: "test_stress_larson_*". */
int main(int argc, char **argv) {
  if (argc > 1) cmocka_set_test_filter(argv[1]);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stress_checker_catches_double_handout),
      cmocka_unit_test(test_stress_concurrent_first_large_allocs),
      cmocka_unit_test(test_stress_producer_consumer_push_fresh_leave),
      cmocka_unit_test(test_stress_producer_consumer_drain_reuse_adopt),
      cmocka_unit_test(test_stress_producer_consumer_none_fresh_leave),
      cmocka_unit_test(test_stress_producer_consumer_trim_thread_push_adopt),
      cmocka_unit_test(test_stress_larson_push_fresh_leave),
      cmocka_unit_test(test_stress_larson_push_reuse_adopt),
      cmocka_unit_test(test_stress_larson_drain_fresh_adopt),
      cmocka_unit_test(test_stress_larson_drain_reuse_leave),
      cmocka_unit_test(test_stress_larson_none_fresh_leave),
      cmocka_unit_test(test_stress_larson_trim_thread_push_adopt),
      cmocka_unit_test(test_stress_larson_trim_thread_push_leave),
      cmocka_unit_test(test_stress_larson_trim_thread_drain_adopt),
      cmocka_unit_test(test_stress_mesh_push_fresh_leave),
      cmocka_unit_test(test_stress_mesh_push_reuse_adopt),
      cmocka_unit_test(test_stress_mesh_drain_reuse_adopt),
      cmocka_unit_test(test_stress_mesh_push_fresh_leave_bump),
      cmocka_unit_test(test_stress_mesh_trim_thread_push_adopt),
  };
  return cmocka_run_group_tests_name("allocator.stress", tests, group_setup, NULL);
}
