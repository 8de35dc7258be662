/* replay.c: the coordinator. It reads the trace (validating as it reads),
 * turns block ids into slots, batches consecutive events of one thread,
 * and hands batches to that thread's worker.
 *
 * Deterministic mode: one batch at a time, each waited for before the
 * next is built, so the allocator sees exactly the trace's global order and
 * every allocator decision (hence every number in run.json outside `host`)
 * is a function of the trace and the configuration. Logical time is the
 * event index: trims and samples happen between events, at multiples of
 * their period, executed here while every worker is idle.
 *
 * Free mode: batches are queued without waiting; workers run concurrently;
 * the allocator's own trim thread runs on wall-clock time; samples still
 * wait for every queued batch first, so their ground truth is exact.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hak_json.h"
#include "internal.h"

#define HR_BATCH_MAX 4096

typedef struct coord {
  hr_run *run;
  hr_batch *cur;            /* batch being built */
  uint32_t cur_tid;
  int fail;                 /* first worker failure seen */
  uint64_t fail_t;
  char fail_msg[320];
  double started, last_progress;
} coord;

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

/* The trace's identity: a hash of its events (fields in a fixed order),
 * equal across the three encodings of the same trace. */
static void hash_event(hr_run *run, const ht_event *ev) {
  uint64_t f[8] = {ev->op, ev->tid, ev->parent, ev->id, ev->new_id, ev->size, ev->n, ev->align};
  run->hash = fnv1a(run->hash, f, sizeof f);
}

static hr_worker *worker_of(hr_run *run, uint32_t tid) {
  return tid < run->nworkers ? run->workers[tid] : NULL;
}

/* Collects freed slots and failures of every worker. */
static void collect_all(coord *c) {
  hr_run *run = c->run;
  for (uint32_t i = 0; i < run->nworkers; i++) {
    hr_worker *w = run->workers[i];
    if (!w) continue;
    int f = hr_worker_collect(w);
    if (f && (!c->fail || w->fail_t < c->fail_t)) {
      pthread_mutex_lock(&w->lock);
      c->fail = f;
      c->fail_t = w->fail_t;
      snprintf(c->fail_msg, sizeof c->fail_msg, "%s", w->fail_msg);
      pthread_mutex_unlock(&w->lock);
    }
  }
}

/* Queues batch b for worker w. In deterministic mode it gets the next
 * place in the global order; the coordinator stays at most HR_RING batches
 * ahead of the one running. */
static uint64_t submit(coord *c, hr_worker *w, hr_batch *b) {
  hr_run *run = c->run;
  uint64_t seq = 0;
  if (run->opt->deterministic) {
    seq = run->next_seq++;
    /* Ring full: wait until half of it has run, so the coordinator sleeps
     * and wakes once per HR_RING / 2 batches, not once per batch. */
    if (seq >= HR_RING && atomic_load(&run->turn) < seq - HR_RING + 1)
      hr_wait_turn(run, seq - HR_RING / 2);
    b->seq = seq;
    atomic_store(&run->owner[seq % HR_RING], w);
    atomic_store(&run->assigned, seq + 1);
  }
  hr_worker_submit(w, b); /* b belongs to the worker from here on */
  return seq;
}

static hr_batch *new_batch(void) {
  hr_batch *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->cap = 64;
  b->ops = malloc(b->cap * sizeof *b->ops);
  if (!b->ops) {
    free(b);
    return NULL;
  }
  return b;
}

/* Hands the batch being built to its worker. */
static void flush(coord *c) {
  if (c->cur && c->cur->n) {
    submit(c, worker_of(c->run, c->cur_tid), c->cur);
    c->cur = NULL;
  }
}

static int add_op(coord *c, const hr_op *op) {
  if (c->cur && (c->cur_tid != op->tid || c->cur->n == HR_BATCH_MAX)) flush(c);
  if (!c->cur) {
    if (!(c->cur = new_batch())) return -1;
    c->cur_tid = op->tid;
  }
  if (c->cur->n == c->cur->cap) {
    uint32_t ncap = c->cur->cap * 2;
    hr_op *n = realloc(c->cur->ops, ncap * sizeof *n);
    if (!n) return -1;
    c->cur->ops = n;
    c->cur->cap = ncap;
  }
  c->cur->ops[c->cur->n++] = *op;
  return 0;
}

/* Everything queued has run: the state is quiescent. */
static bool quiesce(coord *c) {
  hr_run *run = c->run;
  flush(c);
  if (run->opt->deterministic) {
    hr_wait_turn(run, run->next_seq);
  } else {
    /* Threads that reached their exit are joined, so their exit paths
     * (orphaning, the thread_exit event) are complete too. */
    for (uint32_t i = 0; i < run->nworkers; i++) {
      hr_worker *w = run->workers[i];
      if (!w || w->joined) continue;
      if (w->exit_queued) hr_worker_join(w);
      else hr_worker_wait(w);
    }
  }
  collect_all(c);
  return !c->fail;
}

static void progress(coord *c, uint64_t t, bool last) {
  hr_run *run = c->run;
  if (!run->opt->progress) return;
  double now = hr_now();
  if (!last && now - c->last_progress < 0.5) return;
  c->last_progress = now;
  hak_stats st;
  hak_get_stats(run->alloc, &st);
  double rate = now > c->started ? (double)t / (now - c->started) : 0;
  fprintf(stderr, "\rhakreplay: %llu events, %.2fM events/s, %llu SuperSlabs live   %s",
          (unsigned long long)t, rate / 1e6, (unsigned long long)st.ss_live, last ? "\n" : "");
  fflush(stderr);
}

/* Creates the thread; its first op (in turn) counts its mappings and logs
 * its start. */
static int start_thread(coord *c, uint32_t tid, uint32_t parent, uint64_t t) {
  hr_run *run = c->run;
  flush(c);
  int rc = hr_worker_start(run, tid);
  if (rc != 0) {
    /* Say which thread, why, and where the limits are (it was "ran out of
     * memory or could not write its samples"). */
    char msg[320];
    snprintf(msg, sizeof msg,
             "event %llu: cannot create an OS thread for trace thread %u (%u trace threads "
             "alive): pthread_create: %s (limits: ulimit -u, ulimit -v with ulimit -s, "
             "/proc/sys/kernel/threads-max)",
             (unsigned long long)t, tid, run->threads_alive, strerror(-rc));
    hr_internal_error(run, msg);
    return -1;
  }
  uint32_t started = atomic_fetch_add(&run->threads_started, 1) + 1;
  run->threads_alive++;
  hr_op op = {.op = HR_OP_STARTED, .tid = tid, .t = t, .id = parent, .n = started};
  return add_op(c, &op);
}

static void end_thread(coord *c, uint32_t tid, uint64_t t) {
  hr_run *run = c->run;
  hr_worker *w = worker_of(run, tid);
  flush(c);
  hr_batch *b = new_batch();
  if (!b) abort(); /* the replayer itself is out of memory */
  b->exit_after = true;
  b->exit_t = t;
  w->exit_queued = true;
  uint64_t seq = submit(c, w, b);
  if (run->opt->deterministic) {
    /* The exit path runs with the turn held: wait for the batch, join the
     * thread (its pthread key destructors have run), then pass the turn. */
    hr_wait_turn(run, seq);
    hr_worker_join(w);
    hr_pass_turn(run, seq + 1);
  }
  run->threads_alive--;
}

/* Turns one trace event into work. Returns 0, or -1 (out of memory). */
static int dispatch(coord *c, const ht_event *ev, uint64_t t) {
  hr_run *run = c->run;
  hr_op op = {.op = (uint8_t)ev->op, .tid = ev->tid, .t = t, .id = ev->id,
              .new_id = ev->new_id, .size = ev->size, .n = ev->n, .align = ev->align};
  switch (ev->op) {
  case HT_OP_THREAD_START:
    return start_thread(c, ev->tid, ev->parent, t);
  case HT_OP_THREAD_EXIT:
    end_thread(c, ev->tid, t);
    return 0;
  case HT_OP_ALLOC:
  case HT_OP_CALLOC:
  case HT_OP_MEMALIGN:
    if (hr_blocks_bind(&run->blocks, ev->id, &op.slot) != 0) return -1;
    return add_op(c, &op);
  case HT_OP_FREE:
    if (hr_blocks_unbind(&run->blocks, ev->id, &op.slot) != 0) return -1;
    return add_op(c, &op);
  case HT_OP_REALLOC:
    if (hr_blocks_unbind(&run->blocks, ev->id, &op.slot) != 0) return -1;
    if (hr_blocks_bind(&run->blocks, ev->new_id, &op.slot2) != 0) return -1;
    return add_op(c, &op);
  default:
    return 0;
  }
}

/* Logical-time duties before event t: trim, then sample. */
static int duties(coord *c, uint64_t t) {
  hr_run *run = c->run;
  bool trim = run->trim_every && t > 0 && t % run->trim_every == 0;
  bool sample = t > 0 && t % run->sample_every == 0;
  if (!trim && !sample) return 0;
  if (!quiesce(c)) return -1;
  atomic_store(&run->t_now, t);
  if (trim) hak_trim(run->alloc, NULL, NULL, 0);
  if (sample && hr_sample(run, t) != 0) return -1;
  return 0;
}

static json_t *trace_json(hr_run *run) {
  const hr_options *o = run->opt;
  static const char *enc[] = {"none", "json", "jsonl", "hkt"};
  json_error_t jerr;
  json_t *meta = json_loads(run->header->meta_json, 0, &jerr);
  char hash[32];
  snprintf(hash, sizeof hash, "fnv1a64:%016llx", (unsigned long long)run->hash);
  return json_pack("{ss ss ss sI sI so}", "path", o->trace_path, "encoding",
                   enc[ht_encoding_from_path(o->trace_path)], "hash", hash, "events",
                   (json_int_t)run->trace_events, "threads", (json_int_t)run->header->threads,
                   "meta", meta ? meta : json_object());
}

/* The run's label first (the preset plus every override: what tables and
 * plots call the run), then every option, then the replay settings. */
static json_t *config_json(hr_run *run) {
  const hr_options *o = run->opt;
  char label[HAK_LABEL_MAX];
  json_t *cfg = json_pack("{ss}", "variant", hak_config_label(&o->cfg, label, sizeof label));
  json_t *options = hak_config_to_json(&o->cfg);
  json_object_update(cfg, options);
  json_decref(options);
  json_object_set_new(cfg, "replay",
                      json_pack("{ss sI sI sI sI sI}", "mode",
                                o->deterministic ? "deterministic" : "free", "ops_per_ms",
                                (json_int_t)o->ops_per_ms, "sample_every",
                                (json_int_t)run->sample_every, "trim_every_events",
                                (json_int_t)run->trim_every, "thread_maps",
                                (json_int_t)o->thread_maps, "max_events",
                                (json_int_t)o->max_events));
  return cfg;
}

static json_t *oom_event_of(hr_run *run) {
  /* The allocator's oom event, with the state at that moment. */
  json_t *list = run->events.list;
  for (size_t i = json_array_size(list); i-- > 0;) {
    json_t *ev = json_array_get(list, i);
    if (strcmp(json_string_value(json_object_get(ev, "type")), "oom") == 0)
      return json_deep_copy(ev);
  }
  return json_pack("{ss}", "type", "oom");
}

static int write_run(hr_run *run, bool oom, double wall) {
  /* In free mode the allocator's trim thread may still log trims: the
   * events lock is held until the document is on disk. */
  pthread_mutex_lock(&run->events.lock);
  json_t *doc = json_object();
  json_object_set_new(doc, "schema", json_pack("{ss si}", "name", "hakreplay-run", "version", 1));
  json_object_set_new(doc, "trace", trace_json(run));
  json_object_set_new(doc, "config", config_json(run));
  json_object_set(doc, "samples", run->sampler.samples);
  json_object_set(doc, "events", run->events.list);
  json_object_set_new(doc, "summary", hr_summary(run, oom ? oom_event_of(run) : NULL));
  json_object_set_new(doc, "host", hr_host_json(wall, run->events_done, atomic_load(&run->threads_started)));
  char err[512];
  int rc = 0;
  if (run->opt->out_path && hr_write_json_file(run->opt->out_path, doc, err, sizeof err) != 0) {
    fprintf(stderr, "hakreplay: %s\n", err);
    rc = -1;
  }
  json_decref(doc);
  pthread_mutex_unlock(&run->events.lock);
  return rc;
}

/* Ends every thread still running (the program's end), in tid order, and
 * joins every thread (free mode leaves exited ones unjoined until here). */
static void end_threads(coord *c, uint64_t t) {
  hr_run *run = c->run;
  for (uint32_t i = 0; i < run->nworkers; i++) {
    hr_worker *w = run->workers[i];
    if (!w || w->joined) continue;
    if (!w->exit_queued) end_thread(c, i, t);
    hr_worker_join(w);
  }
}

static int setup(hr_run *run, const hr_options *o, char *err, size_t errlen) {
  ht_error terr;
  if (ht_reader_open(o->trace_path, 0, &run->reader, &terr) < 0) {
    snprintf(err, errlen, "%s", terr.text);
    return HR_EXIT_USAGE;
  }
  run->header = ht_reader_header(run->reader);
  run->nworkers = run->header->threads ? run->header->threads : 1;
  run->workers = calloc(run->nworkers, sizeof *run->workers);
  run->owner = calloc(HR_RING, sizeof *run->owner);
  pthread_mutex_init(&run->turn_lock, NULL);
  pthread_cond_init(&run->turn_cond, NULL);
  if (!run->workers || !run->owner || hr_blocks_init(&run->blocks) != 0) {
    snprintf(err, errlen, "out of memory");
    return HR_EXIT_INTERNAL;
  }
  hr_events_init(&run->events, o->max_events);
  if (hr_sampler_init(&run->sampler, o->ss_detail_path, err, errlen) != 0) return HR_EXIT_USAGE;
  hak_observer obs = hr_observer(run);
  hak_create_opts copts = {.observer = &obs, .no_trim_thread = o->deterministic};
  char herr[256];
  if (hak_create(&o->cfg, &copts, &run->alloc, herr, sizeof herr) != 0) {
    snprintf(err, errlen, "allocator configuration: %s", herr);
    return HR_EXIT_USAGE;
  }
  const hak_config *cfg = hak_get_config(run->alloc);
  if (hr_truth_init(&run->truth, (size_t)1 << cfg->ss_lg, (size_t)1 << cfg->slab_lg) != 0) {
    snprintf(err, errlen, "out of memory");
    return HR_EXIT_INTERNAL;
  }
  if (o->deterministic && cfg->idle_trim_ms && cfg->trim_ss)
    run->trim_every = (uint64_t)cfg->idle_trim_ms * o->ops_per_ms;
  int64_t n = run->header->event_count;
  run->sample_every = o->sample_every ? o->sample_every
                      : n > 0        ? (uint64_t)(n / 1000 > 0 ? n / 1000 : 1)
                                     : 10000;
  run->hash = 0xcbf29ce484222325ULL;
  return 0;
}

static void teardown(hr_run *run) {
  if (run->alloc) hak_destroy(run->alloc);
  for (uint32_t i = 0; run->workers && i < run->nworkers; i++) {
    hr_worker *w = run->workers[i];
    if (!w) continue;
    free(w->freed);
    free(w->local_freed);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w);
  }
  free(run->workers);
  free(run->owner);
  pthread_mutex_destroy(&run->turn_lock);
  pthread_cond_destroy(&run->turn_cond);
  hr_sampler_free(&run->sampler);
  hr_events_free(&run->events);
  hr_truth_free(&run->truth);
  hr_blocks_free(&run->blocks);
  if (run->reader) ht_reader_close(run->reader);
}

int hr_replay(const hr_options *o) {
  hr_run run;
  memset(&run, 0, sizeof run);
  run.opt = o;
  char err[640];
  int rc = setup(&run, o, err, sizeof err);
  if (rc) {
    fprintf(stderr, "hakreplay: %s\n", err);
    teardown(&run);
    return rc;
  }
  coord c = {.run = &run, .started = hr_now()};
  rc = HR_EXIT_OK;
  if (start_thread(&c, 0, 0, 0) != 0) {
    fprintf(stderr, "hakreplay: %s: %s\n", o->trace_path,
            run.internal_msg[0] ? run.internal_msg : "cannot start the main trace thread");
    teardown(&run);
    return HR_EXIT_INTERNAL;
  }
  ht_event ev;
  int rd;
  uint64_t t = 0;
  bool stopped = false; /* by a failure of the replayer or a worker */
  uint64_t read = 0;
  while ((rd = ht_reader_next(run.reader, &ev)) > 0) {
    hash_event(&run, &ev);
    read++;
    if (duties(&c, t) != 0) {
      stopped = true;
      break;
    }
    if (dispatch(&c, &ev, t) != 0 || atomic_load_explicit(&run.abort, memory_order_relaxed)) {
      stopped = true;
      break;
    }
    atomic_store_explicit(&run.t_now, t, memory_order_relaxed);
    t++;
    if ((t & 0xffff) == 0) {
      collect_all(&c); /* recycle slots the workers freed */
      progress(&c, t, false);
    }
  }
  run.events_done = t;
  quiesce(&c); /* after a failure too: every queued batch runs or is skipped */
  bool oom = c.fail == HR_FAIL_OOM;
  run.trace_events = read;
  if (oom && rd > 0) {
    /* The trace's identity covers all of it, not the prefix replayed: read
     * (and validate) the rest, so an OOM run hashes like the others. */
    while ((rd = ht_reader_next(run.reader, &ev)) > 0) {
      hash_event(&run, &ev);
      run.trace_events++;
    }
  }
  if (rd < 0) {
    fprintf(stderr, "%s\n", ht_reader_error(run.reader));
    rc = HR_EXIT_USAGE;
  } else if (c.fail == HR_FAIL_CORRUPT) {
    fprintf(stderr, "hakreplay: %s: event %llu: %s\n", o->trace_path,
            (unsigned long long)c.fail_t, c.fail_msg);
    rc = HR_EXIT_INTERNAL;
  } else if (atomic_load(&run.internal_error)) {
    fprintf(stderr, "hakreplay: %s: %s\n", o->trace_path, run.internal_msg);
    rc = HR_EXIT_INTERNAL;
  } else if (stopped && !oom) {
    fprintf(stderr, "hakreplay: %s: event %llu: the replayer ran out of memory or could not "
                    "write its samples\n", o->trace_path, (unsigned long long)t);
    rc = HR_EXIT_INTERNAL;
  }
  if (rc == HR_EXIT_OK) {
    uint64_t end_t = oom ? c.fail_t : t;
    if (oom) run.events_done = c.fail_t;
    atomic_store(&run.t_now, end_t);
    progress(&c, end_t, true);
    if (hr_sample(&run, end_t) != 0 || hr_sampler_finish(&run.sampler) != 0) {
      fprintf(stderr, "hakreplay: %s: cannot write: %s\n", o->ss_detail_path,
              strerror(run.sampler.detail_out.err ? run.sampler.detail_out.err : EIO));
      rc = HR_EXIT_USAGE;
    } else if (write_run(&run, oom, hr_now() - c.started) != 0) {
      rc = HR_EXIT_USAGE;
    } else if (oom) {
      fprintf(stderr, "hakreplay: %s: event %llu: out of memory: %s\n", o->trace_path,
              (unsigned long long)c.fail_t, c.fail_msg);
      rc = HR_EXIT_OOM;
    }
  }
  end_threads(&c, t);
  teardown(&run);
  return rc;
}
