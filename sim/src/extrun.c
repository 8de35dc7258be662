/* extrun.c: hakreplay TRACE --allocator NAME for glibc, jemalloc, mimalloc
 * and tcmalloc: the parent's side. It reads, validates, hashes and
 * resolves the trace (feed.c) into the op ring of a memfd it shares with a
 * child, a re-exec of hakreplay (--child FD) with the allocator preloaded
 * (child.c), so the replayer's own memory never lands in the allocator's
 * heap: the parent's is another process, the child's is shmem. Records
 * come back (samples, thread starts and exits) and the parent writes them
 * as run.json's text as they come, then the summary, exactly as the
 * in-process replay writes its own (docs/run-format.md, "Other
 * allocators").
 *
 * The two sides wait for each other on futexes in the memfd: the child
 * when the ring is empty or the records full, the parent when the ring is
 * full and no record is there. The parent also watches for the child's
 * death (a crash in the allocator is exit 4, naming the signal).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

#define HR_X_BATCH 4096 /* ops fed between two publications */

typedef struct ext {
  hr_run *run;
  hr_xshm *x;
  pid_t pid;
  int status;                  /* the child's, once reaped */
  FILE *spool;                 /* the samples' text */
  uint64_t nsamples;
  uint64_t prev_local, prev_remote;
  double *R, *H;               /* measured samples: live bytes, resident */
  uint64_t n, cap;
  uint64_t peak_resident, peak_mapped;
  double rutil_last;
  uint64_t last_self[HR_SELF_MAX];
  bool any_self;
  int failed;                  /* the spool's errno */
} ext;

/* One sample as an element of run.json's samples array (depth 2). */
static int put_sample(ext *e, const hr_xrec *r) {
  hr_xshm *x = e->x;
  if (fputs(e->nsamples ? ",\n  " : "\n  ", e->spool) == EOF && !e->failed) e->failed = hr_io_errno();
  hr_jw w;
  hr_jw_init(&w, e->spool, 2);
  hr_jw_open(&w, '{');
  hr_jw_put_int(&w, "t", (int64_t)r->t);
  hr_jw_put_int(&w, "live_blocks", (int64_t)r->live_blocks);
  hr_jw_put_int(&w, "live_req_bytes", (int64_t)r->live_bytes);
  hr_put_frees(&w, "frees", r->frees_local, r->frees_remote);
  hr_put_frees(&w, "frees_interval", r->frees_local - e->prev_local, r->frees_remote - e->prev_remote);
  hr_jw_put_int(&w, "threads_alive", (int64_t)r->threads_alive);
  e->prev_local = r->frees_local;
  e->prev_remote = r->frees_remote;
  int rc = 0;
  if (r->measured) {
    hr_jw_put_int(&w, "resident_bytes", (int64_t)r->resident);
    hr_jw_put_int(&w, "mapped_bytes", (int64_t)r->mapped);
    e->rutil_last = hr_ratio(r->live_bytes, r->resident);
    hr_jw_key(&w, "resident_utilization");
    hr_jw_real(&w, e->rutil_last);
    hr_jw_key(&w, "self");
    hr_jw_open(&w, '{');
    for (uint32_t i = 0; i < x->nself; i++) hr_jw_put_int(&w, x->self_names[i], (int64_t)r->self[i]);
    hr_jw_close(&w, '}');
    if (r->resident > e->peak_resident) e->peak_resident = r->resident;
    if (r->mapped > e->peak_mapped) e->peak_mapped = r->mapped;
    memcpy(e->last_self, r->self, sizeof e->last_self);
    e->any_self = true;
    rc = hr_series_push(&e->R, &e->H, &e->n, &e->cap, (double)r->live_bytes, (double)r->resident);
  }
  hr_jw_close(&w, '}');
  if (w.err && !e->failed) e->failed = hr_io_errno();
  e->nsamples++;
  return rc;
}

static void put_thread_event(hr_run *run, const hr_xrec *r) {
  hr_jw *w = hr_event_begin(&run->events, r->kind == HR_XREC_START ? "thread_start" : "thread_exit", r->t);
  if (!w) return;
  hr_jw_put_int(w, "thread", r->tid);
  if (r->kind == HR_XREC_START) {
    hr_jw_key(w, "parent");
    if (r->tid == 0) hr_jw_null(w);
    else hr_jw_int(w, r->parent);
  }
  hr_event_end(&run->events);
}

/* Takes every record there; whether there was one. -1: out of memory. */
static int take(ext *e) {
  hr_xshm *x = e->x;
  uint64_t put = atomic_load_explicit(&x->recs_put, memory_order_acquire);
  uint64_t taken = atomic_load_explicit(&x->recs_taken, memory_order_relaxed);
  if (taken == put) return 0;
  for (; taken < put; taken++) {
    const hr_xrec *r = &x->recs[taken % HR_X_RECS];
    if (r->kind == HR_XREC_SAMPLE) {
      if (put_sample(e, r) != 0) return -1;
    } else {
      put_thread_event(e->run, r);
    }
  }
  atomic_store_explicit(&x->recs_taken, taken, memory_order_release);
  atomic_fetch_add(&x->parent_bell, 1);
  if (atomic_load(&x->child_waits)) hr_xwake(&x->parent_bell);
  return 1;
}

/* Feeds what fits in the ring; whether anything was fed. */
static bool feed(ext *e, bool *ended) {
  hr_xshm *x = e->x;
  hr_feed *f = &e->run->feed;
  if (*ended) return false;
  uint64_t done = atomic_load_explicit(&x->done, memory_order_acquire);
  uint64_t n = 0;
  while (n < HR_X_BATCH && f->fed - done < HR_X_RING) {
    if (hr_feed_one(f, &x->ring[f->fed % HR_X_RING]) != 0) {
      *ended = true;
      break;
    }
    n++;
  }
  if (!n && !*ended) return false;
  atomic_store_explicit(&x->fed, f->fed, memory_order_release);
  if (*ended) atomic_store(&x->feed_end, 1);
  atomic_fetch_add(&x->parent_bell, 1);
  if (atomic_load(&x->child_waits)) hr_xwake(&x->parent_bell);
  return true;
}

/* The child's exit status once it is gone (-1 while it runs). */
static int reaped(ext *e, bool block) {
  int status;
  pid_t p = e->pid > 0 ? waitpid(e->pid, &status, block ? 0 : WNOHANG) : 0;
  if (e->pid <= 0) return e->status;
  if (p == 0 || (p < 0 && errno == EINTR)) return -1;
  e->pid = 0;
  e->status = p < 0 ? 255 << 8 : status;
  return e->status;
}

static const char *death(int status, char *buf, size_t len) {
  if (WIFSIGNALED(status)) snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
  else snprintf(buf, len, "exited %d", WEXITSTATUS(status));
  return buf;
}

static bool f_full(hr_run *run, hr_xshm *x) {
  return run->feed.fed - atomic_load(&x->done) >= HR_X_RING;
}

/* Runs the replay; 0, or an exit code with the message printed. */
static int drive(ext *e) {
  hr_run *run = e->run;
  hr_xshm *x = e->x;
  const char *name = run->opt->allocator;
  char why[128];
  bool ended = false;
  int status = -1;
  /* The child's setup: is the allocator there? */
  while (atomic_load(&x->state) == HR_XSTATE_STARTING) {
    uint32_t seen = atomic_load(&x->child_bell);
    atomic_store(&x->parent_waits, 1);
    if (atomic_load(&x->state) == HR_XSTATE_STARTING) hr_xwait(&x->child_bell, seen, 0.05);
    atomic_store(&x->parent_waits, 0);
    if ((status = reaped(e, false)) >= 0 && atomic_load(&x->state) == HR_XSTATE_STARTING) {
      fprintf(stderr, "hakreplay: the replay under %s %s before it started\n", name,
              death(status, why, sizeof why));
      return HR_EXIT_INTERNAL;
    }
  }
  if (atomic_load(&x->state) == HR_XSTATE_SETUP_FAILED) {
    fprintf(stderr, "hakreplay: --allocator %s\n", x->msg);
    return HR_EXIT_USAGE;
  }
  for (;;) {
    int got = take(e);
    if (got < 0) {
      fprintf(stderr, "hakreplay: out of memory\n");
      return HR_EXIT_INTERNAL;
    }
    bool fed = feed(e, &ended);
    atomic_store_explicit(&run->progress, atomic_load(&x->done), memory_order_relaxed);
    hr_progress(run, atomic_load_explicit(&run->progress, memory_order_relaxed), false);
    if (atomic_load(&x->state) == HR_XSTATE_DONE &&
        atomic_load(&x->recs_taken) == atomic_load(&x->recs_put))
      break;
    if (got || fed) continue;
    uint32_t seen = atomic_load(&x->child_bell);
    atomic_store(&x->parent_waits, 1);
    bool idle = atomic_load(&x->recs_put) == atomic_load(&x->recs_taken) &&
                (ended || f_full(run, x)) && atomic_load(&x->state) != HR_XSTATE_DONE;
    if (idle) hr_xwait(&x->child_bell, seen, 0.05);
    atomic_store(&x->parent_waits, 0);
    if (idle && (status = reaped(e, false)) >= 0 && atomic_load(&x->state) != HR_XSTATE_DONE) {
      fprintf(stderr, "hakreplay: %s: the replay under %s %s at event %llu\n", run->opt->trace_path,
              name, death(status, why, sizeof why), (unsigned long long)atomic_load(&x->done));
      return HR_EXIT_INTERNAL;
    }
  }
  return 0;
}

static json_t *config_json(ext *e) {
  const hr_options *o = e->run->opt;
  return json_pack("{ss ss s{ss sI sI sI sI sI}}", "variant", o->allocator, "allocator", o->allocator,
                   "replay", "mode", "deterministic", "ops_per_ms", (json_int_t)o->ops_per_ms,
                   "sample_every", (json_int_t)e->run->sample_every, "trim_every_events",
                   (json_int_t)0, "thread_maps", (json_int_t)0, "max_events",
                   (json_int_t)o->max_events);
}

static json_t *summary_json(ext *e, json_t *oom) {
  hr_xshm *x = e->x;
  json_t *self = json_object();
  for (uint32_t i = 0; e->any_self && i < x->nself; i++)
    json_object_set_new(self, x->self_names[i], json_integer((json_int_t)e->last_self[i]));
  json_t *o = json_pack(
      "{sI sI sI sI sI sf so sI sI sI sI sf}", "events", (json_int_t)x->events_done,
      "threads_started", (json_int_t)x->threads_started, "live_blocks_end",
      (json_int_t)x->live_blocks_end, "frees_local", (json_int_t)x->frees_local, "frees_remote",
      (json_int_t)x->frees_remote, "remote_ratio",
      hr_ratio(x->frees_remote, x->frees_local + x->frees_remote), "oom", oom ? oom : json_false(),
      "peak_live_req_bytes", (json_int_t)x->peak_live_bytes, "peak_resident_bytes",
      (json_int_t)e->peak_resident, "peak_mapped_bytes", (json_int_t)e->peak_mapped,
      "peak_live_all_bytes", (json_int_t)x->peak_live_bytes,
      "resident_utilization_end", e->rutil_last);
  json_object_set_new(o, "resident_fragmentation", hr_fragmentation_json(e->R, e->H, e->n));
  json_object_set_new(o, "events_dropped", json_integer((json_int_t)e->run->events.dropped));
  json_object_set_new(o, "allocator", json_pack("{ss ss ss so}", "name", e->run->opt->allocator,
                                                "version", x->version, "library", x->library,
                                                "self", self));
  return o;
}

typedef struct doc {
  ext *e;
  bool oom;
  double wall;
} doc;

static int write_doc(FILE *f, void *ctx) {
  doc *d = ctx;
  ext *e = d->e;
  hr_run *run = e->run;
  hr_xshm *x = e->x;
  json_t *oom = NULL;
  if (d->oom) {
    const hr_op *op = &x->ring[x->failure.t % HR_X_RING];
    oom = json_pack("{ss sI sI si}", "type", "oom", "t", (json_int_t)x->failure.t, "thread",
                    (json_int_t)op->tid, "errno", ENOMEM);
  }
  struct part {
    const char *key;
    json_t *value;
  } parts[] = {
      {"schema", json_pack("{ss si}", "name", "hakreplay-run", "version", 1)},
      {"trace", hr_trace_json(run)},
      {"config", config_json(e)},
      {"samples", NULL},
      {"events", NULL},
      {"summary", summary_json(e, oom ? json_deep_copy(oom) : NULL)},
      {"host", hr_host_json(d->wall, x->events_done, x->os_threads, RUSAGE_CHILDREN)},
  };
  int rc = fputc('{', f) == EOF ? -EIO : 0, r;
  for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
    r = fprintf(f, "%s\n \"%s\": ", i ? "," : "", parts[i].key) < 0 ? -EIO : 0;
    if (!r && parts[i].value) r = hr_json_put(f, parts[i].value, 1) ? -ENOMEM : 0;
    else if (!r && !strcmp(parts[i].key, "events")) r = hr_events_put(&run->events, f);
    else if (!r) r = e->failed ? -e->failed : hr_spool_put(e->spool, e->nsamples, f);
    if (!rc) rc = r;
    json_decref(parts[i].value);
  }
  json_decref(oom);
  if (fputs("\n}", f) == EOF && !rc) rc = -EIO;
  return rc;
}

/* The oom event goes in the log too, after the thread events before it. */
static void log_oom(ext *e) {
  hr_xshm *x = e->x;
  hr_jw *w = hr_event_begin(&e->run->events, "oom", x->failure.t);
  if (!w) return;
  hr_jw_put_int(w, "thread", x->ring[x->failure.t % HR_X_RING].tid);
  hr_jw_put_int(w, "errno", ENOMEM);
  hr_event_end(&e->run->events);
}

static pid_t spawn(const hr_allocator_info *info, int fd) {
  char fdtext[16];
  snprintf(fdtext, sizeof fdtext, "%d", fd);
  fflush(NULL);
  pid_t pid = fork();
  if (pid != 0) return pid;
  /* Only the allocator measured is preloaded (none for glibc). */
  if (info->soname) setenv("LD_PRELOAD", info->soname, 1);
  else unsetenv("LD_PRELOAD");
  execl("/proc/self/exe", "hakreplay", "--child", fdtext, (char *)NULL);
  _exit(127);
}

int hr_ext_replay(const hr_options *o) {
  const hr_allocator_info *info = hr_allocator_find(o->allocator);
  hr_run *run = calloc(1, sizeof *run);
  ext *e = calloc(1, sizeof *e);
  if (!run || !e || !info) return HR_EXIT_INTERNAL;
  run->opt = o;
  e->run = run;
  int rc = HR_EXIT_INTERNAL, fd = -1;
  ht_error terr;
  if (ht_reader_open(o->trace_path, 0, &run->reader, &terr) < 0) {
    fprintf(stderr, "hakreplay: %s\n", terr.text);
    rc = HR_EXIT_USAGE;
    goto out;
  }
  run->header = ht_reader_header(run->reader);
  run->nthreads = run->header->threads ? run->header->threads : 1;
  int64_t n = run->header->event_count;
  run->sample_every = o->sample_every ? o->sample_every
                      : n > 0        ? (uint64_t)(n / 1000 > 0 ? n / 1000 : 1)
                                     : 10000;
  if (hr_blocks_init(&run->blocks) != 0 || hr_feed_init(&run->feed, run->reader, &run->blocks, true) != 0 ||
      hr_events_init(&run->events, o->max_events) != 0 || !(e->spool = tmpfile())) {
    fprintf(stderr, "hakreplay: out of memory or no temporary file: %s\n", strerror(errno));
    goto out;
  }
  int orc = o->out_path ? hc_out_open(&run->out, o->out_path, 0) : 0;
  if (orc) {
    fprintf(stderr, "hakreplay: %s: cannot write: %s\n", o->out_path, strerror(-orc));
    rc = HR_EXIT_USAGE;
    goto out;
  }
  fd = memfd_create("hakreplay", 0);
  if (fd < 0 || ftruncate(fd, sizeof *e->x) != 0 ||
      (e->x = mmap(NULL, sizeof *e->x, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
    e->x = NULL;
    fprintf(stderr, "hakreplay: cannot share memory with the replay: %s\n", strerror(errno));
    goto out;
  }
  e->x->sample_every = run->sample_every;
  e->x->inject_overwrite = o->inject_overwrite;
  e->x->threads = run->nthreads;
  snprintf(e->x->allocator, sizeof e->x->allocator, "%s", o->allocator);
  hr_progress_init(&run->progress_line, o, n);
  double started = hr_now();
  e->pid = spawn(info, fd);
  close(fd);
  fd = -1;
  if (e->pid < 0) {
    fprintf(stderr, "hakreplay: fork: %s\n", strerror(errno));
    goto out;
  }
  if ((rc = drive(e)) != 0) goto out;
  int status;
  while ((status = reaped(e, true)) < 0) {
  }
  hr_xshm *x = e->x;
  hr_feed *f = &run->feed;
  bool oom = x->failure.kind == HR_FAIL_OOM;
  run->events_done = x->events_done;
  int rd = oom ? hr_feed_rest(f) : f->status < 0 && f->status != HR_FEED_NOMEM ? f->status : 0;
  run->trace_events = f->fed;
  char why[128];
  hr_progress(run, run->events_done, true);
  if (rd < 0) {
    fprintf(stderr, "%s\n", ht_reader_error(run->reader));
    rc = HR_EXIT_USAGE;
  } else if (f->status == HR_FEED_NOMEM) {
    fprintf(stderr, "hakreplay: %s: event %llu: the replayer ran out of memory\n", o->trace_path,
            (unsigned long long)run->events_done);
    rc = HR_EXIT_INTERNAL;
  } else if (x->failure.kind == HR_FAIL_CORRUPT) {
    fprintf(stderr, "hakreplay: %s: event %llu: %s (allocator %s)\n", o->trace_path,
            (unsigned long long)x->failure.t, x->failure.msg, o->allocator);
    rc = HR_EXIT_INTERNAL;
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "hakreplay: %s: the replay under %s %s after its last event\n", o->trace_path,
            o->allocator, death(status, why, sizeof why));
    rc = HR_EXIT_INTERNAL;
  } else {
    if (oom) log_oom(e);
    char err[512];
    doc d = {e, oom, hr_now() - started};
    if (o->out_path && hr_write_file(&run->out, o->out_path, write_doc, &d, err, sizeof err) != 0) {
      fprintf(stderr, "hakreplay: %s\n", err);
      rc = HR_EXIT_USAGE;
    } else if (oom) {
      fprintf(stderr, "hakreplay: %s: event %llu: out of memory: %s (allocator %s)\n",
              o->trace_path, (unsigned long long)x->failure.t, x->failure.msg, o->allocator);
      rc = HR_EXIT_OOM;
    } else {
      rc = HR_EXIT_OK;
    }
  }
out:
  if (e->pid > 0) {
    kill(e->pid, SIGKILL);
    reaped(e, true);
  }
  if (fd >= 0) close(fd);
  if (e->x) munmap(e->x, sizeof *e->x);
  if (e->spool) fclose(e->spool);
  hc_out_abort(&run->out);
  hr_events_free(&run->events);
  hr_feed_free(&run->feed);
  hr_blocks_free(&run->blocks);
  if (run->reader) ht_reader_close(run->reader);
  free(e->R);
  free(e->H);
  free(e);
  free(run);
  return rc;
}
