/* outfile.c: run.json goes through the project's output module
 * (common/include/hc_out.h): a temporary file in the destination's
 * directory, fsync'd and renamed over it, so a reader never sees a partial
 * file and a failed write leaves the old one; a FIFO or a device (-o
 * /dev/stdout) is written straight through, never replaced. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hc_out.h"
#include "internal.h"

int hr_write_json_file(const char *path, json_t *doc, char *err, size_t errlen) {
  hc_out out;
  int rc = hc_out_open(&out, path, 0);
  if (rc == 0 && (json_dump_callback(doc, hc_out_json_cb, &out, JSON_INDENT(1) | JSON_PRESERVE_ORDER) != 0 ||
                  hc_out_write(&out, "\n", 1) != 0))
    rc = out.err ? -out.err : -EIO;
  if (rc == 0) rc = hc_out_commit(&out);
  else hc_out_abort(&out);
  if (rc != 0) {
    snprintf(err, errlen, "%s: cannot write: %s", path, strerror(-rc));
    return -1;
  }
  return 0;
}
