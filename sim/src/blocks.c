/* blocks.c: the block table. Trace ids map to slots (coordinator only);
 * slots hold what the replayer knows of each live block. Slots live in
 * fixed chunks so their addresses never move while workers use them, and
 * a slot is recycled only after the worker that freed it reports back.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define HR_CHUNK_SLOTS (1u << HR_CHUNK_BITS)

int hr_blocks_init(hr_blocks *b) {
  memset(b, 0, sizeof *b);
  b->map_cap = 1024;
  b->keys = calloc(b->map_cap, sizeof *b->keys);
  b->vals = calloc(b->map_cap, sizeof *b->vals);
  return b->keys && b->vals ? 0 : -1;
}

void hr_blocks_free(hr_blocks *b) {
  for (uint32_t i = 0; i < HR_MAX_CHUNKS && b->chunks[i]; i++) free(b->chunks[i]);
  free(b->free_slots);
  free(b->keys);
  free(b->vals);
  memset(b, 0, sizeof *b);
}

static uint64_t mix(uint64_t x) {
  x ^= x >> 31;
  x *= 0x7fb5d329728ea185ULL;
  x ^= x >> 27;
  x *= 0x81dadef4bc2dd44dULL;
  return x ^ (x >> 33);
}

#define HR_TOMB UINT64_MAX

static int map_grow(hr_blocks *b) {
  uint64_t ncap = b->map_used * 4 > b->map_cap ? b->map_cap * 2 : b->map_cap;
  uint64_t *keys = calloc(ncap, sizeof *keys), *vals = calloc(ncap, sizeof *vals);
  if (!keys || !vals) {
    free(keys);
    free(vals);
    return -1;
  }
  for (uint64_t i = 0; i < b->map_cap; i++) {
    if (b->keys[i] == 0 || b->keys[i] == HR_TOMB) continue;
    uint64_t j = mix(b->keys[i]) & (ncap - 1);
    while (keys[j]) j = (j + 1) & (ncap - 1);
    keys[j] = b->keys[i];
    vals[j] = b->vals[i];
  }
  free(b->keys);
  free(b->vals);
  b->keys = keys;
  b->vals = vals;
  b->map_cap = ncap;
  b->map_tombs = 0;
  return 0;
}

static int new_slot(hr_blocks *b, uint64_t *slot) {
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
  *slot = b->next++;
  return 0;
}

int hr_blocks_bind(hr_blocks *b, uint64_t id, uint64_t *slot) {
  if ((b->map_used + b->map_tombs + 1) * 2 > b->map_cap && map_grow(b) != 0) return -1;
  if (new_slot(b, slot) != 0) return -1;
  uint64_t key = id + 1, i = mix(key) & (b->map_cap - 1);
  while (b->keys[i] != 0 && b->keys[i] != HR_TOMB) i = (i + 1) & (b->map_cap - 1);
  if (b->keys[i] == HR_TOMB) b->map_tombs--;
  b->keys[i] = key;
  b->vals[i] = *slot;
  b->map_used++;
  return 0;
}

int hr_blocks_unbind(hr_blocks *b, uint64_t id, uint64_t *slot) {
  uint64_t key = id + 1;
  for (uint64_t i = mix(key) & (b->map_cap - 1);; i = (i + 1) & (b->map_cap - 1)) {
    if (b->keys[i] == 0) return -1;
    if (b->keys[i] == key) {
      *slot = b->vals[i];
      b->keys[i] = HR_TOMB;
      b->map_used--;
      b->map_tombs++;
      return 0;
    }
  }
}

int hr_blocks_recycle(hr_blocks *b, uint64_t slot) {
  if (b->nfree == b->free_cap) {
    uint64_t ncap = b->free_cap ? b->free_cap * 2 : 4096;
    uint64_t *n = realloc(b->free_slots, ncap * sizeof *n);
    if (!n) return -1;
    b->free_slots = n;
    b->free_cap = ncap;
  }
  b->free_slots[b->nfree++] = slot;
  return 0;
}
