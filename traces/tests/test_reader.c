/* test_reader.c — reading the three encodings: the sample in each form,
 * the .hkt layout checks (magic, version, truncation, counts, padding,
 * unknown ops), the mmap path, and sticky results. */
#include <fcntl.h>

#include "helpers.h"
#include "internal.h"

#define SAMPLE HAK_TEST_SOURCE_DIR "/traces/samples/every-op.json"

static void convert(const char *in, const char *out)
{
    ht_reader *r;
    ht_writer *w;
    ht_error e;
    assert_int_equal(ht_reader_open(in, 0, &r, &e), 0);
    assert_int_equal(ht_writer_open(out, ht_reader_header(r)->meta_json, 0, &w, &e), 0);
    ht_event ev;
    int rc;
    while ((rc = ht_reader_next(r, &ev)) > 0)
        assert_int_equal(ht_writer_write(w, &ev), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(ht_writer_close(w, &e), 0);
    ht_reader_close(r);
}

static void test_reader_sample_json(void **state)
{
    (void)state;
    ht_reader *r;
    ht_error e;
    assert_int_equal(ht_reader_open(SAMPLE, 0, &r, &e), 0);
    const ht_header *h = ht_reader_header(r);
    assert_int_equal(h->threads, 3);
    assert_int_equal(h->event_count, 14);
    assert_non_null(strstr(h->meta_json, "hand-written"));
    ht_event ev;
    assert_int_equal(ht_reader_next(r, &ev), 1);
    assert_int_equal(ev.op, HT_OP_ALLOC);
    assert_int_equal(ev.id, 1);
    assert_int_equal(ev.size, 64);
    assert_int_equal(ht_reader_next(r, &ev), 1);
    assert_int_equal(ev.op, HT_OP_CALLOC);
    assert_int_equal(ev.n, 16);
    assert_int_equal(ev.size, 8);
    assert_int_equal(ht_reader_next(r, &ev), 1);
    assert_int_equal(ev.op, HT_OP_MEMALIGN);
    assert_int_equal(ev.align, 4096);
    assert_int_equal(ht_reader_next(r, &ev), 1);
    assert_int_equal(ev.op, HT_OP_THREAD_START);
    assert_int_equal(ev.tid, 1);
    assert_int_equal(ev.parent, 0);
    int rc, n = 4;
    while ((rc = ht_reader_next(r, &ev)) > 0)
        n++;
    assert_int_equal(rc, 0);
    assert_int_equal(n, 14);
    assert_int_equal(ht_reader_next(r, &ev), 0); /* sticky end */
    ht_reader_close(r);
}

static void test_reader_all_encodings_agree(void **state)
{
    (void)state;
    ht_event a[32], b[32], c[32];
    uint64_t na, nb, nc, nd;
    char err[HT_ERROR_MAX];
    convert(SAMPLE, tpath("s.hkt"));
    convert(tpath("s.hkt"), tpath("s.jsonl"));
    assert_int_equal(read_all(SAMPLE, 0, &na, a, 32, err, sizeof err), 0);
    assert_int_equal(read_all(tpath("s.hkt"), 0, &nb, b, 32, err, sizeof err), 0);
    assert_int_equal(read_all(tpath("s.jsonl"), 0, &nc, c, 32, err, sizeof err), 0);
    assert_int_equal(read_all(tpath("s.hkt"), HT_READ_MMAP, &nd, NULL, 0, err, sizeof err), 0);
    assert_int_equal(na, 14);
    assert_int_equal(nb, 14);
    assert_int_equal(nc, 14);
    assert_int_equal(nd, 14);
    for (int i = 0; i < 14; i++) {
        assert_memory_equal(&a[i].tid, &b[i].tid, sizeof a[i] - offsetof(ht_event, tid));
        assert_memory_equal(&a[i].tid, &c[i].tid, sizeof a[i] - offsetof(ht_event, tid));
        assert_int_equal(a[i].op, b[i].op);
        assert_int_equal(a[i].op, c[i].op);
    }
}

/* Builds a valid .hkt of the sample, then lets a test corrupt it. */
static size_t hkt_bytes(uint8_t *buf, size_t cap)
{
    convert(SAMPLE, tpath("base.hkt"));
    FILE *f = fopen(tpath("base.hkt"), "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void expect_hkt_error(const uint8_t *buf, size_t len, const char *want)
{
    const char *path = tpath("bad.hkt");
    write_file(path, buf, len);
    uint64_t n;
    char err[HT_ERROR_MAX], full[600];
    int rc = read_all(path, 0, &n, NULL, 0, err, sizeof err);
    snprintf(full, sizeof full, "%s%s", path, want);
    if (rc != HT_EFORMAT || strncmp(err, full, strlen(full)) != 0)
        fail_msg("rc %d\n got: %s\nwant: %s", rc, err, full);
}

static void test_reader_hkt_layout_errors(void **state)
{
    (void)state;
    uint8_t orig[4096], b[4096];
    size_t n = hkt_bytes(orig, sizeof orig);
    uint64_t evoff;
    memcpy(&evoff, orig + 32, 8);
    assert_int_equal(n, evoff + 14 * 32);

    memcpy(b, orig, n);
    b[0] = 'X';
    expect_hkt_error(b, n, ":offset 0: header: wrong magic");
    memcpy(b, orig, n);
    b[8] = 2;
    expect_hkt_error(b, n, ":offset 8: header: unsupported version 2");
    expect_hkt_error(orig, 40, ":offset 40: header: truncated file: 40 bytes");
    expect_hkt_error(orig, n - 5, ":offset ");
    char want[128];
    snprintf(want, sizeof want, ":offset %llu: event 13: truncated file: the header says 14 events",
             (unsigned long long)(evoff + 13 * 32));
    expect_hkt_error(orig, n - 5, want);
    memcpy(b, orig, n);
    b[n] = 0;
    snprintf(want, sizeof want, ":offset %llu: header: 1 bytes after the last of the 14 events",
             (unsigned long long)n);
    expect_hkt_error(b, n + 1, want);
    memcpy(b, orig, n);
    b[16] = 15; /* event_count 15 */
    expect_hkt_error(b, n, ":offset ");
    memcpy(b, orig, n);
    b[50] = 1;
    expect_hkt_error(b, n, ":offset 50: header: nonzero reserved header byte");
    memcpy(b, orig, n);
    b[24] = 4; /* threads 4 */
    expect_hkt_error(b, n, ":offset 16: header: the header says 4 threads but the body has 3");
    memcpy(b, orig, n);
    b[evoff] = 9;
    snprintf(want, sizeof want, ":offset %llu: event 0: unknown op code 9", (unsigned long long)evoff);
    expect_hkt_error(b, n, want);
    memcpy(b, orig, n);
    b[evoff + 1] = 1;
    snprintf(want, sizeof want, ":offset %llu: event 0: nonzero padding", (unsigned long long)evoff);
    expect_hkt_error(b, n, want);
    memcpy(b, orig, n);
    b[evoff + 24] = 1; /* alloc has no 4th field */
    snprintf(want, sizeof want, ":offset %llu: event 0: extra field: alloc takes tid, id, size",
             (unsigned long long)evoff);
    expect_hkt_error(b, n, want);
    memcpy(b, orig, n);
    b[evoff + 32 + 8] = 1; /* event 1: calloc of id 1, already live */
    snprintf(want, sizeof want, ":offset %llu: event 1: calloc of id 1 which is already live",
             (unsigned long long)evoff + 32);
    expect_hkt_error(b, n, want);
    memcpy(b, orig, n);
    b[evoff + 16 + 7] = 0x80; /* size 2^63 + 64 */
    snprintf(want, sizeof want, ":offset %llu: event 0: field size: ", (unsigned long long)evoff);
    expect_hkt_error(b, n, want);
    memcpy(b, orig, n);
    b[64] = '[';  /* meta no longer an object */
    expect_hkt_error(b, n, ":offset 64: header: meta is not valid JSON");
}

static void test_reader_errors_are_sticky(void **state)
{
    (void)state;
    const char *path = tpath("sticky.jsonl");
    write_text(path, HT_JSONL_HEADER(1) "[\"free\",0,1]\n[\"alloc\",0,1,8]\n");
    ht_reader *r;
    ht_error e;
    assert_int_equal(ht_reader_open(path, 0, &r, &e), 0);
    ht_event ev;
    assert_int_equal(ht_reader_next(r, &ev), HT_EFORMAT);
    assert_int_equal(ht_reader_next(r, &ev), HT_EFORMAT);
    assert_non_null(strstr(ht_reader_error(r), ":2: event 0: free of id 1"));
    ht_reader_close(r);
}

static void test_reader_open_failures(void **state)
{
    (void)state;
    ht_reader *r;
    ht_error e;
    assert_int_equal(ht_reader_open("/nonexistent/x.hkt", 0, &r, &e), HT_EIO);
    assert_null(r);
    assert_non_null(strstr(e.text, "/nonexistent/x.hkt: cannot open"));
    assert_int_equal(ht_reader_open("trace.txt", 0, &r, &e), HT_EUSAGE);
    assert_non_null(strstr(e.text, "unknown trace encoding"));
    assert_int_equal(ht_encoding_from_path("a.b/c"), HT_ENC_NONE);
    assert_int_equal(ht_encoding_from_path("x.jsonl"), HT_ENC_JSONL);
}

static void test_reader_json_syntax_error_line(void **state)
{
    (void)state;
    const char *path = tpath("syntax.json");
    write_text(path, "{\"format\":\"hakmem-trace\",\n\"version\":1,\n\"meta\":{},\"threads\":1,\n"
                     "\"events\":[[\"alloc\",0,1,8],\n[\"free\",0,1]\n,]}\n");
    uint64_t n;
    char err[HT_ERROR_MAX], want[600];
    assert_int_equal(read_all(path, 0, &n, NULL, 0, err, sizeof err), HT_EFORMAT);
    snprintf(want, sizeof want, "%s:6: document: invalid JSON", path);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("got %s", err);
}

static void test_reader_jsonl_escaped_op(void **state)
{
    (void)state;
    /* Valid JSON the fast path does not take still reads the same. */
    const char *path = tpath("esc.jsonl");
    write_text(path, HT_JSONL_HEADER(1) " [ \"\\u0061lloc\" , 0 , 1 , 8 ] \r\n[\"free\",0,1]\n");
    ht_event ev[2];
    uint64_t n;
    char err[HT_ERROR_MAX];
    assert_int_equal(read_all(path, 0, &n, ev, 2, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ev[0].op, HT_OP_ALLOC);
    assert_int_equal(ev[0].size, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_sample_json),
        cmocka_unit_test(test_reader_all_encodings_agree),
        cmocka_unit_test(test_reader_hkt_layout_errors),
        cmocka_unit_test(test_reader_errors_are_sticky),
        cmocka_unit_test(test_reader_open_failures),
        cmocka_unit_test(test_reader_json_syntax_error_line),
        cmocka_unit_test(test_reader_jsonl_escaped_op),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rm_tree();
    return rc;
}
