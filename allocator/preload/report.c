/* report.c: what libhakmem.so tells about a run, and its fork handlers.
 *
 *   HAKMEM_STATS=1          one line of every counter on stderr at exit;
 *   HAKMEM_STATS_JSON=FILE  {"pid", "variant", "config", "stats", "preload"} at exit,
 *                           written as every output of the project is
 *                           (common/include/hc_out.h);
 *   HAKMEM_SAMPLE_MS=N,
 *   HAKMEM_SAMPLE_FILE=F    a sampler thread appends a census line to F
 *                           every N ms (and a last one at exit), with the
 *                           field names of run.json samples.
 * A "%p" in either file name becomes the process id (forked and exec'd
 * children would otherwise overwrite their parent's file). The variables
 * are rows of the options table (HAK_PRELOAD_OPTIONS in hak_options.h):
 * options.c parses and checks them, without allocating.
 *
 * Invariants: the sampler never allocates (lines are formatted on its
 * stack and written with one write() on an O_APPEND descriptor, so a
 * reader sees whole lines); only the process that started the sampler
 * samples (fork does not copy it, and the child does not restart it); the
 * exit report runs in the library destructor, after the program's atexit
 * handlers, with the instance still alive for whatever runs after it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hak_json.h"
#include "hc_out.h"
#include "preload.h"

static struct {
  hak_preload_config opt;       /* HAKMEM_STATS, HAKMEM_STATS_JSON, HAKMEM_SAMPLE_* */
  /* A copy of stderr taken at start-up: coreutils and others close fd 2
   * in an atexit handler, before the library destructor runs. Identified
   * by device and inode, so a descriptor the program closed and reused
   * for something else is never written to. */
  int err_fd;
  dev_t err_dev;
  ino_t err_ino;
} cfg;

static struct {
  hak_allocator *alloc;
  pthread_t thread;
  bool running;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool stop;                    /* under lock */
  int fd;
  pid_t pid;                    /* the sampling process */
  struct timespec t0;
  uint64_t prev_local, prev_remote; /* sampler thread only (then exit) */
} smp = {.lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1};

int hak_preload_report_config(char *err, size_t errlen) {
  hak_preload_config_default(&cfg.opt);
  if (hak_preload_config_from_env(&cfg.opt, err, errlen) != 0) return -1;
  cfg.err_fd = -1;
  struct stat sb;
  /* Both reports may need it: the stats line, and the one line saying a
   * HAKMEM_STATS_JSON file could not be written. */
  if ((cfg.opt.stats || cfg.opt.stats_json[0]) && fstat(2, &sb) == 0) {
    cfg.err_fd = fcntl(2, F_DUPFD_CLOEXEC, 100);
    cfg.err_dev = sb.st_dev;
    cfg.err_ino = sb.st_ino;
  }
  return 0;
}

/* path with every "%p" replaced by the pid. */
static void expand_path(const char *path, char *out, size_t len) {
  size_t o = 0;
  for (const char *s = path; *s && o + 1 < len; s++) {
    if (s[0] == '%' && s[1] == 'p') {
      int n = snprintf(out + o, len - o, "%ld", (long)getpid());
      if (n < 0 || (size_t)n >= len - o) break;
      o += (size_t)n;
      s++;
    } else {
      out[o++] = *s;
    }
  }
  out[o] = '\0';
}

/* ------------------------------------------------------------- sampler */

typedef struct census {
  uint64_t live, orphaned, touched, meta, remote_pending;
  int64_t active;
} census;

static void census_one(void *ctx, const hak_ss_info *ss) {
  census *c = ctx;
  c->live++;
  if (ss->slabs_orphaned) c->orphaned++;
  c->touched += ss->touched_bytes;
  c->meta += ss->header_bytes;
  c->remote_pending += ss->remote_pending;
  c->active += ss->total_active_blocks;
}

static double ratio(uint64_t num, uint64_t den) { return den ? (double)num / (double)den : 0.0; }

static uint64_t ms_since(const struct timespec *t0) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (uint64_t)(now.tv_sec - t0->tv_sec) * 1000u +
         (uint64_t)((now.tv_nsec - t0->tv_nsec) / 1000000);
}

static void write_sample(void) {
  hak_allocator *a = smp.alloc;
  census c = {0};
  hak_ss_census(a, census_one, &c);
  hak_stats st;
  hak_get_stats(a, &st);
  uint64_t ss_size = (uint64_t)1 << hak_get_config(a)->ss_lg;
  uint64_t dl = st.frees_local - smp.prev_local, dr = st.frees_remote - smp.prev_remote;
  smp.prev_local = st.frees_local;
  smp.prev_remote = st.frees_remote;
  char line[1024];
  int n = snprintf(
      line, sizeof line,
      "{\"t\":%" PRIu64 ",\"ss_mapped_bytes\":%" PRIu64 ",\"touched_bytes\":%" PRIu64
      ",\"meta_bytes\":%" PRIu64 ",\"large_mapped_bytes\":%" PRIu64 ",\"ss\":{\"live\":%" PRIu64
      ",\"orphaned\":%" PRIu64 "},\"total_active_blocks\":%" PRId64
      ",\"frees\":{\"local\":%" PRIu64 ",\"remote\":%" PRIu64 ",\"remote_ratio\":%.6f}"
      ",\"frees_interval\":{\"local\":%" PRIu64 ",\"remote\":%" PRIu64 ",\"remote_ratio\":%.6f}"
      ",\"remote_pending_blocks\":%" PRIu64 ",\"drains\":%" PRIu64 ",\"drained_blocks\":%" PRIu64
      ",\"threads_alive\":%" PRIu64 ",\"ss_allocated\":%" PRIu64 ",\"ss_freed\":%" PRIu64
      ",\"ooms\":%" PRIu64 "}\n",
      ms_since(&smp.t0), c.live * ss_size, c.touched, c.meta,
      st.large_bytes_live, c.live, c.orphaned, c.active, st.frees_local, st.frees_remote,
      ratio(st.frees_remote, st.frees_local + st.frees_remote), dl, dr, ratio(dr, dl + dr),
      c.remote_pending, st.drains, st.drained_blocks, st.threads_attached - st.threads_exited,
      st.ss_allocated, st.ss_freed, st.ooms);
  if (n > 0 && (size_t)n < sizeof line) hak_preload_write_all(smp.fd, line, (size_t)n);
}

static void *sampler_main(void *arg) {
  (void)arg;
  /* Signals meant for the program must not land here. */
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  pthread_mutex_lock(&smp.lock);
  while (!smp.stop) {
    next.tv_sec += cfg.opt.sample_ms / 1000;
    next.tv_nsec += (long)(cfg.opt.sample_ms % 1000) * 1000000L;
    if (next.tv_nsec >= 1000000000L) {
      next.tv_sec++;
      next.tv_nsec -= 1000000000L;
    }
    while (!smp.stop && pthread_cond_timedwait(&smp.cond, &smp.lock, &next) != ETIMEDOUT) {
    }
    if (smp.stop) break;
    pthread_mutex_unlock(&smp.lock);
    write_sample();
    pthread_mutex_lock(&smp.lock);
  }
  pthread_mutex_unlock(&smp.lock);
  return NULL;
}

static void sampler_start(hak_allocator *a) {
  char path[PATH_MAX];
  expand_path(cfg.opt.sample_file, path, sizeof path);
  smp.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (smp.fd < 0) {
    char msg[PATH_MAX + 128];
    int n = snprintf(msg, sizeof msg, "[hakmem] HAKMEM_SAMPLE_FILE: cannot open %s: %s\n", path,
                     strerror(errno));
    if (n > 0) hak_preload_write_all(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    return;
  }
  smp.alloc = a;
  smp.pid = getpid();
  clock_gettime(CLOCK_MONOTONIC, &smp.t0);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&smp.cond, &ca);
  pthread_condattr_destroy(&ca);
  write_sample(); /* t = 0 */
  if (pthread_create(&smp.thread, NULL, sampler_main, NULL) == 0) smp.running = true;
}

static void sampler_stop(void) {
  if (smp.fd < 0 || smp.pid != getpid()) return;
  if (smp.running) {
    pthread_mutex_lock(&smp.lock);
    smp.stop = true;
    pthread_cond_signal(&smp.cond);
    pthread_mutex_unlock(&smp.lock);
    pthread_join(smp.thread, NULL);
    smp.running = false;
  }
  write_sample(); /* the last one, at exit */
  close(smp.fd);
  smp.fd = -1;
}

/* ----------------------------------------------------------------- fork */

static hak_allocator *fork_alloc;

static void fork_prepare(void) {
  pthread_mutex_lock(&smp.lock);
  hak_fork_prepare(fork_alloc);
}

static void fork_parent(void) {
  hak_fork_parent(fork_alloc);
  pthread_mutex_unlock(&smp.lock);
}

static void fork_child(void) {
  hak_fork_child(fork_alloc);
  /* The sampler thread is not copied; its descriptor is the parent's. */
  smp.running = false;
  if (smp.fd >= 0) close(smp.fd);
  smp.fd = -1;
  pthread_mutex_init(&smp.lock, NULL);
}

void hak_preload_report_start(hak_allocator *a) {
  static bool started;
  if (started) return;
  started = true;
  fork_alloc = a;
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  if (cfg.opt.sample_ms) sampler_start(a);
}

/* ----------------------------------------------------------------- exit */

#define HP_PRELOAD_FIELDS(X)                                                        \
  X(foreign_frees) X(foreign_reallocs) X(failed_frees) X(bootstrap_allocs)          \
  X(bootstrap_frees) X(bootstrap_bytes)

/* fd is still the stderr the process started with. */
static bool is_stderr(int fd) {
  struct stat sb;
  return fd >= 0 && fstat(fd, &sb) == 0 && sb.st_dev == cfg.err_dev && sb.st_ino == cfg.err_ino;
}

static void print_stats(hak_allocator *a, const hak_stats *st) {
  char buf[4096];
  size_t o = 0;
  int n = snprintf(buf, sizeof buf, "[hakmem] pid=%ld preset=%s", (long)getpid(),
                   hak_preset_name((hak_preset_t)hak_get_config(a)->preset));
  if (n > 0) o = (size_t)n;
#define HP_PRINT(name, desc)                                                                 \
  if (o < sizeof buf) {                                                                      \
    n = snprintf(buf + o, sizeof buf - o, " " #name "=%" PRIu64, st->name);                  \
    if (n > 0) o += (size_t)n;                                                               \
  }
  HAK_THREAD_STAT_FIELDS(HP_PRINT)
  HAK_GLOBAL_STAT_FIELDS(HP_PRINT)
  HAK_MAP_STAT_FIELDS(HP_PRINT)
#undef HP_PRINT
#define HP_PRINT_P(name)                                                                     \
  if (o < sizeof buf) {                                                                      \
    n = snprintf(buf + o, sizeof buf - o, " " #name "=%" PRIu64,                             \
                 atomic_load_explicit(&hak_preload_counts.name, memory_order_relaxed));      \
    if (n > 0) o += (size_t)n;                                                               \
  }
  HP_PRELOAD_FIELDS(HP_PRINT_P)
#undef HP_PRINT_P
  if (o >= sizeof buf - 1) o = sizeof buf - 2;
  buf[o++] = '\n';
  if (is_stderr(cfg.err_fd)) hak_preload_write_all(cfg.err_fd, buf, o);
  else if (is_stderr(2)) hak_preload_write_all(2, buf, o);
}

/* A message of the exit report, on stderr as the program left it or on
 * the copy taken at start-up (coreutils close fd 2 before we run). */
static void report_line(const char *msg, size_t n) {
  if (is_stderr(cfg.err_fd)) hak_preload_write_all(cfg.err_fd, msg, n);
  else if (is_stderr(2)) hak_preload_write_all(2, msg, n);
}

/* Through the project's output module (common/include/hc_out.h): a
 * temporary file renamed over the target, a symbolic link followed, a FIFO
 * or a device written straight through; never a change to the program's
 * signal handling (HC_OUT_NO_SIGNALS).  The JSON text goes out through
 * jansson's callback: no FILE, no buffer of the whole document. */
static void write_json(hak_allocator *a, const hak_stats *st) {
  char path[PATH_MAX];
  expand_path(cfg.opt.stats_json, path, sizeof path);
  json_t *pre = json_object();
#define HP_JSON_P(name)                                                                      \
  json_object_set_new(pre, #name,                                                            \
                      json_integer((json_int_t)atomic_load_explicit(&hak_preload_counts.name, \
                                                                    memory_order_relaxed)));
  HP_PRELOAD_FIELDS(HP_JSON_P)
#undef HP_JSON_P
  char label[HAK_LABEL_MAX];
  json_t *stats = hak_stats_to_json(st), *maps = hak_map_stats_to_json(st);
  json_object_update(stats, maps);
  json_decref(maps);
  json_t *doc = json_pack("{sI ss so so so}", "pid", (json_int_t)getpid(), "variant",
                          hak_config_label(hak_get_config(a), label, sizeof label), "config",
                          hak_config_to_json(hak_get_config(a)), "stats", stats, "preload", pre);
  hc_out out;
  int rc = doc ? hc_out_open(&out, path, HC_OUT_NO_SIGNALS) : -ENOMEM;
  if (rc == 0) {
    if (json_dump_callback(doc, hc_out_json_cb, &out, JSON_INDENT(2) | JSON_ENSURE_ASCII) != 0 ||
        hc_out_write(&out, "\n", 1) != 0) {
      rc = out.err ? -out.err : -EIO;
      hc_out_abort(&out);
    } else {
      rc = hc_out_commit(&out);
    }
  }
  json_decref(doc);
  if (rc == 0) return;
  char msg[PATH_MAX + 160];
  int n = snprintf(msg, sizeof msg, "[hakmem] HAKMEM_STATS_JSON: cannot write %s: %s\n", path,
                   strerror(-rc));
  if (n > 0) report_line(msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
}

void hak_preload_report_exit(hak_allocator *a) {
  static bool done;
  if (done) return;
  done = true;
  sampler_stop();
  if (!cfg.opt.stats && !cfg.opt.stats_json[0]) return;
  hak_stats st;
  hak_get_stats(a, &st);
  if (cfg.opt.stats) print_stats(a, &st);
  if (cfg.opt.stats_json[0]) write_json(a, &st);
}
