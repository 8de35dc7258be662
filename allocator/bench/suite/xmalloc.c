/* xmalloc.c: producers malloc, consumers free, in the manner of xmalloc-test
 * (Lever and Boreham's malloc-test from "malloc() Performance in a
 * Multithreaded Linux Environment", USENIX 2000, as kept in mimalloc-bench,
 * which runs it as `xmalloc-test -w P -t 5 -s 64`), written from its
 * published description.
 *
 *   xmalloc [-w WORKERS] [-t SECONDS] [-s SIZE]   (defaults: -w 2 -t 1 -s 64)
 *
 * WORKERS producer threads and as many consumer threads. A producer mallocs
 * a batch (a block of 4,096 pointers), fills it with 4,096 fresh blocks of
 * SIZE bytes, writes the first min(SIZE, 128) bytes of each, and pushes the
 * batch on a shared stack of at most 100 batches (one mutex; a producer
 * waits while the stack is full, a consumer while it is empty). A consumer
 * pops the most recent batch, frees its 4,096 blocks and the batch itself.
 * Every free is thus of a block another thread allocated. -s -1 draws each
 * block's size from 8, 12, 16, 24, ..., 1536, 2048 bytes (powers of two and
 * one and a half times them), as the original's -s -1 does.
 *
 * Timed: from the first thread's creation until every thread has been joined
 * after the main thread raised the stop flag at SECONDS. Prints
 *   result: ops_per_s=N ops=N seconds=S unit=frees workers=W size=SIZE
 * where the operations are the blocks the consumers freed (the original
 * reports the same rate as "free/sec"). Batches left on the stack at the
 * stop are freed afterwards and not counted. Exit 3 (and a line on stderr)
 * if malloc returns NULL. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "suite.h"

#define XM_BATCH 4096
#define XM_MAX_BATCHES 100
#define XM_WRITE_MAX 128

typedef struct batch {
  struct batch *next;
  void *blocks[XM_BATCH];
} batch;

static const size_t xm_mixed_sizes[] = {8,   12,  16,  24,  32,  48,   64,   96,  128,
                                        192, 256, 384, 512, 768, 1024, 1536, 2048};
#define XM_NUM_MIXED (sizeof xm_mixed_sizes / sizeof xm_mixed_sizes[0])

static struct {
  long size; /* -1: mixed sizes */
  pthread_mutex_t lock;
  pthread_cond_t not_empty, not_full;
  batch *top;    /* the stack (lock) */
  int nbatches;  /* on the stack (lock) */
  bool stop;     /* (lock) */
} xm = {.lock = PTHREAD_MUTEX_INITIALIZER,
        .not_empty = PTHREAD_COND_INITIALIZER,
        .not_full = PTHREAD_COND_INITIALIZER};

typedef struct worker {
  pthread_t producer, consumer;
  uint64_t seed;
  uint64_t freed; /* by this consumer */
  char pad[64];   /* counters of different consumers on different lines */
} worker;

static bool stopped(void) {
  pthread_mutex_lock(&xm.lock);
  bool s = xm.stop;
  pthread_mutex_unlock(&xm.lock);
  return s;
}

static void push(batch *b) {
  pthread_mutex_lock(&xm.lock);
  while (xm.nbatches >= XM_MAX_BATCHES && !xm.stop) pthread_cond_wait(&xm.not_full, &xm.lock);
  b->next = xm.top;
  xm.top = b;
  xm.nbatches++;
  pthread_cond_signal(&xm.not_empty);
  pthread_mutex_unlock(&xm.lock);
}

/* The most recent batch, or NULL once the stop flag is up. */
static batch *pop(void) {
  pthread_mutex_lock(&xm.lock);
  while (!xm.top && !xm.stop) pthread_cond_wait(&xm.not_empty, &xm.lock);
  batch *b = xm.stop ? NULL : xm.top;
  if (b) {
    xm.top = b->next;
    xm.nbatches--;
    pthread_cond_signal(&xm.not_full);
  }
  pthread_mutex_unlock(&xm.lock);
  return b;
}

static void *produce(void *arg) {
  worker *w = arg;
  uint64_t rng = w->seed;
  while (!stopped()) {
    batch *b = malloc(sizeof *b);
    if (!b) suite_oom("xmalloc", sizeof *b);
    for (int i = 0; i < XM_BATCH; i++) {
      size_t size = xm.size > 0 ? (size_t)xm.size : xm_mixed_sizes[suite_rand(&rng) % XM_NUM_MIXED];
      char *p = malloc(size);
      if (!p) suite_oom("xmalloc", size);
      memset(p, i, size < XM_WRITE_MAX ? size : XM_WRITE_MAX);
      b->blocks[i] = p;
    }
    push(b);
  }
  return NULL;
}

static void *consume(void *arg) {
  worker *w = arg;
  batch *b;
  while ((b = pop()) != NULL) {
    for (int i = 0; i < XM_BATCH; i++) free(b->blocks[i]);
    free(b);
    w->freed += XM_BATCH;
  }
  return NULL;
}

static void usage(void) {
  fprintf(stderr, "usage: xmalloc [-w WORKERS] [-t SECONDS] [-s SIZE|-1]   (e.g. xmalloc -w 2 -t 5 -s 64)\n");
  exit(SUITE_EXIT_USAGE);
}

int main(int argc, char **argv) {
  double secs = 1;
  long nworkers = 2;
  xm.size = 64;
  int opt;
  while ((opt = getopt(argc, argv, "w:t:s:")) != -1) {
    if (opt == 'w' && suite_parse_long(optarg, 1, 512, &nworkers) == 0) continue;
    if (opt == 't' && suite_parse_seconds(optarg, &secs) == 0) continue;
    if (opt == 's' && suite_parse_long(optarg, -1, 1L << 30, &xm.size) == 0 && xm.size != 0) continue;
    usage();
  }
  if (optind != argc) usage();

  worker *w = calloc((size_t)nworkers, sizeof *w);
  if (!w) suite_oom("xmalloc", (size_t)nworkers * sizeof *w);
  double t0 = suite_now();
  for (long i = 0; i < nworkers; i++) {
    w[i].seed = (uint64_t)i + 1;
    int rc = pthread_create(&w[i].consumer, NULL, consume, &w[i]);
    if (!rc) rc = pthread_create(&w[i].producer, NULL, produce, &w[i]);
    if (rc) suite_fail("xmalloc", "pthread_create failed", rc);
  }
  suite_sleep(secs);
  pthread_mutex_lock(&xm.lock);
  xm.stop = true;
  pthread_cond_broadcast(&xm.not_empty);
  pthread_cond_broadcast(&xm.not_full);
  pthread_mutex_unlock(&xm.lock);
  uint64_t total = 0;
  for (long i = 0; i < nworkers; i++) {
    pthread_join(w[i].producer, NULL);
    pthread_join(w[i].consumer, NULL);
    total += w[i].freed;
  }
  double t1 = suite_now();

  while (xm.top) {
    batch *b = xm.top;
    xm.top = b->next;
    for (int i = 0; i < XM_BATCH; i++) free(b->blocks[i]);
    free(b);
  }
  free(w);
  suite_result(total, t1 - t0, "frees", "workers=%ld size=%ld", nworkers, xm.size);
  return 0;
}
