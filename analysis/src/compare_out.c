/* compare_out.c: what `hakreplay compare` writes once the runs exist:
 * compare.json (every compared metric exactly, and its ratio to the first
 * variant), compare.md (the same as a Markdown table, readable values),
 * the overlay plots (one line per variant: mapped bytes, live SuperSlabs,
 * utilization; measured resident bytes; mappings and meshing) and
 * index.html, which links to each variant's own plots when they were
 * drawn.  A variant that ran out of memory is a column like the others,
 * marked OOM. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* value / first variant's value, when both are numbers and the first is not 0. */
static int ratio(const ha_variant *v, size_t i, const ha_metric *m, double *r) {
  const json_t *a = ha_path_get(json_object_get(v[i].run, "summary"), m->path);
  const json_t *b = ha_path_get(json_object_get(v[0].run, "summary"), m->path);
  double x = ha_num(a), y = ha_num(b);
  if (isnan(x) || isnan(y) || y == 0) return 0;
  *r = x / y;
  return 1;
}

static void fmt_ratio(char *buf, size_t n, double r) {
  snprintf(buf, n, r != 0 && (fabs(r) < 0.01 || fabs(r) >= 1000) ? "%.2ex" : "%.3gx", r);
}

static void trace_line(const ha_variant *v, size_t n, char *buf, size_t len) {
  char trace[320], variant[HA_VARIANT_MAX];
  ha_run_names(v[0].run, trace, sizeof trace, variant, sizeof variant);
  const char *hash = json_string_value(ha_path_get(v[0].run, "trace.hash"));
  int same = 1;
  for (size_t i = 1; i < n; i++) {
    const char *h = json_string_value(ha_path_get(v[i].run, "trace.hash"));
    same &= h && hash && !strcmp(h, hash);
  }
  if (same) snprintf(buf, len, "trace %s", trace);
  else snprintf(buf, len, "several traces (first: %s)", trace);
}

static int write_json(const ha_variant *v, size_t n, const char *dir, ha_err *err) {
  json_t *doc = json_pack("{s:{s:s, s:i}, s:O?, s:s}", "schema", "name", "hakreplay-compare",
                          "version", 1, "trace", json_object_get(v[0].run, "trace"), "baseline",
                          v[0].name);
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) {
    json_t *summary = json_object(), *ratios = json_object();
    for (size_t k = 0; k < ha_ncompare_metrics; k++) {
      const ha_metric *m = &ha_compare_metrics[k];
      json_t *val = ha_path_get(json_object_get(v[i].run, "summary"), m->path);
      json_object_set_new(summary, m->path, val ? json_deep_copy(val) : json_null());
      double r;
      if (strcmp(m->path, "oom")) json_object_set_new(ratios, m->path, ratio(v, i, m, &r) ? json_real(r) : json_null());
    }
    json_array_append_new(arr, json_pack("{s:s, s:s, s:s?, s:O?, s:i, s:b, s:o, s:o}", "name", v[i].name,
                                         "run", v[i].run_path, "preset",
                                         json_string_value(ha_path_get(v[i].run, "config.preset")),
                                         "trace_hash", ha_path_get(v[i].run, "trace.hash"),
                                         "replay_exit", v[i].replay_exit, "oom", v[i].replay_exit == 3,
                                         "summary", summary, "ratio", ratios));
  }
  json_object_set_new(doc, "variants", arr);
  ha_out o;
  int rc = ha_out_open(&o, dir, "compare.json", err);
  if (!rc) {
    if (json_dumpf(doc, o.f, JSON_INDENT(1) | JSON_REAL_PRECISION(12)) != 0) {
      ha_out_abort(&o);
      rc = ha_fail(err, HA_ERR_INTERNAL, "%s/compare.json: write failed", dir);
    } else {
      fputc('\n', o.f);
      rc = ha_out_commit(&o, err);
    }
  }
  json_decref(doc);
  return rc;
}

/* One table cell: the value, then its ratio to the first variant. */
static void cell(char *buf, size_t len, const ha_variant *v, size_t i, const ha_metric *m) {
  char val[128], rt[48];
  double r;
  ha_metric_text(val, sizeof val, json_object_get(v[i].run, "summary"), m);
  if (i > 0 && ratio(v, i, m, &r)) {
    fmt_ratio(rt, sizeof rt, r);
    snprintf(buf, len, "%s (%s)", val, rt);
  } else {
    snprintf(buf, len, "%s", val);
  }
}

static char *markdown(const ha_variant *v, size_t n) {
  char *text = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&text, &size);
  if (!f) return NULL;
  char line[512], c[256];
  trace_line(v, n, line, sizeof line);
  fprintf(f, "# hakreplay compare\n\n%s; in parentheses, the ratio to the first variant (%s).\n\n",
          line, v[0].name);
  fputs("| metric |", f);
  for (size_t i = 0; i < n; i++) fprintf(f, " %s%s |", v[i].name, v[i].replay_exit == 3 ? " (OOM)" : "");
  fputs("\n|---|", f);
  for (size_t i = 0; i < n; i++) fputs("---:|", f);
  fputc('\n', f);
  for (size_t k = 0; k < ha_ncompare_metrics; k++) {
    fprintf(f, "| %s |", ha_compare_metrics[k].label);
    for (size_t i = 0; i < n; i++) {
      cell(c, sizeof c, v, i, &ha_compare_metrics[k]);
      fprintf(f, " %s |", c);
    }
    fputc('\n', f);
  }
  fclose(f);
  return text;
}

/* Appends word to a space-separated list (the gnuplot scripts' `files`
 * and `names`). */
static void add_word(char *list, size_t cap, const char *word) {
  size_t len = strlen(list);
  snprintf(list + len, cap - len, "%s%s", len ? " " : "", word);
}

/* A variant's name as the overlays' legends show it. */
static void legend_name(const ha_variant *v, char *out, size_t cap) {
  snprintf(out, cap, "%s%s", v->name, v->replay_exit == 3 ? "(OOM)" : "");
}

/* One sample's columns (paths into it) after its t: each value > 0 as
 * it is, anything else NaN (log axes); any[c] set where column c had one. */
static void put_columns(FILE *f, const json_t *s, const char *const *cols, int ncols, int *any) {
  fprintf(f, "%lld", ha_int(json_object_get(s, "t")));
  for (int c = 0; c < ncols; c++) {
    const json_t *x = ha_path_get(s, cols[c]);
    if (ha_num(x) > 0) {
      any[c] = 1;
      if (json_is_integer(x)) fprintf(f, " %lld", (long long)json_integer_value(x));
      else fprintf(f, " %.9g", ha_num(x));
    } else {
      fputs(" NaN", f);
    }
  }
  fputc('\n', f);
}

/* Draws one overlay: script PLOT.gp over the data files `files` with the
 * legend `names`; limit < 0 leaves the script's `limit` unset. */
static int render_overlay(const char *dir, const char *plot, const char *files, const char *names,
                          const char *title, double tmax, int nodata, double limit, int formats,
                          ha_err *err) {
  char vars[13000] = "", script[64];
  ha_var_str(vars, sizeof vars, "files", files);
  ha_var_str(vars, sizeof vars, "names", names);
  ha_var_str(vars, sizeof vars, "title", title);
  ha_var_num(vars, sizeof vars, "tmax", tmax);
  ha_var_num(vars, sizeof vars, "nodata", nodata);
  if (limit >= 0) ha_var_num(vars, sizeof vars, "limit", limit);
  snprintf(script, sizeof script, "%s.gp", plot);
  return ha_render(dir, script, vars, plot, formats, err);
}

/* The measured overlays (ovl_resident, ovl_rutil) from the runs with
 * resident samples, one ovr_LABEL.dat each; *drawn: whether any had. */
static int write_resident_overlays(const ha_variant *v, size_t n, const char *dir, int formats,
                                   double tmax, const char *title, int *drawn, ha_err *err) {
  char files[4096] = "", names[8192] = "";
  int any[3] = {0, 0, 0};
  *drawn = 0;
  for (size_t i = 0; i < n; i++) {
    const json_t *samples = json_object_get(v[i].run, "samples");
    size_t k;
    const json_t *s;
    int has = 0;
    json_array_foreach(samples, k, s) has |= json_object_get(s, "resident_bytes") != NULL;
    if (!has) continue;
    char name[128];
    snprintf(name, sizeof name, "ovr_%s.dat", v[i].label);
    ha_out o;
    int rc = ha_out_open(&o, dir, name, err);
    if (rc) return rc;
    fputs("# t resident_bytes utilization(live/resident) mapped_bytes  (measured samples; 0 written NaN)\n", o.f);
    static const char *const cols[] = {"resident_bytes", "resident_utilization", "mapped_bytes"};
    json_array_foreach(samples, k, s)
      if (json_object_get(s, "resident_bytes")) put_columns(o.f, s, cols, 3, any);
    if ((rc = ha_out_commit(&o, err))) return rc;
    char shown[HA_VARIANT_MAX + 8];
    legend_name(&v[i], shown, sizeof shown);
    add_word(files, sizeof files, name);
    add_word(names, sizeof names, shown);
  }
  if (!files[0]) return 0;
  int nodata = !(any[0] | any[1] | any[2]);
  static const char *plots[] = {"ovl_resident", "ovl_rutil"};
  for (int p = 0; p < 2; p++) {
    int rc = render_overlay(dir, plots[p], files, names, title, tmax, nodata, -1, formats, err);
    if (rc) return rc;
  }
  *drawn = 1;
  return 0;
}

/* Whether a run meshed, or could have: its summary's meshes or peak
 * potential above 0. */
static int meshing_shows(const json_t *run) {
  return ha_num(ha_path_get(run, "summary.meshes")) > 0 ||
         ha_num(ha_path_get(run, "summary.mesh_potential.peak_bytes")) > 0;
}

/* The mapping and meshing overlays (ovl_mappings, ovl_mesh) from the runs
 * whose samples count mappings (hakmem's), one ovm_LABEL.dat each; ovl_mesh
 * draws only those that meshed or could have, or all with a note when
 * none did. *drawn: whether any run had the counts. */
static int write_mapping_overlays(const ha_variant *v, size_t n, const char *dir, int formats,
                                  double tmax, const char *title, int *drawn, ha_err *err) {
  char files[4096] = "", names[8192] = "", mfiles[4096] = "", mnames[8192] = "";
  int any = 0;
  double limit = 0;
  *drawn = 0;
  for (size_t i = 0; i < n; i++) {
    const json_t *samples = json_object_get(v[i].run, "samples");
    if (!json_object_get(json_array_get(samples, 0), "mappings")) continue;
    char name[128];
    snprintf(name, sizeof name, "ovm_%s.dat", v[i].label);
    ha_out o;
    int rc = ha_out_open(&o, dir, name, err);
    if (rc) return rc;
    fputs("# t mappings ss_mappings mesh_released_bytes mesh_potential_bytes  (mappings 0 written "
          "NaN: log axis; potential NaN where not computed)\n", o.f);
    size_t k;
    const json_t *s;
    json_array_foreach(samples, k, s) {
      long long maps = ha_int(json_object_get(s, "mappings"));
      any |= maps > 0;
      fprintf(o.f, "%lld", ha_int(json_object_get(s, "t")));
      if (maps > 0) fprintf(o.f, " %lld", maps);
      else fputs(" NaN", o.f);
      fprintf(o.f, " %lld %lld", ha_int(json_object_get(s, "ss_mappings")),
              ha_int(json_object_get(s, "mesh_released_bytes")));
      const json_t *p = json_object_get(s, "mesh_potential_bytes");
      if (p) fprintf(o.f, " %lld\n", ha_int(p));
      else fputs(" NaN\n", o.f);
    }
    if ((rc = ha_out_commit(&o, err))) return rc;
    double l = ha_num(ha_path_get(v[i].run, "config.ss_map_limit"));
    if (l > limit) limit = l;
    char shown[HA_VARIANT_MAX + 8];
    legend_name(&v[i], shown, sizeof shown);
    add_word(files, sizeof files, name);
    add_word(names, sizeof names, shown);
    if (!meshing_shows(v[i].run)) continue;
    add_word(mfiles, sizeof mfiles, name);
    add_word(mnames, sizeof mnames, shown);
  }
  if (!files[0]) return 0;
  int rc = render_overlay(dir, "ovl_mappings", files, names, title, tmax, !any, limit, formats, err);
  if (rc) return rc;
  /* No run meshed or could have: every run drawn, with the script's note. */
  bool none = !mfiles[0];
  rc = render_overlay(dir, "ovl_mesh", none ? files : mfiles, none ? names : mnames, title, tmax,
                      none, -1, formats, err);
  if (rc) return rc;
  *drawn = 1;
  return 0;
}

static int write_overlays(const ha_variant *v, size_t n, const char *dir, int formats,
                          int *resident, int *mapping, ha_err *err) {
  char files[4096] = "", names[8192] = "", title[512];
  int any[3] = {0, 0, 0};
  double tmax = 1;
  for (size_t i = 0; i < n; i++) {
    char name[128];
    snprintf(name, sizeof name, "ovl_%s.dat", v[i].label);
    ha_out o;
    int rc = ha_out_open(&o, dir, name, err);
    if (rc) return rc;
    fputs("# t ss_mapped_bytes(H) live_superslabs utilization(R/H)  (0 written NaN: log axes)\n", o.f);
    size_t k;
    const json_t *s;
    static const char *const cols[] = {"ss_mapped_bytes", "ss.live", "utilization"};
    json_array_foreach(json_object_get(v[i].run, "samples"), k, s) put_columns(o.f, s, cols, 3, any);
    if ((rc = ha_out_commit(&o, err))) return rc;
    double t = ha_num(ha_path_get(v[i].run, "summary.events"));
    if (t > tmax) tmax = t;
    char shown[HA_VARIANT_MAX + 8];
    legend_name(&v[i], shown, sizeof shown);
    add_word(files, sizeof files, name);
    add_word(names, sizeof names, shown);
  }
  trace_line(v, n, title, sizeof title);
  static const char *plots[] = {"ovl_mapped", "ovl_live", "ovl_util"};
  for (int p = 0; p < 3; p++) {
    int rc = render_overlay(dir, plots[p], files, names, title, tmax, !any[p], -1, formats, err);
    if (rc) return rc;
  }
  int rc = write_resident_overlays(v, n, dir, formats, tmax, title, resident, err);
  return rc ? rc : write_mapping_overlays(v, n, dir, formats, tmax, title, mapping, err);
}

static int write_index(const ha_variant *v, size_t n, const char *dir, int formats, int variant_plots,
                       int resident, int mapping, ha_err *err) {
  ha_out o;
  int rc = ha_out_open(&o, dir, "index.html", err);
  if (rc) return rc;
  char line[512], c[256];
  trace_line(v, n, line, sizeof line);
  ha_html_head(o.f, "hakreplay compare");
  fputs("<p>", o.f);
  ha_html_escape(o.f, line);
  fputs("; in parentheses, the ratio to the first variant. Also: <a href=\"compare.md\">compare.md</a>, "
        "<a href=\"compare.json\">compare.json</a>.</p>\n<table>\n<tr><th>metric</th>", o.f);
  for (size_t i = 0; i < n; i++) {
    fputs("<th>", o.f);
    if (variant_plots) fprintf(o.f, "<a href=\"%s/index.html\">", v[i].label);
    ha_html_escape(o.f, v[i].name);
    if (variant_plots) fputs("</a>", o.f);
    fprintf(o.f, "%s</th>", v[i].replay_exit == 3 ? " (OOM)" : "");
  }
  fputs("</tr>\n", o.f);
  for (size_t k = 0; k < ha_ncompare_metrics; k++) {
    fputs("<tr><td>", o.f);
    ha_html_escape(o.f, ha_compare_metrics[k].label);
    fputs("</td>", o.f);
    for (size_t i = 0; i < n; i++) {
      cell(c, sizeof c, v, i, &ha_compare_metrics[k]);
      fputs("<td>", o.f);
      ha_html_escape(o.f, c);
      fputs("</td>", o.f);
    }
    fputs("</tr>\n", o.f);
  }
  fputs("</table>\n", o.f);
  static const char *measured[][2] = {
      {"ovl_rutil", "Utilization over time: live requested bytes / resident bytes (measured), one "
                    "line per variant and allocator."},
      {"ovl_resident", "Resident bytes (measured, the replayer's own memory left out) over time, "
                       "one line per variant and allocator."}};
  for (int p = 0; resident && p < 2; p++)
    fprintf(o.f, "<figure><img src=\"%s.%s\" alt=\"%s\"><figcaption>%s</figcaption></figure>\n",
            measured[p][0], ha_image_ext(formats), measured[p][0], measured[p][1]);
  static const char *maps[][2] = {
      {"ovl_mappings", "Kernel mappings over time by the allocator's own count (SuperSlabs, the "
                       "splits meshes make, large objects, metadata), one line per variant; "
                       "dotted: ss_map_limit."},
      {"ovl_mesh", "Meshing: bytes released so far (lines) and what one pass could release at "
                   "the sampled points (points), per variant that meshed or could have."}};
  for (int p = 0; mapping && p < 2; p++)
    fprintf(o.f, "<figure><img src=\"%s.%s\" alt=\"%s\"><figcaption>%s</figcaption></figure>\n",
            maps[p][0], ha_image_ext(formats), maps[p][0], maps[p][1]);
  static const char *plots[][2] = {
      {"ovl_mapped", "SuperSlab mapped bytes (H) over time, one line per variant."},
      {"ovl_live", "Live SuperSlabs over time, one line per variant."},
      {"ovl_util", "Utilization R/H over time, one line per variant."}};
  for (int p = 0; p < 3; p++)
    fprintf(o.f, "<figure><img src=\"%s.%s\" alt=\"%s\"><figcaption>%s</figcaption></figure>\n",
            plots[p][0], ha_image_ext(formats), plots[p][0], plots[p][1]);
  if (variant_plots) {
    fputs("<p>Each variant's own plots:", o.f);
    for (size_t i = 0; i < n; i++) {
      fprintf(o.f, " <a href=\"%s/index.html\">", v[i].label);
      ha_html_escape(o.f, v[i].name);
      fputs("</a>", o.f);
    }
    fputs("</p>\n", o.f);
  }
  fputs("</body>\n</html>\n", o.f);
  return ha_out_commit(&o, err);
}

int ha_compare_write(ha_variant *v, size_t n, const char *dir, int formats, int variant_plots,
                     char **md, ha_err *err) {
  *md = NULL;
  int rc;
  if ((rc = write_json(v, n, dir, err))) return rc;
  char *text = markdown(v, n);
  if (!text) return ha_fail(err, HA_ERR_INTERNAL, "out of memory");
  int resident = 0, mapping = 0;
  if ((rc = ha_write_text(dir, "compare.md", text, err)) ||
      (rc = write_overlays(v, n, dir, formats, &resident, &mapping, err))) {
    free(text);
    return rc;
  }
  if ((rc = write_index(v, n, dir, formats, variant_plots, resident, mapping, err))) {
    free(text);
    return rc;
  }
  *md = text;
  return 0;
}
