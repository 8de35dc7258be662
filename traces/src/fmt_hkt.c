/* fmt_hkt.c — the .hkt binary encoding: a 64-byte little-endian header,
 * the meta JSON, zero padding to 8 bytes, then fixed 32-byte records.  The
 * whole layout (sizes, counts, padding) is checked at open, every record
 * as it is returned.  Records are read through a 1 MiB window with pread
 * by default, or from a mapping of the file with HT_READ_MMAP (see
 * docs/performance.md: on the reference VM a page fault costs more than
 * decoding the 128 records a page holds, so pread is the faster default).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"


static inline uint32_t ld32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return le32toh(v);
}
static inline uint64_t ld64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return le64toh(v);
}
static inline void st32(uint8_t *p, uint32_t v)
{
    v = htole32(v);
    memcpy(p, &v, 4);
}
static inline void st64(uint8_t *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, 8);
}

static uint64_t events_offset(uint32_t meta_len)
{
    return ((uint64_t)HT_HKT_HEADER_SIZE + meta_len + 7) & ~(uint64_t)7;
}

void ht_hkt_encode_header(uint8_t h[HT_HKT_HEADER_SIZE], uint64_t events, uint32_t threads,
                          uint32_t meta_len)
{
    memset(h, 0, HT_HKT_HEADER_SIZE);
    memcpy(h, HT_HKT_MAGIC, 8);
    st32(h + 8, HT_FORMAT_VERSION);
    st32(h + 12, HT_HKT_RECORD_SIZE);
    st64(h + 16, events);
    st32(h + 24, threads);
    st32(h + 28, meta_len);
    st64(h + 32, events_offset(meta_len));
}

void ht_hkt_encode_record(uint8_t rec[HT_HKT_RECORD_SIZE], const ht_event *ev)
{
    uint64_t f[4] = {ev->tid, ev->id, ev->size, 0};
    if (ev->op != HT_OP_ALLOC && ev->op != HT_OP_FREE)
        ht_event_get_fields(ev, f);
    else if (ev->op == HT_OP_FREE)
        f[2] = 0;
    memset(rec, 0, 4);
    rec[0] = (uint8_t)ev->op;
    st32(rec + 4, (uint32_t)f[0]);
    st64(rec + 8, f[1]);
    st64(rec + 16, f[2]);
    st64(rec + 24, f[3]);
}

/* ---- the reader backend -------------------------------------------- */

typedef struct hkt_state {
    int fd;
    const uint8_t *map; /* HT_READ_MMAP: the whole file */
    size_t size;
    uint8_t *buf;       /* otherwise: a window of records read with pread */
    size_t bufsize;
    const uint8_t *win; /* bytes of file offset win_off are at win[0] */
    uint64_t win_off, win_end;
    uint64_t pos, end;  /* next record, end of records (file offsets) */
    uint64_t dropped;   /* mmap: bytes released from the mapping */
} hkt_state;

#define WINDOW ((size_t)1 << 20) /* a multiple of the record size */

static int hkt_bad_record(ht_reader *r, const uint8_t *p)
{
    if (p[0] == 0 || p[0] >= HT_OP_COUNT)
        return ht_rfail(r, HT_EFORMAT, r->loc, r->index, "unknown op code %u", p[0]);
    if (p[1] | p[2] | p[3])
        return ht_rfail(r, HT_EFORMAT, r->loc, r->index, "nonzero padding in the record");
    const ht_opdesc *d = &ht_ops[p[0]];
    for (int i = d->nfields; i < 4; i++)
        if (ld64(p + 8 * i) != 0)
            return ht_rfail(r, HT_EFORMAT, r->loc, r->index,
                            "extra field: %s takes %s, but slot %d is nonzero", d->name,
                            d->signature, i);
    uint64_t f[4] = {ld32(p + 4), ld64(p + 8), ld64(p + 16), ld64(p + 24)};
    char msg[160];
    ht_event ev;
    if (ht_event_set_fields(&ev, (ht_op)p[0], f, msg, sizeof msg) < 0)
        return ht_rfail(r, HT_EFORMAT, r->loc, r->index, "%s", msg);
    return ht_rfail(r, HT_EFORMAT, r->loc, r->index, "invalid record");
}

/* Decodes the common records inline; anything unusual (including every
 * invalid record) takes the generic path, which also words the error. */
static inline bool fast_record(const uint8_t *p, ht_event *ev)
{
    uint32_t w0 = ld32(p), tid = ld32(p + 4);
    uint64_t a = ld64(p + 8), b = ld64(p + 16), c = ld64(p + 24);
    if (HT_UNLIKELY(tid >= HT_MAX_THREADS))
        return false;
    switch (w0) {
    case HT_OP_ALLOC:
        if (c | (a > HT_MAX_ID) | (b > HT_MAX_SIZE))
            return false;
        *ev = (ht_event){.op = HT_OP_ALLOC, .tid = tid, .id = a, .size = b};
        return true;
    case HT_OP_FREE:
        if (b | c | (a > HT_MAX_ID))
            return false;
        *ev = (ht_event){.op = HT_OP_FREE, .tid = tid, .id = a};
        return true;
    default:
        return false;
    }
}

static int hkt_slow(ht_reader *r, const uint8_t *p, ht_event *ev)
{
    unsigned op = p[0];
    if (op == 0 || op >= HT_OP_COUNT || (p[1] | p[2] | p[3]))
        return hkt_bad_record(r, p);
    uint64_t f[4] = {ld32(p + 4), ld64(p + 8), ld64(p + 16), ld64(p + 24)};
    for (int i = ht_ops[op].nfields; i < 4; i++)
        if (f[i] != 0)
            return hkt_bad_record(r, p);
    char msg[160];
    if (ht_event_set_fields(ev, (ht_op)op, f, msg, sizeof msg) < 0)
        return ht_rfail(r, HT_EFORMAT, r->loc, r->index, "%s", msg);
    return 1;
}

static int refill(ht_reader *r, hkt_state *st)
{
    if (st->map) {
        /* Keep the resident set bounded: forget pages already read. */
        uint64_t upto = st->pos & ~(uint64_t)(WINDOW * 64 - 1);
        if (upto > st->dropped + WINDOW * 64) {
            (void)madvise((void *)(st->map + st->dropped), upto - st->dropped, MADV_DONTNEED);
            st->dropped = upto;
        }
        st->win = st->map + st->pos;
        st->win_off = st->pos;
        st->win_end = st->pos + WINDOW * 16 < st->end ? st->pos + WINDOW * 16 : st->end;
        return 0;
    }
    size_t want = st->end - st->pos < st->bufsize ? (size_t)(st->end - st->pos) : st->bufsize;
    want -= want % HT_HKT_RECORD_SIZE;
    size_t got = 0;
    while (got < want) {
        ssize_t n = pread(st->fd, st->buf + got, want - got, (off_t)(st->pos + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return ht_rfail(r, n < 0 ? HT_EIO : HT_EFORMAT, r->loc, r->index,
                            n < 0 ? "read error" : "truncated file (it shrank while read)");
        got += (size_t)n;
    }
    st->win = st->buf;
    st->win_off = st->pos;
    st->win_end = st->pos + want;
    return 0;
}

static int hkt_next(ht_reader *r, ht_event *ev)
{
    hkt_state *st = r->state;
    if (HT_UNLIKELY(st->pos >= st->win_end)) {
        if (st->pos >= st->end)
            return 0;
        if (refill(r, st) < 0)
            return r->status;
    }
    const uint8_t *p = st->win + (st->pos - st->win_off);
    r->loc.at = st->pos;
    st->pos += HT_HKT_RECORD_SIZE;
    if (HT_LIKELY(fast_record(p, ev)))
        return 1;
    return hkt_slow(r, p, ev);
}

static void hkt_close(ht_reader *r)
{
    hkt_state *st = r->state;
    if (!st)
        return;
    if (st->map)
        munmap((void *)st->map, st->size);
    if (st->fd >= 0)
        close(st->fd);
    free(st->buf);
    free(st);
    r->state = NULL;
}

static const ht_backend hkt_backend = {hkt_next, hkt_close};

#define HFAIL(off, ...) ht_rfail(r, HT_EFORMAT, (ht_loc){true, (off)}, HT_EVENT_NONE, __VA_ARGS__)

static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

int ht_hkt_open(ht_reader *r, ht_error *err)
{
    hkt_state *st = calloc(1, sizeof *st);
    if (!st)
        return HT_ENOMEM;
    r->state = st;
    r->be = &hkt_backend;
    r->header_loc = (ht_loc){true, 16};
    r->loc = (ht_loc){true, HT_HKT_HEADER_SIZE};
    /* O_NONBLOCK: a FIFO is refused below, not waited on (regular files
     * ignore the flag). */
    st->fd = open(r->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat sb;
    if (st->fd < 0 || fstat(st->fd, &sb) < 0) {
        ht_fmt(err->text, sizeof err->text, "%s: cannot open: %s", r->path, strerror(errno));
        return HT_EIO;
    }
    if (!S_ISREG(sb.st_mode)) {
        /* A FIFO or a device has no size to check the layout against. */
        ht_fmt(err->text, sizeof err->text,
               "%s: not a regular file (.hkt is read by offset; a pipe can carry .jsonl)",
               r->path);
        return HT_EFORMAT;
    }
    st->size = (size_t)sb.st_size;
    uint8_t h[HT_HKT_HEADER_SIZE];
    if (sb.st_size < HT_HKT_HEADER_SIZE || read_at(st->fd, h, sizeof h, 0) < 0)
        return HFAIL((uint64_t)sb.st_size, "truncated file: %lld bytes, shorter than the header",
                     (long long)sb.st_size);
    if (memcmp(h, HT_HKT_MAGIC, 8) != 0)
        return HFAIL(0, "wrong magic (not a .hkt trace)");
    uint32_t version = ld32(h + 8), recsz = ld32(h + 12), threads = ld32(h + 24);
    uint32_t meta_len = ld32(h + 28);
    uint64_t count = ld64(h + 16), evoff = ld64(h + 32);
    if (version != HT_FORMAT_VERSION)
        return HFAIL(8, "unsupported version %u (this reader knows version %d)", version,
                     HT_FORMAT_VERSION);
    if (recsz != HT_HKT_RECORD_SIZE)
        return HFAIL(12, "record size %u, expected %d", recsz, HT_HKT_RECORD_SIZE);
    if (threads < 1 || threads > HT_MAX_THREADS)
        return HFAIL(24, "threads %u out of range 1..%u", threads, HT_MAX_THREADS);
    if (meta_len > HT_MAX_META)
        return HFAIL(28, "meta of %u bytes exceeds the limit of %u", meta_len, HT_MAX_META);
    for (int i = 40; i < HT_HKT_HEADER_SIZE; i++)
        if (h[i])
            return HFAIL((uint64_t)i, "nonzero reserved header byte");
    if (evoff != events_offset(meta_len))
        return HFAIL(32, "events offset %llu, expected %llu for %u bytes of meta",
                     (unsigned long long)evoff, (unsigned long long)events_offset(meta_len),
                     meta_len);
    if (evoff > st->size)
        return HFAIL(st->size, "truncated file: it ends inside the meta text");
    size_t mlen = (size_t)(evoff - HT_HKT_HEADER_SIZE);
    uint8_t *meta = malloc(mlen + 1);
    if (!meta)
        return ht_rfail(r, HT_ENOMEM, r->loc, HT_EVENT_NONE, "out of memory");
    if (read_at(st->fd, meta, mlen, HT_HKT_HEADER_SIZE) < 0) {
        free(meta);
        return HFAIL(HT_HKT_HEADER_SIZE, "cannot read the meta text");
    }
    for (size_t i = meta_len; i < mlen; i++)
        if (meta[i]) {
            free(meta);
            return HFAIL(HT_HKT_HEADER_SIZE + i, "nonzero padding after the meta text");
        }
    char msg[256];
    int rc = ht_meta_normalize((const char *)meta, meta_len, &r->meta_json, msg, sizeof msg);
    free(meta);
    if (rc < 0)
        return ht_rfail(r, rc, (ht_loc){true, HT_HKT_HEADER_SIZE}, HT_EVENT_NONE, "%s", msg);
    uint64_t body = st->size - evoff, whole = body / HT_HKT_RECORD_SIZE;
    if (count > (uint64_t)INT64_MAX || whole < count)
        return ht_rfail(r, HT_EFORMAT, (ht_loc){true, evoff + whole * HT_HKT_RECORD_SIZE},
                        whole, "truncated file: the header says %llu events but the file "
                        "holds %llu whole records", (unsigned long long)count,
                        (unsigned long long)whole);
    if (body != count * HT_HKT_RECORD_SIZE)
        return HFAIL(evoff + count * HT_HKT_RECORD_SIZE,
                     "%llu bytes after the last of the %llu events the header announces",
                     (unsigned long long)(body - count * HT_HKT_RECORD_SIZE),
                     (unsigned long long)count);
    r->header.version = (int)version;
    r->header.threads = threads;
    r->header.event_count = (int64_t)count;
    st->pos = st->win_off = st->win_end = evoff;
    st->end = evoff + count * HT_HKT_RECORD_SIZE;
    if ((r->flags & HT_READ_MMAP) && st->size > 0) {
        void *m = mmap(NULL, st->size, PROT_READ, MAP_PRIVATE, st->fd, 0);
        if (m == MAP_FAILED) {
            ht_fmt(err->text, sizeof err->text, "%s: cannot map: %s", r->path, strerror(errno));
            return HT_EIO;
        }
        st->map = m;
        (void)madvise(m, st->size, MADV_SEQUENTIAL);
    } else {
        (void)posix_fadvise(st->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        /* Small traces get a small window. */
        st->bufsize = st->end - evoff < WINDOW ? (size_t)(st->end - evoff) + 1 : WINDOW;
        st->buf = malloc(st->bufsize);
        if (!st->buf)
            return ht_rfail(r, HT_ENOMEM, r->loc, HT_EVENT_NONE, "out of memory");
    }
    return 0;
}

/* ---- the writer encoder -------------------------------------------- */

static int hkt_begin(ht_writer *w)
{
    uint8_t h[HT_HKT_HEADER_SIZE];
    uint32_t meta_len = (uint32_t)strlen(w->meta_json);
    ht_hkt_encode_header(h, 0, 1, meta_len);
    ht_out_write(&w->out, h, sizeof h);
    ht_out_write(&w->out, w->meta_json, meta_len);
    static const uint8_t zeros[8];
    uint64_t pad = events_offset(meta_len) - HT_HKT_HEADER_SIZE - meta_len;
    return ht_out_write(&w->out, zeros, (size_t)pad);
}

static int hkt_event(ht_writer *w, const ht_event *ev)
{
    uint8_t *p = (uint8_t *)ht_out_reserve(&w->out, HT_HKT_RECORD_SIZE);
    if (!p)
        return HT_EIO;
    ht_hkt_encode_record(p, ev);
    return 0;
}

static int hkt_end(ht_writer *w)
{
    uint8_t h[HT_HKT_HEADER_SIZE];
    ht_hkt_encode_header(h, w->count, ht_writer_threads(w), (uint32_t)strlen(w->meta_json));
    return ht_out_patch(&w->out, 0, h, sizeof h);
}

const ht_encoder ht_hkt_encoder = {hkt_begin, hkt_event, hkt_end};
