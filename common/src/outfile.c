/* outfile.c: output files that never destroy what they replace (hc_out.h
 * states the rules).  Invariants: a target is only ever replaced by rename
 * of a complete, fsync'd temporary file in its own directory, so a crash,
 * a signal or a write error leaves either the old file or the new one; a
 * non-regular target is never unlinked, truncated or replaced; every
 * temporary file this process has open is listed in `live` (until it is
 * renamed or removed), which is what the signal handlers clean.
 */
#include "hc_out.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- temporary files the signal handlers remove ---------------------- */

static _Atomic(const char *) live[HC_OUT_MAX_LIVE];

static bool live_add(const char *tmp) {
  for (int i = 0; i < HC_OUT_MAX_LIVE; i++) {
    const char *expect = NULL;
    if (atomic_compare_exchange_strong(&live[i], &expect, tmp)) return true;
  }
  return false;
}

static void live_del(const char *tmp) {
  for (int i = 0; i < HC_OUT_MAX_LIVE; i++) {
    const char *expect = tmp;
    if (atomic_compare_exchange_strong(&live[i], &expect, NULL)) return;
  }
}

void hc_out_remove_temporaries(void) {
  for (int i = 0; i < HC_OUT_MAX_LIVE; i++) {
    const char *p = atomic_load(&live[i]);
    if (p) unlink(p);
  }
}

static const int cleanup_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};

static void on_signal(int sig) {
  int saved = errno;
  hc_out_remove_temporaries();
  /* Die of the signal as the default disposition would: the signal is
   * blocked while this handler runs, so it is delivered on return. */
  struct sigaction dfl = {.sa_handler = SIG_DFL};
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, NULL);
  raise(sig);
  errno = saved;
}

static void install_handlers(void) {
  static atomic_flag done = ATOMIC_FLAG_INIT;
  if (atomic_flag_test_and_set(&done)) return;
  struct sigaction old, sa = {.sa_handler = on_signal};
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof cleanup_signals / sizeof *cleanup_signals; i++)
    if (sigaction(cleanup_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
        !(old.sa_flags & SA_SIGINFO))
      sigaction(cleanup_signals[i], &sa, NULL);
  /* Past RLIMIT_FSIZE the kernel sends SIGXFSZ, whose default kills the
   * process mid-write; ignored, the write fails with EFBIG instead. */
  struct sigaction ign = {.sa_handler = SIG_IGN};
  sigemptyset(&ign.sa_mask);
  if (sigaction(SIGXFSZ, NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
      !(old.sa_flags & SA_SIGINFO))
    sigaction(SIGXFSZ, &ign, NULL);
}

/* ---- resolving the target -------------------------------------------- */

static int copy_path(char *dst, const char *src, size_t len) {
  if (len >= PATH_MAX) return -ENAMETOOLONG;
  memcpy(dst, src, len);
  dst[len] = '\0';
  return 0;
}

/* Follows PATH's symbolic links (the last component only, as open does)
 * to the file that will be written; it need not exist. */
static int resolve(const char *path, char *out) {
  int rc = copy_path(out, path, strlen(path));
  for (int hops = 0; rc == 0; hops++) {
    struct stat st;
    if (lstat(out, &st) != 0) return errno == ENOENT ? 0 : -errno;
    if (!S_ISLNK(st.st_mode)) return 0;
    if (hops == 40) return -ELOOP;
    char link[PATH_MAX];
    ssize_t n = readlink(out, link, sizeof link - 1);
    if (n < 0) return -errno;
    if (n == (ssize_t)sizeof link - 1) return -ENAMETOOLONG;
    link[n] = '\0';
    if (link[0] == '/') {
      rc = copy_path(out, link, (size_t)n);
    } else {
      /* Relative to the link's directory. */
      char *slash = strrchr(out, '/');
      size_t dir = slash ? (size_t)(slash - out) + 1 : 0;
      if (dir + (size_t)n >= PATH_MAX) return -ENAMETOOLONG;
      memmove(out + dir, link, (size_t)n + 1);
    }
  }
  return rc;
}

/* ".NAME.tmp.XXXXXX" in TARGET's directory. */
static int temp_name(const char *target, char *tmp) {
  const char *slash = strrchr(target, '/');
  size_t dir = slash ? (size_t)(slash - target) + 1 : 0;
  const char *base = target + dir;
  size_t need = dir + 1 + strlen(base) + sizeof ".tmp.XXXXXX";
  if (need > PATH_MAX) return -ENAMETOOLONG;
  memcpy(tmp, target, dir);
  tmp[dir] = '.';
  strcpy(tmp + dir + 1, base);
  strcat(tmp, ".tmp.XXXXXX");
  return 0;
}

static mode_t new_file_mode(void) {
  mode_t um = umask(022);
  umask(um);
  return 0666 & ~um;
}

/* ---- the interface ---------------------------------------------------- */

int hc_out_open(hc_out *o, const char *path, unsigned flags) {
  memset(o, 0, sizeof *o);
  o->fd = -1;
  if (!path || !path[0]) return -ENOENT;
  struct stat st;
  /* A non-regular target is opened by the name given: /dev/stdout on a
   * pipe is a link to "pipe:[N]", which no path names, but opening the
   * link itself reaches the pipe. */
  bool named = stat(path, &st) == 0 && !S_ISREG(st.st_mode);
  int rc = named ? copy_path(o->target, path, strlen(path)) : resolve(path, o->target);
  if (rc) return rc;
  bool exists = named || stat(o->target, &st) == 0;
  if (!exists && errno != ENOENT) return -errno;
  if (exists && !S_ISREG(st.st_mode)) {
    if (S_ISDIR(st.st_mode)) return -EISDIR;
    if (S_ISSOCK(st.st_mode)) return -ENXIO;
    if (S_ISBLK(st.st_mode)) return -ENOTBLK;
    if (flags & HC_OUT_SEEKABLE) return -ESPIPE;
    /* A FIFO or a character device: straight through.  A FIFO's open
     * waits for a reader, as a shell redirection does. */
    do
      o->fd = open(o->target, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    while (o->fd < 0 && errno == EINTR);
    if (o->fd < 0) return -errno;
    o->is_open = true;
    o->stream = true;
    return 0;
  }
  if (!(flags & HC_OUT_NO_SIGNALS)) install_handlers();
  if ((rc = temp_name(o->target, o->tmp))) return rc;
  /* Register before the file exists: a signal between mkstemp and the
   * registration would otherwise leave it behind. */
  o->registered = live_add(o->tmp);
  o->fd = mkstemp(o->tmp);
  if (o->fd < 0) {
    rc = -errno;
    if (o->registered) live_del(o->tmp);
    o->registered = false;
    o->tmp[0] = '\0';
    return rc;
  }
  o->is_open = true;
  (void)fcntl(o->fd, F_SETFD, FD_CLOEXEC);
  (void)fchmod(o->fd, exists ? st.st_mode & 07777 : new_file_mode());
  return 0;
}

int hc_out_write(hc_out *o, const void *buf, size_t len) {
  if (o->err) return -o->err;
  if (!o->is_open) return -(o->err = EBADF);
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(o->fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      o->err = errno;
      return -o->err;
    }
    if (n == 0) { /* a device that takes nothing */
      o->err = ENOSPC;
      return -o->err;
    }
    p += n;
    len -= (size_t)n;
    o->written += (uint64_t)n;
  }
  return 0;
}

int hc_out_pwrite(hc_out *o, const void *buf, size_t len, uint64_t offset) {
  if (o->err) return -o->err;
  if (o->stream || !o->is_open) return -(o->err = o->stream ? ESPIPE : EBADF);
  const char *p = buf;
  while (len > 0) {
    ssize_t n = pwrite(o->fd, p, len, (off_t)offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      o->err = errno;
      return -o->err;
    }
    if (n == 0) {
      o->err = ENOSPC;
      return -o->err;
    }
    p += n;
    len -= (size_t)n;
    offset += (uint64_t)n;
  }
  return 0;
}

int hc_out_json_cb(const char *buf, size_t len, void *data) {
  return hc_out_write(data, buf, len) == 0 ? 0 : -1;
}

static void fsync_dir(const char *target) {
  char dir[PATH_MAX];
  const char *slash = strrchr(target, '/');
  if (!slash) {
    strcpy(dir, ".");
  } else if (slash == target) {
    strcpy(dir, "/");
  } else {
    memcpy(dir, target, (size_t)(slash - target));
    dir[slash - target] = '\0';
  }
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
}

int hc_out_commit(hc_out *o) {
  if (!o->is_open) return o->err ? -o->err : -EBADF;
  int rc = o->err ? -o->err : 0;
  o->is_open = false;
  if (o->stream) {
    if (close(o->fd) != 0 && rc == 0 && errno != EINTR) rc = -errno;
    o->fd = -1;
    return rc;
  }
  if (rc == 0 && fsync(o->fd) != 0) rc = -errno;
  if (close(o->fd) != 0 && rc == 0 && errno != EINTR) rc = -errno;
  o->fd = -1;
  if (rc == 0 && rename(o->tmp, o->target) != 0) rc = -errno;
  if (rc == 0) {
    if (o->registered) live_del(o->tmp);
    o->registered = false;
    o->tmp[0] = '\0';
    fsync_dir(o->target);
    return 0;
  }
  o->err = -rc;
  hc_out_abort(o);
  return rc;
}

void hc_out_abort(hc_out *o) {
  if (o->is_open) close(o->fd);
  o->is_open = false;
  o->fd = -1;
  if (o->tmp[0]) unlink(o->tmp);
  if (o->registered) live_del(o->tmp);
  o->registered = false;
  o->tmp[0] = '\0';
}
