/* test_event.c — the op table, field limits and the compact JSON form. */
#include "helpers.h"
#include "internal.h"

static void test_event_names_round_trip(void **state)
{
    (void)state;
    for (int op = 1; op < HT_OP_COUNT; op++) {
        const char *n = ht_op_name((ht_op)op);
        assert_non_null(n);
        assert_int_equal(ht_op_lookup(n, strlen(n)), op);
    }
    assert_null(ht_op_name((ht_op)0));
    assert_null(ht_op_name((ht_op)HT_OP_COUNT));
    assert_int_equal(ht_op_lookup("allocx", 6), 0);
    assert_int_equal(ht_op_lookup("alloc", 4), 0);
}

static void test_event_limits(void **state)
{
    (void)state;
    ht_event ev;
    char msg[200];
    uint64_t f[4] = {0, 1, HT_MAX_SIZE, 0};
    assert_int_equal(ht_event_set_fields(&ev, HT_OP_ALLOC, f, msg, sizeof msg), 0);
    f[2] = HT_MAX_SIZE + 1;
    assert_int_equal(ht_event_set_fields(&ev, HT_OP_ALLOC, f, msg, sizeof msg), HT_EFORMAT);
    uint64_t c[4] = {0, 1, 1 << 20, 1 << 20};
    assert_int_equal(ht_event_set_fields(&ev, HT_OP_CALLOC, c, msg, sizeof msg), 0);
    c[3] = (1 << 20) + 1;
    assert_int_equal(ht_event_set_fields(&ev, HT_OP_CALLOC, c, msg, sizeof msg), HT_EFORMAT);
    assert_non_null(strstr(msg, "calloc overflow"));
    uint64_t m[4] = {0, 1, HT_MAX_ALIGN, 1};
    assert_int_equal(ht_event_set_fields(&ev, HT_OP_MEMALIGN, m, msg, sizeof msg), 0);
    m[2] = HT_MAX_ALIGN * 2;
    assert_int_equal(ht_event_set_fields(&ev, HT_OP_MEMALIGN, m, msg, sizeof msg), HT_EFORMAT);
    ev = (ht_event){.op = HT_OP_FREE, .tid = 0, .id = 3, .size = 1};
    assert_int_equal(ht_event_check(&ev, msg, sizeof msg), HT_EFORMAT);
    assert_non_null(strstr(msg, "does not use"));
}

static void test_event_format(void **state)
{
    (void)state;
    char buf[160];
    ht_event ev = {.op = HT_OP_REALLOC, .tid = 3, .id = 18446744073709551, .new_id = 0, .size = 7};
    size_t n = ht_json_format_event(&ev, buf);
    buf[n] = 0;
    assert_string_equal(buf, "[\"realloc\",3,18446744073709551,0,7]");
    ev = (ht_event){.op = HT_OP_THREAD_START, .tid = 16777215, .parent = 2};
    n = ht_json_format_event(&ev, buf);
    buf[n] = 0;
    assert_string_equal(buf, "[\"thread_start\",16777215,2]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_names_round_trip),
        cmocka_unit_test(test_event_limits),
        cmocka_unit_test(test_event_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
