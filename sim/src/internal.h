/* internal.h: hakreplay's structures, grouped by the file that owns them.
 *
 * The coordinator (the process's main thread) reads the trace, resolves
 * block ids to slots of the block table, and hands each run of consecutive
 * same-thread events (a batch) to that trace thread's worker: a real
 * pthread, created at thread_start and joined at thread_exit, so the
 * allocator's thread-exit path runs for real. In deterministic mode the
 * coordinator waits for each batch before the next (the token), so the
 * allocator sees the trace's global order exactly; in free mode it only
 * queues batches and workers run concurrently.
 *
 * Ground truth (which blocks are live, where) lives in the block table and
 * the per-SuperSlab records; the allocator's own beliefs come from its
 * census. Samples put the two side by side.
 */
#ifndef HR_INTERNAL_H
#define HR_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hakmem.h"
#include "ht_trace.h"

/* Exit codes (architecture.md). */
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

#define HR_RING 4096u        /* batches in flight, deterministic mode */
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
  hr_map_entry *map;           /* id -> slot, open addressing, linear probing */
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
 * else yielding (pausing too while hot) and parking after park_ns. */
void hr_turn_wait(const hr_turn_policy *p, hr_turn_slot *me, bool park_first);
/* Waits parked at most `seconds`; true when the turn came (and is taken). */
bool hr_turn_wait_for(hr_turn_slot *me, double seconds);
/* The owner's turn comes soon: wake it if parked and make it pause. */
void hr_turn_heat(hr_turn_slot *s);
/* Wakes the owner if parked, to wait yielding. */
void hr_turn_rouse(hr_turn_slot *s);
/* For tests and statistics: the owner is parked (or about to be). */
bool hr_turn_is_parked(hr_turn_slot *s);

/* ------------------------------------------------------------ truth.c */

/* Ground truth for one SuperSlab, by id. Counters are atomics so free mode
 * can update them from several workers. */
typedef struct hr_ss {
  uint32_t id, class_idx, block_size, capacity, nslabs;
  uint32_t map_tid;            /* trace thread that mapped it */
  uint64_t map_t, unmap_t;     /* event index, unmap_t 0 while mapped */
  bool mapped;
  _Atomic int64_t live_blocks;
  _Atomic int64_t live_bytes;  /* requested bytes */
  _Atomic int64_t slabs_active;/* slabs with >= 1 live block */
  _Atomic int32_t *slab_live;  /* [nslabs] */
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
  size_t slab_size, ss_size;
  void *retired;               /* superseded tables, freed at the end */
} hr_truth;

int hr_truth_init(hr_truth *t, size_t ss_size, size_t slab_size);
void hr_truth_free(hr_truth *t);
hr_ss *hr_truth_get(hr_truth *t, uint32_t id);
hr_ss *hr_truth_add(hr_truth *t, const hak_ss_info *info);
void hr_truth_alloc(hr_truth *t, const hr_block *b);
void hr_truth_free_block(hr_truth *t, const hr_block *b);

/* ------------------------------------------------------------ worker.c */

/* One trace event, resolved for execution. */
typedef struct hr_op {
  uint8_t op;                  /* ht_op */
  uint32_t tid;
  uint64_t t;                  /* event index */
  uint32_t slot, slot2;        /* block slot; realloc: old in slot, new in slot2 */
  uint64_t id, new_id;         /* for messages */
  uint64_t size, n, align;
} hr_op;

typedef struct hr_run hr_run;

/* Why a worker stopped a batch early. */
enum { HR_FAIL_NONE = 0, HR_FAIL_OOM = 1, HR_FAIL_CORRUPT = 2 };

/* Ops that are not trace events: run by a worker, in turn, so that what
 * they change happens at the same point of the global order every time. */
enum {
  HR_OP_STARTED = 100, /* first op of a new thread: count its mappings, log its start */
};

typedef struct hr_batch {
  hr_op *ops;
  uint32_t n, cap;
  uint64_t seq;                /* position in the global order of batches */
  bool exit_after;             /* the thread exits after this batch */
  uint64_t exit_t;             /* the thread_exit event's index */
  struct hr_batch *next;
} hr_batch;

typedef struct hr_worker {
  hr_run *run;
  uint32_t tid;
  pthread_t thread;
  bool joined;
  bool exit_queued;            /* coordinator only */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  hr_batch *head, *tail;       /* queued batches (lock) */
  bool sleeping;               /* waiting on cond for a batch (lock) */
  _Atomic bool waiting_turn;   /* waiting on cond for its turn */
  uint64_t queued;             /* batches (lock) */
  _Atomic uint64_t completed;  /* batches run */
  /* Slots whose free executed, for the coordinator to recycle (lock), and
   * the worker's own list of them for the batch running (no lock). */
  uint32_t *freed;
  uint64_t nfreed, freed_cap;
  uint32_t *local_freed;
  uint64_t nlocal, local_cap;
  /* First failure, if any (lock). */
  int fail;
  uint64_t fail_t;
  char fail_msg[320];
} hr_worker;

int hr_worker_start(hr_run *run, uint32_t tid);
/* Queues a batch (taking ownership); b->seq must be set. */
void hr_worker_submit(hr_worker *w, hr_batch *b);
/* Free mode: waits until every batch queued to w has run. */
void hr_worker_wait(hr_worker *w);
/* After the worker's exit batch has been queued: joins the thread. */
void hr_worker_join(hr_worker *w);
/* Moves the worker's freed slots to the block table; returns its failure. */
int hr_worker_collect(hr_worker *w);
/* Deterministic mode: makes batch seq the one allowed to run, waking its
 * worker (or the coordinator) if it sleeps. */
void hr_pass_turn(hr_run *run, uint64_t seq);
/* Waits until every batch before seq has run. */
void hr_wait_turn(hr_run *run, uint64_t seq);

/* The thread id and event index a worker (or the coordinator) is at, for
 * observer callbacks that run in that thread. */
extern _Thread_local int64_t hr_tl_trace_tid;
extern _Thread_local uint64_t hr_tl_t;

/* ------------------------------------------------------------ events.c */

/* The run's event log (ss_map, ss_unmap, trim, thread_start/exit, adopt,
 * oom) as a jansson array, plus the mapping of allocator thread ids to
 * trace thread ids. */
typedef struct hr_events {
  pthread_mutex_t lock;
  json_t *list;
  uint64_t dropped;            /* beyond max_events */
  uint64_t max_events;
  uint32_t *trace_tid_of;      /* [alloc tid] -> trace tid + 1 (0 unknown) */
  uint32_t tid_cap;
} hr_events;

void hr_events_init(hr_events *e, uint64_t max_events);
void hr_events_free(hr_events *e);
/* Appends an event object (stolen reference), counting it if over the cap. */
void hr_events_add(hr_events *e, json_t *ev);
/* Records an impossible state once (first caller wins). */
void hr_internal_error(hr_run *run, const char *msg);
/* The allocator observer that feeds the events and the ground truth. */
hak_observer hr_observer(hr_run *run);

/* ------------------------------------------------------------ sample.c */

typedef struct hr_sampler {
  json_t *samples;             /* array */
  FILE *detail;                /* --ss-detail, or NULL */
  hak_stats prev;              /* counters at the previous sample */
  /* Series kept for the summary (one entry per sample). */
  double *R, *H;
  uint64_t n, cap;
  uint64_t peak_touched;
  int64_t drift_last;
  uint64_t lnbe_last;          /* logically_nonempty_but_empty at the last sample */
  uint64_t lnbe_peak;
} hr_sampler;

int hr_sampler_init(hr_sampler *s, const char *detail_path, char *err, size_t errlen);
/* Takes a sample at event index t (all workers idle). */
int hr_sample(hr_run *run, uint64_t t);
void hr_sampler_free(hr_sampler *s);
/* The summary object from the samples and the final stats. */
json_t *hr_summary(hr_run *run, json_t *oom_event);

/* ------------------------------------------------------------ replay.c */

typedef struct hr_options {
  const char *trace_path;
  const char *out_path;        /* run.json */
  const char *ss_detail_path;  /* optional JSONL */
  hak_config cfg;
  bool deterministic;
  uint64_t ops_per_ms;
  uint64_t sample_every;       /* 0: about 1,000 samples per run */
  uint64_t thread_maps;
  uint64_t max_events;
  /* Fault injection for the tests of the corruption check: the block freed
   * (or reallocated) at this event index is overwritten first. 0 = off. */
  uint64_t inject_overwrite;
  bool quiet;
  bool progress;               /* stderr is a terminal and not quiet */
  char cmdline[1024];
} hr_options;

/* Everything one replay owns. */
struct hr_run {
  const hr_options *opt;
  hak_allocator *alloc;
  ht_reader *reader;
  const ht_header *header;
  hr_blocks blocks;
  hr_truth truth;
  hr_events events;
  hr_sampler sampler;
  hr_worker **workers;         /* [threads] by trace tid */
  /* Deterministic mode's token: the seq of the batch allowed to run. The
   * coordinator numbers batches as it queues them; a worker runs its batch
   * when the turn reaches it and passes the turn on; owner[] tells whom to
   * wake. The coordinator stays at most HR_RING batches ahead. */
  _Atomic uint64_t turn;
  uint64_t next_seq;           /* coordinator only */
  _Atomic uint64_t assigned;   /* batches with an owner entry (== next_seq, published) */
  _Atomic(hr_worker *) *owner; /* [HR_RING] by seq */
  pthread_mutex_t turn_lock;   /* the coordinator's sleep on the turn */
  pthread_cond_t turn_cond;
  _Atomic bool coord_waiting;
  _Atomic uint64_t coord_wait_for; /* the turn the sleeping coordinator needs */
  uint32_t nworkers;
  _Atomic uint32_t threads_started;
  uint32_t threads_alive;
  _Atomic uint64_t t_now;      /* coordinator's event index (free mode's clock) */
  uint64_t events_done;        /* replayed (up to the OOM) */
  uint64_t trace_events;       /* in the trace */
  uint64_t trim_every;         /* events between replayer-driven trims, 0 none */
  uint64_t sample_every;
  _Atomic bool abort;          /* a worker failed: the others stop waiting and skip */
  _Atomic int internal_error;  /* set by observers: an impossible allocator state */
  char internal_msg[320];      /* written by whoever set internal_error first */
  uint64_t hash;               /* FNV-1a of the events as read */
};

/* Runs the replay; returns the process exit code. */
int hr_replay(const hr_options *o);

/* ------------------------------------------------------------ host.c */

/* Wall time, RSS, CPU, faults: the only nondeterministic part of run.json. */
json_t *hr_host_json(double wall_seconds, uint64_t events, uint32_t threads);
double hr_now(void);

/* ------------------------------------------------------------ outfile.c */

/* Writes JSON to path through a temporary file renamed into place. Returns
 * 0 or -1 with errno. */
int hr_write_json_file(const char *path, json_t *doc, char *err, size_t errlen);

#endif
