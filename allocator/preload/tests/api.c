/* api.c: every function of the malloc family, with the results a program
 * may rely on; run under glibc and under libhakmem.so.
 *
 *   api            checks that hold under any allocator
 *   api --foreign  also frees and reallocs pointers no allocator handed
 *                  out (libhakmem.so counts and ignores them; glibc would
 *                  abort), so only run it under libhakmem.so
 * Prints "api: ok" and exits 0, or names each failed check and exits 1.
 */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int failures;

/* Through volatiles, so the compiler cannot see (and refuse at build time)
 * the impossible sizes and the foreign frees these checks make on purpose. */
static volatile size_t huge_half = SIZE_MAX / 2;
static void (*volatile free_fn)(void *) = free;
static void *(*volatile realloc_fn)(void *, size_t) = realloc;

#define CHECK(cond)                                                  \
  do {                                                               \
    if (!(cond)) {                                                   \
      printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);         \
      failures++;                                                    \
    }                                                                \
  } while (0)

static int all_zero(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return 0;
  return 1;
}

int main(int argc, char **argv) {
  size_t ps = (size_t)sysconf(_SC_PAGESIZE);
  /* malloc: every size up to the large path, written end to end. */
  static const size_t sizes[] = {0, 1, 7, 8, 9, 16, 24, 100, 128, 1000, 1024, 1025,
                                 4096, 5000, 65536, 1 << 20, 3 << 20};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    unsigned char *p = malloc(sizes[i]);
    CHECK(p != NULL);
    if (!p) continue;
    CHECK(malloc_usable_size(p) >= sizes[i]);
    if (sizes[i] >= 16) CHECK((uintptr_t)p % 16 == 0);
    memset(p, 0xAB, sizes[i]);
    free(p);
  }
  free(NULL);
  /* calloc: zero, also after the same sizes were freed dirty. */
  for (size_t i = 1; i < sizeof sizes / sizeof *sizes; i++) {
    unsigned char *p = calloc(1, sizes[i]);
    CHECK(p && all_zero(p, sizes[i]));
    free(p);
  }
  errno = 0;
  CHECK(calloc(huge_half, 4) == NULL && errno == ENOMEM);
  /* realloc: contents kept across every class change, both ways. */
  unsigned char *r = NULL;
  size_t prev = 0;
  static const size_t steps[] = {5, 50, 500, 5000, 50000, 700, 70, 7, 3000, 1};
  for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
    unsigned char *n = realloc(r, steps[i]);
    CHECK(n != NULL);
    if (!n) break;
    size_t keep = prev < steps[i] ? prev : steps[i];
    for (size_t j = 0; j < keep; j++)
      if (n[j] != (unsigned char)(j * 13)) {
        CHECK(!"realloc kept the contents");
        break;
      }
    for (size_t j = 0; j < steps[i]; j++) n[j] = (unsigned char)(j * 13);
    r = n;
    prev = steps[i];
  }
  free(r);
  /* reallocarray: overflow refused, else a realloc. */
  errno = 0;
  CHECK(reallocarray(NULL, huge_half, 3) == NULL && errno == ENOMEM);
  int *ra = reallocarray(NULL, 10, sizeof(int));
  CHECK(ra != NULL);
  free(ra);
  /* Alignment functions. */
  for (size_t al = 8; al <= (size_t)1 << 21; al <<= 1) {
    void *p = NULL;
    CHECK(posix_memalign(&p, al, 100) == 0 && p && (uintptr_t)p % al == 0);
    free(p);
    p = aligned_alloc(al, al * 2);
    CHECK(p && (uintptr_t)p % al == 0);
    free(p);
    p = memalign(al, 3000);
    CHECK(p && (uintptr_t)p % al == 0);
    free(p);
  }
  void *p = NULL;
  CHECK(posix_memalign(&p, 24, 100) == EINVAL);
  CHECK(posix_memalign(&p, 2, 100) == EINVAL);
  CHECK(posix_memalign(&p, 64, huge_half) == ENOMEM);
  p = valloc(10);
  CHECK(p && (uintptr_t)p % ps == 0);
  free(p);
  p = pvalloc(10);
  CHECK(p && (uintptr_t)p % ps == 0 && malloc_usable_size(p) >= ps);
  free(p);
  /* The big ones fail cleanly. */
  errno = 0;
  CHECK(malloc(huge_half * 2 - 100) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(realloc(NULL, huge_half + 1) == NULL && errno == ENOMEM);
  /* realloc to 0 frees (glibc and hakmem: NULL). */
  p = malloc(10);
  CHECK(realloc(p, 0) == NULL);

  if (argc > 1 && strcmp(argv[1], "--foreign") == 0) {
    /* A page of our own, and a pointer into a static array: neither came
     * from malloc. free must leave them alone (and count them). */
    unsigned char *page = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(page != MAP_FAILED);
    memset(page, 0x5A, ps);
    free_fn(page);
    free_fn(page + 64);
    static char st[256];
    free_fn(st + 16);
    CHECK(page[0] == 0x5A && page[64] == 0x5A);
    CHECK(malloc_usable_size(page) == 0);
    errno = 0;
    CHECK(realloc_fn(page, 100) == NULL && errno == ENOMEM);
    /* A pointer into the middle of a real block is refused too. */
    unsigned char *blk = malloc(64);
    memset(blk, 1, 64);
    free_fn(blk + 8);
    CHECK(blk[0] == 1 && blk[8] == 1);
    free(blk);
    munmap(page, ps);
  }
  if (failures) {
    printf("api: %d failures\n", failures);
    return 1;
  }
  printf("api: ok\n");
  return 0;
}
