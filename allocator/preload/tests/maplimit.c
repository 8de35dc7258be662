/* maplimit.c: malloc until NULL. Run under libhakmem.so with a small
 * HAKMEM_SS_MAP_LIMIT: the NULL must come with errno ENOMEM after at most
 * limit SuperSlabs' worth of blocks, the program must keep working (frees,
 * allocations that fit existing slabs, the large path), and after freeing
 * everything it exits 0.
 *
 *   maplimit SIZE MAX_BLOCKS
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  size_t size = (size_t)atol(argv[1]), max = (size_t)atol(argv[2]);
  void **v = malloc(max * sizeof *v);
  if (!v) return 1;
  size_t n = 0;
  int err = 0;
  while (n < max) {
    errno = 0;
    void *p = malloc(size);
    if (!p) {
      err = errno;
      break;
    }
    memset(p, 1, size);
    v[n++] = p;
  }
  if (n == max) {
    printf("maplimit: no NULL after %zu blocks\n", n);
    return 1;
  }
  printf("maplimit: NULL after %zu blocks of %zu bytes, errno=%s\n", n, size,
         err == ENOMEM ? "ENOMEM" : strerror(err));
  int ok = err == ENOMEM && n > 0;
  /* Still usable: a freed block's room is handed out again. */
  free(v[--n]);
  void *again = malloc(size);
  ok = ok && again != NULL;
  v[n++] = again;
  void *big = malloc(100000); /* large objects are not SuperSlabs */
  ok = ok && big != NULL;
  free(big);
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
  printf("maplimit: %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
