/* gen_util.c — what the generators share: Larson's lran2 PRNG (bit-exact
 * with lran2.h, W. Gloger 1996), a splitmix64 PRNG for the other
 * workloads, a pool that recycles block ids (so ids stay below the peak
 * live count), and the emit adapter for ht_writer.
 */
#include <stdlib.h>

#include "internal.h"

#define LRAN2_MAX 714025L
#define LRAN2_IA 1366L
#define LRAN2_IC 150889L

void ht_lran2_init(ht_lran2 *d, long seed)
{
    long x = (LRAN2_IC - seed) % LRAN2_MAX;
    if (x < 0)
        x = -x;
    for (int j = 0; j < 97; j++) {
        x = (LRAN2_IA * x + LRAN2_IC) % LRAN2_MAX;
        d->v[j] = x;
    }
    d->x = (LRAN2_IA * x + LRAN2_IC) % LRAN2_MAX;
    d->y = d->x;
}

long ht_lran2_next(ht_lran2 *d)
{
    int j = (int)(d->y % 97);
    d->y = d->v[j];
    d->x = (LRAN2_IA * d->x + LRAN2_IC) % LRAN2_MAX;
    d->v[j] = d->x;
    return d->y;
}

uint64_t ht_rng_next(ht_rng *g)
{
    uint64_t z = (g->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t ht_rng_below(ht_rng *g, uint64_t n)
{
    /* Multiply-shift: unbiased enough for workload shapes, and fast. */
    return (uint64_t)(((unsigned __int128)ht_rng_next(g) * n) >> 64);
}

uint64_t ht_rng_size(ht_rng *g, uint64_t min, uint64_t max)
{
    return max > min ? min + ht_rng_below(g, max - min) : min;
}

void ht_idpool_init(ht_idpool *p)
{
    p->free_ids = NULL;
    p->nfree = p->cap = 0;
    p->next = 0;
}

void ht_idpool_free(ht_idpool *p)
{
    free(p->free_ids);
    ht_idpool_init(p);
}

uint64_t ht_idpool_get(ht_idpool *p)
{
    return p->nfree ? p->free_ids[--p->nfree] : p->next++;
}

int ht_idpool_put(ht_idpool *p, uint64_t id)
{
    if (p->nfree == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 1024;
        uint64_t *n = realloc(p->free_ids, cap * sizeof *n);
        if (!n)
            return HT_ENOMEM;
        p->free_ids = n;
        p->cap = cap;
    }
    p->free_ids[p->nfree++] = id;
    return 0;
}

int ht_gen_emit_writer(void *ctx, const ht_event *ev) { return ht_writer_write(ctx, ev); }
