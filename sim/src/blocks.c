/* blocks.c: the block table. Trace ids map to slots; slots hold what the
 * replayer knows of each live block. Only the reader of the trace binds and
 * unbinds ids (one thread at a time); executors use the slots.
 *
 * Invariants: a slot is bound to at most one live id; slot addresses never
 * move (fixed chunks), so an executor may hold a slot while the table
 * grows; a slot goes back to the free list only through hr_blocks_recycle,
 * called when no op still to run can read it (at once in deterministic
 * mode, whose ops run in trace order; after the free has run in free
 * mode). Ids below direct_cap resolve through a flat array (the
 * generators reuse small ids); the others through a map that keeps each
 * key with its slot, so a lookup touches one cache line per probe. The
 * array grows to cover an id only while it stays within HR_DIRECT_SLACK
 * entries per live id (or HR_DIRECT_MIN), so a recorded trace's ever
 * growing ids leave it bounded by the live set.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define HR_CHUNK_SLOTS (1u << HR_CHUNK_BITS)
#define HR_KEY_EMPTY 0
#define HR_KEY_TOMB UINT64_MAX
#define HR_DIRECT_MIN (1u << 16)
#define HR_DIRECT_SLACK 16

int hr_blocks_init(hr_blocks *b) {
  memset(b, 0, sizeof *b);
  b->map_cap = 1024;
  b->map = calloc(b->map_cap, sizeof *b->map);
  return b->map ? 0 : -1;
}

void hr_blocks_free(hr_blocks *b) {
  for (uint32_t i = 0; i < HR_MAX_CHUNKS && b->chunks[i]; i++) free(b->chunks[i]);
  free(b->free_slots);
  free(b->direct);
  free(b->map);
  memset(b, 0, sizeof *b);
}

static uint64_t mix(uint64_t x) {
  x ^= x >> 31;
  x *= 0x7fb5d329728ea185ULL;
  x ^= x >> 27;
  x *= 0x81dadef4bc2dd44dULL;
  return x ^ (x >> 33);
}

/* Rehashes into a table sized for the live ids (doubling when more than a
 * quarter full), dropping tombstones. */
static int map_grow(hr_blocks *b) {
  uint64_t ncap = b->map_used * 4 > b->map_cap ? b->map_cap * 2 : b->map_cap;
  hr_map_entry *map = calloc(ncap, sizeof *map);
  if (!map) return -1;
  for (uint64_t i = 0; i < b->map_cap; i++) {
    uint64_t key = b->map[i].key;
    if (key == HR_KEY_EMPTY || key == HR_KEY_TOMB) continue;
    uint64_t j = mix(key) & (ncap - 1);
    while (map[j].key != HR_KEY_EMPTY) j = (j + 1) & (ncap - 1);
    map[j] = b->map[i];
  }
  free(b->map);
  b->map = map;
  b->map_cap = ncap;
  b->map_tombs = 0;
  return 0;
}

static int new_slot(hr_blocks *b, uint32_t *slot) {
  if (b->nfree) {
    *slot = b->free_slots[--b->nfree];
    return 0;
  }
  if (b->next == b->cap) {
    uint64_t chunk = b->cap >> HR_CHUNK_BITS;
    if (chunk >= HR_MAX_CHUNKS) return -1;
    b->chunks[chunk] = calloc(HR_CHUNK_SLOTS, sizeof(hr_block));
    if (!b->chunks[chunk]) return -1;
    b->cap += HR_CHUNK_SLOTS;
  }
  *slot = (uint32_t)b->next++;
  return 0;
}

/* Grows the flat array to cover id if that keeps it within bounds, moving
 * the map's ids it now covers into it. false: id stays in the map. */
static bool direct_grow(hr_blocks *b, uint64_t id) {
  uint64_t limit = (b->map_used + b->direct_used + 1) * HR_DIRECT_SLACK;
  if (limit < HR_DIRECT_MIN) limit = HR_DIRECT_MIN;
  if (id >= limit) return false;
  uint64_t ncap = b->direct_cap ? b->direct_cap : 1024;
  while (ncap <= id) ncap *= 2;
  uint32_t *n = realloc(b->direct, ncap * sizeof *n);
  if (!n) return false;
  memset(n + b->direct_cap, 0, (ncap - b->direct_cap) * sizeof *n);
  b->direct = n;
  for (uint64_t i = 0; i < b->map_cap; i++) {
    uint64_t key = b->map[i].key;
    if (key == HR_KEY_EMPTY || key == HR_KEY_TOMB || key - 1 >= ncap || key - 1 < b->direct_cap)
      continue;
    n[key - 1] = b->map[i].slot + 1;
    b->map[i].key = HR_KEY_TOMB;
    b->map_used--;
    b->map_tombs++;
    b->direct_used++;
  }
  b->direct_cap = ncap;
  return true;
}

int hr_blocks_bind(hr_blocks *b, uint64_t id, uint32_t *slot) {
  if (id < b->direct_cap || direct_grow(b, id)) {
    if (new_slot(b, slot) != 0) return -1;
    b->direct[id] = *slot + 1;
    b->direct_used++;
    return 0;
  }
  if ((b->map_used + b->map_tombs + 1) * 2 > b->map_cap && map_grow(b) != 0) return -1;
  if (new_slot(b, slot) != 0) return -1;
  uint64_t key = id + 1, mask = b->map_cap - 1, i = mix(key) & mask;
  while (b->map[i].key != HR_KEY_EMPTY && b->map[i].key != HR_KEY_TOMB) i = (i + 1) & mask;
  if (b->map[i].key == HR_KEY_TOMB) b->map_tombs--;
  b->map[i].key = key;
  b->map[i].slot = *slot;
  b->map_used++;
  return 0;
}

int hr_blocks_unbind(hr_blocks *b, uint64_t id, uint32_t *slot) {
  if (id < b->direct_cap) {
    uint32_t v = b->direct[id];
    if (!v) return -1;
    *slot = v - 1;
    b->direct[id] = 0;
    b->direct_used--;
    return 0;
  }
  uint64_t key = id + 1, mask = b->map_cap - 1;
  for (uint64_t i = mix(key) & mask;; i = (i + 1) & mask) {
    if (b->map[i].key == HR_KEY_EMPTY) return -1;
    if (b->map[i].key == key) {
      *slot = b->map[i].slot;
      b->map[i].key = HR_KEY_TOMB;
      b->map_used--;
      b->map_tombs++;
      return 0;
    }
  }
}

int hr_blocks_recycle(hr_blocks *b, uint32_t slot) {
  if (b->nfree == b->free_cap) {
    uint64_t ncap = b->free_cap ? b->free_cap * 2 : 4096;
    uint32_t *n = realloc(b->free_slots, ncap * sizeof *n);
    if (!n) return -1;
    b->free_slots = n;
    b->free_cap = ncap;
  }
  b->free_slots[b->nfree++] = slot;
  return 0;
}
