/* ha.h: hakmem-sim analysis, the public interface.  Reads what hakreplay
 * wrote (run.json, --ss-detail JSONL) and nothing else: it never links the
 * allocator.  Three commands, each a main-style entry point that hakreplay
 * dispatches to (`hakreplay plot|compare|check ...`), and the library calls
 * they are made of, for tests and other tools.  docs/analysis.md. */
#ifndef HA_H
#define HA_H

#include <stddef.h>

#include <jansson.h>

/* Exit codes (docs/architecture.md); 3 (OOM) is the replayer's. */
#define HA_EXIT_OK 0
#define HA_EXIT_NO 1       /* a verdict said no: check found a regression */
#define HA_EXIT_USAGE 2    /* bad input or usage, or an output that cannot be written */
#define HA_EXIT_INTERNAL 4 /* internal error (gnuplot failed, a replay crashed, ...) */

/* Errors returned by the library calls: the negated exit code. */
#define HA_ERR_INPUT (-2)
#define HA_ERR_INTERNAL (-4)

/* One line naming the file and the problem, filled on every error. */
typedef struct ha_err {
  char msg[768];
} ha_err;

/* Command entry points: argv[0] is the subcommand name ("plot", ...).
 * presets: compare's default variants, comma-separated; hakreplay passes
 * the allocator's presets (but none), which analysis cannot know, and the
 * other allocators it replays (allocators: "glibc, jemalloc, ..."). */
int ha_plot_main(int argc, char **argv);
int ha_compare_main(int argc, char **argv, const char *presets, const char *allocators);
int ha_check_main(int argc, char **argv);
int ha_sweep_main(int argc, char **argv, const char *presets, const char *allocators);

/* Loads a run.json into *run (caller json_decref's): it must be a
 * hakreplay-run that satisfies docs/run.schema.json, else HA_ERR_INPUT
 * naming PATH and the first bad field.  A libhakmem.so sample file
 * (.jsonl) is wrapped as a run of its samples. */
int ha_run_load(const char *path, json_t **run, ha_err *err);
/* The checks of ha_run_load on a document already parsed (PATH for
 * messages): 0 or HA_ERR_INPUT. */
int ha_run_accept(const json_t *doc, const char *path, ha_err *err);

/* The value at a dotted path ("summary.ss_freed", "samples.-1.ss.live":
 * integers index arrays, negative from the end), or NULL.  Borrowed. */
json_t *ha_path_get(const json_t *root, const char *path);

/* Writes the gnuplot data files of every plot of one run into dir (which
 * must exist); ss_detail is the --ss-detail JSONL or NULL. */
int ha_plot_data(const json_t *run, const char *ss_detail, const char *dir, ha_err *err);

/* Output formats of ha_plot_render. */
#define HA_FMT_PNG 1
#define HA_FMT_SVG 2

/* Data files, gnuplot scripts, images and index.html of one run in dir
 * (created if missing).  run_path is only shown in index.html. */
int ha_plot_run(const json_t *run, const char *run_path, const char *ss_detail, const char *dir,
                int formats, ha_err *err);

/* One checked metric of a baseline. */
typedef struct ha_check_item {
  char path[128];   /* metric path in run.json */
  char value[96];   /* its value in the run, as text */
  char bound[160];  /* the bound, as text ("<= 140.8 (1.1x of 128)") */
  int ok;           /* 1 holds, 0 regression */
} ha_check_item;

/* Checks run against baseline (a parsed baseline file; path for messages).
 * Fills *items (malloc'd, *n of them, caller frees) and returns 0 when
 * every bound holds, 1 when one does not, or a negative error. */
int ha_check(const json_t *run, const json_t *baseline, const char *baseline_path,
             ha_check_item **items, size_t *n, ha_err *err);

/* A baseline recorded from run: every gate metric bounded relative to its
 * value here with the given tolerance (0.1: at most 1.1x, at least 0.9x). */
int ha_check_record(const json_t *run, const char *run_path, double tolerance, json_t **baseline,
                    ha_err *err);

#endif
