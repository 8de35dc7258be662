/* ht_trace.h — the hakmem-sim trace library: one event model, three
 * encodings (.json, .jsonl, .hkt), streaming readers and writers that
 * validate every event as it passes.  docs/trace-format.md is the normative
 * description of the encodings and of the validation rules.
 *
 * Reading a trace (the replayer's loop):
 *
 *     ht_reader *r; ht_error err;
 *     if (ht_reader_open(path, 0, &r, &err) < 0) { puts(err.text); exit(2); }
 *     const ht_header *h = ht_reader_header(r);   // h->threads, h->meta_json
 *     ht_event ev; int rc;
 *     while ((rc = ht_reader_next(r, &ev)) > 0) { ... ev.op, ev.tid, ... }
 *     if (rc < 0) { puts(ht_reader_error(r)); ... }   // "FILE:LINE: event N: problem"
 *     ht_reader_close(r);
 *
 * Thread model: tid 0 is the main thread; it is running from the start and
 * has no thread_start event.  Every other thread t is started exactly once by
 * thread_start(t, parent) where parent is a running thread, may then emit
 * events, and may end with thread_exit(t).  The header's `threads` is the
 * number of threads (main included); thread ids are 0 .. threads-1, each
 * used.  A valid trace may end with live blocks and running threads.
 *
 * Block ids are trace-local integers (never addresses); an id is live
 * between the event that allocates it and the free/realloc that releases
 * it, and may be reused after that.
 *
 * Nothing here prints; failures return a negative HT_E* code and leave a
 * one-line message in an ht_error or behind ht_reader_error().
 */
#ifndef HT_TRACE_H
#define HT_TRACE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Format identity, shared by all encodings. */
#define HT_FORMAT_NAME "hakmem-trace"
#define HT_FORMAT_VERSION 1

/* Limits a valid trace respects (checked by the validator). */
#define HT_MAX_THREADS ((uint32_t)1 << 24)  /* threads per trace */
#define HT_MAX_SIZE ((uint64_t)1 << 40)     /* bytes per block, and calloc n*size */
#define HT_MAX_ALIGN ((uint64_t)1 << 30)    /* memalign alignment */
#define HT_MAX_ID ((uint64_t)INT64_MAX)     /* block ids are 0 .. 2^63-1 */
#define HT_MAX_META ((uint32_t)16 << 20)    /* bytes of meta as compact JSON, any encoding */
#define HT_MAX_JSON_BYTES ((uint64_t)32 << 20) /* a .json file (parsed whole: ~15x in memory) */

/* Error codes (returned negated). */
enum {
    HT_OK = 0,
    HT_EIO = -1,      /* the OS refused (open, read, write, rename, mmap) */
    HT_EFORMAT = -2,  /* the trace is malformed or breaks a validation rule */
    HT_ENOMEM = -3,   /* out of memory */
    HT_EUSAGE = -4,   /* bad argument (unknown extension, bad parameter) */
};

/* The operations; the numeric values are also the .hkt op codes. */
typedef enum ht_op {
    HT_OP_ALLOC = 1,        /* alloc(tid, id, size)            malloc */
    HT_OP_FREE = 2,         /* free(tid, id)                    free */
    HT_OP_CALLOC = 3,       /* calloc(tid, id, n, size)         calloc */
    HT_OP_REALLOC = 4,      /* realloc(tid, id, new_id, size)   realloc of a live block */
    HT_OP_MEMALIGN = 5,     /* memalign(tid, id, align, size)   memalign/posix_memalign/aligned_alloc */
    HT_OP_THREAD_START = 6, /* thread_start(tid, parent)        parent creates tid */
    HT_OP_THREAD_EXIT = 7,  /* thread_exit(tid) */
} ht_op;
#define HT_OP_COUNT 8 /* op codes are 1 .. HT_OP_COUNT-1 */

/* One event.  Fields an op does not use are zero. */
typedef struct ht_event {
    ht_op op;
    uint32_t tid;    /* the thread performing the event */
    uint32_t parent; /* thread_start: the creating thread */
    uint64_t id;     /* alloc, free, calloc, memalign: the block; realloc: the old block */
    uint64_t new_id; /* realloc: the new block (may equal id) */
    uint64_t size;   /* alloc, realloc, memalign: bytes; calloc: element size */
    uint64_t n;      /* calloc: element count */
    uint64_t align;  /* memalign: alignment, a power of two */
} ht_event;

/* The op's name as written in JSON ("alloc", "thread_start", ...), or NULL. */
const char *ht_op_name(ht_op op);

typedef enum ht_encoding {
    HT_ENC_NONE = 0,
    HT_ENC_JSON = 1,  /* .json  */
    HT_ENC_JSONL = 2, /* .jsonl */
    HT_ENC_HKT = 3,   /* .hkt   */
} ht_encoding;

/* The encoding a path names by its extension, or HT_ENC_NONE. */
ht_encoding ht_encoding_from_path(const char *path);

typedef struct ht_header {
    int version;         /* HT_FORMAT_VERSION */
    uint32_t threads;    /* threads in the trace, main included */
    int64_t event_count; /* events in the body, or -1 when the file does not say (.jsonl) */
    const char *meta_json; /* the meta object as compact JSON text (never NULL) */
} ht_header;

#define HT_ERROR_MAX 512
typedef struct ht_error {
    char text[HT_ERROR_MAX]; /* one line, no newline; "" when no error */
} ht_error;

/* ---- reading ---------------------------------------------------------- */

typedef struct ht_reader ht_reader;

/* Reader flags. */
#define HT_READ_NO_VALIDATE 1u /* check syntax and limits only, not liveness or thread rules */
#define HT_READ_MMAP 2u        /* .hkt: map the file instead of reading it in 1 MiB windows */

/* Opens PATH (encoding chosen by its extension) and reads the header.  On
 * failure *out is NULL and ERR holds "FILE:LINE: ...". */
int ht_reader_open(const char *path, unsigned flags, ht_reader **out, ht_error *err);
const ht_header *ht_reader_header(const ht_reader *r);
/* Next event: returns 1 and fills EV, 0 at the (valid) end, or a negative
 * code with the message in ht_reader_error().  After an error or the end,
 * it keeps returning the same result. */
int ht_reader_next(ht_reader *r, ht_event *ev);
const char *ht_reader_error(const ht_reader *r);
/* Events returned so far. */
uint64_t ht_reader_index(const ht_reader *r);
void ht_reader_close(ht_reader *r);

/* ---- writing ---------------------------------------------------------- */

typedef struct ht_writer ht_writer;

/* Writer flags. */
#define HT_WRITE_NO_VALIDATE 1u /* trust the caller (limits are still checked) */

/* Creates PATH (encoding by extension).  Output goes to a temporary file in
 * the same directory, renamed over PATH by ht_writer_close, so an
 * interrupted writer never leaves a partial PATH.  META_JSON is the text of
 * a JSON object (NULL for {}).  The header's thread and event counts are
 * computed from the events written. */
int ht_writer_open(const char *path, const char *meta_json, unsigned flags,
                   ht_writer **out, ht_error *err);
/* Appends one event; a validation failure or I/O error is sticky. */
int ht_writer_write(ht_writer *w, const ht_event *ev);
const char *ht_writer_error(const ht_writer *w);
uint64_t ht_writer_count(const ht_writer *w);
/* Finishes the file and renames it into place; frees W whatever happens.
 * On failure the temporary file is removed and ERR says why. */
int ht_writer_close(ht_writer *w, ht_error *err);
/* Drops the output (temporary file removed) and frees W. */
void ht_writer_abort(ht_writer *w);

#ifdef __cplusplus
}
#endif
#endif /* HT_TRACE_H */
