/* fuzz_reader.c — libFuzzer target for the three parsers.  The first
 * input byte picks the encoding (.json, .jsonl, .hkt), the rest is the
 * file.  Any input must be read to a clean end or a one-line error, never
 * a crash; and a trace that reads as valid must survive conversion to
 * every encoding and back with the same events (checked with abort()).
 * Build and run: traces/fuzz/run.sh (not part of the default build).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ht_trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const ext[3] = {".json", ".jsonl", ".hkt"};
static char dir[64];

static const char *path_for(int enc, const char *stem)
{
    static char buf[4][128];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s%s", dir, stem, ext[enc]);
    return buf[k];
}

#define MAXEV 4096

/* Reads PATH; returns events read (up to MAXEV kept), or -1 on error. */
static long read_trace(const char *path, ht_event *evs, char **meta)
{
    ht_reader *r;
    ht_error e;
    if (ht_reader_open(path, 0, &r, &e) < 0) {
        if (!e.text[0] || strchr(e.text, '\n'))
            abort(); /* every failure has exactly one line of text */
        return -1;
    }
    if (meta)
        *meta = strdup(ht_reader_header(r)->meta_json);
    ht_event ev;
    long n = 0;
    int rc;
    while ((rc = ht_reader_next(r, &ev)) > 0) {
        if (evs && n < MAXEV)
            evs[n] = ev;
        n++;
    }
    if (rc < 0 && (!ht_reader_error(r)[0] || strchr(ht_reader_error(r), '\n')))
        abort();
    ht_reader_close(r);
    return rc < 0 ? -1 : n;
}

static void copy(const char *in, const char *out)
{
    ht_reader *r;
    ht_writer *w;
    ht_error e;
    if (ht_reader_open(in, 0, &r, &e) < 0)
        abort();
    if (ht_writer_open(out, ht_reader_header(r)->meta_json, 0, &w, &e) < 0)
        abort();
    ht_event ev;
    int rc;
    while ((rc = ht_reader_next(r, &ev)) > 0)
        if (ht_writer_write(w, &ev) < 0)
            abort(); /* a valid trace must be writable */
    if (rc < 0 || ht_writer_close(w, &e) < 0)
        abort();
    ht_reader_close(r);
}

static int same(const ht_event *a, const ht_event *b)
{
    return a->op == b->op && a->tid == b->tid && a->parent == b->parent && a->id == b->id &&
           a->new_id == b->new_id && a->size == b->size && a->n == b->n && a->align == b->align;
}

static void cleanup(void)
{
    static const char *const stems[] = {"in", "mid", "back", "k1", "k2"};
    for (int e = 0; e < 3; e++)
        for (int s = 0; s < 5; s++)
            unlink(path_for(e, stems[s]));
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ht_event first[MAXEV], again[MAXEV];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/dev/shm/ht-fuzz-%d", (int)getpid());
        mkdir(dir, 0700);
        atexit(cleanup);
    }
    if (size < 1)
        return 0;
    int enc = data[0] % 3;
    const char *in = path_for(enc, "in");
    FILE *f = fopen(in, "wb");
    if (!f)
        abort();
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    char *meta = NULL;
    long n = read_trace(in, first, &meta);
    if (n >= 0) {
        /* Valid: every encoding must carry it losslessly. */
        const char *prev = in;
        for (int k = 1; k <= 3; k++) {
            const char *out = path_for((enc + k) % 3, k == 3 ? "back" : "mid");
            copy(prev, out);
            char *meta2 = NULL;
            long m = read_trace(out, again, &meta2);
            if (m != n || strcmp(meta, meta2) != 0)
                abort();
            for (long i = 0; i < n && i < MAXEV; i++)
                if (!same(&first[i], &again[i]))
                    abort();
            free(meta2);
            prev = out;
            if (k < 3) { /* keep the chain's input distinct from its output */
                const char *keep = path_for((enc + k) % 3, k == 1 ? "k1" : "k2");
                rename(out, keep);
                prev = keep;
            }
        }
    }
    free(meta);
    return 0;
}
