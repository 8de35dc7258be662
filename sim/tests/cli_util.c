/* cli_util.c: see cli_util.h. */
#include "cli_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

json_t *load_run(const char *path) {
  json_error_t e;
  json_t *d = json_load_file(path, JSON_PRESERVE_ORDER, &e);
  if (!d) fail_msg("%s: %s (line %d)", path, e.text, e.line);
  json_object_del(d, "host");
  json_object_del(json_object_get(d, "trace"), "path");
  return d;
}
