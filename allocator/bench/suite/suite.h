/* suite.h: what the benchmark suite's programs share (allocator/bench/suite/):
 * argument parsing, the clock, a sleep that outlasts signals, a small random
 * generator, the failure lines and the one result line. Header-only (static
 * inline) so that each program stays one .c file and a plain malloc/free
 * program that knows nothing of the allocator under it.
 *
 * Every program prints exactly one line on stdout that starts with
 * "result: ops_per_s=N ops=N seconds=S unit=WHAT" (more key=value fields may
 * follow) and exits 0. It exits 2 on bad usage, 3 when malloc returns NULL
 * ("NAME: out of memory: ..." on stderr) and 1 on any other failure (one line
 * on stderr naming it). */
#ifndef SUITE_H
#define SUITE_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { SUITE_EXIT_FAIL = 1, SUITE_EXIT_USAGE = 2, SUITE_EXIT_OOM = 3 };

static inline double suite_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Sleeps the whole interval even if a signal interrupts nanosleep. */
static inline void suite_sleep(double secs) {
  struct timespec t = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
  while (nanosleep(&t, &t) != 0 && errno == EINTR) {
  }
}

/* 0 and *out when s is a whole decimal number in [lo, hi]; -1 otherwise. */
static inline int suite_parse_long(const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

/* Seconds of a run: a decimal number above 0 and at most a day. */
static inline int suite_parse_seconds(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v > 0) || v > 86400) return -1;
  *out = v;
  return 0;
}

/* xorshift64*: cheap enough for a timed loop, and every thread owns its state
 * (a seed of 0 is replaced, since the generator would stay at 0). */
static inline uint64_t suite_rand(uint64_t *s) {
  uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545f4914f6cdd1dull;
}

/* A uniform double in [0, 1). */
static inline double suite_rand_unit(uint64_t *s) {
  return (double)(suite_rand(s) >> 11) / 9007199254740992.0;
}

/* malloc returned NULL: the run is over (exit 3, as Larson does). */
static inline void suite_oom(const char *prog, size_t size) {
  fprintf(stderr, "%s: out of memory: malloc(%zu) returned NULL\n", prog, size);
  exit(SUITE_EXIT_OOM);
}

static inline void suite_fail(const char *prog, const char *what, int err) {
  fprintf(stderr, "%s: %s%s%s\n", prog, what, err ? ": " : "", err ? strerror(err) : "");
  exit(SUITE_EXIT_FAIL);
}

/* The result line; extra is printf-style "key=value ..." text or NULL. */
static inline void suite_result(uint64_t ops, double secs, const char *unit, const char *extra,
                                ...) __attribute__((format(printf, 4, 5)));
static inline void suite_result(uint64_t ops, double secs, const char *unit, const char *extra,
                                ...) {
  printf("result: ops_per_s=%.0f ops=%llu seconds=%.3f unit=%s", secs > 0 ? (double)ops / secs : 0.0,
         (unsigned long long)ops, secs, unit);
  if (extra) {
    va_list ap;
    va_start(ap, extra);
    putchar(' ');
    vprintf(extra, ap);
    va_end(ap);
  }
  putchar('\n');
  fflush(stdout);
}

#endif
