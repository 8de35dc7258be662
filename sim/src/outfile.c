/* outfile.c: JSON output written to a temporary file in the destination's
 * directory and renamed over it, so a reader never sees a partial file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

int hr_write_json_file(const char *path, json_t *doc, char *err, size_t errlen) {
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
  int rc = json_dumpf(doc, f, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
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
