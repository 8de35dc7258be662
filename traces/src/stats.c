/* stats.c — one streaming pass of summary statistics over valid events:
 * counts by op, threads and the most running at once, peak live blocks and
 * bytes, the fraction of frees by a thread other than the allocating one,
 * and a power-of-two histogram of requested sizes.  Memory: the live set
 * (id -> allocating tid and size) plus one byte per thread.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct stats_impl {
    ht_idmap live;  /* id -> (tid << 40) | size */
    uint32_t now;   /* threads running */
} stats_impl;

int ht_stats_init(ht_stats *s)
{
    memset(s, 0, sizeof *s);
    stats_impl *im = calloc(1, sizeof *im);
    if (!im || ht_idmap_init(&im->live) < 0) {
        free(im);
        return HT_ENOMEM;
    }
    im->now = 1;
    s->threads = 1;
    s->max_concurrent = 1;
    s->impl = im;
    return 0;
}

void ht_stats_free(ht_stats *s)
{
    stats_impl *im = s->impl;
    if (!im)
        return;
    ht_idmap_free(&im->live);
    free(im);
    s->impl = NULL;
}

static unsigned bucket(uint64_t size)
{
    unsigned b = 0;
    while (size) {
        b++;
        size >>= 1;
    }
    return b < HT_STATS_BUCKETS ? b : HT_STATS_BUCKETS - 1;
}

static int born(ht_stats *s, stats_impl *im, uint32_t tid, uint64_t id, uint64_t bytes)
{
    s->size_hist[bucket(bytes)]++;
    if (ht_idmap_put(&im->live, id, ((uint64_t)tid << 40) | bytes) < 0)
        return HT_ENOMEM;
    s->live_blocks++;
    s->live_bytes += bytes;
    if (s->live_blocks > s->peak_live_blocks)
        s->peak_live_blocks = s->live_blocks;
    if (s->live_bytes > s->peak_live_bytes)
        s->peak_live_bytes = s->live_bytes;
    return 0;
}

static void died(ht_stats *s, stats_impl *im, uint32_t tid, uint64_t id)
{
    uint64_t v;
    if (!ht_idmap_del(&im->live, id, &v))
        return; /* only valid traces are counted */
    s->frees++;
    if ((v >> 40) != tid)
        s->remote_frees++;
    s->live_blocks--;
    s->live_bytes -= v & ((1ull << 40) - 1);
}

int ht_stats_add(ht_stats *s, const ht_event *ev)
{
    stats_impl *im = s->impl;
    s->events++;
    if (ev->op > 0 && ev->op < HT_OP_COUNT)
        s->by_op[ev->op]++;
    switch (ev->op) {
    case HT_OP_ALLOC:
    case HT_OP_MEMALIGN: return born(s, im, ev->tid, ev->id, ev->size);
    case HT_OP_CALLOC: return born(s, im, ev->tid, ev->id, ev->n * ev->size);
    case HT_OP_FREE: died(s, im, ev->tid, ev->id); return 0;
    case HT_OP_REALLOC: died(s, im, ev->tid, ev->id); return born(s, im, ev->tid, ev->new_id, ev->size);
    case HT_OP_THREAD_START:
        s->threads++;
        if (++im->now > s->max_concurrent)
            s->max_concurrent = im->now;
        return 0;
    case HT_OP_THREAD_EXIT:
        im->now--;
        return 0;
    default: return 0;
    }
}
