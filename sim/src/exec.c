/* exec.c: one trace op against the allocator, called from the OS thread
 * that runs the op's trace thread (so a free of another thread's block is
 * a real remote free), with the ground truth kept beside it.
 *
 * Every block gets its first and last byte written with a value derived
 * from its trace id; both are checked before the block is freed or
 * reallocated, so an allocator that hands the same memory out twice is
 * caught at the event where it shows.
 *
 * In free mode a free may reach its worker before the alloc it depends on
 * has run in another one: it waits on the slot's ready flag. The earliest
 * pending op in trace order never waits, so this cannot deadlock.
 */
#include <sched.h>
#include <stdio.h>

#include "internal.h"

_Thread_local int64_t hr_tl_trace_tid = -1;
_Thread_local uint64_t hr_tl_t;

static uint8_t first_byte(uint64_t id) { return (uint8_t)(id * 0x9E3779B97F4A7C15ULL >> 56); }
static uint8_t last_byte(uint64_t id) { return (uint8_t)~first_byte(id + 1); }

static int fail(hr_failure *f, uint64_t t, const hr_op *op, int kind, const char *what) {
  f->kind = kind;
  f->t = t;
  snprintf(f->msg, sizeof f->msg, "block %llu: %s", (unsigned long long)op->id, what);
  return kind;
}

/* A 1-byte block has one byte to mark: its first. When the allocator's
 * memory is measured (--allocator hakmem), every page between is written
 * too, as the program would use it (child.c does the same for the others). */
static void mark(void *p, uint64_t size, uint64_t id, bool touch) {
  if (!size) return;
  uint8_t *b = p;
  b[0] = first_byte(id);
  if (touch)
    for (uint64_t i = 4096 - ((uintptr_t)b & 4095); i + 1 < size; i += 4096) b[i] = 0;
  if (size > 1) b[size - 1] = last_byte(id);
}

static bool intact(const hr_block *b, uint64_t id) {
  if (!b->size) return true;
  const uint8_t *p = b->ptr;
  return p[0] == first_byte(id) && (b->size == 1 || p[b->size - 1] == last_byte(id));
}

/* Free mode: wait until the alloc of this slot has run; false if another
 * worker failed (the alloc may never run). */
static inline bool wait_ready(hr_run *run, hr_block *b) {
  if (run->truth.exclusive) return true; /* deterministic: the alloc ran before */
  for (unsigned spins = 0; !atomic_load_explicit(&b->ready, memory_order_acquire); spins++) {
    if (atomic_load_explicit(&run->abort, memory_order_relaxed)) return false;
    if (spins > 64) sched_yield();
  }
  return true;
}

static void record_new(hr_run *run, hr_block *b, void *p, uint64_t size) {
  b->ptr = p;
  b->size = size;
  b->usable = 0;
  b->ss_id = hak_ss_id_of(run->alloc, p, &b->slab, &b->usable);
  hr_truth_alloc(&run->truth, b);
  atomic_store_explicit(&b->ready, 1, memory_order_release);
}

/* The test-only fault: the block freed or reallocated at event t is
 * overwritten before the check. */
static void inject(hr_run *run, uint64_t t, hr_block *b) {
  if (t == run->opt->inject_overwrite && t && b->size) ((uint8_t *)b->ptr)[0] ^= 0xff;
}

int hr_exec(hr_run *run, const hr_op *op, uint64_t t, hr_failure *f) {
  hak_allocator *a = run->alloc;
  hr_blocks *blocks = &run->blocks;
  void *p;
  switch (op->op) {
  case HT_OP_ALLOC:
  case HT_OP_CALLOC:
  case HT_OP_MEMALIGN: {
    uint64_t size = op->op == HT_OP_CALLOC ? op->aux * op->size : op->size;
    p = op->op == HT_OP_ALLOC    ? hak_malloc(a, op->size)
        : op->op == HT_OP_CALLOC ? hak_calloc(a, op->aux, op->size)
                                 : hak_memalign(a, op->aux, op->size);
    if (!p) return fail(f, t, op, HR_FAIL_OOM, "allocation failed (ENOMEM)");
    if (op->op == HT_OP_CALLOC)
      for (uint64_t i = 0; i < size; i += 4096)
        if (((uint8_t *)p)[i])
          return fail(f, t, op, HR_FAIL_CORRUPT, "calloc returned memory that is not zeroed");
    mark(p, size, op->id, run->measure);
    record_new(run, hr_block_at(blocks, op->slot), p, size);
    return 0;
  }
  case HT_OP_FREE: {
    hr_block *b = hr_block_at(blocks, op->slot);
    if (!wait_ready(run, b)) return HR_FAIL_SKIPPED;
    inject(run, t, b);
    if (!intact(b, op->id))
      return fail(f, t, op, HR_FAIL_CORRUPT,
                  "overwritten before its free: the allocator handed its memory out twice");
    hr_truth_free_block(&run->truth, b);
    atomic_store_explicit(&b->ready, 0, memory_order_relaxed);
    if (hak_free(a, b->ptr) != 0)
      return fail(f, t, op, HR_FAIL_CORRUPT, "the allocator refused to free it (foreign pointer)");
    return 0;
  }
  case HT_OP_REALLOC: {
    hr_block *old = hr_block_at(blocks, op->slot);
    if (!wait_ready(run, old)) return HR_FAIL_SKIPPED;
    inject(run, t, old);
    if (!intact(old, op->id))
      return fail(f, t, op, HR_FAIL_CORRUPT,
                  "overwritten before its realloc: the allocator handed its memory out twice");
    uint8_t keep = old->size ? ((uint8_t *)old->ptr)[0] : 0;
    hr_block prev = *old;
    hr_truth_free_block(&run->truth, old);
    atomic_store_explicit(&old->ready, 0, memory_order_relaxed);
    p = hak_realloc(a, prev.ptr, op->size ? op->size : 1);
    if (!p) { /* the old block stays live, as realloc promises */
      hr_truth_alloc(&run->truth, old);
      atomic_store_explicit(&old->ready, 1, memory_order_relaxed);
      return fail(f, t, op, HR_FAIL_OOM, "realloc failed (ENOMEM)");
    }
    if (prev.size && op->size && ((uint8_t *)p)[0] != keep)
      return fail(f, t, op, HR_FAIL_CORRUPT, "realloc lost the block's contents");
    mark(p, op->size, op->new_id, run->measure);
    record_new(run, hr_block_at(blocks, op->slot2), p, op->size);
    return 0;
  }
  default:
    return 0;
  }
}

void hr_prefetch(hr_run *run, const hr_op *far, const hr_op *near, uint32_t tid) {
  /* A free reads the slot its alloc wrote, then the block's first and last
   * bytes, usually written on another CPU: the two misses were 85% of
   * hr_exec's cycles. Asked early, they arrive while earlier ops run. The
   * slot is fetched HR_PREFETCH ops ahead, the block half as far (by then
   * the slot is here, and its pointer is right unless an op in between
   * reuses it: a prefetch of a stale address costs nothing, never faults).
   * Only this thread's ops: the others run on other CPUs. */
  if (far && far->tid == tid && (far->op == HT_OP_FREE || far->op == HT_OP_REALLOC))
    __builtin_prefetch(hr_block_at(&run->blocks, far->slot), 0);
  if (near && near->tid == tid && (near->op == HT_OP_FREE || near->op == HT_OP_REALLOC)) {
    hr_block *b = hr_block_at(&run->blocks, near->slot);
    /* ready: its alloc has run (in free mode, maybe in another worker now:
     * the acquire orders its writes of ptr and size before these reads). */
    if (!atomic_load_explicit(&b->ready, memory_order_acquire)) return;
    const char *p = b->ptr;
    if (p && b->size) {
      __builtin_prefetch(p, 1);
      __builtin_prefetch(p + b->size - 1, 1);
    }
  }
}

void hr_exit_thread(hak_allocator *a, uint32_t tid, uint64_t t) {
  /* What a dying thread runs from its key destructor: hak_thread_detach
   * runs the same exit path (orphaning, the thread_exit event), and the
   * next call from this OS thread attaches it again with a new id. */
  hr_tl_trace_tid = tid;
  hr_tl_t = t;
  hak_thread_detach(a);
  hr_tl_trace_tid = -1;
}
