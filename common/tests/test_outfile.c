/* test_outfile.c: hc_out on every kind of target: a new and an existing
 * regular file (replaced whole, mode kept), symbolic links (followed, the
 * link kept, dangling ones create their target), a FIFO with a reader and
 * character devices (straight through, never replaced), a full device and
 * a file-size limit (an error, the old file untouched), directories and
 * sockets (refused), and SIGINT/SIGTERM in the middle of a write (no
 * temporary file left).  Everything happens in a temporary directory; the
 * device nodes are private copies made with mknod (skipped where mknod is
 * not allowed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hc_out.h"

static char dir[64];
static char pathbuf[4][PATH_MAX];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/hc-out-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static const char *in_dir(int slot, const char *name) {
  snprintf(pathbuf[slot], sizeof pathbuf[slot], "%s/%s", dir, name);
  return pathbuf[slot];
}

static char *slurp(const char *path) {
  static char buf[1 << 16];
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  assert_true(n >= 0);
  buf[n] = '\0';
  return buf;
}

static void put(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

/* Files in the test directory whose name has ".tmp.": temporaries. */
static int temporaries(void) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
  closedir(d);
  return n;
}

static int write_all(const char *path, unsigned flags, const char *text) {
  hc_out o;
  int rc = hc_out_open(&o, path, flags);
  if (rc) return rc;
  if ((rc = hc_out_write(&o, text, strlen(text)))) {
    hc_out_abort(&o);
    return rc;
  }
  return hc_out_commit(&o);
}

static void test_outfile_new_file(void **state) {
  (void)state;
  const char *p = in_dir(0, "new.json");
  mode_t um = umask(027);
  assert_int_equal(write_all(p, 0, "hello\n"), 0);
  umask(um);
  assert_string_equal(slurp(p), "hello\n");
  struct stat st;
  assert_int_equal(stat(p, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0640);
  assert_int_equal(temporaries(), 0);
}

static void test_outfile_replaces_whole_and_keeps_mode(void **state) {
  (void)state;
  const char *p = in_dir(0, "old.json");
  put(p, "the old content, longer than the new one\n");
  assert_int_equal(chmod(p, 0604), 0);
  struct stat before, after;
  assert_int_equal(stat(p, &before), 0);
  hc_out o;
  assert_int_equal(hc_out_open(&o, p, 0), 0);
  assert_int_equal(hc_out_write(&o, "new\n", 4), 0);
  /* Until the commit, readers see the old file. */
  assert_string_equal(slurp(p), "the old content, longer than the new one\n");
  assert_int_equal(temporaries(), 1);
  assert_int_equal(hc_out_commit(&o), 0);
  assert_string_equal(slurp(p), "new\n");
  assert_int_equal(stat(p, &after), 0);
  assert_int_equal(after.st_mode & 07777, 0604);
  assert_true(after.st_ino != before.st_ino); /* a new file renamed in */
  assert_int_equal(temporaries(), 0);
}

static void test_outfile_abort_keeps_old(void **state) {
  (void)state;
  const char *p = in_dir(0, "kept.json");
  put(p, "old\n");
  hc_out o;
  assert_int_equal(hc_out_open(&o, p, 0), 0);
  assert_int_equal(hc_out_write(&o, "half", 4), 0);
  hc_out_abort(&o);
  hc_out_abort(&o); /* twice is harmless */
  assert_string_equal(slurp(p), "old\n");
  assert_int_equal(temporaries(), 0);
  hc_out zero;
  memset(&zero, 0, sizeof zero);
  hc_out_abort(&zero); /* never closes descriptor 0 */
  assert_true(fcntl(0, F_GETFD) >= 0 || errno != EBADF);
}

static void test_outfile_seekable_patch(void **state) {
  (void)state;
  const char *p = in_dir(0, "patched.hkt");
  hc_out o;
  assert_int_equal(hc_out_open(&o, p, HC_OUT_SEEKABLE), 0);
  assert_int_equal(hc_out_write(&o, "count=??;body", 13), 0);
  assert_int_equal(hc_out_pwrite(&o, "42", 2, 6), 0);
  assert_int_equal(hc_out_commit(&o), 0);
  assert_string_equal(slurp(p), "count=42;body");
}

static void test_outfile_symlink_followed(void **state) {
  (void)state;
  assert_int_equal(mkdir(in_dir(0, "real"), 0755), 0);
  const char *target = in_dir(1, "real/run.json");
  put(target, "old\n");
  const char *link = in_dir(2, "link.json");
  assert_int_equal(symlink("real/run.json", link), 0); /* relative to the link's directory */
  const char *link2 = in_dir(3, "link2.json");
  assert_int_equal(symlink(link, link2), 0);           /* a chain, absolute */
  assert_int_equal(write_all(link2, 0, "new\n"), 0);
  struct stat st;
  assert_int_equal(lstat(link, &st), 0);
  assert_true(S_ISLNK(st.st_mode));
  assert_int_equal(lstat(link2, &st), 0);
  assert_true(S_ISLNK(st.st_mode));
  assert_string_equal(slurp(target), "new\n");
  assert_int_equal(temporaries(), 0);
}

static void test_outfile_dangling_symlink_creates_target(void **state) {
  (void)state;
  const char *link = in_dir(0, "dangling.json");
  assert_int_equal(symlink("created.json", link), 0);
  assert_int_equal(write_all(link, 0, "made\n"), 0);
  struct stat st;
  assert_int_equal(lstat(link, &st), 0);
  assert_true(S_ISLNK(st.st_mode));
  assert_string_equal(slurp(in_dir(1, "created.json")), "made\n");
  const char *loop = in_dir(2, "loop.json");
  assert_int_equal(symlink("loop.json", loop), 0);
  assert_int_equal(write_all(loop, 0, "x"), -ELOOP);
}

static void test_outfile_fifo_with_reader(void **state) {
  (void)state;
  const char *fifo = in_dir(0, "pipe.json");
  assert_int_equal(mkfifo(fifo, 0600), 0);
  int pfd[2];
  assert_int_equal(pipe(pfd), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) { /* the reader: copies what comes through into the pipe */
    close(pfd[0]);
    int fd = open(fifo, O_RDONLY);
    char buf[256];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
      if (write(pfd[1], buf, (size_t)n) != n) _exit(1);
    _exit(0);
  }
  close(pfd[1]);
  assert_int_equal(write_all(fifo, 0, "through the pipe\n"), 0);
  char got[256] = "";
  ssize_t n = read(pfd[0], got, sizeof got - 1);
  assert_true(n > 0);
  got[n] = '\0';
  close(pfd[0]);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_string_equal(got, "through the pipe\n");
  struct stat st;
  assert_int_equal(lstat(fifo, &st), 0);
  assert_true(S_ISFIFO(st.st_mode)); /* still the FIFO */
  assert_int_equal(temporaries(), 0);
  /* A writer that must seek cannot use it. */
  assert_int_equal(write_all(fifo, HC_OUT_SEEKABLE, "x"), -ESPIPE);
}

/* An anonymous pipe through its /proc/self/fd link, as `-o /dev/stdout`
 * reaches a pipe: the link names "pipe:[N]", which is no path; the link
 * itself must be opened. */
static void test_outfile_anonymous_pipe(void **state) {
  (void)state;
  int pfd[2];
  assert_int_equal(pipe(pfd), 0);
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", pfd[1]);
  assert_int_equal(write_all(path, 0, "to the pipe\n"), 0);
  close(pfd[1]);
  char got[64] = "";
  ssize_t n = read(pfd[0], got, sizeof got - 1);
  assert_true(n > 0);
  got[n] = '\0';
  close(pfd[0]);
  assert_string_equal(got, "to the pipe\n");
  assert_int_equal(temporaries(), 0);
}

/* A private character device node like /dev/MINOR (1,3 null; 1,7 full). */
static const char *device(int slot, const char *name, unsigned minor) {
  const char *p = in_dir(slot, name);
  if (mknod(p, S_IFCHR | 0666, makedev(1, minor)) != 0) return NULL;
  return p;
}

static void test_outfile_character_devices(void **state) {
  (void)state;
  const char *null = device(0, "null.json", 3), *full = device(1, "full.json", 7);
  if (!null || !full) skip();
  assert_int_equal(write_all(null, 0, "gone\n"), 0);
  assert_int_equal(write_all(full, 0, "no room\n"), -ENOSPC);
  struct stat st;
  assert_int_equal(lstat(full, &st), 0);
  assert_true(S_ISCHR(st.st_mode)); /* never replaced by a regular file */
  assert_int_equal(lstat(null, &st), 0);
  assert_true(S_ISCHR(st.st_mode));
  /* Through a symbolic link too. */
  const char *link = in_dir(2, "tofull.json");
  assert_int_equal(symlink("full.json", link), 0);
  assert_int_equal(write_all(link, 0, "no room\n"), -ENOSPC);
  assert_int_equal(lstat(full, &st), 0);
  assert_true(S_ISCHR(st.st_mode));
  assert_int_equal(write_all(full, HC_OUT_SEEKABLE, "x"), -ESPIPE);
  assert_int_equal(temporaries(), 0);
}

static void test_outfile_refused_targets(void **state) {
  (void)state;
  assert_int_equal(mkdir(in_dir(0, "adir"), 0755), 0);
  assert_int_equal(write_all(in_dir(0, "adir"), 0, "x"), -EISDIR);
  assert_int_equal(write_all(in_dir(1, "missing/run.json"), 0, "x"), -ENOENT);
  assert_int_equal(write_all("", 0, "x"), -ENOENT);
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  assert_true(s >= 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  const char *sp = in_dir(2, "sock");
  assert_true(strlen(sp) < sizeof a.sun_path);
  memcpy(a.sun_path, sp, strlen(sp) + 1);
  assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(write_all(in_dir(2, "sock"), 0, "x"), -ENXIO);
  close(s);
  assert_int_equal(temporaries(), 0);
}

/* In a child, under RLIMIT_FSIZE of 4 KiB: an 8 KiB write over an old file
 * fails with EFBIG (the module ignores SIGXFSZ), the old file stays. */
static void test_outfile_file_size_limit(void **state) {
  (void)state;
  const char *p = in_dir(0, "limited.json");
  put(p, "old\n");
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    struct rlimit rl = {4096, 4096};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(10);
    static char big[8192];
    memset(big, 'x', sizeof big);
    hc_out o;
    if (hc_out_open(&o, p, 0) != 0) _exit(11);
    int rc = hc_out_write(&o, big, sizeof big);
    int crc = hc_out_commit(&o);
    _exit(rc == -EFBIG && crc == -EFBIG ? 0 : 12);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  assert_string_equal(slurp(p), "old\n");
  assert_int_equal(temporaries(), 0);
}

/* A child opens the output, writes half, tells the parent and waits; the
 * parent kills it with SIG.  The child dies of the signal and leaves no
 * temporary file; the old content is intact. */
static void killed_mid_write(int sig) {
  const char *p = in_dir(0, "interrupted.json");
  put(p, "old\n");
  int pfd[2];
  assert_int_equal(pipe(pfd), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(pfd[0]);
    hc_out o;
    if (hc_out_open(&o, p, 0) != 0 || hc_out_write(&o, "half of it", 10) != 0) _exit(20);
    if (write(pfd[1], "r", 1) != 1) _exit(21);
    for (;;) pause();
  }
  close(pfd[1]);
  char c;
  assert_int_equal(read(pfd[0], &c, 1), 1);
  close(pfd[0]);
  assert_int_equal(temporaries(), 1); /* mid-write: the temporary exists */
  kill(pid, sig);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status)); /* it still dies of the signal */
  assert_int_equal(WTERMSIG(status), sig);
  assert_int_equal(temporaries(), 0);
  assert_string_equal(slurp(p), "old\n");
}

static void test_outfile_sigint_mid_write(void **state) {
  (void)state;
  killed_mid_write(SIGINT);
}

static void test_outfile_sigterm_mid_write(void **state) {
  (void)state;
  killed_mid_write(SIGTERM);
}

/* A program's own handler is left alone (libraries pass HC_OUT_NO_SIGNALS
 * anyway); it can clean up with hc_out_remove_temporaries. */
static int handled;
static void own_handler(int sig) {
  (void)sig;
  handled = 1;
}

static void test_outfile_keeps_program_handlers(void **state) {
  (void)state;
  struct sigaction sa = {.sa_handler = own_handler}, old, now;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGHUP, &sa, &old);
  hc_out o;
  assert_int_equal(hc_out_open(&o, in_dir(0, "h.json"), 0), 0);
  sigaction(SIGHUP, NULL, &now);
  assert_ptr_equal(now.sa_handler, own_handler);
  assert_int_equal(temporaries(), 1);
  hc_out_remove_temporaries();
  assert_int_equal(temporaries(), 0);
  hc_out_abort(&o);
  sigaction(SIGHUP, &old, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_outfile_new_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outfile_replaces_whole_and_keeps_mode, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outfile_abort_keeps_old, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outfile_seekable_patch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outfile_symlink_followed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outfile_dangling_symlink_creates_target, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outfile_fifo_with_reader, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outfile_anonymous_pipe, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outfile_character_devices, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outfile_refused_targets, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outfile_file_size_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outfile_sigint_mid_write, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outfile_sigterm_mid_write, setup, teardown),
      cmocka_unit_test_setup_teardown(test_outfile_keeps_program_handlers, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
