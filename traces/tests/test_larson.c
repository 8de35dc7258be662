/* test_larson.c — the Larson generator against an independent model: a
 * second lran2 written from docs/larson.md's definition and a straight-line
 * re-enactment of larson.cpp (warm-up, then each slot's threads one after
 * another).  Per thread, the generator's operations must equal the model's
 * whatever the interleaving quantum; hand-over points must be
 * start(successor), glibc's calloc of the successor's DTV by the parent,
 * then exit; and a golden prefix computed separately (traces/tests/
 * larson_model.py, from the same definition) is pinned. */
#include <stdbool.h>

#include "helpers.h"
#include "ht_gen.h"
#include "internal.h"

/* ---- an independent lran2 ------------------------------------------- */
typedef struct { long x, y, v[97]; } ref_rng;
static void ref_init(ref_rng *g, long seed)
{
    long x = (150889L - seed) % 714025L;
    if (x < 0)
        x = -x;
    for (int j = 0; j < 97; j++)
        g->v[j] = x = (1366L * x + 150889L) % 714025L;
    g->y = g->x = (1366L * x + 150889L) % 714025L;
}
static long ref_next(ref_rng *g)
{
    int j = (int)(g->y % 97);
    g->y = g->v[j];
    g->x = (1366L * g->x + 150889L) % 714025L;
    g->v[j] = g->x;
    return g->y;
}

/* ---- collected events ----------------------------------------------- */
typedef struct { ht_event *ev; size_t n, cap; } vec;
static int collect(void *ctx, const ht_event *ev)
{
    vec *v = ctx;
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 4096;
        v->ev = realloc(v->ev, v->cap * sizeof *v->ev);
        assert_non_null(v->ev);
    }
    v->ev[v->n++] = *ev;
    return 0;
}

typedef struct { uint8_t op; uint64_t id, size, n; } op_t;

/* The model's per-thread op lists: index 0 = main, then slot s generation g
 * at 1 + s * G + g.  A calloc of glibc's DTV has no id in the model (it
 * depends on the interleaving: N + the new thread's tid - 1), checked
 * against the start event before it instead. */
static op_t **model(const ht_larson_params *p, size_t **lens)
{
    uint32_t T = p->threads, C = p->chunks, G = p->generations;
    size_t nthreads = 1 + (size_t)T * G, N = (size_t)T * C;
    op_t **lists = calloc(nthreads, sizeof *lists);
    *lens = calloc(nthreads, sizeof **lens);
    lists[0] = malloc((9 * N + T) * sizeof(op_t));
    const op_t dtv = {HT_OP_CALLOC, UINT64_MAX, 16, p->thread_tls_bytes / 16};
    long min = (long)p->min_size, max = (long)p->max_size;
    ref_rng g;
    ref_init(&g, (long)(unsigned)p->seed);
    uint64_t *arr = malloc(N * sizeof *arr);
    size_t k = 0;
#define SIZE(r) (uint64_t)(max == min ? min : min + ref_next(r) % (max - min))
    for (size_t i = 0; i < N; i++) {
        arr[i] = i;
        lists[0][k++] = (op_t){HT_OP_ALLOC, i, SIZE(&g), 0};
    }
    for (size_t c = N; c > 0; c--) {
        size_t v = (size_t)(ref_next(&g) % (long)c);
        uint64_t t = arr[v];
        arr[v] = arr[c - 1];
        arr[c - 1] = t;
    }
    for (size_t i = 0; i < 4 * N; i++) {
        size_t v = (size_t)(ref_next(&g) % (long)N);
        lists[0][k++] = (op_t){HT_OP_FREE, arr[v], 0, 0};
        lists[0][k++] = (op_t){HT_OP_ALLOC, arr[v], SIZE(&g), 0};
    }
    /* main starts each slot's first thread: glibc callocs its DTV */
    for (uint32_t s = 0; s < T && G > 0 && p->thread_tls_bytes; s++)
        lists[0][k++] = dtv;
    (*lens)[0] = k;
    for (uint32_t s = 0; s < T && G > 0; s++) {
        ref_rng r;
        ref_init(&r, (int)ref_next(&g));
        for (uint32_t gen = 0; gen < G; gen++) {
            size_t t = 1 + (size_t)s * G + gen, m = 0;
            lists[t] = malloc((2 * (size_t)p->rounds * C + 1) * sizeof(op_t));
            for (uint64_t i = 0; i < (uint64_t)p->rounds * C; i++) {
                size_t v = (size_t)(ref_next(&r) % (long)C);
                lists[t][m++] = (op_t){HT_OP_FREE, arr[s * C + v], 0, 0};
                lists[t][m++] = (op_t){HT_OP_ALLOC, arr[s * C + v], SIZE(&r), 0};
            }
            /* it starts its successor: glibc callocs the successor's DTV */
            if (gen + 1 < G && p->thread_tls_bytes)
                lists[t][m++] = dtv;
            (*lens)[t] = m;
        }
    }
#undef SIZE
    free(arr);
    return lists;
}

static void check_against_model(const ht_larson_params *p)
{
    vec v = {0};
    assert_int_equal(ht_gen_larson(p, collect, &v), 0);
    assert_int_equal(v.n, ht_larson_event_count(p));
    size_t *lens;
    op_t **want = model(p, &lens);
    uint32_t T = p->threads, G = p->generations;
    size_t nthreads = 1 + (size_t)T * G;
    /* tid -> model index, from the start events. */
    size_t *idx = calloc(nthreads + 1, sizeof *idx), *pos = calloc(nthreads, sizeof *pos);
    uint32_t first_slots = 0;
    uint64_t N = (uint64_t)p->threads * p->chunks;
    bool tls = p->thread_tls_bytes != 0;
    for (size_t i = 0; i < v.n; i++) {
        const ht_event *e = &v.ev[i];
        if (e->op == HT_OP_THREAD_START) {
            assert_true(e->tid <= nthreads);
            if (e->parent == 0)
                idx[e->tid] = 1 + (size_t)(first_slots++) * G;
            else
                idx[e->tid] = idx[e->parent] + 1;
            /* glibc's DTV of the new thread: the parent callocs it next, an
             * id of its own above the slots. */
            size_t next = i + 1;
            if (tls) {
                assert_true(next < v.n);
                assert_int_equal(v.ev[next].op, HT_OP_CALLOC);
                assert_int_equal(v.ev[next].tid, e->parent);
                assert_int_equal(v.ev[next].id, N + e->tid - 1);
                next++;
            }
            if (e->parent != 0) {
                /* Hand-over: the parent has done all its work (the calloc
                 * included, checked as its last op), and exits next. */
                assert_int_equal(pos[idx[e->parent]] + (tls ? 1 : 0), lens[idx[e->parent]]);
                assert_true(next < v.n);
                assert_int_equal(v.ev[next].op, HT_OP_THREAD_EXIT);
                assert_int_equal(v.ev[next].tid, e->parent);
            }
            continue;
        }
        if (e->op == HT_OP_THREAD_EXIT) {
            assert_int_equal(pos[idx[e->tid]], lens[idx[e->tid]]);
            continue;
        }
        size_t t = e->tid == 0 ? 0 : idx[e->tid];
        assert_true(pos[t] < lens[t]);
        op_t w = want[t][pos[t]++];
        if (e->op != w.op || (w.id != UINT64_MAX && e->id != w.id) || e->size != w.size ||
            e->n != w.n)
            fail_msg("event %zu (tid %u): got op %d id %llu size %llu n %llu, model op %d id %llu "
                     "size %llu n %llu", i, e->tid, e->op, (unsigned long long)e->id,
                     (unsigned long long)e->size, (unsigned long long)e->n, w.op,
                     (unsigned long long)w.id, (unsigned long long)w.size, (unsigned long long)w.n);
    }
    assert_int_equal(first_slots, G > 0 ? T : 0);
    for (size_t t = 0; t < nthreads; t++) {
        assert_int_equal(pos[t], lens[t]);
        free(want[t]);
    }
    free(want);
    free(lens);
    free(idx);
    free(pos);
    free(v.ev);
}

static void test_larson_lran2_matches_reference(void **state)
{
    (void)state;
    /* Pinned: lran2 seeded 12345, computed independently in Python. */
    static const long golden[8] = {588361, 129447, 187519, 601085, 181855, 118446, 538859, 367619};
    ht_lran2 g;
    ref_rng r;
    ht_lran2_init(&g, 12345);
    ref_init(&r, 12345);
    for (int i = 0; i < 8; i++)
        assert_int_equal(ht_lran2_next(&g), golden[i]);
    ht_lran2_init(&g, 12345);
    for (int i = 0; i < 100000; i++)
        assert_int_equal(ht_lran2_next(&g), ref_next(&r));
    /* Negative and large seeds follow C's % semantics. */
    long seeds[] = {-5, 0, 150889, 714025 * 3 + 7, 4294967295L};
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
        ht_lran2_init(&g, seeds[s]);
        ref_init(&r, seeds[s]);
        for (int i = 0; i < 1000; i++)
            assert_int_equal(ht_lran2_next(&g), ref_next(&r));
    }
}

static void test_larson_golden_prefix(void **state)
{
    (void)state;
    /* threads 2, chunks 4, 8..128, seed 12345, one generation: the first
     * 14 warm-up events and slot 0's first three pairs (slot seeds 1897 and
     * 647748), worked out by hand from the definition; main starts the two
     * slots, glibc callocing each one's DTV (320 bytes, ids 8 and 9). */
    ht_larson_params p = HT_LARSON_DEFAULTS;
    p.threads = 2;
    p.chunks = 4;
    p.generations = 1;
    vec v = {0};
    assert_int_equal(ht_gen_larson(&p, collect, &v), 0);
    static const uint64_t pre[14][3] = {
        {HT_OP_ALLOC, 0, 9}, {HT_OP_ALLOC, 1, 95}, {HT_OP_ALLOC, 2, 87}, {HT_OP_ALLOC, 3, 13},
        {HT_OP_ALLOC, 4, 63}, {HT_OP_ALLOC, 5, 14}, {HT_OP_ALLOC, 6, 67}, {HT_OP_ALLOC, 7, 67},
        {HT_OP_FREE, 5, 0}, {HT_OP_ALLOC, 5, 90}, {HT_OP_FREE, 6, 0}, {HT_OP_ALLOC, 6, 25},
        {HT_OP_FREE, 7, 0}, {HT_OP_ALLOC, 7, 58},
    };
    for (int i = 0; i < 14; i++) {
        assert_int_equal(v.ev[i].op, pre[i][0]);
        assert_int_equal(v.ev[i].tid, 0);
        assert_int_equal(v.ev[i].id, pre[i][1]);
        assert_int_equal(v.ev[i].size, pre[i][2]);
    }
    size_t s = 9 * 8; /* after the warm-up: start(1), its DTV, start(2), its DTV, then slot 0 */
    for (uint32_t t = 1; t <= 2; t++, s += 2) {
        assert_int_equal(v.ev[s].op, HT_OP_THREAD_START);
        assert_int_equal(v.ev[s].tid, t);
        assert_int_equal(v.ev[s].parent, 0);
        assert_int_equal(v.ev[s + 1].op, HT_OP_CALLOC);
        assert_int_equal(v.ev[s + 1].tid, 0);
        assert_int_equal(v.ev[s + 1].id, 8 + t - 1);
        assert_int_equal(v.ev[s + 1].n, 20);
        assert_int_equal(v.ev[s + 1].size, 16);
    }
    static const uint64_t slot0[6][3] = {
        {HT_OP_FREE, 3, 0}, {HT_OP_ALLOC, 3, 119}, {HT_OP_FREE, 0, 0},
        {HT_OP_ALLOC, 0, 116}, {HT_OP_FREE, 3, 0}, {HT_OP_ALLOC, 3, 64},
    };
    for (int i = 0; i < 6; i++) {
        const ht_event *e = &v.ev[s + i];
        assert_int_equal(e->tid, 1);
        assert_int_equal(e->op, slot0[i][0]);
        assert_int_equal(e->id, slot0[i][1]);
        assert_int_equal(e->size, slot0[i][2]);
    }
    free(v.ev);
}

/* The whole trace of a small configuration, event for event, against the
 * file traces/tests/larson_model.py (a second implementation, in Python)
 * wrote: traces/tests/golden/larson-model.jsonl, its parameters on line 1.
 * scripts/regen-golden.sh rewrites the file; traces.larson_model checks the
 * model against haktrace on more configurations. */
static void test_larson_golden_model_trace(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s/traces/tests/golden/larson-model.jsonl", HAK_TEST_SOURCE_DIR);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("%s missing (scripts/regen-golden.sh writes it)", path);
    char line[512];
    assert_non_null(fgets(line, sizeof line, f));
    json_t *head = json_loads(line, 0, NULL), *ps = json_array_get(head, 1);
    assert_non_null(ps);
    ht_larson_params p = {
        (uint32_t)json_integer_value(json_object_get(ps, "threads")),
        (uint64_t)json_integer_value(json_object_get(ps, "min")),
        (uint64_t)json_integer_value(json_object_get(ps, "max")),
        (uint32_t)json_integer_value(json_object_get(ps, "chunks")),
        (uint32_t)json_integer_value(json_object_get(ps, "rounds")),
        (unsigned long)json_integer_value(json_object_get(ps, "seed")),
        (uint32_t)json_integer_value(json_object_get(ps, "generations")),
        (uint32_t)json_integer_value(json_object_get(ps, "quantum")),
        (uint32_t)json_integer_value(json_object_get(ps, "thread-tls-bytes")),
    };
    json_decref(head);
    vec v = {0};
    assert_int_equal(ht_gen_larson(&p, collect, &v), 0);
    size_t i = 0;
    for (; fgets(line, sizeof line, f); i++) {
        line[strcspn(line, "\n")] = '\0';
        assert_true(i < v.n);
        char got[160];
        got[ht_json_format_event(&v.ev[i], got)] = '\0';
        if (strcmp(got, line))
            fail_msg("event %zu: the generator wrote %s, the model %s", i, got, line);
    }
    fclose(f);
    assert_int_equal(i, v.n);
    free(v.ev);
}

static void test_larson_per_thread_equals_model(void **state)
{
    (void)state;
    ht_larson_params p = HT_LARSON_DEFAULTS;
    p.generations = 6;
    uint32_t quanta[] = {1, 3, 64, 1000, 1u << 30};
    for (size_t i = 0; i < sizeof quanta / sizeof quanta[0]; i++) {
        p.quantum = quanta[i];
        check_against_model(&p);       /* with glibc's DTV calloc (the default) */
        p.thread_tls_bytes = 0;
        check_against_model(&p);       /* and without */
        p.thread_tls_bytes = HT_LARSON_TLS_BYTES;
    }
    ht_larson_params q = {3, 16, 16, 50, 2, 4141, 4, 5, 288}; /* min == max, 2 rounds */
    check_against_model(&q);
    ht_larson_params r = {5, 8, 1000, 37, 3, (unsigned long)(unsigned)-7, 3, 17, 16};
    check_against_model(&r);
    ht_larson_params z = {2, 8, 128, 10, 1, 1, 1, 64, 320}; /* one generation */
    check_against_model(&z);
}

static void test_larson_seed_run_shape(void **state)
{
    (void)state;
    /* The seed's configuration: counts from docs/larson.md, plus glibc's
     * DTV calloc for each of the 8,000 threads. */
    ht_larson_params p = HT_LARSON_DEFAULTS;
    assert_int_equal(ht_larson_event_count(&p), 9 * 4096 + 4ull * 2000 * (2 * 1024 + 2 + 1));
    p.thread_tls_bytes = 0;
    assert_int_equal(ht_larson_event_count(&p), 9 * 4096 + 4ull * 2000 * (2 * 1024 + 2));
    p = (ht_larson_params)HT_LARSON_DEFAULTS;
    p.generations = 20;
    vec v = {0};
    assert_int_equal(ht_gen_larson(&p, collect, &v), 0);
    assert_int_equal(v.n, ht_larson_event_count(&p));
    uint64_t starts = 0, max_id = 0, callocs = 0;
    for (size_t i = 0; i < v.n; i++) {
        starts += v.ev[i].op == HT_OP_THREAD_START;
        if (v.ev[i].op == HT_OP_ALLOC && v.ev[i].id > max_id)
            max_id = v.ev[i].id;
        if (v.ev[i].op == HT_OP_ALLOC)
            assert_true(v.ev[i].size >= 8 && v.ev[i].size < 128);
        if (v.ev[i].op == HT_OP_CALLOC) {
            /* 320 bytes: the 512-byte class, a sixth class beside 8..128 */
            assert_int_equal(v.ev[i].n * v.ev[i].size, 320);
            assert_int_equal(v.ev[i].id, 4096 + callocs);
            callocs++;
        }
    }
    assert_int_equal(starts, 4 * 20);
    assert_int_equal(callocs, starts); /* one per new thread, none freed */
    assert_int_equal(max_id, 4095); /* larson's ids are slots: bounded by the live set */
    free(v.ev);
}

static void test_larson_bad_params(void **state)
{
    (void)state;
    vec v = {0};
    ht_larson_params p = HT_LARSON_DEFAULTS;
    p.min_size = 200;
    assert_int_equal(ht_gen_larson(&p, collect, &v), HT_EUSAGE);
    p = (ht_larson_params)HT_LARSON_DEFAULTS;
    p.threads = 0;
    assert_int_equal(ht_gen_larson(&p, collect, &v), HT_EUSAGE);
    p = (ht_larson_params)HT_LARSON_DEFAULTS;
    p.quantum = 0;
    assert_int_equal(ht_gen_larson(&p, collect, &v), HT_EUSAGE);
    p = (ht_larson_params)HT_LARSON_DEFAULTS;
    p.generations = 0; /* the help says at least 1: a Larson run has threads */
    assert_int_equal(ht_gen_larson(&p, collect, &v), HT_EUSAGE);
    p = (ht_larson_params)HT_LARSON_DEFAULTS;
    p.thread_tls_bytes = 100; /* not whole 16-byte DTV entries */
    assert_int_equal(ht_gen_larson(&p, collect, &v), HT_EUSAGE);
    assert_int_equal(v.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_larson_lran2_matches_reference),
        cmocka_unit_test(test_larson_golden_prefix),
        cmocka_unit_test(test_larson_golden_model_trace),
        cmocka_unit_test(test_larson_per_thread_equals_model),
        cmocka_unit_test(test_larson_seed_run_shape),
        cmocka_unit_test(test_larson_bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
