/* plot.c: `hakreplay plot run.json [-o DIR] [--format png|svg|both]
 * [--ss-detail FILE.jsonl]`: the data files, the gnuplot scripts, the
 * images and an index.html showing them with the run's summary, all in DIR.
 * Every plot's title names the trace and the variant; x is the event index. */
#include <string.h>

#include <stdbool.h>

#include "internal.h"

/* The plots of one run, in the order index.html shows them. */
typedef struct plot_def {
  const char *name; /* script name.gp, data name.dat, image name.png */
  const char *caption;
} plot_def;

static const plot_def plots[] = {
    {"ladder", "Utilization R/H (right axis) and the byte ladder: live requested (R) <= live "
               "block <= slab active <= mapped (H); touched is the simulated heap RSS. The gap "
               "between R and H is the fragmentation."},
    {"resident", "Measured: the allocator's resident and mapped bytes (the replayer's own memory "
                 "left out), the live bytes the trace asked for, and their ratio (right axis). "
                 "The same method for every allocator."},
    {"mappings", "Kernel mappings the allocator holds, by its own count: all of them, the "
                 "SuperSlabs' (each SuperSlab one, plus the splits meshes make), the SuperSlabs; "
                 "dashed: what ss_map_limit counts (SuperSlab mappings and the started threads'), "
                 "dotted: the limit."},
    {"mesh", "Meshing: bytes the mesh passes released so far (compaction=mesh), and what one "
             "pass could release at the sampled points (the potential, any configuration); "
             "touched bytes for scale; slabs meshed so far on the right axis."},
    {"superslabs", "SuperSlab census: live, empty (no live block), orphaned (owner exited), and "
                   "those whose active counter is > 0 while nothing in them is live (the seed's "
                   "bug); dashed: SuperSlabs mapped and unmapped so far."},
    {"occupancy", "How full the live SuperSlabs are: for each sample interval, how many sit in "
                  "each occupancy bucket (live blocks / capacity)."},
    {"ssdetail", "Every SuperSlab (rows, in mapping order) over time, coloured by its true "
                 "occupancy; black dots: counter > 0 but empty."},
    {"remote", "Share of frees made by another thread than the owner (per interval and "
               "cumulative), and remote blocks pushed but not yet drained (right axis)."},
    {"trim", "Each trim pass: SuperSlabs unmapped, and skipped because not empty, cached by a "
             "thread, or kept as the empty reserve."},
    {"drift", "Sum over SuperSlabs of the active counter minus the live blocks: what the "
              "allocator believes is live but is not."},
};
#define NPLOTS (sizeof plots / sizeof *plots)

void ha_plot_title(const json_t *run, char *buf, size_t n) {
  char trace[320], variant[HA_VARIANT_MAX];
  ha_run_names(run, trace, sizeof trace, variant, sizeof variant);
  snprintf(buf, n, "trace %s - variant %s", trace, variant);
}

const char *ha_image_ext(int formats) { return formats & HA_FMT_PNG ? "png" : "svg"; }

int ha_render(const char *dir, const char *script, const char *vars, const char *out,
              int formats, ha_err *err) {
  char img[256];
  int rc;
  if (formats & HA_FMT_PNG) {
    const char *term = ha_png_terminal();
    if (!term) return ha_fail(err, HA_ERR_INTERNAL, "gnuplot not found, or it has no png terminal (install gnuplot-nox)");
    snprintf(img, sizeof img, "%s.png", out);
    if ((rc = ha_gnuplot(dir, script, vars, term, img, err))) return rc;
  }
  if (formats & HA_FMT_SVG) {
    snprintf(img, sizeof img, "%s.svg", out);
    if ((rc = ha_gnuplot(dir, script, vars, "svg", img, err))) return rc;
  }
  return 0;
}

/* A libhakmem.so sample file (util.c) has no ground truth, no occupancy
 * and no events: only the plots of what a real process can measure. */
static bool plot_applies(const json_t *run, const ha_plotinfo *info, const char *name) {
  if (!strcmp(name, "resident")) return info->has_resident;
  if (!strcmp(name, "mappings") || !strcmp(name, "mesh")) return info->has_mappings;
  /* Another allocator: only what is measured outside it. */
  if (ha_run_is_external(run)) return false;
  const char *enc = json_string_value(ha_path_get(run, "trace.encoding"));
  if (!enc || strcmp(enc, "libhakmem-samples")) return true;
  return !strcmp(name, "ladder") || !strcmp(name, "superslabs") || !strcmp(name, "remote");
}

static int write_index(const json_t *run, const char *run_path, const char *dir, int formats,
                       const ha_plotinfo *info, ha_err *err) {
  ha_out o;
  int rc = ha_out_open(&o, dir, "index.html", err);
  if (rc) return rc;
  char title[512];
  ha_plot_title(run, title, sizeof title);
  ha_html_head(o.f, title);
  fputs("<p>run: ", o.f);
  ha_html_escape(o.f, run_path ? run_path : "(not saved)");
  fprintf(o.f, " &middot; trace hash %s &middot; %lld events",
          json_string_value(ha_path_get(run, "trace.hash")) ? json_string_value(ha_path_get(run, "trace.hash")) : "?",
          ha_int(ha_path_get(run, "summary.events")));
  if (info->events_dropped)
    fprintf(o.f, " &middot; <b>%ld events beyond --max-events not recorded</b>", info->events_dropped);
  fputs("</p>\n", o.f);
  ha_html_summary(o.f, run);
  for (size_t i = 0; i < NPLOTS; i++) {
    if (!strcmp(plots[i].name, "ssdetail") && !info->has_ssdetail) continue;
    if (!plot_applies(run, info, plots[i].name)) continue;
    fprintf(o.f, "<figure><img src=\"%s.%s\" alt=\"%s\"><figcaption>", plots[i].name,
            ha_image_ext(formats), plots[i].name);
    ha_html_escape(o.f, plots[i].caption);
    fputs("</figcaption></figure>\n", o.f);
  }
  fputs("<p>Data files (*.dat) and gnuplot scripts (*.gp) are in this directory: "
        "<code>gnuplot ladder.gp</code> redraws one. How to read each plot: docs/analysis.md.</p>\n"
        "</body>\n</html>\n", o.f);
  return ha_out_commit(&o, err);
}

int ha_plot_run(const json_t *run, const char *run_path, const char *ss_detail, const char *dir,
                int formats, ha_err *err) {
  /* Every input is checked before the directory is made: a bad
   * --ss-detail left an empty (or half-filled) folder behind. */
  ha_ssscan scan;
  int rc = ss_detail ? ha_ssdetail_scan(ss_detail, &scan, err) : 0;
  if (rc || (rc = ha_mkdirs(dir, err))) return rc;
  ha_plotinfo info;
  if ((rc = ha_data_write(run, dir, &info, err))) return rc;
  if (ss_detail && (rc = ha_ssdetail_write(ss_detail, &scan, dir, &info, err))) return rc;

  char title[512];
  ha_plot_title(run, title, sizeof title);
  for (size_t i = 0; i < NPLOTS; i++) {
    const char *name = plots[i].name;
    if (!strcmp(name, "ssdetail") && !info.has_ssdetail) continue;
    if (!plot_applies(run, &info, name)) continue;
    char vars[2048] = "", script[64], data[64];
    snprintf(script, sizeof script, "%s.gp", name);
    /* mesh.gp draws columns of mappings.dat. */
    snprintf(data, sizeof data, "%s.dat", strcmp(name, "mesh") ? name : "mappings");
    ha_var_str(vars, sizeof vars, "datafile", data);
    ha_var_str(vars, sizeof vars, "title", title);
    ha_var_num(vars, sizeof vars, "tmax", info.tmax);
    ha_var_num(vars, sizeof vars, "opms", info.opms);
    if (!strcmp(name, "ladder")) {
      ha_var_num(vars, sizeof vars, "nodata", info.ladder_nodata);
      ha_var_num(vars, sizeof vars, "noutil", info.ladder_noutil);
    }
    if (!strcmp(name, "resident")) ha_var_num(vars, sizeof vars, "nodata", info.resident_nodata);
    if (!strcmp(name, "mappings")) ha_var_num(vars, sizeof vars, "limit", info.map_limit);
    if (!strcmp(name, "trim")) {
      ha_var_num(vars, sizeof vars, "ntrims", info.ntrims);
      ha_var_num(vars, sizeof vars, "boxw", info.trim_boxw);
    }
    if (!strcmp(name, "ssdetail")) {
      ha_var_num(vars, sizeof vars, "nss", info.nss);
      ha_var_num(vars, sizeof vars, "perrow", info.ss_per_row);
    }
    if (!strcmp(name, "superslabs") && info.events_dropped)
      ha_var_str(vars, sizeof vars, "note", " (events truncated by --max-events: totals so far are low)");
    if ((rc = ha_render(dir, script, vars, name, formats, err))) return rc;
  }
  return write_index(run, run_path, dir, formats, &info, err);
}

static const char plot_usage[] =
    "usage: hakreplay plot RUN.json [-o DIR] [--format png|svg|both] [--ss-detail FILE.jsonl]\n"
    "Draws the plots of one run (gnuplot) into DIR (default: plots) with an index.html\n"
    "showing them and the run's summary.  docs/analysis.md explains each plot.\n"
    "Exit: 0 done, 2 bad input or usage, 4 internal error (e.g. gnuplot failed).\n";

int ha_parse_format(const char *v, int *formats) {
  if (!strcmp(v, "png")) *formats = HA_FMT_PNG;
  else if (!strcmp(v, "svg")) *formats = HA_FMT_SVG;
  else if (!strcmp(v, "both")) *formats = HA_FMT_PNG | HA_FMT_SVG;
  else return -1;
  return 0;
}

int ha_plot_main(int argc, char **argv) {
  const char *run_path = NULL, *dir = "plots", *detail = NULL;
  int formats = HA_FMT_PNG;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(plot_usage, stdout);
      return HA_EXIT_OK;
    }
    if (a[0] != '-') {
      if (run_path) {
        fprintf(stderr, "hakreplay plot: more than one run given: %s\n", a);
        return HA_EXIT_USAGE;
      }
      run_path = a;
      continue;
    }
    if (strcmp(a, "-o") && strcmp(a, "--output") && strcmp(a, "--ss-detail") && strcmp(a, "--format")) {
      fprintf(stderr, "hakreplay plot: unknown option %s (try --help)\n", a);
      return HA_EXIT_USAGE;
    }
    if (!v) {
      fprintf(stderr, "hakreplay plot: missing value for %s\n", a);
      return HA_EXIT_USAGE;
    }
    i++;
    if (!strcmp(a, "-o") || !strcmp(a, "--output")) dir = v;
    else if (!strcmp(a, "--ss-detail")) detail = v;
    else if (ha_parse_format(v, &formats)) {
      fprintf(stderr, "hakreplay plot: --format: expected png, svg or both, got '%s'\n", v);
      return HA_EXIT_USAGE;
    }
  }
  if (!run_path) {
    fprintf(stderr, "hakreplay plot: no run.json given (try --help)\n");
    return HA_EXIT_USAGE;
  }
  ha_err err;
  json_t *run;
  int rc = ha_run_load(run_path, &run, &err);
  if (!rc) {
    rc = ha_plot_run(run, run_path, detail, dir, formats, &err);
    json_decref(run);
  }
  if (rc) {
    fprintf(stderr, "hakreplay plot: %s\n", err.msg);
    return -rc;
  }
  printf("%s/index.html\n", dir);
  return HA_EXIT_OK;
}
