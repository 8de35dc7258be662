/* test_validate.c — every validation rule, each with a tiny bad trace
 * (one .jsonl line unless the rule is about headers), checking the exact
 * one-line message shape FILE:LINE: event N: problem. */
#include "helpers.h"

typedef struct bad {
    const char *name;
    const char *body;  /* lines after the header */
    const char *want;  /* expected tail of the message: ":LINE: event N: problem..." */
    int threads;
} bad;

static const bad cases[] = {
    {"unknown_op", "[\"malloc\",0,1,8]\n", ":2: event 0: unknown op \"malloc\"", 1},
    {"missing_field", "[\"alloc\",0,1]\n", ":2: event 0: missing field: alloc takes tid, id, size", 1},
    {"extra_field", "[\"free\",0,1,2]\n", ":2: event 0: extra field: free takes tid, id", 1},
    {"wrong_type_string", "[\"alloc\",0,\"1\",8]\n", ":2: event 0: field id must be an integer, not a string", 1},
    {"wrong_type_real", "[\"alloc\",0,1,8.5]\n", ":2: event 0: field size must be an integer, not a real number", 1},
    {"op_not_string", "[1,0,1,8]\n", ":2: event 0: the op must be a string, not an integer", 1},
    {"not_array", "{\"op\":\"alloc\"}\n", ":2: event 0: an event must be an array", 1},
    {"negative", "[\"alloc\",0,-1,8]\n", ":2: event 0: field id is negative (-1)", 1},
    {"oversized_size", "[\"alloc\",0,1,1099511627777]\n", ":2: event 0: field size: 1099511627777 exceeds the limit 1099511627776", 1},
    {"oversized_tid", "[\"alloc\",16777216,1,8]\n", ":2: event 0: field tid: 16777216 exceeds the limit", 1},
    {"huge_number", "[\"alloc\",0,1,99999999999999999999999]\n", ":2: event 0: invalid JSON", 1},
    {"free_not_live", "[\"alloc\",0,1,8]\n[\"free\",0,2]\n", ":3: event 1: free of id 2 which is not live", 1},
    {"double_free", "[\"alloc\",0,1,8]\n[\"free\",0,1]\n[\"free\",0,1]\n", ":4: event 2: free of id 1 which is not live", 1},
    {"realloc_not_live", "[\"realloc\",0,1,2,8]\n", ":2: event 0: realloc of id 1 which is not live", 1},
    {"realloc_onto_live", "[\"alloc\",0,1,8]\n[\"alloc\",0,2,8]\n[\"realloc\",0,1,2,16]\n", ":4: event 2: realloc to id 2 which is already live", 1},
    {"realloc_size0", "[\"alloc\",0,1,8]\n[\"realloc\",0,1,1,0]\n", ":3: event 1: realloc to size 0 is not allowed", 1},
    {"alloc_live", "[\"alloc\",0,1,8]\n[\"calloc\",0,1,2,8]\n", ":3: event 1: calloc of id 1 which is already live", 1},
    {"calloc_overflow", "[\"calloc\",0,1,1099511627776,2]\n", ":2: event 0: calloc overflow: n * size = 1099511627776 * 2", 1},
    {"align_not_pow2", "[\"memalign\",0,1,24,64]\n", ":2: event 0: align 24 is not a power of two", 1},
    {"align_zero", "[\"memalign\",0,1,0,64]\n", ":2: event 0: align 0 is not a power of two", 1},
    {"before_start", "[\"alloc\",1,1,8]\n", ":2: event 0: thread 1 has not been started", 2},
    {"after_exit", "[\"thread_start\",1,0]\n[\"thread_exit\",1]\n[\"free\",1,1]\n", ":4: event 2: thread 1 has already exited", 2},
    {"exit_twice", "[\"thread_start\",1,0]\n[\"thread_exit\",1]\n[\"thread_exit\",1]\n", ":4: event 2: thread 1 has already exited", 2},
    {"started_twice", "[\"thread_start\",1,0]\n[\"thread_start\",1,0]\n", ":3: event 1: thread 1 started twice", 2},
    {"restart_after_exit", "[\"thread_start\",1,0]\n[\"thread_exit\",1]\n[\"thread_start\",1,0]\n", ":4: event 2: thread 1 started twice", 2},
    {"start_main", "[\"thread_start\",0,0]\n", ":2: event 0: thread 0 is the main thread and is never started", 1},
    {"parent_not_running", "[\"thread_start\",2,1]\n", ":2: event 0: parent thread 1 is not running", 3},
    {"tid_out_of_range", "[\"thread_start\",2,0]\n", ":2: event 0: tid 2 out of range: the header says 2 threads", 2},
    {"threads_disagree", "[\"thread_start\",1,0]\n", ":1: header: the header says 3 threads but the body has 2", 3},
    /* The largest legal header value is a count like any other (it was
     * taken for "unknown" and the trace validated). */
    {"threads_max_header", "[\"alloc\",0,1,8]\n", ":1: header: the header says 16777216 threads but the body has 1", 16777216},
    {"truncated_line", "[\"alloc\",0,1,8]\n[\"free\",0,1]", ":3: event 1: truncated file: the last line has no newline", 1},
    {"truncated_mid", "[\"alloc\",0,1,8]\n[\"fre", ":3: event 1: truncated file", 1},
    {"blank_line", "[\"alloc\",0,1,8]\n\n", ":3: event 1: blank line", 1},
    {"invalid_json", "[\"alloc\",0,1,8\n", ":2: event 0: invalid JSON", 1},
    {"trailing_garbage", "[\"alloc\",0,1,8] x\n", ":2: event 0: invalid JSON", 1},
    {"leading_zero", "[\"alloc\",0,01,8]\n", ":2: event 0: invalid JSON", 1},
    /* What a message quotes from the input never reaches the terminal raw. */
    {"escape_in_op", "[\"\\u001b[2Jx\\n\",0,1,8]\n", ":2: event 0: unknown op \"\\x1b[2Jx\\x0a\"", 1},
    {"raw_control_byte", "[\"al\x1b" "loc\",0,1,8]\n", ":2: event 0: invalid JSON: control character 0x1b", 1},
};

static void run_case(const bad *c)
{
    char text[1024], err[HT_ERROR_MAX], want[600];
    snprintf(text, sizeof text,
             "{\"format\":\"hakmem-trace\",\"version\":1,\"meta\":{},\"threads\":%d}\n%s",
             c->threads, c->body);
    char name[96];
    snprintf(name, sizeof name, "%s.jsonl", c->name);
    const char *path = tpath(name);
    write_text(path, text);
    uint64_t n;
    int rc = read_all(path, 0, &n, NULL, 0, err, sizeof err);
    snprintf(want, sizeof want, "%s%s", path, c->want);
    if (rc != HT_EFORMAT || strncmp(err, want, strlen(want)) != 0)
        fail_msg("case %s: rc %d\n got: %s\nwant: %s...", c->name, rc, err, want);
    for (const char *p = err; *p; p++) /* one line, no raw control byte */
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            fail_msg("case %s: control byte 0x%02x in the message", c->name, (unsigned char)*p);
}

static void test_validate_each_rule_jsonl(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i]);
}

/* The same rules through the .json document: the message names the line
 * the event starts on. */
static void test_validate_each_rule_json(void **state)
{
    (void)state;
    static const struct { const char *events, *want; int threads; } jc[] = {
        {"[\"alloc\",0,1,8],\n[\"free\",0,2]", ":3: event 1: free of id 2 which is not live", 1},
        {"[\"alloc\",0,1,8],\n\n[\"alloc\",0,1,8]", ":4: event 1: alloc of id 1 which is already live", 1},
        {"[\"thread_start\",1,0], [\"alloc\",1,1,8],\n[\"thread_exit\",1],\n[\"free\",1,1]", ":4: event 3: thread 1 has already exited", 2},
        {"[\"frob\",0]", ":2: event 0: unknown op \"frob\"", 1},
        {"[\"alloc\",0,1,8]", ":1: header: the header says 2 threads but the body has 1", 2},
    };
    for (size_t i = 0; i < sizeof jc / sizeof jc[0]; i++) {
        char text[1024], err[HT_ERROR_MAX], want[600];
        snprintf(text, sizeof text,
                 "{\"format\":\"hakmem-trace\",\"version\":1,\"meta\":{},\"threads\":%d,"
                 "\"events\":[\n%s\n]}\n", jc[i].threads, jc[i].events);
        const char *path = tpath("case.json");
        write_text(path, text);
        uint64_t n;
        int rc = read_all(path, 0, &n, NULL, 0, err, sizeof err);
        snprintf(want, sizeof want, "%s%s", path, jc[i].want);
        if (rc != HT_EFORMAT || strncmp(err, want, strlen(want)) != 0)
            fail_msg("json case %zu: rc %d\n got: %s\nwant: %s", i, rc, err, want);
    }
}

static void test_validate_headers(void **state)
{
    (void)state;
    static const struct { const char *text, *want; } hc[] = {
        {"{\"format\":\"other\",\"version\":1,\"meta\":{},\"threads\":1}\n", ":1: header: wrong format"},
        {"{\"format\":\"hakmem-trace\",\"version\":2,\"meta\":{},\"threads\":1}\n", ":1: header: unsupported version 2"},
        {"{\"format\":\"hakmem-trace\",\"version\":1,\"meta\":{}}\n", ":1: header: missing header field \"threads\""},
        {"{\"format\":\"hakmem-trace\",\"version\":1,\"meta\":{},\"threads\":1,\"x\":1}\n", ":1: header: unknown header field \"x\""},
        {"{\"format\":\"hakmem-trace\",\"version\":1,\"meta\":[],\"threads\":1}\n", ":1: header: meta must be an object"},
        {"{\"format\":\"hakmem-trace\",\"version\":1,\"meta\":{},\"threads\":0}\n", ":1: header: threads 0 out of range"},
        {"{\"format\":\"hakmem-trace\",\"version\":1,\"meta\":{},\"threads\":-3}\n", ":1: header: threads -3 out of range"},
        {"{\"format\":\"hakmem-trace\",\"version\":1,\"meta\":{},\"threads\":1,\"event_count\":2}\n[\"alloc\",0,1,8]\n", ":1: header: the header says 2 events but the body has 1"},
        {"", ":1: header: empty file"},
        {"[1,2]\n", ":1: header: the header is an array, not an object"},
    };
    for (size_t i = 0; i < sizeof hc / sizeof hc[0]; i++) {
        char err[HT_ERROR_MAX], want[600];
        const char *path = tpath("hdr.jsonl");
        write_text(path, hc[i].text);
        uint64_t n;
        int rc = read_all(path, 0, &n, NULL, 0, err, sizeof err);
        snprintf(want, sizeof want, "%s%s", path, hc[i].want);
        if (rc != HT_EFORMAT || strncmp(err, want, strlen(want)) != 0)
            fail_msg("header case %zu: rc %d\n got: %s\nwant: %s", i, rc, err, want);
    }
}

static void test_validate_valid_end_states(void **state)
{
    (void)state;
    /* Live blocks and running threads at the end are fine; ids may be reused. */
    const char *path = tpath("ok.jsonl");
    write_text(path, HT_JSONL_HEADER(3)
               "[\"thread_start\",1,0]\n[\"alloc\",1,7,8]\n[\"free\",0,7]\n[\"alloc\",0,7,16]\n"
               "[\"thread_start\",2,1]\n[\"thread_exit\",1]\n[\"realloc\",2,7,7,32]\n"
               "[\"memalign\",2,8,4096,1]\n[\"calloc\",2,9,0,0]\n[\"alloc\",0,10,0]\n");
    uint64_t n;
    char err[HT_ERROR_MAX];
    assert_int_equal(read_all(path, 0, &n, NULL, 0, err, sizeof err), 0);
    assert_int_equal(n, 10);
}

static void test_validate_no_validate_flag(void **state)
{
    (void)state;
    const char *path = tpath("loose.jsonl");
    write_text(path, HT_JSONL_HEADER(1) "[\"free\",0,5]\n");
    uint64_t n;
    char err[HT_ERROR_MAX];
    assert_int_equal(read_all(path, HT_READ_NO_VALIDATE, &n, NULL, 0, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(read_all(path, 0, &n, NULL, 0, err, sizeof err), HT_EFORMAT);
}

static void test_validate_large_ids_hashed(void **state)
{
    (void)state;
    /* Ids beyond the bitmap go through the hash: same rules. */
    const char *path = tpath("big.jsonl");
    write_text(path, HT_JSONL_HEADER(1) "[\"alloc\",0,9223372036854775807,8]\n"
               "[\"alloc\",0,16777216,8]\n[\"free\",0,9223372036854775807]\n"
               "[\"free\",0,16777216]\n[\"free\",0,16777216]\n");
    uint64_t n;
    char err[HT_ERROR_MAX];
    assert_int_equal(read_all(path, 0, &n, NULL, 0, err, sizeof err), HT_EFORMAT);
    assert_non_null(strstr(err, ":6: event 4: free of id 16777216 which is not live"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_each_rule_jsonl),
        cmocka_unit_test(test_validate_each_rule_json),
        cmocka_unit_test(test_validate_headers),
        cmocka_unit_test(test_validate_valid_end_states),
        cmocka_unit_test(test_validate_no_validate_flag),
        cmocka_unit_test(test_validate_large_ids_hashed),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rm_tree();
    return rc;
}
