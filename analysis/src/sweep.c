/* sweep.c: `hakreplay sweep TRACE... --variants A,B,... [--opt-grid
 * NAME=V1,V2,...]... -o DIR --emit parallel|slurm|run`. A study is a grid
 * (traces x variants x option values); sweep writes it as the engines
 * people already have run it: DIR/jobs.txt, one self-contained hakreplay
 * command per line (absolute paths, each writing DIR/<run name>/run.json),
 * for GNU parallel, and DIR/slurm.sh, an `sbatch --array` script whose
 * task N runs line N. --emit run runs the lines here, --jobs at a time,
 * each pinned to a CPU of its own as compare's replays are.
 *
 * An allocator other than hakmem (glibc, ...) has no options: it is one
 * run per trace, whatever the grid. Run names are the trace's file name
 * (without its extension), the variant and each grid option's value:
 * larson-seed-300.phase1.idle_trim_ms-10. `hakreplay compare` of their
 * run.json files then brings any set of them together.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

#define HA_SWEEP_MAX_GRID 8
#define HA_SWEEP_MAX_VALUES 64

static const char sweep_usage[] =
    "usage: hakreplay sweep TRACE... --variants A,B,... [--opt-grid NAME=V1,V2,...]...\n"
    "                       [--opt NAME=VALUE]... -o DIR [--emit parallel|slurm|run] [--jobs N]\n"
    "Writes the grid traces x variants x option values as DIR/jobs.txt (one hakreplay\n"
    "command per line, each writing DIR/RUN/run.json) and DIR/slurm.sh (an sbatch --array\n"
    "script running line $SLURM_ARRAY_TASK_ID). Variants: the presets (%s)\n"
    "and the allocators (%s); --opt-grid and --opt apply to the presets.\n"
    "  --emit parallel   (default) print how to run it: parallel < DIR/jobs.txt\n"
    "  --emit slurm      print how to submit it: sbatch DIR/slurm.sh\n"
    "  --emit run        run it here, --jobs N at a time (default: CPUs), with progress\n"
    "  passed to every replay: --ops-per-ms N, --sample-every N, --max-events N,\n"
    "                          --thread-maps N (presets only)\n"
    "Then: hakreplay compare DIR/*/run.json -o DIR/compare; hakreplay check each.\n"
    "Exit: 0 done (a run out of memory is a result), 2 bad input or usage, 4 a run failed.\n";

typedef struct grid {
  char name[64];
  char *values[HA_SWEEP_MAX_VALUES];
  size_t n;
} grid;

/* One word for a shell line: as is when it is safe, else single-quoted. */
static void put_word(FILE *f, const char *w) {
  if (*w && strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./=,+:@%-") ==
                strlen(w)) {
    fputs(w, f);
    return;
  }
  fputc('\'', f);
  for (; *w; w++) {
    if (*w == '\'') fputs("'\\''", f);
    else fputc(*w, f);
  }
  fputc('\'', f);
}

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

/* The trace's file name without its extension, as a label. */
static void trace_stem(char *buf, size_t n, const char *path) {
  char tmp[256];
  snprintf(tmp, sizeof tmp, "%s", ha_basename(path));
  char *dot = strchr(tmp, '.');
  if (dot && dot != tmp) *dot = '\0';
  ha_label(buf, n, tmp);
}

typedef struct job {
  char name[256];
} job;

/* Runs the lines of jobs.txt here; the worst outcome as an exit code. */
static int run_here(const char *dir, char **lines, const job *jobs, size_t n, int njobs) {
  pid_t *pids = calloc((size_t)njobs, sizeof *pids);
  size_t *which = calloc((size_t)njobs, sizeof *which);
  int *cpu = calloc((size_t)njobs, sizeof *cpu);
  if (!pids || !which || !cpu) {
    free(pids), free(which), free(cpu);
    return HA_EXIT_INTERNAL;
  }
  ha_cpus c;
  ha_cpus_init(&c, njobs);
  size_t next = 0, done = 0;
  int running = 0, worst = 0;
  while (done < n) {
    while (next < n && running < njobs) {
      int slot = 0;
      while (pids[slot]) slot++;
      char log[HA_PATH_MAX];
      snprintf(log, sizeof log, "%s/%s/log.txt", dir, jobs[next].name);
      int k = ha_cpus_take(&c);
      fflush(NULL);
      pid_t pid = fork();
      if (pid < 0) {
        ha_cpus_give(&c, k);
        fprintf(stderr, "hakreplay sweep: fork: %s\n", strerror(errno));
        worst = HA_EXIT_INTERNAL;
        n = next; /* start nothing more */
        break;
      }
      if (pid == 0) {
        ha_pin_self(k);
        if (!freopen(log, "w", stdout) || dup2(STDOUT_FILENO, STDERR_FILENO) < 0) _exit(127);
        execl("/bin/sh", "sh", "-c", lines[next], (char *)NULL);
        _exit(127);
      }
      pids[slot] = pid;
      which[slot] = next++;
      cpu[slot] = k;
      running++;
    }
    if (running == 0) break;
    int status;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    int slot = 0;
    while (slot < njobs && pids[slot] != pid) slot++;
    if (slot == njobs) continue;
    pids[slot] = 0;
    running--;
    ha_cpus_give(&c, cpu[slot]);
    done++;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    const char *what = code == 0 ? "done" : code == 3 ? "done, out of memory" : "FAILED";
    fprintf(stderr, "sweep: [%zu/%zu] %s: %s", done, n, jobs[which[slot]].name, what);
    if (code != 0 && code != 3) {
      fprintf(stderr, " (exit %d; %s/%s/log.txt)", code, dir, jobs[which[slot]].name);
      if (code == 2 && worst != HA_EXIT_INTERNAL) worst = HA_EXIT_USAGE;
      else worst = HA_EXIT_INTERNAL;
    }
    fputc('\n', stderr);
  }
  free(pids), free(which), free(cpu);
  return worst;
}

static int usage_error(const char *msg, const char *arg) {
  return ha_usage_error("sweep", msg, arg);
}

/* Writes jobs.txt and slurm.sh; fills jobs and lines. */
static int write_grid(const char *self, const char *dir, char **traces, size_t ntraces,
                      char **variants, size_t nvariants, const char *allocators, grid *g,
                      size_t ng, const char **pass, size_t npass, job **jobs_out,
                      char ***lines_out, size_t *n_out, ha_err *err) {
  size_t combos = 1;
  for (size_t i = 0; i < ng; i++) combos *= g[i].n;
  size_t cap = ntraces * nvariants * combos;
  job *jobs = calloc(cap ? cap : 1, sizeof *jobs);
  char **lines = calloc(cap ? cap : 1, sizeof *lines);
  if (!jobs || !lines) {
    free(jobs), free(lines);
    return ha_fail(err, HA_ERR_INTERNAL, "out of memory");
  }
  size_t n = 0;
  int rc = 0;
  for (size_t t = 0; t < ntraces && !rc; t++) {
    char stem[128];
    trace_stem(stem, sizeof stem, traces[t]);
    for (size_t v = 0; v < nvariants && !rc; v++) {
      int external = in_list(variants[v], allocators);
      for (size_t c = 0; c < (external ? 1 : combos) && !rc; c++) {
        char name[256];
        snprintf(name, sizeof name, "%s.%s", stem, variants[v]);
        size_t rest = c;
        size_t idx[HA_SWEEP_MAX_GRID];
        for (size_t i = ng; i-- > 0;) {
          idx[i] = rest % g[i].n;
          rest /= g[i].n;
        }
        for (size_t i = 0; !external && i < ng; i++) {
          size_t len = strlen(name);
          snprintf(name + len, sizeof name - len, ".%s-%s", g[i].name, g[i].values[idx[i]]);
        }
        ha_label(jobs[n].name, sizeof jobs[n].name, name);
        for (size_t j = 0; j < n; j++)
          if (!strcmp(jobs[j].name, jobs[n].name))
            rc = ha_fail(err, HA_ERR_INPUT, "two runs would be named %s (a trace or value given twice?)",
                         jobs[n].name);
        if (rc) break;
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        if (!f) return ha_fail(err, HA_ERR_INTERNAL, "out of memory");
        put_word(f, self);
        fputc(' ', f);
        put_word(f, traces[t]);
        fputs(" --allocator ", f);
        put_word(f, external ? variants[v] : "hakmem");
        if (!external) {
          fputs(" --variant ", f);
          put_word(f, variants[v]);
          for (size_t i = 0; i < ng; i++) {
            char *kv = NULL;
            if (asprintf(&kv, "%s=%s", g[i].name, g[i].values[idx[i]]) < 0) kv = NULL;
            fputs(" --opt ", f);
            put_word(f, kv ? kv : "");
            free(kv);
          }
        }
        for (size_t i = 0; i + 1 < npass; i += 2) {
          if (external && (!strcmp(pass[i], "--opt") || !strcmp(pass[i], "--thread-maps"))) continue;
          fprintf(f, " %s ", pass[i]);
          put_word(f, pass[i + 1]);
        }
        char out[HA_PATH_MAX];
        snprintf(out, sizeof out, "%s/%s/run.json", dir, jobs[n].name);
        fputs(" --quiet -o ", f);
        put_word(f, out);
        fclose(f);
        lines[n++] = text;
      }
    }
  }
  *jobs_out = jobs;
  *lines_out = lines;
  *n_out = n;
  if (rc) return rc;
  /* The runs' folders, then the two files. */
  for (size_t i = 0; i < n; i++) {
    char sub[HA_PATH_MAX];
    if ((rc = ha_join(sub, sizeof sub, dir, jobs[i].name, err)) || (rc = ha_mkdirs(sub, err))) return rc;
  }
  ha_out o;
  if ((rc = ha_out_open(&o, dir, "jobs.txt", err))) return rc;
  for (size_t i = 0; i < n; i++) fprintf(o.f, "%s\n", lines[i]);
  if ((rc = ha_out_commit(&o, err))) return rc;
  if ((rc = ha_out_open(&o, dir, "slurm.sh", err))) return rc;
  fprintf(o.f,
          "#!/bin/bash\n"
          "# A Slurm array of the %zu replays of jobs.txt (written by hakreplay sweep):\n"
          "# task N runs line N. Submit with: sbatch slurm.sh (from any folder); each run\n"
          "# writes its own run.json, so GNU parallel and this array make the same files.\n"
          "#SBATCH --job-name=hakreplay-sweep\n"
          "#SBATCH --array=1-%zu\n"
          "#SBATCH --cpus-per-task=2\n"
          "#SBATCH --output=%s/slurm-%%A_%%a.out\n"
          "set -euo pipefail\n"
          "jobs=",
          n, n, dir);
  put_word(o.f, dir);
  fputs("/jobs.txt\n"
        "task=${SLURM_ARRAY_TASK_ID:?not in a Slurm array task: sbatch slurm.sh, or set SLURM_ARRAY_TASK_ID}\n"
        "line=$(sed -n \"${task}p\" \"$jobs\")\n"
        "[ -n \"$line\" ] || { echo \"slurm.sh: $jobs has no line $task\" >&2; exit 2; }\n"
        "exec /bin/sh -c \"$line\"\n",
        o.f);
  if ((rc = ha_out_commit(&o, err))) return rc;
  char sh[HA_PATH_MAX];
  snprintf(sh, sizeof sh, "%s/slurm.sh", dir);
  chmod(sh, 0755);
  return 0;
}

int ha_sweep_main(int argc, char **argv, const char *presets, const char *allocators) {
  char **traces = calloc((size_t)argc, sizeof *traces);
  const char **pass = calloc((size_t)argc, sizeof *pass);
  char *variants[64];
  grid g[HA_SWEEP_MAX_GRID];
  size_t ntraces = 0, npass = 0, nvariants = 0, ng = 0, n = 0;
  const char *dir_arg = NULL, *emit = "parallel", *variant_arg = NULL;
  int jobs_n = 0, rc = 0;
  char *variant_copy = NULL;
  job *jobs = NULL;
  char **lines = NULL;
  ha_err err;
  memset(g, 0, sizeof g);
  if (!traces || !pass) {
    rc = HA_EXIT_INTERNAL;
    goto out;
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      printf(sweep_usage, presets, allocators);
      goto out;
    }
    if (a[0] != '-') {
      char *abs = realpath(a, NULL);
      if (!abs) {
        fprintf(stderr, "hakreplay sweep: %s: cannot open: %s\n", a, strerror(errno));
        rc = HA_EXIT_USAGE;
        goto out;
      }
      traces[ntraces++] = abs;
      continue;
    }
    static const char *const with_value[] = {"-o", "--output", "--variants", "--opt-grid", "--opt",
                                             "--emit", "--jobs", "--ops-per-ms", "--sample-every",
                                             "--max-events", "--thread-maps"};
    if (!ha_is_one_of(a, with_value, sizeof with_value / sizeof *with_value)) {
      rc = usage_error("unknown option", a);
      goto out;
    }
    if (!val) {
      rc = usage_error("missing value for", a);
      goto out;
    }
    i++;
    if (!strcmp(a, "-o") || !strcmp(a, "--output")) dir_arg = val;
    else if (!strcmp(a, "--variants")) variant_arg = val;
    else if (!strcmp(a, "--emit")) emit = val;
    else if (!strcmp(a, "--jobs")) {
      if (ha_parse_jobs(val, &jobs_n)) {
        rc = usage_error("--jobs: expected an integer >= 1, got", val);
        goto out;
      }
    } else if (!strcmp(a, "--opt-grid")) {
      const char *eq = strchr(val, '=');
      if (!eq || eq == val || !eq[1] || ng == HA_SWEEP_MAX_GRID) {
        rc = usage_error("--opt-grid: expected NAME=V1,V2,... (at most 8)", val);
        goto out;
      }
      grid *d = &g[ng++];
      snprintf(d->name, sizeof d->name, "%.*s", (int)(eq - val), val);
      char *copy = strdup(eq + 1);
      for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok && d->n < HA_SWEEP_MAX_VALUES;
           tok = strtok_r(NULL, ",", &save))
        d->values[d->n++] = strdup(tok);
      free(copy);
      if (!d->n) {
        rc = usage_error("--opt-grid: no value", val);
        goto out;
      }
    } else {
      pass[npass++] = a; /* the replayer checks the values */
      pass[npass++] = val;
    }
  }
  if (!ntraces) {
    rc = usage_error("no trace given", NULL);
    goto out;
  }
  if (!dir_arg) {
    rc = usage_error("no output folder given (-o DIR)", NULL);
    goto out;
  }
  if (!variant_arg) {
    rc = usage_error("no --variants given", NULL);
    goto out;
  }
  if (strcmp(emit, "parallel") && strcmp(emit, "slurm") && strcmp(emit, "run")) {
    rc = usage_error("--emit: expected parallel, slurm or run, got", emit);
    goto out;
  }
  variant_copy = strdup(variant_arg);
  for (char *save = NULL, *tok = strtok_r(variant_copy, ",", &save); tok && nvariants < 64;
       tok = strtok_r(NULL, ",", &save)) {
    if (!in_list(tok, allocators) && !in_list(tok, presets) && strcmp(tok, "none")) {
      fprintf(stderr,
              "hakreplay sweep: --variants: unknown preset or allocator '%s' (the presets: %s, "
              "none; the allocators: %s)\n",
              tok, presets, allocators);
      rc = HA_EXIT_USAGE;
      goto out;
    }
    variants[nvariants++] = tok;
  }
  if (!nvariants) {
    rc = usage_error("--variants: no variant given", variant_arg);
    goto out;
  }
  char *self = realpath("/proc/self/exe", NULL);
  if ((rc = ha_mkdirs(dir_arg, &err))) {
    free(self);
    goto fail;
  }
  char *dir = realpath(dir_arg, NULL);
  if (!self || !dir) {
    free(self), free(dir);
    rc = ha_fail(&err, HA_ERR_INTERNAL, "realpath: %s", strerror(errno));
    goto fail;
  }
  rc = write_grid(self, dir, traces, ntraces, variants, nvariants, allocators, g, ng, pass, npass,
                  &jobs, &lines, &n, &err);
  free(self);
  if (rc) {
    free(dir);
    goto fail;
  }
  if (!strcmp(emit, "run")) {
    if (!jobs_n) {
      long cpus = sysconf(_SC_NPROCESSORS_ONLN);
      jobs_n = cpus > 0 ? (int)cpus : 1;
    }
    fprintf(stderr, "sweep: %zu runs, %d at a time (%s/jobs.txt)\n", n, jobs_n, dir);
    rc = run_here(dir, lines, jobs, n, jobs_n);
    if (!rc) fprintf(stderr, "sweep: done; hakreplay compare %s/*/run.json -o %s/compare\n", dir, dir);
  } else if (!strcmp(emit, "slurm")) {
    printf("%zu runs in %s/jobs.txt; submit them as a Slurm array with:\n  sbatch %s/slurm.sh\n"
           "then: hakreplay compare %s/*/run.json -o %s/compare\n", n, dir, dir, dir, dir);
  } else {
    printf("%zu runs in %s/jobs.txt; run them with GNU parallel:\n  parallel < %s/jobs.txt\n"
           "then: hakreplay compare %s/*/run.json -o %s/compare\n", n, dir, dir, dir, dir);
  }
  free(dir);
  goto out;
fail:
  fprintf(stderr, "hakreplay sweep: %s\n", err.msg);
  rc = -rc;
out:
  for (size_t i = 0; i < ntraces; i++) free(traces[i]);
  for (size_t i = 0; lines && i < n; i++) free(lines[i]);
  for (size_t i = 0; i < ng; i++)
    for (size_t k = 0; k < g[i].n; k++) free(g[i].values[k]);
  free(lines);
  free(jobs);
  free(variant_copy);
  free(traces);
  free(pass);
  return rc;
}
