/* internal.h — declarations shared by the trace library's modules, grouped
 * by the file that defines them.  Not installed; nothing outside traces/src
 * includes it except the unit tests.
 */
#ifndef HT_INTERNAL_H
#define HT_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hc_out.h"
#include "hc_text.h"
#include "ht_gen.h"
#include "ht_stats.h"
#include "ht_trace.h"

#if defined(__GNUC__)
#define HT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define HT_LIKELY(x) __builtin_expect(!!(x), 1)
#define HT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define HT_PRINTF(f, a)
#define HT_LIKELY(x) (x)
#define HT_UNLIKELY(x) (x)
#endif

/* ---- event.c: the op table, field access, per-field limits ------------- */

/* What one field after the op name is. */
typedef enum ht_field {
    HT_F_TID, HT_F_ID, HT_F_NEW_ID, HT_F_SIZE, HT_F_N, HT_F_ALIGN, HT_F_PARENT,
} ht_field;

typedef struct ht_opdesc {
    const char *name;
    int nfields;           /* fields after the op name, tid included: 1..4 */
    ht_field fields[4];
    const char *signature; /* "tid, id, size" for messages */
} ht_opdesc;

extern const ht_opdesc ht_ops[HT_OP_COUNT]; /* index 0 unused */
const char *ht_field_name(ht_field f);
/* Op code for a name of LEN bytes, or 0. */
ht_op ht_op_lookup(const char *name, size_t len);
/* The event's fields in encoding order (tid first). */
void ht_event_get_fields(const ht_event *ev, uint64_t out[4]);
/* Builds EV from OP and its fields; checks each against its limit and the
 * cross-field limits (calloc overflow, alignment).  0 or HT_EFORMAT with MSG. */
int ht_event_set_fields(ht_event *ev, ht_op op, const uint64_t in[4], char *msg, size_t len);
/* Checks an in-memory event's fields (as set_fields would). */
int ht_event_check(const ht_event *ev, char *msg, size_t len);

/* snprintf into a fixed buffer, never failing. */
void ht_fmt(char *buf, size_t len, const char *fmt, ...) HT_PRINTF(3, 4);

/* ---- idmap.c: open-addressing map from live block id to a payload ------ */
typedef struct ht_idmap {
    uint64_t *keys; /* id + 1; 0 = empty slot */
    uint64_t *vals;
    size_t mask;    /* capacity - 1 (capacity a power of two) */
    size_t count;
} ht_idmap;
int ht_idmap_init(ht_idmap *m);
void ht_idmap_free(ht_idmap *m);
/* Inserts ID (absent) with VAL; HT_ENOMEM on failure. */
int ht_idmap_put(ht_idmap *m, uint64_t id, uint64_t val);
/* Looks ID up: true and *VAL (if VAL) when present. */
bool ht_idmap_get(const ht_idmap *m, uint64_t id, uint64_t *val);
/* Removes ID: true when it was present (and *VAL set if VAL). */
bool ht_idmap_del(ht_idmap *m, uint64_t id, uint64_t *val);

/* ---- validate.c: liveness and thread rules ------------------------------ */
enum { HT_THR_NEW = 0, HT_THR_RUNNING = 1, HT_THR_EXITED = 2 };
typedef struct ht_validator {
    uint32_t threads;   /* the header's count; 0 = not known yet (a writer's) */
    uint32_t bound;     /* tids are below it: threads, or HT_MAX_THREADS when unknown */
    uint8_t *state;     /* HT_THR_* per tid, grown on demand */
    size_t state_cap;
    uint32_t started;   /* thread_start events seen */
    uint32_t max_tid;   /* largest tid or parent seen */
    uint64_t *dense;    /* live bits of ids below dense_words * 64 */
    size_t dense_words; /* grows on demand up to HT_DENSE_IDS / 64 */
    ht_idmap live;      /* live ids beyond the bitmap */
} ht_validator;
/* Ids below this are tracked in a bitmap (at most 2 MiB), the rest hashed:
 * generators and recorders reuse small ids, which makes the common case a
 * bit test. */
#define HT_DENSE_IDS ((uint64_t)1 << 24)
/* THREADS is the header's thread count, or 0 when it is not known (a
 * writer computes it from the events).  Every value 1..HT_MAX_THREADS is a
 * header's, so none of them may stand for "unknown". */
int ht_validator_init(ht_validator *v, uint32_t threads);
void ht_validator_free(ht_validator *v);
/* Checks and applies one event; 0, or HT_EFORMAT/HT_ENOMEM with MSG. */
int ht_validator_step(ht_validator *v, const ht_event *ev, char *msg, size_t len);
/* ht_validator_step with the common alloc and free of a small id inline. */
static inline int ht_validator_step_fast(ht_validator *v, const ht_event *ev, char *msg,
                                         size_t len)
{
    uint32_t tid = ev->tid;
    uint64_t id = ev->id, w = id >> 6, bit = (uint64_t)1 << (id & 63);
    if (HT_LIKELY(tid < v->state_cap && tid < v->bound && v->state[tid] == HT_THR_RUNNING &&
                  w < v->dense_words)) {
        if (ev->op == HT_OP_ALLOC && !(v->dense[w] & bit)) {
            v->dense[w] |= bit;
            return 0;
        }
        if (ev->op == HT_OP_FREE && (v->dense[w] & bit)) {
            v->dense[w] &= ~bit;
            return 0;
        }
    }
    return ht_validator_step(v, ev, msg, len);
}
/* End-of-trace check: the thread count matches threads. */
int ht_validator_finish(ht_validator *v, char *msg, size_t len);

/* ---- reader.c: the reader object and its backends ----------------------- */
/* Where a message points: a line (JSON forms) or a byte offset (.hkt). */
typedef struct ht_loc {
    bool is_offset;
    uint64_t at;
} ht_loc;
typedef struct ht_backend {
    /* Returns 1 with EV filled, 0 at the end, negative on error (via ht_rfail). */
    int (*next)(ht_reader *r, ht_event *ev);
    void (*close)(ht_reader *r);
} ht_backend;

struct ht_reader {
    char *path;
    unsigned flags;
    ht_encoding enc;
    ht_header header;
    char *meta_json;       /* owned text behind header.meta_json */
    const ht_backend *be;
    void *state;           /* backend state */
    uint64_t index;        /* events returned */
    int status;            /* 0 running, 1 finished, <0 failed */
    bool validate;
    ht_validator val;
    ht_loc loc;            /* where the event just decoded starts (set by the backend) */
    ht_loc header_loc;     /* where the header's counts are */
    char error[HT_ERROR_MAX];
};

#define HT_EVENT_NONE UINT64_MAX /* "header" instead of "event N" */
#define HT_EVENT_DOC (UINT64_MAX - 1) /* "document" */
/* Formats "PATH:LOC: event N: problem" into the reader and returns CODE. */
int ht_rfail(ht_reader *r, int code, ht_loc loc, uint64_t event, const char *fmt, ...)
    HT_PRINTF(5, 6);
void ht_format_error(char *buf, size_t len, const char *path, ht_loc loc, uint64_t event,
                     const char *problem);
/* Reads a whole (small) file of at most MAX bytes; HT_EIO with errno,
 * HT_EFORMAT when it is longer. */
int ht_slurp(const char *path, size_t max, char **data, size_t *len);
/* Parses and re-serializes a meta object (NULL text means {}); HT_EFORMAT
 * when it is not an object or longer than HT_MAX_META once compact. */
int ht_meta_normalize(const char *text, size_t len, char **out, char *msg, size_t msglen);

/* ---- fmt_json.c / fmt_jsonl.c / fmt_hkt.c: the backends ---------------- */
int ht_json_open(ht_reader *r, ht_error *err);
int ht_jsonl_open(ht_reader *r, ht_error *err);
int ht_hkt_open(ht_reader *r, ht_error *err);
/* Decodes one event from a JSON value; 0 or HT_EFORMAT with MSG. */
int ht_json_decode_event(json_t *v, ht_event *ev, char *msg, size_t len);
/* The .jsonl fast path: true with EV for a plain, valid event line; false
 * means "let jansson decide" (fuzzed against it: see traces/fuzz). */
bool ht_jsonl_fast_event(const char *line, size_t len, ht_event *ev);
/* Checks a header object (format, version, meta, threads + per-form keys). */
int ht_json_check_header(json_t *root, bool jsonl, ht_reader *r, ht_loc loc);

/* ---- outfile.c: buffered output to a temporary file, renamed at the end */
typedef struct ht_out {
    hc_out file;       /* the target (common/include/hc_out.h) */
    char *buf;
    size_t len, cap;
    uint64_t flushed;  /* bytes already written to fd */
    int err;           /* sticky errno */
} ht_out;
int ht_out_open(ht_out *o, const char *path);
/* What a sticky errno of an ht_out means, for messages. */
const char *ht_out_strerror(int err);
int ht_out_write(ht_out *o, const void *data, size_t len);
int ht_out_flush(ht_out *o);
/* Overwrites bytes already written at OFFSET (flushes first). */
int ht_out_patch(ht_out *o, uint64_t offset, const void *data, size_t len);
/* Flushes, closes and renames into place; on failure removes the temp file. */
int ht_out_commit(ht_out *o);
void ht_out_abort(ht_out *o);
static inline uint64_t ht_out_pos(const ht_out *o) { return o->flushed + o->len; }
/* Reserves N bytes in the buffer (flushing if needed); NULL on error. */
char *ht_out_reserve(ht_out *o, size_t n);

/* ---- writer.c: the writer object and its encoders ----------------------- */
typedef struct ht_encoder {
    int (*begin)(ht_writer *w);
    int (*event)(ht_writer *w, const ht_event *ev);
    int (*end)(ht_writer *w);
} ht_encoder;

struct ht_writer {
    char *path;
    ht_out out;
    ht_encoding enc;
    const ht_encoder *en;
    char *meta_json;
    unsigned flags;
    bool validate;
    ht_validator val;
    uint64_t count;
    uint32_t starts;   /* thread_start events */
    uint32_t max_tid;
    uint64_t patch_at; /* encoder-specific offset of the count placeholders */
    int status;
    char error[HT_ERROR_MAX];
};
extern const ht_encoder ht_json_encoder, ht_jsonl_encoder, ht_hkt_encoder;
/* Writes the event's compact JSON array text ("[\"alloc\",0,1,64]") to BUF
 * (at least 128 bytes); returns its length. */
size_t ht_json_format_event(const ht_event *ev, char *buf);
/* Number of threads the header will state (1 + thread_start events). */
static inline uint32_t ht_writer_threads(const ht_writer *w) { return 1 + w->starts; }

/* ---- hkt layout (fmt_hkt.c) --------------------------------------------- */
#define HT_HKT_MAGIC "HAKTRACE"
#define HT_HKT_HEADER_SIZE 64
#define HT_HKT_RECORD_SIZE 32
void ht_hkt_encode_header(uint8_t hdr[HT_HKT_HEADER_SIZE], uint64_t events, uint32_t threads,
                          uint32_t meta_len);
void ht_hkt_encode_record(uint8_t rec[HT_HKT_RECORD_SIZE], const ht_event *ev);

/* ---- gen_util.c: helpers shared by the generators ---------------------- */
typedef struct ht_rng {
    uint64_t s;
} ht_rng;
uint64_t ht_rng_next(ht_rng *g);
/* Uniform in [0, n) (n > 0). */
uint64_t ht_rng_below(ht_rng *g, uint64_t n);
/* Uniform size in [min, max) or min when equal. */
uint64_t ht_rng_size(ht_rng *g, uint64_t min, uint64_t max);

/* A stack of reusable block ids, so ids stay below the peak live count. */
typedef struct ht_idpool {
    uint64_t *free_ids;
    size_t nfree, cap;
    uint64_t next; /* first never-used id */
} ht_idpool;
void ht_idpool_init(ht_idpool *p);
void ht_idpool_free(ht_idpool *p);
/* The smallest-recently-freed id (LIFO), or a new one. */
uint64_t ht_idpool_get(ht_idpool *p);
int ht_idpool_put(ht_idpool *p, uint64_t id);

#endif /* HT_INTERNAL_H */
