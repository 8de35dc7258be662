/* replay.c: one replay from start to end. It opens the trace and the
 * allocator, runs the trace through the deterministic driver (det.c) or
 * the free one (freerun.c), and then, as the coordinator, turns how the
 * drivers ended into the outcome: the last sample, run.json, the exit
 * code. A failure (the allocator out of memory, a block overwritten) stops
 * the replay at that event: nothing after it runs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "hak_json.h"
#include "internal.h"

void hr_thread_started(hr_run *run, uint32_t tid, uint32_t parent, uint64_t t) {
  /* The thread's mappings count against the map limit from now on
   * (--thread-maps), and its start is logged. */
  uint32_t started = atomic_fetch_add(&run->threads_started, 1) + 1;
  run->threads_alive++;
  hak_set_extra_maps(run->alloc, run->opt->thread_maps * started);
  hr_jw *w = hr_event_begin(&run->events, "thread_start", t);
  if (!w) return;
  hr_jw_key(w, "thread");
  hr_jw_int(w, tid);
  hr_jw_key(w, "parent");
  if (tid == 0) hr_jw_null(w);
  else hr_jw_int(w, parent);
  hr_event_end(&run->events);
}

void hr_thread_start_failed(hr_run *run, uint32_t tid, uint64_t t) {
  /* Say which thread, why, and where the limits are (it was "ran out of
   * memory or could not write its samples"). */
  char msg[320];
  int err = run->pool.err ? -run->pool.err : ENOMEM;
  snprintf(msg, sizeof msg,
           "event %llu: cannot create an OS thread for trace thread %u (%u trace threads "
           "alive): pthread_create: %s (limits: ulimit -u, ulimit -v with ulimit -s, "
           "/proc/sys/kernel/threads-max)",
           (unsigned long long)t, tid, run->threads_alive, strerror(err));
  hr_internal_error(run, msg);
}

json_t *hr_trace_json(hr_run *run) {
  const hr_options *o = run->opt;
  static const char *enc[] = {"none", "json", "jsonl", "hkt"};
  json_error_t jerr;
  json_t *meta = json_loads(run->header->meta_json, 0, &jerr);
  char hash[32];
  snprintf(hash, sizeof hash, "fnv1a64:%016llx", (unsigned long long)run->feed.hash);
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
  if (run->measure) json_object_set_new(cfg, "allocator", json_string("hakmem"));
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

typedef struct doc {
  hr_run *run;
  bool oom;
  double wall;
} doc;

/* run.json, key by key (docs/run-format.md): what one json_dumpf of the
 * whole document would write, with the events array copied from the spool. */
static int write_doc(FILE *f, void *ctx) {
  doc *d = ctx;
  hr_run *run = d->run;
  json_t *oom = d->oom ? json_deep_copy(run->events.last_oom) : NULL;
  if (d->oom && !oom) oom = json_pack("{ss}", "type", "oom");
  struct part {
    const char *key;
    json_t *value; /* NULL: spooled (samples, events) */
  } parts[] = {
      {"schema", json_pack("{ss si}", "name", "hakreplay-run", "version", 1)},
      {"trace", hr_trace_json(run)},
      {"config", config_json(run)},
      {"samples", NULL},
      {"events", NULL},
      {"summary", hr_summary(run, oom)},
      {"host", hr_host_json(d->wall, run->events_done, run->pool.n, RUSAGE_SELF)},
  };
  size_t n = sizeof parts / sizeof *parts;
  /* The first failure's errno (writes to f: EIO, the stream knows why). */
  int rc = fputc('{', f) == EOF ? -EIO : 0, r;
  for (size_t i = 0; i < n; i++) {
    r = fprintf(f, "%s\n \"%s\": ", i ? "," : "", parts[i].key) < 0 ? -EIO : 0;
    if (!r && parts[i].value) r = hr_json_put(f, parts[i].value, 1) ? -ENOMEM : 0;
    else if (!r && !strcmp(parts[i].key, "events")) r = hr_events_put(&run->events, f);
    else if (!r) r = run->sampler.failed ? -run->sampler.failed
                                          : hr_spool_put(run->sampler.spool, run->sampler.count, f);
    if (!rc) rc = r;
    json_decref(parts[i].value);
  }
  if (fputs("\n}", f) == EOF && !rc) rc = -EIO;
  return rc;
}

static int write_run(hr_run *run, bool oom, double wall) {
  /* In free mode the allocator's trim thread may still log trims: the
   * events lock is held until the document is on disk. */
  pthread_mutex_lock(&run->events.lock);
  char err[512];
  int rc = 0;
  doc d = {run, oom, wall};
  if (run->opt->out_path &&
      hr_write_file(&run->out, run->opt->out_path, write_doc, &d, err, sizeof err) != 0) {
    fprintf(stderr, "hakreplay: %s\n", err);
    rc = -1;
  }
  pthread_mutex_unlock(&run->events.lock);
  return rc;
}

static int setup(hr_run *run, const hr_options *o, char *err, size_t errlen) {
  ht_error terr;
  /* First: from here on the replayer's malloc calls go where the
   * measurement subtracts them (resident.c). */
  run->measure = o->allocator != NULL;
  if (run->measure && hr_resident_init(&run->resident, true) != 0) {
    snprintf(err, errlen, "--allocator hakmem: cannot read /proc/self/smaps_rollup: %s",
             strerror(errno));
    return HR_EXIT_INTERNAL;
  }
  if (ht_reader_open(o->trace_path, 0, &run->reader, &terr) < 0) {
    snprintf(err, errlen, "%s", terr.text);
    return HR_EXIT_USAGE;
  }
  run->header = ht_reader_header(run->reader);
  run->nthreads = run->header->threads ? run->header->threads : 1;
  if (hr_blocks_init(&run->blocks) != 0 ||
      hr_feed_init(&run->feed, run->reader, &run->blocks, o->deterministic) != 0) {
    snprintf(err, errlen, "out of memory");
    return HR_EXIT_INTERNAL;
  }
  if (hr_events_init(&run->events, o->max_events) != 0) {
    snprintf(err, errlen, "cannot create a temporary file: %s", strerror(errno));
    return HR_EXIT_INTERNAL;
  }
  if (hr_sampler_init(&run->sampler, o->ss_detail_path, err, errlen) != 0) return HR_EXIT_USAGE;
  hak_observer obs = hr_observer(run);
  hak_create_opts copts = {.observer = &obs, .no_trim_thread = o->deterministic};
  char herr[256];
  if (hak_create(&o->cfg, &copts, &run->alloc, herr, sizeof herr) != 0) {
    snprintf(err, errlen, "allocator configuration: %s", herr);
    return HR_EXIT_USAGE;
  }
  hr_meshing_init(run);
  const hak_config *cfg = hak_get_config(run->alloc);
  if (hr_truth_init(&run->truth, (size_t)1 << cfg->ss_lg,
                    o->deterministic) != 0) {
    snprintf(err, errlen, "out of memory");
    return HR_EXIT_INTERNAL;
  }
  if (o->deterministic && cfg->idle_trim_ms && cfg->trim_ss)
    run->trim_every = (uint64_t)cfg->idle_trim_ms * o->ops_per_ms;
  int64_t n = run->header->event_count;
  run->sample_every = o->sample_every ? o->sample_every
                      : n > 0        ? (uint64_t)(n / 1000 > 0 ? n / 1000 : 1)
                                     : 10000;
  hr_progress_init(&run->progress_line, o, n);
  if ((o->deterministic ? hr_det_init(run) : hr_free_init(run)) != 0) {
    snprintf(err, errlen, "out of memory");
    return HR_EXIT_INTERNAL;
  }
  run->driver_ready = true;
  /* run.json is opened before the replay, as --ss-detail is: an output
   * that cannot be written is found before the work, and the output
   * module's signal handling (a signal removes the temporary files; a
   * file-size limit is an error, EFBIG, also for the spools) holds from
   * the start. It is put in place at the end (write_run). */
  int orc = o->out_path ? hc_out_open(&run->out, o->out_path, 0) : 0;
  if (orc) {
    snprintf(err, errlen, "%s: cannot write: %s", o->out_path, strerror(-orc));
    return HR_EXIT_USAGE;
  }
  /* What is there now is the replayer's and the allocator's empty state. */
  if (run->measure && hr_resident_baseline(&run->resident) != 0) {
    snprintf(err, errlen, "--allocator hakmem: cannot read /proc/self: %s", strerror(errno));
    return HR_EXIT_INTERNAL;
  }
  return 0;
}

static void teardown(hr_run *run) {
  if (run->driver_ready) {
    if (run->opt->deterministic) hr_det_stop(run);
    else hr_free_stop(run);
  }
  if (run->alloc) hak_destroy(run->alloc);
  for (uint32_t i = 0; i < run->pool.n; i++) free(run->pool.all[i]->queue.ops);
  hr_pool_free(&run->pool);
  if (run->opt->deterministic) hr_det_free(run);
  else hr_free_free(run);
  hc_out_abort(&run->out); /* not put in place: no run.json (nothing once it is) */
  hr_sampler_free(&run->sampler);
  hr_meshing_free(&run->mesh);
  hr_events_free(&run->events);
  hr_truth_free(&run->truth);
  hr_feed_free(&run->feed);
  hr_blocks_free(&run->blocks);
  if (run->reader) ht_reader_close(run->reader);
  if (run->measure) hr_resident_free(&run->resident);
}

int hr_replay(const hr_options *o) {
  hr_run *run = calloc(1, sizeof *run);
  if (!run) return HR_EXIT_INTERNAL;
  run->opt = o;
  char err[640];
  int rc = setup(run, o, err, sizeof err);
  if (rc) {
    fprintf(stderr, "hakreplay: %s\n", err);
    teardown(run);
    free(run);
    return rc;
  }
  double started = hr_now();
  int end = o->deterministic ? hr_det_run(run) : hr_free_run(run);
  hr_feed *f = &run->feed;
  const hr_failure *fail = &run->failure;
  bool oom = end == HR_END_FAILED && fail->kind == HR_FAIL_OOM;
  run->events_done = oom ? fail->t : atomic_load(&run->progress);
  /* The trace's identity covers all of it, not the prefix replayed: an
   * OOM run reads (and validates) the rest, so it hashes like the others. */
  int rd = oom ? hr_feed_rest(f) : f->status < 0 && f->status != HR_FEED_NOMEM ? f->status : 0;
  run->trace_events = f->fed;
  rc = HR_EXIT_OK;
  if (rd < 0) {
    fprintf(stderr, "%s\n", ht_reader_error(run->reader));
    rc = HR_EXIT_USAGE;
  } else if (end == HR_END_FAILED && fail->kind == HR_FAIL_CORRUPT) {
    fprintf(stderr, "hakreplay: %s: event %llu: %s\n", o->trace_path, (unsigned long long)fail->t,
            fail->msg);
    rc = HR_EXIT_INTERNAL;
  } else if (atomic_load(&run->internal_error)) {
    fprintf(stderr, "hakreplay: %s: %s\n", o->trace_path, run->internal_msg);
    rc = HR_EXIT_INTERNAL;
  } else if (end == HR_END_DUTY && run->sampler.detail_out.err) {
    /* A sample's --ss-detail line could not be written: an output error. */
    fprintf(stderr, "hakreplay: %s: cannot write: %s\n", o->ss_detail_path,
            strerror(run->sampler.detail_out.err));
    rc = HR_EXIT_USAGE;
  } else if (end == HR_END_NOMEM || end == HR_END_DUTY) {
    fprintf(stderr, "hakreplay: %s: event %llu: the replayer ran out of memory or could not "
                    "write its samples\n", o->trace_path, (unsigned long long)run->events_done);
    rc = HR_EXIT_INTERNAL;
  }
  if (rc == HR_EXIT_OK) {
    uint64_t end_t = run->events_done;
    atomic_store(&run->t_now, end_t);
    hr_progress(run, end_t, true);
    run->last_sample = true;
    /* The --ss-detail file is put in place once the last sample is in
     * it and nothing found is an internal error; run.json after it. */
    if (hr_sample(run, end_t) != 0) {
      fprintf(stderr, "hakreplay: %s: cannot write: %s\n",
              o->ss_detail_path ? o->ss_detail_path : "the samples",
              strerror(run->sampler.detail_out.err ? run->sampler.detail_out.err : EIO));
      rc = HR_EXIT_USAGE;
    } else if (atomic_load(&run->internal_error)) { /* found by the last sample */
      fprintf(stderr, "hakreplay: %s: %s\n", o->trace_path, run->internal_msg);
      rc = HR_EXIT_INTERNAL;
    } else if (hr_sampler_finish(&run->sampler) != 0) {
      fprintf(stderr, "hakreplay: %s: cannot write: %s\n", o->ss_detail_path,
              strerror(run->sampler.detail_out.err ? run->sampler.detail_out.err : EIO));
      rc = HR_EXIT_USAGE;
    } else if (write_run(run, oom, hr_now() - started) != 0) {
      rc = HR_EXIT_USAGE;
    } else if (oom) {
      fprintf(stderr, "hakreplay: %s: event %llu: out of memory: %s\n", o->trace_path,
              (unsigned long long)fail->t, fail->msg);
      rc = HR_EXIT_OOM;
    }
  } else {
    hr_progress(run, run->events_done, true);
  }
  teardown(run);
  free(run);
  return rc;
}
