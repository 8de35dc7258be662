/* outfile.c: output files are written to "NAME.tmp.PID" beside their final
 * name and renamed into place only when complete, so an interrupted run
 * never leaves a truncated file (architecture.md, exit codes). */
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
  int len = snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld", o->path, (long)getpid());
  if (len < 0 || (size_t)len >= sizeof o->tmp)
    return ha_fail(err, HA_ERR_INPUT, "%s: path too long", o->path);
  o->f = fopen(o->tmp, "w");
  if (!o->f) return ha_fail(err, HA_ERR_INPUT, "%s: cannot write: %s", o->tmp, strerror(errno));
  return 0;
}

int ha_out_commit(ha_out *o, ha_err *err) {
  int bad = ferror(o->f);
  int e = errno;
  if (fclose(o->f) != 0 && !bad) {
    bad = 1;
    e = errno;
  }
  o->f = NULL;
  if (bad) {
    unlink(o->tmp);
    return ha_fail(err, HA_ERR_INTERNAL, "%s: write failed: %s", o->path, strerror(e));
  }
  if (rename(o->tmp, o->path) != 0) {
    e = errno;
    unlink(o->tmp);
    return ha_fail(err, HA_ERR_INTERNAL, "%s: cannot rename into place: %s", o->path, strerror(e));
  }
  return 0;
}

void ha_out_abort(ha_out *o) {
  if (o->f) fclose(o->f);
  o->f = NULL;
  if (o->tmp[0]) unlink(o->tmp);
}

int ha_write_text(const char *dir, const char *name, const char *text, ha_err *err) {
  ha_out o;
  int rc = ha_out_open(&o, dir, name, err);
  if (rc) return rc;
  fputs(text, o.f);
  return ha_out_commit(&o, err);
}
