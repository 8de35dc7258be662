/* ha_testutil.c: see ha_testutil.h. */
#include "ha_testutil.h"

#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

extern char **environ;

char *ha_test_slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  if (buf) buf[n] = '\0';
  if (len) *len = (size_t)n;
  fclose(f);
  return buf;
}

int ha_test_run(const char *const *argv, char **out, char **err) {
  char outp[] = "/tmp/ha-test-out-XXXXXX", errp[] = "/tmp/ha-test-err-XXXXXX";
  int ofd = mkstemp(outp), efd = mkstemp(errp);
  if (ofd < 0 || efd < 0) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, ofd, 1);
  posix_spawn_file_actions_adddup2(&fa, efd, 2);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(ofd);
  close(efd);
  int status = -1;
  if (rc == 0 && waitpid(pid, &status, 0) == pid)
    status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (out) *out = ha_test_slurp(outp, NULL);
  if (err) *err = ha_test_slurp(errp, NULL);
  unlink(outp);
  unlink(errp);
  return status;
}

const char *ha_test_env(const char *var) {
  const char *p = getenv(var);
  if (!p) fail_msg("environment variable %s is not set (run through meson test)", var);
  return p;
}

const char *ha_test_src(const char *rel) {
  static char buf[4096];
  snprintf(buf, sizeof buf, "%s/%s", ha_test_env("HAK_TEST_SOURCE_DIR"), rel);
  return buf;
}

char *ha_test_mkdir(void) {
  char *d = strdup("/tmp/ha-test-XXXXXX");
  if (!d || !mkdtemp(d)) fail_msg("mkdtemp failed");
  return d;
}

void ha_test_rmdir(char *dir) {
  const char *argv[] = {"/bin/rm", "-rf", dir, NULL};
  if (ha_test_run(argv, NULL, NULL) != 0) fprintf(stderr, "could not remove %s\n", dir);
  free(dir);
}

char *ha_test_path(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  assert_non_null(p);
  snprintf(p, n, "%s/%s", dir, name);
  return p;
}

char *ha_test_write(const char *dir, const char *name, const char *text) {
  char *p = ha_test_path(dir, name);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return p;
}
