/* events.c: the allocator observer of a replay. It keeps the ground-truth
 * table of SuperSlabs in step with the allocator's mappings and records
 * the run's events (docs/run-format.md: ss_map, ss_unmap, trim, thread_exit,
 * adopt, oom; thread_start is added by the coordinator, mesh by mesh.c).
 * Each event's `t` is the trace event index the causing thread was
 * executing. The drain, orphan, mesh and unmesh callbacks only mark their
 * SuperSlabs changed for the next sample's census (a remote push is marked
 * by the free that caused it);
 * the per-push callback is left unset: it would cost every remote free.
 *
 * The log is kept as the text it will have in run.json, in a nameless
 * temporary file: a jansson object per event cost 800 bytes of memory, 290
 * MB on a 100 M-event Larson trace, where the replay otherwise needs the
 * live set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int hr_events_init(hr_events *e, uint64_t max_events) {
  memset(e, 0, sizeof *e);
  pthread_mutex_init(&e->lock, NULL);
  e->max_events = max_events;
  e->spool = tmpfile();
  return e->spool ? 0 : -1;
}

void hr_events_free(hr_events *e) {
  if (e->spool) fclose(e->spool);
  json_decref(e->last_oom);
  pthread_mutex_destroy(&e->lock);
}

hr_jw *hr_event_begin(hr_events *e, const char *type, uint64_t t) {
  pthread_mutex_lock(&e->lock);
  if (e->max_events && e->count >= e->max_events) {
    e->dropped++;
    pthread_mutex_unlock(&e->lock);
    return NULL;
  }
  /* An element of run.json's events array: depth 2. */
  if (fputs(e->count ? ",\n  " : "\n  ", e->spool) == EOF && !e->failed) e->failed = hr_io_errno();
  hr_jw_init(&e->jw, e->spool, 2);
  hr_jw_open(&e->jw, '{');
  hr_jw_key(&e->jw, "type");
  hr_jw_str(&e->jw, type);
  hr_jw_key(&e->jw, "t");
  hr_jw_int(&e->jw, (int64_t)t);
  return &e->jw;
}

void hr_event_end(hr_events *e) {
  hr_jw_close(&e->jw, '}');
  if (e->jw.err && !e->failed) e->failed = hr_io_errno();
  e->count++;
  pthread_mutex_unlock(&e->lock);
}

int hr_spool_put(FILE *spool, uint64_t count, FILE *f) {
  if (fflush(spool) != 0) return -hr_io_errno();
  if (!count) return fputs("[]", f) == EOF ? -EIO : 0;
  if (fputc('[', f) == EOF) return -EIO;
  rewind(spool);
  char buf[65536];
  size_t n;
  errno = 0;
  while ((n = fread(buf, 1, sizeof buf, spool)) > 0)
    if (fwrite(buf, 1, n, f) != n) return -EIO;
  int rc = ferror(spool) ? -hr_io_errno() : 0;
  if (fseek(spool, 0, SEEK_END) != 0 && !rc) rc = -hr_io_errno();
  if (!rc && fputs("\n ]", f) == EOF) rc = -EIO;
  return rc;
}

int hr_events_put(hr_events *e, FILE *f) {
  return e->failed ? -e->failed : hr_spool_put(e->spool, e->count, f);
}

void hr_internal_error(hr_run *run, const char *msg) {
  int expected = 0;
  if (atomic_compare_exchange_strong(&run->internal_error, &expected, 1))
    snprintf(run->internal_msg, sizeof run->internal_msg, "%s", msg);
}

static uint64_t now_t(hr_run *run) {
  /* Workers set hr_tl_t per op; the trim thread of free mode and the
   * coordinator use the coordinator's clock. */
  return hr_tl_trace_tid >= 0 ? hr_tl_t : atomic_load(&run->t_now);
}

/* The trace thread that caused the event, or null (the replayer's own
 * trims, the trim thread). */
static void put_thread(hr_jw *w, const char *key) {
  hr_jw_key(w, key);
  if (hr_tl_trace_tid >= 0) hr_jw_int(w, hr_tl_trace_tid);
  else hr_jw_null(w);
}

static void on_ss_map(void *ctx, const hak_ss_info *ss, uint32_t alloc_tid) {
  hr_run *run = ctx;
  (void)alloc_tid;
  hr_ss *rec = hr_truth_add(&run->truth, ss);
  if (!rec) {
    hr_internal_error(run, "out of memory tracking a SuperSlab");
    return;
  }
  rec->map_t = now_t(run);
  rec->map_tid = hr_tl_trace_tid >= 0 ? (uint32_t)hr_tl_trace_tid : 0;
  hr_jw *w = hr_event_begin(&run->events, "ss_map", rec->map_t);
  if (!w) return;
  hr_jw_key(w, "ss");
  hr_jw_int(w, ss->id);
  hr_jw_key(w, "class");
  hr_jw_int(w, ss->class_idx);
  put_thread(w, "thread");
  hr_event_end(&run->events);
}

static void on_ss_unmap(void *ctx, uint32_t id, const char *reason) {
  hr_run *run = ctx;
  hr_ss *rec = hr_truth_get(&run->truth, id);
  uint64_t t = now_t(run);
  int64_t live = atomic_load(&rec->live_blocks);
  if (live != 0) {
    /* Trim trusted a counter that said empty: blocks the program still
     * uses were unmapped under it. */
    char msg[160];
    snprintf(msg, sizeof msg, "event %llu: the allocator unmapped SuperSlab %u holding %lld live blocks",
             (unsigned long long)t, id, (long long)live);
    hr_internal_error(run, msg);
  }
  rec->mapped = false;
  rec->unmap_t = t;
  hr_truth_mark(&run->truth, rec);
  pthread_mutex_lock(&run->truth.lock);
  run->truth.live--;
  pthread_mutex_unlock(&run->truth.lock);
  hr_jw *w = hr_event_begin(&run->events, "ss_unmap", t);
  if (!w) return;
  hr_jw_key(w, "ss");
  hr_jw_int(w, id);
  hr_jw_key(w, "reason");
  hr_jw_str(w, reason);
  hr_event_end(&run->events);
}

static void on_trim(void *ctx, const hak_trim_report *r) {
  hr_run *run = ctx;
  hr_jw *w = hr_event_begin(&run->events, "trim", now_t(run));
  if (!w) return;
  static const char *const keys[] = {"freed_bytes", "skipped_nonempty", "skipped_cached",
                                     "skipped_reserve"};
  const uint64_t vals[] = {r->freed_bytes, r->skipped_nonempty, r->skipped_cached,
                           r->skipped_reserve};
  hr_jw_key(w, "pass");
  hr_jw_int(w, (int64_t)r->pass);
  hr_jw_key(w, "scanned");
  hr_jw_int(w, r->scanned);
  hr_jw_key(w, "freed");
  hr_jw_open(w, '[');
  for (uint32_t i = 0; r->freed_ids && i < r->freed; i++) hr_jw_int(w, r->freed_ids[i]);
  hr_jw_close(w, ']');
  for (int i = 0; i < 4; i++) {
    hr_jw_key(w, keys[i]);
    hr_jw_int(w, (int64_t)vals[i]);
  }
  hr_event_end(&run->events);
}

static void on_thread_exit(void *ctx, uint32_t tid, uint32_t orphaned, uint32_t released) {
  hr_run *run = ctx;
  (void)tid;
  hr_jw *w = hr_event_begin(&run->events, "thread_exit", now_t(run));
  if (!w) return;
  put_thread(w, "thread");
  hr_jw_key(w, "orphaned_slabs");
  hr_jw_int(w, orphaned);
  hr_jw_key(w, "released_slabs");
  hr_jw_int(w, released);
  hr_event_end(&run->events);
}

static void on_drain(void *ctx, uint32_t ss, uint32_t slab, uint32_t blocks, uint32_t tid) {
  hr_run *run = ctx;
  hr_truth_touch(&run->truth, hr_truth_get(&run->truth, ss));
}

static void on_orphan(void *ctx, uint32_t ss, uint32_t slab, uint32_t tid) {
  hr_run *run = ctx;
  hr_truth_touch(&run->truth, hr_truth_get(&run->truth, ss));
}

static void on_adopt(void *ctx, uint32_t ss, uint32_t slab, uint32_t by, uint32_t drained) {
  hr_run *run = ctx;
  (void)by;
  hr_truth_touch(&run->truth, hr_truth_get(&run->truth, ss));
  hr_jw *w = hr_event_begin(&run->events, "adopt", now_t(run));
  if (!w) return;
  hr_jw_key(w, "ss");
  hr_jw_int(w, ss);
  hr_jw_key(w, "slab");
  hr_jw_int(w, slab);
  put_thread(w, "by_thread");
  hr_jw_key(w, "drained");
  hr_jw_int(w, drained);
  hr_event_end(&run->events);
}

/* A mesh changes both SuperSlabs (touched bytes, counters, the drained
 * remote stacks); from then on frees through the merged range change the
 * primary's SuperSlab too (mesh.c). Runs in the pass, on the replayer's
 * side of a quiescent point. */
static void on_mesh(void *ctx, uint32_t keep_ss, uint32_t keep_slab, uint32_t gone_ss,
                    uint32_t gone_slab, uint32_t blocks) {
  hr_run *run = ctx;
  (void)keep_slab, (void)gone_slab, (void)blocks;
  hr_truth_touch(&run->truth, hr_truth_get(&run->truth, keep_ss));
  hr_truth_touch(&run->truth, hr_truth_get(&run->truth, gone_ss));
  hr_mesh_primary(run, keep_ss);
}

/* The last block freed through a merged range: its slab is free again. */
static void on_unmesh(void *ctx, uint32_t ss, uint32_t slab) {
  hr_run *run = ctx;
  (void)slab;
  hr_truth_touch(&run->truth, hr_truth_get(&run->truth, ss));
}

static void on_oom(void *ctx, uint64_t ss_live, int err, uint32_t limit) {
  hr_run *run = ctx;
  /* Kept as JSON too: the summary repeats it. */
  json_t *ev = json_pack("{ss sI sI si sI so sI}", "type", "oom", "t", (json_int_t)now_t(run),
                         "ss_live", (json_int_t)ss_live, "errno", err, "limit", (json_int_t)limit,
                         "thread",
                         hr_tl_trace_tid >= 0 ? json_integer(hr_tl_trace_tid) : json_null(),
                         "thread_maps",
                         (json_int_t)(run->opt->thread_maps * atomic_load(&run->threads_started)));
  hr_events *e = &run->events;
  pthread_mutex_lock(&e->lock);
  if (e->max_events && e->count >= e->max_events) {
    e->dropped++;
  } else {
    if ((fputs(e->count ? ",\n  " : "\n  ", e->spool) == EOF || hr_json_put(e->spool, ev, 2) != 0) &&
        !e->failed)
      e->failed = hr_io_errno();
    e->count++;
    json_decref(e->last_oom);
    e->last_oom = json_incref(ev);
  }
  pthread_mutex_unlock(&e->lock);
  json_decref(ev);
}

hak_observer hr_observer(hr_run *run) {
  return (hak_observer){
      .ctx = run,
      .ss_map = on_ss_map,
      .ss_unmap = on_ss_unmap,
      .trim = on_trim,
      .thread_exit = on_thread_exit,
      .adopt = on_adopt,
      .drain = on_drain,
      .orphan = on_orphan,
      .oom = on_oom,
      .mesh = on_mesh,
      .unmesh = on_unmesh,
  };
}
