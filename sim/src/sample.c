/* sample.c: samples (docs/run-format.md, Definitions), the --ss-detail stream and the summary.
 *
 * A sample is taken with every worker idle. Its census (census.c) joins
 * what the allocator believes (total_active_blocks, remote pending,
 * orphaned slabs) by SuperSlab id with the replayer's ground truth (live
 * blocks per SuperSlab). Raw bytes and counters are stored; ratios are
 * derived and stored beside them.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hak_json.h"
#include "internal.h"


int hr_sampler_init(hr_sampler *s, const char *detail_path, char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  s->spool = tmpfile();
  if (!s->spool) {
    snprintf(err, errlen, "cannot create a temporary file: %s", strerror(errno));
    return -1;
  }
  if (detail_path) {
    /* Through the output module: renamed into place at the end, so an
     * interrupted run leaves the old file, not a partial one. */
    int rc = hc_out_open(&s->detail_out, detail_path, 0);
    if (!rc && !(s->detail = hr_out_stream(&s->detail_out))) {
      rc = -(errno ? errno : ENOMEM);
      hc_out_abort(&s->detail_out);
    }
    if (rc) {
      snprintf(err, errlen, "%s: cannot write: %s", detail_path, strerror(-rc));
      return -1;
    }
  }
  return 0;
}

int hr_sampler_finish(hr_sampler *s) {
  if (!s->detail) return 0;
  int bad = fclose(s->detail) != 0;
  s->detail = NULL;
  if (bad) {
    if (!s->detail_out.err) s->detail_out.err = EIO;
    hc_out_abort(&s->detail_out);
    return -1;
  }
  return hc_out_commit(&s->detail_out) == 0 ? 0 : -1; /* the errno stays in detail_out.err */
}

void hr_sampler_free(hr_sampler *s) {
  if (s->spool) fclose(s->spool);
  if (s->detail) fclose(s->detail);
  hc_out_abort(&s->detail_out);
  free(s->R);
  free(s->H);
  free(s->Rr);
  free(s->Hr);
}

static int cmp_row(const void *x, const void *y) {
  uint32_t a = ((const hr_census_row *)x)->id, b = ((const hr_census_row *)y)->id;
  return (a > b) - (a < b);
}

/* One --ss-detail line: [[id, class, live, capacity, active, remote_pending,
 * orphaned_slabs], ...] in id order. */
static int write_detail(FILE *f, uint64_t t, hr_census_row *r0, size_t n) {
  qsort(r0, n, sizeof *r0, cmp_row);
  json_t *rows = json_array();
  for (size_t i = 0; i < n; i++) {
    const hr_census_row *r = &r0[i];
    json_array_append_new(rows, json_pack("[I I I I I I I]", (json_int_t)r->id,
                                          (json_int_t)r->class_idx, (json_int_t)r->live,
                                          (json_int_t)r->capacity, (json_int_t)r->active,
                                          (json_int_t)r->pending, (json_int_t)r->orphaned));
  }
  json_t *line = json_pack("{sI so}", "t", (json_int_t)t, "ss", rows);
  char *text = json_dumps(line, JSON_COMPACT);
  int ok = text && fprintf(f, "%s\n", text) >= 0;
  free(text);
  json_decref(line);
  return ok ? 0 : -1;
}

void hr_put_frees(hr_jw *w, const char *key, uint64_t local, uint64_t remote) {
  hr_jw_key(w, key);
  hr_jw_open(w, '{');
  hr_jw_put_int(w, "local", (int64_t)local);
  hr_jw_put_int(w, "remote", (int64_t)remote);
  hr_jw_key(w, "remote_ratio");
  hr_jw_real(w, hr_ratio(remote, local + remote));
  hr_jw_close(w, '}');
}

/* Appends (r, h) to a pair of growing series. */
int hr_series_push(double **R, double **H, uint64_t *n, uint64_t *cap, double r, double h) {
  if (*n == *cap) {
    uint64_t ncap = *cap ? *cap * 2 : 1024;
    double *nr = realloc(*R, ncap * sizeof *nr);
    if (!nr) return -1;
    *R = nr;
    double *nh = realloc(*H, ncap * sizeof *nh);
    if (!nh) return -1;
    *H = nh;
    *cap = ncap;
  }
  (*R)[*n] = r;
  (*H)[*n] = h;
  (*n)++;
  return 0;
}

/* --allocator hakmem: the measured bytes, by the method every allocator
 * gets (resident.c), and what hakmem says of itself. */
static int put_measured(hr_run *run, hr_jw *w, const hak_stats *st, int64_t touched) {
  hr_sampler *s = &run->sampler;
  hr_truth *tr = &run->truth;
  uint64_t live = (uint64_t)atomic_load(&tr->live_req_bytes) + (uint64_t)atomic_load(&tr->large_bytes);
  if (live > s->peak_live_all) s->peak_live_all = live;
  uint64_t resident, mapped;
  if (!hr_resident_due(&run->resident, run->last_sample) ||
      hr_resident_measure(&run->resident, &resident, &mapped) != 0)
    return 0;
  hr_jw_put_int(w, "resident_bytes", (int64_t)resident);
  hr_jw_put_int(w, "mapped_bytes", (int64_t)mapped);
  hr_jw_key(w, "resident_utilization");
  s->rutil_last = hr_ratio(live, resident);
  hr_jw_real(w, s->rutil_last);
  hr_jw_key(w, "self");
  hr_jw_open(w, '{');
  hr_jw_put_int(w, "bytes_mapped", (int64_t)st->bytes_mapped);
  hr_jw_put_int(w, "large_bytes_live", (int64_t)st->large_bytes_live);
  hr_jw_put_int(w, "large_cached_bytes", (int64_t)st->large_cached_bytes);
  hr_jw_put_int(w, "touched_bytes", touched);
  /* Its own mincore() of its mappings (a merged range counted once),
   * inside the measuring budget. */
  double t0 = hr_now();
  hr_jw_put_int(w, "resident_bytes", (int64_t)hak_resident_bytes(run->alloc));
  run->resident.spent += hr_now() - t0;
  hr_jw_close(w, '}');
  if (resident > s->peak_resident) s->peak_resident = resident;
  if (mapped > s->peak_mapped) s->peak_mapped = mapped;
  return hr_series_push(&s->Rr, &s->Hr, &s->nr, &s->capr, (double)live, (double)resident);
}

int hr_sample(hr_run *run, uint64_t t) {
  hr_sampler *s = &run->sampler;
  hr_census_row *rows;
  size_t nrows;
  int crc = hr_census_take(run, t, &rows, &nrows);
  const hr_census *c = &s->census;
  hak_stats st;
  hak_get_stats(run->alloc, &st);
  hr_truth *tr = &run->truth;
  uint64_t R = (uint64_t)atomic_load(&tr->live_req_bytes);
  uint64_t B = (uint64_t)atomic_load(&tr->live_block_bytes);
  uint64_t S = (uint64_t)atomic_load(&tr->slab_active_bytes);
  uint64_t H = (uint64_t)c->live * tr->ss_size;
  /* An element of run.json's samples array (depth 2), written as jansson
   * would write the object (docs/run-format.md lists the keys). */
  if (fputs(s->count ? ",\n  " : "\n  ", s->spool) == EOF && !s->failed) s->failed = hr_io_errno();
  hr_jw w;
  hr_jw_init(&w, s->spool, 2);
  hr_jw_open(&w, '{');
  const char *keys[] = {"t", "live_blocks", "live_req_bytes", "live_block_bytes",
                        "slab_active_bytes", "ss_mapped_bytes", "ss_purged_bytes",
                        "touched_bytes", "meta_bytes", "large_live_bytes"};
  const int64_t vals[] = {(int64_t)t, atomic_load(&tr->live_blocks), (int64_t)R, (int64_t)B,
                          (int64_t)S, (int64_t)H, 0, c->touched, c->meta,
                          atomic_load(&tr->large_bytes)};
  for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) hr_jw_put_int(&w, keys[i], vals[i]);
  hr_jw_key(&w, "utilization");
  hr_jw_real(&w, hr_ratio(R, H));
  hr_jw_key(&w, "ss");
  hr_jw_open(&w, '{');
  hr_jw_put_int(&w, "live", c->live);
  hr_jw_put_int(&w, "empty", c->empty);
  hr_jw_put_int(&w, "full", c->full);
  hr_jw_put_int(&w, "partial", c->partial);
  hr_jw_put_int(&w, "orphaned", c->orphaned);
  hr_jw_put_int(&w, "logically_nonempty_but_empty", c->lnbe);
  hr_jw_close(&w, '}');
  hr_jw_key(&w, "occupancy_hist");
  hr_jw_open(&w, '[');
  for (int i = 0; i < HR_BUCKETS; i++) hr_jw_int(&w, c->hist[i]);
  hr_jw_close(&w, ']');
  hr_jw_put_int(&w, "accounting_drift", c->drift);
  hr_put_frees(&w, "frees", st.frees_local, st.frees_remote);
  hr_put_frees(&w, "frees_interval", st.frees_local - s->prev.frees_local,
            st.frees_remote - s->prev.frees_remote);
  hr_jw_put_int(&w, "remote_pending_blocks", c->remote_pending);
  hr_jw_put_int(&w, "drains", (int64_t)st.drains);
  hr_jw_put_int(&w, "drained_blocks", (int64_t)st.drained_blocks);
  hr_jw_put_int(&w, "threads_alive", run->threads_alive);
  /* Mappings by the allocator's own count, and meshing (mesh.c). */
  hr_jw_put_int(&w, "mappings", (int64_t)st.mappings);
  hr_jw_put_int(&w, "ss_mappings", (int64_t)st.ss_mappings);
  hr_jw_put_int(&w, "meshes", (int64_t)st.meshes);
  hr_jw_put_int(&w, "mesh_released_bytes", (int64_t)st.mesh_released_bytes);
  uint64_t potential;
  if (hr_mesh_potential(run, run->last_sample, &potential))
    hr_jw_put_int(&w, "mesh_potential_bytes", (int64_t)potential);
  int mrc = run->measure ? put_measured(run, &w, &st, c->touched) : 0;
  hr_jw_close(&w, '}');
  if (w.err && !s->failed) s->failed = hr_io_errno();
  s->count++;
  if (s->detail) {
    int rc = crc ? -1 : write_detail(s->detail, t, rows, nrows);
    free(rows);
    if (rc) return -1;
  }
  s->prev = st;
  if ((uint64_t)c->touched > s->peak_touched) s->peak_touched = (uint64_t)c->touched;
  s->drift_last = c->drift;
  s->lnbe_last = (uint64_t)c->lnbe;
  if ((uint64_t)c->lnbe > s->lnbe_peak) s->lnbe_peak = (uint64_t)c->lnbe;
  if (mrc) return -1;
  return hr_series_push(&s->R, &s->H, &s->n, &s->cap, (double)R, (double)H);
}

/* Johnstone & Wilson's four measures from sampled R and H. */
json_t *hr_fragmentation_json(const double *R, const double *H, uint64_t n) {
  double sum_r = 0, sum_h = 0, max_r = 0, max_h = 0, h_at_rmax = 0, r_at_hmax = 0;
  double r_at_rmax = 0, h_at_hmax = 0;
  for (uint64_t i = 0; i < n; i++) {
    sum_r += R[i];
    sum_h += H[i];
    if (R[i] > max_r) max_r = R[i], h_at_rmax = H[i], r_at_rmax = R[i];
    if (H[i] > max_h) max_h = H[i], r_at_hmax = R[i], h_at_hmax = H[i];
  }
  double v[4] = {sum_r > 0 ? sum_h / sum_r : NAN, r_at_rmax > 0 ? h_at_rmax / r_at_rmax : NAN,
                 r_at_hmax > 0 ? h_at_hmax / r_at_hmax : NAN, max_r > 0 ? max_h / max_r : NAN};
  static const char *names[4] = {"jw1", "jw2", "jw3", "jw4"};
  json_t *o = json_object();
  for (int i = 0; i < 4; i++) {
    char pct[16];
    snprintf(pct, sizeof pct, "%s_pct", names[i]);
    json_object_set_new(o, names[i], isnan(v[i]) ? json_null() : json_real(v[i]));
    json_object_set_new(o, pct, isnan(v[i]) ? json_null() : json_real(100.0 * (v[i] - 1.0)));
  }
  return o;
}

json_t *hr_summary(hr_run *run, json_t *oom_event) {
  hak_stats st;
  hak_get_stats(run->alloc, &st);
  hr_sampler *s = &run->sampler;
  hr_truth *tr = &run->truth;
  uint64_t R = (uint64_t)atomic_load(&tr->live_req_bytes);
  uint64_t H = st.ss_live * tr->ss_size;
  uint64_t started = atomic_load(&run->threads_started);
  json_t *o = json_pack(
      "{sI sI sI sI sI sI sI sf sI sI sI sI sI sI sI}", "events", (json_int_t)run->events_done,
      "ss_allocated", (json_int_t)st.ss_allocated, "ss_freed", (json_int_t)st.ss_freed, "ss_peak",
      (json_int_t)st.ss_peak, "ss_live_end", (json_int_t)st.ss_live, "frees_local",
      (json_int_t)st.frees_local, "frees_remote", (json_int_t)st.frees_remote, "remote_ratio",
      hr_ratio(st.frees_remote, st.frees_local + st.frees_remote), "trims", (json_int_t)st.trims,
      "trimmed_bytes", (json_int_t)st.trimmed_bytes, "adoptions", (json_int_t)st.adoptions,
      "ss_reused", (json_int_t)st.ss_reused, "drained_blocks", (json_int_t)st.drained_blocks,
      "threads_started", (json_int_t)started, "live_blocks_end",
      (json_int_t)atomic_load(&tr->live_blocks));
  json_object_set_new(o, "oom", oom_event ? oom_event : json_false());
  json_object_set_new(o, "peak_live_req_bytes", json_integer(atomic_load(&tr->peak_req_bytes)));
  json_object_set_new(o, "peak_ss_mapped_bytes", json_integer((json_int_t)st.bytes_mapped_peak));
  json_object_set_new(o, "peak_touched_bytes", json_integer((json_int_t)s->peak_touched));
  json_object_set_new(o, "fragmentation", hr_fragmentation_json(s->R, s->H, s->n));
  json_object_set_new(o, "utilization_end", json_real(hr_ratio(R, H)));
  json_object_set_new(o, "accounting_drift_end", json_integer(s->drift_last));
  json_object_set_new(o, "logically_nonempty_but_empty_end", json_integer((json_int_t)s->lnbe_last));
  json_object_set_new(o, "logically_nonempty_but_empty_peak", json_integer((json_int_t)s->lnbe_peak));
  json_object_set_new(o, "map_limit",
                      json_pack("{sI sI sI sI}", "limit", (json_int_t)run->opt->cfg.ss_map_limit,
                                "ss_mappings", (json_int_t)st.ss_mappings, "thread_mappings",
                                (json_int_t)(run->opt->thread_maps * started), "per_thread",
                                (json_int_t)run->opt->thread_maps));
  json_object_set_new(o, "peak_mappings", json_integer((json_int_t)st.peak_mappings));
  json_object_set_new(o, "peak_ss_mappings", json_integer((json_int_t)st.peak_ss_mappings));
  json_object_set_new(o, "meshes", json_integer((json_int_t)st.meshes));
  json_object_set_new(o, "mesh_released_bytes", json_integer((json_int_t)st.mesh_released_bytes));
  json_object_set_new(o, "mesh_potential", hr_mesh_potential_json(&run->mesh));
  json_object_set_new(o, "events_dropped", json_integer((json_int_t)run->events.dropped));
  json_t *stats = hak_stats_to_json(&st);
  if (run->measure) {
    /* --allocator hakmem: measured like every allocator, and named. */
    json_object_set_new(o, "peak_resident_bytes", json_integer((json_int_t)s->peak_resident));
    json_object_set_new(o, "peak_mapped_bytes", json_integer((json_int_t)s->peak_mapped));
    json_object_set_new(o, "peak_live_all_bytes", json_integer((json_int_t)s->peak_live_all));
    json_object_set_new(o, "resident_utilization_end", json_real(s->rutil_last));
    json_object_set_new(o, "resident_fragmentation", hr_fragmentation_json(s->Rr, s->Hr, s->nr));
    json_t *named = json_pack("{ss ss}", "name", "hakmem", "version", HR_VERSION);
    json_object_update(named, stats);
    json_decref(stats);
    stats = named;
  }
  json_object_set_new(o, "allocator", stats);
  json_object_set_new(o, "allocator_maps", hak_map_stats_to_json(&st));
  return o;
}
