/* internal.h: hakreplay's structures, grouped by the file that owns them.
 *
 * Every trace thread runs on a real OS thread from a pool (pool.c) that the
 * allocator sees as that thread: its own thread cache and id, so a free of
 * another thread's block is a real remote free, and a trace thread's exit
 * runs the allocator's real exit path (orphaning, adoption). The trace is
 * read ahead and its block ids resolved to slots of the block table
 * (feed.c); exec.c runs one op against the allocator and keeps the ground
 * truth beside it.
 *
 * Deterministic mode (det.c): one turn (turn.c) is passed along the trace;
 * its holder alone calls the allocator and touches the shared state, so the
 * allocator sees the trace's global order exactly. Free mode (freerun.c):
 * the coordinator queues each op to its thread's worker; workers run
 * concurrently, keeping only the trace's data dependencies.
 *
 * Ground truth (which blocks are live, where) lives in the block table and
 * the per-SuperSlab records; the allocator's own beliefs come from its
 * census. Samples put the two side by side.
 */
#ifndef HR_INTERNAL_H
#define HR_INTERNAL_H

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hakmem.h"
#include "hc_out.h"
#include "ht_trace.h"

/* Exit codes (docs/architecture.md). */
enum { HR_EXIT_OK = 0, HR_EXIT_VERDICT = 1, HR_EXIT_USAGE = 2, HR_EXIT_OOM = 3, HR_EXIT_INTERNAL = 4 };

/* ------------------------------------------------------------ blocks.c */

/* One live block of the trace. Slots are recycled; addresses are stable
 * (chunked table), so workers can use them while the table grows. */
typedef struct hr_block {
  void *ptr;
  uint64_t size;      /* requested bytes (calloc: n x size) */
  uint32_t usable;    /* class size (0 for large objects) */
  uint32_t ss_id;     /* 0: not in a SuperSlab */
  uint32_t slab;
  _Atomic uint32_t ready; /* free mode: set once the alloc has run */
} hr_block;

#define HR_CHUNK_BITS 16
#define HR_MAX_CHUNKS (1u << 16)

/* One id -> slot entry; key is id + 1 (0 empty, UINT64_MAX a tombstone). */
typedef struct hr_map_entry {
  uint64_t key;
  uint32_t slot;
} hr_map_entry;

typedef struct hr_blocks {
  hr_block *chunks[HR_MAX_CHUNKS];
  uint64_t cap;                /* slots in allocated chunks */
  uint32_t *free_slots;        /* recycled slot numbers */
  uint64_t nfree, free_cap;
  uint64_t next;               /* next never-used slot */
  uint32_t *direct;            /* [direct_cap] id -> slot + 1 (0: not live) */
  uint64_t direct_cap, direct_used;
  hr_map_entry *map;           /* other ids -> slot, open addressing, linear probing */
  uint64_t map_cap, map_used, map_tombs;
} hr_blocks;

int hr_blocks_init(hr_blocks *b);
void hr_blocks_free(hr_blocks *b);
static inline hr_block *hr_block_at(hr_blocks *b, uint32_t slot) {
  return &b->chunks[slot >> HR_CHUNK_BITS][slot & ((1u << HR_CHUNK_BITS) - 1)];
}
/* A new slot for id (the trace's validation guarantees id is not live). */
int hr_blocks_bind(hr_blocks *b, uint64_t id, uint32_t *slot);
/* The slot of a live id, unbound from it. -1 if not live. */
int hr_blocks_unbind(hr_blocks *b, uint64_t id, uint32_t *slot);
/* The slot may be reused: no op still to run reads it. */
int hr_blocks_recycle(hr_blocks *b, uint32_t slot);

/* ------------------------------------------------------------ turn.c */

static inline void hr_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* How a waiter waits (hr_turn_policy_default: from the CPUs this process
 * may run on). */
typedef struct hr_turn_policy {
  uint32_t spin;               /* pauses between yields while hot; 0 with one CPU */
  uint64_t park_ns;            /* a waiter parks after waiting this long */
} hr_turn_policy;

/* One participant's place in the turn protocol, on its own cache line. */
typedef struct hr_turn_slot {
  _Alignas(64) _Atomic uint32_t state; /* futex word: idle, waiting, parked, go */
  _Atomic uint32_t hot;        /* the turn comes soon: pause between yields */
  uint64_t parks, yields;      /* the owner's counts, for tuning */
} hr_turn_slot;

hr_turn_policy hr_turn_policy_default(void);
hr_turn_policy hr_turn_policy_for_cpus(unsigned cpus);
void hr_turn_slot_init(hr_turn_slot *s);
/* Gives the turn to the slot's owner (the caller holds it and stops). */
void hr_turn_give(hr_turn_slot *to);
/* Waits for the turn: parked at once when park_first (the turn is far),
 * else yielding (pausing too while hot) and parking after park_ns. While
 * hot it calls help(ctx) (if not NULL) instead of pausing: a small piece
 * of work, true if there was any. */
void hr_turn_wait(const hr_turn_policy *p, hr_turn_slot *me, bool park_first,
                  bool (*help)(void *ctx), void *ctx);
/* Waits parked at most `seconds`; true when the turn came (and is taken). */
bool hr_turn_wait_for(hr_turn_slot *me, double seconds);
/* The owner's turn comes soon: wake it if parked and make it pause. */
void hr_turn_heat(hr_turn_slot *s);
/* Wakes the owner if parked, to wait yielding. */
void hr_turn_rouse(hr_turn_slot *s);
/* For tests and statistics: the owner is parked (or about to be). */
bool hr_turn_is_parked(hr_turn_slot *s);

/* ------------------------------------------------------------ truth.c */

/* One SuperSlab as the last sample saw it: what it added to the census. */
typedef struct hr_census_view {
  bool counted;
  uint32_t orphaned;           /* slabs_orphaned */
  int64_t active;              /* total_active_blocks */
  int64_t live;                /* ground truth */
  uint64_t pending, touched;
  uint32_t header;             /* header_bytes: a class's own geometry */
} hr_census_view;

/* Ground truth for one SuperSlab, by id. Counters are atomics so free mode
 * can update them from several workers. */
typedef struct hr_ss {
  uint32_t id, class_idx, block_size, capacity, nslabs;
  uint32_t slab_bytes;         /* its class's slab size (medium classes: larger) */
  uint32_t map_tid;            /* trace thread that mapped it */
  uint64_t map_t, unmap_t;     /* event index, unmap_t 0 while mapped */
  uintptr_t base;              /* its address, to ask the allocator about it */
  bool mapped;
  bool primary;                /* on the meshing's list of primaries (mesh.c) */
  _Atomic bool dirty;          /* changed since the last sample (on the dirty list) */
  _Atomic int64_t live_blocks;
  _Atomic int64_t live_bytes;  /* requested bytes */
  _Atomic int64_t slabs_active;/* slabs with >= 1 live block */
  _Atomic int32_t *slab_live;  /* [nslabs] */
  hr_census_view seen;         /* what the samples counted for it (sample.c) */
} hr_ss;

typedef struct hr_truth {
  pthread_mutex_t lock;        /* growth of the table */
  hr_ss **by_id;               /* [cap], index = ss id */
  _Atomic(hr_ss **) published; /* by_id as readers may see it */
  uint32_t cap, max_id;
  uint32_t live;               /* SuperSlabs mapped now */
  /* Process-wide ground truth (atomics: free mode). The byte ladder is over
   * SuperSlab blocks; large objects are counted apart. */
  _Atomic int64_t live_blocks, live_req_bytes, live_block_bytes, slab_active_bytes;
  _Atomic int64_t peak_req_bytes; /* exact peak of R (a racy max in free mode) */
  _Atomic int64_t large_blocks, large_bytes;
  size_t ss_size;
  void *retired;               /* superseded tables, freed at the end */
  bool exclusive;              /* one updater at a time (deterministic mode) */
  /* SuperSlabs changed since the last sample: by a block alloc or free
   * here, or by an allocator event (drain, orphan, adoption, map, unmap). */
  pthread_mutex_t dirty_lock;
  uint32_t *dirty;             /* ids */
  uint32_t ndirty, dirty_cap;
  bool dirty_oom;              /* the list could not grow: next census is a full one */
} hr_truth;

int hr_truth_init(hr_truth *t, size_t ss_size, bool exclusive);
void hr_truth_free(hr_truth *t);
hr_ss *hr_truth_get(hr_truth *t, uint32_t id);
hr_ss *hr_truth_add(hr_truth *t, const hak_ss_info *info);
void hr_truth_alloc(hr_truth *t, const hr_block *b);
void hr_truth_mark(hr_truth *t, hr_ss *ss);
/* ss changed: on the dirty list once until the next sample takes it. */
static inline void hr_truth_touch(hr_truth *t, hr_ss *ss) {
  if (!atomic_load_explicit(&ss->dirty, memory_order_relaxed)) hr_truth_mark(t, ss);
}
void hr_truth_free_block(hr_truth *t, const hr_block *b);

/* ------------------------------------------------------------ feed.c */

#define HR_WINDOW (1u << 13)   /* events read ahead (a power of two) */
#define HR_RUNS (2 * HR_WINDOW)

/* hr_feed.status besides 0 (more to read) and the reader's HT_E* codes. */
enum { HR_FEED_END = 1, HR_FEED_NOMEM = -100 };

/* One trace event, resolved for execution: block ids turned into slots. */
typedef struct hr_op {
  uint8_t op;                  /* ht_op */
  uint32_t tid;                /* thread_start: the new thread */
  uint32_t slot, slot2;        /* block slots; realloc: old in slot, new in slot2 */
  uint64_t id, new_id;         /* for the marks and the messages */
  uint64_t size;
  uint64_t aux;                /* calloc: n; memalign: align; thread_start: parent */
} hr_op;

typedef struct hr_feed {
  ht_reader *reader;
  hr_blocks *blocks;
  bool recycle_at_once;        /* deterministic: freed slots are reusable at once */
  hr_op *ring;                 /* [HR_WINDOW]: event t at ring[t % HR_WINDOW] */
  uint64_t fed;                /* events read and resolved */
  uint64_t hash;               /* FNV-1a of the events read */
  int status;                  /* 0, HR_FEED_END, HR_FEED_NOMEM or the reader's error */
  /* Runs: maximal stretches of one thread's ops (thread starts excluded:
   * the holder runs those), for the look-ahead of hand-offs. */
  _Atomic uint64_t *run_start; /* [HR_RUNS] first event, by run number % HR_RUNS */
  _Atomic uint32_t *run_tid;   /* [HR_RUNS] (atomics: read ahead while written) */
  uint64_t runs;               /* runs begun */
  uint32_t last_tid;
} hr_feed;

int hr_feed_init(hr_feed *f, ht_reader *r, hr_blocks *b, bool recycle_at_once);
void hr_feed_free(hr_feed *f);
/* Reads one event into *op: 0, or the (sticky) status that stopped it. */
int hr_feed_one(hr_feed *f, hr_op *op);
/* Reads into the ring until `fed` reaches upto, the end or an error. */
void hr_feed_fill(hr_feed *f, uint64_t upto);
/* After a failure: hashes and counts the rest of the trace (no ids
 * resolved). 0, or the reader's error. */
int hr_feed_rest(hr_feed *f);
/* FNV-1a of one event's 8 fields as 64-bit values in memory order. */
uint64_t hr_event_hash(uint64_t h, const ht_event *ev);

/* ------------------------------------------------------------ exec.c */

/* Why a replay stopped at an event. */
enum { HR_FAIL_NONE = 0, HR_FAIL_OOM = 1, HR_FAIL_CORRUPT = 2, HR_FAIL_SKIPPED = 3 };

typedef struct hr_failure {
  int kind;                    /* HR_FAIL_OOM or HR_FAIL_CORRUPT; 0 none */
  uint64_t t;
  char msg[320];               /* "block ID: what" (the caller adds file and event) */
} hr_failure;

typedef struct hr_run hr_run;

/* Runs op (event t) from the calling thread, which runs op->tid. 0, or
 * the failure (also in *f); HR_FAIL_SKIPPED when free mode was aborted. */
int hr_exec(hr_run *run, const hr_op *op, uint64_t t, hr_failure *f);
/* Prefetches what the ops far and near ahead (NULL: none) will touch, if
 * they are trace thread tid's frees. */
#define HR_PREFETCH 8
void hr_prefetch(hr_run *run, const hr_op *far, const hr_op *near, uint32_t tid);
/* Trace thread tid exits at event t: the allocator's exit path, from this
 * OS thread, which reaches the allocator as a new thread afterwards. */
void hr_exit_thread(hak_allocator *a, uint32_t tid, uint64_t t);

/* The trace thread and event index the calling thread is at, for observer
 * callbacks that run in it; -1: not a trace thread (the coordinator, the
 * trim thread, or a holder doing the replayer's own duties). */
extern _Thread_local int64_t hr_tl_trace_tid;
extern _Thread_local uint64_t hr_tl_t;

/* ------------------------------------------------------------ pool.c */

#define HR_QUEUE 1024u         /* ops queued to one free-mode worker */

typedef struct hr_qop {
  hr_op op;
  uint64_t t;
} hr_qop;

/* Free mode: the coordinator's ops for one worker (single producer, single
 * consumer). */
typedef struct hr_queue {
  hr_qop *ops;                 /* [HR_QUEUE] */
  _Atomic uint64_t head;       /* published by the coordinator */
  uint64_t unpublished;        /* appended (coordinator only) */
  _Alignas(64) _Atomic uint64_t tail; /* run by the worker */
  _Atomic uint32_t parked;     /* futex word: the worker sleeps for work */
} hr_queue;

typedef struct hr_pool hr_pool;

typedef struct hr_worker {
  hr_turn_slot turn;           /* deterministic mode (first: its own cache line) */
  hr_run *run;
  hr_pool *pool;
  uint32_t index;              /* creation order */
  pthread_t thread;
  void *stack;                 /* hr_stack_size(), shared (hr_stack_attr) */
  int64_t tid;                 /* the trace thread it runs, -1 while idle */
  struct hr_worker *next_idle;
  hr_queue queue;              /* free mode */
  hr_failure failure;          /* free mode: its first failure */
} hr_worker;

struct hr_pool {
  hr_run *run;
  void *(*main)(void *);       /* a worker's thread function (its argument: the worker) */
  hr_worker **all;             /* [n] in creation order */
  uint32_t n, cap;
  hr_worker *idle;             /* most recently idle first */
  uint32_t nidle;
  int err;                     /* hr_pool_get's last failure: -errno (pthread_create's
                                * error, or -ENOMEM) */
};

/* The size of the replayer's thread stacks: glibc's default (ulimit -s)
 * and a guard page. */
size_t hr_stack_size(void);
/* Attributes for a thread on a new shared stack (*stack, hr_stack_size()
 * with a guard page): 0, or an errno. */
int hr_stack_attr(pthread_attr_t *attr, void **stack);
void hr_stack_free(void *stack);
int hr_pool_init(hr_pool *p, hr_run *run, void *(*main)(void *));
/* An idle worker, or a new OS thread; NULL if none can be created (why in
 * p->err). */
hr_worker *hr_pool_get(hr_pool *p);
/* w's trace thread has exited (its exit op is run or queued). */
void hr_pool_put(hr_pool *p, hr_worker *w);
/* Joins every worker (each must have been told to return). */
void hr_pool_join(hr_pool *p);
void hr_pool_free(hr_pool *p);

/* ------------------------------------------------------------ det.c */

/* Why a driver handed the replay back to the coordinator. */
enum { HR_END_DONE = 1, HR_END_FAILED, HR_END_READ, HR_END_NOMEM, HR_END_DUTY };

#define HR_LATENCY_BUCKETS 32

/* What --turn-stats prints (passes and latencies: holder-owned; helped:
 * under the feed's lock). */
typedef struct hr_turn_stats {
  uint64_t passes;             /* hand-offs between workers */
  uint64_t helped;             /* events read ahead by waiters */
  uint64_t given_at;           /* --turn-stats: when the last hand-off began */
  uint64_t latency_ns;
  uint64_t latency_hist[HR_LATENCY_BUCKETS]; /* by floor(log2(ns)) */
} hr_turn_stats;

typedef struct hr_det {
  hr_turn_policy policy;
  hr_turn_slot *coord;         /* the coordinator waits here for the end */
  hr_worker **worker_of;       /* [threads] by trace tid (holder only) */
  uint64_t pos;                /* the next event to run (holder only) */
  uint64_t next_duty;          /* the next trim or sample time */
  uint64_t cursor;             /* the run holding pos, for look-ahead */
  hr_worker *bound;            /* bound by a start since the last hand-off */
  hr_turn_stats stats;
  /* The window as published by whoever holds the feed (the holder, or a
   * waiter reading ahead while it waits). */
  bool helpers;                /* waiters read ahead (more than one CPU) */
  _Atomic uint32_t feeding;    /* the feed's lock */
  _Atomic uint64_t fed;        /* ops in the ring: [done, fed) */
  _Atomic uint64_t runs;       /* runs recorded */
  _Atomic int status;          /* the feed's status once fed stopped growing */
  _Atomic uint64_t done;       /* the holder's pos: ring entries below it are free */
  int end;                     /* HR_END_*, set by the last holder */
  _Atomic bool stop;           /* workers return */
} hr_det;

int hr_det_init(hr_run *run);
/* Runs the whole trace; returns HR_END_*. */
int hr_det_run(hr_run *run);
/* Tells every worker to return and joins them (--turn-stats: then prints
 * the hand-offs, waits and read-ahead of the run on stderr). */
void hr_det_stop(hr_run *run);
void hr_det_free(hr_run *run);

/* ------------------------------------------------------------ freerun.c */

/* A freed slot, recyclable once its worker has run past pos. */
typedef struct hr_pending {
  hr_worker *w;
  uint32_t slot;
  uint64_t pos;
} hr_pending;

typedef struct hr_free {
  hr_worker **worker_of;       /* [threads] by trace tid */
  hr_worker *current;          /* the queue being appended to */
  hr_pending *pend;            /* FIFO ring [pend_cap] */
  uint64_t pend_head, pend_tail, pend_cap;
  _Atomic bool stop;
} hr_free;

int hr_free_init(hr_run *run);
int hr_free_run(hr_run *run);
void hr_free_stop(hr_run *run);
void hr_free_free(hr_run *run);

/* ------------------------------------------------------------ events.c */

/* A JSON text writer that writes what jansson's json_dumpf(JSON_INDENT(1) |
 * JSON_PRESERVE_ORDER) would for the same values, without building them:
 * one value (objects and arrays nested in it) at a given depth. Keys and
 * strings must need no escaping (the replayer's own words). */
#define HR_JW_MAX_DEPTH 16
typedef struct hr_jw {
  FILE *f;
  int depth;                   /* of the value written */
  int level;                   /* open containers */
  bool first[HR_JW_MAX_DEPTH]; /* no element yet, by level */
  bool in_key;                 /* a key was written: its value comes next */
  int err;                     /* -1 after a failed write */
} hr_jw;

/* The run's event log (ss_map, ss_unmap, trim, thread_start/exit, adopt,
 * oom), as run.json's text, spooled to a temporary file. */
typedef struct hr_events {
  pthread_mutex_t lock;
  FILE *spool;                 /* the elements of run.json's events array */
  hr_jw jw;                    /* the event being written (lock held) */
  uint64_t count;              /* events in the log */
  uint64_t dropped;            /* beyond max_events */
  uint64_t max_events;
  json_t *last_oom;            /* a copy of the last oom event, for the summary */
  int failed;                  /* 0, or the errno that stopped the spool */
} hr_events;

int hr_events_init(hr_events *e, uint64_t max_events);
void hr_events_free(hr_events *e);
/* Writes the events array (lock held): 0, or -errno on an I/O error. */
int hr_events_put(hr_events *e, FILE *f);
/* Starts logging an event (its type and t written): returns the writer for
 * its other fields, NULL when over max_events (then nothing to end). The
 * events lock is held until hr_event_end. */
hr_jw *hr_event_begin(hr_events *e, const char *type, uint64_t t);
void hr_event_end(hr_events *e);
/* A spool of `count` array elements as a JSON array at depth 1: 0, or
 * -errno (a write to f that failed: -EIO, its stream knows why). */
int hr_spool_put(FILE *spool, uint64_t count, FILE *f);
/* The errno of an I/O call that just failed (EIO if it set none). */
static inline int hr_io_errno(void) { return errno ? errno : EIO; }
/* Records an impossible state once (first caller wins). */
void hr_internal_error(hr_run *run, const char *msg);
/* The allocator observer that feeds the events and the ground truth. */
hak_observer hr_observer(hr_run *run);

/* ------------------------------------------------------------ sample.c */

#define HR_BUCKETS 11 /* occupancy: exactly 0, (0,10%], ..., (90%,100%] */

/* The census's counts over the live SuperSlabs (signed: kept by adding
 * and taking back each SuperSlab's part). */
typedef struct hr_census {
  int64_t live, empty, full, partial, orphaned, lnbe;
  int64_t hist[HR_BUCKETS];
  int64_t drift, remote_pending, touched, meta;
} hr_census;

/* One --ss-detail row. */
typedef struct hr_census_row {
  uint32_t id, class_idx, capacity, orphaned;
  int64_t live, active;
  uint64_t pending;
} hr_census_row;

typedef struct hr_sampler {
  hr_census census;            /* as of the last sample (census.c) */
  FILE *spool;                 /* the samples as run.json's text, a temporary file */
  uint64_t count;
  int failed;                  /* 0, or the errno that stopped the spool */
  FILE *detail;                /* --ss-detail, or NULL */
  hc_out detail_out;           /* where it goes (renamed into place by hr_sampler_finish) */
  hak_stats prev;              /* counters at the previous sample */
  /* Series kept for the summary (one entry per sample). */
  double *R, *H;
  uint64_t n, cap;
  uint64_t peak_touched;
  int64_t drift_last;
  uint64_t lnbe_last;          /* logically_nonempty_but_empty at the last sample */
  uint64_t lnbe_peak;
  /* --allocator hakmem: the measured samples' series, and peaks. */
  double *Rr, *Hr;             /* all live requested bytes, resident */
  uint64_t nr, capr;
  uint64_t peak_resident, peak_mapped;
  uint64_t peak_live_all;      /* R and large objects, at the measured samples */
  double rutil_last;
} hr_sampler;

int hr_sampler_init(hr_sampler *s, const char *detail_path, char *err, size_t errlen);
/* Puts the --ss-detail file in place after the last sample; -1 on a write
 * error (its errno in s->detail_out.err). */
int hr_sampler_finish(hr_sampler *s);
/* Takes a sample at event index t (all workers idle). */
int hr_sample(hr_run *run, uint64_t t);
/* A samples' `frees` object: local, remote and remote_ratio. */
void hr_put_frees(hr_jw *w, const char *key, uint64_t local, uint64_t remote);
/* Appends (r, h) to a pair of growing series (R and H of the summary's
 * fragmentation measures). -1 out of memory. */
int hr_series_push(double **R, double **H, uint64_t *n, uint64_t *cap, double r, double h);
/* num / den, 0 when den is 0. */
static inline double hr_ratio(uint64_t num, uint64_t den) {
  return den ? (double)num / (double)den : 0.0;
}

/* census.c: brings the sampler's census up to date (and, with
 * --ss-detail, returns every SuperSlab's row, malloc'd). -1 out of memory. */
int hr_census_take(hr_run *run, uint64_t t, hr_census_row **rows, size_t *nrows);
void hr_sampler_free(hr_sampler *s);
/* The summary object from the samples and the final stats. */
json_t *hr_summary(hr_run *run, json_t *oom_event);
/* Johnstone and Wilson's jw1-jw4 (and _pct) from n sampled R and H. */
json_t *hr_fragmentation_json(const double *R, const double *H, uint64_t n);

/* ------------------------------------------------------------ mesh.c */

/* Meshing in a replay (docs/meshing.md, "For the replayer"): a hak_mesh
 * pass at every quiescent point where it runs (deterministic mode: each
 * trim point, before the trim; free mode: each sample point), and the
 * meshing potential (hak_mesh_potential, any configuration) at samples. */
typedef struct hr_meshing {
  bool on;                     /* compaction=mesh: passes run */
  uint64_t potential_every;    /* samples between two potentials (1: every one) */
  uint64_t samples_seen;       /* samples taken so far (for the rationing) */
  /* The potential over the samples where it was computed. */
  uint64_t potential_n;
  uint64_t potential_last, potential_peak;
  long double potential_sum;
  uint32_t potential_peak_slabs;
  /* SuperSlabs holding a slab others were merged into: a free through an
   * alias changes them without a block of theirs being freed, so the
   * census looks at them again at every sample (census.c). */
  uint32_t *primaries;
  uint32_t nprimaries, primaries_cap;
  bool primaries_oom;          /* the list could not grow: full censuses from then on */
} hr_meshing;

void hr_meshing_init(hr_run *run);
void hr_meshing_free(hr_meshing *m);
/* A mesh pass now (every trace thread idle), logged as a `mesh` event;
 * nothing unless compaction=mesh. */
void hr_mesh_pass(hr_run *run);
/* The potential at this sample, if it is one where it is computed: true
 * and *bytes (the slabs one pass could merge, at a slab's size each). */
bool hr_mesh_potential(hr_run *run, bool last, uint64_t *bytes);
/* The observer's mesh callback: a primary's SuperSlab remembered. */
void hr_mesh_primary(hr_run *run, uint32_t ss);
/* Before a census: every primary's SuperSlab marked changed. false when
 * the list is incomplete (the census must then be a full one). */
bool hr_mesh_touch_primaries(hr_run *run);
/* The summary's mesh_potential object. */
json_t *hr_mesh_potential_json(const hr_meshing *m);

/* ------------------------------------------------------------ progress.c */

typedef struct hr_progress_line {
  bool on;
  int fd;                      /* --progress-fd, or -1: the terminal */
  int64_t total;               /* events in the trace, -1 unknown */
  double started, last;
} hr_progress_line;

/* ------------------------------------------------------------ resident.c */

/* The allocator's resident and mapped bytes, one method for every
 * allocator (resident.c's comment; docs/run-format.md). */
typedef struct hr_resident {
  int rollup_fd, maps_fd;      /* /proc/self/smaps_rollup, /proc/self/maps */
  bool in_process;             /* the replayer's malloc heap is subtracted */
  int memfd;                   /* in process: the allocator's memfd (compaction=mesh), or -1 */
  char *buf;                   /* shared scratch for the files' text */
  size_t cap;
  unsigned char *vec;          /* mincore's vector (shared) */
  size_t veccap;
  int64_t base_anon, base_mapped; /* at the baseline */
  double started, spent;       /* the measurement budget */
  uint64_t vmas;               /* mappings at the last measurement */
  uint64_t measured;
} hr_resident;

/* A MAP_SHARED anonymous region (shmem: never counted as the allocator's),
 * or NULL. */
void *hr_shared_map(size_t size);
void hr_shared_unmap(void *p, size_t size);
/* in_process: also routes every later malloc of this process to glibc's
 * brk heap, which measurements subtract. 0, or -1 (no /proc). */
int hr_resident_init(hr_resident *r, bool in_process);
void hr_resident_free(hr_resident *r);
/* What is there before the first replayed event, subtracted from then on. */
int hr_resident_baseline(hr_resident *r);
/* Whether a measurement fits the budget now (always when forced). */
bool hr_resident_due(const hr_resident *r, bool force);
int hr_resident_measure(hr_resident *r, uint64_t *resident, uint64_t *mapped);

/* ------------------------------------------------------------ selfreport.c */

#define HR_SELF_MAX 8

/* The allocators hakreplay --allocator knows, and how each is loaded. */
typedef struct hr_allocator_info {
  const char *name;            /* glibc, jemalloc, mimalloc, tcmalloc */
  const char *soname;          /* LD_PRELOAD'ed in the child; NULL: glibc */
  const char *package;         /* the Debian package (scripts/install-deps.sh) */
} hr_allocator_info;

/* NULL for a name that is not an external allocator (hakmem included). */
const hr_allocator_info *hr_allocator_find(const char *name);
/* "glibc, jemalloc, mimalloc, tcmalloc". */
const char *hr_allocator_names(void);

/* What an allocator reports about itself, found by dlsym in the child. */
typedef struct hr_self {
  const hr_allocator_info *info;
  uint32_t n;                  /* values per report */
  const char *names[HR_SELF_MAX];
  void *fn;                    /* the report function */
} hr_self;

/* Checks that malloc is the allocator's (the preload took), finds its
 * report function and version: 0, or -1 with err. */
int hr_self_init(hr_self *s, const hr_allocator_info *info, char *version, size_t vlen,
                 char *library, size_t llen, char *err, size_t errlen);
void hr_self_read(const hr_self *s, uint64_t *vals);

/* ------------------------------------------------------------ child.c, extrun.c */

/* An external allocator's replay runs in a child process (a re-exec of
 * hakreplay with the allocator preloaded) whose own bookkeeping never
 * calls malloc: the parent reads the trace, resolves it and writes
 * run.json; the child runs the ops, keeps the ground truth and measures.
 * They share one memfd: ops parent -> child, records child -> parent. */
#define HR_X_RING (1u << 16)   /* ops in flight (a power of two) */
#define HR_X_RECS 4096u        /* records in flight */

enum { HR_XREC_SAMPLE = 1, HR_XREC_START, HR_XREC_EXIT };
enum { HR_XSTATE_STARTING = 0, HR_XSTATE_RUNNING, HR_XSTATE_DONE, HR_XSTATE_SETUP_FAILED };

/* One record: a sample, or a thread start or exit (for the event log). */
typedef struct hr_xrec {
  uint32_t kind, tid, parent, measured;
  uint64_t t;
  uint64_t live_blocks, live_bytes, frees_local, frees_remote, threads_alive;
  uint64_t resident, mapped;
  uint64_t self[HR_SELF_MAX];
} hr_xrec;

typedef struct hr_xshm {
  /* The parent's, before the child starts. */
  uint64_t sample_every;
  uint64_t inject_overwrite;   /* tests: hr_options' */
  uint32_t threads;            /* trace threads (the header's count) */
  char allocator[32];
  /* The child's, before it sets state RUNNING (or SETUP_FAILED: msg). */
  char version[96];
  char library[256];
  uint32_t nself;
  char self_names[HR_SELF_MAX][40];
  /* Ops: ring[t % HR_X_RING] for t in [done, fed). */
  _Alignas(64) _Atomic uint64_t fed;
  _Atomic uint32_t feed_end;   /* no op after fed */
  _Atomic uint32_t parent_bell;/* futex: the parent published or took */
  _Atomic uint32_t child_waits;
  _Alignas(64) _Atomic uint64_t done; /* ops run */
  _Atomic uint64_t recs_put;
  _Atomic uint32_t child_bell; /* futex: the child ran, put or ended */
  _Atomic uint32_t parent_waits;
  _Atomic uint32_t state;
  _Alignas(64) _Atomic uint64_t recs_taken;
  /* The end (state DONE). */
  uint64_t events_done, peak_live_bytes, threads_started, live_blocks_end;
  uint64_t frees_local, frees_remote;
  uint32_t os_threads;
  hr_failure failure;
  char msg[320];
  hr_op ring[HR_X_RING];
  hr_xrec recs[HR_X_RECS];
} hr_xshm;

/* The child's main: hakreplay --child FD (FD: the memfd). Exit 0, or 4. */
int hr_child_main(int fd);
/* Futex on a word of shared memory (not private: two processes). */
void hr_xwait(_Atomic uint32_t *word, uint32_t seen, double seconds);
void hr_xwake(_Atomic uint32_t *word);

/* ------------------------------------------------------------ replay.c */

typedef struct hr_options {
  const char *trace_path;
  const char *out_path;        /* run.json */
  const char *ss_detail_path;  /* optional JSONL */
  /* --allocator: NULL, hakmem in process as always; "hakmem", the same
   * with its resident and mapped bytes measured (resident.c); another
   * name, an external allocator replayed in a child (extrun.c). */
  const char *allocator;
  hak_config cfg;
  bool deterministic;
  uint64_t ops_per_ms;
  uint64_t sample_every;       /* 0: about 1,000 samples per run */
  uint64_t thread_maps;
  uint64_t max_events;
  /* Fault injection for the tests of the corruption check: the block freed
   * (or reallocated) at this event index is overwritten first. 0 = off. */
  uint64_t inject_overwrite;
  /* Tests: every sample's census is also taken in full and compared. */
  bool census_check;
  /* Measurement: --turn-stats prints the hand-offs; --no-help keeps the
   * waiters from reading the trace ahead (the holder reads it alone). */
  bool turn_stats, no_help;
  bool quiet;
  bool progress;               /* stderr is a terminal and not quiet */
  int progress_fd;             /* --progress-fd N (compare's replays), -1 none */
  char cmdline[1024];
} hr_options;

/* Everything one replay owns. */
struct hr_run {
  const hr_options *opt;
  hak_allocator *alloc;
  ht_reader *reader;
  const ht_header *header;
  uint32_t nthreads;           /* trace threads (the header's count) */
  hr_blocks blocks;
  hr_feed feed;
  hr_truth truth;
  hr_events events;
  hr_sampler sampler;
  hr_pool pool;
  hr_det det;
  hr_free fr;
  bool measure;                /* --allocator hakmem: resident and mapped bytes */
  bool last_sample;            /* the next sample is the run's last (always measured) */
  hr_resident resident;
  hr_meshing mesh;
  bool driver_ready;
  hc_out out;                  /* run.json: opened by the setup, put in place at the end */
  hr_progress_line progress_line;
  _Atomic uint64_t progress;   /* events run, published for the progress line */
  _Atomic uint32_t threads_started;
  uint32_t threads_alive;
  _Atomic uint64_t t_now;      /* the replayer's clock when no trace thread acts */
  uint64_t events_done;        /* replayed (up to the failure) */
  uint64_t trace_events;       /* in the trace */
  uint64_t trim_every;         /* events between replayer-driven trims, 0 none */
  uint64_t sample_every;
  hr_failure failure;          /* the first failure, if any */
  _Atomic bool abort;          /* free mode: a worker failed, the others skip */
  _Atomic int internal_error;  /* set by observers: an impossible allocator state */
  char internal_msg[320];      /* written by whoever set internal_error first */
};

/* A trace thread started at event t (counted, logged, its mappings held
 * against the map limit). */
void hr_thread_started(hr_run *run, uint32_t tid, uint32_t parent, uint64_t t);
/* No OS thread could run trace thread tid, starting at event t: an
 * internal error naming the thread, the reason (the pool's err) and where
 * the limits are. */
void hr_thread_start_failed(hr_run *run, uint32_t tid, uint64_t t);
/* Runs the replay; returns the process exit code. */
int hr_replay(const hr_options *o);
/* The parent's side of hakreplay TRACE --allocator NAME (extrun.c). */
int hr_ext_replay(const hr_options *o);
/* run.json's trace object (replay.c; extrun.c too). */
json_t *hr_trace_json(hr_run *run);

/* ------------------------------------------------------------ progress.c */

void hr_progress_init(hr_progress_line *p, const hr_options *o, int64_t total);
/* Updates the line (at most every 0.25 s unless last). */
void hr_progress(hr_run *run, uint64_t done, bool last);
/* "DONE/TOTAL M events (P%), R M events/s, M:SS left", or at the end
 * "DONE M events in S s, R M events/s". */
void hr_progress_format(char *buf, size_t len, uint64_t done, int64_t total, double seconds,
                        bool last);

/* ------------------------------------------------------------ host.c */

/* Wall time, RSS, CPU, faults: the only nondeterministic part of run.json.
 * who: RUSAGE_SELF, or RUSAGE_CHILDREN for a replay run in a child. */
json_t *hr_host_json(double wall_seconds, uint64_t events, uint32_t pool_threads, int who);
double hr_now(void);

/* ------------------------------------------------------------ outfile.c */

/* Fills o, an output (common/include/hc_out.h: a temporary file renamed
 * into place, a FIFO or device written straight through) that
 * hc_out_open(o, path) opened, with write(f, ctx) (0, or -errno for a
 * failure of its own) and a newline, and puts it in place; on any failure
 * o is dropped. 0, or -1 with err ("PATH: cannot write: why"). */
int hr_write_file(hc_out *o, const char *path, int (*write)(FILE *f, void *ctx), void *ctx,
                  char *err, size_t errlen);
/* A stdio stream whose writes go to o (hc_out_write: o->err keeps the
 * first error). Closing it leaves o open. NULL with errno. */
FILE *hr_out_stream(hc_out *o);
/* v as json_dumpf(JSON_INDENT(1) | JSON_PRESERVE_ORDER) writes it nested
 * at depth (after a key or in an array). 0, or -1. */
int hr_json_put(FILE *f, const json_t *v, int depth);

void hr_jw_init(hr_jw *w, FILE *f, int depth);
void hr_jw_open(hr_jw *w, char c);   /* '{' or '[' */
void hr_jw_close(hr_jw *w, char c);  /* '}' or ']' */
void hr_jw_key(hr_jw *w, const char *key);
void hr_jw_int(hr_jw *w, int64_t v);
void hr_jw_put_int(hr_jw *w, const char *key, int64_t v); /* key, then v */
void hr_jw_real(hr_jw *w, double v);
void hr_jw_null(hr_jw *w);
void hr_jw_str(hr_jw *w, const char *s);

#endif
