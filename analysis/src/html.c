/* html.c: the pieces of index.html (head, escaping, a run's summary
 * table) and the list of summary metrics that summary tables and the
 * comparison show, in the order they show them. */
#include <math.h>
#include <string.h>

#include "internal.h"

const ha_metric ha_compare_metrics[] = {
    {"events", "events replayed", 0},
    {"oom", "out of memory", 0},
    {"peak_resident_bytes", "peak resident (measured)", 1},
    {"peak_mapped_bytes", "peak mapped (measured)", 1},
    {"peak_live_all_bytes", "peak live, every block", 1},
    {"resident_utilization_end", "utilization live/resident, end", 0},
    {"resident_fragmentation.jw1", "JW1 mean resident / mean live", 0},
    {"resident_fragmentation.jw4", "JW4 max resident / max live", 0},
    {"ss_allocated", "SuperSlabs mapped (total)", 0},
    {"ss_freed", "SuperSlabs unmapped (total)", 0},
    {"ss_peak", "SuperSlabs live, peak", 0},
    {"ss_live_end", "SuperSlabs live, end", 0},
    {"peak_ss_mapped_bytes", "peak mapped H", 1},
    {"peak_live_req_bytes", "peak live requested R", 1},
    {"peak_touched_bytes", "peak touched", 1},
    {"peak_mappings", "mappings, peak (allocator's count)", 0},
    {"peak_ss_mappings", "SuperSlab mappings, peak (vs ss_map_limit)", 0},
    {"meshes", "slabs meshed", 0},
    {"mesh_released_bytes", "released by meshing", 1},
    {"mesh_potential.peak_bytes", "meshing potential, peak", 1},
    {"mesh_potential.mean_bytes", "meshing potential, mean", 1},
    {"utilization_end", "utilization R/H, end", 0},
    {"fragmentation.jw1", "JW1 mean H / mean R", 0},
    {"fragmentation.jw2", "JW2 H/R at peak R", 0},
    {"fragmentation.jw3", "JW3 H/R at peak H", 0},
    {"fragmentation.jw4", "JW4 max H / max R", 0},
    {"accounting_drift_end", "accounting drift, end (blocks)", 0},
    {"logically_nonempty_but_empty_end", "counter > 0 but empty, end", 0},
    {"logically_nonempty_but_empty_peak", "counter > 0 but empty, peak", 0},
    {"trims", "trim passes", 0},
    {"trimmed_bytes", "trimmed", 1},
    {"adoptions", "adoptions", 0},
    {"ss_reused", "SuperSlabs reused", 0},
    {"remote_ratio", "remote free ratio", 0},
    {"threads_started", "threads started", 0},
    {"live_blocks_end", "live blocks, end", 0},
};
const size_t ha_ncompare_metrics = sizeof ha_compare_metrics / sizeof *ha_compare_metrics;

void ha_metric_text(char *buf, size_t n, const json_t *summary, const ha_metric *m) {
  const json_t *v = ha_path_get(summary, m->path);
  if (!v) {
    snprintf(buf, n, "-"); /* not this kind of run's (an allocator has no SuperSlabs) */
  } else if (!strcmp(m->path, "oom")) {
    if (!v || json_is_false(v)) snprintf(buf, n, "no");
    else if (!json_object_get(v, "ss_live")) snprintf(buf, n, "OOM at t=%lld", ha_int(json_object_get(v, "t")));
    else snprintf(buf, n, "OOM at t=%lld (%lld SuperSlabs)",
                  ha_int(json_object_get(v, "t")), ha_int(json_object_get(v, "ss_live")));
  } else if (m->bytes && (json_is_integer(v) || json_is_real(v))) {
    ha_fmt_bytes(buf, n, ha_num(v));
  } else if (json_is_real(v)) {
    double d = json_real_value(v);
    snprintf(buf, n, fabs(d) >= 1e6 || (d != 0 && fabs(d) < 1e-3) ? "%.3e" : "%.4g", d);
  } else {
    ha_fmt_value(buf, n, v);
  }
}

void ha_html_escape(FILE *f, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc(*s, f);
    }
  }
}

void ha_html_head(FILE *f, const char *title) {
  fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", f);
  ha_html_escape(f, title);
  fputs("</title>\n<style>\n"
        "body { font-family: sans-serif; max-width: 1000px; margin: 1em auto; }\n"
        "table { border-collapse: collapse; margin: 1em 0; }\n"
        "td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }\n"
        "td:first-child, th:first-child { text-align: left; }\n"
        "img { max-width: 100%; border: 1px solid #eee; }\n"
        "figure { margin: 1.5em 0; }\n"
        "</style>\n</head>\n<body>\n<h1>", f);
  ha_html_escape(f, title);
  fputs("</h1>\n", f);
}

void ha_html_summary(FILE *f, const json_t *run) {
  const json_t *summary = json_object_get(run, "summary");
  char buf[256];
  fputs("<table>\n<tr><th>summary metric</th><th>value</th><th>run.json path</th></tr>\n", f);
  for (size_t i = 0; i < ha_ncompare_metrics; i++) {
    const ha_metric *m = &ha_compare_metrics[i];
    ha_metric_text(buf, sizeof buf, summary, m);
    fputs("<tr><td>", f);
    ha_html_escape(f, m->label);
    fputs("</td><td>", f);
    ha_html_escape(f, buf);
    fprintf(f, "</td><td>summary.%s</td></tr>\n", m->path);
  }
  fputs("</table>\n<table>\n<tr><th>option</th><th>value</th></tr>\n", f);
  const json_t *config = json_object_get(run, "config");
  const char *k;
  const json_t *v;
  json_object_foreach((json_t *)config, k, v) {
    if (json_is_object(v)) continue;
    ha_fmt_value(buf, sizeof buf, v);
    fputs("<tr><td>", f);
    ha_html_escape(f, k);
    fputs("</td><td>", f);
    ha_html_escape(f, buf);
    fputs("</td></tr>\n", f);
  }
  fputs("</table>\n", f);
}
