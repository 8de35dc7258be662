/* ht_gen.h — trace generators.  Each generator streams events, one at a
 * time, into a callback (usually ht_writer_write through ht_gen_emit_writer)
 * and keeps only O(live set + threads) state, so traces of any length are
 * generated in bounded memory.  Parameters and their defaults are in
 * docs/trace-format.md ("Generators").
 */
#ifndef HT_GEN_H
#define HT_GEN_H

#include <stdint.h>

#include "ht_trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Receives each generated event; a negative return stops the generator,
 * which returns that value. */
typedef int (*ht_emit_fn)(void *ctx, const ht_event *ev);

/* An ht_emit_fn for an ht_writer (CTX is the ht_writer *). */
int ht_gen_emit_writer(void *ctx, const ht_event *ev);

/* ---- lran2: the PRNG of Larson (W. Gloger 1996), bit-exact ------------ */
typedef struct ht_lran2 {
    long x, y, v[97];
} ht_lran2;
void ht_lran2_init(ht_lran2 *g, long seed);
long ht_lran2_next(ht_lran2 *g);

/* ---- larson: op-for-op the mimalloc-bench larson program --------------- */
typedef struct ht_larson_params {
    uint32_t threads;     /* thread slots (larson's last argument) */
    uint64_t min_size;    /* sizes drawn from [min, max) (min when equal) */
    uint64_t max_size;
    uint32_t chunks;      /* blocks per slot */
    uint32_t rounds;      /* a thread does rounds x chunks free+alloc pairs */
    unsigned long seed;   /* larson's seed, as (unsigned) atoi(argv[6]) */
    uint32_t generations; /* threads per slot chain (replaces the time bound), at least 1 */
    uint32_t quantum;     /* slots interleave round-robin in runs of this many ops */
    /* glibc's allocation for every new thread: pthread_create callocs the
     * new thread's DTV (its table of thread-local storage) in the creating
     * thread, and it is freed only when the stack is reused, which never
     * happens in Larson (its threads are never joined).  Emitted by the
     * parent right after each thread_start as calloc(bytes / 16, 16), a
     * block id of its own (N + tid - 1), never freed; 0 leaves it out.  A
     * multiple of 16 (the entries are 16 bytes on 64-bit targets). */
    uint32_t thread_tls_bytes;
} ht_larson_params;
/* glibc 2.36 on x86-64 for mimalloc-bench's larson: calloc(20, 16).  The
 * entry count is 16 + the modules with thread-local storage, so it varies
 * by program and preload (docs/trace-format.md says how to measure it). */
#define HT_LARSON_TLS_BYTES 320
#define HT_LARSON_TLS_ENTRY 16
/* The seed's run: 4 threads, 8..128 B, 1024 chunks, 1 round, seed 12345,
 * 2000 generations (~2 s at 4.19 M ops/s), quantum 64, glibc's DTV. */
#define HT_LARSON_DEFAULTS {4, 8, 128, 1024, 1, 12345, 2000, 64, HT_LARSON_TLS_BYTES}
int ht_gen_larson(const ht_larson_params *p, ht_emit_fn emit, void *ctx);
/* Exact number of events ht_gen_larson emits for P. */
uint64_t ht_larson_event_count(const ht_larson_params *p);

/* ---- producer-consumer: every free is remote --------------------------- */
typedef struct ht_prodcons_params {
    uint32_t producers;
    uint32_t consumers;
    uint64_t blocks;   /* blocks each producer allocates in total */
    uint32_t batch;    /* blocks per hand-off */
    uint32_t depth;    /* batches a consumer's queue holds before it drains one */
    uint64_t min_size, max_size;
    uint64_t seed;
} ht_prodcons_params;
#define HT_PRODCONS_DEFAULTS {4, 4, 100000, 64, 4, 16, 256, 42}
int ht_gen_prodcons(const ht_prodcons_params *p, ht_emit_fn emit, void *ctx);

/* ---- thread churn: short-lived threads leave survivors (like mleak) ---- */
typedef struct ht_churn_params {
    uint32_t waves;     /* waves of threads, one after another */
    uint32_t width;     /* threads alive at once in a wave */
    uint32_t allocs;    /* blocks each thread allocates */
    uint32_t survivors; /* of those, blocks left live when it exits */
    uint32_t lifetime;  /* survivors are freed by a thread this many waves later; 0 = never */
    uint64_t min_size, max_size;
    uint64_t seed;
} ht_churn_params;
#define HT_CHURN_DEFAULTS {1000, 4, 256, 8, 2, 16, 512, 7}
int ht_gen_churn(const ht_churn_params *p, ht_emit_fn emit, void *ctx);

/* ---- phase change: a big live set built, then mostly freed ------------- */
typedef struct ht_phase_params {
    uint32_t threads;  /* worker threads */
    uint64_t blocks;   /* blocks each worker holds at the peak */
    uint32_t keep_pct; /* percent of them kept after the drop */
    uint32_t cycles;   /* build/drop cycles */
    uint64_t steady;   /* free+alloc pairs per worker after each drop */
    uint64_t min_size, max_size;
    uint64_t seed;
} ht_phase_params;
#define HT_PHASE_DEFAULTS {4, 50000, 5, 3, 20000, 16, 1024, 3}
int ht_gen_phase(const ht_phase_params *p, ht_emit_fn emit, void *ctx);

#ifdef __cplusplus
}
#endif
#endif /* HT_GEN_H */
