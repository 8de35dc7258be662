/* cli_util.h: running the project's commands from cmocka tests. */
#ifndef HR_CLI_UTIL_H
#define HR_CLI_UTIL_H

#include <jansson.h>

/* Runs argv (NULL-terminated) with stdout and stderr captured into *out and
 * *err (malloc'd, may be NULL); returns the exit status, or -1. */
int run_cmd(const char *const *argv, char **out, char **err);

/* Path of a built tool, from the environment variable named var. */
const char *tool(const char *var);

/* A fresh temporary directory for this test (removed by cleanup_dir). */
char *make_dir(void);
void cleanup_dir(char *dir);

/* Loads run.json, dropping what legitimately differs between runs and
 * machines (host, trace.path). Fails the test if unreadable. */
json_t *load_run(const char *path);

/* Reads a whole file (NULL if missing). */
char *slurp(const char *path);

#endif
