/* haktrace_gen.c — `haktrace gen KIND [--param V]... -o FILE`: parses each
 * generator's parameters from one table per kind (which also prints the
 * help and fills the trace's meta), then streams the generator into a
 * writer.  The output appears only when complete (temporary file, rename).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "haktrace.h"
#include "ht_gen.h"

typedef enum { P_U32, P_U64, P_SEED } ptype;
typedef struct param {
    const char *name;
    ptype type;
    void *ptr;
    const char *help;
} param;

typedef struct kind {
    const char *name;
    const char *summary;
    const param *params;
    int (*run)(const void *p, ht_emit_fn emit, void *ctx);
    const void *p;
} kind;

static ht_larson_params larson = HT_LARSON_DEFAULTS;
static ht_prodcons_params prodcons = HT_PRODCONS_DEFAULTS;
static ht_churn_params churn = HT_CHURN_DEFAULTS;
static ht_phase_params phase = HT_PHASE_DEFAULTS;

static const param larson_params[] = {
    {"threads", P_U32, &larson.threads, "thread slots"},
    {"min", P_U64, &larson.min_size, "smallest block size"},
    {"max", P_U64, &larson.max_size, "sizes are drawn from [min, max) (min when equal)"},
    {"chunks", P_U32, &larson.chunks, "blocks per slot"},
    {"rounds", P_U32, &larson.rounds, "a thread does rounds x chunks free+alloc pairs"},
    {"seed", P_SEED, &larson.seed, "larson's seed (read as larson reads argv[6])"},
    {"generations", P_U32, &larson.generations, "threads per slot chain (at least 1)"},
    {"quantum", P_U32, &larson.quantum, "slots interleave round-robin in runs of Q ops"},
    {"thread-tls-bytes", P_U32, &larson.thread_tls_bytes,
     "glibc's calloc per new thread (its DTV) by the creator, never\n"
     "                     freed; 0 = none; a multiple of 16 (glibc 2.36 x86-64: calloc(20, 16))"},
    {NULL, P_U32, NULL, NULL},
};
static const param prodcons_params[] = {
    {"producers", P_U32, &prodcons.producers, "producer threads"},
    {"consumers", P_U32, &prodcons.consumers, "consumer threads"},
    {"blocks", P_U64, &prodcons.blocks, "blocks each producer allocates"},
    {"batch", P_U32, &prodcons.batch, "blocks per hand-off"},
    {"depth", P_U32, &prodcons.depth, "batches a queue holds before its consumer frees one"},
    {"min", P_U64, &prodcons.min_size, "smallest block size"},
    {"max", P_U64, &prodcons.max_size, "sizes from [min, max)"},
    {"seed", P_U64, &prodcons.seed, "PRNG seed"},
    {NULL, P_U32, NULL, NULL},
};
static const param churn_params[] = {
    {"waves", P_U32, &churn.waves, "waves of threads, one after another"},
    {"width", P_U32, &churn.width, "threads alive at once in a wave"},
    {"allocs", P_U32, &churn.allocs, "blocks each thread allocates"},
    {"survivors", P_U32, &churn.survivors, "of those, blocks still live when it exits"},
    {"lifetime", P_U32, &churn.lifetime, "survivors are freed this many waves later (0 never)"},
    {"min", P_U64, &churn.min_size, "smallest block size"},
    {"max", P_U64, &churn.max_size, "sizes from [min, max)"},
    {"seed", P_U64, &churn.seed, "PRNG seed"},
    {NULL, P_U32, NULL, NULL},
};
static const param phase_params[] = {
    {"threads", P_U32, &phase.threads, "worker threads"},
    {"blocks", P_U64, &phase.blocks, "blocks each worker holds at the peak"},
    {"keep", P_U32, &phase.keep_pct, "percent of them kept after the drop"},
    {"cycles", P_U32, &phase.cycles, "build/drop/steady cycles"},
    {"steady", P_U64, &phase.steady, "free+alloc pairs per worker after each drop"},
    {"min", P_U64, &phase.min_size, "smallest block size"},
    {"max", P_U64, &phase.max_size, "sizes from [min, max)"},
    {"seed", P_U64, &phase.seed, "PRNG seed"},
    {NULL, P_U32, NULL, NULL},
};

static int run_larson(const void *p, ht_emit_fn e, void *c) { return ht_gen_larson(p, e, c); }
static int run_prodcons(const void *p, ht_emit_fn e, void *c) { return ht_gen_prodcons(p, e, c); }
static int run_churn(const void *p, ht_emit_fn e, void *c) { return ht_gen_churn(p, e, c); }
static int run_phase(const void *p, ht_emit_fn e, void *c) { return ht_gen_phase(p, e, c); }

static const kind kinds[] = {
    {"larson", "Larson (mimalloc-bench larson), op-for-op per thread", larson_params, run_larson,
     &larson},
    {"prodcons", "producer-consumer pipeline: every free is remote", prodcons_params,
     run_prodcons, &prodcons},
    {"churn", "waves of short-lived threads leaving survivors (mleak-like)", churn_params,
     run_churn, &churn},
    {"phase", "a big live set built, then mostly freed by another thread", phase_params,
     run_phase, &phase},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

static uint64_t param_value(const param *p)
{
    switch (p->type) {
    case P_U32: return *(uint32_t *)p->ptr;
    case P_U64: return *(uint64_t *)p->ptr;
    default: return *(unsigned long *)p->ptr;
    }
}

static void print_help(FILE *f, const kind *k)
{
    if (!k) {
        fprintf(f, "usage: haktrace gen KIND [--PARAM VALUE]... -o FILE\nkinds:\n");
        for (size_t i = 0; i < NKINDS; i++)
            fprintf(f, "  %-9s %s\n", kinds[i].name, kinds[i].summary);
        fprintf(f, "'haktrace gen KIND --help' lists its parameters and defaults.\n"
                   "FILE's extension (.json, .jsonl, .hkt) picks the encoding.\n");
        return;
    }
    fprintf(f, "usage: haktrace gen %s [--PARAM VALUE]... -o FILE\n%s.\nparameters (default):\n",
            k->name, k->summary);
    int w = 12;
    for (const param *p = k->params; p->name; p++)
        if ((int)strlen(p->name) > w)
            w = (int)strlen(p->name);
    for (const param *p = k->params; p->name; p++)
        fprintf(f, "  --%-*s %s (%llu)\n", w, p->name, p->help,
                (unsigned long long)param_value(p));
    fprintf(f, "  %-*s output trace; .json, .jsonl or .hkt\n"
               "See docs/trace-format.md (Generators) for what each workload models.\n",
            w + 2, "-o FILE");
}

static int set_param(const param *p, const char *kind_name, const char *val)
{
    char *end;
    errno = 0;
    if (p->type == P_SEED) {
        /* larson: unsigned seed = atoi(argv[6]) */
        long long v = strtoll(val, &end, 10);
        if (errno || *end || end == val || v < INT32_MIN || v > UINT32_MAX)
            goto bad;
        *(unsigned long *)p->ptr = (unsigned long)(unsigned)(int64_t)v;
        return 0;
    }
    if (val[0] == '-')
        goto bad;
    unsigned long long v = strtoull(val, &end, 10);
    if (errno || *end || end == val || (p->type == P_U32 && v > UINT32_MAX))
        goto bad;
    if (p->type == P_U32)
        *(uint32_t *)p->ptr = (uint32_t)v;
    else
        *(uint64_t *)p->ptr = v;
    return 0;
bad:
    fprintf(stderr, "haktrace gen %s: --%s: '%s' is not a valid value\n", kind_name, p->name, val);
    return -1;
}

static char *make_meta(const kind *k)
{
    json_t *m = json_object(), *ps = json_object();
    json_object_set_new(m, "generator", json_string(k->name));
    for (const param *p = k->params; p->name; p++)
        json_object_set_new(ps, p->name, json_integer((json_int_t)param_value(p)));
    json_object_set_new(m, "params", ps);
    /* The command that regenerates this trace (output name aside). */
    char cmd[1024];
    size_t n = (size_t)snprintf(cmd, sizeof cmd, "haktrace gen %s", k->name);
    for (const param *p = k->params; p->name && n < sizeof cmd; p++)
        n += (size_t)snprintf(cmd + n, sizeof cmd - n, " --%s %llu", p->name,
                              (unsigned long long)param_value(p));
    json_object_set_new(m, "command", json_string(cmd));
    char *s = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(m);
    return s;
}

typedef struct progress_ctx {
    ht_writer *w;
    uint64_t n;
} progress_ctx;

static int emit_with_progress(void *ctx, const ht_event *ev)
{
    progress_ctx *pc = ctx;
    if ((++pc->n & 0xffff) == 0)
        hk_progress(pc->n);
    return ht_writer_write(pc->w, ev);
}

int hk_cmd_gen(int argc, char **argv)
{
    if (argc < 2 || hk_is_help(argv[1])) {
        print_help(argc < 2 ? stderr : stdout, NULL);
        return argc < 2 ? HK_EXIT_INPUT : HK_EXIT_OK;
    }
    const kind *k = NULL;
    for (size_t i = 0; i < NKINDS; i++)
        if (strcmp(argv[1], kinds[i].name) == 0)
            k = &kinds[i];
    if (!k) {
        fprintf(stderr, "haktrace gen: unknown kind '%s' (try haktrace gen --help)\n", argv[1]);
        return HK_EXIT_INPUT;
    }
    const char *out = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (hk_is_help(a)) {
            print_help(stdout, k);
            return HK_EXIT_OK;
        }
        if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (++i >= argc)
                goto missing;
            out = argv[i];
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "haktrace gen %s: unexpected argument '%s'\n", k->name, a);
            return HK_EXIT_INPUT;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nl = eq ? (size_t)(eq - name) : strlen(name);
        const param *p = k->params;
        while (p->name && !(strlen(p->name) == nl && strncmp(p->name, name, nl) == 0))
            p++;
        if (!p->name) {
            fprintf(stderr, "haktrace gen %s: unknown parameter '%s' (try --help)\n", k->name, a);
            return HK_EXIT_INPUT;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val)
            goto missing;
        if (set_param(p, k->name, val) < 0)
            return HK_EXIT_INPUT;
    }
    if (!out) {
        fprintf(stderr, "haktrace gen %s: no output file (-o FILE)\n", k->name);
        return HK_EXIT_INPUT;
    }
    char *meta = make_meta(k);
    ht_writer *w;
    ht_error err;
    int rc = ht_writer_open(out, meta, 0, &w, &err);
    free(meta);
    if (rc < 0) {
        fprintf(stderr, "%s\n", err.text);
        return hk_exit_code(rc);
    }
    progress_ctx pc = {w, 0};
    hk_progress_start("generated");
    rc = k->run(k->p, emit_with_progress, &pc);
    hk_progress_end();
    if (rc == HT_EUSAGE && !ht_writer_error(w)[0]) {
        fprintf(stderr, "haktrace gen %s: inconsistent parameters (min <= max, counts >= 1, "
                        "sizes and thread totals within the limits; see --help)\n", k->name);
        ht_writer_abort(w);
        return HK_EXIT_INPUT;
    }
    if (rc < 0) {
        fprintf(stderr, "%s\n", ht_writer_error(w)[0] ? ht_writer_error(w) : "haktrace gen: out of memory");
        ht_writer_abort(w);
        /* A generator producing an invalid trace is a bug, not bad input. */
        return rc == HT_EFORMAT ? HK_EXIT_INTERNAL : hk_exit_code(rc);
    }
    if ((rc = ht_writer_close(w, &err)) < 0) {
        fprintf(stderr, "%s\n", err.text);
        return hk_exit_code(rc);
    }
    return HK_EXIT_OK;
missing:
    fprintf(stderr, "haktrace gen %s: '%s' needs a value\n", k->name, argv[argc - 1]);
    return HK_EXIT_INPUT;
}
