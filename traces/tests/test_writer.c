/* test_writer.c — writers: lossless round trips between all encodings,
 * header counts computed from the body, the temporary-file discipline
 * (no partial output on abort or on an invalid event), and refusals. */
#include <dirent.h>
#include <sys/stat.h>

#include "helpers.h"
#include "internal.h"

#define SAMPLE HAK_TEST_SOURCE_DIR "/traces/samples/every-op.json"

static void copy_trace(const char *in, const char *out)
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

static int files_in_dir(void)
{
    tpath("x");
    DIR *d = opendir(tdir);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++; /* temporary files (".NAME.tmp.XXXXXX") included */
    closedir(d);
    return n;
}

static void test_writer_round_trip_every_direction(void **state)
{
    (void)state;
    /* .json -> .hkt -> .jsonl -> .json, and the final file equals a direct rewrite. */
    copy_trace(SAMPLE, tpath("a.json"));
    copy_trace(tpath("a.json"), tpath("b.hkt"));
    copy_trace(tpath("b.hkt"), tpath("c.jsonl"));
    copy_trace(tpath("c.jsonl"), tpath("d.json"));
    copy_trace(tpath("d.json"), tpath("e.jsonl"));
    copy_trace(tpath("e.jsonl"), tpath("f.hkt"));
    char *x, *y;
    size_t nx, ny;
    assert_int_equal(ht_slurp(tpath("a.json"), SIZE_MAX, &x, &nx), 0);
    assert_int_equal(ht_slurp(tpath("d.json"), SIZE_MAX, &y, &ny), 0);
    assert_int_equal(nx, ny);
    assert_memory_equal(x, y, nx);
    free(x);
    free(y);
    assert_int_equal(ht_slurp(tpath("b.hkt"), SIZE_MAX, &x, &nx), 0);
    assert_int_equal(ht_slurp(tpath("f.hkt"), SIZE_MAX, &y, &ny), 0);
    assert_int_equal(nx, ny);
    assert_memory_equal(x, y, nx);
    free(x);
    free(y);
    /* meta survives */
    ht_reader *r;
    ht_error e;
    assert_int_equal(ht_reader_open(tpath("f.hkt"), 0, &r, &e), 0);
    assert_non_null(strstr(ht_reader_header(r)->meta_json, "hand-written"));
    assert_int_equal(ht_reader_header(r)->threads, 3);
    assert_int_equal(ht_reader_header(r)->event_count, 14);
    ht_reader_close(r);
    assert_int_equal(ht_reader_open(tpath("c.jsonl"), 0, &r, &e), 0);
    assert_int_equal(ht_reader_header(r)->event_count, 14);
    ht_reader_close(r);
}

static void test_writer_invalid_event_leaves_nothing(void **state)
{
    (void)state;
    int before = files_in_dir();
    ht_writer *w;
    ht_error e;
    assert_int_equal(ht_writer_open(tpath("bad.hkt"), NULL, 0, &w, &e), 0);
    ht_event ev = {.op = HT_OP_ALLOC, .tid = 0, .id = 1, .size = 8};
    assert_int_equal(ht_writer_write(w, &ev), 0);
    assert_int_equal(ht_writer_write(w, &ev), HT_EFORMAT);
    assert_non_null(strstr(ht_writer_error(w), "bad.hkt: event 1: alloc of id 1 which is already live"));
    assert_int_equal(ht_writer_close(w, &e), HT_EFORMAT);
    assert_non_null(strstr(e.text, "already live"));
    assert_int_equal(files_in_dir(), before);
    assert_int_equal(access(tpath("bad.hkt"), F_OK), -1);
}

static void test_writer_abort_and_dense_tids(void **state)
{
    (void)state;
    int before = files_in_dir();
    ht_writer *w;
    ht_error e;
    assert_int_equal(ht_writer_open(tpath("ab.jsonl"), "{\"k\":1}", 0, &w, &e), 0);
    assert_int_equal(files_in_dir(), before + 1); /* the temporary file */
    ht_writer_abort(w);
    assert_int_equal(files_in_dir(), before);
    /* A limit violation is refused even without validation. */
    assert_int_equal(ht_writer_open(tpath("lim.hkt"), NULL, HT_WRITE_NO_VALIDATE, &w, &e), 0);
    ht_event ev = {.op = HT_OP_MEMALIGN, .tid = 0, .id = 1, .align = 3, .size = 8};
    assert_int_equal(ht_writer_write(w, &ev), HT_EFORMAT);
    ht_writer_abort(w);
    /* Unknown extension and bad meta are usage errors. */
    assert_int_equal(ht_writer_open(tpath("x.txt"), NULL, 0, &w, &e), HT_EUSAGE);
    assert_int_equal(ht_writer_open(tpath("x.hkt"), "[1]", 0, &w, &e), HT_EUSAGE);
    assert_int_equal(ht_writer_open("/nonexistent-dir/x.hkt", NULL, 0, &w, &e), HT_EIO);
    assert_non_null(strstr(e.text, "cannot write: No such file or directory"));
    assert_int_equal(files_in_dir(), before);
}

static void test_writer_counts_patched(void **state)
{
    (void)state;
    ht_writer *w;
    ht_error e;
    assert_int_equal(ht_writer_open(tpath("cnt.jsonl"), NULL, 0, &w, &e), 0);
    ht_event evs[] = {
        {.op = HT_OP_THREAD_START, .tid = 1, .parent = 0},
        {.op = HT_OP_THREAD_START, .tid = 2, .parent = 1},
        {.op = HT_OP_ALLOC, .tid = 2, .id = 0, .size = 1},
    };
    for (int i = 0; i < 3; i++)
        assert_int_equal(ht_writer_write(w, &evs[i]), 0);
    assert_int_equal(ht_writer_count(w), 3);
    assert_int_equal(ht_writer_close(w, &e), 0);
    char *t;
    size_t n;
    assert_int_equal(ht_slurp(tpath("cnt.jsonl"), SIZE_MAX, &t, &n), 0);
    assert_non_null(strstr(t, "\"threads\":         3,\"event_count\":                   3}\n"));
    free(t);
    /* Non-dense thread ids are refused at close. */
    assert_int_equal(ht_writer_open(tpath("sparse.jsonl"), NULL, 0, &w, &e), 0);
    ht_event s = {.op = HT_OP_THREAD_START, .tid = 5, .parent = 0};
    assert_int_equal(ht_writer_write(w, &s), 0);
    assert_int_equal(ht_writer_close(w, &e), HT_EFORMAT);
    assert_non_null(strstr(e.text, "not dense"));
}

/* A meta of N bytes once compact: {"x":"aaa..."}. */
static char *meta_of(size_t n)
{
    char *m = malloc(n + 1);
    assert_non_null(m);
    memset(m, 'a', n);
    memcpy(m, "{\"x\":\"", 6);
    memcpy(m + n - 2, "\"}", 2);
    m[n] = '\0';
    return m;
}

/* What a writer writes, its readers read: meta at the limit goes through
 * every encoding and back; a byte more is refused by the writer (convert
 * wrote 17 MiB metas that its own readers then rejected). */
static void test_writer_meta_limit_checked_on_write(void **state)
{
    (void)state;
    char *meta = meta_of(HT_MAX_META);
    static const char *const names[] = {"m.json", "m.jsonl", "m.hkt"};
    ht_event ev = {.op = HT_OP_ALLOC, .tid = 0, .id = 1, .size = 8};
    for (int i = 0; i < 3; i++) {
        ht_writer *w;
        ht_error e;
        assert_int_equal(ht_writer_open(tpath(names[i]), meta, 0, &w, &e), 0);
        assert_int_equal(ht_writer_write(w, &ev), 0);
        assert_int_equal(ht_writer_close(w, &e), 0);
        ht_reader *r;
        if (ht_reader_open(tpath(names[i]), 0, &r, &e) < 0)
            fail_msg("%s", e.text);
        assert_int_equal(strlen(ht_reader_header(r)->meta_json), HT_MAX_META);
        ht_event got;
        assert_int_equal(ht_reader_next(r, &got), 1);
        assert_int_equal(ht_reader_next(r, &got), 0);
        ht_reader_close(r);
    }
    free(meta);
    meta = meta_of(HT_MAX_META + 1);
    ht_writer *w;
    ht_error e;
    assert_int_equal(ht_writer_open(tpath("over.jsonl"), meta, 0, &w, &e), HT_EUSAGE);
    assert_non_null(strstr(e.text, "over.jsonl: meta of 16777217 bytes exceeds the limit of 16777216"));
    assert_int_equal(access(tpath("over.jsonl"), F_OK), -1);
    free(meta);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_meta_limit_checked_on_write),
        cmocka_unit_test(test_writer_round_trip_every_direction),
        cmocka_unit_test(test_writer_invalid_event_leaves_nothing),
        cmocka_unit_test(test_writer_abort_and_dense_tids),
        cmocka_unit_test(test_writer_counts_patched),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rm_tree();
    return rc;
}
