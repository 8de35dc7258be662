/* check.c: baselines, the leak gate's verdicts.  A baseline names metrics
 * of run.json by dotted path and bounds each (max, min, equals, or
 * max_ratio / min_ratio relative to the value "recorded" in the baseline);
 * the format is in docs/analysis.md.  A baseline that cannot be read as
 * such (unknown key, wrong type, a path the run does not have) is bad
 * input, never a pass. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define HA_BASELINE_FORMAT "hakreplay-baseline"

static const char *const top_keys[] = {"format", "version", "description", "recorded_from",
                                       "tolerance", "metrics"};
static const char *const bound_keys[] = {"max", "min", "equals", "max_ratio", "min_ratio"};

static int known(const char *k, const char *const *list, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(k, list[i])) return 1;
  return 0;
}

static int is_num(const json_t *v) { return json_is_integer(v) || json_is_real(v); }

/* Equal as JSON, numbers by value (0 and 0.0 are equal). */
static int same(const json_t *a, const json_t *b) {
  if (is_num(a) && is_num(b)) return ha_num(a) == ha_num(b);
  return json_equal((json_t *)a, (json_t *)b);
}

static void fmt_num(char *buf, size_t n, double v) {
  snprintf(buf, n, "%.10g", v);
}

/* Validates one metric entry (everything but its value in the run). */
static int check_entry(const char *bpath, const char *mpath, const json_t *e, ha_err *err) {
  if (!json_is_object(e))
    return ha_fail(err, HA_ERR_INPUT, "%s: metric \"%s\": expected an object of bounds", bpath, mpath);
  const char *k;
  const json_t *v;
  int bounds = 0;
  json_object_foreach((json_t *)e, k, v) {
    if (known(k, bound_keys, sizeof bound_keys / sizeof *bound_keys)) {
      bounds++;
      if (strcmp(k, "equals") && !is_num(v))
        return ha_fail(err, HA_ERR_INPUT, "%s: metric \"%s\": \"%s\" must be a number", bpath, mpath, k);
      if ((!strcmp(k, "max_ratio") || !strcmp(k, "min_ratio")) &&
          (ha_num(v) < 0 || !is_num(json_object_get(e, "recorded"))))
        return ha_fail(err, HA_ERR_INPUT,
                       "%s: metric \"%s\": \"%s\" needs a ratio >= 0 and a numeric \"recorded\" value",
                       bpath, mpath, k);
    } else if (strcmp(k, "recorded") && strcmp(k, "note")) {
      return ha_fail(err, HA_ERR_INPUT,
                     "%s: metric \"%s\": unknown bound kind \"%s\" (max, min, equals, max_ratio, min_ratio)",
                     bpath, mpath, k);
    }
  }
  if (!bounds)
    return ha_fail(err, HA_ERR_INPUT, "%s: metric \"%s\": no bound (max, min, equals, max_ratio, min_ratio)",
                   bpath, mpath);
  return 0;
}

static int check_top(const json_t *b, const char *bpath, ha_err *err) {
  if (!json_is_object(b)) return ha_fail(err, HA_ERR_INPUT, "%s: not a JSON object", bpath);
  const char *fmt = json_string_value(json_object_get(b, "format"));
  if (!fmt || strcmp(fmt, HA_BASELINE_FORMAT))
    return ha_fail(err, HA_ERR_INPUT, "%s: \"format\" is not \"" HA_BASELINE_FORMAT "\"", bpath);
  if (json_integer_value(json_object_get(b, "version")) != 1)
    return ha_fail(err, HA_ERR_INPUT, "%s: \"version\" is not 1", bpath);
  const char *k;
  const json_t *v;
  json_object_foreach((json_t *)b, k, v) {
    if (!known(k, top_keys, sizeof top_keys / sizeof *top_keys))
      return ha_fail(err, HA_ERR_INPUT, "%s: unknown key \"%s\"", bpath, k);
  }
  const json_t *m = json_object_get(b, "metrics");
  if (!json_is_object(m) || json_object_size(m) == 0)
    return ha_fail(err, HA_ERR_INPUT, "%s: \"metrics\" must be a non-empty object", bpath);
  return 0;
}

int ha_check(const json_t *run, const json_t *baseline, const char *bpath, ha_check_item **items_out,
             size_t *n_out, ha_err *err) {
  *items_out = NULL;
  *n_out = 0;
  int rc = check_top(baseline, bpath, err);
  if (rc) return rc;
  const json_t *metrics = json_object_get(baseline, "metrics");
  const char *mpath;
  const json_t *e;
  size_t cap = 0;
  json_object_foreach((json_t *)metrics, mpath, e) {
    if ((rc = check_entry(bpath, mpath, e, err))) return rc;
    cap += json_object_size(e);
  }
  ha_check_item *items = calloc(cap, sizeof *items);
  if (!items) return ha_fail(err, HA_ERR_INTERNAL, "out of memory");
  size_t n = 0;
  int verdict = 0;
  json_object_foreach((json_t *)metrics, mpath, e) {
    const json_t *v = ha_path_get(run, mpath);
    if (!v) {
      free(items);
      return ha_fail(err, HA_ERR_INPUT, "%s: metric \"%s\": unknown metric path (not in the run)", bpath, mpath);
    }
    const char *k;
    const json_t *b;
    double rec = ha_num(json_object_get(e, "recorded"));
    json_object_foreach((json_t *)e, k, b) {
      if (!known(k, bound_keys, sizeof bound_keys / sizeof *bound_keys)) continue;
      ha_check_item *it = &items[n++];
      snprintf(it->path, sizeof it->path, "%s", mpath);
      ha_fmt_value(it->value, sizeof it->value, v);
      char a[48], r[48];
      if (!strcmp(k, "equals")) {
        ha_fmt_value(a, sizeof a, b);
        snprintf(it->bound, sizeof it->bound, "== %s", a);
        it->ok = same(v, b);
        verdict |= !it->ok;
        continue;
      }
      if (!is_num(v) && !json_is_null(v)) {
        ha_fail(err, HA_ERR_INPUT, "%s: metric \"%s\": \"%s\" bounds a number, the run has %s", bpath,
                mpath, k, it->value);
        free(items);
        return HA_ERR_INPUT;
      }
      int is_max = !strncmp(k, "max", 3);
      double bound = ha_num(b);
      fmt_num(a, sizeof a, bound);
      if (!strcmp(k, "max_ratio") || !strcmp(k, "min_ratio")) {
        fmt_num(r, sizeof r, rec);
        bound *= rec;
        char bb[48];
        fmt_num(bb, sizeof bb, bound);
        snprintf(it->bound, sizeof it->bound, "%s %s (%sx of %s)", is_max ? "<=" : ">=", bb, a, r);
      } else {
        snprintf(it->bound, sizeof it->bound, "%s %s", is_max ? "<=" : ">=", a);
      }
      double x = ha_num(v); /* null: NAN, which holds no bound */
      it->ok = is_max ? x <= bound : x >= bound;
      verdict |= !it->ok;
    }
  }
  *items_out = items;
  *n_out = n;
  return verdict;
}

/* What a recorded baseline bounds, and how. */
static const struct {
  const char *path;
  const char *kind; /* equals, max_ratio, min_ratio */
} record_set[] = {
    {"config.preset", "equals"},
    {"config.variant", "equals"}, /* the preset plus every override */
    {"trace.events", "equals"},
    {"summary.oom", "equals"},
    {"summary.ss_live_end", "max_ratio"},
    {"summary.ss_peak", "max_ratio"},
    {"summary.peak_ss_mapped_bytes", "max_ratio"},
    {"summary.peak_ss_mappings", "max_ratio"}, /* what ss_map_limit counts */
    {"summary.peak_touched_bytes", "max_ratio"},
    {"summary.logically_nonempty_but_empty_end", "max_ratio"},
    {"summary.accounting_drift_end", "max_ratio"},
    {"summary.fragmentation.jw4", "max_ratio"},
    {"summary.ss_freed", "min_ratio"},
    {"summary.utilization_end", "min_ratio"},
};

int ha_check_record(const json_t *run, const char *run_path, double tol, json_t **out, ha_err *err) {
  *out = NULL;
  if (!(tol >= 0 && tol <= 10))
    return ha_fail(err, HA_ERR_INPUT, "--tolerance: expected a number in [0, 10], got %g", tol);
  json_t *b = json_object();
  json_t *metrics = json_object();
  char desc[512];
  snprintf(desc, sizeof desc, "recorded by hakreplay check --record from %s (tolerance %g)",
           run_path ? run_path : "a run", tol);
  json_object_set_new(b, "format", json_string(HA_BASELINE_FORMAT));
  json_object_set_new(b, "version", json_integer(1));
  json_object_set_new(b, "description", json_string(desc));
  json_object_set_new(b, "recorded_from",
                      json_pack("{s:O?, s:O?, s:O?, s:O?}", "trace_hash", ha_path_get(run, "trace.hash"),
                                "trace_meta", ha_path_get(run, "trace.meta"), "preset",
                                ha_path_get(run, "config.preset"), "variant",
                                ha_path_get(run, "config.variant")));
  json_object_set_new(b, "tolerance", json_real(tol));
  for (size_t i = 0; i < sizeof record_set / sizeof *record_set; i++) {
    const json_t *v = ha_path_get(run, record_set[i].path);
    if (!v || json_is_null(v)) continue; /* e.g. fragmentation when nothing was live */
    json_t *e = json_object();
    if (!strcmp(record_set[i].kind, "equals")) {
      json_object_set(e, "equals", (json_t *)v);
    } else if (is_num(v)) {
      double ratio = !strcmp(record_set[i].kind, "max_ratio") ? 1 + tol : tol < 1 ? 1 - tol : 0;
      json_object_set_new(e, record_set[i].kind, json_real(ratio));
      json_object_set(e, "recorded", (json_t *)v);
    }
    if (json_object_size(e)) json_object_set_new(metrics, record_set[i].path, e);
    else json_decref(e);
  }
  json_object_set_new(b, "metrics", metrics);
  *out = b;
  return 0;
}
