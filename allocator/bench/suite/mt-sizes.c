/* mt-sizes.c: sizes up to 32 KiB on several threads, in the manner of glibc's
 * benchtests/bench-malloc-thread.c (which mimalloc-bench runs as
 * "glibc-thread"), written from its published description.
 *
 *   mt-sizes [-t SECONDS] [THREADS]         (defaults: -t 1, 1 thread)
 *
 * Each thread owns a working set of 1,024 pointer slots, all empty at the
 * start. One iteration takes the next slot, frees what it holds (free(NULL)
 * at first), mallocs a block of the next size into it and writes every byte
 * of the block (as mimalloc-bench's copy does; glibc's own leaves blocks
 * untouched). Sizes run from 4 B to 32 KiB with an inverse-square density,
 * as glibc's: half of them are at most 8 B, the mean is about 36 B, one in
 * about 260 is over 1 KiB and one in about 8,200 over 16 KiB. As in glibc's,
 * the slots and sizes come from tables drawn before the timed part (4,096
 * slot numbers, 8,000 sizes, a fixed seed) that every thread walks round in
 * the same order, so the loop pays for no random numbers.
 *
 * Timed: from the first thread's creation until every thread has been joined
 * after the main thread raised the stop flag at SECONDS. Prints
 *   result: ops_per_s=N ops=N seconds=S unit=iterations threads=T
 * where one operation is one iteration (a free and a malloc) of any thread.
 * The working sets are freed after the timed part. Exit 3 (and a line on
 * stderr) if malloc returns NULL. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "suite.h"

#define MT_SLOTS 1024
#define MT_NUM_OFFSETS (4 * MT_SLOTS)
#define MT_NUM_SIZES 8000
#define MT_MIN_SIZE 4.0
#define MT_MAX_SIZE 32768.0
#define MT_SEED 88

static unsigned mt_offsets[MT_NUM_OFFSETS];
static unsigned mt_sizes[MT_NUM_SIZES];
static atomic_bool mt_stop;

typedef struct worker {
  pthread_t thread;
  uint64_t iterations;
  void *slots[MT_SLOTS];
  char pad[64]; /* no cache line holds two threads' slots */
} worker;

/* Inverse-square density on [min, max]: its CDF is (1/min - 1/x) / (1/min -
 * 1/max), so x = 1 / (1/min - u (1/min - 1/max)) for a uniform u in [0, 1). */
static unsigned draw_size(uint64_t *rng) {
  double u = suite_rand_unit(rng);
  double inv = 1 / MT_MIN_SIZE - u * (1 / MT_MIN_SIZE - 1 / MT_MAX_SIZE);
  unsigned s = (unsigned)(1 / inv);
  return s > (unsigned)MT_MAX_SIZE ? (unsigned)MT_MAX_SIZE : s;
}

static void *run(void *arg) {
  worker *w = arg;
  unsigned off = 0, sz = 0;
  uint64_t n = 0;
  while (!atomic_load_explicit(&mt_stop, memory_order_relaxed)) {
    unsigned slot = mt_offsets[off];
    size_t size = mt_sizes[sz];
    off = off + 1 == MT_NUM_OFFSETS ? 0 : off + 1;
    sz = sz + 1 == MT_NUM_SIZES ? 0 : sz + 1;
    free(w->slots[slot]);
    void *p = malloc(size);
    if (!p) suite_oom("mt-sizes", size);
    memset(p, (int)n, size);
    w->slots[slot] = p;
    n++;
  }
  w->iterations = n;
  return NULL;
}

static void usage(void) {
  fprintf(stderr, "usage: mt-sizes [-t SECONDS] [THREADS]   (e.g. mt-sizes -t 5 2)\n");
  exit(SUITE_EXIT_USAGE);
}

int main(int argc, char **argv) {
  double secs = 1;
  long nthreads = 1;
  int opt;
  while ((opt = getopt(argc, argv, "t:")) != -1) {
    if (opt == 't' && suite_parse_seconds(optarg, &secs) == 0) continue;
    usage();
  }
  if (optind < argc - 1) usage();
  if (optind == argc - 1 && suite_parse_long(argv[optind], 1, 1024, &nthreads) != 0) usage();

  uint64_t rng = MT_SEED;
  for (int i = 0; i < MT_NUM_SIZES; i++) mt_sizes[i] = draw_size(&rng);
  for (int i = 0; i < MT_NUM_OFFSETS; i++) mt_offsets[i] = (unsigned)(suite_rand(&rng) % MT_SLOTS);
  worker *w = calloc((size_t)nthreads, sizeof *w);
  if (!w) suite_oom("mt-sizes", (size_t)nthreads * sizeof *w);

  double t0 = suite_now();
  for (long i = 0; i < nthreads; i++) {
    int rc = pthread_create(&w[i].thread, NULL, run, &w[i]);
    if (rc) suite_fail("mt-sizes", "pthread_create failed", rc);
  }
  suite_sleep(secs);
  atomic_store(&mt_stop, true);
  uint64_t total = 0;
  for (long i = 0; i < nthreads; i++) {
    pthread_join(w[i].thread, NULL);
    total += w[i].iterations;
  }
  double t1 = suite_now();

  for (long i = 0; i < nthreads; i++)
    for (int k = 0; k < MT_SLOTS; k++) free(w[i].slots[k]);
  free(w);
  suite_result(total, t1 - t0, "iterations", "threads=%ld", nthreads);
  return 0;
}
