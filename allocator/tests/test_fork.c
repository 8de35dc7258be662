/* test_fork.c: an instance stays usable in both processes after fork(),
 * with the handlers called as pthread_atfork would; in the child the other
 * threads' caches have gone through the exit path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "runner.h"
#include "testutil.h"

/* Child: exit code 0 when every check passes, else the failing check. */
static int child_checks(hak_allocator *a, void **theirs, int n) {
  hak_stats s;
  hak_get_stats(a, &s);
  if (s.threads_exited != 1) return 10; /* the runner thread's cache, at fork */
  if (s.slabs_orphaned != 1) return 11;
  for (int i = 0; i < n; i++)
    if (hak_free(a, theirs[i]) != 0) return 12; /* remote frees into the orphan */
  void *p[1000];
  for (int i = 0; i < 1000; i++) {
    p[i] = hak_malloc(a, 8 + i % 500);
    if (!p[i]) return 13;
    memset(p[i], 0x5a, 8);
  }
  for (int i = 0; i < 1000; i++)
    if (hak_free(a, p[i]) != 0) return 14;
  hak_trim(a, NULL, NULL, 0);
  return 0;
}

/* ThreadSanitizer refuses to start threads in the child of a multi-threaded
 * fork, so under it the trim thread (which the child restarts) stays off. */
#if defined(__SANITIZE_THREAD__)
#define WITH_TRIM_THREAD 0
#else
#define WITH_TRIM_THREAD 1
#endif

/* Also with compaction=mesh, whose SuperSlabs are shared mappings of a
 * memfd: the child writes into a block the parent holds and frees and
 * allocates in SuperSlabs the parent uses, and the parent sees none of it. */
static void fork_both_keep_working(const char *compaction) {
  hak_allocator *a = make_alloc(
      (const char *[]){"preset=adopt", "idle_trim_ms=5", compaction, NULL}, WITH_TRIM_THREAD);
  hak_runner *t = runner_start();
  void *theirs[16];
  test_batch b = {a, theirs, 0, 16, 48};
  runner_call(t, batch_alloc, &b);
  void *mine = hak_malloc(a, 100);
  memset(mine, 0x11, 100);
  hak_fork_prepare(a);
  pid_t pid = fork();
  if (pid == 0) {
    hak_fork_child(a);
    memset(mine, 0x22, 100);
    _exit(child_checks(a, theirs, 16));
  }
  hak_fork_parent(a);
  assert_true(pid > 0);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  /* The parent is untouched: its runner thread still owns its blocks. */
  hak_stats s;
  hak_get_stats(a, &s);
  assert_int_equal(s.threads_exited, 0);
  for (int i = 0; i < 100; i++) assert_int_equal(((unsigned char *)mine)[i], 0x11);
  char err[256];
  if (hak_check(a, false, err, sizeof err) != 0) fail_msg("hak_check: %s", err);
  runner_call(t, batch_free, &b);
  runner_exit(t);
  assert_int_equal(hak_free(a, mine), 0);
  if (hak_check(a, false, err, sizeof err) != 0) fail_msg("hak_check: %s", err);
  hak_destroy(a);
}

static void test_fork_child_and_parent_keep_working(void **state) {
  (void)state;
  fork_both_keep_working("compaction=none");
}

static void test_fork_memfd_child_copies_the_heap(void **state) {
  (void)state;
  fork_both_keep_working("compaction=mesh");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fork_child_and_parent_keep_working),
      cmocka_unit_test(test_fork_memfd_child_copies_the_heap),
  };
  return cmocka_run_group_tests_name("allocator.fork", tests, NULL, NULL);
}
