/* haktrace_record.c — `haktrace record`: runs a program with libhakrecord.so
 * preloaded, waits for it, and turns the raw log it left (ht_raw.h) into a
 * validated trace.
 *
 * The conversion merges the threads' sorted runs of records by sequence
 * number (a heap over the runs, reading the log through a read-only
 * mapping: memory is the threads, the chunk list and the live set, never
 * the log's length) and maps addresses to block ids: an allocation makes a
 * new id for its address, a free ends it, so a later allocation at the
 * same address is a new block.  Whatever cannot be placed (a free of an
 * address never seen, an event of a thread after its exit) is counted and
 * reported, in the trace's meta and on stderr, never silently dropped.  It
 * runs twice over the log: once to count, once to write the trace whose
 * meta carries the counts.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "haktrace.h"
#include "ht_raw.h"
#include "ht_trace.h"
#include "internal.h" /* ht_idmap */

static const char record_help[] =
    "usage: haktrace record [-o FILE] [--format jsonl|hkt|json] [--keep-raw] -- PROGRAM ARGS...\n"
    "Runs PROGRAM with the recorder libhakrecord.so preloaded and writes the trace of its\n"
    "malloc-family calls (malloc, free, calloc, realloc, posix_memalign, aligned_alloc,\n"
    "memalign, valloc, pvalloc; C++ new/delete through them) and of its threads.\n"
    "  -o FILE       output (default PROGRAM.jsonl in the current directory); the extension\n"
    "                chooses the encoding unless --format says it\n"
    "  --format F    jsonl (default), hkt, or json\n"
    "  --keep-raw    keep the raw log and print its path\n"
    "Only PROGRAM's own process is recorded: fork children and exec'd children are not\n"
    "(they are counted in the meta).  A program that ends by _exit or a signal still gives a\n"
    "valid trace of what it did.  The raw log goes to $HAKTRACE_RAW_DIR, else /dev/shm, else\n"
    "$TMPDIR or /tmp.  The recorder is $HAKTRACE_RECORDER, else found beside haktrace.\n"
    "Exit: 0 when the trace is written (whatever PROGRAM's status, reported on stderr and in\n"
    "the meta), 2 bad usage or PROGRAM cannot be run, 4 internal error.\n";

/* ---- the raw log: chunks, runs, merge ----------------------------------- */

/* A chunk of the file (or the slot holding a thread's last records). */
typedef struct chunk_ref {
    uint32_t tid;
    uint64_t no;
    uint64_t off; /* file offset of its first record */
    uint64_t n;   /* records */
} chunk_ref;

#define RUN_BUF 64 /* records read at once per run: memory is threads x 2.5 KiB */
typedef struct run {
    size_t c0, cend; /* chunk_ref range of this thread */
    size_t ci;       /* current chunk */
    uint64_t ri;     /* next record of chunk ci to read */
    uint64_t key;    /* seq of the current record */
    ht_raw_rec *buf; /* records read ahead; cur indexes it */
    uint32_t cur, len;
} run;

typedef struct raw_log {
    int fd;
    ht_raw_header hdr;
    chunk_ref *chunks;
    size_t nchunks;
    run *runs;
    size_t nruns;
} raw_log;

static int chunk_cmp(const void *a, const void *b)
{
    const chunk_ref *x = a, *y = b;
    if (x->tid != y->tid)
        return x->tid < y->tid ? -1 : 1;
    if (x->no != y->no)
        return x->no < y->no ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off; /* slots (lower offsets) first */
}

static bool read_at(int fd, void *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        done += (size_t)r;
    }
    return true;
}

static void raw_close(raw_log *L)
{
    if (L->fd >= 0)
        close(L->fd);
    for (size_t i = 0; i < L->nruns; i++)
        free(L->runs[i].buf);
    free(L->chunks);
    free(L->runs);
    memset(L, 0, sizeof *L);
    L->fd = -1;
}

/* Reads the header, lists the chunks and the slots still holding records,
 * and groups them into one run per thread. */
static int raw_open(const char *path, raw_log *L, char *msg, size_t len)
{
    memset(L, 0, sizeof *L);
    L->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (L->fd < 0 || fstat(L->fd, &st) < 0) {
        snprintf(msg, len, "%s: %s", path, strerror(errno));
        return HT_EIO;
    }
    if ((uint64_t)st.st_size < HT_RAW_HEADER_BYTES || !read_at(L->fd, &L->hdr, sizeof L->hdr, 0) ||
        memcmp(L->hdr.magic, HT_RAW_MAGIC, 8) != 0) {
        snprintf(msg, len, "the program did not load the recorder (statically linked, "
                           "setuid, or it cleared LD_PRELOAD)");
        return HT_EFORMAT;
    }
    if (L->hdr.rec_bytes != sizeof(ht_raw_rec) || L->hdr.chunk_bytes != HT_RAW_CHUNK_BYTES) {
        snprintf(msg, len, "%s: not a raw log of this recorder version", path);
        return HT_EFORMAT;
    }
    uint64_t fit = (uint64_t)st.st_size > HT_RAW_CHUNKS_OFF
                       ? ((uint64_t)st.st_size - HT_RAW_CHUNKS_OFF + HT_RAW_CHUNK_BYTES - 1) /
                             HT_RAW_CHUNK_BYTES
                       : 0;
    uint64_t nch = L->hdr.chunks < fit ? L->hdr.chunks : fit;
    uint64_t nsl = L->hdr.slots < HT_RAW_SLOTS ? L->hdr.slots : HT_RAW_SLOTS;
    L->chunks = calloc((size_t)(nch + nsl + 1), sizeof *L->chunks);
    if (!L->chunks)
        return HT_ENOMEM;
    for (uint64_t i = 0; i < nch + nsl; i++) {
        bool slot = i >= nch;
        uint64_t off = slot ? HT_RAW_SLOTS_OFF + (i - nch) * HT_RAW_CHUNK_BYTES
                            : HT_RAW_CHUNKS_OFF + i * HT_RAW_CHUNK_BYTES;
        ht_raw_chunk ch;
        if (!read_at(L->fd, &ch, sizeof ch, off) || ch.magic != HT_RAW_CHUNK_MAGIC || ch.n == 0 ||
            (slot && !ch.in_use))
            continue; /* a chunk cut short by a kill, an empty or released slot */
        uint64_t n = ch.n < HT_RAW_CHUNK_RECS ? ch.n : HT_RAW_CHUNK_RECS;
        L->chunks[L->nchunks++] = (chunk_ref){ch.tid, ch.chunk_no, off + HT_RAW_CHUNK_HDR, n};
    }
    qsort(L->chunks, L->nchunks, sizeof *L->chunks, chunk_cmp);
    /* Killed between its copy and its reset, a slot duplicates that chunk: keep the slot
     * (complete, where the chunk may have been cut short by the kill). */
    size_t k = 0;
    for (size_t i = 0; i < L->nchunks; i++)
        if (k == 0 || L->chunks[k - 1].tid != L->chunks[i].tid ||
            L->chunks[k - 1].no != L->chunks[i].no)
            L->chunks[k++] = L->chunks[i];
    L->nchunks = k;
    L->runs = calloc(L->nchunks ? L->nchunks : 1, sizeof *L->runs);
    if (!L->runs)
        return HT_ENOMEM;
    for (size_t i = 0; i < L->nchunks;) {
        size_t j = i;
        while (j < L->nchunks && L->chunks[j].tid == L->chunks[i].tid)
            j++;
        run *R = &L->runs[L->nruns++];
        *R = (run){.c0 = i, .cend = j, .buf = malloc(RUN_BUF * sizeof(ht_raw_rec))};
        if (!R->buf)
            return HT_ENOMEM;
        i = j;
    }
    return 0;
}

/* Moves R to its next record; false at the end of the run.  A record of
 * another op code or whose seq does not increase ends the run (a record cut
 * short by a kill, or a corrupt log). */
static bool run_advance(const raw_log *L, run *R, uint64_t *bad)
{
    uint64_t prev = R->key;
    for (;;) {
        if (R->cur + 1 < R->len) {
            R->cur++;
        } else {
            while (R->ci < R->cend && R->ri >= L->chunks[R->ci].n) {
                R->ci++;
                R->ri = 0;
            }
            if (R->ci >= R->cend)
                return false;
            const chunk_ref *c = &L->chunks[R->ci];
            uint64_t want = c->n - R->ri < RUN_BUF ? c->n - R->ri : RUN_BUF;
            if (!read_at(L->fd, R->buf, (size_t)want * sizeof(ht_raw_rec),
                         c->off + R->ri * sizeof(ht_raw_rec))) {
                (*bad)++;
                R->ci = R->cend;
                return false;
            }
            R->ri += want;
            R->len = (uint32_t)want;
            R->cur = 0;
        }
        uint64_t so = R->buf[R->cur].seq_op;
        unsigned op = (unsigned)(so & 0xff);
        if (so == 0 || op < HT_RAW_MALLOC || op > HT_RAW_THREAD_EXIT || (so >> 8) <= prev) {
            (*bad)++;
            R->ci = R->cend;
            R->len = 0;
            return false;
        }
        R->key = so >> 8;
        return true;
    }
}

/* A binary min-heap of run indices by their current seq. */
typedef struct heap {
    uint32_t *v;
    size_t n;
    run *runs;
} heap;

static bool heap_less(const heap *h, size_t a, size_t b)
{
    return h->runs[h->v[a]].key < h->runs[h->v[b]].key;
}

static void heap_down(heap *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && heap_less(h, l, m))
            m = l;
        if (r < h->n && heap_less(h, r, m))
            m = r;
        if (m == i)
            return;
        uint32_t t = h->v[i];
        h->v[i] = h->v[m];
        h->v[m] = t;
        i = m;
    }
}

/* ---- conversion -------------------------------------------------------- */

#define CONV_COUNTERS(X)                                                                      \
    X(unknown_frees, "frees of addresses the trace never allocated (allocated before the "    \
                     "recorder was ready or by an unrecorded call): dropped")                 \
    X(unknown_reallocs, "reallocs of such addresses: written as an alloc of the result")     \
    X(stale_addresses, "allocations returning an address still live in the trace (its free " \
                       "went unrecorded): a free of the old block is written first")          \
    X(events_after_exit, "records of a thread after its thread_exit: dropped")               \
    X(orphan_events, "records of a thread whose start was never recorded: dropped")          \
    X(parent_substituted, "thread starts whose parent was unknown or not running: "          \
                          "attributed to thread 0")                                           \
    X(align_adjusted, "alignments rounded up to a power of two or capped at 2^30")           \
    X(size_capped, "sizes beyond the format's 2^40 limit, capped")                           \
    X(corrupt_runs, "thread runs cut where sequence numbers stopped increasing")

#define CONV_ENUM(name, what) CV_##name,
enum { CONV_COUNTERS(CONV_ENUM) CV_N };
#define CONV_NAME(name, what) #name,
static const char *const conv_names[] = {CONV_COUNTERS(CONV_NAME)};
#define RAW_NAME(name, what) #name,
static const char *const raw_names[] = {HT_RAW_COUNTERS(RAW_NAME)};

typedef struct conv {
    uint64_t c[CV_N];
    uint64_t records, events, live_end;
    uint32_t threads;
    /* state */
    ht_idmap addr;         /* address -> block id */
    uint64_t *free_ids;    /* ids to reuse (keeps ids below the peak live count) */
    size_t nfree, capfree;
    uint64_t next_id;
    uint32_t *tt;          /* recorder tid -> trace tid + 1 (0: never started) */
    uint8_t *ts;           /* 0 not started, 1 running, 2 exited */
    size_t tcap;
    ht_writer *w;
    int err;
} conv;

static int grow_threads(conv *C, uint32_t tid)
{
    if (tid < C->tcap)
        return 0;
    size_t cap = C->tcap ? C->tcap : 64;
    while (cap <= tid)
        cap *= 2;
    uint32_t *tt = realloc(C->tt, cap * sizeof *tt);
    if (!tt)
        return HT_ENOMEM;
    C->tt = tt;
    uint8_t *ts = realloc(C->ts, cap);
    if (!ts)
        return HT_ENOMEM;
    C->ts = ts;
    memset(C->tt + C->tcap, 0, (cap - C->tcap) * sizeof *tt);
    memset(C->ts + C->tcap, 0, cap - C->tcap);
    C->tcap = cap;
    return 0;
}

static void put(conv *C, const ht_event *ev)
{
    C->events++;
    if (C->w && C->err == 0)
        C->err = ht_writer_write(C->w, ev);
}

static uint64_t new_id(conv *C, uint64_t addr)
{
    uint64_t id = C->nfree ? C->free_ids[--C->nfree] : C->next_id++;
    if (ht_idmap_put(&C->addr, addr, id) < 0)
        C->err = HT_ENOMEM;
    return id;
}

static void end_id(conv *C, uint64_t id)
{
    if (C->nfree == C->capfree) {
        size_t cap = C->capfree ? 2 * C->capfree : 1024;
        uint64_t *f = realloc(C->free_ids, cap * sizeof *f);
        if (!f) {
            C->err = HT_ENOMEM;
            return;
        }
        C->free_ids = f;
        C->capfree = cap;
    }
    C->free_ids[C->nfree++] = id;
}

static uint64_t cap_size(conv *C, uint64_t s)
{
    if (s > HT_MAX_SIZE) {
        C->c[CV_size_capped]++;
        return HT_MAX_SIZE;
    }
    return s;
}

/* A new block at ADDR for thread TT: ends a stale block there first. */
static uint64_t alloc_at(conv *C, uint32_t tt, uint64_t addr)
{
    uint64_t old;
    if (ht_idmap_del(&C->addr, addr, &old)) {
        C->c[CV_stale_addresses]++;
        put(C, &(ht_event){.op = HT_OP_FREE, .tid = tt, .id = old});
        end_id(C, old);
    }
    return new_id(C, addr);
}

static void conv_thread_start(conv *C, const ht_raw_rec *r)
{
    uint32_t child = (uint32_t)r->a;
    if (grow_threads(C, child) < 0 || grow_threads(C, r->tid) < 0) {
        C->err = HT_ENOMEM;
        return;
    }
    if (C->ts[child] != 0) {
        C->c[CV_orphan_events]++;
        return;
    }
    uint32_t parent = 0;
    if (r->aux == 0 && C->ts[r->tid] == 1)
        parent = C->tt[r->tid] - 1;
    else
        C->c[CV_parent_substituted]++;
    C->tt[child] = ++C->threads; /* trace tid = C->threads - 1 after the increment */
    C->ts[child] = 1;
    put(C, &(ht_event){.op = HT_OP_THREAD_START, .tid = C->threads - 1, .parent = parent});
}

static void conv_record(conv *C, const ht_raw_rec *r)
{
    unsigned op = (unsigned)(r->seq_op & 0xff);
    C->records++;
    if (op == HT_RAW_THREAD_START) {
        conv_thread_start(C, r);
        return;
    }
    if (grow_threads(C, r->tid) < 0) {
        C->err = HT_ENOMEM;
        return;
    }
    if (C->ts[r->tid] != 1) {
        C->c[C->ts[r->tid] == 2 ? CV_events_after_exit : CV_orphan_events]++;
        return;
    }
    uint32_t tt = C->tt[r->tid] - 1;
    uint64_t id, nid;
    switch (op) {
    case HT_RAW_MALLOC:
        id = alloc_at(C, tt, r->a);
        put(C, &(ht_event){.op = HT_OP_ALLOC, .tid = tt, .id = id, .size = cap_size(C, r->b)});
        break;
    case HT_RAW_CALLOC: {
        uint64_t n = r->b, s = r->c;
        if (n > HT_MAX_SIZE || s > HT_MAX_SIZE || (s && n > HT_MAX_SIZE / s)) {
            C->c[CV_size_capped]++;
            n = 1;
            s = HT_MAX_SIZE;
        }
        id = alloc_at(C, tt, r->a);
        put(C, &(ht_event){.op = HT_OP_CALLOC, .tid = tt, .id = id, .n = n, .size = s});
        break;
    }
    case HT_RAW_MEMALIGN: {
        uint64_t al = r->b ? r->b : 1;
        if (al & (al - 1) || al > HT_MAX_ALIGN) {
            C->c[CV_align_adjusted]++;
            while (al & (al - 1))
                al &= al - 1;
            al = al > HT_MAX_ALIGN / 2 ? HT_MAX_ALIGN : al << 1;
        }
        id = alloc_at(C, tt, r->a);
        put(C, &(ht_event){.op = HT_OP_MEMALIGN, .tid = tt, .id = id, .align = al,
                           .size = cap_size(C, r->c)});
        break;
    }
    case HT_RAW_FREE:
        if (!ht_idmap_del(&C->addr, r->a, &id)) {
            C->c[CV_unknown_frees]++;
            break;
        }
        put(C, &(ht_event){.op = HT_OP_FREE, .tid = tt, .id = id});
        end_id(C, id);
        break;
    case HT_RAW_REALLOC:
        if (!ht_idmap_del(&C->addr, r->a, &id)) {
            C->c[CV_unknown_reallocs]++;
            id = alloc_at(C, tt, r->b);
            put(C, &(ht_event){.op = HT_OP_ALLOC, .tid = tt, .id = id, .size = cap_size(C, r->c)});
            break;
        }
        if (r->b == r->a) {
            nid = id;
            if (ht_idmap_put(&C->addr, r->b, id) < 0)
                C->err = HT_ENOMEM;
        } else {
            nid = alloc_at(C, tt, r->b);
            end_id(C, id);
        }
        put(C, &(ht_event){.op = HT_OP_REALLOC, .tid = tt, .id = id, .new_id = nid,
                           .size = cap_size(C, r->c)});
        break;
    case HT_RAW_THREAD_EXIT:
        C->ts[r->tid] = 2;
        put(C, &(ht_event){.op = HT_OP_THREAD_EXIT, .tid = tt});
        break;
    default:
        C->c[CV_corrupt_runs]++;
        break;
    }
}

/* One pass over the log in sequence order; W may be NULL (counting pass). */
static int convert(raw_log *L, ht_writer *w, conv *C)
{
    memset(C, 0, sizeof *C);
    C->w = w;
    if (ht_idmap_init(&C->addr) < 0 || grow_threads(C, 0) < 0)
        return HT_ENOMEM;
    C->tt[0] = ++C->threads; /* the main thread runs from the start */
    C->ts[0] = 1;
    heap h = {calloc(L->nruns ? L->nruns : 1, sizeof(uint32_t)), 0, L->runs};
    if (!h.v)
        return HT_ENOMEM;
    for (size_t i = 0; i < L->nruns; i++) {
        run *R = &L->runs[i];
        *R = (run){.c0 = R->c0, .ci = R->c0, .cend = R->cend, .buf = R->buf};
        if (run_advance(L, R, &C->c[CV_corrupt_runs]))
            h.v[h.n++] = (uint32_t)i;
    }
    for (size_t i = h.n / 2; i-- > 0;)
        heap_down(&h, i);
    hk_progress_start("converted");
    while (h.n > 0 && C->err == 0) {
        run *R = &L->runs[h.v[0]];
        conv_record(C, &R->buf[R->cur]);
        if ((C->records & 0xffff) == 0)
            hk_progress(C->records);
        if (!run_advance(L, R, &C->c[CV_corrupt_runs]))
            h.v[0] = h.v[--h.n];
        heap_down(&h, 0);
    }
    hk_progress_end();
    free(h.v);
    C->live_end = C->addr.count;
    ht_idmap_free(&C->addr);
    free(C->free_ids);
    free(C->tt);
    free(C->ts);
    return C->err;
}

/* ---- running the program ------------------------------------------------ */

/* The recorder: $HAKTRACE_RECORDER, else beside this executable (build
 * tree: traces/record/; installed: ../lib.../hakmem-sim/). */
static int find_recorder(char *out, size_t len)
{
    const char *env = getenv("HAKTRACE_RECORDER");
    if (env && *env) {
        if (realpath(env, out) && access(out, R_OK) == 0)
            return 0;
        return -1;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    char *dir = dirname(exe);
    static const char *const rel[] = {
        "record/libhakrecord.so", "libhakrecord.so", "../lib/hakmem-sim/libhakrecord.so",
        "../lib/x86_64-linux-gnu/hakmem-sim/libhakrecord.so", "../lib64/hakmem-sim/libhakrecord.so",
    };
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
        char p[PATH_MAX + 64];
        snprintf(p, sizeof p, "%s/%s", dir, rel[i]);
        if (access(p, R_OK) == 0 && realpath(p, out))
            return 0;
    }
    (void)len;
    return -1;
}

/* Creates the empty raw log; PATH receives its name. */
static int make_raw(char *path, size_t len)
{
    const char *dirs[] = {getenv("HAKTRACE_RAW_DIR"), "/dev/shm", getenv("TMPDIR"), "/tmp"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        if (!dirs[i] || !*dirs[i] || access(dirs[i], W_OK | X_OK) != 0)
            continue;
        snprintf(path, len, "%s/hakrecord-XXXXXX.raw", dirs[i]);
        int fd = mkstemps(path, 4);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        if (i == 0)
            break; /* an explicit directory that fails is an error */
    }
    return -1;
}

/* Runs ARGV with the recorder; *STATUS gets its wait status.  Returns 0, or
 * -1 with MSG when it could not be started. */
static int run_program(char **argv, const char *lib, const char *raw, int *status, char *msg,
                       size_t len)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        snprintf(msg, len, "pipe: %s", strerror(errno));
        return -1;
    }
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_int, old_quit;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGINT, &ign, &old_int); /* ^C ends the program; we still convert */
    sigaction(SIGQUIT, &ign, &old_quit);
    pid_t pid = fork();
    if (pid == 0) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGQUIT, &old_quit, NULL);
        close(pfd[0]);
        const char *pre = getenv("LD_PRELOAD");
        size_t n = strlen(lib) + (pre ? strlen(pre) : 0) + 2;
        char *v = malloc(n), pidtext[32];
        if (!v)
            _exit(127);
        snprintf(v, n, "%s%s%s", lib, pre && *pre ? " " : "", pre ? pre : "");
        snprintf(pidtext, sizeof pidtext, "%ld", (long)getpid());
        setenv("LD_PRELOAD", v, 1);
        setenv(HT_RAW_ENV_FILE, raw, 1);
        setenv(HT_RAW_ENV_PID, pidtext, 1);
        execvp(argv[0], argv);
        int e = errno;
        if (write(pfd[1], &e, sizeof e) < 0)
            _exit(127);
        _exit(127);
    }
    close(pfd[1]);
    if (pid < 0) {
        snprintf(msg, len, "fork: %s", strerror(errno));
        close(pfd[0]);
        return -1;
    }
    int e = 0;
    ssize_t got;
    while ((got = read(pfd[0], &e, sizeof e)) < 0 && errno == EINTR)
        ;
    close(pfd[0]);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
    if (got == (ssize_t)sizeof e) {
        snprintf(msg, len, "cannot run '%s': %s", argv[0], strerror(e));
        return -1;
    }
    return 0;
}

/* ---- meta and report ---------------------------------------------------- */

static json_t *status_json(int status)
{
    json_t *o = json_object();
    if (WIFEXITED(status)) {
        json_object_set_new(o, "exit_code", json_integer(WEXITSTATUS(status)));
    } else if (WIFSIGNALED(status)) {
        json_object_set_new(o, "signal", json_integer(WTERMSIG(status)));
        json_object_set_new(o, "signal_name", json_string(strsignal(WTERMSIG(status))));
    }
    return o;
}

static char *meta_text(char **argv, int status, const raw_log *L, const conv *C)
{
    json_t *m = json_object(), *cmd = json_array(), *rec = json_object(), *cv = json_object();
    json_object_set_new(m, "generator", json_string("haktrace record"));
    for (char **a = argv; *a; a++)
        json_array_append_new(cmd, json_string(*a));
    json_object_set_new(m, "command", cmd);
    json_object_set_new(m, "program_status", status_json(status));
    json_object_set_new(m, "raw_records", json_integer((json_int_t)C->records));
    json_object_set_new(m, "raw_chunks", json_integer((json_int_t)L->nchunks));
    for (int i = 0; i < HT_RAW_NCOUNTERS; i++)
        json_object_set_new(rec, raw_names[i], json_integer((json_int_t)L->hdr.counters[i]));
    json_object_set_new(m, "recorder", rec);
    for (int i = 0; i < CV_N; i++)
        json_object_set_new(cv, conv_names[i], json_integer((json_int_t)C->c[i]));
    json_object_set_new(m, "conversion", cv);
    json_object_set_new(m, "live_blocks_end", json_integer((json_int_t)C->live_end));
    json_object_set_new(m, "children",
                        json_string("fork and exec'd children are not recorded (counted in "
                                    "recorder.forks and recorder.excluded_processes)"));
    char *s = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(m);
    return s;
}

static void report(const char *prog, int status, const char *out, const raw_log *L,
                   const conv *C)
{
    if (WIFEXITED(status))
        fprintf(stderr, "haktrace record: %s exited with status %d\n", prog, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        fprintf(stderr, "haktrace record: %s was killed by signal %d (%s); the trace is the "
                        "recorded prefix\n", prog, WTERMSIG(status), strsignal(WTERMSIG(status)));
    fprintf(stderr, "haktrace record: wrote %s: %" PRIu64 " events, %u threads, %" PRIu64
                    " blocks live at the end\n", out, C->events, C->threads, C->live_end);
    char line[2048] = "";
    size_t n = 0;
    for (int i = 0; i < HT_RAW_NCOUNTERS; i++)
        if (L->hdr.counters[i] && n < sizeof line - 100)
            n += (size_t)snprintf(line + n, sizeof line - n, "%s %s=%" PRIu64, n ? "," : "",
                                  raw_names[i], L->hdr.counters[i]);
    for (int i = 0; i < CV_N; i++)
        if (C->c[i] && n < sizeof line - 100)
            n += (size_t)snprintf(line + n, sizeof line - n, "%s %s=%" PRIu64, n ? "," : "",
                                  conv_names[i], C->c[i]);
    fprintf(stderr, "haktrace record: not in the trace or adjusted:%s\n", n ? line : " nothing");
}

/* ---- the command --------------------------------------------------------- */

int hk_cmd_record(int argc, char **argv); /* called by haktrace.c's dispatch */

int hk_cmd_record(int argc, char **argv)
{
    const char *out = NULL, *fmt = NULL;
    bool keep_raw = false;
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (hk_is_help(argv[i])) {
            fputs(record_help, stdout);
            return HK_EXIT_OK;
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
            fmt = argv[++i];
        } else if (strcmp(argv[i], "--keep-raw") == 0) {
            keep_raw = true;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "haktrace record: unknown option '%s'\n", argv[i]);
            return HK_EXIT_INPUT;
        } else {
            break;
        }
    }
    if (i >= argc) {
        fputs(record_help, stderr);
        return HK_EXIT_INPUT;
    }
    char **prog = argv + i;
    if (fmt && strcmp(fmt, "jsonl") != 0 && strcmp(fmt, "hkt") != 0 && strcmp(fmt, "json") != 0) {
        fprintf(stderr, "haktrace record: --format must be jsonl, hkt or json, not '%s'\n", fmt);
        return HK_EXIT_INPUT;
    }
    char outbuf[PATH_MAX];
    if (!out) {
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s", prog[0]);
        snprintf(outbuf, sizeof outbuf, "%s.%s", basename(tmp), fmt ? fmt : "jsonl");
        out = outbuf;
    } else if (fmt) {
        const char *dot = strrchr(out, '.');
        if (!dot || strcmp(dot + 1, fmt) != 0) {
            fprintf(stderr, "haktrace record: -o %s does not end in .%s (--format)\n", out, fmt);
            return HK_EXIT_INPUT;
        }
    }
    if (ht_encoding_from_path(out) == HT_ENC_NONE) {
        fprintf(stderr, "haktrace record: %s: unknown trace encoding (use .jsonl, .hkt or .json)\n",
                out);
        return HK_EXIT_INPUT;
    }
    char lib[PATH_MAX], raw[PATH_MAX], msg[PATH_MAX + 256];
    if (find_recorder(lib, sizeof lib) < 0) {
        fprintf(stderr, "haktrace record: cannot find libhakrecord.so (set HAKTRACE_RECORDER)\n");
        return HK_EXIT_INPUT;
    }
    if (make_raw(raw, sizeof raw) < 0) {
        fprintf(stderr, "haktrace record: cannot create the raw log (HAKTRACE_RAW_DIR?): %s\n",
                strerror(errno));
        return HK_EXIT_INPUT;
    }
    int status = 0, rc;
    if (run_program(prog, lib, raw, &status, msg, sizeof msg) < 0) {
        fprintf(stderr, "haktrace record: %s\n", msg);
        unlink(raw);
        return HK_EXIT_INPUT;
    }
    raw_log L;
    conv C;
    ht_writer *w = NULL;
    ht_error err;
    char *meta = NULL;
    int code = HK_EXIT_INTERNAL;
    if ((rc = raw_open(raw, &L, msg, sizeof msg)) < 0) {
        fprintf(stderr, "haktrace record: %s\n", msg);
        code = rc == HT_EFORMAT ? HK_EXIT_INPUT : HK_EXIT_INTERNAL;
    } else if (convert(&L, NULL, &C) < 0 || !(meta = meta_text(prog, status, &L, &C))) {
        fprintf(stderr, "haktrace record: out of memory\n");
    } else if ((rc = ht_writer_open(out, meta, 0, &w, &err)) < 0) {
        fprintf(stderr, "%s\n", err.text);
        code = hk_exit_code(rc);
    } else if (convert(&L, w, &C) < 0) {
        /* the writer validates every event: a failure here is a recorder bug */
        fprintf(stderr, "haktrace record: %s\n",
                ht_writer_error(w)[0] ? ht_writer_error(w) : "out of memory");
        ht_writer_abort(w);
    } else if (ht_writer_close(w, &err) < 0) {
        fprintf(stderr, "%s\n", err.text);
    } else {
        report(prog[0], status, out, &L, &C);
        code = HK_EXIT_OK;
    }
    free(meta);
    raw_close(&L);
    if (keep_raw)
        fprintf(stderr, "haktrace record: raw log kept: %s\n", raw);
    else
        unlink(raw);
    return code;
}
