/* ht_raw.h — the raw log that libhakrecord.so (the LD_PRELOAD recorder)
 * writes and `haktrace record` turns into a trace.  Shared by the two sides
 * only; the trace format proper is docs/trace-format.md.
 *
 * The file is a MAP_SHARED mapping written in place by the recorded
 * process, so whatever it stored survives _exit, a crash or SIGKILL: there
 * is nothing to flush.  Layout:
 *
 *   [0, HT_RAW_HEADER_BYTES)   ht_raw_header (counters updated atomically)
 *   then chunks of HT_RAW_CHUNK_BYTES, claimed one at a time by threads:
 *     ht_raw_chunk header, then HT_RAW_CHUNK_RECS records of one thread.
 *
 * A record is committed by the release store of its seq_op word (seq << 8 |
 * op), written after its other fields; a zero seq_op ends a chunk.  Within a
 * thread, records (and chunks, by chunk_no) are in increasing seq order: a
 * thread's chunks form one sorted run, and the global order is the merge of
 * the runs by seq.  Sequence numbers are taken from one atomic counter, for
 * a free before the real free, for an allocation after the real call
 * returns, so a free never precedes the allocation it ends.
 */
#ifndef HT_RAW_H
#define HT_RAW_H

#include <stdint.h>

#define HT_RAW_MAGIC "HAKRAW01"
#define HT_RAW_VERSION 1
#define HT_RAW_HEADER_BYTES 4096u
#define HT_RAW_CHUNK_BYTES 65536u
#define HT_RAW_CHUNK_MAGIC 0x48434b31u /* "1KCH" little-endian */
#define HT_RAW_CHUNK_HDR 64u
#define HT_RAW_CHUNK_RECS ((HT_RAW_CHUNK_BYTES - HT_RAW_CHUNK_HDR) / sizeof(ht_raw_rec))

/* Environment between `haktrace record` and the recorder. */
#define HT_RAW_ENV_FILE "HAKRECORD_FILE" /* the raw log, created empty by haktrace */
#define HT_RAW_ENV_PID "HAKRECORD_PID"   /* only the process with this pid records */

enum ht_raw_op {
    HT_RAW_MALLOC = 1,       /* a = result, b = size */
    HT_RAW_CALLOC = 2,       /* a = result, b = n, c = size */
    HT_RAW_MEMALIGN = 3,     /* a = result, b = align, c = size */
    HT_RAW_REALLOC = 4,      /* a = old, b = result, c = size (> 0; old, result non-NULL) */
    HT_RAW_FREE = 5,         /* a = pointer */
    HT_RAW_THREAD_START = 6, /* tid = creating thread, a = new thread; aux 1: parent unknown */
    HT_RAW_THREAD_EXIT = 7,  /* tid = the thread that ends */
};

typedef struct ht_raw_rec {
    uint64_t seq_op; /* seq << 8 | op; written last (release); 0 = not committed */
    uint32_t tid;    /* recorder thread number: 0 = main, then 1, 2, ... in creation order */
    uint32_t aux;
    uint64_t a, b, c;
} ht_raw_rec; /* 40 bytes */

typedef struct ht_raw_chunk {
    uint32_t magic; /* HT_RAW_CHUNK_MAGIC, written last when the chunk is claimed */
    uint32_t tid;
    uint64_t chunk_no; /* the thread's chunks are numbered 0, 1, ... */
} ht_raw_chunk;

/* Counters the recorder keeps in the header: name, meaning. */
#define HT_RAW_COUNTERS(X)                                                                      \
    X(bootstrap_calls, "allocations served from a static buffer while the recorder resolved "   \
                       "libc (dlsym recursion), before it was ready; not in the trace")         \
    X(bootstrap_frees, "frees and reallocs of those bootstrap blocks (ignored)")                \
    X(reentrant_calls, "calls made while the same thread was inside the recorder (a signal "    \
                       "handler, or libc calling back), passed to libc unrecorded")             \
    X(after_exit_calls, "calls by a thread after its thread_exit was recorded (late TLS "       \
                        "destructors), passed to libc unrecorded")                              \
    X(failed_calls, "allocations that returned NULL or an error (nothing to record)")          \
    X(lazy_threads, "threads not created through pthread_create, found at their first call "   \
                    "(their parent is recorded as unknown)")                                    \
    X(create_failures, "pthread_create calls that failed (recorded as a start and an exit)")   \
    X(forks, "fork() children: not recorded (they stop recording at once)")                    \
    X(excluded_processes, "other processes that loaded the recorder (exec'd children, a "       \
                          "re-exec): not recorded")                                             \
    X(lost_records, "records dropped because the raw log could not grow (disk full)")

#define HT_RAW_COUNTER_ENUM(name, what) HT_RAW_C_##name,
enum { HT_RAW_COUNTERS(HT_RAW_COUNTER_ENUM) HT_RAW_NCOUNTERS };

typedef struct ht_raw_header {
    char magic[8]; /* HT_RAW_MAGIC, written last by the recorder's initialisation */
    uint32_t version;
    uint32_t rec_bytes;   /* sizeof(ht_raw_rec) */
    uint32_t chunk_bytes; /* HT_RAW_CHUNK_BYTES */
    uint32_t pad;
    uint64_t pid;
    uint64_t chunks;  /* chunks claimed (atomic); chunk i is at HEADER + i x CHUNK */
    uint64_t counters[HT_RAW_NCOUNTERS];
} ht_raw_header;

#endif /* HT_RAW_H */
