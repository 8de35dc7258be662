/* forktest.c: fork in a multi-threaded malloc program. Two threads
 * allocate and free without pause while the main thread forks; each child
 * starts threads of its own that allocate, free across threads, fork a
 * grandchild, and exit through exit() (so libhakmem.so's exit report
 * runs in the child too). Prints "fork: ok" and exits 0 when every child
 * exited 0.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static atomic_bool stop;

static void *busy(void *arg) {
  unsigned seed = (unsigned)(size_t)arg;
  void *keep[64] = {0};
  while (!atomic_load(&stop)) {
    unsigned i = (seed = seed * 1103515245u + 12345u) >> 16 & 63;
    free(keep[i]);
    keep[i] = malloc(1 + (seed >> 8) % 2000);
    if (keep[i]) memset(keep[i], 3, 1);
  }
  for (int i = 0; i < 64; i++) free(keep[i]);
  return NULL;
}

static void *child_worker(void *arg) {
  void **out = arg;
  for (int i = 0; i < 1000; i++) {
    char *p = malloc(16 + i % 500);
    if (!p) return (void *)1;
    memset(p, 'c', 16);
    if (i % 2) out[i] = p;  /* freed by the main thread of the child */
    else free(p);
  }
  return NULL;
}

static int child_main(int depth) {
  void *blocks[2][1000] = {{0}};
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    if (pthread_create(&t[i], NULL, child_worker, blocks[i]) != 0) return 1;
  int bad = 0;
  for (int i = 0; i < 2; i++) {
    void *r;
    pthread_join(t[i], &r);
    bad |= r != NULL;
  }
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 1000; j++) free(blocks[i][j]);
  if (depth == 0) {
    pid_t g = fork();
    if (g == 0) exit(child_main(1));
    int st;
    if (g < 0 || waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 0) bad = 1;
  }
  return bad;
}

int main(void) {
  pthread_t bg[2];
  for (int i = 0; i < 2; i++) pthread_create(&bg[i], NULL, busy, (void *)(size_t)(i + 1));
  int failed = 0;
  for (int k = 0; k < 20; k++) {
    pid_t c = fork();
    if (c == 0) exit(child_main(0));
    int st;
    if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) failed++;
  }
  atomic_store(&stop, true);
  for (int i = 0; i < 2; i++) pthread_join(bg[i], NULL);
  printf(failed ? "fork: %d children failed\n" : "fork: ok\n", failed);
  return failed ? 1 : 0;
}
