/* feed.c: the trace, read ahead into a window of resolved ops. Each event
 * is read (and validated) by the trace library, hashed into the trace's
 * identity, and its block ids are turned into slots of the block table.
 * Only one thread feeds at a time: the turn holder in deterministic mode,
 * the coordinator in free mode.
 *
 * Deterministic mode recycles a freed slot at once: the ops run one at a
 * time in trace order, so the free that read the slot has run before any
 * later alloc writes it. Free mode leaves recycling to its driver, which
 * knows when the free has run. The window also records runs, the maximal
 * stretches of one thread's ops, so a hand-off can see who comes next.
 *
 * The hash is FNV-1a over the 8 fields of every event as 64-bit values in
 * memory order. Most of those bytes are zero, and a zero byte only
 * multiplies by the prime: runs of them are folded into one multiply by a
 * power of it (same value, a quarter of the multiplies on Larson).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define HR_FNV_PRIME 0x100000001b3ULL

static uint64_t fnv_pow[65]; /* HR_FNV_PRIME^k */

static void fnv_init(void) {
  fnv_pow[0] = 1;
  for (int k = 1; k <= 64; k++) fnv_pow[k] = fnv_pow[k - 1] * HR_FNV_PRIME;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* One field: its bytes up to the highest non-zero one; the zeros above it
 * are counted and multiplied in at once before the next non-zero field. */
static inline uint64_t hash_field(uint64_t h, uint64_t v, unsigned *zeros) {
  if (!v) {
    *zeros += 8;
    return h;
  }
  h *= fnv_pow[*zeros];
  unsigned bytes = 8 - (unsigned)__builtin_clzll(v) / 8;
  *zeros = 8 - bytes;
  do {
    h = (h ^ (v & 0xff)) * HR_FNV_PRIME;
    v >>= 8;
  } while (--bytes);
  return h;
}

uint64_t hr_event_hash(uint64_t h, const ht_event *ev) {
  unsigned zeros = 0;
  h = hash_field(h, (uint64_t)ev->op, &zeros);
  h = hash_field(h, ev->tid, &zeros);
  h = hash_field(h, ev->parent, &zeros);
  h = hash_field(h, ev->id, &zeros);
  h = hash_field(h, ev->new_id, &zeros);
  h = hash_field(h, ev->size, &zeros);
  h = hash_field(h, ev->n, &zeros);
  h = hash_field(h, ev->align, &zeros);
  return h * fnv_pow[zeros];
}
#else
uint64_t hr_event_hash(uint64_t h, const ht_event *ev) {
  const uint64_t f[8] = {ev->op, ev->tid, ev->parent, ev->id, ev->new_id, ev->size, ev->n, ev->align};
  const unsigned char *p = (const unsigned char *)f;
  for (size_t i = 0; i < sizeof f; i++) h = (h ^ p[i]) * HR_FNV_PRIME;
  return h;
}
#endif

int hr_feed_init(hr_feed *f, ht_reader *r, hr_blocks *b, bool recycle_at_once) {
  memset(f, 0, sizeof *f);
  fnv_init();
  f->reader = r;
  f->blocks = b;
  f->recycle_at_once = recycle_at_once;
  f->hash = 0xcbf29ce484222325ULL;
  f->ring = malloc(HR_WINDOW * sizeof *f->ring);
  f->run_start = malloc(HR_RUNS * sizeof *f->run_start);
  f->run_tid = malloc(HR_RUNS * sizeof *f->run_tid);
  return f->ring && f->run_start && f->run_tid ? 0 : -1;
}

void hr_feed_free(hr_feed *f) {
  free(f->ring);
  free(f->run_start);
  free(f->run_tid);
}

/* Resolves ev into op. 0, or -1 when the block table cannot grow. */
static int resolve(hr_feed *f, const ht_event *ev, hr_op *op) {
  op->op = (uint8_t)ev->op;
  op->tid = ev->tid;
  op->id = ev->id;
  op->new_id = ev->new_id;
  op->size = ev->size;
  op->aux = ev->op == HT_OP_CALLOC ? ev->n : ev->op == HT_OP_MEMALIGN ? ev->align : ev->parent;
  op->slot = op->slot2 = 0;
  switch (ev->op) {
  case HT_OP_ALLOC:
  case HT_OP_CALLOC:
  case HT_OP_MEMALIGN:
    return hr_blocks_bind(f->blocks, ev->id, &op->slot);
  case HT_OP_FREE:
    if (hr_blocks_unbind(f->blocks, ev->id, &op->slot) != 0) return -1;
    return f->recycle_at_once ? hr_blocks_recycle(f->blocks, op->slot) : 0;
  case HT_OP_REALLOC:
    /* Bound before the old slot is recycled: the two differ. */
    if (hr_blocks_unbind(f->blocks, ev->id, &op->slot) != 0 ||
        hr_blocks_bind(f->blocks, ev->new_id, &op->slot2) != 0)
      return -1;
    return f->recycle_at_once ? hr_blocks_recycle(f->blocks, op->slot) : 0;
  default:
    return 0;
  }
}

int hr_feed_one(hr_feed *f, hr_op *op) {
  if (f->status) return f->status;
  ht_event ev;
  int rc = ht_reader_next(f->reader, &ev);
  if (rc <= 0) return f->status = rc < 0 ? rc : HR_FEED_END;
  f->hash = hr_event_hash(f->hash, &ev);
  if (resolve(f, &ev, op) != 0) return f->status = HR_FEED_NOMEM;
  if (ev.op != HT_OP_THREAD_START && (f->runs == 0 || ev.tid != f->last_tid)) {
    atomic_store_explicit(&f->run_start[f->runs % HR_RUNS], f->fed, memory_order_relaxed);
    atomic_store_explicit(&f->run_tid[f->runs % HR_RUNS], ev.tid, memory_order_relaxed);
    f->runs++;
    f->last_tid = ev.tid;
  }
  f->fed++;
  return 0;
}

void hr_feed_fill(hr_feed *f, uint64_t upto) {
  while (f->fed < upto && hr_feed_one(f, &f->ring[f->fed % HR_WINDOW]) == 0) {
  }
}

int hr_feed_rest(hr_feed *f) {
  /* After a failure: the identity covers the whole trace, not the part
   * replayed. Ids are not resolved any more (the table is not needed). */
  if (f->status < 0 && f->status != HR_FEED_NOMEM) return f->status;
  if (f->status == HR_FEED_END) return 0;
  ht_event ev;
  int rc;
  while ((rc = ht_reader_next(f->reader, &ev)) > 0) {
    f->hash = hr_event_hash(f->hash, &ev);
    f->fed++;
  }
  return rc;
}
