/* large.c: requests beyond the largest size class, and alignments no class
 * guarantees. Each is its own page-aligned mapping (over-mapped and
 * trimmed when the alignment exceeds a page), recorded in an
 * open-addressed hash table keyed by address. free() finds SuperSlab
 * blocks through the registry first; anything else is looked up here, so
 * neither path ever reads memory to tell the two apart.
 *
 * Freed mappings wait in a small cache (at most HAK_LARGE_CACHE_SLOTS
 * mappings and large_cache_mb MiB, oldest evicted first) for the next
 * request of about their size, so a free/malloc pair of one large size
 * costs no system call. Trim passes return them to the kernel: a mapping
 * the previous pass already saw idle is unmapped (two-pass ageing, so a
 * mapping freed just before a pass survives it).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define HAK_LARGE_EMPTY 0u
#define HAK_LARGE_TOMB 1u

static size_t hash_addr(uintptr_t addr, size_t cap) {
  uint64_t x = (uint64_t)addr >> 12;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return (size_t)x & (cap - 1);
}

int hak_large_init(hak_allocator *a) {
  pthread_mutex_init(&a->large.lock, NULL);
  return 0;
}

void hak_large_destroy(hak_allocator *a) {
  hak_large_table *t = &a->large;
  for (size_t i = 0; i < t->cap; i++)
    if (t->slots[i].addr > HAK_LARGE_TOMB)
      hak_os_unmap(a, t->slots[i].map_base, t->slots[i].map_len);
  for (uint32_t i = 0; i < t->ncached; i++) hak_os_unmap(a, t->cache[i].base, t->cache[i].len);
  if (t->slots) hak_os_unmap(a, t->slots, t->cap * sizeof *t->slots);
  t->slots = NULL;
  t->cap = t->used = t->tombs = 0;
  t->ncached = 0;
  t->cached_bytes = 0;
  pthread_mutex_destroy(&t->lock);
}

/* Lock held. */
static hak_large_entry *find(hak_large_table *t, uintptr_t addr) {
  if (!t->cap) return NULL;
  for (size_t i = hash_addr(addr, t->cap);; i = (i + 1) & (t->cap - 1)) {
    if (t->slots[i].addr == addr) return &t->slots[i];
    if (t->slots[i].addr == HAK_LARGE_EMPTY) return NULL;
  }
}

/* Lock held. Rebuilds the table at a new capacity (dropping tombstones). */
static int grow(hak_allocator *a, hak_large_table *t) {
  size_t ncap = t->cap ? (t->used * 4 > t->cap ? t->cap * 2 : t->cap) : 256;
  hak_large_entry *slots = hak_os_map(a, ncap * sizeof *slots);
  if (!slots) return -HAK_ENOMEM;
  for (size_t i = 0; i < t->cap; i++) {
    if (t->slots[i].addr <= HAK_LARGE_TOMB) continue;
    size_t j = hash_addr(t->slots[i].addr, ncap);
    while (slots[j].addr != HAK_LARGE_EMPTY) j = (j + 1) & (ncap - 1);
    slots[j] = t->slots[i];
  }
  if (t->slots) hak_os_unmap(a, t->slots, t->cap * sizeof *t->slots);
  t->slots = slots;
  t->cap = ncap;
  t->tombs = 0;
  return 0;
}

/* Lock held: removes cache entry i (order kept: oldest first). */
static hak_large_cached cache_take(hak_large_table *t, uint32_t i) {
  hak_large_cached e = t->cache[i];
  memmove(&t->cache[i], &t->cache[i + 1], (t->ncached - i - 1) * sizeof *t->cache);
  t->ncached--;
  t->cached_bytes -= e.len;
  return e;
}

/* Lock held: the smallest cached mapping of len..len + len/4 bytes. */
static int cache_find(const hak_large_table *t, size_t len) {
  int best = -1;
  for (uint32_t i = 0; i < t->ncached; i++) {
    size_t l = t->cache[i].len;
    if (l >= len && l - len <= len / 4 && (best < 0 || l < t->cache[best].len)) best = (int)i;
  }
  return best;
}

/* Lock held: records a live mapping. */
static int record(hak_allocator *a, hak_large_table *t, void *p, size_t size, void *base,
                  size_t map_len) {
  if ((t->used + t->tombs + 1) * 2 > t->cap && grow(a, t) != 0) return -HAK_ENOMEM;
  size_t i = hash_addr((uintptr_t)p, t->cap);
  while (t->slots[i].addr > HAK_LARGE_TOMB) i = (i + 1) & (t->cap - 1);
  if (t->slots[i].addr == HAK_LARGE_TOMB) t->tombs--;
  t->slots[i] = (hak_large_entry){(uintptr_t)p, size, base, map_len};
  t->used++;
  return 0;
}

void *hak_large_alloc(hak_allocator *a, size_t size, size_t align, bool *fresh) {
  size_t ps = hak_page_size();
  if (size == 0) size = 1;
  if (size > SIZE_MAX / 2 || align > SIZE_MAX / 4) {
    errno = ENOMEM;
    return NULL;
  }
  size_t len = (size + ps - 1) & ~(ps - 1);
  hak_large_table *t = &a->large;
  if (align <= ps) {
    pthread_mutex_lock(&t->lock);
    int i = cache_find(t, len);
    if (i >= 0) {
      hak_large_cached e = cache_take(t, (uint32_t)i);
      if (record(a, t, e.base, e.len, e.base, e.len) == 0) {
        pthread_mutex_unlock(&t->lock);
        hak_gstat_add(&a->g.large_allocs, 1);
        hak_gstat_add(&a->g.large_cache_hits, 1);
        hak_gstat_add(&a->g.large_bytes_live, e.len);
        atomic_fetch_sub_explicit(&a->g.large_cached_bytes, e.len, memory_order_relaxed);
        if (fresh) *fresh = false;
        return e.base;
      }
      pthread_mutex_unlock(&t->lock);
      hak_os_unmap(a, e.base, e.len);
      atomic_fetch_sub_explicit(&a->g.large_cached_bytes, e.len, memory_order_relaxed);
      errno = ENOMEM;
      return NULL;
    }
    pthread_mutex_unlock(&t->lock);
  }
  void *base;
  size_t map_len;
  void *p = align > ps ? hak_os_map_aligned(a, len, align, &base, &map_len)
                       : (base = hak_os_map(a, len), map_len = len, base);
  if (!p) {
    errno = ENOMEM;
    return NULL;
  }
  pthread_mutex_lock(&t->lock);
  if (record(a, t, p, len, base, map_len) != 0) {
    pthread_mutex_unlock(&t->lock);
    hak_os_unmap(a, base, map_len);
    errno = ENOMEM;
    return NULL;
  }
  pthread_mutex_unlock(&t->lock);
  hak_gstat_add(&a->g.large_allocs, 1);
  hak_gstat_add(&a->g.large_bytes_live, map_len);
  if (fresh) *fresh = true;
  return p;
}

int hak_large_free(hak_allocator *a, void *p) {
  hak_large_table *t = &a->large;
  hak_large_cached evicted[HAK_LARGE_CACHE_SLOTS];
  uint32_t nevicted = 0;
  size_t budget = (size_t)a->cfg.large_cache_mb << 20;
  pthread_mutex_lock(&t->lock);
  hak_large_entry *e = find(t, (uintptr_t)p);
  if (!e) {
    /* Not live: a block whose mapping waits in the cache was freed twice. */
    size_t cached = 0;
    for (uint32_t i = 0; i < t->ncached && !cached; i++)
      if (t->cache[i].base == p) cached = t->cache[i].len;
    pthread_mutex_unlock(&t->lock);
    return cached ? hak_bad_free(a, p, "double free", cached) : -HAK_EINVAL;
  }
  hak_large_entry copy = *e;
  e->addr = HAK_LARGE_TOMB;
  t->used--;
  t->tombs++;
  /* Only plain mappings (block at the mapping's start) are kept. */
  bool keep = copy.map_base == p && copy.map_len <= budget;
  if (keep) {
    while (t->ncached == HAK_LARGE_CACHE_SLOTS || t->cached_bytes + copy.map_len > budget)
      evicted[nevicted++] = cache_take(t, 0);
    t->cache[t->ncached++] = (hak_large_cached){copy.map_base, copy.map_len, false};
    t->cached_bytes += copy.map_len;
  }
  pthread_mutex_unlock(&t->lock);
  uint64_t gone = 0;
  for (uint32_t i = 0; i < nevicted; i++) {
    hak_os_unmap(a, evicted[i].base, evicted[i].len);
    gone += evicted[i].len;
  }
  if (!keep) hak_os_unmap(a, copy.map_base, copy.map_len);
  hak_gstat_add(&a->g.large_frees, 1);
  atomic_fetch_sub_explicit(&a->g.large_bytes_live, copy.map_len, memory_order_relaxed);
  if (keep) hak_gstat_add(&a->g.large_cached_bytes, copy.map_len);
  atomic_fetch_sub_explicit(&a->g.large_cached_bytes, gone, memory_order_relaxed);
  return 0;
}

size_t hak_large_usable(hak_allocator *a, const void *p) {
  hak_large_table *t = &a->large;
  pthread_mutex_lock(&t->lock);
  hak_large_entry *e = find(t, (uintptr_t)p);
  size_t n = e ? e->size : 0;
  pthread_mutex_unlock(&t->lock);
  return n;
}

uint64_t hak_large_trim(hak_allocator *a) {
  hak_large_table *t = &a->large;
  hak_large_cached gone[HAK_LARGE_CACHE_SLOTS];
  uint32_t ngone = 0;
  pthread_mutex_lock(&t->lock);
  for (uint32_t i = 0; i < t->ncached;) {
    if (t->cache[i].aged) {
      gone[ngone++] = cache_take(t, i);
    } else {
      t->cache[i++].aged = true;
    }
  }
  pthread_mutex_unlock(&t->lock);
  uint64_t bytes = 0;
  for (uint32_t i = 0; i < ngone; i++) {
    hak_os_unmap(a, gone[i].base, gone[i].len);
    bytes += gone[i].len;
  }
  atomic_fetch_sub_explicit(&a->g.large_cached_bytes, bytes, memory_order_relaxed);
  return bytes;
}

uint64_t hak_large_resident(hak_allocator *a) {
  hak_large_table *t = &a->large;
  uint64_t bytes = 0;
  pthread_mutex_lock(&t->lock);
  for (size_t i = 0; i < t->cap; i++)
    if (t->slots[i].addr > HAK_LARGE_TOMB)
      bytes += hak_os_resident(t->slots[i].map_base, t->slots[i].map_len);
  for (uint32_t i = 0; i < t->ncached; i++) bytes += hak_os_resident(t->cache[i].base, t->cache[i].len);
  if (t->slots) bytes += hak_os_resident(t->slots, t->cap * sizeof *t->slots);
  pthread_mutex_unlock(&t->lock);
  return bytes;
}
