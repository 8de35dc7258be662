/* large.c: requests beyond the largest size class, and alignments no class
 * guarantees. Each is its own page-aligned mapping (over-mapped and
 * trimmed when the alignment exceeds a page), recorded in an
 * open-addressed hash table keyed by address. free() finds SuperSlab
 * blocks through the registry first; anything else is looked up here, so
 * neither path ever reads memory to tell the two apart.
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
  if (t->slots) hak_os_unmap(a, t->slots, t->cap * sizeof *t->slots);
  t->slots = NULL;
  t->cap = t->used = t->tombs = 0;
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

void *hak_large_alloc(hak_allocator *a, size_t size, size_t align) {
  size_t ps = hak_page_size();
  if (size == 0) size = 1;
  if (size > SIZE_MAX / 2 || align > SIZE_MAX / 4) {
    errno = ENOMEM;
    return NULL;
  }
  size_t len = (size + ps - 1) & ~(ps - 1);
  void *base;
  size_t map_len;
  void *p = align > ps ? hak_os_map_aligned(a, len, align, &base, &map_len)
                       : (base = hak_os_map(a, len), map_len = len, base);
  if (!p) {
    errno = ENOMEM;
    return NULL;
  }
  hak_large_table *t = &a->large;
  pthread_mutex_lock(&t->lock);
  if ((t->used + t->tombs + 1) * 2 > t->cap && grow(a, t) != 0) {
    pthread_mutex_unlock(&t->lock);
    hak_os_unmap(a, base, map_len);
    errno = ENOMEM;
    return NULL;
  }
  size_t i = hash_addr((uintptr_t)p, t->cap);
  while (t->slots[i].addr > HAK_LARGE_TOMB) i = (i + 1) & (t->cap - 1);
  if (t->slots[i].addr == HAK_LARGE_TOMB) t->tombs--;
  t->slots[i] = (hak_large_entry){(uintptr_t)p, len, base, map_len};
  t->used++;
  pthread_mutex_unlock(&t->lock);
  hak_gstat_add(&a->g.large_allocs, 1);
  hak_gstat_add(&a->g.large_bytes_live, map_len);
  return p;
}

bool hak_large_free(hak_allocator *a, void *p) {
  hak_large_table *t = &a->large;
  pthread_mutex_lock(&t->lock);
  hak_large_entry *e = find(t, (uintptr_t)p);
  if (!e) {
    pthread_mutex_unlock(&t->lock);
    return false;
  }
  hak_large_entry copy = *e;
  e->addr = HAK_LARGE_TOMB;
  t->used--;
  t->tombs++;
  pthread_mutex_unlock(&t->lock);
  hak_os_unmap(a, copy.map_base, copy.map_len);
  hak_gstat_add(&a->g.large_frees, 1);
  atomic_fetch_sub_explicit(&a->g.large_bytes_live, copy.map_len, memory_order_relaxed);
  return true;
}

size_t hak_large_usable(hak_allocator *a, const void *p) {
  hak_large_table *t = &a->large;
  pthread_mutex_lock(&t->lock);
  hak_large_entry *e = find(t, (uintptr_t)p);
  size_t n = e ? e->size : 0;
  pthread_mutex_unlock(&t->lock);
  return n;
}
