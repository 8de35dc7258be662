/* cli_util.h: what the replayer's end-to-end tests add to the shared test
 * helpers of analysis/tests/ha_testutil.h (running commands, temporary
 * directories, files, the paths meson gives). */
#ifndef HR_CLI_UTIL_H
#define HR_CLI_UTIL_H

#include <jansson.h>

#include "ha_testutil.h"

/* Loads run.json, dropping what legitimately differs between runs and
 * machines (host, trace.path). Fails the test if unreadable. */
json_t *load_run(const char *path);

#endif
