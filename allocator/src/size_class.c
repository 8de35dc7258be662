/* size_class.c: the size-class table, each class's slab geometry, and the
 * size -> class lookup.
 *
 * Classes come from the size_classes option: ascending block sizes, each a
 * multiple of 8 (so every block can hold the free-list link and is 8-byte
 * aligned). The default is HAKMEM's powers of two 8..1024 (what the seed's
 * numbers imply) followed by medium classes to 32 KiB, four per doubling.
 * A request of n bytes goes to the smallest class >= n; the lookup is one
 * table load indexed by (n + 7) / 8.
 *
 * Geometry: a class's slabs are 2^slab_lg bytes (the option), or larger
 * when that would hold fewer than HAK_MIN_SLAB_BLOCKS blocks, up to half a
 * SuperSlab. HAKMEM's tiny classes keep the option's slab size exactly; a
 * 32 KiB class gets 512 KiB slabs, so a refill still serves 16 blocks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define HAK_CLASS_MAX_BYTES 65536u

int hak_classes_parse(const char *spec, uint32_t *sizes, uint32_t *count, char *err,
                      size_t errlen) {
  uint32_t n = 0;
  const char *p = spec;
  if (!spec || !*spec) {
    snprintf(err, errlen, "empty list");
    return -HAK_EINVAL;
  }
  while (*p) {
    char *end;
    if (*p < '0' || *p > '9') {
      snprintf(err, errlen, "expected a number at '%s'", p);
      return -HAK_EINVAL;
    }
    unsigned long v = strtoul(p, &end, 10);
    if (v < 8 || v > HAK_CLASS_MAX_BYTES || v % 8 != 0) {
      snprintf(err, errlen, "size %lu is not a multiple of 8 in 8..%u", v,
               HAK_CLASS_MAX_BYTES);
      return -HAK_EINVAL;
    }
    if (n > 0 && v <= sizes[n - 1]) {
      snprintf(err, errlen, "sizes must ascend (%lu after %u)", v, sizes[n - 1]);
      return -HAK_EINVAL;
    }
    if (n == HAK_MAX_CLASSES) {
      snprintf(err, errlen, "more than %d classes", HAK_MAX_CLASSES);
      return -HAK_EINVAL;
    }
    sizes[n++] = (uint32_t)v;
    p = end;
    if (*p == ',') {
      p++;
      if (!*p) {
        snprintf(err, errlen, "trailing comma");
        return -HAK_EINVAL;
      }
    } else if (*p) {
      snprintf(err, errlen, "unexpected '%c'", *p);
      return -HAK_EINVAL;
    }
  }
  *count = n;
  return 0;
}

uint32_t hak_class_slab_shift(uint32_t block_size, uint32_t slab_lg, uint32_t ss_lg) {
  uint32_t shift = slab_lg;
  while (shift + 1 < ss_lg && ((size_t)1 << shift) < (size_t)block_size * HAK_MIN_SLAB_BLOCKS)
    shift++;
  return shift;
}

/* Where slab 0's first block starts: after the header, rounded so that
 * power-of-two blocks are aligned to their size (up to a page). */
static size_t first_block_offset(uint32_t block_size, size_t header) {
  size_t align = (block_size & (block_size - 1)) == 0 ? (block_size < 4096 ? block_size : 4096)
                                                      : 16;
  return (header + align - 1) & ~(align - 1);
}

int hak_classes_validate(const uint32_t *sizes, uint32_t count, uint32_t slab_lg,
                         uint32_t ss_lg, char *err, size_t errlen) {
  if (slab_lg >= ss_lg) {
    snprintf(err, errlen, "slab_lg must be smaller than ss_lg");
    return -HAK_EINVAL;
  }
  for (uint32_t i = 0; i < count; i++) {
    uint32_t shift = hak_class_slab_shift(sizes[i], slab_lg, ss_lg);
    size_t slab = (size_t)1 << shift;
    size_t first = first_block_offset(sizes[i], hak_ss_header_size(1u << (ss_lg - shift)));
    /* Slab 0 shares its space with the header: it must hold a block too,
     * and every other slab at least two. */
    if (sizes[i] > slab / 2 || first + sizes[i] > slab) {
      snprintf(err, errlen, "size_classes: class %u does not fit a %zu KiB slab", sizes[i],
               slab / 1024);
      return -HAK_EINVAL;
    }
  }
  return 0;
}

static uint32_t gcd(uint32_t x, uint32_t y) {
  while (y) {
    uint32_t t = x % y;
    x = y;
    y = t;
  }
  return x;
}

/* slot_order=random's strides for a slab of cap blocks: spread over
 * (0, cap) by the golden ratio, each moved up to the next value coprime
 * to cap, avoiding 1 and cap - 1 (address order, forwards or backwards)
 * where the capacity leaves a choice. */
static void perm_mults(uint32_t cap, uint32_t *out) {
  for (uint32_t k = 0; k < HAK_PERM_MULTS; k++) {
    uint32_t m = 1;
    if (cap > 4) {
      m = (uint32_t)(((uint64_t)cap * (uint32_t)((k + 1) * 0x9E3779B9u)) >> 32);
      for (uint32_t tries = 0; tries < cap; tries++, m = m + 1 < cap ? m + 1 : 1)
        if (m > 1 && m + 1 < cap && gcd(m, cap) == 1) break;
    }
    out[k] = m;
  }
}

/* ceil(2^64 / d), for hak_is_block_offset. */
static uint64_t div_magic(uint32_t d) { return UINT64_MAX / d + 1; }

int hak_classes_init(hak_allocator *a, char *err, size_t errlen) {
  uint32_t sizes[HAK_MAX_CLASSES], n;
  int rc = hak_classes_parse(a->cfg.size_classes, sizes, &n, err, errlen);
  if (rc) return rc;
  rc = hak_classes_validate(sizes, n, a->cfg.slab_lg, a->cfg.ss_lg, err, errlen);
  if (rc) return rc;
  a->class_count = n;
  a->class_max = sizes[n - 1];
  uint32_t c = 0;
  for (uint32_t g = 0; g <= a->class_max / 8; g++) {
    while (sizes[c] < g * 8) c++;
    a->size_to_class[g] = (uint8_t)c;
  }
  for (uint32_t i = 0; i < n; i++) {
    hak_class_state *cs = &a->classes[i];
    cs->block_size = sizes[i];
    cs->div_magic = div_magic(sizes[i]);
    cs->slab_shift = hak_class_slab_shift(sizes[i], a->cfg.slab_lg, a->cfg.ss_lg);
    cs->nslabs = 1u << (a->cfg.ss_lg - cs->slab_shift);
    cs->header_size = (uint32_t)hak_ss_header_size(cs->nslabs);
    uint32_t slab = 1u << cs->slab_shift;
    perm_mults((uint32_t)((slab - hak_class_first_block(cs, 0)) / cs->block_size), cs->perm_mult[0]);
    perm_mults(slab / cs->block_size, cs->perm_mult[1]);
    cs->mesh_words = (slab / cs->block_size + 63) / 64;
  }
  return 0;
}

/* Slab i's first block (layout of superslab.c). */
size_t hak_class_first_block(const hak_class_state *cs, uint32_t slab) {
  return slab == 0 ? first_block_offset(cs->block_size, cs->header_size) : 0;
}

int hak_size_class(const hak_allocator *a, size_t size) {
  if (size > a->class_max) return -1;
  return a->size_to_class[(size + 7) / 8];
}

uint32_t hak_class_size(const hak_allocator *a, int class_idx) {
  return (class_idx >= 0 && (uint32_t)class_idx < a->class_count)
             ? a->classes[class_idx].block_size
             : 0;
}

uint32_t hak_class_count(const hak_allocator *a) { return a->class_count; }

bool hak_class_geometry(const hak_allocator *a, int c, hak_class_info *out) {
  if (c < 0 || (uint32_t)c >= a->class_count) return false;
  const hak_class_state *cs = &a->classes[c];
  uint32_t slab = 1u << cs->slab_shift;
  out->block_size = cs->block_size;
  out->min_request = c == 0 ? 0 : a->classes[c - 1].block_size + 1;
  out->slab_bytes = slab;
  out->nslabs = cs->nslabs;
  out->header_bytes = cs->header_size;
  out->ss_blocks = (cs->nslabs - 1) * (slab / cs->block_size) +
                   (uint32_t)((slab - hak_class_first_block(cs, 0)) / cs->block_size);
  return true;
}
