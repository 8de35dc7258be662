/* test_stats.c — the statistics of the hand-written sample, computed by
 * hand, and of a Larson trace against docs/larson.md's expectations. */
#include "helpers.h"
#include "internal.h"

#define SAMPLE HAK_TEST_SOURCE_DIR "/traces/samples/every-op.json"

static void test_stats_sample_by_hand(void **state)
{
    (void)state;
    ht_reader *r;
    ht_error e;
    assert_int_equal(ht_reader_open(SAMPLE, 0, &r, &e), 0);
    ht_stats s;
    assert_int_equal(ht_stats_init(&s), 0);
    ht_event ev;
    while (ht_reader_next(r, &ev) > 0)
        assert_int_equal(ht_stats_add(&s, &ev), 0);
    ht_reader_close(r);
    assert_int_equal(s.events, 14);
    assert_int_equal(s.by_op[HT_OP_ALLOC], 3);
    assert_int_equal(s.by_op[HT_OP_FREE], 3);
    assert_int_equal(s.by_op[HT_OP_CALLOC], 1);
    assert_int_equal(s.by_op[HT_OP_REALLOC], 2);
    assert_int_equal(s.by_op[HT_OP_MEMALIGN], 1);
    assert_int_equal(s.by_op[HT_OP_THREAD_START], 2);
    assert_int_equal(s.by_op[HT_OP_THREAD_EXIT], 2);
    assert_int_equal(s.threads, 3);
    assert_int_equal(s.max_concurrent, 3);
    /* live 1(64) 2(128) 3(100) 4(24): 4 blocks; bytes peak later at
     * 2(128) 3(100) 5(300) after the second realloc */
    assert_int_equal(s.peak_live_blocks, 4);
    assert_int_equal(s.peak_live_bytes, 128 + 100 + 300);
    /* frees: free1 by t1 (alloc t0: remote), realloc4 by t1 (own), realloc5 by t2
     * (alloc t1: remote), free2 by t2 (remote), free5 by t0 (alloc t2: remote) */
    assert_int_equal(s.frees, 5);
    assert_int_equal(s.remote_frees, 4);
    assert_int_equal(s.live_blocks, 2); /* 3 and the new 1 */
    assert_int_equal(s.size_hist[0], 1); /* alloc of 0 bytes */
    assert_int_equal(s.size_hist[5], 1); /* 24 */
    assert_int_equal(s.size_hist[7], 2); /* 64, 100 */
    assert_int_equal(s.size_hist[8], 2); /* 128 (calloc 16 x 8), 200 */
    assert_int_equal(s.size_hist[9], 1); /* 300 */
    ht_stats_free(&s);
}

static int add(void *ctx, const ht_event *ev) { return ht_stats_add(ctx, ev); }

static void test_stats_larson_remote_fraction(void **state)
{
    (void)state;
    /* docs/larson.md: each thread touches ~63% of its slots, so in steady state
     * ~63% of frees are by another thread than the allocator. */
    ht_larson_params p = HT_LARSON_DEFAULTS;
    p.generations = 200;
    ht_stats s;
    assert_int_equal(ht_stats_init(&s), 0);
    assert_int_equal(ht_gen_larson(&p, add, &s), 0);
    double f = (double)s.remote_frees / (double)s.frees;
    assert_true(f > 0.60 && f < 0.66);
    /* larson's 4,096 blocks, and glibc's DTV of each of the 800 threads,
     * never freed (larson never joins a thread). */
    assert_int_equal(s.peak_live_blocks, 4096 + 4 * 200);
    assert_int_equal(s.live_blocks, 4096 + 4 * 200);
    assert_int_equal(s.max_concurrent, 1 + 4 + 1);
    ht_stats_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_sample_by_hand),
        cmocka_unit_test(test_stats_larson_remote_fraction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
