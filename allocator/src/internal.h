/* internal.h: the allocator's data structures and internal prototypes,
 * grouped under the file that defines them.
 *
 * Locking, in one place:
 *   - fast paths (allocation from the current slab, local free, remote
 *     push, drain of the current slab) take no lock;
 *   - everything that changes which thread owns or caches a slab, the
 *     per-class SuperSlab list, the orphan list and a thread's owned-slab
 *     list happens under that class's lock (hak_class_state.lock);
 *   - mapping state (registry, live counts, thread list) is under
 *     hak_allocator.map_lock; the class lock may be held when taking it,
 *     never the reverse;
 *   - trim passes are serialised by trim_lock, taken before class locks.
 *
 * Why trim can never unmap memory a thread is touching: a thread touches a
 * slab only while it is cached (its current slab: trim skips cached
 * SuperSlabs), while it holds the class lock (trim holds it too), or while
 * freeing a live block, which keeps total_active_blocks >= 1 until the
 * free's final decrement, its last access to the SuperSlab.
 */
#ifndef HAK_INTERNAL_H
#define HAK_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hakmem.h"

#define HAK_LIKELY(x) __builtin_expect(!!(x), 1)
#define HAK_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Owner ids of a slab besides live thread ids. */
#define HAK_TID_NONE 0u            /* uncarved or released: nobody's */
#define HAK_TID_ORPHAN UINT32_MAX  /* waiting in the orphan list (adopt policy) */

typedef struct hak_tcache hak_tcache;
typedef struct hak_superslab hak_superslab;

/* Membership of a SuperSlab in one of its class's lists (class lock). */
typedef struct hak_ss_link {
  hak_superslab *prev, *next;
  bool in;
} hak_ss_link;

typedef struct hak_ss_list {
  hak_superslab *head, *tail;
  uint32_t count;
} hak_ss_list;

/* Per-slab metadata, inside the SuperSlab header. Fields marked (owner) are
 * written only by the owning thread, or under the class lock when there is
 * no live owner. */
typedef struct hak_slab {
  _Atomic uint32_t owner_tid;   /* live tid, HAK_TID_NONE or HAK_TID_ORPHAN; a
                                   dead owner's tid stays under `leave` */
  uint32_t capacity;            /* blocks this slab holds */
  uint32_t carved;              /* (owner) blocks bump-allocated so far */
  uint32_t touched;             /* (owner) high water of carved, kept across
                                   release: those pages stay touched */
  uint32_t free_count;          /* (owner) length of free_list */
  _Atomic uint32_t used;        /* (owner writes) blocks out of the free list,
                                   remote-pending ones included */
  void *free_list;              /* (owner) singly linked through the blocks */
  char *data;                   /* first block */
  /* The owning thread's list of its slabs of this class, and the class's
   * orphan list (adopt policy). Both under the class lock; pprev points at
   * the link that points here (NULL: not in the list), so trim can unlink
   * a slab without knowing whose list holds it. */
  struct hak_slab *owned_next, **owned_pprev;
  struct hak_slab *orphan_next, **orphan_pprev;
  bool orphaned;                /* owner exited with blocks out (class lock) */
  uint16_t index;               /* slab_idx within the SuperSlab */
} hak_slab;

/* The SuperSlab header, at the start of its mapping. The first slab's
 * blocks start after it. */
struct hak_superslab {
  uint32_t id;                  /* sequential in mapping order */
  uint16_t class_idx;
  uint16_t nslabs;
  uint32_t block_size;
  uint32_t capacity;            /* sum of slab capacities */
  /* The seed's counter: +1 per allocation, -1 per local free, and -1 per
   * remote free at push or drain time depending on remote_accounting. Its
   * value is total_active_blocks + the sum of active_delta[] (read it with
   * hak_ss_active): the owner of a slab counts its own allocations and
   * frees in that slab's active_delta with plain stores, so the fast paths
   * take no atomic read-modify-write on a line other threads write;
   * cross-thread decrements go to the shared atomic. */
  _Atomic int64_t total_active_blocks;
  uint32_t owner_tid;           /* thread that mapped or took it (class lock) */
  /* References from thread caches (class lock): each thread whose current
   * slab is here counts once, and once more if this is its home SuperSlab.
   * The seed's "cached in TLS" test for trim is cached_by != 0. */
  uint32_t cached_by;
  uint32_t free_slabs;          /* slabs with owner HAK_TID_NONE (class lock) */
  uint32_t slabs_orphaned;      /* slabs with `orphaned` set (class lock) */
  /* Blocks ever carved (sum of the slabs' high waters): the touched part. */
  _Atomic uint64_t touched_blocks;
  struct hak_superslab *next, *prev; /* the class's list, mapping order */
  /* Lists that keep refill from scanning every SuperSlab of the class:
   * with_free holds those with a free slab (refill reuse), all_free those
   * whose every slab is free (refill fresh's reserve reuse). */
  hak_ss_link with_free, all_free;
  /* Per-slab arrays laid out after this struct, counts first: a census
   * reads the struct and remote_counts[] only (a few cache lines). */
  _Atomic uint32_t *remote_counts;   /* [nslabs]: blocks pushed, not drained */
  _Atomic int64_t *active_delta;     /* [nslabs]: the slab owner's part of the counter */
  _Atomic uintptr_t *remote_heads;   /* [nslabs]: lock-free LIFO stacks */
  hak_slab *slabs;                   /* [nslabs] */
};

/* A thread's view of one size class (the seed's g_tls_slabs[class]). */
typedef struct hak_class_cache {
  hak_superslab *ss;            /* current SuperSlab (cached: trim skips it) */
  hak_slab *slab;               /* current slab, owned by this thread */
  hak_superslab *home;          /* newest SuperSlab this thread mapped or took:
                                   fresh refill carves new slabs only here */
  hak_slab *owned;              /* every slab this thread owns in the class */
} hak_class_cache;

/* Per-thread counters: one writer (the thread), read by hak_get_stats. */
typedef struct hak_thread_stats {
#define HAK_TSTAT_FIELD(name, desc) _Atomic uint64_t name;
  HAK_THREAD_STAT_FIELDS(HAK_TSTAT_FIELD)
#undef HAK_TSTAT_FIELD
} hak_thread_stats;

/* Single-writer increment: no read-modify-write instruction needed. */
static inline void hak_tstat_add(_Atomic uint64_t *c, uint64_t n) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                        memory_order_relaxed);
}

struct hak_tcache {
  hak_allocator *alloc;
  uint32_t tid;
  hak_thread_stats stats;
  struct hak_tcache *next, *prev;     /* the instance's live threads (map_lock) */
  hak_class_cache cls[];              /* [class_count] */
};

typedef struct hak_class_state {
  pthread_mutex_t lock;
  uint32_t block_size;
  uint32_t shift;               /* log2(block_size) if a power of two, else 0 */
  hak_superslab *first, *last;  /* live SuperSlabs of the class, mapping order */
  uint32_t count;
  hak_ss_list with_free, all_free; /* see hak_superslab */
  hak_slab *orphans;            /* adopt policy: slabs awaiting a new owner */
} hak_class_state;

/* Large objects: direct mappings recorded in an open-addressed table. */
typedef struct hak_large_entry {
  uintptr_t addr;               /* 0 empty, 1 tombstone */
  size_t size;                  /* usable size */
  void *map_base;
  size_t map_len;
} hak_large_entry;

typedef struct hak_large_table {
  pthread_mutex_t lock;
  hak_large_entry *slots;
  size_t cap, used, tombs;
} hak_large_table;

/* Registry: base address >> ss_lg -> SuperSlab, two levels of atomic
 * pointers, so a lookup never reads memory the allocator did not map. */
#define HAK_REG_LEAF_BITS 14
typedef struct hak_registry {
  _Atomic(_Atomic(hak_superslab *) *) *top;
  size_t top_len;
  uint32_t shift;               /* ss_lg */
} hak_registry;

struct hak_allocator {
  hak_config cfg;
  uint64_t instance_id;         /* unique per process, for the TLS fast cache */
  pthread_key_t key;            /* thread exit hook */
  hak_observer obs;
  bool has_obs;
  hak_log_fn log;
  void *log_ctx;

  uint32_t class_count;
  uint32_t class_max;           /* largest block size */
  uint8_t size_to_class[(1024u * 64u) / 8u + 1]; /* (size+7)/8 -> class */
  hak_class_state classes[HAK_MAX_CLASSES];

  size_t ss_size, slab_size, header_size;
  uint32_t slabs_per_ss;

  pthread_mutex_t map_lock;
  hak_registry reg;
  uint32_t next_ss_id;
  uint32_t next_tid;
  _Atomic uint64_t *tid_alive;  /* bitmap of live thread ids */
  uint32_t tid_alive_max;
  _Atomic uint64_t ss_live;
  _Atomic uint64_t extra_maps;
  _Atomic uint64_t live_mappings; /* every OS mapping the instance holds */
  bool oom_logged;
  hak_tcache *threads;          /* live thread caches (map_lock) */
  hak_thread_stats exited;      /* totals of threads that are gone (map_lock) */
  struct {
#define HAK_GSTAT_FIELD(name, desc) _Atomic uint64_t name;
    HAK_GLOBAL_STAT_FIELDS(HAK_GSTAT_FIELD)
#undef HAK_GSTAT_FIELD
  } g;

  pthread_mutex_t trim_lock;
  uint32_t *trim_ids;           /* scratch for one pass's freed ids (trim_lock) */
  size_t trim_ids_cap;

  /* Metadata pool for thread caches (map_lock). */
  void *meta_chunks;            /* linked list of mapped chunks */
  void *tc_free;                /* recycled thread caches */
  char *meta_bump, *meta_end;
  size_t tcache_size;

  hak_large_table large;

  /* Background trim thread. */
  pthread_t trim_thread;
  bool trim_thread_running;
  pthread_mutex_t trim_wait_lock;
  pthread_cond_t trim_wait_cond;
  bool trim_stop;
};

#define HAK_OBS(a, cb) ((a)->has_obs && (a)->obs.cb)

/* os.c: the OS layer, counting every mapping. */
void *hak_os_map(hak_allocator *a, size_t len);
void *hak_os_map_aligned(hak_allocator *a, size_t len, size_t align, void **base,
                         size_t *map_len);
void hak_os_unmap(hak_allocator *a, void *p, size_t len);

/* size_class.c */
int hak_classes_init(hak_allocator *a, char *err, size_t errlen);
int hak_classes_parse(const char *spec, uint32_t *sizes, uint32_t *count, char *err,
                      size_t errlen);

/* registry.c */
int hak_registry_init(hak_allocator *a);
void hak_registry_destroy(hak_allocator *a);
int hak_registry_set(hak_allocator *a, uintptr_t base, hak_superslab *ss);
hak_superslab *hak_registry_lookup(const hak_allocator *a, const void *p);

/* superslab.c */
hak_superslab *hak_ss_map(hak_allocator *a, uint32_t class_idx, hak_tcache *tc);
static inline hak_superslab *hak_ss_of_slab(const hak_allocator *a, hak_slab *s) {
  return (hak_superslab *)((uintptr_t)s & ~(uintptr_t)(a->ss_size - 1));
}
void hak_ss_unmap(hak_allocator *a, hak_superslab *ss, const char *reason);
void hak_ss_fill_info(const hak_allocator *a, const hak_superslab *ss, hak_ss_info *out,
                      bool per_slab);
/* Puts ss in or out of the class's with_free / all_free lists to match its
 * free_slabs (call after changing it; with gone = true to leave both). */
void hak_ss_sync_lists(hak_class_state *cs, hak_superslab *ss, bool gone);
size_t hak_ss_header_size(uint32_t nslabs);
static inline hak_slab *hak_slab_of(const hak_allocator *a, hak_superslab *ss,
                                    const void *p) {
  return &ss->slabs[((uintptr_t)p - (uintptr_t)ss) >> a->cfg.slab_lg];
}

/* The seed's total_active_blocks: the shared atomic plus the owners' parts.
 * Read under the class lock with the SuperSlab uncached (trim), it can
 * only be too high while frees race with the read, never too low. */
static inline int64_t hak_ss_active(const hak_superslab *ss) {
  int64_t v = atomic_load_explicit(&((hak_superslab *)ss)->total_active_blocks,
                                   memory_order_acquire);
  for (uint32_t i = 0; i < ss->nslabs; i++)
    v += atomic_load_explicit(&ss->active_delta[i], memory_order_acquire);
  return v;
}

/* Owner-only update of a slab's part of the counter: a plain store, with
 * release order so that a trim that sees it also sees the free before it. */
static inline void hak_slab_active_add(hak_superslab *ss, uint32_t slab, int64_t n) {
  _Atomic int64_t *d = &ss->active_delta[slab];
  atomic_store_explicit(d, atomic_load_explicit(d, memory_order_relaxed) + n,
                        memory_order_release);
}

/* remote.c: the cross-thread free stacks. */
void hak_ss_remote_push(hak_allocator *a, hak_superslab *ss, hak_slab *slab, void *p,
                        hak_tcache *by);
uint32_t hak_ss_remote_drain(hak_allocator *a, hak_superslab *ss, hak_slab *slab,
                             hak_tcache *tc);

/* refill.c: where a thread gets its next slab (class lock inside). */
hak_slab *hak_refill(hak_allocator *a, hak_tcache *tc, uint32_t class_idx);
void hak_orphan_push(hak_class_state *cs, hak_slab *slab);
void hak_list_unlink_owned(hak_slab *slab);
void hak_list_unlink_orphan(hak_slab *slab);
void hak_slab_release(hak_class_state *cs, hak_superslab *ss, hak_slab *slab);
void hak_slab_set_orphaned(hak_superslab *ss, hak_slab *slab, bool orphaned);
void hak_set_current(hak_class_cache *cc, hak_superslab *ss, hak_slab *slab);
void hak_set_home(hak_class_cache *cc, hak_superslab *ss);

/* tcache.c: thread attach and exit. */
hak_tcache *hak_tcache_get(hak_allocator *a);
hak_tcache *hak_tcache_peek(hak_allocator *a);
hak_tcache *hak_tcache_for_free(hak_allocator *a);
void hak_tcache_exit(hak_tcache *tc);
void hak_tcache_exit_thread(hak_tcache *tc);
void hak_tcache_release_all(hak_allocator *a);
bool hak_tid_alive(const hak_allocator *a, uint32_t tid);

/* large.c */
int hak_large_init(hak_allocator *a);
void hak_large_destroy(hak_allocator *a);
void *hak_large_alloc(hak_allocator *a, size_t size, size_t align);
bool hak_large_free(hak_allocator *a, void *p);
size_t hak_large_usable(hak_allocator *a, const void *p);

/* trim.c */
int hak_trim_thread_start(hak_allocator *a);
void hak_trim_thread_stop(hak_allocator *a);

/* stats.c */
static inline void hak_gstat_add(_Atomic uint64_t *c, uint64_t n) {
  atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}
void hak_gstat_max(_Atomic uint64_t *c, uint64_t v);
void hak_stats_fold_thread(hak_allocator *a, const hak_thread_stats *ts);
void hak_log_oom_once(hak_allocator *a, int err);

#endif
