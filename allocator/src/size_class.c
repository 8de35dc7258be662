/* size_class.c: the size-class table and the size -> class lookup.
 *
 * Classes come from the size_classes option: ascending block sizes, each a
 * multiple of 8 (so every block can hold the free-list link and is 8-byte
 * aligned). The default is the powers of two 8..1024 that the seed's
 * numbers imply. A request of n bytes goes to the smallest class >= n;
 * the lookup is one table load indexed by (n + 7) / 8.
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

int hak_classes_init(hak_allocator *a, char *err, size_t errlen) {
  uint32_t sizes[HAK_MAX_CLASSES], n;
  int rc = hak_classes_parse(a->cfg.size_classes, sizes, &n, err, errlen);
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
    cs->shift = (sizes[i] & (sizes[i] - 1)) == 0 ? (uint32_t)__builtin_ctz(sizes[i]) : 0;
  }
  return 0;
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
