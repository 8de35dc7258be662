/* test_gen.c — the other generators: every trace they make is valid, has
 * the shape its parameters promise (all frees remote for prodcons,
 * survivors for churn, a live-set peak and drop for phase), keeps ids
 * bounded by the live set, and writes through the writer in every
 * encoding identically. */
#include "helpers.h"
#include "internal.h"

typedef struct sink {
    ht_validator val;
    ht_stats st;
    uint64_t max_id;
} sink;

static int check(void *ctx, const ht_event *ev)
{
    sink *s = ctx;
    char msg[256];
    if (ht_validator_step(&s->val, ev, msg, sizeof msg) < 0)
        fail_msg("event %llu: %s", (unsigned long long)s->st.events, msg);
    if (ev->op != HT_OP_THREAD_START && ev->op != HT_OP_THREAD_EXIT && ev->id > s->max_id)
        s->max_id = ev->id;
    return ht_stats_add(&s->st, ev);
}

static void sink_init(sink *s)
{
    memset(s, 0, sizeof *s);
    assert_int_equal(ht_validator_init(&s->val, 0), 0); /* count not known: checked dense */
    assert_int_equal(ht_stats_init(&s->st), 0);
}

static void sink_done(sink *s)
{
    char msg[256];
    assert_int_equal(ht_validator_finish(&s->val, msg, sizeof msg), 0);
    ht_validator_free(&s->val);
    ht_stats_free(&s->st);
}

static void test_gen_prodcons_all_frees_remote(void **state)
{
    (void)state;
    ht_prodcons_params p = HT_PRODCONS_DEFAULTS;
    p.blocks = 5000;
    p.batch = 7; /* leaves a partial last batch */
    sink s;
    sink_init(&s);
    assert_int_equal(ht_gen_prodcons(&p, check, &s), 0);
    assert_int_equal(s.st.by_op[HT_OP_ALLOC], 4 * 5000);
    assert_int_equal(s.st.frees, 4 * 5000);
    assert_int_equal(s.st.remote_frees, s.st.frees);
    assert_int_equal(s.st.live_blocks, 0);
    assert_int_equal(s.st.threads, 9);
    assert_true(s.st.peak_live_blocks <= (uint64_t)4 * (p.depth + 1) * p.batch);
    assert_true(s.max_id < s.st.peak_live_blocks);
    sink_done(&s);
}

static void test_gen_churn_survivors(void **state)
{
    (void)state;
    ht_churn_params p = HT_CHURN_DEFAULTS;
    p.waves = 50;
    sink s;
    sink_init(&s);
    assert_int_equal(ht_gen_churn(&p, check, &s), 0);
    assert_int_equal(s.st.threads, 1 + 50 * 4);
    assert_int_equal(s.st.by_op[HT_OP_THREAD_EXIT], 50 * 4);
    /* The last `lifetime` waves' survivors are still live at the end. */
    assert_int_equal(s.st.live_blocks, (uint64_t)p.lifetime * p.width * p.survivors);
    /* Survivors freed by later threads are cross-thread frees. */
    assert_int_equal(s.st.remote_frees, (uint64_t)(50 - p.lifetime) * 4 * p.survivors);
    assert_true(s.st.max_concurrent <= 1 + p.width);
    sink_done(&s);

    p.lifetime = 0; /* survivors leak */
    sink_init(&s);
    assert_int_equal(ht_gen_churn(&p, check, &s), 0);
    assert_int_equal(s.st.live_blocks, 50ull * 4 * p.survivors);
    assert_int_equal(s.st.remote_frees, 0);
    sink_done(&s);
}

static void test_gen_phase_peak_then_drop(void **state)
{
    (void)state;
    ht_phase_params p = HT_PHASE_DEFAULTS;
    p.blocks = 2000;
    p.steady = 500;
    sink s;
    sink_init(&s);
    assert_int_equal(ht_gen_phase(&p, check, &s), 0);
    assert_int_equal(s.st.peak_live_blocks, 4 * 2000);
    assert_int_equal(s.st.live_blocks, 4 * (2000 * 5 / 100));
    assert_true(s.st.remote_frees >= 3ull * 4 * (2000 - 100));
    assert_true(s.max_id < s.st.peak_live_blocks);
    sink_done(&s);
}

static void test_gen_bad_params(void **state)
{
    (void)state;
    sink s;
    sink_init(&s);
    ht_prodcons_params pc = HT_PRODCONS_DEFAULTS;
    pc.consumers = 0;
    assert_int_equal(ht_gen_prodcons(&pc, check, &s), HT_EUSAGE);
    ht_churn_params ch = HT_CHURN_DEFAULTS;
    ch.survivors = ch.allocs + 1;
    assert_int_equal(ht_gen_churn(&ch, check, &s), HT_EUSAGE);
    ht_phase_params ph = HT_PHASE_DEFAULTS;
    ph.keep_pct = 101;
    assert_int_equal(ht_gen_phase(&ph, check, &s), HT_EUSAGE);
    assert_int_equal(s.st.events, 0);
    sink_done(&s);
}

static void test_gen_writes_every_encoding(void **state)
{
    (void)state;
    ht_churn_params p = HT_CHURN_DEFAULTS;
    p.waves = 5;
    const char *names[] = {"g.json", "g.jsonl", "g.hkt"};
    uint64_t counts[3];
    for (int i = 0; i < 3; i++) {
        ht_writer *w;
        ht_error e;
        assert_int_equal(ht_writer_open(tpath(names[i]), "{\"generator\":\"churn\"}", 0, &w, &e), 0);
        assert_int_equal(ht_gen_churn(&p, ht_gen_emit_writer, w), 0);
        assert_int_equal(ht_writer_close(w, &e), 0);
        char err[HT_ERROR_MAX];
        assert_int_equal(read_all(tpath(names[i]), 0, &counts[i], NULL, 0, err, sizeof err), 0);
    }
    assert_int_equal(counts[0], counts[1]);
    assert_int_equal(counts[1], counts[2]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gen_prodcons_all_frees_remote),
        cmocka_unit_test(test_gen_churn_survivors),
        cmocka_unit_test(test_gen_phase_peak_then_drop),
        cmocka_unit_test(test_gen_bad_params),
        cmocka_unit_test(test_gen_writes_every_encoding),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rm_tree();
    return rc;
}
