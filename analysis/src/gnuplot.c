/* gnuplot.c: runs gnuplot on one of the embedded scripts.  The script is
 * first written into the output directory (so the directory redraws itself
 * by hand), gnuplot runs there with the variables given through -e, draws
 * into the output module's temporary file, and the image is renamed into
 * place only when gnuplot exits 0.  Its stderr is kept to name the failure in one line. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

const char *ha_script_text(const char *name) {
  for (size_t i = 0; i < ha_nscripts; i++)
    if (!strcmp(ha_scripts[i].name, name)) return ha_scripts[i].text;
  return NULL;
}

/* Runs gnuplot with args in dir; returns its exit status (127: not found,
 * -1: could not run) and the last non-empty line of its stderr in last. */
static int run(const char *dir, const char *const *args, char *last, size_t lastn) {
  int pfd[2];
  if (pipe(pfd) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    close(pfd[0]);
    close(pfd[1]);
    return -1;
  }
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
    }
    dup2(pfd[1], 2);
    close(pfd[0]);
    if (dir && chdir(dir) != 0) _exit(126);
    execvp("gnuplot", (char *const *)args);
    _exit(127);
  }
  close(pfd[1]);
  char buf[4096];
  size_t used = 0;
  ssize_t r;
  /* Keep the tail: the error is at the end of what gnuplot says. */
  for (;;) {
    if (used == sizeof buf - 1) {
      memmove(buf, buf + sizeof buf / 2, used - sizeof buf / 2);
      used -= sizeof buf / 2;
    }
    r = read(pfd[0], buf + used, sizeof buf - 1 - used);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    used += (size_t)r;
  }
  close(pfd[0]);
  buf[used] = '\0';
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  if (last) {
    last[0] = '\0';
    char *end = buf + used;
    while (end > buf && (end[-1] == '\n' || end[-1] == ' ')) *--end = '\0';
    char *nl = strrchr(buf, '\n');
    const char *src = nl ? nl + 1 : buf;
    size_t l = strlen(src) < lastn ? strlen(src) : lastn - 1;
    memcpy(last, src, l);
    last[l] = '\0';
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

const char *ha_png_terminal(void) {
  static const char *term;
  static int probed;
  if (!probed) {
    probed = 1;
    const char *cairo[] = {"gnuplot", "-e", "set terminal pngcairo", NULL};
    const char *gd[] = {"gnuplot", "-e", "set terminal png", NULL};
    if (run(NULL, cairo, NULL, 0) == 0) term = "pngcairo";
    else if (run(NULL, gd, NULL, 0) == 0) term = "png";
  }
  return term;
}

void ha_var_str(char *vars, size_t n, const char *name, const char *text) {
  size_t len = strlen(vars);
  if (len + strlen(name) + 8 >= n) return;
  len += (size_t)snprintf(vars + len, n - len, "%s='", name);
  /* gnuplot single-quoted strings: '' is a quote, nothing else is special. */
  for (const char *c = text; *c && len + 4 < n; c++) {
    if (*c == '\'') vars[len++] = '\'';
    vars[len++] = (unsigned char)*c < 0x20 ? ' ' : *c;
  }
  snprintf(vars + len, n - len, "'; ");
}

void ha_var_num(char *vars, size_t n, const char *name, double v) {
  size_t len = strlen(vars);
  if (isnan(v)) v = 0;
  /* A real (with a dot or exponent) so gnuplot never divides integers. */
  snprintf(vars + len, n - len, "%s=%.17g%s; ", name, v, v == floor(v) && fabs(v) < 1e15 ? ".0" : "");
}

int ha_gnuplot(const char *dir, const char *script, const char *vars, const char *term,
               const char *out, ha_err *err) {
  const char *text = ha_script_text(script);
  if (!text) return ha_fail(err, HA_ERR_INTERNAL, "%s: no such embedded gnuplot script", script);
  int rc = ha_write_text(dir, script, text, err);
  if (rc) return rc;

  /* The image goes through the output module like every other file:
   * gnuplot draws into the module's temporary file (an absolute name, as
   * gnuplot runs in dir), which is renamed over the target only when
   * gnuplot succeeded; a FIFO or device target is drawn into directly. */
  char outpath[HA_PATH_MAX], drawn[2 * HA_PATH_MAX + 2], all[16384];
  if ((rc = ha_join(outpath, sizeof outpath, dir, out, err))) return rc;
  hc_out img;
  int e = -hc_out_open(&img, outpath, 0);
  if (e) return ha_fail(err, HA_ERR_INPUT, "%s: cannot write: %s", outpath, strerror(e));
  const char *name = img.stream ? img.target : img.tmp;
  char cwd[HA_PATH_MAX];
  if (name[0] == '/') snprintf(drawn, sizeof drawn, "%s", name);
  else if (getcwd(cwd, sizeof cwd))
    snprintf(drawn, sizeof drawn, "%s/%s", cwd, name);
  else {
    hc_out_abort(&img);
    return ha_fail(err, HA_ERR_INPUT, "%s: path too long", outpath);
  }
  snprintf(all, sizeof all, "%s", vars);
  ha_var_str(all, sizeof all, "term", term);
  ha_var_str(all, sizeof all, "outfile", drawn);

  const char *args[] = {"gnuplot", "-e", all, script, NULL};
  char last[512];
  int st = run(dir, args, last, sizeof last);
  if (st == 0) {
    if ((rc = hc_out_commit(&img)))
      return ha_fail(err, HA_ERR_INPUT, "%s: cannot write: %s", outpath, strerror(-rc));
    return 0;
  }
  hc_out_abort(&img);
  if (st == 127) return ha_fail(err, HA_ERR_INTERNAL, "gnuplot not found (install gnuplot-nox)");
  if (st < 0) return ha_fail(err, HA_ERR_INTERNAL, "cannot run gnuplot: %s", strerror(errno));
  return ha_fail(err, HA_ERR_INTERNAL, "%s/%s: gnuplot exited %d: %s", dir, script, st, last);
}
