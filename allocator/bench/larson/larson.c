/* larson.c: the project's own Larson benchmark (Larson & Krishnan, ISMM
 * 1998, as mimalloc-bench runs it; docs/larson.md), a plain
 * malloc/free program to be run under any allocator with LD_PRELOAD.
 *
 *   larson [--never-join] SLEEP MIN MAX CHUNKS ROUNDS SEED THREADS
 *
 * The main thread warms up THREADS x CHUNKS blocks (so the first frees are
 * cross-thread), then each of THREADS slots runs a chain of threads: a
 * thread does ROUNDS x CHUNKS replacements in its slice (free a random
 * block, malloc a new one of MIN..MAX-1 bytes, write 2 bytes into it),
 * starts its successor and exits. After SLEEP seconds the main thread
 * raises the stop flag, waits for every chain to end, and prints the
 * original's line: "Throughput = N operations per second, relative time:
 * Ts." (one operation = one free plus one malloc; relative time is ours:
 * seconds per 10 million operations, lower is better), then the benchmark
 * suite's line (allocator/bench/suite/suite.h):
 * "result: ops_per_s=N ops=N seconds=S unit=ops threads=T" (T: the threads
 * created in all).
 *
 * Unlike the original, threads are created detached by default, so exited
 * threads' stacks are reclaimed instead of piling up towards
 * vm.max_map_count; the mappings that remain are the allocator's own.
 * --never-join creates them as the original does, joinable and never
 * joined: every exited thread keeps its stack (two mappings: the stack and
 * its guard page), so at the seed's configuration's ~10,000 threads per
 * second the process reaches vm.max_map_count (65,530 here) in 3-5 s, and
 * pthread_create or the allocator's next mmap fails (the exit below).
 *
 * A malloc that returns NULL, or a thread that cannot be created, ends the
 * run at once: the line "larson: out of memory: ..." goes to stderr and
 * the exit status is 3 (what the seed's HAKMEM run ran into). Otherwise 0.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lran2.h"

typedef struct slot {
  lran2 rng;
  void **blocks;                /* this slot's slice of the block array */
  uint64_t ops;                 /* written by the chain's current thread */
  uint64_t threads;
  char pad[64];
} slot;

static struct {
  size_t min, max, chunks, rounds;
  bool never_join;              /* the original's joinable threads */
  slot *slots;
  uint32_t nslots;
  atomic_bool stop;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  uint32_t done;                /* chains ended (lock) */
  int fail_errno;               /* first failure (lock) */
  const char *fail_what;
  struct timespec t0, fail_at;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static double since(const struct timespec *t0, const struct timespec *t1) {
  return (double)(t1->tv_sec - t0->tv_sec) + (double)(t1->tv_nsec - t0->tv_nsec) / 1e9;
}

static size_t draw_size(lran2 *r) {
  return g.max > g.min ? g.min + (size_t)lran2_next(r) % (g.max - g.min) : g.min;
}

static void fail(const char *what, int err) {
  pthread_mutex_lock(&g.lock);
  if (!g.fail_what) {
    g.fail_what = what;
    g.fail_errno = err;
    clock_gettime(CLOCK_MONOTONIC, &g.fail_at);
  }
  atomic_store(&g.stop, true);
  pthread_cond_broadcast(&g.cond);
  pthread_mutex_unlock(&g.lock);
}

static void chain_ended(void) {
  pthread_mutex_lock(&g.lock);
  g.done++;
  pthread_cond_broadcast(&g.cond);
  pthread_mutex_unlock(&g.lock);
}

static int spawn(slot *s);

static void *worker(void *arg) {
  slot *s = arg;
  uint64_t n = (uint64_t)g.rounds * g.chunks, i;
  for (i = 0; i < n; i++) {
    if (atomic_load_explicit(&g.stop, memory_order_relaxed)) break;
    size_t v = (size_t)lran2_next(&s->rng) % g.chunks;
    free(s->blocks[v]);
    size_t size = draw_size(&s->rng);
    char *p = malloc(size);
    s->blocks[v] = p;
    if (!p) {
      fail("malloc returned NULL", errno);
      break;
    }
    volatile char *w = p;
    w[0] = 'a';
    if (size > 1) w[1] = 'b';
  }
  s->ops += i;
  if (atomic_load_explicit(&g.stop, memory_order_relaxed) || spawn(s) != 0) chain_ended();
  return NULL;
}

static int spawn(slot *s) {
  pthread_attr_t attr;
  pthread_t t;
  pthread_attr_init(&attr);
  if (!g.never_join) pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  s->threads++; /* before the successor can run: it counts its own */
  int rc = pthread_create(&t, &attr, worker, s);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    s->threads--;
    fail("pthread_create failed", rc);
    return -1;
  }
  return 0;
}

static int parse(const char *s, long lo, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < lo) return -1;
  *out = v;
  return 0;
}

int main(int argc, char **argv) {
  long a[7];
  if (argc > 1 && strcmp(argv[1], "--never-join") == 0) {
    g.never_join = true;
    argv++;
    argc--;
  }
  if (argc != 8 || parse(argv[1], 0, &a[0]) || parse(argv[2], 1, &a[1]) ||
      parse(argv[3], 1, &a[2]) || parse(argv[4], 1, &a[3]) || parse(argv[5], 1, &a[4]) ||
      parse(argv[6], 0, &a[5]) || parse(argv[7], 1, &a[6]) || a[2] < a[1]) {
    fprintf(stderr, "usage: larson [--never-join] SLEEP MIN MAX CHUNKS ROUNDS SEED THREADS\n"
                    "  e.g. larson 10 8 128 1024 1 12345 4 (the seed's run)\n");
    return 2;
  }
  g.min = (size_t)a[1];
  g.max = (size_t)a[2];
  g.chunks = (size_t)a[3];
  g.rounds = (size_t)a[4];
  g.nslots = (uint32_t)a[6];
  size_t nblocks = g.chunks * g.nslots;
  void **blocks = calloc(nblocks, sizeof *blocks);
  g.slots = calloc(g.nslots, sizeof *g.slots);
  if (!blocks || !g.slots) {
    fprintf(stderr, "larson: out of memory: setting up %zu blocks\n", nblocks);
    return 3;
  }

  /* Warm-up, by the main thread (docs/larson.md, step 2). */
  lran2 rng;
  lran2_init(&rng, a[5]);
  for (size_t k = 0; k < nblocks; k++)
    if (!(blocks[k] = malloc(draw_size(&rng)))) {
      fprintf(stderr, "larson: out of memory: malloc returned NULL in the warm-up\n");
      return 3;
    }
  for (size_t c = nblocks; c > 0; c--) {
    size_t v = (size_t)lran2_next(&rng) % c;
    void *tmp = blocks[v];
    blocks[v] = blocks[c - 1];
    blocks[c - 1] = tmp;
  }
  for (size_t k = 0; k < 4 * nblocks; k++) {
    size_t v = (size_t)lran2_next(&rng) % nblocks;
    free(blocks[v]);
    if (!(blocks[v] = malloc(draw_size(&rng)))) {
      fprintf(stderr, "larson: out of memory: malloc returned NULL in the warm-up\n");
      return 3;
    }
  }
  for (uint32_t i = 0; i < g.nslots; i++) {
    int seed = (int)lran2_next(&rng);
    lran2_init(&g.slots[i].rng, seed);
    g.slots[i].blocks = blocks + (size_t)i * g.chunks;
  }

  /* The timed part: SLEEP seconds of chains, ended early by a failure. */
  clock_gettime(CLOCK_MONOTONIC, &g.t0);
  uint32_t started = 0;
  for (uint32_t i = 0; i < g.nslots; i++) {
    if (spawn(&g.slots[i]) != 0) break;
    started++;
  }
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += a[0];
  pthread_mutex_lock(&g.lock);
  g.done += g.nslots - started;
  while (!atomic_load(&g.stop) && g.done < g.nslots &&
         pthread_cond_timedwait(&g.cond, &g.lock, &until) != ETIMEDOUT) {
  }
  atomic_store(&g.stop, true);
  while (g.done < g.nslots) pthread_cond_wait(&g.cond, &g.lock);
  pthread_mutex_unlock(&g.lock);
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);

  uint64_t ops = 0, threads = 0;
  for (uint32_t i = 0; i < g.nslots; i++) {
    ops += g.slots[i].ops;
    threads += g.slots[i].threads;
  }
  double secs = since(&g.t0, &t1);
  double rate = secs > 0 ? (double)ops / secs : 0;
  printf("Throughput = %8.0f operations per second, relative time: %.3fs.\n", rate,
         rate > 0 ? 1e7 / rate : 0.0);
  printf("result: ops_per_s=%.0f ops=%llu seconds=%.3f unit=ops threads=%llu\n", rate,
         (unsigned long long)ops, secs, (unsigned long long)threads);
  fflush(stdout);
  if (g.fail_what) {
    fprintf(stderr, "larson: out of memory: %s (%s) after %.3f s\n", g.fail_what,
            strerror(g.fail_errno), since(&g.t0, &g.fail_at));
    return 3;
  }
  return 0;
}
