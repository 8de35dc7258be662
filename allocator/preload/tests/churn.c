/* churn.c: a Larson-like multi-threaded malloc program whose output does
 * not depend on the allocator, so a run under libhakmem.so can be compared
 * with a run under glibc byte for byte.
 *
 *   churn SLOTS CHUNKS ROUNDS GENERATIONS SEED
 *
 * The main thread allocates SLOTS x CHUNKS blocks; then, GENERATIONS
 * times, it starts one thread per slot and joins them all (thread churn:
 * every block a thread leaves behind is freed by a later thread, i.e.
 * remotely into a slab whose owner has exited). A thread does ROUNDS x
 * CHUNKS operations on its slot's slice: verify a random block's contents,
 * then replace it by malloc, calloc (checked zero), realloc (prefix
 * checked) or posix_memalign, sometimes beyond 1024 bytes (the medium
 * classes and the large path). Every 16th victim is handed through a shared queue to whichever
 * thread runs next, which verifies and frees it (concurrent cross-thread
 * frees to live owners). Every block is filled with bytes derived from a
 * tag unique to it, so any corruption or overlap shows as a mismatch.
 *
 * Output: operation and block counts and a checksum over every freed
 * block's contents (a sum: the order of frees does not matter). Exit 1 on
 * a mismatch or a failed allocation.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lran2.h"

typedef struct block {
  uint64_t tag;
  uint32_t size;
  unsigned char *p;
} block;

typedef struct slot {
  lran2 rng;
  uint32_t index;
  uint64_t next_tag;
  block *blocks;
  uint64_t ops, checksum, errors;
} slot;

static uint32_t g_chunks, g_rounds;

/* A queue of blocks handed between threads (under a lock). */
static struct {
  pthread_mutex_t lock;
  block *items;
  size_t n, cap;
} q = {.lock = PTHREAD_MUTEX_INITIALIZER};

static _Atomic uint64_t g_queued;

static unsigned char pattern(uint64_t tag, uint32_t i) {
  return (unsigned char)((tag * 0x9E3779B97F4A7C15ull >> 56) + i * 7u);
}

static void fill(block *b, uint32_t from) {
  for (uint32_t i = from; i < b->size; i++) b->p[i] = pattern(b->tag, i);
}

/* Checks b's contents and returns its contribution to the checksum. */
static uint64_t verify(const block *b, uint64_t *errors) {
  uint64_t h = b->tag * 31u + b->size;
  for (uint32_t i = 0; i < b->size; i++) {
    if (b->p[i] != pattern(b->tag, i)) {
      (*errors)++;
      break;
    }
    h += b->p[i];
  }
  return h;
}

static uint32_t draw_size(lran2 *r) {
  long x = lran2_next(r);
  /* Medium classes (1025..32768) and the large path beyond. */
  if (x % 64 == 0) return 1025 + (uint32_t)(lran2_next(r) % 48000);
  return 1 + (uint32_t)(lran2_next(r) % 400);
}

static int new_block(slot *s, block *b) {
  b->tag = ((uint64_t)s->index << 40) | s->next_tag++;
  b->size = draw_size(&s->rng);
  long kind = lran2_next(&s->rng) % 8;
  if (kind == 0) {
    b->p = calloc(1, b->size);
    if (!b->p) return -1;
    for (uint32_t i = 0; i < b->size; i++)
      if (b->p[i] != 0) {
        s->errors++;
        break;
      }
  } else if (kind == 1) {
    size_t align = (size_t)16 << (lran2_next(&s->rng) % 6);
    void *p = NULL;
    if (posix_memalign(&p, align, b->size) != 0) return -1;
    if ((uintptr_t)p % align != 0) s->errors++;
    b->p = p;
  } else {
    b->p = malloc(b->size);
    if (!b->p) return -1;
  }
  fill(b, 0);
  return 0;
}

static void free_block(slot *s, block *b) {
  s->checksum += verify(b, &s->errors);
  free(b->p);
}

static void queue_push(const block *b) {
  pthread_mutex_lock(&q.lock);
  if (q.n == q.cap) {
    size_t ncap = q.cap ? q.cap * 2 : 256;
    block *ni = realloc(q.items, ncap * sizeof *ni);
    if (!ni) abort();
    q.items = ni;
    q.cap = ncap;
  }
  q.items[q.n++] = *b;
  pthread_mutex_unlock(&q.lock);
}

static int queue_pop(block *out) {
  pthread_mutex_lock(&q.lock);
  int ok = q.n > 0;
  if (ok) *out = q.items[--q.n];
  pthread_mutex_unlock(&q.lock);
  return ok;
}

static void *worker(void *arg) {
  slot *s = arg;
  uint64_t n = (uint64_t)g_rounds * g_chunks;
  for (uint64_t i = 0; i < n; i++) {
    block *b = &s->blocks[lran2_next(&s->rng) % g_chunks];
    long kind = lran2_next(&s->rng) % 16;
    if (kind == 0) {
      queue_push(b); /* someone else frees it */
      atomic_fetch_add(&g_queued, 1);
      if (new_block(s, b) != 0) goto oom;
    } else if (kind == 1) {
      /* realloc keeps the prefix; the tail is refilled under a new tag. */
      s->checksum += verify(b, &s->errors);
      uint32_t nsize = draw_size(&s->rng);
      unsigned char *np = realloc(b->p, nsize);
      if (!np) goto oom;
      b->p = np;
      uint32_t keep = nsize < b->size ? nsize : b->size;
      for (uint32_t j = 0; j < keep; j++)
        if (np[j] != pattern(b->tag, j)) {
          s->errors++;
          break;
        }
      b->tag = ((uint64_t)s->index << 40) | s->next_tag++;
      b->size = nsize;
      fill(b, 0);
    } else {
      free_block(s, b);
      if (new_block(s, b) != 0) goto oom;
    }
    block other;
    if (kind == 2 && queue_pop(&other)) free_block(s, &other);
    s->ops++;
  }
  return NULL;
oom:
  fprintf(stderr, "churn: allocation failed: %s\n", strerror(errno));
  exit(1);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: churn SLOTS CHUNKS ROUNDS GENERATIONS SEED\n");
    return 2;
  }
  uint32_t nslots = (uint32_t)atoi(argv[1]), gens = (uint32_t)atoi(argv[4]);
  g_chunks = (uint32_t)atoi(argv[2]);
  g_rounds = (uint32_t)atoi(argv[3]);
  if (!nslots || !g_chunks || !g_rounds) return 2;
  lran2 rng;
  lran2_init(&rng, atol(argv[5]));
  slot *slots = calloc(nslots, sizeof *slots);
  pthread_t *th = calloc(nslots, sizeof *th);
  if (!slots || !th) return 1;
  for (uint32_t i = 0; i < nslots; i++) {
    slot *s = &slots[i];
    s->index = i;
    lran2_init(&s->rng, lran2_next(&rng));
    s->blocks = calloc(g_chunks, sizeof *s->blocks);
    if (!s->blocks) return 1;
    for (uint32_t k = 0; k < g_chunks; k++)
      if (new_block(s, &s->blocks[k]) != 0) return 1;
  }
  uint64_t threads = 0;
  for (uint32_t gen = 0; gen < gens; gen++) {
    for (uint32_t i = 0; i < nslots; i++) {
      int rc = pthread_create(&th[i], NULL, worker, &slots[i]);
      if (rc != 0) {
        fprintf(stderr, "churn: pthread_create: %s\n", strerror(rc));
        return 1;
      }
      threads++;
    }
    for (uint32_t i = 0; i < nslots; i++) pthread_join(th[i], NULL);
  }
  /* The main thread frees what is left: more cross-thread frees. */
  uint64_t ops = 0, checksum = 0, errors = 0;
  block b;
  slot *s0 = &slots[0];
  while (queue_pop(&b)) free_block(s0, &b);
  for (uint32_t i = 0; i < nslots; i++) {
    for (uint32_t k = 0; k < g_chunks; k++) free_block(&slots[i], &slots[i].blocks[k]);
    ops += slots[i].ops;
    checksum += slots[i].checksum;
    errors += slots[i].errors;
    free(slots[i].blocks);
  }
  free(q.items);
  free(slots);
  free(th);
  printf("churn: slots=%u chunks=%u rounds=%u generations=%u threads=%llu ops=%llu queued=%llu\n",
         nslots, g_chunks, g_rounds, gens, (unsigned long long)threads, (unsigned long long)ops,
         (unsigned long long)atomic_load(&g_queued));
  printf("churn: checksum=%016llx errors=%llu\n", (unsigned long long)checksum,
         (unsigned long long)errors);
  return errors ? 1 : 0;
}
