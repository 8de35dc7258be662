/* rec_prog.c — the programs the recorder's tests record, one mode per
 * behaviour: threads (waves of workers, cross-thread frees both ways),
 * reuse (the same address handed out twice), variety (every entry point),
 * exit (_exit while a thread allocates), signal (SIGKILL likewise), fork
 * (a child that allocates, then one that execs), unknown (frees of blocks
 * the recorder never saw).  Marker sizes (777, 555, ...) let the test
 * script find the program's own calls among libc's.
 */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define GIFT 20  /* blocks of 777 bytes main gives each worker to free */
#define BACK 10  /* blocks of 555 bytes each worker leaves for main */
#define LOCAL 100 /* 333-byte blocks each worker allocates and frees itself */

typedef struct job {
    void *gift[GIFT];
    void *back[BACK];
} job;

static void *worker(void *p)
{
    job *j = p;
    for (int i = 0; i < GIFT; i++)
        free(j->gift[i]);
    for (int i = 0; i < LOCAL; i++)
        free(malloc(333));
    for (int i = 0; i < BACK; i++)
        j->back[i] = malloc(555);
    return NULL;
}

static int mode_threads(int waves, int width)
{
    job *jobs = calloc((size_t)width, sizeof *jobs);
    pthread_t *t = calloc((size_t)width, sizeof *t);
    for (int w = 0; w < waves; w++) {
        for (int i = 0; i < width; i++) {
            for (int k = 0; k < GIFT; k++)
                jobs[i].gift[k] = malloc(777);
            if (pthread_create(&t[i], NULL, worker, &jobs[i]) != 0)
                return 1;
        }
        for (int i = 0; i < width; i++) {
            pthread_join(t[i], NULL);
            for (int k = 0; k < BACK; k++)
                free(jobs[i].back[k]);
        }
    }
    free(jobs);
    free(t);
    return 0;
}

static int mode_reuse(void)
{
    char *p = malloc(100);
    free(p);
    char *q = malloc(100); /* glibc's tcache hands p back */
    char *r = malloc(100);
    printf("reused %d\n", p == q);
    free(q);
    free(r);
    return p == q ? 0 : 1;
}

static int mode_variety(void)
{
    void *c = calloc(13, 7);
    char *g = malloc(16);
    g = realloc(g, 5000);          /* grows: a new block */
    g = realloc(g, 4000);          /* shrinks in place */
    void *rn = realloc(NULL, 333); /* = malloc */
    void *z = malloc(40);
    void *z2 = realloc(z, 0);      /* = free (glibc returns NULL) */
    void *pm = NULL;
    if (posix_memalign(&pm, 64, 1000) != 0)
        return 1;
    void *aa = aligned_alloc(2048, 6144);
    void *ma = memalign(256, 300);
    void *va = valloc(1234);
    void *pv = pvalloc(5000);
    free(c);
    free(g);
    free(rn);
    free(z2);
    free(pm);
    free(aa);
    free(ma);
    free(va);
    free(pv);
    return 0;
}

void *g_keep[64]; /* blocks left live (global, so the compiler keeps them) */

static void *spinner(void *p)
{
    (void)p;
    for (;;)
        free(malloc(4242));
    return NULL;
}

static int mode_end(int sig)
{
    pthread_t t;
    for (int i = 0; i < 50; i++)
        g_keep[i] = malloc(999); /* live at the end */
    if (pthread_create(&t, NULL, spinner, NULL) != 0)
        return 1;
    usleep(50000);
    fflush(stdout);
    if (sig)
        kill(getpid(), sig);
    _exit(3);
}

static int mode_fork(const char *self)
{
    for (int i = 0; i < 3; i++)
        g_keep[i] = malloc(1111);
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 3; i++)
            free(malloc(2222));
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    if ((pid = fork()) == 0) {
        execl(self, self, "child", (char *)NULL);
        _exit(127);
    }
    waitpid(pid, &st, 0);
    for (int i = 0; i < 3; i++)
        free(malloc(3333));
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

extern void *__libc_malloc(size_t); /* glibc's own entry, which the recorder does not see */

static int mode_unknown(void)
{
    for (int i = 0; i < 5; i++)
        free(__libc_malloc(77));
    return 0;
}

int main(int argc, char **argv)
{
    const char *m = argc > 1 ? argv[1] : "";
    if (strcmp(m, "threads") == 0 && argc == 4)
        return mode_threads(atoi(argv[2]), atoi(argv[3]));
    if (strcmp(m, "reuse") == 0)
        return mode_reuse();
    if (strcmp(m, "variety") == 0)
        return mode_variety();
    if (strcmp(m, "exit") == 0)
        return mode_end(0);
    if (strcmp(m, "signal") == 0)
        return mode_end(SIGKILL);
    if (strcmp(m, "fork") == 0)
        return mode_fork(argv[0]);
    if (strcmp(m, "child") == 0) {
        for (int i = 0; i < 3; i++)
            free(malloc(4444));
        return 0;
    }
    if (strcmp(m, "unknown") == 0)
        return mode_unknown();
    fprintf(stderr, "usage: rec-prog threads WAVES WIDTH | reuse | variety | exit | signal | "
                    "fork | child | unknown\n");
    return 2;
}
