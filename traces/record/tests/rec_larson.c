/* rec_larson.c — a Larson-like program (docs/larson.md) for recording:
 * the warm-up by the main thread, then per slot a chain of threads, each
 * doing rounds x chunks free+alloc pairs on its slot's blocks before it
 * starts its successor and exits.  A count of generations replaces
 * larson's time bound, so the same arguments always do the same work.
 * Each thread joins its predecessor and the main thread joins the last of
 * each chain, so every thread has fully ended (TLS destructors included)
 * before the program exits and dead stacks never pile up.
 *
 * --never-join does what mimalloc-bench's larson does: threads are created
 * joinable and never joined, so no stack (nor glibc's DTV, the table of
 * thread-local storage that pthread_create callocs for each new thread)
 * is ever reused, and every pthread_create makes that calloc; the main
 * thread waits for the chains to end and exits with them unjoined.
 *
 * usage: rec-larson [--never-join] THREADS MIN MAX CHUNKS ROUNDS SEED GENERATIONS
 * prints the number of loaded modules with thread-local storage (glibc's
 * DTV has 16 more entries than that: 14 spare and 2 of its own), then the
 * elapsed seconds and operations per second, on stdout.
 */
#include <link.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* lran2: W. Gloger's table-shuffled LCG, as larson uses it. */
#define LR_M 714025
#define LR_A 1366
#define LR_C 150889
typedef struct lran2 {
    long x, y, v[97];
} lran2;

static void lran2_init(lran2 *d, long seed)
{
    long x = (LR_C - seed) % LR_M;
    if (x < 0)
        x = -x;
    for (int j = 0; j < 97; j++) {
        x = (LR_A * x + LR_C) % LR_M;
        d->v[j] = x;
    }
    d->x = (LR_A * x + LR_C) % LR_M;
    d->y = d->x;
}

static long lran2_next(lran2 *d)
{
    int j = (int)(d->y % 97);
    d->y = d->v[j];
    d->x = (LR_A * d->x + LR_C) % LR_M;
    d->v[j] = d->x;
    return d->y;
}

typedef struct slot {
    lran2 rng;
    char **blocks;
    int gens_left;
    pthread_t prev; /* the predecessor, joined by its successor */
    int has_prev;
} slot;

static int g_min, g_max, g_chunks, g_rounds;
static bool g_never_join;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_done = PTHREAD_COND_INITIALIZER;
static int g_running;

static size_t draw_size(lran2 *r)
{
    return g_max > g_min ? (size_t)(g_min + lran2_next(r) % (g_max - g_min)) : (size_t)g_min;
}

static void *worker(void *p)
{
    slot *s = p;
    if (s->has_prev && !g_never_join)
        pthread_join(s->prev, NULL);
    for (long k = 0; k < (long)g_rounds * g_chunks; k++) {
        int v = (int)(lran2_next(&s->rng) % g_chunks);
        free(s->blocks[v]);
        size_t n = draw_size(&s->rng);
        s->blocks[v] = malloc(n);
        s->blocks[v][0] = 'a';
        s->blocks[v][n - 1] = 'b';
    }
    s->prev = pthread_self();
    s->has_prev = 1;
    pthread_t t;
    if (--s->gens_left > 0 && pthread_create(&t, NULL, worker, s) == 0)
        return NULL;
    pthread_mutex_lock(&g_lock);
    g_running--;
    pthread_cond_signal(&g_done);
    pthread_mutex_unlock(&g_lock);
    return NULL;
}

/* Modules (the program, its libraries, preloads) with a TLS segment. */
static int count_tls(struct dl_phdr_info *info, size_t size, void *n)
{
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_TLS) {
            (*(int *)n)++;
            break;
        }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--never-join") == 0) {
        g_never_join = true;
        argv++;
        argc--;
    }
    if (argc != 8) {
        fprintf(stderr, "usage: rec-larson [--never-join] THREADS MIN MAX CHUNKS ROUNDS SEED GENERATIONS\n");
        return 2;
    }
    int tls_modules = 0;
    dl_iterate_phdr(count_tls, &tls_modules);
    printf("tls_modules=%d\n", tls_modules);
    int threads = atoi(argv[1]);
    g_min = atoi(argv[2]);
    g_max = atoi(argv[3]);
    g_chunks = atoi(argv[4]);
    g_rounds = atoi(argv[5]);
    unsigned seed = (unsigned)atoi(argv[6]);
    int gens = atoi(argv[7]);
    if (threads < 1 || g_min < 2 || g_max < g_min || g_chunks < 1 || g_rounds < 1 || gens < 1) {
        fprintf(stderr, "rec-larson: bad arguments\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    lran2 global;
    lran2_init(&global, (long)seed);
    long n = (long)threads * g_chunks;
    char **blocks = malloc((size_t)n * sizeof *blocks);
    for (long k = 0; k < n; k++)
        blocks[k] = malloc(draw_size(&global));
    for (long c = n; c > 0; c--) {
        long v = lran2_next(&global) % c;
        char *t = blocks[v];
        blocks[v] = blocks[c - 1];
        blocks[c - 1] = t;
    }
    for (long k = 0; k < 4 * n; k++) {
        long v = lran2_next(&global) % n;
        free(blocks[v]);
        blocks[v] = malloc(draw_size(&global));
    }
    slot *slots = calloc((size_t)threads, sizeof *slots);
    g_running = threads;
    for (int i = 0; i < threads; i++) {
        int s = (int)lran2_next(&global);
        lran2_init(&slots[i].rng, s);
        slots[i].blocks = blocks + (long)i * g_chunks;
        slots[i].gens_left = gens;
    }
    for (int i = 0; i < threads; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, &slots[i]) != 0) {
            fprintf(stderr, "rec-larson: pthread_create failed\n");
            return 1;
        }
    }
    pthread_mutex_lock(&g_lock);
    while (g_running > 0)
        pthread_cond_wait(&g_done, &g_lock);
    pthread_mutex_unlock(&g_lock);
    for (int i = 0; i < threads && !g_never_join; i++)
        pthread_join(slots[i].prev, NULL); /* the last of each chain */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    double ops = (double)threads * gens * g_rounds * g_chunks;
    printf("rec-larson: %.3f s, %.0f ops/s\n", secs, ops / secs);
    for (long k = 0; k < n; k++)
        free(blocks[k]);
    free(blocks);
    free(slots);
    return 0;
}
