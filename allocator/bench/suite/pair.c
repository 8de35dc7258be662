/* pair.c: the single-thread malloc/free pair, the allocator's shortest path
 * (the same unit of work as hakmem-bench's pair16/pair64 rows, here through
 * whatever malloc is in the process, e.g. under LD_PRELOAD).
 *
 *   pair [-t SECONDS | -n COUNT] [SIZE]       (defaults: -t 1, SIZE 16)
 *
 * One thread repeats: p = malloc(SIZE), write one byte into it through a
 * volatile pointer, publish p to a volatile sink, free(p). Timed: the loop
 * alone, for SECONDS of wall time (the clock is read every 4,096 pairs) or
 * for exactly COUNT pairs. Prints
 *   result: ops_per_s=N ops=N seconds=S unit=pairs size=SIZE
 * where one operation is one malloc plus one free. Exit 3 (and a line on
 * stderr) if malloc returns NULL. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "suite.h"

#define PAIR_CHECK_EVERY 4096

static void *volatile sink; /* keeps the compiler from dropping the pair */

static void usage(void) {
  fprintf(stderr, "usage: pair [-t SECONDS | -n COUNT] [SIZE]   (e.g. pair -t 5 16)\n");
  exit(SUITE_EXIT_USAGE);
}

int main(int argc, char **argv) {
  double secs = 1;
  long count = 0, size = 16;
  int opt;
  while ((opt = getopt(argc, argv, "t:n:")) != -1) {
    if (opt == 't' && suite_parse_seconds(optarg, &secs) == 0) continue;
    if (opt == 'n' && suite_parse_long(optarg, 1, INT64_MAX, &count) == 0) continue;
    usage();
  }
  if (optind < argc - 1) usage();
  if (optind == argc - 1 && suite_parse_long(argv[optind], 1, 1L << 30, &size) != 0) usage();

  uint64_t ops = 0;
  double t0 = suite_now(), t1, until = t0 + secs;
  for (;;) {
    uint64_t n = PAIR_CHECK_EVERY;
    if (count && (uint64_t)count - ops < n) n = (uint64_t)count - ops;
    for (uint64_t i = 0; i < n; i++) {
      char *p = malloc((size_t)size);
      if (!p) suite_oom("pair", (size_t)size);
      *(volatile char *)p = (char)i;
      sink = p;
      free(p);
    }
    ops += n;
    t1 = suite_now();
    if (count ? ops == (uint64_t)count : t1 >= until) break;
  }
  suite_result(ops, t1 - t0, "pairs", "size=%ld", size);
  return 0;
}
