/* outfile.c: every file analysis writes goes through the project's output
 * module (common/include/hc_out.h): a temporary file beside the target,
 * fsync'd and renamed over it when complete, so an interrupted run never
 * leaves a truncated file and a failed write leaves the old one; a FIFO or
 * a device is written straight through, never replaced.  The stdio stream
 * writes a duplicate of the module's descriptor. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

int ha_out_open(ha_out *o, const char *dir, const char *name, ha_err *err) {
  memset(o, 0, sizeof *o);
  int rc = dir ? ha_join(o->path, sizeof o->path, dir, name, err)
               : snprintf(o->path, sizeof o->path, "%s", name) >= (int)sizeof o->path
                   ? ha_fail(err, HA_ERR_INPUT, "%s: path too long", name)
                   : 0;
  if (rc) return rc;
  int e = -hc_out_open(&o->out, o->path, 0);
  int fd = e ? -1 : dup(o->out.fd);
  if (!e && (fd < 0 || !(o->f = fdopen(fd, "w")))) {
    e = errno;
    if (fd >= 0) close(fd);
    hc_out_abort(&o->out);
  }
  if (e) return ha_fail(err, HA_ERR_INPUT, "%s: cannot write: %s", o->path, strerror(e));
  return 0;
}

int ha_out_commit(ha_out *o, ha_err *err) {
  int e = ferror(o->f) ? (errno ? errno : EIO) : 0;
  if (fclose(o->f) != 0 && !e) e = errno ? errno : EIO;
  o->f = NULL;
  if (e) {
    hc_out_abort(&o->out);
    return ha_fail(err, HA_ERR_INPUT, "%s: cannot write: %s", o->path, strerror(e));
  }
  int rc = hc_out_commit(&o->out);
  if (rc) return ha_fail(err, HA_ERR_INPUT, "%s: cannot write: %s", o->path, strerror(-rc));
  return 0;
}

void ha_out_abort(ha_out *o) {
  if (o->f) fclose(o->f);
  o->f = NULL;
  hc_out_abort(&o->out);
}

int ha_write_text(const char *dir, const char *name, const char *text, ha_err *err) {
  ha_out o;
  int rc = ha_out_open(&o, dir, name, err);
  if (rc) return rc;
  fputs(text, o.f);
  return ha_out_commit(&o, err);
}
