/* data.c: turns one run's samples and events into the gnuplot data files
 * (whitespace columns, a '#' header naming them, one row per sample or
 * event, x = the event index t).  Values are written exactly (integers in
 * full, reals with 9 significant digits) so tests compare them as text.
 * A value a log axis cannot show (0) or a ratio of nothing is "NaN", which
 * gnuplot skips. */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "internal.h"

static void put(FILE *f, const json_t *v) {
  if (json_is_integer(v)) fprintf(f, " %lld", (long long)json_integer_value(v));
  else if (json_is_real(v)) fprintf(f, " %.9g", json_real_value(v));
  else fputs(" NaN", f);
}

/* For log axes: 0 (or missing) is NaN. */
static void put_pos(FILE *f, const json_t *v, int *any) {
  if (ha_num(v) > 0) {
    put(f, v);
    *any = 1;
  } else {
    fputs(" NaN", f);
  }
}

static long long ival(const json_t *o, const char *path) {
  return ha_int(ha_path_get(o, path));
}

/* The first column: the event index. */
static void put_t(FILE *f, const json_t *sample) {
  fprintf(f, "%lld", ival(sample, "t"));
}

static int ladder(const json_t *samples, const char *dir, ha_plotinfo *info, ha_err *err) {
  ha_out o;
  int rc = ha_out_open(&o, dir, "ladder.dat", err), any = 0;
  if (rc) return rc;
  fputs("# t live_req_bytes(R) live_block_bytes slab_active_bytes ss_mapped_bytes(H) touched_bytes utilization(R/H)\n", o.f);
  size_t i;
  json_t *s;
  int any_util = 0;
  json_array_foreach(samples, i, s) {
    put_t(o.f, s);
    static const char *cols[] = {"live_req_bytes", "live_block_bytes", "slab_active_bytes",
                                 "ss_mapped_bytes", "touched_bytes"};
    for (size_t c = 0; c < sizeof cols / sizeof *cols; c++)
      put_pos(o.f, json_object_get(s, cols[c]), &any);
    put_pos(o.f, json_object_get(s, "utilization"), &any_util);
    fputc('\n', o.f);
  }
  info->ladder_nodata = !any && !any_util;
  /* A libhakmem.so sample file has no ground truth: no R, no R/H. */
  info->ladder_noutil = !any_util;
  return ha_out_commit(&o, err);
}

static int superslabs(const json_t *samples, const json_t *events, const char *dir, ha_err *err) {
  ha_out o;
  int rc = ha_out_open(&o, dir, "superslabs.dat", err);
  if (rc) return rc;
  fputs("# t live empty orphaned logically_nonempty_but_empty partial full mapped_cumulative unmapped_cumulative\n", o.f);
  size_t i, e = 0, ne = json_array_size(events);
  long long mapped = 0, unmapped = 0;
  json_t *s;
  json_array_foreach(samples, i, s) {
    long long t = ival(s, "t");
    /* A sample at t has seen events 0..t-1 (the events record their index). */
    for (; e < ne; e++) {
      const json_t *ev = json_array_get(events, e);
      if (ival(ev, "t") >= t) break;
      const char *type = json_string_value(json_object_get(ev, "type"));
      if (type && !strcmp(type, "ss_map")) mapped++;
      else if (type && !strcmp(type, "ss_unmap")) unmapped++;
    }
    fprintf(o.f, "%lld", t);
    static const char *cols[] = {"ss.live", "ss.empty", "ss.orphaned",
                                 "ss.logically_nonempty_but_empty", "ss.partial", "ss.full"};
    for (size_t c = 0; c < sizeof cols / sizeof *cols; c++) put(o.f, ha_path_get(s, cols[c]));
    fprintf(o.f, " %lld %lld\n", mapped, unmapped);
  }
  return ha_out_commit(&o, err);
}

/* Heat map cells: one row per sample and non-empty bucket; the cell spans
 * from the previous sample's t to this one's. */
static int occupancy(const json_t *samples, const char *dir, ha_err *err) {
  ha_out o;
  int rc = ha_out_open(&o, dir, "occupancy.dat", err);
  if (rc) return rc;
  fputs("# t0 t1 bucket(0: empty, k: ((k-1)*10%,k*10%]) superslabs\n", o.f);
  size_t i;
  long long prev = 0;
  json_t *s;
  json_array_foreach(samples, i, s) {
    long long t = ival(s, "t");
    const json_t *h = json_object_get(s, "occupancy_hist");
    for (size_t b = 0; b < json_array_size(h); b++) {
      long long c = ha_int(json_array_get(h, b));
      if (c > 0) fprintf(o.f, "%lld %lld %zu %lld\n", prev, t, b, c);
    }
    prev = t;
  }
  return ha_out_commit(&o, err);
}

static int remote(const json_t *samples, const char *dir, ha_err *err) {
  ha_out o;
  int rc = ha_out_open(&o, dir, "remote.dat", err);
  if (rc) return rc;
  fputs("# t interval_remote_ratio cumulative_remote_ratio remote_pending_blocks frees_local frees_remote\n", o.f);
  size_t i;
  json_t *s;
  json_array_foreach(samples, i, s) {
    put_t(o.f, s);
    if (ival(s, "frees_interval.local") + ival(s, "frees_interval.remote") > 0)
      put(o.f, ha_path_get(s, "frees_interval.remote_ratio"));
    else
      fputs(" NaN", o.f);
    put(o.f, ha_path_get(s, "frees.remote_ratio"));
    put(o.f, json_object_get(s, "remote_pending_blocks"));
    put(o.f, ha_path_get(s, "frees.local"));
    put(o.f, ha_path_get(s, "frees.remote"));
    fputc('\n', o.f);
  }
  return ha_out_commit(&o, err);
}

static int trim(const json_t *events, const char *dir, ha_plotinfo *info, ha_err *err) {
  ha_out o;
  int rc = ha_out_open(&o, dir, "trim.dat", err);
  if (rc) return rc;
  fputs("# t pass freed skipped_nonempty skipped_cached skipped_reserve scanned freed_bytes\n", o.f);
  size_t i;
  json_t *ev;
  long long prev = -1, gap = 0;
  info->ntrims = 0;
  json_array_foreach(events, i, ev) {
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (!type || strcmp(type, "trim")) continue;
    long long t = ival(ev, "t");
    if (prev >= 0 && t > prev && (gap == 0 || t - prev < gap)) gap = t - prev;
    prev = t;
    info->ntrims++;
    fprintf(o.f, "%lld", t);
    put(o.f, json_object_get(ev, "pass"));
    fprintf(o.f, " %zu", json_array_size(json_object_get(ev, "freed")));
    put(o.f, json_object_get(ev, "skipped_nonempty"));
    put(o.f, json_object_get(ev, "skipped_cached"));
    put(o.f, json_object_get(ev, "skipped_reserve"));
    put(o.f, json_object_get(ev, "scanned"));
    put(o.f, json_object_get(ev, "freed_bytes"));
    fputc('\n', o.f);
  }
  /* Bars 60% of the closest two passes apart, and visible when alone. */
  double w = gap > 0 ? 0.6 * (double)gap : info->tmax / 50;
  info->trim_boxw = w > 0 ? w : 1;
  return ha_out_commit(&o, err);
}

static int drift(const json_t *samples, const char *dir, ha_err *err) {
  ha_out o;
  int rc = ha_out_open(&o, dir, "drift.dat", err);
  if (rc) return rc;
  fputs("# t accounting_drift remote_pending_blocks logically_nonempty_but_empty\n", o.f);
  size_t i;
  json_t *s;
  json_array_foreach(samples, i, s) {
    put_t(o.f, s);
    put(o.f, json_object_get(s, "accounting_drift"));
    put(o.f, json_object_get(s, "remote_pending_blocks"));
    put(o.f, ha_path_get(s, "ss.logically_nonempty_but_empty"));
    fputc('\n', o.f);
  }
  return ha_out_commit(&o, err);
}

/* The measured samples (--allocator): live bytes of every block beside
 * resident and mapped bytes. Written only when a sample has them. */
static int resident(const json_t *run, const json_t *samples, const char *dir, ha_plotinfo *info,
                    ha_err *err) {
  size_t i;
  json_t *s;
  json_array_foreach(samples, i, s) info->has_resident |= json_object_get(s, "resident_bytes") != NULL;
  if (!info->has_resident) return 0;
  ha_out o;
  int rc = ha_out_open(&o, dir, "resident.dat", err), any = 0;
  if (rc) return rc;
  fputs("# t live_requested_all_blocks resident_bytes mapped_bytes utilization(live/resident)\n", o.f);
  bool hakmem = !ha_run_is_external(run);
  json_array_foreach(samples, i, s) {
    if (!json_object_get(s, "resident_bytes")) continue;
    put_t(o.f, s);
    /* hakmem's R counts SuperSlab blocks; its large objects are beside it. */
    long long live = ival(s, "live_req_bytes") + (hakmem ? ival(s, "large_live_bytes") : 0);
    if (live > 0) fprintf(o.f, " %lld", live), any = 1;
    else fputs(" NaN", o.f);
    put_pos(o.f, json_object_get(s, "resident_bytes"), &any);
    put_pos(o.f, json_object_get(s, "mapped_bytes"), &any);
    put(o.f, json_object_get(s, "resident_utilization"));
    fputc('\n', o.f);
  }
  info->resident_nodata = !any;
  return ha_out_commit(&o, err);
}

/* Kernel mappings (the allocator's count) and meshing, per sample: what
 * mappings.gp and mesh.gp draw. The map limit's other part, the started
 * threads' mappings (--thread-maps), is counted from the thread_start
 * events before each sample, as superslabs.dat counts maps. Runs without
 * the fields (another allocator, a libhakmem.so sample file) have none. */
static int mappings(const json_t *run, const json_t *samples, const json_t *events,
                    const char *dir, ha_plotinfo *info, ha_err *err) {
  const json_t *first = json_array_get(samples, 0);
  info->has_mappings = first && json_object_get(first, "mappings") != NULL;
  if (!info->has_mappings) return 0;
  info->map_limit = ha_num(ha_path_get(run, "config.ss_map_limit"));
  if (isnan(info->map_limit)) info->map_limit = 0;
  long long per_thread = ival(run, "config.replay.thread_maps");
  ha_out o;
  int rc = ha_out_open(&o, dir, "mappings.dat", err);
  if (rc) return rc;
  fputs("# t mappings ss_mappings superslabs against_limit(ss_mappings+thread_maps) meshes "
        "mesh_released_bytes mesh_potential_bytes touched_bytes\n", o.f);
  size_t i, e = 0, ne = json_array_size(events);
  long long started = 0;
  json_t *s;
  json_array_foreach(samples, i, s) {
    long long t = ival(s, "t");
    for (; e < ne; e++) {
      const json_t *ev = json_array_get(events, e);
      if (ival(ev, "t") >= t) break;
      const char *type = json_string_value(json_object_get(ev, "type"));
      started += type && !strcmp(type, "thread_start");
    }
    put_t(o.f, s);
    put(o.f, json_object_get(s, "mappings"));
    put(o.f, json_object_get(s, "ss_mappings"));
    put(o.f, ha_path_get(s, "ss.live"));
    fprintf(o.f, " %lld", ival(s, "ss_mappings") + per_thread * started);
    put(o.f, json_object_get(s, "meshes"));
    put(o.f, json_object_get(s, "mesh_released_bytes"));
    put(o.f, json_object_get(s, "mesh_potential_bytes")); /* NaN where not computed */
    put(o.f, json_object_get(s, "touched_bytes"));
    fputc('\n', o.f);
  }
  return ha_out_commit(&o, err);
}

int ha_data_write(const json_t *run, const char *dir, ha_plotinfo *info, ha_err *err) {
  memset(info, 0, sizeof *info);
  const json_t *samples = json_object_get(run, "samples");
  const json_t *events = json_object_get(run, "events");
  if (!json_is_array(samples) || !json_is_array(events))
    return ha_fail(err, HA_ERR_INPUT, "run has no samples or events array");
  double last = ha_num(ha_path_get(run, "samples.-1.t"));
  double nev = ha_num(ha_path_get(run, "summary.events"));
  info->tmax = !isnan(nev) && nev > 0 ? nev : !isnan(last) && last > 0 ? last : 1;
  info->opms = ha_num(ha_path_get(run, "config.replay.ops_per_ms"));
  if (isnan(info->opms)) info->opms = 0;
  info->events_dropped = (long)ha_int(ha_path_get(run, "summary.events_dropped"));
  if (info->events_dropped < 0) info->events_dropped = 0;
  int rc;
  if ((rc = ladder(samples, dir, info, err)) || (rc = superslabs(samples, events, dir, err)) ||
      (rc = occupancy(samples, dir, err)) || (rc = remote(samples, dir, err)) ||
      (rc = trim(events, dir, info, err)) || (rc = drift(samples, dir, err)) ||
      (rc = resident(run, samples, dir, info, err)) ||
      (rc = mappings(run, samples, events, dir, info, err)))
    return rc;
  return 0;
}

int ha_plot_data(const json_t *run, const char *ss_detail, const char *dir, ha_err *err) {
  ha_plotinfo info;
  ha_ssscan scan;
  int rc = ss_detail ? ha_ssdetail_scan(ss_detail, &scan, err) : 0;
  if (!rc) rc = ha_data_write(run, dir, &info, err);
  if (!rc && ss_detail) rc = ha_ssdetail_write(ss_detail, &scan, dir, &info, err);
  return rc;
}
