/* queue.h: a live thread's queues of its own slabs (see slab.c), inline:
 * the owner moves slabs between them on its fast and refill paths, and
 * only the owner touches them, so there is no lock and no atomic here.
 *   avail - slabs with room, first in first out: a slab waits its turn
 *           while more frees land in it, so the refill that takes it gets
 *           many blocks, not the one free that put it there (LIFO made
 *           Larson switch slabs every second allocation);
 *   full  - slabs without room, oldest first (the likeliest to have
 *           received remote frees by the time a refill looks).
 */
#ifndef HAK_QUEUE_H
#define HAK_QUEUE_H

#include "internal.h"

static inline void hak_link_tail(hak_slab **head, hak_slab **tail, hak_slab *s) {
  s->next = NULL;
  s->prev = *tail;
  if (*tail) (*tail)->next = s; else *head = s;
  *tail = s;
}

static inline void hak_unlink(hak_slab **head, hak_slab **tail, hak_slab *s) {
  if (s->prev) s->prev->next = s->next; else *head = s->next;
  if (s->next) s->next->prev = s->prev; else *tail = s->prev;
  s->next = s->prev = NULL;
}

static inline void hak_queue_push_avail(hak_class_cache *cc, hak_slab *s) {
  hak_link_tail(&cc->avail_head, &cc->avail_tail, s);
  s->queue = HAK_Q_AVAIL;
}

static inline void hak_queue_push_full(hak_class_cache *cc, hak_slab *s) {
  hak_link_tail(&cc->full_head, &cc->full_tail, s);
  s->queue = HAK_Q_FULL;
  cc->nfull++;
}

static inline void hak_queue_remove(hak_class_cache *cc, hak_slab *s) {
  if (s->queue == HAK_Q_AVAIL) {
    hak_unlink(&cc->avail_head, &cc->avail_tail, s);
  } else if (s->queue == HAK_Q_FULL) {
    hak_unlink(&cc->full_head, &cc->full_tail, s);
    cc->nfull--;
  }
  s->queue = HAK_Q_NONE;
}

#endif
