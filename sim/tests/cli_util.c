/* cli_util.c: see cli_util.h. */
#include "cli_util.h"

#include <fcntl.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

extern char **environ;

char *slurp(const char *path) {
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
  fclose(f);
  return buf;
}

int run_cmd(const char *const *argv, char **out, char **err) {
  char outp[] = "/tmp/hr-test-out-XXXXXX", errp[] = "/tmp/hr-test-err-XXXXXX";
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
  if (out) *out = slurp(outp);
  if (err) *err = slurp(errp);
  unlink(outp);
  unlink(errp);
  return status;
}

const char *tool(const char *var) {
  const char *p = getenv(var);
  if (!p) fail_msg("environment variable %s is not set (run through meson test)", var);
  return p;
}

char *make_dir(void) {
  char *d = strdup("/tmp/hr-test-XXXXXX");
  if (!d || !mkdtemp(d)) fail_msg("mkdtemp failed");
  return d;
}

void cleanup_dir(char *dir) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  free(dir);
}

json_t *load_run(const char *path) {
  json_error_t e;
  json_t *d = json_load_file(path, JSON_PRESERVE_ORDER, &e);
  if (!d) fail_msg("%s: %s (line %d)", path, e.text, e.line);
  json_object_del(d, "host");
  json_object_del(json_object_get(d, "trace"), "path");
  return d;
}
