/* outfile.c — buffered output for the trace writers, on top of the
 * project's output module (common/include/hc_out.h): the trace goes to a
 * temporary file beside the target, fsync'd and renamed over it only when
 * complete, so an interrupted or failing writer never leaves a truncated
 * trace under the final name nor destroys what was there.  A trace's
 * header is patched at the end, so only regular files (or links to them)
 * are trace targets.  Errors are sticky: the first errno is kept and every
 * later call fails with HT_EIO.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define OUT_BUF_MIN (64u << 10) /* grows to OUT_BUF_MAX as the output does */
#define OUT_BUF_MAX (1u << 20)

int ht_out_open(ht_out *o, const char *path)
{
    memset(o, 0, sizeof *o);
    o->buf = malloc(OUT_BUF_MIN);
    if (!o->buf) {
        o->err = ENOMEM;
        return HT_ENOMEM;
    }
    o->cap = OUT_BUF_MIN;
    int rc = hc_out_open(&o->file, path, HC_OUT_SEEKABLE);
    if (rc < 0) {
        o->err = -rc;
        free(o->buf);
        o->buf = NULL;
        return HT_EIO;
    }
    return 0;
}

const char *ht_out_strerror(int err)
{
    if (err == ESPIPE)
        return "not a regular file (a trace's header is completed at the end, so traces are "
               "written to regular files only)";
    return strerror(err);
}

int ht_out_flush(ht_out *o)
{
    if (o->err)
        return HT_EIO;
    int rc = hc_out_write(&o->file, o->buf, o->len);
    if (rc < 0) {
        o->err = -rc;
        return HT_EIO;
    }
    o->flushed += o->len;
    /* A full buffer means a big output: use bigger writes. */
    if (o->len == o->cap && o->cap < OUT_BUF_MAX) {
        char *nb = realloc(o->buf, o->cap * 2);
        if (nb) {
            o->buf = nb;
            o->cap *= 2;
        }
    }
    o->len = 0;
    return 0;
}

char *ht_out_reserve(ht_out *o, size_t n)
{
    if (HT_UNLIKELY(o->len + n > o->cap)) {
        if (ht_out_flush(o) < 0 || n > o->cap)
            return NULL;
    }
    char *p = o->buf + o->len;
    o->len += n;
    return p;
}

int ht_out_write(ht_out *o, const void *data, size_t len)
{
    const char *d = data;
    while (len > 0) {
        if (o->len == o->cap && ht_out_flush(o) < 0)
            return HT_EIO;
        size_t k = o->cap - o->len < len ? o->cap - o->len : len;
        memcpy(o->buf + o->len, d, k);
        o->len += k;
        d += k;
        len -= k;
    }
    return o->err ? HT_EIO : 0;
}

int ht_out_patch(ht_out *o, uint64_t offset, const void *data, size_t len)
{
    if (ht_out_flush(o) < 0)
        return HT_EIO;
    int rc = hc_out_pwrite(&o->file, data, len, offset);
    if (rc < 0) {
        o->err = -rc;
        return HT_EIO;
    }
    return 0;
}

int ht_out_commit(ht_out *o)
{
    int rc = ht_out_flush(o);
    if (rc == 0) {
        int crc = hc_out_commit(&o->file);
        if (crc < 0) {
            o->err = -crc;
            rc = HT_EIO;
        }
    }
    int err = o->err;
    ht_out_abort(o);
    o->err = err;
    return rc;
}

void ht_out_abort(ht_out *o)
{
    hc_out_abort(&o->file);
    free(o->buf);
    o->buf = NULL;
}
