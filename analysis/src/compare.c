/* compare.c: `hakreplay compare TRACE --variants A,B,... [--opt K=V]...
 * [-o DIR] [--jobs N]` and `hakreplay compare RUN.json...`.  With a trace
 * it replays it once per variant, each a separate process of this same
 * executable (/proc/self/exe), --jobs at a time, into DIR/VARIANT/run.json;
 * a replay that ran out of memory (exit 3) is a result like any other.
 * Then compare_out.c writes the tables and plots. On a terminal (and
 * without --quiet) each replay reports its progress through a pipe
 * (hakreplay --progress-fd) and its messages through another, and compare
 * shows one line per variant (board.c), printing a replay's messages above
 * the lines when it ends.
 *
 * With more than one job, each replay is pinned to a CPU of its own (the
 * least busy of those compare may use): two unpinned replays of the main
 * job's trace, each with several threads handing a turn around, took 10-12 s
 * together on 2 CPUs, pinned 5-6 s (no migrations, no cache lines moving
 * between CPUs; a replay on one CPU also stops spinning, turn.c). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

#define HA_MAX_VARIANTS 64

/* printf format: %s is the preset list. */
static const char compare_usage[] =
    "usage: hakreplay compare TRACE [--variants A,B,...] [--opt NAME=VALUE]... [-o DIR] [--jobs N]\n"
    "       hakreplay compare RUN.json RUN.json... [-o DIR]\n"
    "Replays TRACE under each variant (default: every preset: %s; also the allocators\n"
    "%s, in the same list)\n"
    "as separate hakreplay processes, N at a time (default: CPUs), or takes\n"
    "existing runs; writes DIR (default: compare)/VARIANT/run.json and plots, compare.json,\n"
    "compare.md (summary metrics side by side, ratios to the first variant), overlay plots\n"
    "and index.html, and prints the table.\n"
    "  --format png|svg|both    image format (default png)\n"
    "  --no-variant-plots       only the comparison, not each variant's own plots\n"
    "  passed to every replay:  --opt, --ops-per-ms N, --sample-every N, --thread-maps N,\n"
    "                           --max-events N, --mode M\n"
    "  --quiet                  no progress (on a terminal: one line per variant)\n"
    "Exit: 0 done (a variant that ran out of memory is a result), 2 bad input or usage,\n"
    "4 internal error.\n";

static int usage_error(const char *msg, const char *arg) {
  return ha_usage_error("compare", msg, arg);
}

/* A run.json rather than a trace: a .json file whose schema says so. */
static int is_run(const char *path) {
  size_t n = strlen(path);
  if (n < 5 || strcmp(path + n - 5, ".json")) return 0;
  json_t *j;
  ha_err err;
  if (ha_json_load(path, &j, &err)) return 0;
  const char *name = json_string_value(ha_path_get(j, "schema.name"));
  int yes = name && !strcmp(name, "hakreplay-run");
  json_decref(j);
  return yes;
}

/* A replay option that configures hakmem (not passed to another allocator). */
static int hakmem_only(const char *flag) {
  return !strcmp(flag, "--opt") || !strcmp(flag, "--thread-maps") || !strcmp(flag, "--mode");
}

/* The arguments of one replay (argv for execv; the strings live in v). A
 * preset is replayed in process with its memory measured (--allocator
 * hakmem), another allocator in a child of its own. */
static void replay_args(const char **args, const char *trace, const ha_variant *v,
                        const char **pass, size_t npass, const char *progress_fd) {
  size_t k = 0;
  args[k++] = "hakreplay";
  args[k++] = trace;
  if (v->external) {
    args[k++] = "--allocator";
    args[k++] = v->label;
  } else {
    args[k++] = "--allocator";
    args[k++] = "hakmem";
    args[k++] = "--variant";
    args[k++] = v->label;
  }
  for (size_t i = 0; i + 1 < npass; i += 2) {
    if (v->external && hakmem_only(pass[i])) continue;
    args[k++] = pass[i];
    args[k++] = pass[i + 1];
  }
  args[k++] = "--quiet";
  if (progress_fd) {
    args[k++] = "--progress-fd";
    args[k++] = progress_fd;
  }
  args[k++] = "-o";
  args[k++] = v->run_path;
  args[k] = NULL;
}

/* How a replay ended, as a short phrase. */
static const char *outcome(int code) {
  return code == 0 ? "done" : code == 3 ? "done, out of memory" : "FAILED";
}

/* Sets replay_exit, or fills err (a failed replay, the first one). */
static int judge(const char *trace, ha_variant *d, int status, int worst, ha_err *err) {
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  d->replay_exit = code;
  if (code == 0 || code == 3 || worst) return worst;
  if (code == 2)
    return ha_fail(err, HA_ERR_INPUT, "%s: the replay under variant %s exited 2 (bad input or variant; its message is above)",
                   trace, d->label);
  return ha_fail(err, HA_ERR_INTERNAL, "%s: the replay under variant %s %s %d", trace, d->label,
                 WIFEXITED(status) ? "exited" : "was killed by signal",
                 WIFEXITED(status) ? code : WTERMSIG(status));
}

typedef struct job {
  pid_t pid;
  size_t v;
  int cpu;                     /* pinned to, or -1 */
} job;

void ha_cpus_init(ha_cpus *c, int jobs) {
  memset(c, 0, sizeof *c);
  c->pin = jobs > 1 && sched_getaffinity(0, sizeof c->allowed, &c->allowed) == 0 &&
           CPU_COUNT(&c->allowed) > 1;
}

int ha_cpus_take(ha_cpus *c) {
  int best = -1;
  for (int i = 0; c->pin && i < CPU_SETSIZE; i++)
    if (CPU_ISSET(i, &c->allowed) && (best < 0 || c->busy[i] < c->busy[best])) best = i;
  if (best >= 0) c->busy[best]++;
  return best;
}

void ha_cpus_give(ha_cpus *c, int cpu) {
  if (cpu >= 0) c->busy[cpu]--;
}

void ha_pin_self(int cpu) {
  if (cpu < 0) return;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  sched_setaffinity(0, sizeof one, &one); /* a failure leaves it unpinned */
}

/* Replays the trace under every variant; fills v[i].replay_exit. */
static int run_replays(const char *trace, ha_variant *v, size_t n, const char **pass, size_t npass,
                       int jobs, int quiet, ha_err *err) {
  job running[HA_MAX_VARIANTS];
  size_t next = 0, nrun = 0;
  int worst = 0;
  ha_cpus c;
  ha_cpus_init(&c, jobs);
  const char **args = calloc(npass + 16, sizeof *args);
  if (!args) return ha_fail(err, HA_ERR_INTERNAL, "out of memory");
  while (next < n || nrun > 0) {
    while (next < n && (int)nrun < jobs && worst == 0) {
      replay_args(args, trace, &v[next], pass, npass, NULL);
      int cpu = ha_cpus_take(&c);
      pid_t pid = fork();
      if (pid < 0) {
        ha_cpus_give(&c, cpu);
        worst = ha_fail(err, HA_ERR_INTERNAL, "fork: %s", strerror(errno));
        break;
      }
      if (pid == 0) {
        ha_pin_self(cpu);
        execv("/proc/self/exe", (char *const *)args);
        _exit(127);
      }
      if (!quiet) fprintf(stderr, "compare: %s: replaying\n", v[next].label);
      running[nrun].pid = pid;
      running[nrun].cpu = cpu;
      running[nrun++].v = next++;
    }
    if (nrun == 0) break;
    int status;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      worst = ha_fail(err, HA_ERR_INTERNAL, "waitpid: %s", strerror(errno));
      break;
    }
    size_t r = 0;
    while (r < nrun && running[r].pid != pid) r++;
    if (r == nrun) continue; /* not ours */
    ha_variant *d = &v[running[r].v];
    ha_cpus_give(&c, running[r].cpu);
    running[r] = running[--nrun];
    worst = judge(trace, d, status, worst, err);
    if (!quiet) fprintf(stderr, "compare: %s: %s\n", d->label, outcome(d->replay_exit));
  }
  /* After a failure nothing new starts; what runs is waited for. */
  while (nrun > 0) {
    int status;
    if (waitpid(running[--nrun].pid, &status, 0) < 0 && errno == EINTR) nrun++;
  }
  free(args);
  return worst;
}

typedef struct live {
  pid_t pid;
  size_t v;
  int progress, messages;      /* read ends; -1 once at EOF */
  char *text;                  /* its messages so far */
  size_t len;
  char last[200];              /* its last progress line */
  int cpu;                     /* pinned to, or -1 */
} live;

/* Starts the replay of v[i] with its progress on fd 3 and its stderr piped. */
static int start_live(live *l, const char *trace, ha_variant *v, size_t i, const char **pass,
                      size_t npass, const char **args, int cpu, ha_err *err) {
  int pp[2], mp[2];
  if (pipe(pp) != 0) return ha_fail(err, HA_ERR_INTERNAL, "pipe: %s", strerror(errno));
  if (pipe(mp) != 0) {
    close(pp[0]);
    close(pp[1]);
    return ha_fail(err, HA_ERR_INTERNAL, "pipe: %s", strerror(errno));
  }
  replay_args(args, trace, &v[i], pass, npass, "3");
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    close(pp[0]), close(pp[1]), close(mp[0]), close(mp[1]);
    return ha_fail(err, HA_ERR_INTERNAL, "fork: %s", strerror(errno));
  }
  if (pid == 0) {
    ha_pin_self(cpu);
    dup2(pp[1], 3);
    dup2(mp[1], STDERR_FILENO);
    for (int fd = 4; fd < 256; fd++) close(fd); /* other replays' pipes */
    execv("/proc/self/exe", (char *const *)args);
    _exit(127);
  }
  close(pp[1]);
  close(mp[1]);
  memset(l, 0, sizeof *l);
  l->pid = pid;
  l->v = i;
  l->progress = pp[0];
  l->messages = mp[0];
  l->cpu = cpu;
  return 0;
}

/* Reads what is there; returns -1 at EOF (fd closed). */
static int drain_fd(int *fd, live *l, bool progress) {
  char buf[4096];
  ssize_t n = read(*fd, buf, sizeof buf);
  if (n < 0 && errno == EINTR) return 0;
  if (n <= 0) {
    close(*fd);
    *fd = -1;
    return -1;
  }
  if (!progress) {
    char *t = realloc(l->text, l->len + (size_t)n + 1);
    if (!t) return 0;
    memcpy(t + l->len, buf, (size_t)n);
    l->len += (size_t)n;
    t[l->len] = '\0';
    l->text = t;
    return 0;
  }
  /* The last complete line is the news. */
  size_t end = (size_t)n;
  while (end > 0 && buf[end - 1] == '\n') end--;
  size_t start = end;
  while (start > 0 && buf[start - 1] != '\n') start--;
  if (end > start) snprintf(l->last, sizeof l->last, "%.*s", (int)(end - start), buf + start);
  return 0;
}

/* Replays with one progress line per variant; same outcome as run_replays. */
static int run_replays_board(const char *trace, ha_variant *v, size_t n, const char **pass,
                             size_t npass, int jobs, ha_err *err) {
  ha_board b;
  live *run = calloc((size_t)jobs, sizeof *run);
  const char **args = calloc(npass + 16, sizeof *args);
  if (!run || !args || ha_board_init(&b, v, n) != 0) {
    free(run);
    free(args);
    return ha_fail(err, HA_ERR_INTERNAL, "out of memory");
  }
  size_t next = 0, nrun = 0;
  int worst = 0;
  ha_cpus c;
  ha_cpus_init(&c, jobs);
  ha_board_draw(&b);
  while (next < n || nrun > 0) {
    while (next < n && nrun < (size_t)jobs && worst == 0) {
      int cpu = ha_cpus_take(&c);
      if ((worst = start_live(&run[nrun], trace, v, next, pass, npass, args, cpu, err))) {
        ha_cpus_give(&c, cpu);
        break;
      }
      ha_board_set(&b, next, "replaying");
      nrun++;
      next++;
    }
    if (nrun == 0) break;
    struct pollfd fds[2 * 64];
    size_t nfds = 0;
    for (size_t r = 0; r < nrun; r++) {
      if (run[r].progress >= 0) fds[nfds++] = (struct pollfd){.fd = run[r].progress, .events = POLLIN};
      if (run[r].messages >= 0) fds[nfds++] = (struct pollfd){.fd = run[r].messages, .events = POLLIN};
    }
    if (poll(fds, nfds, 250) < 0 && errno != EINTR) {
      worst = ha_fail(err, HA_ERR_INTERNAL, "poll: %s", strerror(errno));
      break;
    }
    for (size_t r = 0; r < nrun; r++) {
      live *l = &run[r];
      for (size_t k = 0; k < nfds; k++) {
        if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        if (fds[k].fd == l->progress) drain_fd(&l->progress, l, true);
        else if (fds[k].fd == l->messages) drain_fd(&l->messages, l, false);
      }
      if (l->last[0]) ha_board_set(&b, l->v, l->last);
    }
    /* Replays whose pipes are both closed have ended: reap them. */
    for (size_t r = 0; r < nrun;) {
      live *l = &run[r];
      if (l->progress >= 0 || l->messages >= 0) {
        r++;
        continue;
      }
      int status = 0;
      while (waitpid(l->pid, &status, 0) < 0 && errno == EINTR) {
      }
      worst = judge(trace, &v[l->v], status, worst, err);
      char line[260];
      snprintf(line, sizeof line, "%s%s%s", outcome(v[l->v].replay_exit), l->last[0] ? ": " : "",
               l->last);
      ha_board_set(&b, l->v, line);
      if (l->len) ha_board_print_above(&b, l->text);
      free(l->text);
      ha_cpus_give(&c, l->cpu);
      run[r] = run[--nrun];
    }
    ha_board_draw(&b);
  }
  /* After a failure nothing new starts; what runs is waited for. */
  for (size_t r = 0; r < nrun; r++) {
    if (run[r].progress >= 0) close(run[r].progress);
    if (run[r].messages >= 0) close(run[r].messages);
    while (waitpid(run[r].pid, NULL, 0) < 0 && errno == EINTR) {
    }
    free(run[r].text);
  }
  ha_board_free(&b);
  free(run);
  free(args);
  return worst;
}

/* Every variant's own plots, in child processes, jobs at a time (gnuplot
 * takes most of compare's time).  A child reports its own error. */
static int plot_variants(const ha_variant *v, size_t n, int formats, int jobs, ha_err *err) {
  size_t next = 0, nrun = 0;
  int failed = 0;
  if (formats & HA_FMT_PNG) ha_png_terminal(); /* probe once, before the children */
  while (next < n || nrun > 0) {
    while (next < n && (int)nrun < jobs && !failed) {
      fflush(NULL);
      pid_t pid = fork();
      if (pid < 0) return ha_fail(err, HA_ERR_INTERNAL, "fork: %s", strerror(errno));
      if (pid == 0) {
        ha_err e;
        int rc = ha_plot_run(v[next].run, v[next].run_path, NULL, v[next].dir, formats, &e);
        if (rc) fprintf(stderr, "hakreplay compare: %s\n", e.msg);
        _exit(rc ? -rc : 0);
      }
      next++;
      nrun++;
    }
    if (nrun == 0) break;
    int status;
    if (waitpid(-1, &status, 0) < 0) {
      if (errno == EINTR) continue;
      return ha_fail(err, HA_ERR_INTERNAL, "waitpid: %s", strerror(errno));
    }
    nrun--;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed = WIFEXITED(status) ? WEXITSTATUS(status) : HA_EXIT_INTERNAL;
  }
  if (failed) return ha_fail(err, -failed, "a variant's plots failed (message above)");
  return 0;
}

/* NAME is one of the comma-separated names of list. */
static int in_list(const char *name, const char *list) {
  size_t len = strlen(name);
  for (const char *p = list; *p;) {
    size_t k = strcspn(p, ", ");
    if (k == len && !strncmp(p, name, len)) return 1;
    p += k;
    while (*p == ',' || *p == ' ') p++;
  }
  return 0;
}

/* NAME is one of the comma-separated PRESETS, or none. */
static int is_preset(const char *name, const char *presets) {
  if (!strcmp(name, "none")) return 1;
  size_t len = strlen(name);
  for (const char *p = presets; *p;) {
    size_t k = strcspn(p, ",");
    if (k == len && !strncmp(p, name, len)) return 1;
    p += k + (p[k] == ',');
  }
  return 0;
}

static int add_variant(ha_variant *v, size_t *n, const char *label, ha_err *err) {
  if (*n == HA_MAX_VARIANTS) return ha_fail(err, HA_ERR_INPUT, "more than %d variants", HA_MAX_VARIANTS);
  ha_variant *d = &v[(*n)++];
  memset(d, 0, sizeof *d);
  ha_label(d->label, sizeof d->label, label);
  for (size_t i = 0; i + 1 < *n; i++)
    if (!strcmp(v[i].label, d->label)) return ha_fail(err, HA_ERR_INPUT, "variant %s given twice", d->label);
  return 0;
}

/* File labels of existing runs: their variant, or their file name when
 * it is missing ("none") or already taken, then -2, -3, ... until unique. */
static void label_runs(ha_variant *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char trace[320], variant[HA_VARIANT_MAX];
    ha_run_names(v[i].run, trace, sizeof trace, variant, sizeof variant);
    char base[HA_VARIANT_MAX];
    int taken = !strcmp(variant, "none");
    if (!taken) ha_label(base, sizeof base, variant);
    for (size_t j = 0; j < i && !taken; j++) taken = !strcmp(v[j].label, base);
    if (!taken) {
      snprintf(base, sizeof base, "%s", variant);
    } else {
      snprintf(base, sizeof base, "%s", ha_basename(v[i].run_path));
      size_t len = strlen(base);
      if (len > 5 && !strcmp(base + len - 5, ".json")) base[len - 5] = '\0';
      /* A sweep's DIR/NAME/run.json: the run's name is its folder's. */
      if (!strcmp(base, "run")) {
        char parent[HA_PATH_MAX];
        snprintf(parent, sizeof parent, "%s", v[i].run_path);
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent) {
          *slash = '\0';
          snprintf(base, sizeof base, "%s", ha_basename(parent));
        }
      }
    }
    ha_label(v[i].label, sizeof v[i].label, base);
    for (size_t k = 2, j = 0; j < i; j++) {
      if (strcmp(v[j].label, v[i].label)) continue;
      char tmp[300];
      snprintf(tmp, sizeof tmp, "%.50s-%zu", base, k++);
      ha_label(v[i].label, sizeof v[i].label, tmp);
      j = (size_t)-1; /* start over: the new name may be taken too */
    }
  }
}

/* What tables and legends call each column: its run's variant label (the
 * preset plus every override, so `--variants phase1 --opt X=Y` is never
 * shown as phase1); where runs of several traces share a label (a sweep
 * over traces), the trace's file name before it, so what varies is named;
 * where that is not enough, its file label. */
static void name_columns(ha_variant *v, size_t n) {
  char trace[320];
  int shared[HA_MAX_VARIANTS] = {0};
  for (size_t i = 0; i < n; i++) ha_run_names(v[i].run, trace, sizeof trace, v[i].name, sizeof v[i].name);
  int prefix[HA_MAX_VARIANTS] = {0};
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) {
      if (i == j || strcmp(v[i].name, v[j].name)) continue;
      const char *a = json_string_value(ha_path_get(v[i].run, "trace.hash"));
      const char *b = json_string_value(ha_path_get(v[j].run, "trace.hash"));
      prefix[i] |= !a || !b || strcmp(a, b);
    }
  for (size_t i = 0; i < n; i++) {
    if (!prefix[i]) continue;
    char file[256], both[HA_VARIANT_MAX];
    const char *path = json_string_value(ha_path_get(v[i].run, "trace.path"));
    snprintf(file, sizeof file, "%s", path ? ha_basename(path) : "?");
    char *dot = strchr(file, '.');
    if (dot && dot != file) *dot = '\0';
    snprintf(both, sizeof both, "%.100s:%.400s", file, v[i].name);
    snprintf(v[i].name, sizeof v[i].name, "%s", both);
  }
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) shared[i] |= i != j && !strcmp(v[i].name, v[j].name);
  for (size_t i = 0; i < n; i++)
    if (shared[i]) snprintf(v[i].name, sizeof v[i].name, "%s", v[i].label);
}

int ha_compare_main(int argc, char **argv, const char *presets, const char *allocators) {
  const char *dir = "compare", *variants = NULL;
  const char **inputs = calloc((size_t)argc, sizeof *inputs);
  const char **pass = calloc((size_t)argc, sizeof *pass);
  ha_variant *v = calloc(HA_MAX_VARIANTS, sizeof *v);
  size_t ninputs = 0, npass = 0, n = 0;
  int formats = HA_FMT_PNG, jobs = 0, quiet = 0, variant_plots = 1, rc = 0;
  char *md = NULL;
  ha_err err;
  if (!inputs || !pass || !v) {
    fprintf(stderr, "hakreplay compare: out of memory\n");
    rc = HA_EXIT_INTERNAL;
    goto out;
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      printf(compare_usage, presets, allocators);
      goto out;
    }
    if (!strcmp(a, "--quiet")) {
      quiet = 1;
      continue;
    }
    if (!strcmp(a, "--no-variant-plots")) {
      variant_plots = 0;
      continue;
    }
    if (a[0] != '-') {
      inputs[ninputs++] = a;
      continue;
    }
    static const char *const with_value[] = {"-o", "--output", "--variants", "--format", "--jobs",
                                             "--opt", "--ops-per-ms", "--sample-every",
                                             "--thread-maps", "--max-events", "--mode"};
    if (!ha_is_one_of(a, with_value, sizeof with_value / sizeof *with_value)) {
      rc = usage_error("unknown option", a);
      goto out;
    }
    if (!val) {
      rc = usage_error("missing value for", a);
      goto out;
    }
    i++;
    if (!strcmp(a, "-o") || !strcmp(a, "--output")) dir = val;
    else if (!strcmp(a, "--variants")) variants = val;
    else if (!strcmp(a, "--format")) {
      if (ha_parse_format(val, &formats)) {
        rc = usage_error("--format: expected png, svg or both, got", val);
        goto out;
      }
    } else if (!strcmp(a, "--jobs")) {
      if (ha_parse_jobs(val, &jobs)) {
        rc = usage_error("--jobs: expected an integer >= 1, got", val);
        goto out;
      }
    } else if (!strcmp(a, "--opt") || !strcmp(a, "--ops-per-ms") || !strcmp(a, "--sample-every") ||
               !strcmp(a, "--thread-maps") || !strcmp(a, "--max-events") || !strcmp(a, "--mode")) {
      pass[npass++] = a; /* the replayer checks the values */
      pass[npass++] = val;
    } else {
      rc = usage_error("unknown option", a);
      goto out;
    }
  }
  if (ninputs == 0) {
    rc = usage_error("no trace or run.json given", NULL);
    goto out;
  }
  if (jobs == 0) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    jobs = cpus > 0 ? (int)cpus : 1;
  }

  int runs = is_run(inputs[0]);
  if (!runs && ninputs > 1) {
    rc = usage_error("one trace at a time (or several run.json files); also given", inputs[1]);
    goto out;
  }
  for (size_t i = 1; i < ninputs; i++)
    if (!is_run(inputs[i])) {
      rc = usage_error("expected run.json files only, got", inputs[i]);
      goto out;
    }
  if (runs && (variants || npass)) {
    rc = usage_error("--variants and replay options go with a trace, not with run.json files", NULL);
    goto out;
  }
  if (!runs && access(inputs[0], R_OK) != 0) {
    fprintf(stderr, "hakreplay compare: %s: cannot open: %s\n", inputs[0], strerror(errno));
    rc = HA_EXIT_USAGE;
    goto out;
  }

  /* Every input is checked before the output directory is made (an
   * unknown variant left an empty folder per variant behind). */
  if (!runs) {
    char list[1024];
    snprintf(list, sizeof list, "%s", variants ? variants : presets);
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
      int external = in_list(tok, allocators);
      if (!external && !is_preset(tok, presets)) {
        fprintf(stderr,
                "hakreplay compare: --variants: unknown preset or allocator '%s' (the presets: %s, "
                "none; the allocators: %s)\n",
                tok, presets, allocators);
        rc = HA_EXIT_USAGE;
        goto out;
      }
      if ((rc = add_variant(v, &n, tok, &err))) goto fail;
      v[n - 1].external = external;
    }
    if (n == 0) {
      rc = usage_error("--variants: no variant given", variants);
      goto out;
    }
  }
  if ((rc = ha_mkdirs(dir, &err))) goto fail;
  if (runs) {
    for (size_t i = 0; i < ninputs; i++) {
      if (n == HA_MAX_VARIANTS) {
        rc = ha_fail(&err, HA_ERR_INPUT, "more than %d runs", HA_MAX_VARIANTS);
        goto fail;
      }
      n++; /* labelled below, once every run is loaded */
      snprintf(v[i].run_path, sizeof v[i].run_path, "%s", inputs[i]);
      if ((rc = ha_run_load(inputs[i], &v[i].run, &err))) goto fail;
      v[i].replay_exit = json_is_object(ha_path_get(v[i].run, "summary.oom")) ? 3 : 0;
    }
    label_runs(v, n);
  } else {
    for (size_t i = 0; i < n; i++) {
      if ((rc = ha_join(v[i].dir, sizeof v[i].dir, dir, v[i].label, &err)) || (rc = ha_mkdirs(v[i].dir, &err)) ||
          (rc = ha_join(v[i].run_path, sizeof v[i].run_path, v[i].dir, "run.json", &err)))
        goto fail;
    }
    if (!quiet && isatty(STDERR_FILENO)) rc = run_replays_board(inputs[0], v, n, pass, npass, jobs, &err);
    else rc = run_replays(inputs[0], v, n, pass, npass, jobs, quiet, &err);
    if (rc) goto fail;
    for (size_t i = 0; i < n; i++)
      if ((rc = ha_run_load(v[i].run_path, &v[i].run, &err))) {
        rc = HA_ERR_INTERNAL; /* the replayer wrote it: not the user's input */
        goto fail;
      }
  }
  name_columns(v, n);
  for (size_t i = 0; i < n; i++)
    if ((rc = ha_join(v[i].dir, sizeof v[i].dir, dir, v[i].label, &err))) goto fail;
  if (variant_plots && (rc = plot_variants(v, n, formats, jobs, &err))) goto fail;
  if ((rc = ha_compare_write(v, n, dir, formats, variant_plots, &md, &err))) goto fail;
  fputs(md, stdout);
  if (!quiet) fprintf(stderr, "compare: wrote %s/index.html, compare.md, compare.json\n", dir);
  goto out;
fail:
  fprintf(stderr, "hakreplay compare: %s\n", err.msg);
  rc = -rc;
out:
  for (size_t i = 0; v && i < n; i++) json_decref(v[i].run);
  free(md);
  free(v);
  free(inputs);
  free(pass);
  return rc;
}
