/* hc_out.h: the one way hakmem-sim writes an output file, whatever the
 * tool (haktrace, hakreplay and its analysis commands, libhakmem.so's
 * HAKMEM_STATS_JSON).  What the target is decides how it is written:
 *
 *   missing, or a regular file   written to a temporary file in the same
 *                                directory (".NAME.XXXXXX.tmp"), flushed,
 *                                fsync'd and renamed over NAME: readers see
 *                                the old file or the whole new one, never a
 *                                part; an existing file keeps its mode
 *   a symbolic link              followed (to its final target, which may
 *                                not exist yet); the target is written by
 *                                these same rules and the link stays
 *   a FIFO or character device   written straight through (opened for
 *                                writing, never replaced or truncated), so
 *                                `-o /dev/stdout` or a pipe works; refused
 *                                (-ESPIPE) when the caller needs to seek
 *                                (HC_OUT_SEEKABLE: trace writers patch their
 *                                header at the end)
 *   a directory, socket or       refused (-EISDIR, -ENXIO, -ENOTBLK)
 *   block device
 *
 * Any failure (open, write, fsync, rename: ENOSPC, EIO, EFBIG, ...) is
 * returned as -errno, leaves the previous file untouched and removes the
 * temporary one.  Unless HC_OUT_NO_SIGNALS is given, the first open
 * installs handlers for SIGINT, SIGTERM, SIGHUP and SIGPIPE (only where the
 * disposition is still the default) that remove every temporary file still
 * open and then die of the signal as before, and ignores SIGXFSZ (where
 * default) so that a file-size limit is a write error (EFBIG), not a
 * silent death.  Libraries loaded into other programs pass
 * HC_OUT_NO_SIGNALS: a program's signals are its own.
 *
 * Nothing here allocates memory or prints (libhakmem.so writes its report
 * from a library destructor); buffering is the caller's.  Functions return
 * 0 or a negative errno.  One hc_out is used by one thread at a time.
 */
#ifndef HC_OUT_H
#define HC_OUT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* hc_out_open flags. */
#define HC_OUT_SEEKABLE 1u    /* the writer patches earlier bytes: regular files only */
#define HC_OUT_NO_SIGNALS 2u  /* leave the process's signal dispositions alone */

/* At most this many temporary files are removed by the signal handlers;
 * further ones are still written correctly, only not cleaned on a signal. */
#define HC_OUT_MAX_LIVE 32

typedef struct hc_out {
  bool is_open;           /* fd is ours (a zeroed hc_out is closed) */
  int fd;
  bool stream;            /* written straight through (FIFO, character device) */
  bool registered;        /* tmp is in the signal handlers' list */
  int err;                /* the first errno a write met (sticky) */
  uint64_t written;       /* bytes written so far */
  char target[PATH_MAX];  /* where the data ends up (symbolic links followed) */
  char tmp[PATH_MAX];     /* the temporary file, "" when streaming */
} hc_out;

/* Opens PATH for writing by the rules above. */
int hc_out_open(hc_out *o, const char *path, unsigned flags);
/* Writes all of BUF (retrying short writes and EINTR). */
int hc_out_write(hc_out *o, const void *buf, size_t len);
/* Overwrites LEN bytes at OFFSET (only on a file opened HC_OUT_SEEKABLE). */
int hc_out_pwrite(hc_out *o, const void *buf, size_t len, uint64_t offset);
/* Finishes: fsync, close, rename over the target (then fsync of its
 * directory); or for a stream, close.  After a failure the temporary file
 * is gone and the target untouched.  O is closed either way. */
int hc_out_commit(hc_out *o);
/* Drops the output: the temporary file is removed, the target untouched.
 * Safe on a closed, failed or zeroed hc_out.  An open hc_out must not move
 * in memory (the signal handlers hold a pointer to its tmp). */
void hc_out_abort(hc_out *o);
/* A jansson json_dump_callback_t for an hc_out (DATA is the hc_out *). */
int hc_out_json_cb(const char *buf, size_t len, void *data);

/* Removes every registered temporary file; async-signal-safe.  For
 * programs that install their own SIGINT/SIGTERM handlers. */
void hc_out_remove_temporaries(void);

#ifdef __cplusplus
}
#endif
#endif /* HC_OUT_H */
