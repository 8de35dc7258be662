/* check_main.c: `hakreplay check RUN.json --baseline FILE` (print every
 * bound with the run's value and a verdict; exit 0 all hold, 1 one does
 * not, 2 bad input) and `hakreplay check --record RUN.json -o FILE
 * [--tolerance X]` (write a baseline from a run). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char check_usage[] =
    "usage: hakreplay check RUN.json --baseline FILE\n"
    "       hakreplay check --record RUN.json -o FILE [--tolerance X]\n"
    "Checks a run against a baseline (metric paths with max, min, equals, max_ratio,\n"
    "min_ratio bounds; docs/analysis.md), printing each metric's value, bound and verdict;\n"
    "or records a baseline from a run: every gate metric at most (1+X) / at least (1-X)\n"
    "times its value in this run (X default 0.1).\n"
    "Exit: 0 every bound holds, 1 a regression, 2 bad input or usage, 4 internal error.\n";

static int usage_error(const char *msg, const char *arg) {
  return ha_usage_error("check", msg, arg);
}

static int record(const char *run_path, const char *out, double tol) {
  ha_err err;
  json_t *run = NULL, *b = NULL;
  ha_out o;
  int rc = ha_run_load(run_path, &run, &err);
  if (!rc) rc = ha_check_record(run, run_path, tol, &b, &err);
  if (!rc && !(rc = ha_out_open(&o, NULL, out, &err))) {
    if (json_dumpf(b, o.f, JSON_INDENT(2) | JSON_REAL_PRECISION(12)) != 0 || fputc('\n', o.f) == EOF) {
      ha_out_abort(&o);
      rc = ha_fail(&err, HA_ERR_INTERNAL, "%s: write failed", out);
    } else {
      rc = ha_out_commit(&o, &err);
    }
  }
  json_decref(run);
  json_decref(b);
  if (rc) {
    fprintf(stderr, "hakreplay check: %s\n", err.msg);
    return -rc;
  }
  printf("%s: baseline recorded from %s (tolerance %g)\n", out, run_path, tol);
  return HA_EXIT_OK;
}

static int check(const char *run_path, const char *base_path) {
  ha_err err;
  json_t *run = NULL, *base = NULL;
  ha_check_item *items = NULL;
  size_t n = 0;
  int rc = ha_run_load(run_path, &run, &err);
  if (!rc) rc = ha_json_load(base_path, &base, &err);
  if (!rc) rc = ha_check(run, base, base_path, &items, &n, &err);
  json_decref(run);
  json_decref(base);
  if (rc < 0) {
    fprintf(stderr, "hakreplay check: %s\n", err.msg);
    return -rc;
  }
  int wp = 6, wv = 5, wb = 5, bad = 0;
  for (size_t i = 0; i < n; i++) {
    if ((int)strlen(items[i].path) > wp) wp = (int)strlen(items[i].path);
    if ((int)strlen(items[i].value) > wv) wv = (int)strlen(items[i].value);
    if ((int)strlen(items[i].bound) > wb) wb = (int)strlen(items[i].bound);
  }
  printf("%-*s  %*s  %-*s  %s\n", wp, "metric", wv, "value", wb, "bound", "verdict");
  for (size_t i = 0; i < n; i++) {
    printf("%-*s  %*s  %-*s  %s\n", wp, items[i].path, wv, items[i].value, wb, items[i].bound,
           items[i].ok ? "ok" : "REGRESSION");
    bad += !items[i].ok;
  }
  if (bad) printf("check: REGRESSION: %d of %zu bounds do not hold (%s against %s)\n", bad, n, run_path, base_path);
  else printf("check: pass: %zu bounds hold (%s against %s)\n", n, run_path, base_path);
  free(items);
  return bad ? HA_EXIT_NO : HA_EXIT_OK;
}

int ha_check_main(int argc, char **argv) {
  const char *run_path = NULL, *base = NULL, *out = NULL, *tol_text = NULL;
  int rec = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(check_usage, stdout);
      return HA_EXIT_OK;
    }
    if (!strcmp(a, "--record")) {
      rec = 1;
      continue;
    }
    if (a[0] != '-') {
      if (run_path) return usage_error("more than one run given", a);
      run_path = a;
      continue;
    }
    if (strcmp(a, "--baseline") && strcmp(a, "-o") && strcmp(a, "--output") && strcmp(a, "--tolerance"))
      return usage_error("unknown option", a);
    if (!v) return usage_error("missing value for", a);
    i++;
    if (!strcmp(a, "--baseline")) base = v;
    else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = v;
    else tol_text = v;
  }
  if (!run_path) return usage_error("no run.json given", NULL);
  if (rec) {
    if (!out) return usage_error("--record needs -o FILE", NULL);
    if (base) return usage_error("--record does not take --baseline", NULL);
    double tol = 0.1;
    if (tol_text) {
      char *end;
      errno = 0;
      tol = strtod(tol_text, &end);
      if (errno || end == tol_text || *end || !(tol >= 0 && tol <= 10))
        return usage_error("--tolerance: expected a number in [0, 10]", tol_text);
    }
    return record(run_path, out, tol);
  }
  if (!base) return usage_error("no --baseline FILE given", NULL);
  if (out || tol_text) return usage_error("-o and --tolerance go with --record", NULL);
  return check(run_path, base);
}
