/* ha_testutil.h: what the analysis tests share: running a command and
 * capturing its output, temporary directories, files as text, and the
 * paths meson gives (HAK_TEST_SOURCE_DIR, HAKREPLAY, HAKTRACE). */
#ifndef HA_TESTUTIL_H
#define HA_TESTUTIL_H

#include <stddef.h>

/* The whole file, NUL-terminated (malloc'd), or NULL; *len if non-NULL. */
char *ha_test_slurp(const char *path, size_t *len);
/* Runs argv (argv[0] a path) with stdout and stderr captured into out and err (malloc'd, may
 * be NULL); returns the exit status, 128+signal, or -1. */
int ha_test_run(const char *const *argv, char **out, char **err);
/* An environment variable meson sets; fails the test when missing. */
const char *ha_test_env(const char *var);
/* source_dir/rel into a static buffer (one at a time). */
const char *ha_test_src(const char *rel);
char *ha_test_mkdir(void);
void ha_test_rmdir(char *dir);
/* dir/name, malloc'd. */
char *ha_test_path(const char *dir, const char *name);
/* Writes text to dir/name; returns the path (malloc'd). */
char *ha_test_write(const char *dir, const char *name, const char *text);

#endif
