/* internal.h: what the analysis modules share.  Glossary: a "run" is a
 * parsed run.json; a "plot" is one gnuplot script (embedded at build time
 * from analysis/gp/) plus the data file the C side writes for it; "dir" is
 * the output directory, where scripts, data and images all land so that
 * `cd dir && gnuplot ladder.gp` redraws a picture by hand. */
#ifndef HA_INTERNAL_H
#define HA_INTERNAL_H

#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "ha.h"
#include "hc_out.h"

#define HA_PATH_MAX 4096

/* ---- util.c: errors, JSON access, text ---- */

/* Formats err->msg and returns code (HA_ERR_INPUT or HA_ERR_INTERNAL). */
int ha_fail(ha_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Reads and parses a JSON file; HA_ERR_INPUT naming the file and line. */
int ha_json_load(const char *path, json_t **out, ha_err *err);
/* A number (integer or real) as double; NAN for anything else. */
double ha_num(const json_t *v);
/* A number as an integer: reals truncated, anything else (and what does
 * not fit) 0.  Never a cast of NaN, whose value C leaves undefined. */
long long ha_int(const json_t *v);
/* Exact text of a scalar for tables and data files (integers in full). */
void ha_fmt_value(char *buf, size_t n, const json_t *v);
/* Bytes as "1.57 GiB" (exact below 1 KiB). */
void ha_fmt_bytes(char *buf, size_t n, double bytes);
/* The trace's short name (file name, generator) and the variant's label
 * (config.variant: the preset plus every override; config.preset in runs
 * without it; "none" when neither is set), for titles and tables. */
#define HA_VARIANT_MAX 512
void ha_run_names(const json_t *run, char *trace, size_t tn, char *variant, size_t vn);
const char *ha_basename(const char *path);
/* The run replayed glibc, jemalloc, mimalloc or tcmalloc (config.allocator):
 * no SuperSlab fields. */
bool ha_run_is_external(const json_t *run);
/* dir/name into buf; HA_ERR_INPUT when too long. */
int ha_join(char *buf, size_t n, const char *dir, const char *name, ha_err *err);
/* mkdir -p of one directory and its parents. */
int ha_mkdirs(const char *dir, ha_err *err);
/* Only [A-Za-z0-9._-]: labels that are file names and gnuplot words. */
void ha_label(char *buf, size_t n, const char *text);

/* ---- schema.c: a run checked against docs/run.schema.json ---- */

/* 0, or HA_ERR_INPUT naming FILE and the first field that breaks the
 * schema. */
int ha_run_validate(const json_t *run, const char *file, ha_err *err);

/* ---- outfile.c: every file through common/'s output module (hc_out.h) ---- */

typedef struct ha_out {
  FILE *f;
  hc_out out;             /* the target: temporary file renamed, or a stream */
  char path[HA_PATH_MAX]; /* as named, for messages */
} ha_out;

/* dir/name, or name alone when dir is NULL; HA_ERR_INPUT naming the path
 * when it cannot be written.  An open ha_out must not move in memory. */
int ha_out_open(ha_out *o, const char *dir, const char *name, ha_err *err);
/* Closes and renames into place; on any write error removes the temp file
 * and fails with HA_ERR_INPUT naming the target. */
int ha_out_commit(ha_out *o, ha_err *err);
void ha_out_abort(ha_out *o);
/* Writes a whole text file (temp + rename). */
int ha_write_text(const char *dir, const char *name, const char *text, ha_err *err);

/* ---- scripts (generated ha_scripts.c): the texts of analysis/gp/ ---- */

typedef struct ha_script {
  const char *name; /* "ladder.gp" */
  const char *text;
} ha_script;
extern const ha_script ha_scripts[];
extern const size_t ha_nscripts;
const char *ha_script_text(const char *name);

/* ---- gnuplot.c: running gnuplot ---- */

/* "pngcairo" when this gnuplot has it, else "png"; NULL if no gnuplot. */
const char *ha_png_terminal(void);
/* Writes script into dir, runs `gnuplot -e VARS script` in dir with
 * outfile set to a temporary name, renames it to out on success. */
int ha_gnuplot(const char *dir, const char *script, const char *vars, const char *term,
               const char *out, ha_err *err);
/* Appends name='text' (gnuplot single-quoted) to a vars string. */
void ha_var_str(char *vars, size_t n, const char *name, const char *text);
void ha_var_num(char *vars, size_t n, const char *name, double v);

/* ---- data.c / ssdetail.c: the data files of one run ---- */

/* What the scripts need to know beside the data (passed as -e variables). */
typedef struct ha_plotinfo {
  double tmax;        /* last event index */
  double opms;        /* ops_per_ms, for the logical-seconds axis */
  int ladder_nodata;  /* no positive value on the log axes */
  int ladder_noutil;  /* no utilization (R/H) at all: fixed right axis */
  int ntrims;         /* trim events */
  double trim_boxw;   /* bar width of a trim pass, in events */
  int nss;            /* SuperSlab rows of the per-SuperSlab heat map */
  int ss_per_row;     /* SuperSlab ids per row there */
  int has_ssdetail;
  int has_resident;   /* a sample has resident_bytes: resident.dat */
  int resident_nodata;
  int has_mappings;   /* samples have the mapping and mesh fields: mappings.dat */
  double map_limit;   /* config.ss_map_limit (0: none) */
  long events_dropped;
} ha_plotinfo;

int ha_data_write(const json_t *run, const char *dir, ha_plotinfo *info, ha_err *err);
/* The --ss-detail file read once and checked whole (before anything is
 * written), then turned into ssdetail.dat. */
typedef struct ha_ssscan {
  long nsamples, maxid;
} ha_ssscan;
int ha_ssdetail_scan(const char *jsonl, ha_ssscan *scan, ha_err *err);
int ha_ssdetail_write(const char *jsonl, const ha_ssscan *scan, const char *dir, ha_plotinfo *info,
                      ha_err *err);

/* ---- html.c ---- */

void ha_html_escape(FILE *f, const char *s);
void ha_html_head(FILE *f, const char *title);
/* The summary table of one run (rows: metric, value). */
void ha_html_summary(FILE *f, const json_t *run);

/* ---- html.c: the summary metrics tables show ---- */

/* The summary metrics compared, in table order. */
typedef struct ha_metric {
  const char *path;  /* under summary */
  const char *label;
  int bytes;         /* show as bytes */
} ha_metric;
extern const ha_metric ha_compare_metrics[];
extern const size_t ha_ncompare_metrics;
/* A metric of a run's summary as table text ("1.57 GiB", "OOM at t=...", "no"). */
void ha_metric_text(char *buf, size_t n, const json_t *summary, const ha_metric *m);

/* ---- plot.c ---- */

/* The title line every plot of a run carries: trace and variant. */
void ha_plot_title(const json_t *run, char *buf, size_t n);
/* Renders one script for each requested format: out is the image name
 * without extension.  For plot and compare alike. */
int ha_render(const char *dir, const char *script, const char *vars, const char *out,
              int formats, ha_err *err);
/* The image to show in HTML for a rendered name ("ladder.png" or .svg). */
const char *ha_image_ext(int formats);
/* "png", "svg", "both" into HA_FMT_* bits; -1 for anything else. */
int ha_parse_format(const char *v, int *formats);
/* The subcommands' usage errors: "hakreplay CMD: MSG[: ARG] (try --help)"
 * on stderr; returns HA_EXIT_USAGE. */
int ha_usage_error(const char *cmd, const char *msg, const char *arg);
/* --jobs' value, an integer in 1..1024, into *jobs; -1 for anything else. */
int ha_parse_jobs(const char *v, int *jobs);
/* Whether a is one of the n names in list (options that take a value). */
int ha_is_one_of(const char *a, const char *const *list, size_t n);

/* ---- compare.c / compare_out.c ---- */

/* One column of a comparison. */
typedef struct ha_variant {
  char name[HA_VARIANT_MAX]; /* what tables and legends call it: the run's variant label */
  char label[64];            /* a file name: its directory and data files */
  char run_path[HA_PATH_MAX];
  char dir[HA_PATH_MAX];     /* its own plots: DIR/label */
  int replay_exit;           /* 0, or 3 when the replay ran out of memory */
  int external;              /* an allocator other than hakmem (--allocator NAME) */
  json_t *run;
} ha_variant;

/* compare.c: replays run in parallel are each pinned to a CPU of their own
 * (the least busy of those allowed) when there are several jobs and CPUs. */
typedef struct ha_cpus {
  cpu_set_t allowed;
  int busy[CPU_SETSIZE];
  bool pin;
} ha_cpus;
void ha_cpus_init(ha_cpus *c, int jobs);
int ha_cpus_take(ha_cpus *c);            /* a CPU (counted busy), or -1 */
void ha_cpus_give(ha_cpus *c, int cpu);
void ha_pin_self(int cpu);               /* in a child, before exec */

/* board.c: compare's progress, one line per variant, on a terminal. */
typedef struct ha_board {
  const ha_variant *v;
  size_t n, width, cols;
  char (*line)[200];           /* what each variant's line says */
  bool drawn;
} ha_board;

int ha_board_init(ha_board *b, const ha_variant *v, size_t n);
void ha_board_free(ha_board *b);
void ha_board_set(ha_board *b, size_t i, const char *text);
void ha_board_draw(ha_board *b);
/* Prints text (lines) above the board, which is drawn again below it. */
void ha_board_print_above(ha_board *b, const char *text);

/* compare.json, compare.md, overlay plots and index.html (linking to
 * DIR/label/index.html when variant_plots).  *md gets the Markdown table
 * (malloc'd) for printing. */
int ha_compare_write(ha_variant *v, size_t n, const char *dir, int formats, int variant_plots,
                     char **md, ha_err *err);

#endif
