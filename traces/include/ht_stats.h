/* ht_stats.h — summary statistics of a trace, computed in one streaming
 * pass (memory: the live set plus one byte per thread).  Used by
 * `haktrace stats`; the definitions are in docs/trace-format.md.
 */
#ifndef HT_STATS_H
#define HT_STATS_H

#include <stdint.h>

#include "ht_trace.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HT_STATS_BUCKETS 42 /* bucket 0: size 0; bucket k>0: sizes in [2^(k-1), 2^k) */

typedef struct ht_stats {
    uint64_t events;
    uint64_t by_op[HT_OP_COUNT]; /* indexed by ht_op */
    uint32_t threads;            /* threads seen (main included) */
    uint32_t max_concurrent;     /* most threads running at once */
    uint64_t live_blocks, peak_live_blocks;
    uint64_t live_bytes, peak_live_bytes; /* requested bytes (calloc: n*size) */
    uint64_t frees;        /* free events plus reallocs (each frees its old block) */
    uint64_t remote_frees; /* of those, by a thread other than the allocating one */
    uint64_t size_hist[HT_STATS_BUCKETS]; /* sizes requested by alloc, calloc, realloc, memalign */
    void *impl; /* private */
} ht_stats;

int ht_stats_init(ht_stats *s);
/* Adds one (valid) event. */
int ht_stats_add(ht_stats *s, const ht_event *ev);
void ht_stats_free(ht_stats *s);

#ifdef __cplusplus
}
#endif
#endif /* HT_STATS_H */
