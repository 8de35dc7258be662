/* bench_alloc.c (hakmem-bench): the allocator core's speed against glibc
 * malloc, in one process run.
 *
 * Measurements, each repeated --runs times (interleaved across allocators so
 * machine noise drifts over all of them alike), reported as median [min-max]
 * and the median ratio hakmem/glibc (above 1: hakmem is faster):
 *   pair16, pair64  a tight malloc/free pair loop, same thread;
 *   batch100        malloc 100 blocks of 8..128 bytes, then free them all;
 *   cross           a producer thread allocates batches of 64 blocks into a
 *                   lock-free single-producer/single-consumer ring, a
 *                   consumer thread frees them (hakmem: remote frees);
 *                   rate = frees per second of the consumer; the two are
 *                   pinned to different CPUs;
 *   larson-r1       Larson, 2 thread slots, 1024 chunks of [8,128) bytes,
 *                   1 round (the seed's churn: a new thread every 1024 ops);
 *   larson-r100     the same with 100 rounds (little thread churn).
 * Same-thread loops use one long-lived instance per configuration; the
 * multi-threaded ones a fresh instance per run (created outside the timed
 * part), so one run's orphaned slabs never slow the next.
 *
 * Each block is written through a volatile pointer and published to a
 * volatile sink, so no malloc/free pair can be optimised away.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hakmem.h"
#include "lran2.h"

#ifndef BENCH_BUILDTYPE
#define BENCH_BUILDTYPE "unknown"
#endif

#define INLINE static inline __attribute__((always_inline))
#define MAX_IMPLS 8
#define MAX_RUNS 101

static void *volatile sink;

/* An allocator under test: glibc (a == NULL) or a hakmem configuration. */
typedef struct impl {
  char name[48];
  bool hak;
  hak_config cfg;
  hak_allocator *a;             /* long-lived instance for same-thread loops */
} impl;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Calls specialised at compile time: `hak` is a constant in every caller. */
INLINE void *xmalloc(bool hak, hak_allocator *a, size_t n) {
  return hak ? hak_malloc(a, n) : malloc(n);
}
INLINE void xfree(bool hak, hak_allocator *a, void *p) {
  if (hak) hak_free(a, p);
  else free(p);
}

static void die_oom(const char *what) {
  fprintf(stderr, "hakmem-bench: %s: allocation failed\n", what);
  exit(4);
}

static hak_allocator *make_instance(const impl *im) {
  hak_allocator *a;
  char err[256];
  if (hak_create(&im->cfg, NULL, &a, err, sizeof err) != 0) {
    fprintf(stderr, "hakmem-bench: %s: %s\n", im->name, err);
    exit(4);
  }
  return a;
}

/* Sizes in [8,128], the same sequence for every allocator. */
static uint32_t sizes[256];
static void sizes_init(void) {
  uint32_t x = 2463534242u;
  for (int i = 0; i < 256; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    sizes[i] = 8 + x % 121;
  }
}

/* ------------------------------------------------------- same thread */

INLINE double pair_body(bool hak, hak_allocator *a, size_t size, uint64_t n) {
  double t0 = now();
  for (uint64_t i = 0; i < n; i++) {
    char *p = xmalloc(hak, a, size);
    if (!p) die_oom("pair");
    ((volatile char *)p)[0] = (char)i;
    sink = p;
    xfree(hak, a, p);
  }
  return (double)n / (now() - t0);
}

INLINE double batch_body(bool hak, hak_allocator *a, uint64_t batches) {
  void *blk[100];
  double t0 = now();
  for (uint64_t b = 0; b < batches; b++) {
    for (int k = 0; k < 100; k++) {
      char *p = xmalloc(hak, a, sizes[k]);
      if (!p) die_oom("batch");
      ((volatile char *)p)[0] = (char)k;
      blk[k] = p;
    }
    sink = blk[b % 100];
    for (int k = 0; k < 100; k++) xfree(hak, a, blk[k]);
  }
  return (double)(batches * 100) / (now() - t0);
}

static double pair_hak(hak_allocator *a, size_t s, uint64_t n) { return pair_body(true, a, s, n); }
static double pair_libc(size_t s, uint64_t n) { return pair_body(false, NULL, s, n); }
static double batch_hak(hak_allocator *a, uint64_t n) { return batch_body(true, a, n); }
static double batch_libc(uint64_t n) { return batch_body(false, NULL, n); }

/* ------------------------------------------------------- cross thread */

#define RING 32
#define BATCH 64

typedef struct ring_slot {
  _Alignas(64) atomic_int full;
  void *p[BATCH];
} ring_slot;

typedef struct cross {
  hak_allocator *a;             /* NULL: glibc */
  uint64_t batches;
  pthread_barrier_t go;
  ring_slot ring[RING];
  double secs;                  /* the consumer's elapsed time */
} cross;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static void wait_for(atomic_int *f, int want) {
  for (unsigned spins = 0; atomic_load_explicit(f, memory_order_acquire) != want; spins++) {
    if (spins < 256) cpu_relax();
    else sched_yield();  /* few cores, noisy neighbours: do not burn them */
  }
}

INLINE void produce_body(bool hak, cross *x) {
  for (uint64_t b = 0; b < x->batches; b++) {
    ring_slot *s = &x->ring[b % RING];
    wait_for(&s->full, 0);
    for (int k = 0; k < BATCH; k++) {
      char *p = xmalloc(hak, x->a, sizes[(b * BATCH + (uint64_t)k) % 256]);
      if (!p) die_oom("cross");
      ((volatile char *)p)[0] = (char)k;
      s->p[k] = p;
    }
    atomic_store_explicit(&s->full, 1, memory_order_release);
  }
}

INLINE void consume_body(bool hak, cross *x) {
  for (uint64_t b = 0; b < x->batches; b++) {
    ring_slot *s = &x->ring[b % RING];
    wait_for(&s->full, 1);
    for (int k = 0; k < BATCH; k++) xfree(hak, x->a, s->p[k]);
    atomic_store_explicit(&s->full, 0, memory_order_release);
  }
}

static void *producer(void *arg) {
  cross *x = arg;
  pthread_barrier_wait(&x->go);
  if (x->a) produce_body(true, x);
  else produce_body(false, x);
  return NULL;
}

static void *consumer(void *arg) {
  cross *x = arg;
  pthread_barrier_wait(&x->go);
  double t0 = now();
  if (x->a) consume_body(true, x);
  else consume_body(false, x);
  x->secs = now() - t0;
  return NULL;
}

/* The consumer and the producer run pinned to two different CPUs when the
 * process may use two: the benchmark is about frees that cross cores, and
 * left to the scheduler glibc's number swings 10x between runs (its arena
 * lock is cheap when the two threads happen to take turns on one CPU). */
static int cross_cpus[2] = {-1, -1};

static void cross_pick_cpus(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) < 2) return;
  for (int c = 0, n = 0; c < CPU_SETSIZE && n < 2; c++)
    if (CPU_ISSET(c, &set)) cross_cpus[n++] = c;
}

static double bench_cross(const impl *im, uint64_t frees) {
  cross *x = calloc(1, sizeof *x);
  if (!x) die_oom("cross setup");
  x->a = im->hak ? make_instance(im) : NULL;
  x->batches = frees / BATCH ? frees / BATCH : 1;
  pthread_barrier_init(&x->go, NULL, 2);
  pthread_t tp, tc;
  pthread_attr_t at[2];
  for (int i = 0; i < 2; i++) {
    pthread_attr_init(&at[i]);
    if (cross_cpus[i] >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cross_cpus[i], &set);
      pthread_attr_setaffinity_np(&at[i], sizeof set, &set);
    }
  }
  if (pthread_create(&tc, &at[0], consumer, x) || pthread_create(&tp, &at[1], producer, x)) {
    fprintf(stderr, "hakmem-bench: cannot create threads\n");
    exit(4);
  }
  for (int i = 0; i < 2; i++) pthread_attr_destroy(&at[i]);
  pthread_join(tp, NULL);
  pthread_join(tc, NULL);
  pthread_barrier_destroy(&x->go);
  if (x->a) hak_destroy(x->a);
  double rate = (double)(x->batches * BATCH) / x->secs;
  free(x);
  return rate;
}

/* -------------------------------------------------------------- larson */

enum { L_SLOTS = 2, L_CHUNKS = 1024, L_MIN = 8, L_MAX = 128 };

typedef struct lrun {
  hak_allocator *a;             /* NULL: glibc */
  uint32_t rounds, generations;
  void *blocks[L_SLOTS * L_CHUNKS];
  pthread_mutex_t lock;
  pthread_cond_t cond;
  uint32_t done;
} lrun;

typedef struct lslot {
  lrun *r;
  uint32_t index, gen;
  lran2 rng;
  pthread_t pred, last;
} lslot;

static void *lx_malloc(hak_allocator *a, size_t n) {
  char *p = a ? hak_malloc(a, n) : malloc(n);
  if (!p) die_oom("larson");
  p[0] = 'a';
  p[n - 1] = 'b';
  return p;
}
static void lx_free(hak_allocator *a, void *p) {
  if (a) hak_free(a, p);
  else free(p);
}

/* One Larson thread: rounds x chunks replacements, then a successor. The
 * real larson never joins; joining the predecessor bounds the threads. */
static void *lworker(void *arg) {
  lslot *s = arg;
  lrun *r = s->r;
  void **mine = r->blocks + s->index * L_CHUNKS;
  for (uint32_t i = 0; i < r->rounds * L_CHUNKS; i++) {
    long v = lran2_next(&s->rng) % L_CHUNKS;
    lx_free(r->a, mine[v]);
    mine[v] = lx_malloc(r->a, L_MIN + (size_t)(lran2_next(&s->rng) % (L_MAX - L_MIN)));
  }
  if (s->gen > 0) pthread_join(s->pred, NULL);
  pthread_t self = pthread_self();
  if (++s->gen < r->generations) {
    s->pred = self;
    pthread_t next;
    if (pthread_create(&next, NULL, lworker, s) == 0) return NULL;
    fprintf(stderr, "hakmem-bench: cannot create a larson thread\n");
    exit(4);
  }
  pthread_mutex_lock(&r->lock);
  s->last = self;
  r->done++;
  pthread_cond_signal(&r->cond);
  pthread_mutex_unlock(&r->lock);
  return NULL;
}

static double bench_larson(const impl *im, uint32_t rounds, uint64_t ops_per_slot) {
  lrun *r = calloc(1, sizeof *r);
  lslot slots[L_SLOTS];
  if (!r) die_oom("larson setup");
  r->a = im->hak ? make_instance(im) : NULL;
  r->rounds = rounds;
  r->generations = (uint32_t)(ops_per_slot / ((uint64_t)rounds * L_CHUNKS));
  if (r->generations == 0) r->generations = 1;
  pthread_mutex_init(&r->lock, NULL);
  pthread_cond_init(&r->cond, NULL);
  /* Warm-up by this thread, so the first frees are cross-thread. */
  lran2 g;
  lran2_init(&g, 12345);
  size_t n = L_SLOTS * L_CHUNKS;
  for (size_t k = 0; k < n; k++)
    r->blocks[k] = lx_malloc(r->a, L_MIN + (size_t)(lran2_next(&g) % (L_MAX - L_MIN)));
  for (size_t k = 0; k < 4 * n; k++) {
    size_t v = (size_t)(lran2_next(&g) % (long)n);
    lx_free(r->a, r->blocks[v]);
    r->blocks[v] = lx_malloc(r->a, L_MIN + (size_t)(lran2_next(&g) % (L_MAX - L_MIN)));
  }
  double t0 = now();
  for (uint32_t i = 0; i < L_SLOTS; i++) {
    slots[i] = (lslot){.r = r, .index = i};
    lran2_init(&slots[i].rng, (int)lran2_next(&g));
    pthread_t t;
    if (pthread_create(&t, NULL, lworker, &slots[i]) != 0) {
      fprintf(stderr, "hakmem-bench: cannot create a larson thread\n");
      exit(4);
    }
  }
  pthread_mutex_lock(&r->lock);
  while (r->done < L_SLOTS) pthread_cond_wait(&r->cond, &r->lock);
  pthread_mutex_unlock(&r->lock);
  for (uint32_t i = 0; i < L_SLOTS; i++) pthread_join(slots[i].last, NULL);
  double secs = now() - t0;
  for (size_t k = 0; k < n; k++) lx_free(r->a, r->blocks[k]);
  if (r->a) hak_destroy(r->a);
  pthread_cond_destroy(&r->cond);
  pthread_mutex_destroy(&r->lock);
  double rate = (double)L_SLOTS * r->generations * rounds * L_CHUNKS / secs;
  free(r);
  return rate;
}

/* ------------------------------------------------------------- driver */

enum { B_PAIR16, B_PAIR64, B_BATCH, B_CROSS, B_LARSON1, B_LARSON100, B_COUNT };
static const char *const bench_names[B_COUNT] = {
    "pair16", "pair64", "batch100", "cross", "larson-r1", "larson-r100"};
static const char *const bench_units[B_COUNT] = {
    "Mpairs/s", "Mpairs/s", "Mpairs/s", "Mfrees/s", "Mops/s", "Mops/s"};

static double measure(int b, const impl *im, double scale) {
  uint64_t pairs = (uint64_t)(10e6 * scale) + 1;
  switch (b) {
  case B_PAIR16: return im->hak ? pair_hak(im->a, 16, pairs) : pair_libc(16, pairs);
  case B_PAIR64: return im->hak ? pair_hak(im->a, 64, pairs) : pair_libc(64, pairs);
  case B_BATCH: return im->hak ? batch_hak(im->a, pairs / 100 + 1) : batch_libc(pairs / 100 + 1);
  case B_CROSS: return bench_cross(im, pairs / 5 + 1);
  case B_LARSON1: return bench_larson(im, 1, (uint64_t)(400e3 * scale) + 1);
  case B_LARSON100: return bench_larson(im, 100, (uint64_t)(1e6 * scale) + 1);
  }
  return 0;
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: hakmem-bench [--runs N] [--preset P,...] [--scale F] [--no-larson]\n"
          "                    [--only pair16,pair64,batch100,cross,larson-r1,larson-r100]\n"
          "Compares glibc malloc with hakmem (default configuration plus each preset\n"
          "given) on same-thread pairs, cross-thread frees and Larson. Prints median\n"
          "[min-max] of N runs (default 7) in millions per second, and hakmem/glibc.\n"
          "A preset P may carry options: adopt+refill=fresh+ss_lg=20.\n");
}

int main(int argc, char **argv) {
  int runs = 7;
  double scale = 1.0;
  bool larson = true, want[B_COUNT];
  for (int b = 0; b < B_COUNT; b++) want[b] = true;
  impl impls[MAX_IMPLS];
  int nimpl = 0;
  memset(impls, 0, sizeof impls);
  snprintf(impls[nimpl++].name, sizeof impls[0].name, "glibc");
  impls[nimpl].hak = true;
  hak_config_default(&impls[nimpl].cfg);
  snprintf(impls[nimpl++].name, sizeof impls[0].name, "hakmem");
  for (int i = 1; i < argc; i++) {
    const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    char *end;
    if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(f, "--no-larson")) {
      larson = false;
    } else if (!strcmp(f, "--only") && v) {
      char list[256], *save = NULL;
      snprintf(list, sizeof list, "%s", v);
      for (int b = 0; b < B_COUNT; b++) want[b] = false;
      for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int b = 0;
        while (b < B_COUNT && strcmp(t, bench_names[b])) b++;
        if (b == B_COUNT) {
          fprintf(stderr, "hakmem-bench: --only: unknown benchmark '%s'\n", t);
          return 2;
        }
        want[b] = true;
      }
      i++;
    } else if (!strcmp(f, "--runs") && v) {
      long n = strtol(v, &end, 10);
      if (*end || end == v || n < 1 || n > MAX_RUNS) {
        fprintf(stderr, "hakmem-bench: --runs: want 1..%d, got '%s'\n", MAX_RUNS, v);
        return 2;
      }
      runs = (int)n;
      i++;
    } else if (!strcmp(f, "--scale") && v) {
      scale = strtod(v, &end);
      if (*end || end == v || !(scale > 0 && scale <= 1000)) {
        fprintf(stderr, "hakmem-bench: --scale: want a number in (0,1000], got '%s'\n", v);
        return 2;
      }
      i++;
    } else if (!strcmp(f, "--preset") && v) {
      char list[256], *save = NULL;
      snprintf(list, sizeof list, "%s", v);
      for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (nimpl == MAX_IMPLS) {
          fprintf(stderr, "hakmem-bench: at most %d presets\n", MAX_IMPLS - 2);
          return 2;
        }
        impl *im = &impls[nimpl];
        im->hak = true;
        hak_config_default(&im->cfg);
        snprintf(im->name, sizeof im->name, "hak:%s", t);
        /* NAME+opt=value+...: a preset with options on top (ablations). */
        char *save2 = NULL, *name = strtok_r(t, "+", &save2), err[256];
        if (hak_config_apply_preset(&im->cfg, name) != 0) {
          fprintf(stderr, "hakmem-bench: unknown preset '%s'\n", name);
          return 2;
        }
        for (char *kv = strtok_r(NULL, "+", &save2); kv; kv = strtok_r(NULL, "+", &save2))
          if (hak_config_set_kv(&im->cfg, kv, err, sizeof err) != 0) {
            fprintf(stderr, "hakmem-bench: --preset %s: %s\n", im->name + 4, err);
            return 2;
          }
        nimpl++;
      }
      i++;
    } else {
      fprintf(stderr, "hakmem-bench: %s '%s' (try --help)\n",
              (!strcmp(f, "--runs") || !strcmp(f, "--scale") || !strcmp(f, "--preset") ||
               !strcmp(f, "--only"))
                  ? "missing value for" : "unknown flag", f);
      return 2;
    }
  }
  if (strcmp(BENCH_BUILDTYPE, "release") != 0)
    fprintf(stderr, "hakmem-bench: warning: buildtype %s, not release (see run.sh)\n",
            BENCH_BUILDTYPE);
  sizes_init();
  cross_pick_cpus();
  for (int k = 0; k < nimpl; k++)
    if (impls[k].hak) impls[k].a = make_instance(&impls[k]);

  if (!larson) want[B_LARSON1] = want[B_LARSON100] = false;
  static double res[B_COUNT][MAX_IMPLS][MAX_RUNS];
  /* Run 0 warms caches and page tables up and is not counted. */
  for (int r = 0; r <= runs; r++) {
    fprintf(stderr, "\rhakmem-bench: run %d/%d", r, runs);
    for (int b = 0; b < B_COUNT; b++)
      for (int k = 0; k < nimpl && want[b]; k++) {
        double v = measure(b, &impls[k], scale);
        if (r > 0) res[b][k][r - 1] = v;
      }
  }
  fprintf(stderr, "\n");

  printf("hakmem-bench: %d runs, median [min-max] in millions/s (buildtype %s, scale %g)\n",
         runs, BENCH_BUILDTYPE, scale);
  printf("%-12s %-9s", "benchmark", "unit");
  for (int k = 0; k < nimpl; k++) {
    printf(" %-24s", impls[k].name);
    if (impls[k].hak) printf(" %6s", "/glibc");
  }
  printf("\n");
  for (int b = 0; b < B_COUNT; b++) {
    double med[MAX_IMPLS];
    if (!want[b]) continue;
    printf("%-12s %-9s", bench_names[b], bench_units[b]);
    for (int k = 0; k < nimpl; k++) {
      double *v = res[b][k];
      qsort(v, (size_t)runs, sizeof *v, cmp_double);
      med[k] = runs % 2 ? v[runs / 2] : (v[runs / 2 - 1] + v[runs / 2]) / 2;
      char cell[64];
      snprintf(cell, sizeof cell, "%.2f [%.2f-%.2f]", med[k] / 1e6, v[0] / 1e6,
               v[runs - 1] / 1e6);
      printf(" %-24s", cell);
      if (impls[k].hak) printf(" %6.2f", med[k] / med[0]);
    }
    printf("\n");
  }
  for (int k = 0; k < nimpl; k++)
    if (impls[k].hak) hak_destroy(impls[k].a);
  return 0;
}
