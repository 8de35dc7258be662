/* test_plot.c: plot end to end through gnuplot: every script renders (PNG
 * and SVG) and exits 0, also on its own from the source tree with its
 * defaults; a PNG is a valid image of the expected size (signature, IHDR
 * with its CRC, IEND); titles name trace and variant; index.html shows
 * every plot and the summary; runs with no trim pass or no bytes at all
 * still plot; the command's usage errors exit 2. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ha.h"
#include "ha_testutil.h"

#define LARSON "sim/tests/golden/larson-small.phase1.json"
#define LARSON_SS "sim/tests/golden/larson-small.phase1.ss.jsonl"
#define EVERY "sim/tests/golden/every-op.seed-buggy.json"

static const char *const plot_names[] = {"ladder", "mappings", "mesh",  "superslabs",
                                         "occupancy", "ssdetail", "remote", "trim", "drift"};
#define NPLOTS (sizeof plot_names / sizeof *plot_names)

static json_t *load(const char *rel) {
  json_t *run;
  ha_err err;
  if (ha_run_load(ha_test_src(rel), &run, &err)) fail_msg("%s", err.msg);
  return run;
}

static void plot(const json_t *run, const char *detail_rel, const char *dir, int formats) {
  ha_err err;
  char detail[4096];
  if (detail_rel) snprintf(detail, sizeof detail, "%s", ha_test_src(detail_rel));
  if (ha_plot_run(run, "run.json", detail_rel ? detail : NULL, dir, formats, &err)) fail_msg("%s", err.msg);
}

static char *file_in(const char *dir, const char *name, const char *ext, size_t *len) {
  char n[128];
  snprintf(n, sizeof n, "%s%s", name, ext);
  char *p = ha_test_path(dir, n);
  char *text = ha_test_slurp(p, len);
  if (!text) fail_msg("%s was not written", p);
  free(p);
  return text;
}

/* Fails unless plot NAME's SVG in dir holds every one of texts (to NULL). */
static void svg_has(const char *dir, const char *name, const char *const *texts) {
  char *svg = file_in(dir, name, ".svg", NULL);
  for (; *texts; texts++)
    if (!strstr(svg, *texts)) fail_msg("%s.svg lacks \"%s\"", name, *texts);
  free(svg);
}

/* What the mappings and mesh plots always show, data or none. */
#define MAPPINGS_TEXTS ((const char *[]){"Kernel mappings over time", "mappings (count)", NULL})
#define MESH_TEXTS \
  ((const char *[]){"potential: one pass could release", "slabs meshed so far (count)", NULL})

static void no_temp_files(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct dirent *e;
  while ((e = readdir(d)))
    if (strstr(e->d_name, ".tmp.")) fail_msg("temporary file left: %s/%s", dir, e->d_name);
  closedir(d);
}

/* The larson fixture with --ss-detail, in PNG and SVG, drawn once for the
 * tests that only look at the result (gnuplot is most of their time). */
static char *shared;

static int render_shared(void **state) {
  shared = ha_test_mkdir();
  json_t *run = load(LARSON);
  plot(run, LARSON_SS, shared, HA_FMT_PNG | HA_FMT_SVG);
  json_decref(run);
  return 0;
}

static int remove_shared(void **state) {
  ha_test_rmdir(shared);
  return 0;
}

static void test_plot_every_plot_renders_png_and_svg(void **state) {
  const char *dir = shared;
  for (size_t i = 0; i < NPLOTS; i++) {
    size_t len;
    free(file_in(dir, plot_names[i], ".png", &len));
    assert_true(len > 1000);
    char *svg = file_in(dir, plot_names[i], ".svg", &len);
    assert_non_null(strstr(svg, "<svg"));
    assert_non_null(strstr(svg, "</svg>"));
    free(svg);
    free(file_in(dir, plot_names[i], ".gp", NULL));
    /* mesh.gp draws columns of mappings.dat. */
    free(file_in(dir, strcmp(plot_names[i], "mesh") ? plot_names[i] : "mappings", ".dat", NULL));
  }
  no_temp_files(dir);
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t crc32_png(const unsigned char *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
  }
  return c ^ 0xffffffffu;
}

/* A PNG: signature, IHDR first (13 bytes, CRC), chunks up to IEND at the end. */
static void test_plot_png_is_valid_and_sized(void **state) {
  const char *dir = shared;
  size_t len;
  unsigned char *png = (unsigned char *)file_in(dir, "ladder", ".png", &len);
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  assert_true(len > 8 + 25 + 12);
  assert_memory_equal(png, sig, 8);
  assert_int_equal(be32(png + 8), 13);
  assert_memory_equal(png + 12, "IHDR", 4);
  assert_int_equal(be32(png + 16), 960); /* width, the scripts' default */
  assert_int_equal(be32(png + 20), 600); /* height */
  assert_true(png[24] == 8 || png[24] == 16); /* bit depth */
  assert_int_equal(be32(png + 29), crc32_png(png + 12, 17));
  /* Walk the chunks: each length fits, and the last is IEND. */
  size_t off = 8, chunks = 0;
  int seen_idat = 0;
  while (off + 12 <= len) {
    uint32_t n = be32(png + off);
    assert_true(off + 12 + n <= len);
    if (!memcmp(png + off + 4, "IDAT", 4)) seen_idat = 1;
    if (!memcmp(png + off + 4, "IEND", 4)) break;
    off += 12 + n;
    chunks++;
  }
  assert_true(seen_idat);
  assert_int_equal(off + 12, len);
  assert_memory_equal(png + off + 4, "IEND", 4);
  free(png);
}

/* Every script of analysis/gp/ runs on its own with its defaults in a
 * directory holding its data (the overlay ones on a one-variant file). */
static void test_plot_scripts_run_standalone(void **state) {
  char *dir = ha_test_mkdir();
  json_t *run = load(LARSON);
  ha_err err;
  char detail[4096];
  snprintf(detail, sizeof detail, "%s", ha_test_src(LARSON_SS));
  assert_int_equal(ha_plot_data(run, detail, dir, &err), 0);
  free(ha_test_write(dir, "ovl_run.dat", "# t mapped live util\n0 2097152 1 NaN\n100 4194304 2 0.001\n"));
  static const char *scripts[] = {"ladder", "superslabs", "occupancy", "ssdetail", "remote",
                                  "trim", "drift", "mappings", "mesh", "ovl_mapped", "ovl_live",
                                  "ovl_util"};
  for (size_t i = 0; i < sizeof scripts / sizeof *scripts; i++) {
    char cmd[8192];
    char rel[128];
    snprintf(rel, sizeof rel, "analysis/gp/%s.gp", scripts[i]);
    snprintf(cmd, sizeof cmd, "cd '%s' && gnuplot '%s'", dir, ha_test_src(rel));
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    char *errtext = NULL;
    int rc = ha_test_run(argv, NULL, &errtext);
    if (rc != 0) fail_msg("%s exited %d: %s", rel, rc, errtext ? errtext : "");
    free(errtext);
    size_t len;
    unsigned char *png = (unsigned char *)file_in(dir, scripts[i], ".png", &len);
    assert_true(len > 8 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G');
    free(png);
  }
  json_decref(run);
  ha_test_rmdir(dir);
}

/* Titles name the trace and the variant; axes say what and in what unit. */
static void test_plot_titles_and_axes(void **state) {
  const char *dir = shared;
  for (size_t i = 0; i < NPLOTS; i++) {
    char *svg = file_in(dir, plot_names[i], ".svg", NULL);
    if (!strstr(svg, "trace larson-small.jsonl (larson, 844 events) - variant phase1"))
      fail_msg("%s.svg: no trace and variant in the title", plot_names[i]);
    assert_non_null(strstr(svg, "event index (trace events)"));
    assert_non_null(strstr(svg, "logical time (ms at 1 events/ms)"));
    free(svg);
  }
  svg_has(dir, "ladder", (const char *[]){"bytes (log scale)", "live requested (R)", NULL});
  svg_has(dir, "mappings", MAPPINGS_TEXTS);
  svg_has(dir, "mesh", MESH_TEXTS);
  svg_has(dir, "trim", (const char *[]){"Trim passes (8)", "skipped: not empty", NULL});
}

static void test_plot_index_html(void **state) {
  const char *dir = shared;
  char *html = file_in(dir, "index", ".html", NULL);
  for (size_t i = 0; i < NPLOTS; i++) {
    char img[64];
    snprintf(img, sizeof img, "<img src=\"%s.png\"", plot_names[i]);
    if (!strstr(html, img)) fail_msg("index.html lacks %s", img);
  }
  assert_non_null(strstr(html, "<td>SuperSlabs mapped (total)</td><td>22</td>"));
  assert_non_null(strstr(html, "<td>trim passes</td><td>8</td>"));
  assert_non_null(strstr(html, "<td>preset</td><td>&quot;phase1&quot;</td>"));
  free(html);
}

/* No trim pass (trim off), and a run whose samples hold no byte at all:
 * both still plot (fixed ranges and a "no data" label). */
static void test_plot_empty_cases(void **state) {
  char *dir = ha_test_mkdir();
  json_t *run = load(EVERY);
  plot(run, NULL, dir, HA_FMT_PNG);
  char *html = file_in(dir, "index", ".html", NULL);
  assert_null(strstr(html, "ssdetail")); /* drawn only with --ss-detail */
  free(html);
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(run, "samples"), i, s) {
    const char *k;
    json_t *v;
    json_object_foreach(s, k, v)
      if (json_is_integer(v) && strcmp(k, "t")) json_object_set_new(s, k, json_integer(0));
    json_object_set_new(s, "utilization", json_real(0));
    json_object_set_new(s, "occupancy_hist", json_array());
  }
  json_array_clear(json_object_get(run, "events"));
  plot(run, NULL, dir, HA_FMT_PNG | HA_FMT_SVG);
  svg_has(dir, "ladder", (const char *[]){"no live or mapped bytes in this run", NULL});
  svg_has(dir, "mappings", MAPPINGS_TEXTS);
  svg_has(dir, "mesh", MESH_TEXTS);
  svg_has(dir, "trim", (const char *[]){"no trim pass in this run", NULL});
  json_decref(run);
  ha_test_rmdir(dir);
}

static int plot_main(const char *const *args) {
  char *argv[16];
  int argc = 0;
  for (; args[argc]; argc++) argv[argc] = (char *)args[argc];
  argv[argc] = NULL;
  return ha_plot_main(argc, argv);
}

static void test_plot_usage_errors(void **state) {
  char *dir = ha_test_mkdir();
  char *out = ha_test_path(dir, "out");
  char run[4096], detail[4096];
  snprintf(run, sizeof run, "%s", ha_test_src(LARSON));
  snprintf(detail, sizeof detail, "%s/nonexistent.jsonl", dir);
  const char *none[] = {"plot", NULL};
  const char *two[] = {"plot", run, run, NULL};
  const char *fmt[] = {"plot", run, "--format", "gif", "-o", out, NULL};
  const char *unk[] = {"plot", run, "--colour", "red", NULL};
  const char *novalue[] = {"plot", run, "-o", NULL};
  const char *missing[] = {"plot", "/nonexistent/run.json", "-o", out, NULL};
  const char *baddetail[] = {"plot", run, "-o", out, "--ss-detail", detail, NULL};
  const char *notdir[] = {"plot", run, "-o", "/proc/version/x", NULL};
  assert_int_equal(plot_main(none), HA_EXIT_USAGE);
  assert_int_equal(plot_main(two), HA_EXIT_USAGE);
  assert_int_equal(plot_main(fmt), HA_EXIT_USAGE);
  assert_int_equal(plot_main(unk), HA_EXIT_USAGE);
  assert_int_equal(plot_main(novalue), HA_EXIT_USAGE);
  assert_int_equal(plot_main(missing), HA_EXIT_USAGE);
  assert_int_equal(plot_main(baddetail), HA_EXIT_USAGE);
  /* A bad input leaves no output folder behind (it left an empty one). */
  if (access(out, F_OK) == 0) fail_msg("%s was made by a plot that failed", out);
  char *junk = ha_test_write(dir, "junk.jsonl", "{\"t\": 1, \"ss\": [[1,2,3,4,5]]}\nnot json\n");
  const char *junkdetail[] = {"plot", run, "-o", out, "--ss-detail", junk, NULL};
  assert_int_equal(plot_main(junkdetail), HA_EXIT_USAGE);
  if (access(out, F_OK) == 0) fail_msg("%s was made by a plot that failed", out);
  free(junk);
  assert_int_equal(plot_main(notdir), HA_EXIT_USAGE);
  const char *ok[] = {"plot", run, "-o", out, "--format", "svg", NULL};
  assert_int_equal(plot_main(ok), HA_EXIT_OK);
  free(file_in(out, "index", ".html", NULL));
  free(out);
  ha_test_rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plot_every_plot_renders_png_and_svg),
      cmocka_unit_test(test_plot_png_is_valid_and_sized),
      cmocka_unit_test(test_plot_scripts_run_standalone),
      cmocka_unit_test(test_plot_titles_and_axes),
      cmocka_unit_test(test_plot_index_html),
      cmocka_unit_test(test_plot_empty_cases),
      cmocka_unit_test(test_plot_usage_errors),
  };
  return cmocka_run_group_tests(tests, render_shared, remove_shared);
}
