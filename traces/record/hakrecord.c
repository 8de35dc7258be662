/* hakrecord.c — libhakrecord.so, the LD_PRELOAD recorder behind `haktrace
 * record`: wraps the malloc family and pthread_create, and logs every call
 * (thread, size, alignment, result) and every thread start and exit into the
 * raw log of ht_raw.h, which `haktrace record` converts after the program
 * ends.
 *
 * Invariants:
 * - The recorder never calls the libc allocator for itself: its buffers
 *   are slots of the MAP_SHARED raw log, its thread trampolines come from
 *   an mmap'd pool, and calls made while it resolves libc with dlsym are
 *   served from a static bootstrap buffer.
 * - Order: one atomic sequence counter; a free takes its number (and
 *   commits its record) before the real free, an allocation after the real
 *   call returns, so a free never precedes the allocation it ends, and a
 *   record is committed before its result reaches the program.
 * - Memory: one 64 KiB slot per live thread, reused by later threads (LIFO,
 *   so its pages stay hot); a full slot is copied into the file with pwrite.
 * - Only the process whose pid is $HAKRECORD_PID records.  A fork child
 *   stops at once (atfork handler); other processes that inherit the
 *   preload (exec'd children) stay out and are counted.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ht_raw.h"

#define EXPORT __attribute__((visibility("default")))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TLS __thread __attribute__((tls_model("initial-exec")))

/* ---- libc's functions ------------------------------------------------- */

static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static void *(*real_valloc)(size_t);
static void *(*real_pvalloc)(size_t);
static int (*real_pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

/* ---- global state ----------------------------------------------------- */

enum { ST_UNINIT = 0, ST_INIT = 1, ST_READY = 2, ST_OFF = 3 };
static _Atomic int g_state;
static _Atomic uint64_t g_seq = 1; /* next sequence number */
static _Atomic uint32_t g_next_tid = 1;
static ht_raw_header *g_hdr;  /* the shared header page */
static unsigned char *g_slots; /* the slot area, mapped shared */
static int g_fd = -1;
static pthread_mutex_t g_slot_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t g_slot_free[HT_RAW_SLOTS]; /* released slots, a stack (under g_slot_lock) */
static uint32_t g_slot_nfree;
static pthread_key_t g_key;
static long g_page = 4096;

/* ---- per thread -------------------------------------------------------- */

enum { TH_NEW = 0, TH_REC = 1, TH_EXITED = 2 };
typedef struct tstate {
    ht_raw_chunk *slot; /* this thread's buffer: a slot of the log, or private memory */
    ht_raw_rec *recs;   /* its records */
    uint64_t n;         /* records in it */
    uint32_t slot_idx;  /* UINT32_MAX: private */
    uint32_t tid;
    uint8_t state; /* TH_* */
    uint8_t busy;  /* inside the recorder: nested calls pass through */
    uint8_t in_init;
    uint8_t rounds; /* key destructor rounds seen */
} tstate;
static TLS tstate t_self;

static inline void count(int c)
{
    if (g_hdr)
        __atomic_fetch_add(&g_hdr->counters[c], 1, __ATOMIC_RELAXED);
}

/* ---- bootstrap buffer (dlsym recursion before libc is resolved) ---------- */

#define BOOT_BYTES (256u * 1024u)
static _Alignas(64) unsigned char g_boot[BOOT_BYTES];
static _Atomic size_t g_boot_used;

static inline bool is_boot(const void *p)
{
    return (const unsigned char *)p >= g_boot && (const unsigned char *)p < g_boot + BOOT_BYTES;
}

/* 16-byte header holding the size, so realloc can copy.  Never reused:
 * the buffer is zero from the start, which also serves calloc. */
static void *boot_alloc(size_t align, size_t n)
{
    if (align < 16)
        align = 16;
    size_t used = atomic_load(&g_boot_used), start, end;
    do {
        start = (used + 16 + align - 1) & ~(align - 1);
        end = start + n;
        if (end > BOOT_BYTES || n > BOOT_BYTES)
            return NULL;
    } while (!atomic_compare_exchange_weak(&g_boot_used, &used, end));
    memcpy(g_boot + start - sizeof(size_t), &n, sizeof n);
    count(HT_RAW_C_bootstrap_calls);
    return g_boot + start;
}

static size_t boot_size(const void *p)
{
    size_t n;
    memcpy(&n, (const unsigned char *)p - sizeof n, sizeof n);
    return n;
}

/* ---- the raw log ------------------------------------------------------- */

/* Gives the thread a slot: a released one (hot pages) or a new one; beyond
 * HT_RAW_SLOTS threads at once, private memory. */
static bool slot_take(tstate *ts)
{
    uint32_t idx = UINT32_MAX;
    pthread_mutex_lock(&g_slot_lock);
    if (g_slot_nfree)
        idx = g_slot_free[--g_slot_nfree];
    else if (g_hdr->slots < HT_RAW_SLOTS)
        idx = (uint32_t)g_hdr->slots++;
    pthread_mutex_unlock(&g_slot_lock);
    ht_raw_chunk *sl;
    if (idx != UINT32_MAX) {
        sl = (ht_raw_chunk *)(g_slots + (size_t)idx * HT_RAW_CHUNK_BYTES);
    } else {
        count(HT_RAW_C_slotless_threads);
        sl = mmap(NULL, HT_RAW_CHUNK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                  -1, 0);
        if (sl == MAP_FAILED)
            return false;
    }
    sl->tid = ts->tid;
    sl->chunk_no = 0;
    __atomic_store_n(&sl->n, 0, __ATOMIC_RELEASE);
    sl->in_use = 1;
    sl->magic = HT_RAW_CHUNK_MAGIC;
    ts->slot = sl;
    ts->slot_idx = idx;
    ts->recs = (ht_raw_rec *)((char *)sl + HT_RAW_CHUNK_HDR);
    ts->n = 0;
    return true;
}

/* Copies the slot's records into the next chunk of the file and empties
 * it.  Killed midway, the slot still holds them (n is reset only after the
 * copy) and the converter keeps the chunk when both exist. */
static void slot_flush(tstate *ts)
{
    ht_raw_chunk *sl = ts->slot;
    if (!sl || ts->n == 0)
        return;
    uint64_t i = __atomic_fetch_add(&g_hdr->chunks, 1, __ATOMIC_RELAXED);
    size_t len = HT_RAW_CHUNK_HDR + ts->n * sizeof(ht_raw_rec), done = 0;
    off_t off = (off_t)(HT_RAW_CHUNKS_OFF + i * (uint64_t)HT_RAW_CHUNK_BYTES);
    while (done < len) {
        ssize_t w = pwrite(g_fd, (char *)sl + done, len - done, off + (off_t)done);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            __atomic_fetch_add(&g_hdr->counters[HT_RAW_C_lost_records], ts->n, __ATOMIC_RELAXED);
            break;
        }
        done += (size_t)w;
    }
    __atomic_store_n(&sl->n, 0, __ATOMIC_RELEASE);
    sl->chunk_no++;
    ts->n = 0;
}

/* At thread exit: the rest goes to a chunk, the slot to the next thread. */
static void slot_release(tstate *ts)
{
    slot_flush(ts);
    if (!ts->slot)
        return;
    ts->slot->in_use = 0;
    if (ts->slot_idx == UINT32_MAX) {
        munmap(ts->slot, HT_RAW_CHUNK_BYTES);
    } else {
        pthread_mutex_lock(&g_slot_lock);
        g_slot_free[g_slot_nfree++] = ts->slot_idx;
        pthread_mutex_unlock(&g_slot_lock);
    }
    ts->slot = NULL;
    ts->recs = NULL;
}

/* Takes the next sequence number now and commits one record. */
static inline void emit(tstate *ts, unsigned op, uint32_t tid, uint32_t aux, uint64_t a,
                        uint64_t b, uint64_t c)
{
    if (UNLIKELY(!ts->slot) && !slot_take(ts)) {
        count(HT_RAW_C_lost_records);
        return;
    }
    ht_raw_rec *r = ts->recs + ts->n;
    r->tid = tid;
    r->aux = aux;
    r->a = a;
    r->b = b;
    r->c = c;
    r->seq_op = atomic_fetch_add_explicit(&g_seq, 1, memory_order_relaxed) << 8 | op;
    __atomic_store_n(&ts->slot->n, ++ts->n, __ATOMIC_RELEASE);
    if (UNLIKELY(ts->n == HT_RAW_CHUNK_RECS))
        slot_flush(ts);
}

/* ---- initialisation ---------------------------------------------------- */

static void thread_dtor(void *v);
static void fork_parent(void) { count(HT_RAW_C_forks); }
static void fork_child(void)
{
    /* The child must never write into the parent's log. */
    atomic_store(&g_state, ST_OFF);
    t_self.slot = NULL;
    t_self.recs = NULL;
    g_hdr = NULL;
    if (g_fd >= 0)
        close(g_fd);
    g_fd = -1;
}

static void *sym(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    return p;
}

static void resolve(void)
{
    real_malloc = (void *(*)(size_t))sym("malloc");
    real_free = (void (*)(void *))sym("free");
    real_calloc = (void *(*)(size_t, size_t))sym("calloc");
    real_realloc = (void *(*)(void *, size_t))sym("realloc");
    real_posix_memalign = (int (*)(void **, size_t, size_t))sym("posix_memalign");
    real_aligned_alloc = (void *(*)(size_t, size_t))sym("aligned_alloc");
    real_memalign = (void *(*)(size_t, size_t))sym("memalign");
    real_valloc = (void *(*)(size_t))sym("valloc");
    real_pvalloc = (void *(*)(size_t))sym("pvalloc");
    real_pthread_create = (int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *),
                                   void *))sym("pthread_create");
}

/* Counts this process in the log's header without recording it. */
static void exclude(const char *path)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return;
    if (lseek(fd, 0, SEEK_END) < (off_t)HT_RAW_HEADER_BYTES) { /* not started: nothing to count in */
        close(fd);
        return;
    }
    void *m = mmap(NULL, HT_RAW_HEADER_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m != MAP_FAILED) {
        ht_raw_header *h = m;
        if (memcmp(h->magic, HT_RAW_MAGIC, 8) == 0)
            __atomic_fetch_add(&h->counters[HT_RAW_C_excluded_processes], 1, __ATOMIC_RELAXED);
        munmap(m, HT_RAW_HEADER_BYTES);
    }
    close(fd);
}

static int open_log(const char *path)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (lseek(fd, 0, SEEK_END) != 0) { /* an earlier image of this process (exec) owns the log */
        close(fd);
        exclude(path);
        return -1;
    }
    void *m = MAP_FAILED, *sl = MAP_FAILED;
    if (ftruncate(fd, (off_t)HT_RAW_CHUNKS_OFF) != 0 ||
        (m = mmap(NULL, HT_RAW_HEADER_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
            MAP_FAILED ||
        (sl = mmap(NULL, (size_t)HT_RAW_SLOTS * HT_RAW_CHUNK_BYTES, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_NORESERVE, fd, (off_t)HT_RAW_SLOTS_OFF)) == MAP_FAILED) {
        if (m != MAP_FAILED)
            munmap(m, HT_RAW_HEADER_BYTES);
        close(fd);
        return -1;
    }
    g_slots = sl;
    ht_raw_header *h = m;
    h->version = HT_RAW_VERSION;
    h->rec_bytes = sizeof(ht_raw_rec);
    h->chunk_bytes = HT_RAW_CHUNK_BYTES;
    h->pid = (uint64_t)getpid();
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy(h->magic, HT_RAW_MAGIC, 8);
    g_hdr = h;
    return fd;
}

/* Resolves libc and opens the log; the first call of any entry point (or
 * the constructor) gets here.  Calls that recurse into the allocator while
 * this runs (dlsym's own allocations) go to the bootstrap buffer. */
static void init_slow(void)
{
    int s = ST_UNINIT;
    if (!atomic_compare_exchange_strong(&g_state, &s, ST_INIT)) {
        while (atomic_load(&g_state) == ST_INIT && !t_self.in_init)
            sched_yield();
        return;
    }
    t_self.in_init = 1;
    resolve();
    g_page = sysconf(_SC_PAGESIZE);
    const char *path = getenv(HT_RAW_ENV_FILE), *pid = getenv(HT_RAW_ENV_PID);
    int next = ST_OFF;
    if (path && pid && strtol(pid, NULL, 10) == (long)getpid()) {
        if ((g_fd = open_log(path)) >= 0 && pthread_key_create(&g_key, thread_dtor) == 0 &&
            pthread_atfork(NULL, fork_parent, fork_child) == 0)
            next = ST_READY;
    } else if (path) {
        exclude(path);
    }
    t_self.in_init = 0;
    atomic_store(&g_state, next);
}

__attribute__((constructor)) static void hakrecord_init(void)
{
    if (atomic_load(&g_state) == ST_UNINIT)
        init_slow();
}

/* ---- threads ----------------------------------------------------------- */

/* First recorded call of a thread pthread_create did not announce (the
 * main thread, or a thread libc started itself). */
static void thread_first(tstate *ts)
{
    ts->state = TH_REC;
    if ((pid_t)syscall(SYS_gettid) == getpid()) {
        ts->tid = 0;
        return;
    }
    ts->tid = atomic_fetch_add(&g_next_tid, 1);
    count(HT_RAW_C_lazy_threads);
    emit(ts, HT_RAW_THREAD_START, ts->tid, 1, ts->tid, 0, 0);
    pthread_setspecific(g_key, (void *)1);
}

/* pthread keys' destructors run in up to PTHREAD_DESTRUCTOR_ITERATIONS
 * rounds; re-arming ours records the exit in the last round, after the
 * frees other destructors make. */
static void thread_dtor(void *v)
{
    tstate *ts = &t_self;
    if (atomic_load(&g_state) != ST_READY || ts->state != TH_REC)
        return;
    if (++ts->rounds < PTHREAD_DESTRUCTOR_ITERATIONS) {
        pthread_setspecific(g_key, v);
        return;
    }
    ts->busy = 1;
    emit(ts, HT_RAW_THREAD_EXIT, ts->tid, 0, 0, 0, 0);
    ts->state = TH_EXITED;
    slot_release(ts);
    ts->busy = 0;
}

/* Trampolines from an mmap'd pool, recycled through a locked free list. */
typedef struct tramp {
    struct tramp *next;
    void *(*fn)(void *);
    void *arg;
    uint32_t tid;
} tramp;
static pthread_mutex_t g_tramp_lock = PTHREAD_MUTEX_INITIALIZER;
static tramp *g_tramp_free;

static tramp *tramp_get(void)
{
    pthread_mutex_lock(&g_tramp_lock);
    if (!g_tramp_free) {
        void *m = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m != MAP_FAILED)
            for (size_t i = 0; i < 65536 / sizeof(tramp); i++) {
                tramp *t = (tramp *)m + i;
                t->next = g_tramp_free;
                g_tramp_free = t;
            }
    }
    tramp *t = g_tramp_free;
    if (t)
        g_tramp_free = t->next;
    pthread_mutex_unlock(&g_tramp_lock);
    return t;
}

static void tramp_put(tramp *t)
{
    pthread_mutex_lock(&g_tramp_lock);
    t->next = g_tramp_free;
    g_tramp_free = t;
    pthread_mutex_unlock(&g_tramp_lock);
}

static void *tramp_run(void *p)
{
    tramp *t = p;
    void *(*fn)(void *) = t->fn;
    void *arg = t->arg;
    tstate *ts = &t_self;
    ts->tid = t->tid;
    ts->state = TH_REC;
    tramp_put(t);
    pthread_setspecific(g_key, (void *)1);
    return fn(arg);
}

/* ---- entry and exit of a recorded call -------------------------------- */

/* The calling thread's state if this call is to be recorded (busy set),
 * else NULL (the recorder is off, or the call is nested). */
static inline tstate *enter(void)
{
    tstate *ts = &t_self;
    if (UNLIKELY(ts->busy)) {
        count(HT_RAW_C_reentrant_calls);
        return NULL;
    }
    if (UNLIKELY(ts->state != TH_REC)) {
        if (ts->state == TH_EXITED) {
            count(HT_RAW_C_after_exit_calls);
            return NULL;
        }
        ts->busy = 1;
        thread_first(ts);
    }
    ts->busy = 1;
    return ts;
}

static inline void leave(tstate *ts) { ts->busy = 0; }

/* Not ready: initialise, or serve dlsym's recursion from the buffer. */
static bool not_ready(void)
{
    if (LIKELY(atomic_load_explicit(&g_state, memory_order_acquire) == ST_READY))
        return false;
    if (atomic_load(&g_state) == ST_UNINIT)
        init_slow();
    return atomic_load(&g_state) != ST_READY;
}

static inline bool bootstrapping(void)
{
    return atomic_load(&g_state) == ST_INIT && t_self.in_init;
}

/* ---- the malloc family ------------------------------------------------- */

EXPORT void *malloc(size_t n)
{
    if (UNLIKELY(not_ready())) {
        if (bootstrapping() || !real_malloc)
            return boot_alloc(16, n);
        return real_malloc(n);
    }
    tstate *ts = enter();
    void *p = real_malloc(n);
    if (ts) {
        if (p)
            emit(ts, HT_RAW_MALLOC, ts->tid, 0, (uintptr_t)p, n, 0);
        else
            count(HT_RAW_C_failed_calls);
        leave(ts);
    }
    return p;
}

EXPORT void free(void *p)
{
    if (!p)
        return;
    if (UNLIKELY(is_boot(p))) {
        count(HT_RAW_C_bootstrap_frees);
        return;
    }
    if (UNLIKELY(not_ready())) {
        if (real_free)
            real_free(p);
        return;
    }
    tstate *ts = enter();
    if (ts)
        emit(ts, HT_RAW_FREE, ts->tid, 0, (uintptr_t)p, 0, 0);
    real_free(p);
    if (ts)
        leave(ts);
}

EXPORT void *calloc(size_t n, size_t size)
{
    if (UNLIKELY(not_ready())) {
        if (bootstrapping() || !real_calloc) {
            if (size && n > SIZE_MAX / size)
                return NULL;
            return boot_alloc(16, n * size);
        }
        return real_calloc(n, size);
    }
    tstate *ts = enter();
    void *p = real_calloc(n, size);
    if (ts) {
        if (p)
            emit(ts, HT_RAW_CALLOC, ts->tid, 0, (uintptr_t)p, n, size);
        else
            count(HT_RAW_C_failed_calls);
        leave(ts);
    }
    return p;
}

EXPORT void *realloc(void *p, size_t n)
{
    if (UNLIKELY(is_boot(p))) { /* move a bootstrap block to libc */
        count(HT_RAW_C_bootstrap_frees);
        void *q = malloc(n ? n : 1);
        if (q) {
            size_t old = boot_size(p);
            memcpy(q, p, old < n ? old : n);
        }
        return q;
    }
    if (UNLIKELY(not_ready())) {
        if (bootstrapping() || !real_realloc)
            return p ? NULL : boot_alloc(16, n);
        return real_realloc(p, n);
    }
    if (!p)
        return malloc(n);
    tstate *ts = enter();
    if (n == 0) { /* glibc frees p (and returns NULL): record the free first */
        if (ts)
            emit(ts, HT_RAW_FREE, ts->tid, 0, (uintptr_t)p, 0, 0);
        void *q = real_realloc(p, 0);
        if (ts) {
            if (q)
                emit(ts, HT_RAW_MALLOC, ts->tid, 0, (uintptr_t)q, 0, 0);
            leave(ts);
        }
        return q;
    }
    void *q = real_realloc(p, n);
    if (ts) {
        if (q)
            emit(ts, HT_RAW_REALLOC, ts->tid, 0, (uintptr_t)p, (uintptr_t)q, n);
        else
            count(HT_RAW_C_failed_calls);
        leave(ts);
    }
    return q;
}

/* The memalign family shares one recording path. */
static inline void *aligned_done(tstate *ts, void *p, size_t align, size_t n)
{
    if (ts) {
        if (p)
            emit(ts, HT_RAW_MEMALIGN, ts->tid, 0, (uintptr_t)p, align, n);
        else
            count(HT_RAW_C_failed_calls);
        leave(ts);
    }
    return p;
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    if (UNLIKELY(not_ready())) {
        if (bootstrapping() || !real_posix_memalign) {
            void *p = boot_alloc(align, n);
            if (!p)
                return ENOMEM;
            *out = p;
            return 0;
        }
        return real_posix_memalign(out, align, n);
    }
    tstate *ts = enter();
    int rc = real_posix_memalign(out, align, n);
    aligned_done(ts, rc == 0 ? *out : NULL, align, n);
    return rc;
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
    if (UNLIKELY(not_ready()))
        return bootstrapping() || !real_aligned_alloc ? boot_alloc(align, n)
                                                      : real_aligned_alloc(align, n);
    tstate *ts = enter();
    return aligned_done(ts, real_aligned_alloc(align, n), align, n);
}

EXPORT void *memalign(size_t align, size_t n)
{
    if (UNLIKELY(not_ready()))
        return bootstrapping() || !real_memalign ? boot_alloc(align, n) : real_memalign(align, n);
    tstate *ts = enter();
    return aligned_done(ts, real_memalign(align, n), align, n);
}

EXPORT void *valloc(size_t n)
{
    if (UNLIKELY(not_ready()))
        return bootstrapping() || !real_valloc ? boot_alloc((size_t)g_page, n) : real_valloc(n);
    tstate *ts = enter();
    return aligned_done(ts, real_valloc(n), (size_t)g_page, n);
}

EXPORT void *pvalloc(size_t n)
{
    size_t rounded = n ? (n + (size_t)g_page - 1) & ~((size_t)g_page - 1) : (size_t)g_page;
    if (UNLIKELY(not_ready()))
        return bootstrapping() || !real_pvalloc ? boot_alloc((size_t)g_page, rounded)
                                                : real_pvalloc(n);
    tstate *ts = enter();
    return aligned_done(ts, real_pvalloc(n), (size_t)g_page, rounded);
}

/* ---- threads: pthread_create ------------------------------------------ */

EXPORT int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg)
{
    if (not_ready()) {
        if (!real_pthread_create)
            resolve();
        return real_pthread_create(th, attr, fn, arg);
    }
    tstate *ts = enter();
    tramp *tr = ts ? tramp_get() : NULL;
    if (!tr) { /* unannounced: found lazily at its first call */
        if (ts)
            leave(ts);
        return real_pthread_create(th, attr, fn, arg);
    }
    tr->fn = fn;
    tr->arg = arg;
    tr->tid = atomic_fetch_add(&g_next_tid, 1);
    uint32_t child = tr->tid;
    emit(ts, HT_RAW_THREAD_START, ts->tid, 0, child, 0, 0);
    leave(ts); /* the allocations pthread_create makes are the parent's */
    int rc = real_pthread_create(th, attr, tramp_run, tr);
    if (rc != 0) {
        count(HT_RAW_C_create_failures);
        if ((ts = enter())) {
            emit(ts, HT_RAW_THREAD_EXIT, child, 0, 0, 0, 0);
            leave(ts);
        }
        tramp_put(tr);
    }
    return rc;
}
