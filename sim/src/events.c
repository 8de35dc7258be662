/* events.c: the allocator observer of a replay. It keeps the ground-truth
 * table of SuperSlabs in step with the allocator's mappings and records
 * the run's events (metrics.md: ss_map, ss_unmap, trim, thread_exit,
 * adopt, oom; thread_start is added by the coordinator). Each event's `t`
 * is the trace event index the causing thread was executing. The drain
 * and orphan callbacks only mark their SuperSlab changed for the next
 * sample's census (a remote push is marked by the free that caused it);
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

void hr_events_add(hr_events *e, json_t *ev) {
  pthread_mutex_lock(&e->lock);
  if (e->max_events && e->count >= e->max_events) {
    e->dropped++;
  } else {
    /* As an element of run.json's events array (depth 2). */
    if (fputs(e->count ? ",\n  " : "\n  ", e->spool) == EOF || hr_json_put(e->spool, ev, 2) != 0)
      e->failed = true;
    e->count++;
    if (!strcmp(json_string_value(json_object_get(ev, "type")), "oom")) {
      json_decref(e->last_oom);
      e->last_oom = json_deep_copy(ev);
    }
  }
  json_decref(ev);
  pthread_mutex_unlock(&e->lock);
}

int hr_events_put(hr_events *e, FILE *f) {
  /* Events lock held. */
  if (e->failed || fflush(e->spool) != 0) return -1;
  if (!e->count) return fputs("[]", f) == EOF ? -1 : 0;
  if (fputc('[', f) == EOF) return -1;
  rewind(e->spool);
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, e->spool)) > 0)
    if (fwrite(buf, 1, n, f) != n) return -1;
  int rc = ferror(e->spool) ? -1 : 0;
  if (fseek(e->spool, 0, SEEK_END) != 0) rc = -1;
  return rc || fputs("\n ]", f) == EOF ? -1 : 0;
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

static json_t *thread_value(void) {
  return hr_tl_trace_tid >= 0 ? json_integer(hr_tl_trace_tid) : json_null();
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
  hr_events_add(&run->events, json_pack("{ss sI sI sI so}", "type", "ss_map", "t",
                                        (json_int_t)rec->map_t, "ss", (json_int_t)ss->id, "class",
                                        (json_int_t)ss->class_idx, "thread", thread_value()));
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
  hr_events_add(&run->events, json_pack("{ss sI sI ss}", "type", "ss_unmap", "t", (json_int_t)t,
                                        "ss", (json_int_t)id, "reason", reason));
}

static void on_trim(void *ctx, const hak_trim_report *r) {
  hr_run *run = ctx;
  json_t *freed = json_array();
  for (uint32_t i = 0; r->freed_ids && i < r->freed; i++)
    json_array_append_new(freed, json_integer(r->freed_ids[i]));
  hr_events_add(&run->events,
                json_pack("{ss sI sI sI so sI sI sI sI}", "type", "trim", "t",
                          (json_int_t)now_t(run), "pass", (json_int_t)r->pass, "scanned",
                          (json_int_t)r->scanned, "freed", freed, "freed_bytes",
                          (json_int_t)r->freed_bytes, "skipped_nonempty",
                          (json_int_t)r->skipped_nonempty, "skipped_cached",
                          (json_int_t)r->skipped_cached, "skipped_reserve",
                          (json_int_t)r->skipped_reserve));
}

static void on_thread_exit(void *ctx, uint32_t tid, uint32_t orphaned, uint32_t released) {
  hr_run *run = ctx;
  (void)tid;
  hr_events_add(&run->events,
                json_pack("{ss sI so sI sI}", "type", "thread_exit", "t", (json_int_t)now_t(run),
                          "thread", thread_value(), "orphaned_slabs", (json_int_t)orphaned,
                          "released_slabs", (json_int_t)released));
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
  hr_events_add(&run->events,
                json_pack("{ss sI sI sI so sI}", "type", "adopt", "t", (json_int_t)now_t(run),
                          "ss", (json_int_t)ss, "slab", (json_int_t)slab, "by_thread",
                          thread_value(), "drained", (json_int_t)drained));
}

static void on_oom(void *ctx, uint64_t ss_live, int err, uint32_t limit) {
  hr_run *run = ctx;
  hr_events_add(&run->events,
                json_pack("{ss sI sI si sI so sI}", "type", "oom", "t", (json_int_t)now_t(run),
                          "ss_live", (json_int_t)ss_live, "errno", err, "limit",
                          (json_int_t)limit, "thread", thread_value(), "thread_maps",
                          (json_int_t)(run->opt->thread_maps * atomic_load(&run->threads_started))));
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
  };
}
