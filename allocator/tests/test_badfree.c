/* test_badfree.c: frees that are wrong are caught, under every preset.
 *
 * With on_bad_free=count each case must return -HAK_EBADFREE, count one
 * bad free, leave the heap consistent (hak_check) and never hand a block
 * out twice; correct frees of blocks the program never wrote must not look
 * like double frees. With the default (abort) a forked child must die of
 * SIGABRT at the bad free, after one log line naming the address.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "runner.h"
#include "testutil.h"

static hak_allocator *make_counting(hak_preset_t p) {
  char preset[64];
  snprintf(preset, sizeof preset, "preset=%s", hak_preset_name(p));
  return make_alloc((const char *[]){preset, "on_bad_free=count", NULL}, 0);
}

static uint64_t bad_frees(hak_allocator *a) {
  hak_stats s;
  hak_get_stats(a, &s);
  return s.bad_frees;
}

static void assert_consistent(hak_allocator *a) {
  char err[256] = "";
  if (hak_check(a, true, err, sizeof err) != 0) fail_msg("hak_check: %s", err);
}

/* After p was freed once: n allocations of its size get p at most once. */
static void assert_not_twice(hak_allocator *a, void *p, size_t size, int n) {
  void **got = calloc((size_t)n, sizeof *got);
  int seen = 0;
  for (int i = 0; i < n; i++) {
    got[i] = hak_malloc(a, size);
    assert_non_null(got[i]);
    seen += got[i] == p;
  }
  assert_true(seen <= 1);
  for (int i = 0; i < n; i++) assert_int_equal(hak_free(a, got[i]), 0);
  free(got);
}

typedef struct {
  hak_allocator *a;
  void *p;
  int rc;
} free_call;

static void free_on_runner(void *arg) {
  free_call *c = arg;
  c->rc = hak_free(c->a, c->p);
}

static void malloc_on_runner(void *arg) {
  free_call *c = arg;
  c->p = hak_malloc(c->a, 48);
  memset(c->p, 0x3c, 48);
}

/* Every case under one preset. */
static void cases_under(hak_preset_t preset) {
  hak_allocator *a = make_counting(preset);
  uint64_t want = 0;

  /* Local double frees: a written block, an 8-byte block, a calloc'd one. */
  static const size_t sizes[] = {32, 8, 4000};
  for (size_t i = 0; i < 3; i++) {
    unsigned char *p = i == 2 ? hak_calloc(a, 1, sizes[i]) : hak_malloc(a, sizes[i]);
    if (i == 0) memset(p, 0x5a, sizes[i]);
    assert_int_equal(hak_free(a, p), 0);
    assert_int_equal(hak_free(a, p), -HAK_EBADFREE);
    assert_int_equal(bad_frees(a), ++want);
    assert_not_twice(a, p, sizes[i], 64);
  }

  /* A repeat with another free between: found at the free (strict). */
  void *p1 = hak_malloc(a, 48), *q1 = hak_malloc(a, 48);
  assert_int_equal(hak_free(a, p1), 0);
  assert_int_equal(hak_free(a, q1), 0);
  assert_int_equal(hak_free(a, p1), -HAK_EBADFREE);
  assert_int_equal(bad_frees(a), ++want);
  assert_not_twice(a, p1, 48, 64);

  /* Blocks never written, allocated and freed over and over: no false
   * alarm (allocation clears the word a free list uses). */
  for (int i = 0; i < 2000; i++) {
    void *p = hak_malloc(a, 24);
    assert_int_equal(hak_free(a, p), 0);
  }
  assert_int_equal(bad_frees(a), want);

  /* A pointer inside a live block: refused, the block untouched. */
  unsigned char *blk = hak_malloc(a, 64);
  memset(blk, 1, 64);
  assert_int_equal(hak_free(a, blk + 8), -HAK_EBADFREE);
  assert_int_equal(bad_frees(a), ++want);
  assert_true(blk[0] == 1 && blk[8] == 1);
  assert_int_equal(hak_free(a, blk), 0);

  /* The second free from another thread (the remote path). */
  hak_runner *r = runner_start();
  void *p = hak_malloc(a, 32);
  assert_int_equal(hak_free(a, p), 0);
  free_call c = {a, p, 0};
  runner_call(r, free_on_runner, &c);
  assert_int_equal(c.rc, -HAK_EBADFREE);
  assert_int_equal(bad_frees(a), ++want);

  /* The first free remote, the second by the owner: the block waits on
   * the owner's remote stack, where the owner's check finds it. */
  free_call m = {a, NULL, 0};
  runner_call(r, malloc_on_runner, &m);
  assert_int_equal(hak_free(a, m.p), 0); /* remote push */
  runner_call(r, free_on_runner, &m);
  assert_int_equal(m.rc, -HAK_EBADFREE);
  assert_int_equal(bad_frees(a), ++want);
  runner_exit(r);

  /* A large block freed twice (its mapping waits in the cache). */
  void *big = hak_malloc(a, 200000);
  assert_int_equal(hak_free(a, big), 0);
  assert_int_equal(hak_free(a, big), -HAK_EBADFREE);
  assert_int_equal(bad_frees(a), ++want);

  assert_consistent(a);
  hak_destroy(a);
}

static void test_badfree_counted_under_every_preset(void **state) {
  (void)state;
  for (int p = 0; p < HAK_PRESET_COUNT; p++) cases_under((hak_preset_t)p);
}

/* ------------------------------------------------------------ abort */

static int log_fd = -1;

static void log_to_pipe(void *ctx, const char *line) {
  (void)ctx;
  if (write(log_fd, line, strlen(line)) < 0) _exit(3);
}

typedef enum {
  DOUBLE_LOCAL,      /* free p; free p: the list head */
  DOUBLE_REMOTE,     /* free p; another thread frees p: a later malloc (the
                        first free cached the block: its word looks like no list) */
  INTERIOR,          /* free(p + 16) */
  DOUBLE_LARGE,      /* a large block freed twice */
  DOUBLE_LATER,      /* free p; free q; free p: found by a later malloc */
  REMOTE_THEN_LOCAL, /* another thread frees p, then its owner: a later malloc */
} abort_case;

static void child_runs(abort_case which, int fd, void **announced) {
  log_fd = fd;
  hak_config cfg;
  char err[200];
  hak_config_default(&cfg);
  hak_create_opts opts = {.log = log_to_pipe, .no_trim_thread = true};
  hak_allocator *a;
  if (hak_create(&cfg, &opts, &a, err, sizeof err) != 0) _exit(3);
  unsigned char *p = hak_malloc(a, which == DOUBLE_LARGE ? 100000 : 64);
  memset(p, 9, 64);
  *announced = which == INTERIOR ? p + 16 : p;
  char line[64];
  int len = snprintf(line, sizeof line, "%p\n", *announced);
  if (write(fd, line, (size_t)len) != len) _exit(3);
  hak_runner *r = runner_start();
  free_call c = {a, p, 0};
  void *q = hak_malloc(a, 64);
  if (which == INTERIOR) {
    hak_free(a, *announced);
  } else if (which == REMOTE_THEN_LOCAL) {
    runner_call(r, free_on_runner, &c);
    hak_free(a, p);
  } else {
    hak_free(a, p);
    if (which == DOUBLE_LATER) {
      hak_free(a, q);
      hak_free(a, p);
    } else if (which == DOUBLE_REMOTE) {
      runner_call(r, free_on_runner, &c);
    } else {
      hak_free(a, p);
    }
  }
  /* Found later: no allocation may hand p out a second time first. */
  int got = 0;
  for (int i = 0; i < 100000; i++)
    if (hak_malloc(a, 64) == (void *)p && ++got == 2) _exit(4);
  _exit(0); /* not reached when the bad free aborts */
}

static void expect_abort(abort_case which, const char *fn, const char *what) {
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  /* The child writes the address it is about to free, one line, then the
   * allocator's log line follows through the same pipe. */
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    void *announced = NULL;
    child_runs(which, fds[1], &announced);
  }
  close(fds[1]);
  char buf[512] = "";
  size_t n = 0;
  ssize_t k;
  while (n < sizeof buf - 1 && (k = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)k;
  buf[n] = '\0';
  close(fds[0]);
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT)
    fail_msg("case %d: expected SIGABRT, status %d, log '%s'", which, st, buf);
  char *nl = strchr(buf, '\n');
  if (!nl) fail_msg("case %d: no address announced: '%s'", which, buf);
  *nl = '\0';
  const char *logged = nl + 1;
  /* A debug build checks every free in full (strict_free): what the
   * default build finds at the later malloc it finds at the free. */
  char want[700], strict[700]; /* buf is up to 511 bytes */
  snprintf(want, sizeof want, "[hakmem] %s(): %s: %s (block of ", fn, what, buf);
  snprintf(strict, sizeof strict, "[hakmem] free(): double free: %s (block of ", buf);
  bool ok = strncmp(logged, want, strlen(want)) == 0 ||
            (strcmp(fn, "malloc") == 0 && strncmp(logged, strict, strlen(strict)) == 0);
  if (!ok || strchr(logged, '\n') != NULL)
    fail_msg("case %d: log line '%s' does not start with '%s'", which, logged, want);
}

static void test_badfree_aborts_by_default(void **state) {
  (void)state;
  expect_abort(DOUBLE_LOCAL, "free", "double free");
  expect_abort(DOUBLE_REMOTE, "malloc", "double free or write after free");
  expect_abort(INTERIOR, "free", "pointer inside a block");
  expect_abort(DOUBLE_LARGE, "free", "double free");
  expect_abort(DOUBLE_LATER, "malloc", "double free or write after free");
  expect_abort(REMOTE_THEN_LOCAL, "malloc", "double free or write after free");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_badfree_counted_under_every_preset),
      cmocka_unit_test(test_badfree_aborts_by_default),
  };
  return cmocka_run_group_tests_name("allocator.badfree", tests, NULL, NULL);
}
