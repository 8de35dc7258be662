/* helpers.h — small fixtures shared by the trace library's unit tests:
 * a private temporary directory, writing a file, and reading a whole
 * trace back with its result and error text.  Header-only (static). */
#ifndef HT_TEST_HELPERS_H
#define HT_TEST_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ht_trace.h"

static char tdir[256];

static inline const char *tpath(const char *name)
{
    static char buf[8][512];
    static int k;
    if (!tdir[0]) {
        snprintf(tdir, sizeof tdir, "/tmp/ht-test-XXXXXX");
        assert_non_null(mkdtemp(tdir));
    }
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tdir, name);
    return buf[k];
}

static inline void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static inline void write_text(const char *path, const char *text)
{
    write_file(path, text, strlen(text));
}

/* Reads PATH to the end: returns the final code (0 valid), the number of
 * events, the events (if EVS, up to MAX) and the error text. */
static inline int read_all(const char *path, unsigned flags, uint64_t *count, ht_event *evs,
                           size_t max, char *err, size_t errlen)
{
    ht_reader *r;
    ht_error e;
    int rc = ht_reader_open(path, flags, &r, &e);
    *count = 0;
    if (err)
        snprintf(err, errlen, "%s", e.text);
    if (rc < 0)
        return rc;
    ht_event ev;
    while ((rc = ht_reader_next(r, &ev)) > 0) {
        if (evs && *count < max)
            evs[*count] = ev;
        (*count)++;
    }
    if (err)
        snprintf(err, errlen, "%s", ht_reader_error(r));
    ht_reader_close(r);
    return rc;
}

static inline void rm_tree(void)
{
    if (tdir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tdir);
        if (system(cmd) != 0) {
        }
    }
}

#define HT_JSONL_HEADER(threads) \
    "{\"format\":\"hakmem-trace\",\"version\":1,\"meta\":{},\"threads\":" #threads "}\n"

#endif
