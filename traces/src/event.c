/* event.c — the op table (names, fields in encoding order) and the
 * per-field limits every encoding enforces before the validator sees an
 * event.  Invariant: an event that leaves ht_event_set_fields respects
 * every HT_MAX_* limit, and its unused fields are zero.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

const ht_opdesc ht_ops[HT_OP_COUNT] = {
    [0] = {NULL, 0, {HT_F_TID}, ""},
    [HT_OP_ALLOC] = {"alloc", 3, {HT_F_TID, HT_F_ID, HT_F_SIZE}, "tid, id, size"},
    [HT_OP_FREE] = {"free", 2, {HT_F_TID, HT_F_ID}, "tid, id"},
    [HT_OP_CALLOC] = {"calloc", 4, {HT_F_TID, HT_F_ID, HT_F_N, HT_F_SIZE}, "tid, id, n, size"},
    [HT_OP_REALLOC] = {"realloc", 4, {HT_F_TID, HT_F_ID, HT_F_NEW_ID, HT_F_SIZE},
                       "tid, id, new_id, size"},
    [HT_OP_MEMALIGN] = {"memalign", 4, {HT_F_TID, HT_F_ID, HT_F_ALIGN, HT_F_SIZE},
                        "tid, id, align, size"},
    [HT_OP_THREAD_START] = {"thread_start", 2, {HT_F_TID, HT_F_PARENT}, "tid, parent"},
    [HT_OP_THREAD_EXIT] = {"thread_exit", 1, {HT_F_TID}, "tid"},
};

static const char *const field_names[] = {
    [HT_F_TID] = "tid", [HT_F_ID] = "id", [HT_F_NEW_ID] = "new_id", [HT_F_SIZE] = "size",
    [HT_F_N] = "n", [HT_F_ALIGN] = "align", [HT_F_PARENT] = "parent",
};

/* Largest legal value of each field (threads are bounded again by the
 * header's count in the validator). */
static const uint64_t field_max[] = {
    [HT_F_TID] = HT_MAX_THREADS - 1, [HT_F_ID] = HT_MAX_ID, [HT_F_NEW_ID] = HT_MAX_ID,
    [HT_F_SIZE] = HT_MAX_SIZE, [HT_F_N] = HT_MAX_SIZE, [HT_F_ALIGN] = HT_MAX_ALIGN,
    [HT_F_PARENT] = HT_MAX_THREADS - 1,
};

const char *ht_op_name(ht_op op)
{
    return (op > 0 && op < HT_OP_COUNT) ? ht_ops[op].name : NULL;
}

const char *ht_field_name(ht_field f) { return field_names[f]; }

ht_op ht_op_lookup(const char *name, size_t len)
{
    for (int op = 1; op < HT_OP_COUNT; op++)
        if (strlen(ht_ops[op].name) == len && memcmp(ht_ops[op].name, name, len) == 0)
            return (ht_op)op;
    return (ht_op)0;
}

void ht_fmt(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    if (n < 0 && len > 0)
        buf[0] = '\0';
}

static uint64_t *field_slot(ht_event *ev, ht_field f, uint64_t *scratch)
{
    switch (f) {
    case HT_F_ID: return &ev->id;
    case HT_F_NEW_ID: return &ev->new_id;
    case HT_F_SIZE: return &ev->size;
    case HT_F_N: return &ev->n;
    case HT_F_ALIGN: return &ev->align;
    default: return scratch; /* tid and parent are 32-bit */
    }
}

void ht_event_get_fields(const ht_event *ev, uint64_t out[4])
{
    const ht_opdesc *d = &ht_ops[ev->op];
    for (int i = 0; i < 4; i++)
        out[i] = 0;
    for (int i = 0; i < d->nfields; i++) {
        uint64_t scratch = 0;
        switch (d->fields[i]) {
        case HT_F_TID: out[i] = ev->tid; break;
        case HT_F_PARENT: out[i] = ev->parent; break;
        default: out[i] = *field_slot((ht_event *)ev, d->fields[i], &scratch); break;
        }
    }
}

static int check_cross(const ht_event *ev, char *msg, size_t len)
{
    if (ev->op == HT_OP_CALLOC && ev->n != 0 && ev->size > HT_MAX_SIZE / ev->n) {
        ht_fmt(msg, len, "calloc overflow: n * size = %llu * %llu exceeds %llu",
               (unsigned long long)ev->n, (unsigned long long)ev->size,
               (unsigned long long)HT_MAX_SIZE);
        return HT_EFORMAT;
    }
    if (ev->op == HT_OP_MEMALIGN && (ev->align == 0 || (ev->align & (ev->align - 1)) != 0)) {
        ht_fmt(msg, len, "align %llu is not a power of two", (unsigned long long)ev->align);
        return HT_EFORMAT;
    }
    if (ev->op == HT_OP_REALLOC && ev->size == 0) {
        ht_fmt(msg, len, "realloc to size 0 is not allowed (write a free)");
        return HT_EFORMAT;
    }
    return 0;
}

int ht_event_set_fields(ht_event *ev, ht_op op, const uint64_t in[4], char *msg, size_t len)
{
    memset(ev, 0, sizeof *ev);
    ev->op = op;
    const ht_opdesc *d = &ht_ops[op];
    for (int i = 0; i < d->nfields; i++) {
        ht_field f = d->fields[i];
        if (in[i] > field_max[f]) {
            ht_fmt(msg, len, "field %s: %llu exceeds the limit %llu", field_names[f],
                   (unsigned long long)in[i], (unsigned long long)field_max[f]);
            return HT_EFORMAT;
        }
        uint64_t scratch;
        if (f == HT_F_TID)
            ev->tid = (uint32_t)in[i];
        else if (f == HT_F_PARENT)
            ev->parent = (uint32_t)in[i];
        else
            *field_slot(ev, f, &scratch) = in[i];
    }
    return check_cross(ev, msg, len);
}

int ht_event_check(const ht_event *ev, char *msg, size_t len)
{
    if (ev->op <= 0 || ev->op >= HT_OP_COUNT) {
        ht_fmt(msg, len, "unknown op code %d", (int)ev->op);
        return HT_EFORMAT;
    }
    uint64_t f[4];
    ht_event tmp;
    ht_event_get_fields(ev, f);
    int rc = ht_event_set_fields(&tmp, ev->op, f, msg, len);
    if (rc == 0 && (tmp.tid != ev->tid || tmp.parent != ev->parent || tmp.id != ev->id ||
                    tmp.new_id != ev->new_id || tmp.size != ev->size || tmp.n != ev->n ||
                    tmp.align != ev->align)) {
        ht_fmt(msg, len, "%s event has a nonzero field it does not use", ht_ops[ev->op].name);
        return HT_EFORMAT;
    }
    return rc;
}
