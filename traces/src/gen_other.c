/* gen_other.c — workloads that stress the allocator's remote-free and
 * thread-exit paths differently from Larson:
 *   prodcons: producers allocate, consumers free (every free is remote);
 *   churn:    waves of short-lived threads each leave survivors behind,
 *             freed by a thread `lifetime` waves later (mleak-like);
 *   phase:    a big live set is built, then mostly freed by another
 *             thread, then a small steady state (trim and reuse).
 * Each keeps O(live set + threads) state; ids are recycled through an
 * ht_idpool so they stay below the peak live count.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define RUN 32 /* events per thread per round-robin turn */

static int emit_op(ht_emit_fn emit, void *ctx, ht_op op, uint32_t tid, uint64_t id,
                   uint64_t size)
{
    ht_event ev = {.op = op, .tid = tid, .id = id, .size = size};
    return emit(ctx, &ev);
}

static int emit_thread(ht_emit_fn emit, void *ctx, ht_op op, uint32_t tid, uint32_t parent)
{
    ht_event ev = {.op = op, .tid = tid, .parent = parent};
    return emit(ctx, &ev);
}

/* ---- producer-consumer ---------------------------------------------- */

int ht_gen_prodcons(const ht_prodcons_params *p, ht_emit_fn emit, void *ctx)
{
    if (p->producers < 1 || p->consumers < 1 || p->batch < 1 || p->min_size > p->max_size ||
        p->max_size > HT_MAX_SIZE || (uint64_t)p->producers + p->consumers + 1 > HT_MAX_THREADS)
        return HT_EUSAGE;
    const uint32_t P = p->producers, C = p->consumers, B = p->batch;
    const size_t slots = (size_t)p->depth + 1; /* batches a queue can hold */
    uint64_t *q = malloc((size_t)C * slots * B * sizeof *q);
    uint32_t *qlen = calloc((size_t)C * slots, sizeof *qlen); /* blocks per queued batch */
    size_t *head = calloc(C, sizeof *head), *count = calloc(C, sizeof *count);
    ht_idpool pool;
    ht_idpool_init(&pool);
    ht_rng rng = {p->seed};
    int rc = (!q || !qlen || !head || !count) ? HT_ENOMEM : 0;
    for (uint32_t t = 1; t <= P + C && rc == 0; t++)
        rc = emit_thread(emit, ctx, HT_OP_THREAD_START, t, 0);

    /* Consumer c frees the oldest batch in its queue. */
#define CONSUME(c)                                                                       \
    do {                                                                                 \
        size_t b_ = (size_t)(c)*slots + head[c];                                         \
        for (uint32_t k_ = 0; k_ < qlen[b_] && rc == 0; k_++) {                          \
            uint64_t id_ = q[b_ * B + k_];                                               \
            rc = emit_op(emit, ctx, HT_OP_FREE, P + 1 + (c), id_, 0);                    \
            if (rc == 0)                                                                 \
                rc = ht_idpool_put(&pool, id_);                                          \
        }                                                                                \
        head[c] = (head[c] + 1) % slots;                                                 \
        count[c]--;                                                                      \
    } while (0)

    uint64_t rounds = (p->blocks + B - 1) / B;
    for (uint64_t r = 0; r < rounds && rc == 0; r++) {
        for (uint32_t pr = 0; pr < P && rc == 0; pr++) {
            uint32_t c = (uint32_t)((pr + r) % C);
            if (count[c] == slots)
                CONSUME(c);
            size_t b = (size_t)c * slots + (head[c] + count[c]) % slots;
            uint64_t left = p->blocks - r * B;
            qlen[b] = (uint32_t)(left < B ? left : B);
            for (uint32_t k = 0; k < qlen[b] && rc == 0; k++) {
                uint64_t id = ht_idpool_get(&pool);
                q[b * B + k] = id;
                rc = emit_op(emit, ctx, HT_OP_ALLOC, pr + 1, id,
                             ht_rng_size(&rng, p->min_size, p->max_size));
            }
            count[c]++;
            if (count[c] > p->depth && rc == 0)
                CONSUME(c);
        }
    }
    for (uint32_t c = 0; c < C && rc == 0; c++)
        while (count[c] > 0 && rc == 0)
            CONSUME(c);
#undef CONSUME
    for (uint32_t t = 1; t <= P + C && rc == 0; t++)
        rc = emit_thread(emit, ctx, HT_OP_THREAD_EXIT, t, 0);
    free(q);
    free(qlen);
    free(head);
    free(count);
    ht_idpool_free(&pool);
    return rc;
}

/* ---- thread churn --------------------------------------------------- */

typedef struct churner {
    uint32_t tid;
    uint32_t phase; /* 0 alloc, 1 free non-survivors, 2 free old survivors, 3 exit, 4 done */
    uint32_t i;
    uint64_t *ids;  /* this thread's blocks, shuffled before phase 1 */
} churner;

int ht_gen_churn(const ht_churn_params *p, ht_emit_fn emit, void *ctx)
{
    if (p->width < 1 || p->survivors > p->allocs || p->min_size > p->max_size ||
        p->max_size > HT_MAX_SIZE || (uint64_t)p->waves * p->width + 1 > HT_MAX_THREADS)
        return HT_EUSAGE;
    const uint32_t W = p->width, A = p->allocs, S = p->survivors, L = p->lifetime;
    const size_t ring = (size_t)L + 1;
    churner *th = calloc(W, sizeof *th);
    uint64_t *ids = malloc(((size_t)W * A + 1) * sizeof *ids);
    uint64_t *surv = malloc(((size_t)ring * W * S + 1) * sizeof *surv);
    ht_idpool pool;
    ht_idpool_init(&pool);
    ht_rng rng = {p->seed};
    int rc = (!th || !ids || !surv) ? HT_ENOMEM : 0;
    uint32_t next_tid = 1;
    for (uint32_t w = 0; w < p->waves && rc == 0; w++) {
        uint64_t *mine = surv + (size_t)(w % ring) * W * S;
        uint64_t *old = (L > 0 && w >= L) ? surv + (size_t)((w - L) % ring) * W * S : NULL;
        for (uint32_t j = 0; j < W && rc == 0; j++) {
            th[j] = (churner){.tid = next_tid++, .ids = ids + (size_t)j * A};
            rc = emit_thread(emit, ctx, HT_OP_THREAD_START, th[j].tid, 0);
        }
        for (uint32_t alive = W; alive > 0 && rc == 0;) {
            for (uint32_t j = 0; j < W && rc == 0; j++) {
                churner *t = &th[j];
                for (int k = 0; k < RUN && t->phase < 4 && rc == 0; k++) {
                    if (t->phase == 0 && t->i < A) {
                        t->ids[t->i] = ht_idpool_get(&pool);
                        rc = emit_op(emit, ctx, HT_OP_ALLOC, t->tid, t->ids[t->i++],
                                     ht_rng_size(&rng, p->min_size, p->max_size));
                    } else if (t->phase == 0) {
                        for (uint32_t c = A; c > 1; c--) { /* choose the survivors */
                            uint32_t v = (uint32_t)ht_rng_below(&rng, c);
                            uint64_t x = t->ids[v];
                            t->ids[v] = t->ids[c - 1];
                            t->ids[c - 1] = x;
                        }
                        memcpy(mine + (size_t)j * S, t->ids + (A - S), (size_t)S * sizeof *mine);
                        t->phase = 1;
                        t->i = 0;
                    } else if (t->phase == 1 && t->i < A - S) {
                        uint64_t id = t->ids[t->i++];
                        rc = emit_op(emit, ctx, HT_OP_FREE, t->tid, id, 0);
                        if (rc == 0)
                            rc = ht_idpool_put(&pool, id);
                    } else if (t->phase == 1) {
                        t->phase = old ? 2 : 3;
                        t->i = 0;
                    } else if (t->phase == 2 && t->i < S) {
                        /* A survivor of a thread that exited waves ago: a remote free. */
                        uint64_t id = old[(size_t)j * S + t->i++];
                        rc = emit_op(emit, ctx, HT_OP_FREE, t->tid, id, 0);
                        if (rc == 0)
                            rc = ht_idpool_put(&pool, id);
                    } else if (t->phase == 2) {
                        t->phase = 3;
                    } else {
                        rc = emit_thread(emit, ctx, HT_OP_THREAD_EXIT, t->tid, 0);
                        t->phase = 4;
                        alive--;
                    }
                }
            }
        }
    }
    free(th);
    free(ids);
    free(surv);
    ht_idpool_free(&pool);
    return rc;
}

/* ---- phase change --------------------------------------------------- */

typedef struct phaser {
    uint32_t tid;
    uint64_t *ids; /* blocks this worker holds */
    uint64_t held;
    uint64_t i;    /* progress in the current phase */
} phaser;

int ht_gen_phase(const ht_phase_params *p, ht_emit_fn emit, void *ctx)
{
    if (p->threads < 1 || p->blocks < 1 || p->keep_pct > 100 || p->min_size > p->max_size ||
        p->max_size > HT_MAX_SIZE || (uint64_t)p->threads + 1 > HT_MAX_THREADS)
        return HT_EUSAGE;
    const uint32_t T = p->threads;
    const uint64_t keep = p->blocks * p->keep_pct / 100;
    phaser *w = calloc(T, sizeof *w);
    uint64_t *ids = malloc((size_t)T * p->blocks * sizeof *ids);
    ht_idpool pool;
    ht_idpool_init(&pool);
    ht_rng rng = {p->seed};
    int rc = (!w || !ids) ? HT_ENOMEM : 0;
    for (uint32_t t = 0; t < T && rc == 0; t++) {
        w[t] = (phaser){.tid = t + 1, .ids = ids + (size_t)t * p->blocks};
        rc = emit_thread(emit, ctx, HT_OP_THREAD_START, t + 1, 0);
    }
    for (uint32_t cyc = 0; cyc < p->cycles && rc == 0; cyc++) {
        /* Build: every worker fills up to `blocks` live blocks. */
        for (bool busy = true; busy && rc == 0;) {
            busy = false;
            for (uint32_t t = 0; t < T && rc == 0; t++)
                for (int k = 0; k < RUN && w[t].held < p->blocks && rc == 0; k++) {
                    uint64_t id = ht_idpool_get(&pool);
                    w[t].ids[w[t].held++] = id;
                    rc = emit_op(emit, ctx, HT_OP_ALLOC, w[t].tid, id,
                                 ht_rng_size(&rng, p->min_size, p->max_size));
                    busy = true;
                }
        }
        /* Drop: worker t frees a random (100 - keep)% of worker t+1's blocks. */
        for (uint32_t t = 0; t < T; t++) {
            phaser *v = &w[(t + 1) % T];
            for (uint64_t c = v->held; c > 1; c--) {
                uint64_t r = ht_rng_below(&rng, c), x = v->ids[r];
                v->ids[r] = v->ids[c - 1];
                v->ids[c - 1] = x;
            }
        }
        for (bool busy = true; busy && rc == 0;) {
            busy = false;
            for (uint32_t t = 0; t < T && rc == 0; t++) {
                phaser *v = &w[(t + 1) % T];
                for (int k = 0; k < RUN && v->held > keep && rc == 0; k++) {
                    uint64_t id = v->ids[--v->held];
                    rc = emit_op(emit, ctx, HT_OP_FREE, w[t].tid, id, 0);
                    if (rc == 0)
                        rc = ht_idpool_put(&pool, id);
                    busy = true;
                }
            }
        }
        /* Steady state: each worker replaces random blocks of its own. */
        for (uint32_t t = 0; t < T; t++)
            w[t].i = 0;
        for (bool busy = true; busy && rc == 0;) {
            busy = false;
            for (uint32_t t = 0; t < T && rc == 0; t++)
                for (int k = 0; k < RUN / 2 && w[t].i < p->steady && w[t].held > 0 && rc == 0;
                     k++) {
                    uint64_t v = ht_rng_below(&rng, w[t].held), id = w[t].ids[v];
                    rc = emit_op(emit, ctx, HT_OP_FREE, w[t].tid, id, 0);
                    if (rc == 0)
                        rc = ht_idpool_put(&pool, id);
                    if (rc == 0) {
                        id = w[t].ids[v] = ht_idpool_get(&pool);
                        rc = emit_op(emit, ctx, HT_OP_ALLOC, w[t].tid, id,
                                     ht_rng_size(&rng, p->min_size, p->max_size));
                    }
                    w[t].i++;
                    busy = true;
                }
        }
    }
    for (uint32_t t = 0; t < T && rc == 0; t++)
        rc = emit_thread(emit, ctx, HT_OP_THREAD_EXIT, w[t].tid, 0);
    free(w);
    free(ids);
    ht_idpool_free(&pool);
    return rc;
}
