/* freecache.c: a thread's free cache, per class: the blocks of its own
 * slabs it freed last, kept on a short last-in-first-out list in front of
 * the slabs, so the next allocation of the class gets the block freed
 * last, whose lines are still in cache (as glibc's and tcmalloc's thread
 * caches do). The fast paths push and pop it (fast.h); this file holds the
 * rest.
 *
 * Accounting stays exact: a cached block was freed by the program, so its
 * slab's `used` (the owner part of the seed's counter) drops when it is
 * cached and rises when it is handed out again. The block is on no slab
 * list meanwhile, so `used == carved - free list - cached` per slab. Only
 * own slabs' blocks are cached, and those slabs stay the thread's (and
 * their SuperSlabs untrimmable) while cached, except:
 *   - a slab about to be released (it emptied) first loses its cached
 *     blocks (hak_fc_purge_slab), which are free anyway;
 *   - at thread exit the cache is flushed to the slabs' lists first.
 */
#include "queue.h"

uint16_t hak_fc_cap(uint32_t block_size) {
  /* About 16 KiB of blocks, between 2 and 32 of them. */
  uint32_t n = (16u * 1024u) / block_size;
  return (uint16_t)(n < 2 ? 2 : n > 32 ? 32 : n);
}

bool hak_fc_has(const hak_allocator *a, const hak_class_cache *cc, const void *p) {
  uint32_t budget = cc->fc_count;
  for (const void *q = cc->fc_head; q && budget-- > 0; q = hak_fc_get(a, q))
    if (q == p) return true;
  return false;
}

uint32_t hak_fc_count_in(const hak_allocator *a, const hak_class_cache *cc, const hak_slab *s) {
  uint32_t n = 0, budget = cc->fc_count;
  for (const void *q = cc->fc_head; q && budget-- > 0; q = hak_fc_get(a, q))
    n += (const char *)q >= s->data && (const char *)q < hak_slab_end(s);
  return n;
}

void hak_fc_purge_slab(hak_allocator *a, hak_class_cache *cc, const hak_slab *s) {
  void **link = &cc->fc_head;
  void *keep_prev = NULL;
  for (void *q = cc->fc_head, *next; q; q = next) {
    next = hak_fc_get(a, q);
    if ((char *)q >= s->data && (char *)q < hak_slab_end(s)) {
      cc->fc_count--;
      if (keep_prev) hak_fc_set(a, keep_prev, next);
      else *link = next;
    } else {
      keep_prev = q;
    }
  }
}

void hak_fc_flush(hak_allocator *a, hak_tcache *tc, hak_class_cache *cc) {
  (void)tc;
  for (void *q = cc->fc_head, *next; q; q = next) {
    next = hak_fc_get(a, q);
    hak_superslab *ss = hak_ss_base(a, q);
    hak_slab *s = hak_slab_of(ss, q);
    hak_link_set(a, q, s->free_list);
    s->free_list = q;
  }
  cc->fc_head = NULL;
  cc->fc_count = 0;
}
