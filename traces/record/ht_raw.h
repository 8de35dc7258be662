/* ht_raw.h — the raw log that libhakrecord.so (the LD_PRELOAD recorder)
 * writes and `haktrace record` turns into a trace.  Shared by the two sides
 * only; the trace format proper is docs/trace-format.md.
 *
 * Layout of the file (sparse):
 *
 *   [0, HEADER)                 ht_raw_header (counters updated atomically)
 *   [SLOTS_OFF, CHUNKS_OFF)     HT_RAW_SLOTS slots of HT_RAW_CHUNK_BYTES: the
 *                               buffer of each live thread, MAP_SHARED
 *   [CHUNKS_OFF, ...)           chunks of HT_RAW_CHUNK_BYTES, appended with pwrite
 *
 * A thread writes its records into its slot, in place in the file's pages,
 * so whatever it committed survives _exit, a crash or SIGKILL: there is
 * nothing to flush at the end.  When the slot is full (and when the thread
 * exits) its content is copied (pwrite) into the next free chunk and the
 * slot is reused, so the slot's pages stay hot: writing fresh pages through a
 * mapping costs a page fault each, which on a paravirtualised host made
 * recording 20x slower.  Slots and chunks have the same layout: an
 * ht_raw_chunk header, then records.  A record is committed by the release
 * store of the header's n (records 0..n-1 are complete).
 *
 * Order: one atomic sequence counter; a thread's records, and its chunks by
 * chunk_no (then its slot, which holds chunk number chunk_no), are in
 * increasing seq order: each thread is one sorted run, and the global order
 * is the merge of the runs by seq.  A free takes its number before the real
 * free, an allocation after the real call returns, so a free never precedes
 * the allocation it ends.
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
#define HT_RAW_SLOTS 16384u /* threads alive at once with a slot; more record unsafely (see hakrecord.c) */
#define HT_RAW_SLOTS_OFF ((uint64_t)HT_RAW_HEADER_BYTES)
#define HT_RAW_CHUNKS_OFF (HT_RAW_SLOTS_OFF + (uint64_t)HT_RAW_SLOTS * HT_RAW_CHUNK_BYTES)

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
    uint64_t seq_op; /* seq << 8 | op */
    uint32_t tid;    /* recorder thread number: 0 = main, then 1, 2, ... in creation order */
    uint32_t aux;
    uint64_t a, b, c;
} ht_raw_rec; /* 40 bytes */

typedef struct ht_raw_chunk {
    uint32_t magic;    /* HT_RAW_CHUNK_MAGIC */
    uint32_t tid;
    uint64_t chunk_no; /* the thread's chunks are numbered 0, 1, ... */
    uint64_t n;        /* committed records (release store) */
    uint32_t in_use;   /* slots: 1 while a thread owns it */
    uint32_t pad;
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
    X(lost_records, "records dropped because the raw log could not grow (disk full)")      \
    X(slotless_threads, "threads beyond HT_RAW_SLOTS alive at once: buffered privately, "      \
                        "their unflushed records are lost if the program is killed")

#define HT_RAW_COUNTER_ENUM(name, what) HT_RAW_C_##name,
enum { HT_RAW_COUNTERS(HT_RAW_COUNTER_ENUM) HT_RAW_NCOUNTERS };

typedef struct ht_raw_header {
    char magic[8]; /* HT_RAW_MAGIC, written last by the recorder's initialisation */
    uint32_t version;
    uint32_t rec_bytes;   /* sizeof(ht_raw_rec) */
    uint32_t chunk_bytes; /* HT_RAW_CHUNK_BYTES */
    uint32_t pad;
    uint64_t pid;
    uint64_t chunks; /* chunks claimed (atomic); chunk i is at CHUNKS_OFF + i x CHUNK */
    uint64_t slots;  /* slots ever used (atomic): slot i is at SLOTS_OFF + i x CHUNK */
    uint64_t counters[HT_RAW_NCOUNTERS];
} ht_raw_header;

#endif /* HT_RAW_H */
