/* internal.h: the allocator's data structures and internal prototypes,
 * grouped under the file that defines them.
 *
 * Locking, in one place:
 *   - the owner's path takes no lock: allocation from its slabs, local
 *     frees, moving its slabs between its own queues (current, avail,
 *     full), carving and draining its slabs' remote stacks;
 *   - a remote free is a lock-free push onto the slab's remote stack;
 *   - every change of a slab's ownership (a thread taking a free slab,
 *     releasing an empty one, orphaning at exit, adopting an orphan), the
 *     per-class SuperSlab lists, the orphan list and a thread's home
 *     happen under that class's lock (hak_class_state.lock);
 *   - mapping state (registry, live counts, thread list) is under
 *     hak_allocator.map_lock; the class lock may be held when taking it,
 *     never the reverse;
 *   - trim passes are serialised by trim_lock, taken before class locks;
 *   - the large-object table (and its cache) is under large.lock, a leaf;
 *   - quiescence (compaction=mesh): a mesh pass (mesh.c) runs only while no
 *     other thread is inside the allocator (hak_mesh's precondition). It
 *     then does on the owners' behalf what otherwise only owners do: drain
 *     a slab's remote stack, drop its blocks from its owner's free cache,
 *     rebuild its free list, move it between its owner's queues or out of
 *     them. It holds trim_lock, then each class lock in turn;
 *   - alias state (which slab is merged into which, the merged slabs'
 *     bitmaps and counts) is under the class lock: a free through a merged
 *     slab's range takes it, and so does the double-free check of a slab
 *     others are merged into (alias.c).
 *
 * Why trim can never unmap memory a thread is touching: trim skips every
 * SuperSlab a live thread holds a slab of or calls home (cached_by != 0,
 * read under the class lock); a thread touches a SuperSlab only while it
 * holds a slab there (its queues), while it holds the class lock (trim
 * holds it too), or while freeing a live block, which keeps the
 * SuperSlab's counter >= 1 until the free's last access (remote.c). Under
 * compaction=mesh trim also skips a SuperSlab with a slab merged into
 * another or holding merged blocks (hak_ss_meshed): its pages show
 * through other ranges, or its range shows other pages. A free through a
 * merged range adds 1 to the counter of the primary's SuperSlab before it
 * frees the block there, and lowers the merged slab's count last.
 *
 * Free-list links are encoded (x ^ link_key, a per-instance random value
 * with the top bit set). Every link of a slab's free list and remote stack
 * points into that slab or is NULL; allocation stores 0 in the word, which
 * decodes to no valid link. So a block seen twice on a list shows itself
 * when its link is read (a pop, a drain), and a block whose first word
 * decodes to a valid link is already on a list (alloc.c).
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

/* Debug checks (meson -Ddebug_checks=true): assertions on the paths and
 * the validators of check.c run at the points they guard. */
#ifdef HAK_DEBUG
#define HAK_ASSERT(cond) ((cond) ? (void)0 : hak_assert_fail(#cond, __FILE__, __LINE__))
#else
#define HAK_ASSERT(cond) ((void)0)
#endif

/* Owner ids of a slab besides live thread ids. */
#define HAK_TID_NONE 0u            /* uncarved or released: nobody's */
#define HAK_TID_ORPHAN UINT32_MAX  /* waiting in the orphan list (adopt policy) */
#define HAK_TID_ALIAS (UINT32_MAX - 1u) /* merged into another slab (mesh.c) */

/* Which list holds a slab. The owner moves its slabs between CURRENT,
 * AVAIL and FULL without a lock; ORPHAN and NONE change under the class
 * lock. */
enum { HAK_Q_NONE = 0, HAK_Q_CURRENT, HAK_Q_AVAIL, HAK_Q_FULL, HAK_Q_ORPHAN };

/* Smallest slab capacity the class geometry aims at: medium classes get
 * larger slabs so a refill serves at least this many blocks. */
#define HAK_MIN_SLAB_BLOCKS 16u

typedef struct hak_tcache hak_tcache;
typedef struct hak_superslab hak_superslab;
typedef struct hak_ss_mesh hak_ss_mesh;

/* Membership of a SuperSlab in one of its class's lists (class lock). */
typedef struct hak_ss_link {
  hak_superslab *prev, *next;
  bool in;
} hak_ss_link;

typedef struct hak_ss_list {
  hak_superslab *head, *tail;
  uint32_t count;
} hak_ss_list;

/* Per-slab metadata, one cache line each, inside the SuperSlab header, so
 * two threads owning neighbouring slabs never write the same line. Fields
 * marked (owner) are written only by the owning thread, or under the class
 * lock when it has no live owner. */
typedef struct hak_slab {
  void *free_list;              /* (owner) first free block, links encoded */
  char *data;                   /* first block */
  uint32_t span;                /* capacity x block size: the blocks' bytes */
  _Atomic uint32_t owner_tid;   /* live tid, HAK_TID_NONE or HAK_TID_ORPHAN; a
                                   dead owner's tid stays under `leave` */
  /* (owner writes) blocks out of the free list, remote-pending ones
   * included; read by the census and the checks. */
  _Atomic uint32_t used;
  uint8_t queue;                /* HAK_Q_* */
  uint8_t orphaned;             /* owner exited with blocks out (class lock) */
  uint16_t index;               /* slab_idx within the SuperSlab */
  uint32_t carved;              /* (owner) blocks bump-allocated so far */
  uint32_t capacity;            /* blocks this slab holds */
  /* The owner's avail or full queue, or the class's orphan list (adopt
   * policy, class lock): never two at once, `queue` says which. */
  struct hak_slab *next, *prev;
  /* The live owner's cache (class lock writes; NULL without a live owner):
   * a remote free into an empty stack tells it (remote_events). */
  _Atomic(struct hak_tcache *) owner_tc;
} __attribute__((aligned(64))) hak_slab;
_Static_assert(sizeof(hak_slab) == 64, "a slab's metadata is one cache line");

/* The SuperSlab header, at the start of its mapping. The first slab's
 * blocks start after it. */
struct hak_superslab {
  /* Line 0: what every free reads. */
  uint64_t div_magic;           /* ceil(2^64 / block_size): see hak_is_block_offset */
  uint32_t block_size;
  uint16_t class_idx;
  uint16_t nslabs;
  uint8_t slab_shift;           /* log2 of this class's slab size */
  hak_slab *slabs;                   /* [nslabs] */
  /* [nslabs]: lock-free LIFO stacks; each word is the first block (low 48
   * bits) and the number of blocks on the stack (high 16), so a drain
   * knows the count without walking the chain (remote.c). */
  _Atomic uintptr_t *remote_heads;
  /* [nslabs] (owner) blocks of each slab counted in touched_blocks, kept
   * across release (those pages stay touched); written a page at a time. */
  uint32_t *touched;
  /* [nslabs] The seed's counter, owner part: slab i contributes its `used`
   * + acct_adjust[i]. Drains under `none` and `push` add what they take
   * out of `used` here (only drains write it), so only the variant's own
   * decrement ever lowers the counter. */
  _Atomic int64_t *acct_adjust;
  /* compaction=mesh: its slabs' mesh state, from the first mesh one of
   * them took part in until it is unmapped (NULL otherwise). A remote free
   * reads it: a block of a merged slab, or of a slab others are merged
   * into, takes the alias path (alias.c). */
  _Atomic(hak_ss_mesh *) mesh;
  /* The seed's counter is total_active_blocks + the slabs' owner parts
   * (read it with hak_ss_active). Cross-thread decrements (the remote push
   * under `push`) go to this shared atomic, on a line of its own. */
  _Alignas(64) _Atomic int64_t total_active_blocks;
  /* Cold: class lock unless said otherwise. */
  _Alignas(64) uint32_t id;     /* sequential in mapping order */
  uint32_t capacity;            /* sum of slab capacities */
  uint32_t owner_tid;           /* thread that mapped or took it */
  uint32_t home_refs;           /* threads whose home (refill fresh) it is */
  uint32_t free_slabs;          /* slabs with owner HAK_TID_NONE */
  uint32_t slabs_orphaned;      /* slabs with `orphaned` set */
  uint32_t slabs_live;          /* slabs a live thread owns (in its queues) */
  uint32_t slabs_alias;         /* slabs merged into another (owner HAK_TID_ALIAS) */
  /* The owner parts of slabs no live thread owns never change (nobody
   * drains or allocates there; a free through a merged slab, which lowers
   * its `used`, keeps this in step), so while slabs_live == 0 their sum is
   * kept here and the census reads one number instead of every slab. */
  int64_t frozen_active;
  /* Blocks counted as touched (page-sized steps of the slabs' high
   * waters): atomic, the owners add to it while carving. */
  _Atomic uint64_t touched_blocks;
  struct hak_superslab *next, *prev; /* the class's list, mapping order */
  /* Lists that keep refill from scanning every SuperSlab of the class:
   * with_free holds those with a free slab (refill reuse), all_free those
   * whose every slab is free (refill fresh's reserve reuse). */
  hak_ss_link with_free, all_free;
  uint64_t file_off;            /* compaction=mesh: its offset in the instance's memfd */
};
/* The header's size is part of every SuperSlab's geometry (slab 0's
 * capacity, the census' meta bytes): new fields go into its slack. */
_Static_assert(sizeof(hak_superslab) == 256, "the SuperSlab header keeps its size");

/* A thread's view of one size class (the seed's g_tls_slabs[class]),
 * written only by the thread. The first fields are the fast paths'. */
typedef struct hak_class_cache {
  /* The free cache: the thread's most recently freed blocks of its own
   * slabs, last in first out (freecache.c). Its blocks are free in every
   * count (their slab's `used` dropped when they were freed) but are on no
   * slab's list; links encoded with fc_key. */
  void *fc_head;
  uint16_t fc_count, fc_cap;
  hak_slab *slab;               /* current slab (a_empty_slab when none) */
  hak_superslab *ss;            /* its SuperSlab (NULL when none) */
  hak_slab *avail_head, *avail_tail; /* owned slabs with room */
  hak_slab *full_head, *full_tail;   /* owned slabs without room, oldest first */
  uint32_t nslabs;              /* owned slabs: current + avail + full */
  uint32_t nfull;               /* slabs in the full queue */
  uint64_t remote_seen;         /* remote_events[class] when last looked at */
  bool scan_pending;            /* the full queue may hold remote frees */
  hak_superslab *home;          /* newest SuperSlab this thread mapped or took
                                   (class lock): refill fresh carves new slabs only
                                   here */
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
  /* Written by other threads: a remote free that found a slab's stack
   * empty adds 1 to its class's counter, so the owner knows its full
   * queue may have room without looking at every slab (refill.c). On
   * lines of their own, away from what the owner writes. */
  _Alignas(64) _Atomic uint64_t remote_events[HAK_MAX_CLASSES];
  _Alignas(64) hak_class_cache cls[]; /* [class_count] */
};

/* Strides a class offers slot_order=random (a power of two). */
#define HAK_PERM_MULTS 8

typedef struct hak_class_state {
  pthread_mutex_t lock;
  uint32_t block_size;
  uint64_t div_magic;           /* see hak_superslab */
  uint32_t slab_shift;          /* log2 of the slab size of this class */
  uint32_t nslabs;              /* slabs per SuperSlab */
  uint32_t header_size;         /* SuperSlab header bytes for this geometry */
  hak_superslab *first, *last;  /* live SuperSlabs of the class, mapping order */
  uint32_t count;
  hak_ss_list with_free, all_free; /* see hak_superslab */
  hak_slab *orphans;            /* adopt policy: slabs awaiting a new owner */
  /* slot_order=random: strides coprime to slab 0's capacity ([0]) and to
   * the other slabs' ([1]), one picked per slab (hak_slot_index). */
  uint32_t perm_mult[2][HAK_PERM_MULTS];
  hak_ss_mesh *mesh_free;       /* mesh blocks of unmapped SuperSlabs, for reuse */
  uint32_t mesh_words;          /* bitmap words per slab (capacity bits) */
} hak_class_state;

/* Large objects: direct mappings recorded in an open-addressed table, and
 * a bounded cache of freed mappings for the next request of about the same
 * size (large.c). */
typedef struct hak_large_entry {
  uintptr_t addr;               /* 0 empty, 1 tombstone */
  size_t size;                  /* usable size */
  void *map_base;
  size_t map_len;
} hak_large_entry;

#define HAK_LARGE_CACHE_SLOTS 64

typedef struct hak_large_cached {
  void *base;
  size_t len;
  bool aged;                    /* a trim pass has seen it: the next one returns it */
} hak_large_cached;

typedef struct hak_large_table {
  pthread_mutex_t lock;
  hak_large_entry *slots;
  size_t cap, used, tombs;
  hak_large_cached cache[HAK_LARGE_CACHE_SLOTS];
  uint32_t ncached;
  size_t cached_bytes;
} hak_large_table;

/* Meshing (mesh.c, alias.c). A mesh merges slab B into slab A of the same
 * class (neither slab 0, both fully carved, their live blocks at disjoint
 * offsets): B's live blocks are copied to A's same offsets, B's range is
 * mapped onto A's file pages and B's own pages are punched. B becomes an
 * alias of A, its primary: owner HAK_TID_ALIAS, in no queue, its `used`
 * counting the live blocks still addressed through its range (so its
 * SuperSlab keeps counting them), `live` saying which. A's `used` counts
 * them too (its free list excludes their offsets) and acct_adjust[A]
 * takes them back out of A's counter. Under the class lock. */
typedef struct hak_slab_mesh {
  hak_slab *primary;            /* an alias: the slab whose pages its range shows */
  hak_slab *next_alias;         /* an alias: the next alias of the same primary */
  hak_slab *aliases;            /* a primary: its first alias */
  uint64_t *live;               /* an alias: one bit per block live through its range */
  _Atomic uint32_t naliases;    /* a primary: its aliases (read without the lock) */
  uint32_t alias_blocks;        /* a primary: the sum of its aliases' `used` */
  bool stuck;                   /* an alias whose range could not be given back yet */
} hak_slab_mesh;

struct hak_ss_mesh {
  uint32_t vmas;                /* kernel mappings the SuperSlab's range is split into */
  uint32_t primaries;           /* its slabs with aliases */
  hak_ss_mesh *next_free;       /* the class's pool of free mesh blocks */
  hak_slab_mesh slab[];         /* [nslabs]; then the aliases' bitmaps */
};

/* compaction=mesh: the memfd behind the SuperSlabs (backing.c), under
 * map_lock. Offsets are counted in SuperSlabs (slot k is at k x ss_size). */
typedef struct hak_backing {
  int fd;                       /* -1: SuperSlabs are anonymous mappings */
  uint32_t next_slot;           /* slots from here on were never used */
  uint32_t file_slots;          /* the file's size, in slots */
  uint32_t *free_slots;         /* unmapped SuperSlabs' slots, reused last in first out */
  uint32_t nfree, cap;
} hak_backing;

/* Registry: one bit per 2^ss_lg-aligned address range, set while a
 * SuperSlab of this instance is mapped there. */
typedef struct hak_registry {
  _Atomic uint64_t *bits;       /* lazily backed (MAP_NORESERVE) */
  size_t bytes;
  uint32_t shift;               /* ss_lg */
  uintptr_t limit;              /* addresses at or above it are never ours */
} hak_registry;

struct hak_allocator {
  /* Read by every call: the fast paths' constants first. */
  uint64_t instance_id;         /* unique per process, for the TLS fast cache */
  uintptr_t link_key;           /* free-list link encoding (top bit set) */
  uintptr_t fc_key;             /* the free caches' link encoding (top bit set) */
  uint32_t ss_shift;            /* ss_lg: a valid link shares p's SuperSlab */
  /* Every local free checks that the block is not already listed (a read
   * of the block): on_bad_free=count, and debug builds. Otherwise the
   * local free compares with the list head only and pops and drains
   * validate the links they read. */
  bool strict_free;
  hak_registry reg;
  size_t ss_size;
  uint32_t class_max;           /* largest block size */
  uint32_t class_count;
  hak_slab empty_slab;          /* every class cache's current slab when it has none */
  uint8_t size_to_class[(1024u * 64u) / 8u + 1]; /* (size+7)/8 -> class */

  hak_config cfg;
  bool slot_random;             /* slot_order=random */
  uint64_t slot_key;            /* from slot_seed: the per-slab orders */
  pthread_key_t key;            /* thread exit hook */
  hak_observer obs;
  bool has_obs;
  hak_log_fn log;
  void *log_ctx;

  hak_class_state classes[HAK_MAX_CLASSES];

  bool closing;                 /* hak_destroy is unmapping everything */
  int fork_pipe[2];             /* memfd instances: the child says it copied (fork.c) */
  pthread_mutex_t map_lock;
  uint32_t next_ss_id;
  uint32_t next_tid;
  _Atomic uint64_t *tid_alive;  /* bitmap of live thread ids */
  uint32_t tid_alive_max;
  _Atomic uint64_t ss_live;
  _Atomic uint64_t extra_maps;
  _Atomic uint64_t ss_split;    /* SuperSlab mappings beyond one each: meshes' splits */
  bool oom_logged;
  hak_tcache *threads;          /* live thread caches (map_lock) */
  hak_thread_stats exited;      /* totals of threads that are gone (map_lock) */
  struct {
#define HAK_GSTAT_FIELD(name, desc) _Atomic uint64_t name;
    HAK_GLOBAL_STAT_FIELDS(HAK_GSTAT_FIELD)
    HAK_MAP_STAT_FIELDS(HAK_GSTAT_FIELD) /* g.mappings: every OS mapping held */
#undef HAK_GSTAT_FIELD
  } g;

  pthread_mutex_t trim_lock;
  uint32_t *trim_ids;           /* scratch for one pass's freed ids (trim_lock) */
  size_t trim_ids_cap;
  void *mesh_scratch;           /* a mesh pass's candidates and bitmaps (trim_lock) */
  size_t mesh_scratch_len;
  _Atomic uint32_t mesh_stuck;  /* aliases whose range could not be given back */
  void *mesh_chunks;            /* chunks of mesh blocks (map_lock), linked */
  char *mesh_bump, *mesh_end;

  /* Metadata pool for thread caches (map_lock). */
  void *meta_chunks;            /* linked list of mapped chunks */
  void *tc_free;                /* recycled thread caches */
  char *meta_bump, *meta_end;
  size_t tcache_size;

  hak_large_table large;
  hak_backing backing;

  /* Background trim thread. */
  pthread_t trim_thread;
  bool trim_thread_running;
  pthread_mutex_t trim_wait_lock;
  pthread_cond_t trim_wait_cond;
  bool trim_stop;
};

#define HAK_OBS(a, cb) ((a)->has_obs && (a)->obs.cb)

/* Free-list links. */
static inline void *hak_link_get(const hak_allocator *a, const void *block) {
  return (void *)(*(const uintptr_t *)block ^ a->link_key);
}
/* Free-cache links: they may cross SuperSlabs, so a valid one is NULL or a
 * user-space pointer (below 2^62); a cleared word (0) decodes to fc_key
 * and a slab-list link to (x ^ link_key ^ fc_key), both with one of the
 * top two bits set: invalid. */
static inline void *hak_fc_get(const hak_allocator *a, const void *block) {
  return (void *)(*(const uintptr_t *)block ^ a->fc_key);
}
static inline void hak_fc_set(const hak_allocator *a, void *block, const void *next) {
  *(uintptr_t *)block = (uintptr_t)next ^ a->fc_key;
}
static inline bool hak_fc_link_ok(const void *next) { return ((uintptr_t)next >> 62) == 0; }
/* A link read from block may follow it: NULL, or in its SuperSlab. */
static inline bool hak_link_ok(const hak_allocator *a, const void *block, const void *next) {
  return !next || (((uintptr_t)next ^ (uintptr_t)block) >> a->ss_shift) == 0;
}
static inline void hak_link_set(const hak_allocator *a, void *block, const void *next) {
  *(uintptr_t *)block = (uintptr_t)next ^ a->link_key;
}

/* os.c: the OS layer, counting every mapping. */
/* n mappings more (or fewer): the count and its peak. */
void hak_mappings_add(hak_allocator *a, int64_t n);
/* n SuperSlab mappings more or fewer (also counted by hak_mappings_add,
 * which the mapping calls do themselves). */
void hak_ss_mappings_add(hak_allocator *a, int64_t n);
/* Resident bytes of [p, p + len) (page-aligned), by mincore(). */
uint64_t hak_os_resident(const void *p, size_t len);
void *hak_os_map(hak_allocator *a, size_t len);
void *hak_os_map_aligned(hak_allocator *a, size_t len, size_t align, void **base,
                         size_t *map_len);
void hak_os_unmap(hak_allocator *a, void *p, size_t len);

/* backing.c: the memfd behind SuperSlabs under compaction=mesh. */
int hak_backing_init(hak_allocator *a);
void hak_backing_destroy(hak_allocator *a);
static inline bool hak_backing_on(const hak_allocator *a) { return a->backing.fd >= 0; }
/* Maps a SuperSlab at an aligned address from a file offset of its own
 * (*off); counted as one mapping. NULL when out of memory. */
void *hak_backing_map_ss(hak_allocator *a, uint64_t *off);
/* Unmaps the SuperSlab at ss (vmas mappings: the splits meshes made) and
 * gives its file range back (punched), unless the instance is going. */
void hak_backing_unmap_ss(hak_allocator *a, void *ss, uint64_t off, uint32_t vmas, bool punch);
/* Maps [addr, addr + len), inside one of our SuperSlabs, onto the file at
 * off (MAP_FIXED): 0 or -HAK_ENOMEM. */
int hak_backing_remap(hak_allocator *a, void *addr, size_t len, uint64_t off);
/* Gives the file's pages [off, off + len) back to the kernel. */
void hak_backing_punch(hak_allocator *a, uint64_t off, size_t len);
/* In a fork child (every lock held): the file's data into a memfd of the
 * child's own, every SuperSlab range mapped onto it. 0 or -HAK_ENOMEM. */
int hak_backing_fork_child(hak_allocator *a);

/* size_class.c */
int hak_classes_init(hak_allocator *a, char *err, size_t errlen);
int hak_classes_parse(const char *spec, uint32_t *sizes, uint32_t *count, char *err,
                      size_t errlen);
/* The slab geometry of a class of block_size bytes (shared with config
 * validation): log2 of its slab size and the header size it implies. */
uint32_t hak_class_slab_shift(uint32_t block_size, uint32_t slab_lg, uint32_t ss_lg);
/* Offset of slab `slab`'s first block from the slab's start. */
size_t hak_class_first_block(const hak_class_state *cs, uint32_t slab);
/* slot_order=random: the i-th block slab s carves (its index in the slab),
 * i < capacity: (mult x i + add) mod capacity, a bijection (mult is coprime
 * to the capacity), with mult and add drawn from the slot seed, the
 * SuperSlab's id and the slab's index, so every slab has its own order, the
 * same in every run. bump: i itself. */
static inline uint64_t hak_mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}
static inline uint32_t hak_slot_index(const hak_allocator *a, const hak_class_state *cs,
                                      uint32_t ss_id, uint32_t slab_idx, uint32_t capacity,
                                      uint32_t i) {
  if (!a->slot_random) return i;
  uint64_t h = hak_mix64(a->slot_key ^ ((uint64_t)ss_id << 24) ^ slab_idx);
  uint64_t mult = cs->perm_mult[slab_idx != 0][h & (HAK_PERM_MULTS - 1)];
  return (uint32_t)((mult * i + (h >> 32) % capacity) % capacity);
}
/* Checks that every class of the list fits its slabs. */
int hak_classes_validate(const uint32_t *sizes, uint32_t count, uint32_t slab_lg,
                         uint32_t ss_lg, char *err, size_t errlen);

/* registry.c */
int hak_registry_init(hak_allocator *a);
void hak_registry_destroy(hak_allocator *a);
int hak_registry_set(hak_allocator *a, uintptr_t base, bool present);
static inline bool hak_registry_has(const hak_allocator *a, const void *p) {
  uintptr_t u = (uintptr_t)p;
  if (HAK_UNLIKELY(u >= a->reg.limit)) return false;
  uintptr_t idx = u >> a->reg.shift;
  uint64_t word = atomic_load_explicit(&a->reg.bits[idx >> 6], memory_order_acquire);
  return (word >> (idx & 63)) & 1u;
}
/* The SuperSlab a block of ours lies in (its aligned base). */
static inline hak_superslab *hak_ss_base(const hak_allocator *a, const void *p) {
  return (hak_superslab *)((uintptr_t)p & ~(uintptr_t)(a->ss_size - 1));
}
static inline hak_superslab *hak_registry_lookup(const hak_allocator *a, const void *p) {
  return hak_registry_has(a, p) ? hak_ss_base(a, p) : NULL;
}

/* superslab.c */
hak_superslab *hak_ss_map(hak_allocator *a, uint32_t class_idx, hak_tcache *tc);
static inline hak_superslab *hak_ss_of_slab(const hak_allocator *a, const hak_slab *s) {
  return (hak_superslab *)((uintptr_t)s & ~(uintptr_t)(a->ss_size - 1));
}
void hak_ss_unmap(hak_allocator *a, hak_superslab *ss, const char *reason);
void hak_ss_fill_info(const hak_allocator *a, const hak_superslab *ss, hak_ss_info *out,
                      bool per_slab);
/* Puts ss in or out of the class's with_free / all_free lists to match its
 * free_slabs (call after changing it; with gone = true to leave both). */
void hak_ss_sync_lists(hak_class_state *cs, hak_superslab *ss, bool gone);
size_t hak_ss_header_size(uint32_t nslabs);
/* Maps every range of ss onto the file again, as it is mapped now
 * (backing.c's fork child). 0 or -HAK_ENOMEM. */
int hak_ss_remap_all(hak_allocator *a, hak_superslab *ss);
/* Kernel mappings ss's range is split into (1 unless meshes split it). */
uint32_t hak_ss_vmas(const hak_allocator *a, const hak_superslab *ss);
/* Resident bytes of ss (class lock held). */
uint64_t hak_ss_resident(const hak_allocator *a, const hak_superslab *ss);
static inline hak_slab *hak_slab_of(const hak_superslab *ss, const void *p) {
  return &ss->slabs[((uintptr_t)p - (uintptr_t)ss) >> ss->slab_shift];
}
/* The slab's bytes: one block past its last. */
static inline char *hak_slab_end(const hak_slab *s) { return s->data + s->span; }
/* off (below 2^32) is a multiple of the block size: with M = ceil(2^64 /
 * d), n % d == 0 exactly when n * M mod 2^64 < M (Lemire, Kaser, Kurz
 * 2019); one multiplication, no division. */
static inline bool hak_is_block_offset(const hak_superslab *ss, uintptr_t off) {
  return (uint64_t)off * ss->div_magic < ss->div_magic;
}

/* The seed's total_active_blocks: the shared atomic plus the slabs' owner
 * parts. Class lock held. While frees race with the read it can read too
 * high, never too low. */
int64_t hak_ss_active(const hak_superslab *ss);

/* slab.c: the orphan list and the ownership changes (class lock where
 * said); the owner's own queues are in queue.h. */
void hak_orphan_push(hak_class_state *cs, hak_slab *s);
void hak_orphan_remove(hak_class_state *cs, hak_slab *s);
/* Class lock held: s becomes tc's (from a free slab or an orphan). */
void hak_slab_take(hak_allocator *a, hak_superslab *ss, hak_slab *s, hak_tcache *tc);
/* Class lock held: s (empty, out of every queue) goes back to its
 * SuperSlab, nobody's and uncarved; its pages stay touched. */
void hak_slab_release(hak_allocator *a, hak_class_state *cs, hak_superslab *ss, hak_slab *s);
/* Class lock held: s (blocks still out, out of every queue) loses its
 * live owner at its thread's exit. */
void hak_slab_orphan(hak_allocator *a, hak_class_state *cs, hak_superslab *ss, hak_slab *s);
/* Class lock held, no thread inside the allocator (a mesh pass): s
 * leaves its owner's queues, or the orphan list, and becomes an alias. */
void hak_slab_alias(hak_allocator *a, hak_class_state *cs, hak_superslab *ss, hak_slab *s);
/* Class lock held: alias s, its last block gone, becomes a free slab. */
void hak_slab_unalias(hak_allocator *a, hak_class_state *cs, hak_superslab *ss, hak_slab *s);
/* Class lock held: recomputes frozen_active when no live thread holds a
 * slab of ss (after a mesh moved its slabs' counts). */
void hak_ss_refreeze(hak_superslab *ss);
/* The calling thread's empty, non-current slab goes back to its
 * SuperSlab (takes the class lock). */
void hak_slab_release_empty(hak_allocator *a, hak_tcache *tc, hak_class_cache *cc,
                            hak_slab *s);
/* Class lock held: the home reference of cc moves to ss (or NULL). */
void hak_set_home(hak_class_cache *cc, hak_superslab *ss);
/* A remote stack word's parts (see hak_superslab.remote_heads). */
#define HAK_REMOTE_COUNT_SHIFT 48
static inline void *hak_remote_first(uintptr_t w) {
  return (void *)(w & (((uintptr_t)1 << HAK_REMOTE_COUNT_SHIFT) - 1));
}
static inline uint32_t hak_remote_count(uintptr_t w) {
  return (uint32_t)(w >> HAK_REMOTE_COUNT_SHIFT);
}
static inline bool hak_slab_has_room(const hak_superslab *ss, const hak_slab *s) {
  return s->free_list || s->carved < s->capacity ||
         atomic_load_explicit(&ss->remote_heads[s->index], memory_order_relaxed) != 0;
}

/* freecache.c: the thread's free cache of one class (see hak_class_cache). */
uint16_t hak_fc_cap(uint32_t block_size);
bool hak_fc_has(const hak_allocator *a, const hak_class_cache *cc, const void *p);
uint32_t hak_fc_count_in(const hak_allocator *a, const hak_class_cache *cc, const hak_slab *s);
/* Drops the cached blocks of s (about to be released: they are free). */
void hak_fc_purge_slab(hak_allocator *a, hak_class_cache *cc, const hak_slab *s);
/* Puts every cached block back on its slab's free list (thread exit). */
void hak_fc_flush(hak_allocator *a, hak_tcache *tc, hak_class_cache *cc);

/* alloc.c */
/* Reports a bad free (double free, pointer inside a block): one line
 * through the log, then abort() or a count as on_bad_free says. Returns
 * -HAK_EBADFREE when counted. */
int hak_bad_free(hak_allocator *a, const void *p, const char *what, size_t block_size);
/* The same, found by `fn` (malloc: a pop or drain read a bad link). */
int hak_bad_block(hak_allocator *a, const char *fn, const void *p, const char *what,
                  size_t block_size);
/* A slab's list holds a link that cannot be one (a block freed twice, or
 * written after its free): reported as a bad free at block p; under count
 * the rest of the list is dropped (leaked), never handed out. */
void hak_list_corrupt(hak_allocator *a, hak_superslab *ss, hak_slab *s, const void *p);
/* Pops the slab's first free block, checking the link it reads. NULL when
 * the list is empty or was corrupt. */
static inline void *hak_slab_pop(hak_allocator *a, hak_slab *s) {
  void *p = s->free_list;
  if (!p) return NULL;
  void *next = hak_link_get(a, p);
  if (HAK_UNLIKELY(!hak_link_ok(a, p, next))) {
    hak_list_corrupt(a, (hak_superslab *)((uintptr_t)p & ~(((uintptr_t)1 << a->ss_shift) - 1)), s,
                     p);
    return NULL;
  }
  s->free_list = next;
  return p;
}

/* remote.c: the cross-thread free stacks. */
void hak_ss_remote_push(hak_allocator *a, hak_superslab *ss, hak_slab *slab, void *p,
                        hak_tcache *by);
uint32_t hak_ss_remote_drain(hak_allocator *a, hak_superslab *ss, hak_slab *slab,
                             hak_tcache *tc);

/* refill.c: the allocation slow path (carving, draining, the owner's
 * queues without a lock, then the class lock). */
void *hak_alloc_slow(hak_allocator *a, hak_tcache *tc, uint32_t class_idx);

/* tcache.c: thread attach and exit. Thread caches come from chunks of
 * HAK_META_CHUNK bytes (a->meta_chunks). */
#define HAK_META_CHUNK (64u * 1024u)
hak_tcache *hak_tcache_attach_slow(hak_allocator *a, int mode);
void hak_tcache_exit(hak_tcache *tc);
void hak_tcache_exit_thread(hak_tcache *tc);
void hak_tcache_release_all(hak_allocator *a);
bool hak_tid_alive(const hak_allocator *a, uint32_t tid);

/* The calling thread's cache for a: a one-entry TLS cache first (instance
 * ids are never reused, so a stale entry cannot match), then the slow
 * lookup, attaching as `mode` says. */
enum { HAK_ATTACH_PEEK = 0, HAK_ATTACH = 1, HAK_ATTACH_UNLESS_EXITED = 2 };
typedef struct hak_tls_last {
  uint64_t instance_id;
  hak_tcache *tc;
  uint32_t tid;                 /* tc->tid, one load fewer on the free path */
  uint64_t fast_free_id;        /* instance_id, or 0 under strict_free: the free
                                   fast path's one test of both */
  uint64_t exited_instance;     /* this thread's exit path ran for that instance */
} hak_tls_last;
extern _Thread_local hak_tls_last hak_tl_last;
static inline hak_tcache *hak_tcache_lookup(hak_allocator *a, int mode) {
  if (HAK_LIKELY(hak_tl_last.instance_id == a->instance_id)) return hak_tl_last.tc;
  return hak_tcache_attach_slow(a, mode);
}
static inline hak_tcache *hak_tcache_get(hak_allocator *a) {
  return hak_tcache_lookup(a, HAK_ATTACH);
}
static inline hak_tcache *hak_tcache_peek(hak_allocator *a) {
  return hak_tcache_lookup(a, HAK_ATTACH_PEEK);
}
/* For frees: a thread whose exit path already ran (glibc frees some of a
 * thread's memory after the pthread key destructors) is not attached
 * again, which would leave a cache nobody releases. NULL then: the free is
 * a remote push. */
static inline hak_tcache *hak_tcache_for_free(hak_allocator *a) {
  return hak_tcache_lookup(a, HAK_ATTACH_UNLESS_EXITED);
}

/* large.c */
int hak_large_init(hak_allocator *a);
void hak_large_destroy(hak_allocator *a);
/* *fresh: true when the memory comes straight from the kernel (zeroed). */
void *hak_large_alloc(hak_allocator *a, size_t size, size_t align, bool *fresh);
/* 0, -HAK_EINVAL (not a large object of ours) or what hak_bad_free said
 * (a block freed twice while its mapping waits in the cache). */
int hak_large_free(hak_allocator *a, void *p);
size_t hak_large_usable(hak_allocator *a, const void *p);
/* One trim pass's share: cached mappings a previous pass saw go back to
 * the kernel; returns the bytes released. */
uint64_t hak_large_trim(hak_allocator *a);
/* Resident bytes of the live and cached mappings and of the table. */
uint64_t hak_large_resident(hak_allocator *a);

/* mesh.c: the mesh pass, and the mesh blocks of SuperSlabs. */
/* Class lock held: ss's mesh block, allocated on first use (NULL when out
 * of memory). */
hak_ss_mesh *hak_ss_mesh_get(hak_allocator *a, hak_superslab *ss);
/* Class lock held: ss is being unmapped; its mesh block goes back. */
void hak_ss_mesh_put(hak_allocator *a, hak_superslab *ss);
void hak_mesh_destroy(hak_allocator *a);
static inline hak_slab_mesh *hak_slab_mesh_of(const hak_superslab *ss, const hak_slab *s) {
  return &atomic_load_explicit(&((hak_superslab *)ss)->mesh, memory_order_relaxed)->slab[s->index];
}
static inline uint64_t *hak_mesh_bitmap(const hak_class_state *cs, hak_ss_mesh *m, uint32_t nslabs,
                                        uint32_t slab) {
  return (uint64_t *)&m->slab[nslabs] + (size_t)slab * cs->mesh_words;
}

/* alias.c: merged slabs at run time. */
/* A free of p, a block start in alias b: checked against b's bitmap,
 * counted out of b's SuperSlab, then freed as the same block of b's
 * primary (its owner's rule). The last one gives b's range back. */
int hak_alias_free(hak_allocator *a, hak_superslab *ss, hak_slab *b, void *p);
/* p, a block start of slab s (not an alias), is live through one of s's
 * aliases: freeing p is a double free. Takes the class lock when s has
 * aliases; false at once otherwise. */
bool hak_alias_shadowed(hak_allocator *a, hak_superslab *ss, hak_slab *s, const void *p);
/* Class lock held: b (an alias whose last block went) is given its own
 * pages back and becomes a free slab; false when the remap failed (it
 * stays stuck, and the next mesh pass tries again). */
bool hak_unmesh(hak_allocator *a, hak_superslab *ss, hak_slab *b);
/* The file offset slab s's range shows: its primary's when s is an alias. */
uint64_t hak_slab_file_off(const hak_allocator *a, const hak_superslab *ss, const hak_slab *s);
/* Class lock held: the kernel mappings of ss changed (a mesh or an unmesh
 * split or joined them): recount, and move the instance's counts. */
void hak_ss_vmas_update(hak_allocator *a, hak_superslab *ss);
/* A SuperSlab trim must keep: a slab of it is merged into another, or
 * holds the blocks of slabs merged into it. */
static inline bool hak_ss_meshed(const hak_superslab *ss) {
  hak_ss_mesh *m = atomic_load_explicit(&((hak_superslab *)ss)->mesh, memory_order_relaxed);
  return ss->slabs_alias != 0 || (m && m->primaries != 0);
}

/* trim.c */
int hak_trim_thread_start(hak_allocator *a);
void hak_trim_thread_stop(hak_allocator *a);

/* check.c: the validators (also behind hak_check). */
int hak_check_ss(hak_allocator *a, hak_superslab *ss, bool walk_lists, char *err,
                 size_t errlen);
int hak_check_tcache(hak_allocator *a, hak_tcache *tc, char *err, size_t errlen);
_Noreturn void hak_assert_fail(const char *cond, const char *file, int line);
#ifdef HAK_DEBUG
/* Runs the calling thread's validator, aborting on a violation. */
void hak_debug_check_thread(hak_allocator *a, hak_tcache *tc);
#define HAK_DEBUG_CHECK_THREAD(a, tc) hak_debug_check_thread(a, tc)
#else
#define HAK_DEBUG_CHECK_THREAD(a, tc) ((void)0)
#endif

/* stats.c */
static inline void hak_gstat_add(_Atomic uint64_t *c, uint64_t n) {
  atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}
void hak_gstat_max(_Atomic uint64_t *c, uint64_t v);
void hak_stats_fold_thread(hak_allocator *a, const hak_thread_stats *ts);
void hak_log_oom_once(hak_allocator *a, int err);
/* One line through the instance's log (stderr when none). */
void hak_log_line(hak_allocator *a, const char *line);

#endif
