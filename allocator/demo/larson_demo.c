/* larson_demo.c (hakmem-demo): Larson-like churn, in real time, under
 * several allocator presets side by side.
 *
 * Each preset gets its own hak_create'd instance with the background trim
 * thread allowed, and runs the workload of docs/larson.md: the main
 * thread warms up threads x chunks blocks (so the first frees are
 * cross-thread), then every thread slot runs a chain of real pthreads, each
 * doing rounds x chunks random replacements before starting its successor
 * and exiting (so the allocator's orphan path runs for real). A run ends
 * after --seconds, or at the first allocation that returns NULL (OOM).
 *
 * Invariant: every worker thread has been joined before hak_destroy.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hakmem.h"
#include "lran2.h"

#define MAX_PRESETS 16
#define MAX_OPTS 32

typedef struct params {
  double seconds;
  uint32_t threads, min, max, chunks, rounds, map_limit;
  long seed;
  const char *presets[MAX_PRESETS];
  int npresets;
  const char *opts[MAX_OPTS];
  int nopts;
} params;

/* One preset's run. */
typedef struct run {
  const params *p;
  hak_allocator *a;
  void **blocks;                /* threads x chunks, slot i owns a slice */
  struct timespec t0;           /* start of the worker phase */
  atomic_bool stop;
  atomic_bool oom;
  double oom_at;                /* seconds after t0 (written once, by the
                                   thread that set oom) */
  _Atomic uint64_t ops, threads_created;
  pthread_mutex_t lock;         /* guards slots_done and the slots' `last` */
  pthread_cond_t done_cond;
  uint32_t slots_done;
  char oom_line[256];           /* the allocator's one-time OOM message */
} run;

/* One thread slot: its generator and slice travel down the chain. */
typedef struct slot {
  run *r;
  uint32_t index;
  lran2 rng;
  pthread_t pred;               /* predecessor to join (if has_pred) */
  bool has_pred;
  pthread_t last;               /* the chain's final thread, for main to join */
} slot;

static double since(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) * 1e-9;
}

static size_t draw_size(const params *p, lran2 *g) {
  if (p->max <= p->min) return p->min;
  return p->min + (size_t)(lran2_next(g) % (long)(p->max - p->min));
}

/* malloc plus the two byte writes; on NULL the whole run stops (OOM). */
static void *alloc_touch(run *r, size_t size) {
  char *b = hak_malloc(r->a, size);
  if (!b) {
    bool first = false;
    if (atomic_compare_exchange_strong(&r->oom, &first, true)) r->oom_at = since(&r->t0);
    atomic_store(&r->stop, true);
    return NULL;
  }
  b[0] = 'a';
  b[size - 1] = 'b';
  return b;
}

static void *worker(void *arg) {
  slot *s = arg;
  run *r = s->r;
  const params *p = r->p;
  void **mine = r->blocks + (size_t)s->index * p->chunks;
  uint64_t n = (uint64_t)p->rounds * p->chunks, done = 0;
  while (done < n && !atomic_load_explicit(&r->stop, memory_order_relaxed)) {
    long v = lran2_next(&s->rng) % (long)p->chunks;
    hak_free(r->a, mine[v]);
    mine[v] = NULL;
    size_t size = draw_size(p, &s->rng);
    done++;
    if (!(mine[v] = alloc_touch(r, size))) break;
  }
  atomic_fetch_add(&r->ops, done);
  /* The real larson never joins its threads (their stacks stay mapped);
   * joining the predecessor here keeps at most two threads per slot. */
  if (s->has_pred) pthread_join(s->pred, NULL);
  pthread_t self = pthread_self();
  if (!atomic_load(&r->stop)) {
    s->pred = self;
    s->has_pred = true;
    pthread_t next;
    if (pthread_create(&next, NULL, worker, s) == 0) {
      atomic_fetch_add(&r->threads_created, 1);
      return NULL;  /* exits; the allocator's orphan path runs now */
    }
    atomic_store(&r->stop, true);  /* no more threads: end the run */
  }
  pthread_mutex_lock(&r->lock);
  s->last = self;
  r->slots_done++;
  pthread_cond_signal(&r->done_cond);
  pthread_mutex_unlock(&r->lock);
  return NULL;
}

static void log_line(void *ctx, const char *line) {
  run *r = ctx;
  if (!r->oom_line[0]) snprintf(r->oom_line, sizeof r->oom_line, "%s", line);
}

typedef struct result {
  const char *preset;
  double secs;
  uint64_t ops, threads;
  bool oom;
  double oom_at;
  hak_stats st;
  char oom_line[256];
} result;

/* Runs one preset. Returns 0, or 2 with a message for a bad preset/option. */
static int run_preset(const params *p, const char *preset, result *out) {
  hak_config cfg;
  char err[256] = "";
  hak_config_default(&cfg);
  if (hak_config_apply_preset(&cfg, preset) != 0) {
    fprintf(stderr, "hakmem-demo: unknown preset '%s'\n", preset);
    return 2;
  }
  cfg.ss_map_limit = p->map_limit;
  for (int i = 0; i < p->nopts; i++)
    if (hak_config_set_kv(&cfg, p->opts[i], err, sizeof err) != 0) {
      fprintf(stderr, "hakmem-demo: --opt %s: %s\n", p->opts[i], err);
      return 2;
    }
  run *r = calloc(1, sizeof *r);
  slot *slots = calloc(p->threads, sizeof *slots);
  size_t nblocks = (size_t)p->threads * p->chunks;
  if (!r || !slots || !(r->blocks = calloc(nblocks, sizeof *r->blocks))) {
    fprintf(stderr, "hakmem-demo: out of memory\n");
    exit(4);
  }
  r->p = p;
  pthread_mutex_init(&r->lock, NULL);
  pthread_cond_init(&r->done_cond, NULL);
  hak_create_opts co = {.log = log_line, .log_ctx = r, .no_trim_thread = false};
  if (hak_create(&cfg, &co, &r->a, err, sizeof err) != 0) {
    fprintf(stderr, "hakmem-demo: %s: %s\n", preset, err);
    return 2;
  }

  /* Warm-up by the main thread (docs/larson.md, step 2). */
  clock_gettime(CLOCK_MONOTONIC, &r->t0);
  lran2 g;
  lran2_init(&g, p->seed);
  for (size_t k = 0; k < nblocks && !atomic_load(&r->oom); k++)
    r->blocks[k] = alloc_touch(r, draw_size(p, &g));
  for (size_t c = nblocks; c > 0; c--) {
    size_t v = (size_t)(lran2_next(&g) % (long)c);
    void *t = r->blocks[v];
    r->blocks[v] = r->blocks[c - 1];
    r->blocks[c - 1] = t;
  }
  for (size_t k = 0; k < 4 * nblocks && !atomic_load(&r->oom); k++) {
    size_t v = (size_t)(lran2_next(&g) % (long)nblocks);
    hak_free(r->a, r->blocks[v]);
    r->blocks[v] = alloc_touch(r, draw_size(p, &g));
  }

  /* The thread slots, started in order; then the clock runs. */
  clock_gettime(CLOCK_MONOTONIC, &r->t0);
  uint32_t started = 0;
  for (uint32_t i = 0; i < p->threads && !atomic_load(&r->stop); i++) {
    slots[i].r = r;
    slots[i].index = i;
    lran2_init(&slots[i].rng, (int)lran2_next(&g));
    pthread_t t;
    if (pthread_create(&t, NULL, worker, &slots[i]) != 0) break;
    atomic_fetch_add(&r->threads_created, 1);
    started++;
  }
  while (since(&r->t0) < p->seconds && !atomic_load(&r->stop) && started == p->threads) {
    struct timespec nap = {0, 10 * 1000 * 1000};
    nanosleep(&nap, NULL);
  }
  atomic_store(&r->stop, true);
  out->secs = since(&r->t0);
  pthread_mutex_lock(&r->lock);
  while (r->slots_done < started) pthread_cond_wait(&r->done_cond, &r->lock);
  pthread_mutex_unlock(&r->lock);
  for (uint32_t i = 0; i < started; i++) pthread_join(slots[i].last, NULL);

  out->preset = preset;
  out->ops = atomic_load(&r->ops);
  out->threads = atomic_load(&r->threads_created);
  out->oom = atomic_load(&r->oom);
  out->oom_at = r->oom_at;
  snprintf(out->oom_line, sizeof out->oom_line, "%s", r->oom_line);
  hak_get_stats(r->a, &out->st);
  hak_destroy(r->a);
  pthread_cond_destroy(&r->done_cond);
  pthread_mutex_destroy(&r->lock);
  free(r->blocks);
  free(slots);
  free(r);
  return 0;
}

static void print_table(const params *p, const result *res, int n) {
  char cell[64];
  printf("larson-like churn: %" PRIu32 " threads, sizes [%" PRIu32 ",%" PRIu32 "), %" PRIu32
         " chunks, %" PRIu32 " round(s), seed %ld, %.1f s, ss_map_limit %" PRIu32 "\n\n",
         p->threads, p->min, p->max, p->chunks, p->rounds, p->seed, p->seconds, p->map_limit);
  printf("%-24s", "");
  for (int i = 0; i < n; i++) printf(" %16s", res[i].preset);
  printf("\n");
#define ROW(label, fmt, expr)                                        \
  do {                                                               \
    printf("%-24s", label);                                          \
    for (int i = 0; i < n; i++) {                                    \
      const result *x = &res[i];                                     \
      snprintf(cell, sizeof cell, fmt, expr);                        \
      printf(" %16s", cell);                                         \
    }                                                                \
    printf("\n");                                                    \
  } while (0)
  ROW("seconds run", "%.2f", x->secs);
  ROW("threads created", "%" PRIu64, x->threads);
  ROW("ops", "%" PRIu64, x->ops);
  ROW("ops/s", "%.2fM", (double)x->ops / x->secs / 1e6);
  ROW("SuperSlabs allocated", "%" PRIu64, x->st.ss_allocated);
  ROW("SuperSlabs freed", "%" PRIu64, x->st.ss_freed);
  ROW("SuperSlabs live", "%" PRIu64, x->st.ss_live);
  ROW("SuperSlabs peak", "%" PRIu64, x->st.ss_peak);
  ROW("mapped now (MiB)", "%.1f", (double)x->st.bytes_mapped / 1048576.0);
  ROW("mapped peak (MiB)", "%.1f", (double)x->st.bytes_mapped_peak / 1048576.0);
  ROW("remote frees", "%.1f%%",
      100.0 * (double)x->st.frees_remote /
          (double)(x->st.frees_remote + x->st.frees_local ? x->st.frees_remote + x->st.frees_local : 1));
  ROW("adoptions", "%" PRIu64, x->st.adoptions);
  ROW("trim passes", "%" PRIu64, x->st.trims);
  printf("%-24s", "OOM");
  for (int i = 0; i < n; i++) {
    if (res[i].oom) snprintf(cell, sizeof cell, "OOM at %.2f s", res[i].oom_at);
    else snprintf(cell, sizeof cell, "no");
    printf(" %16s", cell);
  }
  printf("\n");
#undef ROW
  for (int i = 0; i < n; i++)
    if (res[i].oom_line[0]) printf("\n%s: %s\n", res[i].preset, res[i].oom_line);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: hakmem-demo [--seconds S] [--presets a,b,...] [--threads N] [--min B]\n"
          "                   [--max B] [--chunks C] [--rounds R] [--seed S]\n"
          "                   [--ss-map-limit N] [--opt name=value]...\n"
          "Larson-like churn for S seconds (default 2) under each preset (default\n"
          "seed-buggy,adopt), each in its own allocator instance with the background\n"
          "trim thread on. Defaults: 4 threads, sizes [8,128), 1024 chunks, 1 round,\n"
          "seed 12345, ss_map_limit 4096 SuperSlabs (0 = none).\n");
}

/* Parses an unsigned value of a flag; exits 2 on a bad one. */
static uint32_t parse_u32(const char *flag, const char *s, uint32_t lo) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || end == s || *end || s[0] == '-' || v > UINT32_MAX || v < lo) {
    fprintf(stderr, "hakmem-demo: %s: bad value '%s'\n", flag, s);
    exit(2);
  }
  return (uint32_t)v;
}

int main(int argc, char **argv) {
  params p = {.seconds = 2, .threads = 4, .min = 8, .max = 128, .chunks = 1024,
              .rounds = 1, .seed = 12345, .map_limit = 4096};
  static char presets[1024] = "seed-buggy,adopt";  /* split in place below */
  for (int i = 1; i < argc; i++) {
    const char *f = argv[i];
    if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
      usage(stdout);
      return 0;
    }
    if (f[0] != '-' || f[1] != '-' || i + 1 >= argc) {
      fprintf(stderr, "hakmem-demo: %s '%s' (try --help)\n",
              f[0] == '-' ? "missing value for" : "unexpected argument", f);
      return 2;
    }
    const char *v = argv[++i];
    if (!strcmp(f, "--seconds")) {
      char *end;
      p.seconds = strtod(v, &end);
      if (end == v || *end || !(p.seconds > 0 && p.seconds < 1e6)) {
        fprintf(stderr, "hakmem-demo: --seconds: bad value '%s'\n", v);
        return 2;
      }
    } else if (!strcmp(f, "--presets")) {
      if (strlen(v) >= sizeof presets) {
        fprintf(stderr, "hakmem-demo: --presets: list too long\n");
        return 2;
      }
      strcpy(presets, v);
    } else if (!strcmp(f, "--threads")) p.threads = parse_u32(f, v, 1);
    else if (!strcmp(f, "--min")) p.min = parse_u32(f, v, 1);
    else if (!strcmp(f, "--max")) p.max = parse_u32(f, v, 1);
    else if (!strcmp(f, "--chunks")) p.chunks = parse_u32(f, v, 1);
    else if (!strcmp(f, "--rounds")) p.rounds = parse_u32(f, v, 1);
    else if (!strcmp(f, "--seed")) p.seed = (long)parse_u32(f, v, 0);
    else if (!strcmp(f, "--ss-map-limit")) p.map_limit = parse_u32(f, v, 0);
    else if (!strcmp(f, "--opt")) {
      if (p.nopts == MAX_OPTS) {
        fprintf(stderr, "hakmem-demo: at most %d --opt\n", MAX_OPTS);
        return 2;
      }
      p.opts[p.nopts++] = v;
    } else {
      fprintf(stderr, "hakmem-demo: unknown flag '%s' (try --help)\n", f);
      return 2;
    }
  }
  if (p.max < p.min) {
    fprintf(stderr, "hakmem-demo: --max %" PRIu32 " is below --min %" PRIu32 "\n", p.max, p.min);
    return 2;
  }
  for (char *save = NULL, *t = strtok_r(presets, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (p.npresets == MAX_PRESETS) {
      fprintf(stderr, "hakmem-demo: at most %d presets\n", MAX_PRESETS);
      return 2;
    }
    p.presets[p.npresets++] = t;
  }
  if (p.npresets == 0) {
    fprintf(stderr, "hakmem-demo: --presets: empty list\n");
    return 2;
  }
  /* Check every preset and option before the first (long) run. */
  for (int i = 0; i < p.npresets; i++) {
    hak_config cfg;
    char err[256];
    hak_config_default(&cfg);
    if (hak_config_apply_preset(&cfg, p.presets[i]) != 0) {
      fprintf(stderr, "hakmem-demo: unknown preset '%s'\n", p.presets[i]);
      return 2;
    }
    for (int k = 0; k < p.nopts; k++)
      if (hak_config_set_kv(&cfg, p.opts[k], err, sizeof err) != 0) {
        fprintf(stderr, "hakmem-demo: --opt %s: %s\n", p.opts[k], err);
        return 2;
      }
  }
  result res[MAX_PRESETS];
  memset(res, 0, sizeof res);
  for (int i = 0; i < p.npresets; i++) {
    fprintf(stderr, "hakmem-demo: running %s for %.1f s...\n", p.presets[i], p.seconds);
    int rc = run_preset(&p, p.presets[i], &res[i]);
    if (rc) return rc;
  }
  print_table(&p, res, p.npresets);
  return 0;
}
