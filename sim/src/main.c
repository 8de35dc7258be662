/* main.c: the hakreplay command line. Turns arguments into hr_options
 * (allocator configuration: defaults, then the preset from --variant or
 * HAKMEM_PRESET, then the other HAKMEM_* variables, then --opt), and maps
 * every outcome to the documented exit codes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ha.h"
#include "internal.h"

/* printf format: %s is the preset list. */
static const char usage_text[] =
    "usage: hakreplay TRACE [options]\n"
    "       hakreplay plot RUN.json [-o DIR] [--format png|svg|both] [--ss-detail FILE.jsonl]\n"
    "       hakreplay compare TRACE [--variants A,B,...] [--opt NAME=VALUE]... [-o DIR] [--jobs N]\n"
    "       hakreplay check RUN.json --baseline FILE | check --record RUN.json -o FILE\n"
    "       hakreplay sweep TRACE... --variants A,B,... [--opt-grid NAME=V1,V2]... -o DIR\n"
    "(plot, compare, check, sweep: 'hakreplay plot --help' etc., docs/analysis.md)\n"
    "\n"
    "Replays TRACE (.json, .jsonl or .hkt) on the hakmem-sim allocator, one real thread per\n"
    "trace thread, and writes what happened as JSON (docs/run-format.md).\n"
    "\n"
    "  -o, --output FILE       run.json to write (default: run.json)\n"
    "  --allocator NAME        hakmem (default; with it named, its resident and mapped\n"
    "                          bytes are measured), glibc, jemalloc, mimalloc, tcmalloc\n"
    "                          (replayed in a child process; docs/run-format.md)\n"
    "  --variant PRESET        %s\n"
    "  --opt NAME=VALUE        an allocator option (docs/allocator.md); repeatable\n"
    "  --mode MODE             deterministic (default) or free\n"
    "  --ops-per-ms N          trace events per logical millisecond (default 8380: the\n"
    "                          seed's 4.19 M Larson operations/s, each a free and a malloc)\n"
    "  --sample-every N        events between samples (default: ~1,000 samples)\n"
    "  --no-samples            only the final sample\n"
    "  --ss-detail FILE.jsonl  per-SuperSlab occupancy at every sample\n"
    "  --thread-maps N         mappings each started thread holds against ss_map_limit\n"
    "  --max-events N          cap on recorded events (default 1000000, 0 = none)\n"
    "  --quiet                 no progress line (shown when stderr is a terminal)\n"
    "  --progress-fd N         the progress lines to file descriptor N instead (compare does)\n"
    "  --turn-stats, --no-help measurement (docs/performance.md)\n"
    "  --list-options          every allocator option, preset and default (hakmem-options)\n"
    "  -h, --help              this text\n"
    "\n"
    "Exit: 0 done, 2 bad input or usage, 3 the allocator ran out of memory (run.json\n"
    "written), 4 internal error (e.g. the allocator handed out memory twice).\n";

static int usage_error(const char *msg, const char *arg) {
  fprintf(stderr, "hakreplay: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
  fprintf(stderr, "Try 'hakreplay --help'.\n");
  return HR_EXIT_USAGE;
}

static int parse_count(const char *flag, const char *text, uint64_t min, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = text && *text >= '0' && *text <= '9' ? strtoull(text, &end, 10) : 0;
  if (!text || !*text || *text < '0' || *text > '9' || errno || *end || v < min) {
    fprintf(stderr, "hakreplay: %s: expected an integer >= %llu, got '%s'\n", flag,
            (unsigned long long)min, text ? text : "");
    return -1;
  }
  *out = v;
  return 0;
}

/* The presets but none, from the options table, joined by sep. */
static const char *preset_list(char *buf, size_t len, const char *sep) {
  buf[0] = '\0';
  for (int p = 0; p < HAK_PRESET_COUNT; p++) {
    if (p == HAK_PRESET_none) continue;
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, "%s%s", used ? sep : "", hak_preset_name((hak_preset_t)p));
  }
  return buf;
}

/* Parses the command line into *o; returns -1 to run, or an exit code. */
static int parse(int argc, char **argv, hr_options *o_out, const char **opts) {
  hr_options o;
  memset(&o, 0, sizeof o);
  o.out_path = "run.json";
  o.deterministic = true;
  /* The seed's clock: Larson's 4.19 M operations/s count free+malloc
   * pairs (its throughput is allocations per second), two trace events
   * each, so its 100 ms are 838,000 events (docs/larson-oom.md, "The
   * clock"). */
  o.ops_per_ms = 8380;
  o.max_events = 1000000;
  o.progress_fd = -1;
  hak_config_default(&o.cfg);
  const char *variant = NULL;
  int nopts = 0;
  size_t used = 0;
  for (int i = 0; i < argc && used + 2 < sizeof o.cmdline; i++)
    used += (size_t)snprintf(o.cmdline + used, sizeof o.cmdline - used, "%s%s", i ? " " : "",
                             argv[i]);

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      char presets[256];
      printf(usage_text, preset_list(presets, sizeof presets, ", "));
      return 0;
    }
    if (!strcmp(a, "--quiet")) {
      o.quiet = true;
      continue;
    }
    if (!strcmp(a, "--turn-stats") || !strcmp(a, "--no-help")) { /* docs/performance.md */
      if (a[2] == 't') o.turn_stats = true;
      else o.no_help = true;
      continue;
    }
    if (!strcmp(a, "--census-check")) { /* tests only: see docs/testing.md */
      o.census_check = true;
      continue;
    }
    if (!strcmp(a, "--no-samples")) { /* only the final one: the cost of sampling, measured */
      o.sample_every = INT64_MAX;
      continue;
    }
    if (a[0] != '-' || !strcmp(a, "-")) {
      if (o.trace_path) return usage_error("more than one trace given", a);
      o.trace_path = a;
      continue;
    }
    /* An option we do not know is that, whether or not a value follows. */
    static const char *const with_value[] = {"-o", "--output", "--variant", "--opt", "--ss-detail",
                                             "--allocator",
                                             "--mode", "--ops-per-ms", "--sample-every",
                                             "--thread-maps", "--inject-overwrite", "--progress-fd",
                                             "--max-events"};
    bool known = false;
    for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++) known |= !strcmp(a, with_value[k]);
    if (!known) return usage_error("unknown option", a);
    if (!v) return usage_error("missing value for", a);
    i++;
    uint64_t n;
    if (!strcmp(a, "-o") || !strcmp(a, "--output")) o.out_path = v;
    else if (!strcmp(a, "--variant")) variant = v;
    else if (!strcmp(a, "--allocator")) o.allocator = v;
    else if (!strcmp(a, "--opt")) opts[nopts++] = v;
    else if (!strcmp(a, "--ss-detail")) o.ss_detail_path = v;
    else if (!strcmp(a, "--mode")) {
      if (!strcmp(v, "deterministic")) o.deterministic = true;
      else if (!strcmp(v, "free")) o.deterministic = false;
      else return usage_error("--mode: expected deterministic or free, got", v);
    } else if (!strcmp(a, "--ops-per-ms")) {
      if (parse_count(a, v, 1, &o.ops_per_ms)) return HR_EXIT_USAGE;
    } else if (!strcmp(a, "--sample-every")) {
      if (parse_count(a, v, 1, &o.sample_every)) return HR_EXIT_USAGE;
    } else if (!strcmp(a, "--thread-maps")) {
      if (parse_count(a, v, 0, &o.thread_maps)) return HR_EXIT_USAGE;
    } else if (!strcmp(a, "--inject-overwrite")) { /* tests only: see docs/testing.md */
      if (parse_count(a, v, 1, &o.inject_overwrite)) return HR_EXIT_USAGE;
    } else if (!strcmp(a, "--progress-fd")) { /* hakreplay compare's replays */
      if (parse_count(a, v, 0, &n) || n > 1024) return HR_EXIT_USAGE;
      o.progress_fd = (int)n;
    } else if (!strcmp(a, "--max-events")) {
      if (parse_count(a, v, 0, &n)) return HR_EXIT_USAGE;
      o.max_events = n;
    }
  }
  if (!o.trace_path) return usage_error("no trace given", NULL);
  if (o.allocator && strcmp(o.allocator, "hakmem") && !hr_allocator_find(o.allocator)) {
    char err[300];
    snprintf(err, sizeof err, "--allocator: unknown allocator '%s' (hakmem, %s)", o.allocator,
             hr_allocator_names());
    return usage_error(err, NULL);
  }
  if (o.allocator && strcmp(o.allocator, "hakmem")) {
    /* Another allocator: hakmem's configuration means nothing to it. */
    const char *bad = variant ? "--variant" : nopts ? "--opt" : !o.deterministic ? "--mode free"
                      : o.ss_detail_path ? "--ss-detail" : o.thread_maps ? "--thread-maps" : NULL;
    if (bad) {
      char err[300];
      snprintf(err, sizeof err, "%s is for hakmem, not for --allocator %s", bad, o.allocator);
      return usage_error(err, NULL);
    }
    o.progress = !o.quiet && isatty(STDERR_FILENO);
    *o_out = o;
    return -1;
  }

  char err[300];
  if (variant && hak_config_apply_preset(&o.cfg, variant) != 0) {
    snprintf(err, sizeof err, "--variant: unknown preset '%s'", variant);
    return usage_error(err, NULL);
  }
  if (hak_config_from_env(&o.cfg, variant == NULL, err, sizeof err) != 0)
    return usage_error(err, NULL);
  for (int i = 0; i < nopts; i++) {
    char why[256];
    if (hak_config_set_kv(&o.cfg, opts[i], why, sizeof why) != 0) {
      snprintf(err, sizeof err, "--opt %s: %s", opts[i], why);
      return usage_error(err, NULL);
    }
  }
  if (hak_config_validate(&o.cfg, err, sizeof err) != 0) return usage_error(err, NULL);
  o.progress = !o.quiet && isatty(STDERR_FILENO);
  *o_out = o;
  hak_config_copy(&o_out->cfg, &o.cfg);
  return -1;
}

int main(int argc, char **argv) {
  /* An external allocator's replay (extrun.c starts it; child.c). */
  if (argc == 3 && !strcmp(argv[1], "--child")) return hr_child_main(atoi(argv[2]));
  /* The analysis subcommands (analysis/, docs/analysis.md). */
  if (argc > 1 && !strcmp(argv[1], "plot")) return ha_plot_main(argc - 1, argv + 1);
  if (argc > 1 && !strcmp(argv[1], "compare")) {
    char presets[256];
    return ha_compare_main(argc - 1, argv + 1, preset_list(presets, sizeof presets, ","),
                           hr_allocator_names());
  }
  if (argc > 1 && !strcmp(argv[1], "check")) return ha_check_main(argc - 1, argv + 1);
  if (argc > 1 && !strcmp(argv[1], "sweep")) {
    char presets[256];
    return ha_sweep_main(argc - 1, argv + 1, preset_list(presets, sizeof presets, ","),
                         hr_allocator_names());
  }
  if (argc == 2 && !strcmp(argv[1], "--list-options")) {
    char *text = hak_options_listing(HAK_LIST_TEXT);
    if (!text) return HR_EXIT_INTERNAL;
    fputs(text, stdout);
    free(text);
    return 0;
  }
  hr_options o;
  const char **opts = calloc((size_t)argc, sizeof *opts);
  if (!opts) return HR_EXIT_INTERNAL;
  int rc = parse(argc, argv, &o, opts);
  if (rc < 0) {
    rc = o.allocator && strcmp(o.allocator, "hakmem") ? hr_ext_replay(&o) : hr_replay(&o);
  }
  free(opts);
  return rc;
}
