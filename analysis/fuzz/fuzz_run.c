/* fuzz_run.c: libFuzzer target for what reads run.json and its companions
 * in plot, compare and check.  The first input byte picks the reader, the
 * rest is the file:
 *   0  a run.json: parsed, checked (ha_run_accept); when accepted, every
 *      reader runs on it: the plot data files, the summary table and HTML
 *      compare shows, a baseline recorded from it and checked against it,
 *      and the committed gate baselines checked against it
 *   1  a libhakmem.so sample file (.jsonl), wrapped as a run, then plotted
 *   2  a baseline, checked against a valid run (a golden run)
 *   3  an --ss-detail file, turned into the heat map's data
 * Any input must end in success or one line of error text naming the file
 * (checked with abort()); sanitizers catch the rest.  Build and run:
 * analysis/fuzz/run.sh (not part of the meson build). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char dir[64];
static json_t *good_run;      /* FUZZ_RUN: a valid run for the baseline and ss-detail modes */
static json_t *baselines[3];  /* FUZZ_BASELINES: the gate's baselines */

static json_t *load(const char *path) {
  json_error_t e;
  json_t *j = path ? json_load_file(path, 0, &e) : NULL;
  if (path && !j) {
    fprintf(stderr, "fuzz_run: %s: %s\n", path, e.text);
    exit(2);
  }
  return j;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  snprintf(dir, sizeof dir, "/dev/shm/fuzz-run-XXXXXX");
  if (!mkdtemp(dir)) {
    snprintf(dir, sizeof dir, "/tmp/fuzz-run-XXXXXX");
    if (!mkdtemp(dir)) abort();
  }
  good_run = load(getenv("FUZZ_RUN"));
  char *list = getenv("FUZZ_BASELINES") ? strdup(getenv("FUZZ_BASELINES")) : NULL;
  int n = 0;
  for (char *s = NULL, *p = list ? strtok_r(list, ":", &s) : NULL; p && n < 3; p = strtok_r(NULL, ":", &s))
    baselines[n++] = load(p);
  free(list);
  return 0;
}

/* One line naming the file, as every command prints it. */
static void expect_message(const ha_err *err, const char *name) {
  if (!err->msg[0] || strchr(err->msg, '\n') || !strstr(err->msg, name)) abort();
  for (const char *c = err->msg; *c; c++)
    if ((unsigned char)*c < 0x20) abort();
}

static void readers(const json_t *run) {
  ha_err err;
  ha_plotinfo info;
  if (ha_data_write(run, dir, &info, &err) != 0) abort(); /* an accepted run is plotted */
  FILE *devnull = fopen("/dev/null", "w");
  ha_html_summary(devnull, run);
  char buf[256], t[320], v[HA_VARIANT_MAX];
  for (size_t i = 0; i < ha_ncompare_metrics; i++)
    ha_metric_text(buf, sizeof buf, json_object_get(run, "summary"), &ha_compare_metrics[i]);
  ha_run_names(run, t, sizeof t, v, sizeof v);
  ha_plot_title(run, buf, sizeof buf);
  fclose(devnull);
  json_t *b = NULL;
  ha_check_item *items = NULL;
  size_t n = 0;
  if (ha_check_record(run, "fuzz.json", 0.1, &b, &err) == 0) {
    if (ha_check(run, b, "recorded.json", &items, &n, &err) != 0) abort(); /* its own bounds hold */
    free(items);
    json_decref(b);
  }
  for (int i = 0; i < 3 && baselines[i]; i++) {
    int rc = ha_check(run, baselines[i], "gate.json", &items, &n, &err);
    if (rc < 0) expect_message(&err, "gate.json");
    free(items);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int mode = data[0] % 4;
  const char *text = (const char *)data + 1;
  size_t len = size - 1;
  ha_err err;
  if (mode == 0) {
    json_error_t je;
    json_t *run = json_loadb(text, len, 0, &je);
    if (!run) return 0;
    if (ha_run_accept(run, "fuzz.json", &err) == 0) readers(run);
    else expect_message(&err, "fuzz.json");
    json_decref(run);
    return 0;
  }
  char path[128];
  snprintf(path, sizeof path, "%s/in.%s", dir, mode == 1 ? "jsonl" : "json");
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0) abort();
  if (mode == 1) {
    json_t *run;
    if (ha_run_load(path, &run, &err) == 0) {
      ha_plotinfo info;
      if (ha_data_write(run, dir, &info, &err) != 0) abort();
      json_decref(run);
    } else {
      expect_message(&err, path);
    }
  } else if (mode == 2 && good_run) {
    json_t *b;
    if (ha_json_load(path, &b, &err) == 0) {
      ha_check_item *items = NULL;
      size_t n = 0;
      if (ha_check(good_run, b, path, &items, &n, &err) < 0) expect_message(&err, path);
      free(items);
      json_decref(b);
    } else {
      expect_message(&err, path);
    }
  } else if (mode == 3 && good_run) {
    ha_ssscan scan;
    ha_plotinfo info;
    if (ha_ssdetail_scan(path, &scan, &err) == 0) {
      if (ha_data_write(good_run, dir, &info, &err) != 0) abort();
      if (ha_ssdetail_write(path, &scan, dir, &info, &err) != 0) abort();
    } else {
      expect_message(&err, path);
    }
  }
  return 0;
}
