/* gen_larson.c — the Larson workload, op-for-op as mimalloc-bench's
 * larson.cpp (docs/larson.md): the main thread's warm-up
 * (allocate N = threads x chunks blocks, shuffle, 4N replacements), one
 * lran2 generator per slot seeded from the global one, and chains of
 * threads per slot, each doing rounds x chunks free+alloc pairs before it
 * starts its successor and exits.  Block ids are array slots: the block
 * in slot k keeps its id across free and re-alloc, so ids stay < N.  The
 * only freedom, the interleaving of slots, is round-robin in runs of
 * `quantum` alloc/free operations.  Beside larson's own calls, glibc's:
 * every pthread_create callocs the new thread's DTV in the parent
 * (thread_tls_bytes, ht_gen.h), never freed because larson never joins.
 * Memory: O(threads x chunks).
 */
#include <limits.h>
#include <stdlib.h>

#include "internal.h"

typedef struct slot {
    ht_lran2 rng;
    uint32_t tid;       /* current thread of the chain */
    uint32_t gen;       /* its generation, 0-based */
    uint64_t pairs;     /* free+alloc pairs done by the current thread */
    uint32_t victim;    /* slot index freed, awaiting its alloc */
    bool alloc_pending;
    bool done;
} slot;

static int check_params(const ht_larson_params *p)
{
    if (p->threads < 1 || p->chunks < 1 || p->rounds < 1 || p->quantum < 1 || p->generations < 1)
        return HT_EUSAGE;
    if (p->min_size > p->max_size || p->max_size > INT_MAX)
        return HT_EUSAGE;
    if ((uint64_t)p->threads * p->chunks > INT_MAX)
        return HT_EUSAGE;
    if ((uint64_t)p->threads * p->generations + 1 > HT_MAX_THREADS)
        return HT_EUSAGE;
    if (p->thread_tls_bytes % HT_LARSON_TLS_ENTRY != 0)
        return HT_EUSAGE;
    return 0;
}

uint64_t ht_larson_event_count(const ht_larson_params *p)
{
    uint64_t n = (uint64_t)p->threads * p->chunks;
    uint64_t pairs = (uint64_t)p->rounds * p->chunks;
    uint64_t ev = 9 * n;
    uint64_t per_thread = 2 * pairs + 2 + (p->thread_tls_bytes ? 1 : 0);
    if (p->generations > 0)
        ev += (uint64_t)p->threads * p->generations * per_thread;
    return ev;
}

/* glibc's pthread_create, in the parent: the new thread's DTV, calloc'd
 * and never freed (ids above the slots: N + tid - 1). */
static inline int emit_tls(const ht_larson_params *p, uint64_t N, uint32_t parent, uint32_t child,
                           ht_emit_fn emit, void *ctx)
{
    if (!p->thread_tls_bytes)
        return 0;
    ht_event ev = {.op = HT_OP_CALLOC, .tid = parent, .id = N + child - 1,
                   .n = p->thread_tls_bytes / HT_LARSON_TLS_ENTRY, .size = HT_LARSON_TLS_ENTRY};
    return emit(ctx, &ev);
}

/* larson draws a size only when the range is nonempty. */
static inline uint64_t draw_size(ht_lran2 *g, long min, long range)
{
    return (uint64_t)(range == 0 ? min : min + ht_lran2_next(g) % range);
}

int ht_gen_larson(const ht_larson_params *p, ht_emit_fn emit, void *ctx)
{
    int rc = check_params(p);
    if (rc)
        return rc;
    const uint32_t T = p->threads, C = p->chunks;
    const uint64_t N = (uint64_t)T * C, pairs_per_thread = (uint64_t)p->rounds * C;
    const long min = (long)p->min_size, range = (long)(p->max_size - p->min_size);
    uint32_t *blk = malloc(N * sizeof *blk); /* slot index -> block id */
    slot *s = calloc(T, sizeof *s);
    if (!blk || !s) {
        free(blk);
        free(s);
        return HT_ENOMEM;
    }
    ht_lran2 rgen;
    /* larson: unsigned seed = atoi(argv[6]); lran2_init(&rgen, seed). */
    ht_lran2_init(&rgen, (long)(unsigned)p->seed);
    ht_event ev = {0};
    ev.tid = 0;

    /* Warm-up, by the main thread. */
    for (uint64_t k = 0; k < N && rc == 0; k++) {
        ev.op = HT_OP_ALLOC;
        ev.id = k;
        ev.size = draw_size(&rgen, min, range);
        blk[k] = (uint32_t)k;
        rc = emit(ctx, &ev);
    }
    for (uint64_t c = N; c > 0 && rc == 0; c--) {
        uint64_t v = (uint64_t)(ht_lran2_next(&rgen) % (long)c);
        uint32_t t = blk[v];
        blk[v] = blk[c - 1];
        blk[c - 1] = t;
    }
    for (uint64_t k = 0; k < 4 * N && rc == 0; k++) {
        uint64_t v = (uint64_t)(ht_lran2_next(&rgen) % (long)N);
        ev.op = HT_OP_FREE;
        ev.id = blk[v];
        ev.size = 0;
        if ((rc = emit(ctx, &ev)) != 0)
            break;
        ev.op = HT_OP_ALLOC;
        ev.size = draw_size(&rgen, min, range);
        rc = emit(ctx, &ev);
    }
    if (rc || p->generations == 0)
        goto out;

    /* Slot generators, seeded in slot order; then main starts each slot's first thread. */
    uint32_t next_tid = 1;
    for (uint32_t i = 0; i < T && rc == 0; i++) {
        int seed_i = (int)ht_lran2_next(&rgen);
        ht_lran2_init(&s[i].rng, seed_i);
        s[i].tid = next_tid++;
        ev = (ht_event){.op = HT_OP_THREAD_START, .tid = s[i].tid, .parent = 0};
        if ((rc = emit(ctx, &ev)) == 0)
            rc = emit_tls(p, N, 0, s[i].tid, emit, ctx);
    }

    /* Round-robin over the slots, runs of `quantum` operations each. */
    uint32_t running = T;
    while (running > 0 && rc == 0) {
        for (uint32_t i = 0; i < T && rc == 0; i++) {
            slot *sl = &s[i];
            uint32_t *arr = blk + (uint64_t)i * C;
            for (uint32_t q = 0; q < p->quantum && !sl->done && rc == 0; q++) {
                if (!sl->alloc_pending) {
                    sl->victim = (uint32_t)(ht_lran2_next(&sl->rng) % (long)C);
                    ev = (ht_event){.op = HT_OP_FREE, .tid = sl->tid, .id = arr[sl->victim]};
                    sl->alloc_pending = true;
                    rc = emit(ctx, &ev);
                    continue;
                }
                ev = (ht_event){.op = HT_OP_ALLOC, .tid = sl->tid, .id = arr[sl->victim],
                                .size = draw_size(&sl->rng, min, range)};
                sl->alloc_pending = false;
                if ((rc = emit(ctx, &ev)) != 0)
                    break;
                if (++sl->pairs < pairs_per_thread)
                    continue;
                /* The thread's work is done: start the successor (glibc
                 * callocs its DTV here), then exit. */
                uint32_t old = sl->tid;
                if (sl->gen + 1 < p->generations) {
                    sl->tid = next_tid++;
                    sl->gen++;
                    sl->pairs = 0;
                    ev = (ht_event){.op = HT_OP_THREAD_START, .tid = sl->tid, .parent = old};
                    if ((rc = emit(ctx, &ev)) != 0 ||
                        (rc = emit_tls(p, N, old, sl->tid, emit, ctx)) != 0)
                        break;
                } else {
                    sl->done = true;
                    running--;
                }
                ev = (ht_event){.op = HT_OP_THREAD_EXIT, .tid = old};
                rc = emit(ctx, &ev);
            }
        }
    }
out:
    free(blk);
    free(s);
    return rc;
}
