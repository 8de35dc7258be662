/* hakmem.h: the public API of the hakmem-sim SuperSlab allocator core.
 *
 * Glossary (the seed analysis' vocabulary):
 *   SuperSlab   a naturally aligned 2^ss_lg byte mapping serving one size
 *               class, divided into slabs; its header lives at its start.
 *   slab        a 2^slab_lg byte part of a SuperSlab with one owner thread,
 *               a local free list and a remote-free stack.
 *   total_active_blocks
 *               per SuperSlab, the allocator's own count of live blocks;
 *               trim unmaps a SuperSlab only when it reads 0.
 *   remote free a free by a thread that does not own the block's slab: a
 *               lock-free push onto the slab's remote stack (ss_remote_push).
 *   drain       the owner moving its remote stack into its free list.
 *   orphan      a slab whose owner thread exited while blocks were live.
 *   trim        hak_tiny_trim: unmapping SuperSlabs that are empty, not
 *               cached by any thread and beyond the empty reserve.
 *
 * An allocator is an instance (hak_allocator): tests create one per case
 * and destroy it, getting every mapping back. Threads attach implicitly on
 * their first call and run the orphan policy when they exit.
 */
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hak_options.h"

typedef struct hak_allocator hak_allocator;

/* ---------------------------------------------------------------- stats */

/* Counters kept per thread (single writer, no contention) and summed on
 * read; the totals of exited threads are folded into the instance.
 * X(name, description) */
#define HAK_THREAD_STAT_FIELDS(X)                                         \
  X(allocs, "blocks handed out from SuperSlabs")                          \
  X(frees_local, "frees by the owner thread of the block's slab")         \
  X(frees_remote, "cross-thread frees (remote pushes)")                   \
  X(drains, "remote stacks drained that held at least one block")         \
  X(drained_blocks, "blocks moved from remote stacks to free lists")      \
  X(refills, "slow-path refills of a thread's current slab")

/* Counters kept once per instance. X(name, description) */
#define HAK_GLOBAL_STAT_FIELDS(X)                                         \
  X(ss_allocated, "SuperSlabs mapped")                                    \
  X(ss_freed, "SuperSlabs unmapped by trim")                              \
  X(ss_live, "SuperSlabs mapped now")                                     \
  X(ss_peak, "most SuperSlabs mapped at once")                            \
  X(ss_reused, "wholly empty SuperSlabs handed to a new owner")           \
  X(bytes_mapped, "bytes of SuperSlab mappings now")                      \
  X(bytes_mapped_peak, "most bytes of SuperSlab mappings at once")        \
  X(slabs_carved, "slabs given to a thread for the first time")           \
  X(slabs_orphaned, "slabs left with live blocks by an exiting thread")   \
  X(slabs_released, "empty slabs returned by an exiting thread")          \
  X(slabs_emptied, "empty slabs a live thread gave back to their SuperSlab") \
  X(adoptions, "orphaned slabs reclaimed by another thread")              \
  X(trims, "trim passes run")                                             \
  X(trimmed_bytes, "bytes unmapped by trim")                              \
  X(ooms, "allocations refused for want of a SuperSlab")                  \
  X(threads_attached, "threads that used the allocator")                  \
  X(threads_exited, "threads whose exit path ran")                        \
  X(large_allocs, "allocations served by the large-object path")          \
  X(large_frees, "frees of large objects")                                \
  X(large_bytes_live, "bytes of large-object mappings now")                \
  X(large_cache_hits, "large allocations served from the cache of freed mappings") \
  X(large_cached_bytes, "bytes of freed large mappings waiting in the cache now") \
  X(bad_frees, "double frees and frees inside a block, counted (on_bad_free=count)") \
  X(frees_after_exit, "remote frees by threads whose exit path had run (counted in frees_remote too)")

/* Counters of the kernel mappings and of meshing (docs/meshing.md), kept
 * once per instance. A list of their own: hak_stats_to_json gives the two
 * lists above (run.json version 1's summary.allocator, unchanged), and
 * hak_map_stats_to_json this one. X(name, description) */
#define HAK_MAP_STAT_FIELDS(X)                                            \
  X(mappings, "kernel mappings the instance holds now, by its own count: SuperSlabs, " \
    "the splits meshes make, large objects, metadata")                    \
  X(peak_mappings, "most kernel mappings held at once")                   \
  X(ss_mappings, "SuperSlab mappings now, the splits meshes make included: what " \
    "ss_map_limit counts")                                                \
  X(peak_ss_mappings, "most SuperSlab mappings at once")                  \
  X(mesh_passes, "hak_mesh passes run")                                   \
  X(meshes, "slabs merged into another of their class (its live blocks copied, its " \
    "range remapped onto the other's pages)")                             \
  X(mesh_moved_blocks, "live blocks copied by meshes")                    \
  X(mesh_released_bytes, "resident bytes meshes gave back (the merged slabs' pages)") \
  X(unmeshes, "merged slabs whose last live block was freed: their range is their own again") \
  X(mesh_skipped_limit, "meshable pairs left alone: the split would pass ss_map_limit")

typedef struct hak_stats {
#define HAK_STAT_FIELD(name, desc) uint64_t name;
  HAK_THREAD_STAT_FIELDS(HAK_STAT_FIELD)
  HAK_GLOBAL_STAT_FIELDS(HAK_STAT_FIELD)
  HAK_MAP_STAT_FIELDS(HAK_STAT_FIELD)
#undef HAK_STAT_FIELD
} hak_stats;

/* ---------------------------------------------------- SuperSlab census */

/* A snapshot of one SuperSlab. */
typedef struct hak_ss_info {
  uint32_t id;              /* sequential in mapping order, from 1 */
  uint32_t class_idx;
  uint32_t block_size;
  uint32_t lg;              /* log2 of the SuperSlab size */
  uint32_t nslabs;
  uint32_t slabs_owned;     /* slabs with a live owner thread */
  uint32_t slabs_orphaned;  /* slabs whose owner exited with blocks out */
  uint32_t slabs_free;      /* uncarved or released slabs */
  uint32_t capacity;        /* blocks the SuperSlab can hold */
  uint32_t cached_by;       /* slabs live threads hold here, plus threads whose
                               home it is: trim skips it while not 0 */
  uint32_t owner_tid;       /* thread that mapped or took it (0: none) */
  bool owner_alive;
  int64_t total_active_blocks;
  uint64_t remote_pending;  /* sum of remote_counts[] */
  uint64_t used_blocks;     /* blocks out of the owners' free lists, by address:
                               the blocks a slab holds for the slabs merged into it
                               count where they are addressed, in those slabs */
  uint64_t touched_bytes;   /* header plus every block ever carved (counted a
                               page of blocks at a time) */
  uint32_t header_bytes;    /* its header (metadata), which depends on the class */
  uintptr_t base;           /* address (never in golden output) */
  uint32_t slabs_alias;     /* slabs merged into another (compaction=mesh): in none
                               of the three counts above */
} hak_ss_info;

/* --------------------------------------------------------------- events */

/* What one trim pass did. freed_ids lists the SuperSlabs it unmapped and is
 * valid only during the observer callback (or copied by hak_trim). */
typedef struct hak_trim_report {
  uint64_t pass;            /* 1 for the instance's first pass */
  uint32_t scanned;
  uint32_t freed;
  uint64_t freed_bytes;
  uint32_t skipped_nonempty;  /* total_active_blocks != 0 */
  uint32_t skipped_cached;    /* a thread's current slab is in it */
  uint32_t skipped_reserve;   /* kept as the empty reserve */
  uint32_t skipped_meshed;    /* empty, but a slab of it is merged into another or
                                 holds the live blocks of slabs merged into it */
  const uint32_t *freed_ids;
} hak_trim_report;

/* What one hak_mesh pass did. */
typedef struct hak_mesh_report {
  uint64_t pass;            /* 1 for the instance's first pass */
  uint32_t candidates;      /* slabs looked at: fully carved, at most 3/4 live, not
                               slab 0 */
  uint32_t pairs_tested;    /* pairs whose live bitmaps were compared */
  uint32_t meshes;          /* slabs merged into another */
  uint32_t skipped_limit;   /* meshable pairs left alone: ss_map_limit */
  uint64_t moved_blocks;    /* live blocks copied */
  uint64_t released_bytes;  /* resident bytes of the merged slabs, given back */
} hak_mesh_report;

/* What meshing could release now (hak_mesh_potential). */
typedef struct hak_mesh_potential_report {
  uint32_t candidates;      /* as hak_mesh_report */
  uint32_t pairs_tested;
  uint32_t slabs;           /* slabs that could be merged into others */
  uint64_t bytes;           /* their bytes (a slab's size each) */
  uint64_t resident_bytes;  /* their resident bytes now */
} hak_mesh_potential_report;

/* Observer callbacks. Any may be NULL; with no observer set nothing is
 * called and the fast paths pay one predictable branch. Callbacks run in
 * the thread that caused the event, some with internal locks held: they
 * must not call back into the allocator. */
typedef struct hak_observer {
  void *ctx;
  void (*ss_map)(void *ctx, const hak_ss_info *ss, uint32_t tid);
  void (*ss_unmap)(void *ctx, uint32_t ss_id, const char *reason);
  void (*trim)(void *ctx, const hak_trim_report *r);
  void (*remote_push)(void *ctx, uint32_t ss_id, uint32_t slab, uint32_t by_tid);
  void (*drain)(void *ctx, uint32_t ss_id, uint32_t slab, uint32_t blocks, uint32_t tid);
  void (*thread_attach)(void *ctx, uint32_t tid);
  void (*thread_exit)(void *ctx, uint32_t tid, uint32_t orphaned_slabs,
                      uint32_t released_slabs);
  void (*orphan)(void *ctx, uint32_t ss_id, uint32_t slab, uint32_t tid);
  void (*adopt)(void *ctx, uint32_t ss_id, uint32_t slab, uint32_t by_tid,
                uint32_t drained);
  void (*oom)(void *ctx, uint64_t ss_live, int err, uint32_t limit);
  /* Slab gone_slab of SuperSlab gone_ss merged into keep_slab of keep_ss
   * (its `blocks` live blocks copied); the merged slab's range given back
   * when its last block was freed. */
  void (*mesh)(void *ctx, uint32_t keep_ss, uint32_t keep_slab, uint32_t gone_ss,
               uint32_t gone_slab, uint32_t blocks);
  void (*unmesh)(void *ctx, uint32_t ss_id, uint32_t slab);
} hak_observer;

/* Where the library's only message (the one-time OOM line) goes; NULL in
 * hak_create_opts means stderr. */
typedef void (*hak_log_fn)(void *ctx, const char *line);

typedef struct hak_create_opts {
  const hak_observer *observer; /* copied; NULL for none */
  hak_log_fn log;
  void *log_ctx;
  /* true: never start the background trim thread even when idle_trim_ms
   * and trim_ss ask for it (the deterministic replayer trims itself). */
  bool no_trim_thread;
  /* true: this caller never calls hak_mesh (libhakmem.so: no write
   * barrier, docs/meshing.md), so under compaction=mesh the SuperSlabs stay
   * anonymous mappings and hak_mesh refuses; slot_order still applies. */
  bool no_mesh;
} hak_create_opts;

/* ------------------------------------------------------------ lifecycle */

/* Creates an allocator with configuration *cfg (validated; NULL means the
 * defaults). Returns 0 and *out, or -HAK_EINVAL (err says why) or
 * -HAK_ENOMEM. */
int hak_create(const hak_config *cfg, const hak_create_opts *opts, hak_allocator **out,
               char *err, size_t errlen);

/* Unmaps everything the instance mapped and frees it. No thread may use
 * the instance during or after the call. With flush_on_exit set, a final
 * trim pass is run (and observed) first. */
void hak_destroy(hak_allocator *a);

/* Runs the calling thread's exit path now (orphan policy included), as if
 * the thread had exited; a later call attaches it again with a new id. */
void hak_thread_detach(hak_allocator *a);

/* The calling thread's id in this instance (attaching it if needed). */
uint32_t hak_thread_id(hak_allocator *a);

const hak_config *hak_get_config(const hak_allocator *a);

/* -------------------------------------------------------- malloc family */

void *hak_malloc(hak_allocator *a, size_t size);
void *hak_calloc(hak_allocator *a, size_t n, size_t size);
void *hak_realloc(hak_allocator *a, void *p, size_t size);
/* align: a power of two. NULL + errno EINVAL otherwise. */
void *hak_memalign(hak_allocator *a, size_t align, size_t size);

/* Frees p (NULL is a no-op). Returns 0, or -HAK_EINVAL when p is not a
 * block this instance handed out (a foreign pointer: nothing is touched). */
int hak_free(hak_allocator *a, void *p);

/* Usable size of p, 0 for NULL or a foreign pointer. */
size_t hak_usable_size(hak_allocator *a, const void *p);

/* True when p lies in a SuperSlab of this instance (registry lookup, no
 * read of unmapped memory). */
bool hak_owns(hak_allocator *a, const void *p);

/* -------------------------------------------------------------- control */

/* One hak_tiny_trim pass; fills *r if not NULL, copying up to ids_cap
 * freed SuperSlab ids into ids. Returns the number of SuperSlabs freed. */
uint32_t hak_trim(hak_allocator *a, hak_trim_report *r, uint32_t *ids, size_t ids_cap);

/* Extra mappings counted against ss_map_limit (e.g. leaked thread stacks). */
void hak_set_extra_maps(hak_allocator *a, uint64_t n);

/* One mesh pass (compaction=mesh, docs/meshing.md): slabs of one class
 * whose live blocks sit at disjoint offsets are merged, one slab's blocks
 * copied into the other's free slots at the same offsets and its range
 * mapped onto the other's pages, whose own pages go back to the kernel;
 * every pointer stays valid. Fills *r if not NULL. Returns 0, or
 * -HAK_EINVAL when the instance has no memfd backing (compaction is not
 * mesh, or it was created with no_mesh).
 * PRECONDITION: no other thread is inside the allocator for the whole
 * call (threads that use it are parked outside it: the pass reads and
 * changes their free caches, remote stacks and queues on their behalf).
 * The deterministic replayer calls it where it trims, before hak_trim;
 * libhakmem.so never does (no write barrier). */
int hak_mesh(hak_allocator *a, hak_mesh_report *r);

/* What one mesh pass could release now, if every meshable pair it finds
 * (the same matching, more rounds, no map limit) were merged: changes
 * nothing, and works under every configuration (compaction=none too).
 * Same PRECONDITION as hak_mesh. Returns 0. */
int hak_mesh_potential(hak_allocator *a, hak_mesh_potential_report *r);

/* fork() support: call prepare before fork, then parent or child after it
 * (pthread_atfork order). In the child, every other thread's cache goes
 * through the exit path and the trim thread is restarted. */
void hak_fork_prepare(hak_allocator *a);
void hak_fork_parent(hak_allocator *a);
void hak_fork_child(hak_allocator *a);

/* --------------------------------------------------------- observation */

void hak_get_stats(hak_allocator *a, hak_stats *out);

/* Id of the SuperSlab holding p (0 if none), the index of p's slab in it
 * and its block size: one registry lookup, no lock; for per-operation
 * bookkeeping. slab_idx and block_size may be NULL. */
uint32_t hak_ss_id_of(hak_allocator *a, const void *p, uint32_t *slab_idx, uint32_t *block_size);

/* Snapshot of the SuperSlab holding p; false if p is not in one. */
bool hak_ss_of(hak_allocator *a, const void *p, hak_ss_info *out);

/* Calls fn for every live SuperSlab, in mapping order, with internal locks
 * held (fn must not call into the allocator). */
void hak_ss_foreach(hak_allocator *a, void (*fn)(void *ctx, const hak_ss_info *ss),
                    void *ctx);

/* As hak_ss_foreach, without used_blocks (left 0) and class by class
 * (mapping order within a class; each class locked in turn, so not one
 * instant when other threads run): reads only each SuperSlab's header and
 * remote counts, for frequent census samples of a quiescent allocator. */
void hak_ss_census(hak_allocator *a, void (*fn)(void *ctx, const hak_ss_info *ss), void *ctx);

/* One size class's geometry in this configuration. */
typedef struct hak_class_info {
  uint32_t block_size;
  uint32_t min_request;     /* the smallest request it serves (the previous class + 1) */
  uint32_t slab_bytes;      /* its slab size (the slab_lg size, or larger for medium
                               classes: at least 16 blocks) */
  uint32_t nslabs;          /* slabs per SuperSlab */
  uint32_t header_bytes;    /* the SuperSlab header, which slab 0 gives up */
  uint32_t ss_blocks;       /* blocks a SuperSlab of the class holds */
} hak_class_info;

/* Fills *out for class c; false when c is not a class. */
bool hak_class_geometry(const hak_allocator *a, int c, hak_class_info *out);

/* Size class of a request, -1 beyond the largest class; its block size. */
int hak_size_class(const hak_allocator *a, size_t size);
uint32_t hak_class_size(const hak_allocator *a, int class_idx);
uint32_t hak_class_count(const hak_allocator *a);

/* The OS page size (cached after the first call). */
size_t hak_page_size(void);

/* Bytes of one SuperSlab's header (metadata) in this configuration. */
size_t hak_ss_header_bytes(const hak_allocator *a);

/* Live OS mappings held by the instance (SuperSlabs, large objects,
 * registry and metadata): 0 after hak_destroy's unmaps. Its own count
 * (stats: mappings): a SuperSlab is one mapping, plus the splits meshes
 * make of it; the kernel may merge neighbours that this count keeps apart. */
uint64_t hak_live_mappings(const hak_allocator *a);

/* Resident bytes of the instance's own mappings, measured with mincore():
 * SuperSlabs (for memfd-backed ones, the file's pages, each counted once:
 * a merged slab's range shows its primary's pages and is skipped), large
 * objects, and the metadata (registry, thread caches, tables). Takes the
 * locks it needs; one mincore() call per SuperSlab. */
uint64_t hak_resident_bytes(hak_allocator *a);

/* ----------------------------------------------------------- validation */

/* Checks every invariant of every SuperSlab (counts, lists, the orphan
 * list, and with `quiescent` true each slab's free list and remote stack,
 * and every live thread's caches: only when no other thread is inside the
 * allocator). Returns 0, or -HAK_EINVAL with the first violation in err. */
int hak_check(hak_allocator *a, bool quiescent, char *err, size_t errlen);

/* Checks the calling thread's own caches (its queues, their slabs and
 * free lists). Safe while other threads run. 0 or -HAK_EINVAL + err. */
int hak_check_thread(hak_allocator *a, char *err, size_t errlen);

#endif
