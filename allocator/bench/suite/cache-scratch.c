/* cache-scratch.c: a probe for passive false sharing, in the manner of
 * Hoard's cache-scratch (Berger et al., ASPLOS 2000; mimalloc-bench runs it
 * as `cache-scratch P 1000 1 2000000 P`), written from its published
 * description.
 *
 *   cache-scratch [-t SECONDS | -n ROUNDS] THREADS OBJSIZE REPETITIONS
 *                                   (default -t 1; e.g. 2 1 2000000)
 *
 * The main thread mallocs THREADS objects of OBJSIZE bytes, one after the
 * other (with most allocators, neighbours on one cache line when small), and
 * hands one to each thread. A thread frees the object it was given, then
 * repeats a round: malloc an object of OBJSIZE bytes, write each of its
 * bytes and read it back (through a volatile pointer) REPETITIONS / THREADS
 * times, free it. An allocator that gives a thread's malloc the block it
 * just freed for another thread (a block on a line that another thread
 * also writes) makes the threads fight over that line; one that keeps
 * every thread's blocks apart lets them run at full speed. The original
 * does a fixed number of rounds and is timed from outside; here each thread
 * repeats rounds until the main thread raises the stop flag at SECONDS
 * (checked between rounds), or does exactly ROUNDS rounds with -n (-n 1000
 * is the original's work).
 *
 * Timed: from the first thread's creation until every thread has been
 * joined. Prints
 *   result: ops_per_s=N ops=N seconds=S unit=writes threads=T rounds=R shared_lines=L min_gap=G
 * where one operation is one byte written (and read back) and R counts the
 * rounds of all threads. L is the number of threads whose first round's
 * object shared a 64-byte cache line with another thread's, and G the
 * smallest distance in bytes between two threads' first round's objects
 * ("none" with one thread; under 128, the two lines that an adjacent-line
 * prefetcher fetches together): the cause of a slowdown, visible even when
 * a loaded machine seldom runs the threads at the same time. Exit 3 (and a
 * line on stderr) if malloc returns NULL. */
#include <pthread.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "suite.h"

static struct {
  size_t objsize;
  long reps;   /* per round: REPETITIONS / THREADS */
  long rounds; /* 0: until the stop flag */
  atomic_bool stop;
} cs;

typedef struct worker {
  pthread_t thread;
  char *given;
  uintptr_t first; /* the first round's object */
  uint64_t rounds;
  char pad[64]; /* threads' counters on different lines */
} worker;

static void *run(void *arg) {
  worker *w = arg;
  free(w->given);
  uint64_t r = 0;
  while (cs.rounds ? r < (uint64_t)cs.rounds : !atomic_load_explicit(&cs.stop, memory_order_relaxed)) {
    volatile char *obj = malloc(cs.objsize);
    if (!obj) suite_oom("cache-scratch", cs.objsize);
    if (r == 0) w->first = (uintptr_t)obj;
    for (long j = 0; j < cs.reps; j++)
      for (size_t k = 0; k < cs.objsize; k++) {
        obj[k] = (char)k;
        (void)obj[k];
      }
    free((void *)obj);
    r++;
  }
  w->rounds = r;
  return NULL;
}

static void usage(void) {
  fprintf(stderr, "usage: cache-scratch [-t SECONDS | -n ROUNDS] THREADS OBJSIZE REPETITIONS\n"
                  "  e.g. cache-scratch -t 5 2 1 2000000\n");
  exit(SUITE_EXIT_USAGE);
}

int main(int argc, char **argv) {
  double secs = 1;
  long nthreads, objsize, reps;
  int opt;
  while ((opt = getopt(argc, argv, "t:n:")) != -1) {
    if (opt == 't' && suite_parse_seconds(optarg, &secs) == 0) continue;
    if (opt == 'n' && suite_parse_long(optarg, 1, INT64_MAX, &cs.rounds) == 0) continue;
    usage();
  }
  if (argc - optind != 3 || suite_parse_long(argv[optind], 1, 1024, &nthreads) ||
      suite_parse_long(argv[optind + 1], 1, 1L << 20, &objsize) ||
      suite_parse_long(argv[optind + 2], 1, INT64_MAX, &reps))
    usage();
  cs.objsize = (size_t)objsize;
  cs.reps = reps / nthreads > 0 ? reps / nthreads : 1;

  worker *w = calloc((size_t)nthreads, sizeof *w);
  if (!w) suite_oom("cache-scratch", (size_t)nthreads * sizeof *w);
  for (long i = 0; i < nthreads; i++)
    if (!(w[i].given = malloc(cs.objsize))) suite_oom("cache-scratch", cs.objsize);

  double t0 = suite_now();
  for (long i = 0; i < nthreads; i++) {
    int rc = pthread_create(&w[i].thread, NULL, run, &w[i]);
    if (rc) suite_fail("cache-scratch", "pthread_create failed", rc);
  }
  if (!cs.rounds) {
    suite_sleep(secs);
    atomic_store(&cs.stop, true);
  }
  uint64_t rounds = 0;
  for (long i = 0; i < nthreads; i++) {
    pthread_join(w[i].thread, NULL);
    rounds += w[i].rounds;
  }
  double t1 = suite_now();
  long shared = 0;
  uintptr_t gap = UINTPTR_MAX;
  for (long i = 0; i < nthreads; i++) {
    bool shares = false;
    for (long j = 0; j < nthreads; j++) {
      if (j == i || !w[i].rounds || !w[j].rounds) continue;
      uintptr_t d = w[i].first > w[j].first ? w[i].first - w[j].first : w[j].first - w[i].first;
      if (d < gap) gap = d;
      if (w[i].first / 64 == w[j].first / 64) shares = true;
    }
    shared += shares;
  }
  char gap_text[32] = "none";
  if (gap != UINTPTR_MAX) snprintf(gap_text, sizeof gap_text, "%llu", (unsigned long long)gap);
  free(w);
  suite_result(rounds * (uint64_t)cs.reps * cs.objsize, t1 - t0, "writes",
               "threads=%ld rounds=%llu shared_lines=%ld min_gap=%s", nthreads, (unsigned long long)rounds,
               shared, gap_text);
  return 0;
}
