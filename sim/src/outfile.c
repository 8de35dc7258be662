/* outfile.c: JSON output written to a temporary file in the destination's
 * directory and renamed over it, so a reader never sees a partial file;
 * and JSON text as jansson indents it (JSON_INDENT(1), keys in insertion
 * order) for a value nested at any depth, so a document can be written in
 * parts (run.json's event log comes from a spool file) and still be
 * byte-identical to one json_dumpf of the whole.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

int hr_json_put(FILE *f, const json_t *v, int depth) {
  /* jansson indents a nested value by depth x 1 space after each newline
   * and nothing else: dumping it alone and shifting its lines is the same. */
  char *text = json_dumps(v, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
  if (!text) return -1;
  int rc = 0;
  for (const char *p = text; *p && rc == 0; p++) {
    if (putc(*p, f) == EOF) rc = -1;
    if (*p == '\n')
      for (int i = 0; i < depth && rc == 0; i++)
        if (putc(' ', f) == EOF) rc = -1;
  }
  free(text);
  return rc;
}

int hr_write_file(const char *path, int (*write)(FILE *f, void *ctx), void *ctx, char *err,
                  size_t errlen) {
  size_t n = strlen(path) + 32;
  char *tmp = malloc(n);
  if (!tmp) {
    snprintf(err, errlen, "%s: out of memory", path);
    return -1;
  }
  snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    free(tmp);
    return -1;
  }
  errno = 0;
  int rc = write(f, ctx);
  rc |= fputc('\n', f) == EOF;
  rc |= fflush(f) != 0;
  rc |= fsync(fileno(f)) != 0;
  rc |= fclose(f) != 0;
  if (rc || rename(tmp, path) != 0) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno ? errno : EIO));
    unlink(tmp);
    free(tmp);
    return -1;
  }
  free(tmp);
  return 0;
}
