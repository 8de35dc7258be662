/* badfree.c: frees that are wrong, made on purpose, to see libhakmem.so
 * catch them (run.sh case badfree).
 *
 *   badfree MODE
 *     double         p = malloc(32); free(p); free(p)
 *     double-tiny    the same with an 8-byte block
 *     double-remote  the second free comes from another thread
 *     interior       free(p + 8) of a live 64-byte block
 *     large          a 100,000-byte block freed twice
 *
 * Before the bad free the program prints "badfree: ADDRESS" (the pointer
 * it is about to pass) and flushes, so the test can match it against the
 * allocator's message. Under HAKMEM_ON_BAD_FREE=abort the process must
 * die there with SIGABRT; under count it goes on, checks that the
 * allocator did not hand the block out twice, prints "badfree: survived"
 * and exits 0. Exit 2 on a bad mode, 1 on a failed check.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Through a volatile, so the compiler cannot see the double free. */
static void (*volatile free_fn)(void *) = free;

static void announce(const void *p) {
  printf("badfree: %p\n", p);
  fflush(stdout);
}

static void *free_in_thread(void *p) {
  announce(p);
  free_fn(p);
  return NULL;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  size_t size = strcmp(mode, "double-tiny") == 0 ? 8
                : strcmp(mode, "large") == 0     ? 100000
                : strcmp(mode, "interior") == 0  ? 64
                                                 : 32;
  if (strcmp(mode, "double") && strcmp(mode, "double-tiny") && strcmp(mode, "double-remote") &&
      strcmp(mode, "interior") && strcmp(mode, "large")) {
    fprintf(stderr, "usage: badfree double|double-tiny|double-remote|interior|large\n");
    return 2;
  }
  /* Volatile: the compiler must not reason about p after the frees. */
  unsigned char *volatile p = malloc(size);
  if (!p) return 1;
  memset(p, 0x11, size);
  if (strcmp(mode, "interior") == 0) {
    announce(p + 8);
    free_fn(p + 8);
    /* The block is still live and untouched. */
    if (p[0] != 0x11 || p[8] != 0x11) return 1;
    free(p);
  } else {
    free_fn(p);
    if (strcmp(mode, "double-remote") == 0) {
      pthread_t t;
      if (pthread_create(&t, NULL, free_in_thread, p) != 0) return 1;
      pthread_join(t, NULL);
    } else {
      announce(p);
      free_fn(p);
    }
    /* Freed once really: two allocations must not both get it. */
    void *a = malloc(size), *b = malloc(size);
    if (!a || !b || a == b) {
      printf("badfree: the block was handed out twice\n");
      return 1;
    }
    free(a);
    free(b);
  }
  printf("badfree: survived\n");
  return 0;
}
