/* outfile.c — buffered output to a temporary file next to the target,
 * renamed over it only when complete, so an interrupted writer never
 * leaves a truncated trace under the final name.  Errors are sticky: the
 * first errno is kept and every later call fails with HT_EIO.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define OUT_BUF_MIN (64u << 10) /* grows to OUT_BUF_MAX as the output does */
#define OUT_BUF_MAX (1u << 20)

int ht_out_open(ht_out *o, const char *path)
{
    memset(o, 0, sizeof *o);
    o->fd = -1;
    size_t n = strlen(path);
    o->final_path = strdup(path);
    o->tmp_path = malloc(n + 16);
    o->buf = malloc(OUT_BUF_MIN);
    if (!o->final_path || !o->tmp_path || !o->buf) {
        ht_out_abort(o);
        return HT_ENOMEM;
    }
    o->cap = OUT_BUF_MIN;
    /* Same directory, so the final rename is atomic. */
    snprintf(o->tmp_path, n + 16, "%s.tmp.XXXXXX", path);
    o->fd = mkstemp(o->tmp_path);
    if (o->fd < 0) {
        o->err = errno;
        free(o->tmp_path);
        o->tmp_path = NULL;
        return HT_EIO;
    }
    /* mkstemp makes 0600; give the file the usual umask-derived mode. */
    mode_t um = umask(022);
    umask(um);
    (void)fchmod(o->fd, 0666 & ~um);
    return 0;
}

int ht_out_flush(ht_out *o)
{
    if (o->err)
        return HT_EIO;
    size_t done = 0;
    while (done < o->len) {
        ssize_t w = write(o->fd, o->buf + done, o->len - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            o->err = errno;
            return HT_EIO;
        }
        done += (size_t)w;
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
    if (pwrite(o->fd, data, len, (off_t)offset) != (ssize_t)len) {
        o->err = errno ? errno : EIO;
        return HT_EIO;
    }
    return 0;
}

int ht_out_commit(ht_out *o)
{
    int rc = ht_out_flush(o);
    if (rc == 0 && close(o->fd) < 0) {
        o->err = errno;
        rc = HT_EIO;
    }
    o->fd = -1;
    if (rc == 0 && rename(o->tmp_path, o->final_path) < 0) {
        o->err = errno;
        rc = HT_EIO;
    }
    if (rc == 0) {
        free(o->tmp_path);
        o->tmp_path = NULL;
    }
    int err = o->err;
    ht_out_abort(o);
    o->err = err;
    return rc;
}

void ht_out_abort(ht_out *o)
{
    if (o->fd >= 0)
        close(o->fd);
    o->fd = -1;
    if (o->tmp_path)
        unlink(o->tmp_path);
    free(o->tmp_path);
    free(o->final_path);
    free(o->buf);
    o->tmp_path = o->final_path = o->buf = NULL;
}
