/* lran2.h: Larson's random number generator (W. Gloger's table-shuffled
 * LCG, constants from Numerical Recipes), exactly as mimalloc-bench's
 * larson.cpp and docs/larson.md describe it. Shared by hakmem-bench
 * and hakmem-demo so both draw the seed's sequence. */
#ifndef HAK_BENCH_LRAN2_H
#define HAK_BENCH_LRAN2_H

#define LRAN2_MAX 714025L
#define LRAN2_A 1366L
#define LRAN2_C 150889L

typedef struct lran2 {
  long x, y, v[97];
} lran2;

static inline void lran2_init(lran2 *d, long seed) {
  long x = (LRAN2_C - seed) % LRAN2_MAX;
  if (x < 0) x = -x;
  for (int j = 0; j < 97; j++) {
    x = (LRAN2_A * x + LRAN2_C) % LRAN2_MAX;
    d->v[j] = x;
  }
  d->x = (LRAN2_A * x + LRAN2_C) % LRAN2_MAX;
  d->y = d->x;
}

static inline long lran2_next(lran2 *d) {
  int j = (int)(d->y % 97);
  d->y = d->v[j];
  d->x = (LRAN2_A * d->x + LRAN2_C) % LRAN2_MAX;
  d->v[j] = d->x;
  return d->y;
}

#endif
