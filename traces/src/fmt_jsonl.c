/* fmt_jsonl.c — the .jsonl encoding: a header object on line 1, then one
 * event array per line.  Reading streams through a fixed buffer (memory
 * independent of the file's length).  Event lines take a fast path for the
 * plain form the writers produce; any line it does not accept is re-read by
 * jansson and decoded by the same code as .json events, so both encodings
 * accept the same texts and give the same messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define JL_BUF (64u << 10)        /* initial read buffer (grows for long lines) */
#define JL_MAX_LINE (1u << 20)    /* the longest event line */
#define JL_MAX_HEADER (HT_MAX_META + 4096u) /* the header line: meta and the other fields */

typedef struct jsonl_state {
    int fd;
    char *buf;
    size_t cap, start, end; /* unread bytes are buf[start, end) */
    bool eof;
    uint64_t line;          /* number of the line last returned */
} jsonl_state;

/* Returns 1 with the next line (without its '\n') in *LINE and *LEN, 0 at the
 * end of file, or a negative code (message set). */
static int jl_getline(ht_reader *r, jsonl_state *st, size_t max, uint64_t what,
                      const char **line, size_t *len)
{
    for (;;) {
        char *nl = memchr(st->buf + st->start, '\n', st->end - st->start);
        if (nl) {
            *line = st->buf + st->start;
            *len = (size_t)(nl - *line);
            st->start += *len + 1;
            st->line++;
            return 1;
        }
        if (st->eof) {
            if (st->start == st->end)
                return 0;
            return ht_rfail(r, HT_EFORMAT, (ht_loc){false, st->line + 1}, what,
                            "truncated file: the last line has no newline");
        }
        if (st->end - st->start >= max)
            return ht_rfail(r, HT_EFORMAT, (ht_loc){false, st->line + 1}, what,
                            "line longer than %zu bytes", max);
        /* Compact, grow if a single line needs it, then read more. */
        if (st->start > 0) {
            memmove(st->buf, st->buf + st->start, st->end - st->start);
            st->end -= st->start;
            st->start = 0;
        }
        if (st->end == st->cap) {
            char *nb = realloc(st->buf, st->cap * 2);
            if (!nb)
                return ht_rfail(r, HT_ENOMEM, (ht_loc){false, st->line + 1}, what,
                                "out of memory");
            st->buf = nb;
            st->cap *= 2;
        }
        ssize_t n = read(st->fd, st->buf + st->end, st->cap - st->end);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return ht_rfail(r, HT_EIO, (ht_loc){false, st->line + 1}, what,
                            "read error: %s", strerror(errno));
        }
        if (n == 0)
            st->eof = true;
        st->end += (size_t)n;
    }
}

static inline const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    return p;
}

/* The fast path: ["op",u,u,...] with plain strings and integers, which
 * must also be a complete valid event.  Returns false to defer to jansson. */
bool ht_jsonl_fast_event(const char *p, size_t len, ht_event *ev)
{
    const char *e = p + len;
    p = skip_ws(p, e);
    if (p == e || *p++ != '[')
        return false;
    p = skip_ws(p, e);
    if (p == e || *p++ != '"')
        return false;
    const char *name = p;
    while (p < e && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
        p++;
    if (p == e || *p != '"')
        return false;
    ht_op op = ht_op_lookup(name, (size_t)(p - name));
    p++;
    if (!op)
        return false;
    uint64_t f[4] = {0, 0, 0, 0};
    int nf = 0;
    for (;;) {
        p = skip_ws(p, e);
        if (p == e)
            return false;
        if (*p == ']') {
            p++;
            break;
        }
        if (*p++ != ',' || nf == 4)
            return false;
        p = skip_ws(p, e);
        if (p == e || *p < '0' || *p > '9')
            return false;
        if (*p == '0' && p + 1 < e && p[1] >= '0' && p[1] <= '9')
            return false; /* leading zero: not JSON */
        uint64_t v = 0;
        while (p < e && *p >= '0' && *p <= '9') {
            if (v > (UINT64_MAX - 9) / 10)
                return false;
            v = v * 10 + (uint64_t)(*p++ - '0');
        }
        if (p < e && (*p == '.' || *p == 'e' || *p == 'E'))
            return false;
        f[nf++] = v;
    }
    if (skip_ws(p, e) != e || nf != ht_ops[op].nfields)
        return false;
    for (int i = 0; i < nf; i++)
        if (f[i] > (uint64_t)INT64_MAX)
            return false;
    char msg[8];
    return ht_event_set_fields(ev, op, f, msg, sizeof msg) == 0;
}

static int slow_event(ht_reader *r, const char *line, size_t len, ht_event *ev)
{
    json_error_t jerr;
    json_t *v = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!v)
        return ht_rfail(r, HT_EFORMAT, r->loc, r->index, "invalid JSON: %s", jerr.text);
    char msg[256];
    int rc = ht_json_decode_event(v, ev, msg, sizeof msg);
    json_decref(v);
    if (rc < 0)
        return ht_rfail(r, rc, r->loc, r->index, "%s", msg);
    return 1;
}

static int jsonl_next(ht_reader *r, ht_event *ev)
{
    jsonl_state *st = r->state;
    const char *line;
    size_t len;
    int rc = jl_getline(r, st, JL_MAX_LINE, r->index, &line, &len);
    if (rc <= 0)
        return rc;
    r->loc.at = st->line;
    if (HT_LIKELY(ht_jsonl_fast_event(line, len, ev)))
        return 1;
    if (skip_ws(line, line + len) == line + len)
        return ht_rfail(r, HT_EFORMAT, r->loc, r->index, "blank line");
    return slow_event(r, line, len, ev);
}

static void jsonl_close(ht_reader *r)
{
    jsonl_state *st = r->state;
    if (!st)
        return;
    if (st->fd >= 0)
        close(st->fd);
    free(st->buf);
    free(st);
    r->state = NULL;
}

static const ht_backend jsonl_backend = {jsonl_next, jsonl_close};

int ht_jsonl_open(ht_reader *r, ht_error *err)
{
    jsonl_state *st = calloc(1, sizeof *st);
    if (!st)
        return HT_ENOMEM;
    r->state = st;
    r->be = &jsonl_backend;
    r->header_loc = (ht_loc){false, 1};
    r->loc = (ht_loc){false, 1};
    st->fd = open(r->path, O_RDONLY | O_CLOEXEC);
    if (st->fd < 0) {
        ht_fmt(err->text, sizeof err->text, "%s: cannot open: %s", r->path, strerror(errno));
        return HT_EIO;
    }
    (void)posix_fadvise(st->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    st->cap = JL_BUF;
    st->buf = malloc(st->cap);
    if (!st->buf)
        return HT_ENOMEM;
    const char *line;
    size_t len;
    int rc = jl_getline(r, st, JL_MAX_HEADER, HT_EVENT_NONE, &line, &len);
    if (rc == 0)
        return ht_rfail(r, HT_EFORMAT, r->header_loc, HT_EVENT_NONE,
                        "empty file (no header line)");
    if (rc < 0)
        return rc;
    json_error_t jerr;
    json_t *h = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!h)
        return ht_rfail(r, HT_EFORMAT, r->header_loc, HT_EVENT_NONE, "invalid JSON: %s",
                        jerr.text);
    rc = ht_json_check_header(h, true, r, r->header_loc);
    json_decref(h);
    return rc;
}

/* ---- the writer encoder -------------------------------------------- */

#define PAD10 "          "
#define PAD20 PAD10 PAD10

static int jsonl_begin(ht_writer *w)
{
    ht_out *o = &w->out;
    static const char head[] = "{\"format\":\"" HT_FORMAT_NAME "\",\"version\":1,\"meta\":";
    ht_out_write(o, head, sizeof head - 1);
    ht_out_write(o, w->meta_json, strlen(w->meta_json));
    ht_out_write(o, ",\"threads\":", 11);
    w->patch_at = ht_out_pos(o);
    /* Counts are patched in at the end: threads (10 columns), then
     * event_count (20 columns) 15 bytes further on. */
    return ht_out_write(o, PAD10 ",\"event_count\":" PAD20 "}\n", 10 + 15 + 20 + 2);
}

static int jsonl_event(ht_writer *w, const ht_event *ev)
{
    char *p = ht_out_reserve(&w->out, 160);
    if (!p)
        return HT_EIO;
    size_t n = ht_json_format_event(ev, p);
    p[n++] = '\n';
    w->out.len -= 160 - n;
    return 0;
}

static int jsonl_end(ht_writer *w)
{
    char num[32];
    snprintf(num, sizeof num, "%10u", ht_writer_threads(w));
    if (ht_out_patch(&w->out, w->patch_at, num, 10) < 0)
        return HT_EIO;
    snprintf(num, sizeof num, "%20llu", (unsigned long long)w->count);
    return ht_out_patch(&w->out, w->patch_at + 25, num, 20);
}

const ht_encoder ht_jsonl_encoder = {jsonl_begin, jsonl_event, jsonl_end};
