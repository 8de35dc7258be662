/* validate.c — the semantic rules of a trace: block liveness (no double
 * alloc, no free of a dead id) and the thread life cycle (tid 0 runs from
 * the start; others run between their thread_start and thread_exit; a
 * parent must be running).  Memory: a bitmap of ids below HT_DENSE_IDS
 * (at most 2 MiB), a hash of larger live ids, and one byte per thread.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int ht_validator_init(ht_validator *v, uint32_t threads)
{
    memset(v, 0, sizeof *v);
    v->threads = threads;
    v->bound = threads ? threads : HT_MAX_THREADS;
    v->state_cap = 64;
    v->state = calloc(v->state_cap, 1);
    if (!v->state || ht_idmap_init(&v->live) < 0) {
        free(v->state);
        v->state = NULL;
        return HT_ENOMEM;
    }
    v->state[0] = HT_THR_RUNNING;
    return 0;
}

void ht_validator_free(ht_validator *v)
{
    free(v->state);
    free(v->dense);
    v->state = NULL;
    v->dense = NULL;
    ht_idmap_free(&v->live);
}

/* Makes sure the bitmap covers ID when ID is below HT_DENSE_IDS. */
static int cover(ht_validator *v, uint64_t id)
{
    if (id >= HT_DENSE_IDS || (id >> 6) < v->dense_words)
        return 0;
    size_t words = v->dense_words ? v->dense_words : 1024;
    while (words <= (id >> 6))
        words *= 2;
    uint64_t *d = realloc(v->dense, words * sizeof *d);
    if (!d)
        return HT_ENOMEM;
    memset(d + v->dense_words, 0, (words - v->dense_words) * sizeof *d);
    v->dense = d;
    v->dense_words = words;
    return 0;
}

static bool is_live(const ht_validator *v, uint64_t id)
{
    if ((id >> 6) < v->dense_words)
        return (v->dense[id >> 6] >> (id & 63)) & 1;
    return id >= HT_DENSE_IDS && ht_idmap_get(&v->live, id, NULL);
}

/* Marks ID dead; false if it was not live. */
static bool mark_dead(ht_validator *v, uint64_t id)
{
    if ((id >> 6) < v->dense_words) {
        uint64_t bit = (uint64_t)1 << (id & 63);
        bool was = v->dense[id >> 6] & bit;
        v->dense[id >> 6] &= ~bit;
        return was;
    }
    return id >= HT_DENSE_IDS && ht_idmap_del(&v->live, id, NULL);
}

static int grow_state(ht_validator *v, uint32_t tid)
{
    size_t cap = v->state_cap;
    while (cap <= tid)
        cap *= 2;
    uint8_t *s = realloc(v->state, cap);
    if (!s)
        return HT_ENOMEM;
    memset(s + v->state_cap, 0, cap - v->state_cap);
    v->state = s;
    v->state_cap = cap;
    return 0;
}

static inline int thread_state(ht_validator *v, uint32_t tid)
{
    return tid < v->state_cap ? v->state[tid] : HT_THR_NEW;
}

static int check_tid(ht_validator *v, const char *what, uint32_t tid, char *msg, size_t len)
{
    if (tid >= v->bound) {
        if (v->threads)
            ht_fmt(msg, len, "%s %u out of range: the header says %u threads", what, tid,
                   v->threads);
        else
            ht_fmt(msg, len, "%s %u out of range: at most %u threads", what, tid, v->bound);
        return HT_EFORMAT;
    }
    return 0;
}

static int check_running(ht_validator *v, uint32_t tid, char *msg, size_t len)
{
    int rc = check_tid(v, "tid", tid, msg, len);
    if (rc)
        return rc;
    int st = thread_state(v, tid);
    if (HT_LIKELY(st == HT_THR_RUNNING))
        return 0;
    ht_fmt(msg, len, st == HT_THR_NEW ? "thread %u has not been started"
                                      : "thread %u has already exited", tid);
    return HT_EFORMAT;
}

static int add_live(ht_validator *v, const char *op, uint64_t id, char *msg, size_t len)
{
    if (is_live(v, id)) {
        ht_fmt(msg, len, "%s of id %llu which is already live", op, (unsigned long long)id);
        return HT_EFORMAT;
    }
    if (cover(v, id) < 0 || (id >= HT_DENSE_IDS && ht_idmap_put(&v->live, id, 0) < 0)) {
        ht_fmt(msg, len, "out of memory");
        return HT_ENOMEM;
    }
    if (id < HT_DENSE_IDS)
        v->dense[id >> 6] |= (uint64_t)1 << (id & 63);
    return 0;
}

static int start_thread(ht_validator *v, const ht_event *ev, char *msg, size_t len)
{
    /* ev->tid is the new thread; ev->parent, its creator, must be running. */
    int rc = check_tid(v, "tid", ev->tid, msg, len);
    if (rc)
        return rc;
    if (ev->tid == 0) {
        ht_fmt(msg, len, "thread 0 is the main thread and is never started");
        return HT_EFORMAT;
    }
    if (thread_state(v, ev->tid) != HT_THR_NEW) {
        ht_fmt(msg, len, "thread %u started twice", ev->tid);
        return HT_EFORMAT;
    }
    if (ev->parent == ev->tid) {
        ht_fmt(msg, len, "thread %u cannot start itself", ev->tid);
        return HT_EFORMAT;
    }
    rc = check_tid(v, "parent", ev->parent, msg, len);
    if (rc)
        return rc;
    if (thread_state(v, ev->parent) != HT_THR_RUNNING) {
        ht_fmt(msg, len, "parent thread %u is not running", ev->parent);
        return HT_EFORMAT;
    }
    if (ev->tid >= v->state_cap && grow_state(v, ev->tid) < 0) {
        ht_fmt(msg, len, "out of memory");
        return HT_ENOMEM;
    }
    v->state[ev->tid] = HT_THR_RUNNING;
    v->started++;
    if (ev->tid > v->max_tid)
        v->max_tid = ev->tid;
    return 0;
}

int ht_validator_step(ht_validator *v, const ht_event *ev, char *msg, size_t len)
{
    if (ev->op == HT_OP_THREAD_START)
        return start_thread(v, ev, msg, len);
    int rc = check_running(v, ev->tid, msg, len);
    if (rc)
        return rc;
    switch (ev->op) {
    case HT_OP_ALLOC:
    case HT_OP_CALLOC:
    case HT_OP_MEMALIGN:
        return add_live(v, ht_ops[ev->op].name, ev->id, msg, len);
    case HT_OP_FREE:
    case HT_OP_REALLOC:
        if (ev->op == HT_OP_REALLOC && ev->new_id != ev->id &&
            is_live(v, ev->new_id) && is_live(v, ev->id)) {
            ht_fmt(msg, len, "realloc to id %llu which is already live",
                   (unsigned long long)ev->new_id);
            return HT_EFORMAT;
        }
        if (!mark_dead(v, ev->id)) {
            ht_fmt(msg, len, "%s of id %llu which is not live", ht_ops[ev->op].name,
                   (unsigned long long)ev->id);
            return HT_EFORMAT;
        }
        if (ev->op == HT_OP_REALLOC)
            return add_live(v, "realloc", ev->new_id, msg, len);
        return 0;
    case HT_OP_THREAD_EXIT:
        v->state[ev->tid] = HT_THR_EXITED;
        return 0;
    default:
        ht_fmt(msg, len, "unknown op code %d", (int)ev->op);
        return HT_EFORMAT;
    }
}

int ht_validator_finish(ht_validator *v, char *msg, size_t len)
{
    uint32_t body = v->started + 1;
    if (v->threads && body != v->threads) {
        ht_fmt(msg, len, "the header says %u threads but the body has %u (main + %u started)",
               v->threads, body, v->started);
        return HT_EFORMAT;
    }
    if (!v->threads && v->max_tid + 1 != body) {
        ht_fmt(msg, len, "thread ids are not dense: max tid %u but %u threads", v->max_tid, body);
        return HT_EFORMAT;
    }
    return 0;
}
