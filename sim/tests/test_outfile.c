/* test_outfile.c: run.json's text (sim/src/outfile.c). The writer that
 * spools samples and events (hr_jw) must write what jansson writes for
 * the same values, byte for byte, at any depth: random nested documents
 * are written both ways and compared, with integers and reals at their
 * edges (the golden files and the determinism tests compare bytes). And
 * hr_json_put's shifted dump equals the same value dumped in place; and
 * hr_write_file puts what its writer wrote, byte for byte, through the
 * output module (common/include/hc_out.h), naming the target and the
 * reason when it cannot. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static const double reals[] = {0.0,    1.0,      0.1,     1e-05,      2.5e-320, 1e300,
                               -3.75,  123456789.123, 0.3333333333333333, 1e16, 1e17,
                               4.9e-324, 0.6322, 100.0 * (0.6322 - 1.0)};
static const int64_t ints[] = {0, 1, -1, 9, 10, 4096, INT64_MAX, INT64_MIN, -123456789};

/* Builds the same random value twice: as jansson values and through w. */
static json_t *build(hr_jw *w, int level) {
  int kind = level >= 4 ? (int)(next_rand() % 4) : (int)(next_rand() % 7);
  switch (kind) {
  case 0: {
    int64_t v = ints[next_rand() % (sizeof ints / sizeof *ints)];
    hr_jw_int(w, v);
    return json_integer(v);
  }
  case 1: {
    double v = reals[next_rand() % (sizeof reals / sizeof *reals)];
    hr_jw_real(w, v);
    return json_real(v);
  }
  case 2:
    hr_jw_null(w);
    return json_null();
  case 3:
    hr_jw_str(w, "trim");
    return json_string("trim");
  case 4:
  case 5: {
    json_t *o = json_object();
    hr_jw_open(w, '{');
    int n = (int)(next_rand() % 4);
    for (int i = 0; i < n; i++) {
      char key[16];
      snprintf(key, sizeof key, "k%d", i);
      hr_jw_key(w, key);
      json_object_set_new(o, key, build(w, level + 1));
    }
    hr_jw_close(w, '}');
    return o;
  }
  default: {
    json_t *a = json_array();
    hr_jw_open(w, '[');
    int n = (int)(next_rand() % 4);
    for (int i = 0; i < n; i++) json_array_append_new(a, build(w, level + 1));
    hr_jw_close(w, ']');
    return a;
  }
  }
}

static char *text_of(FILE *f) {
  fflush(f);
  long n = ftell(f);
  char *buf = calloc(1, (size_t)n + 1);
  rewind(f);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  return buf;
}

static void test_outfile_writer_writes_what_jansson_writes(void **state) {
  (void)state;
  for (int round = 0; round < 2000; round++) {
    int depth = round % 4;
    FILE *a = tmpfile(), *b = tmpfile();
    hr_jw w;
    hr_jw_init(&w, a, depth);
    json_t *v = build(&w, 0);
    assert_int_equal(w.err, 0);
    assert_int_equal(w.level, 0);
    assert_int_equal(hr_json_put(b, v, depth), 0);
    char *ta = text_of(a), *tb = text_of(b);
    if (strcmp(ta, tb) != 0) fail_msg("depth %d:\n%s\n-- jansson:\n%s", depth, ta, tb);
    free(ta);
    free(tb);
    json_decref(v);
    fclose(a);
    fclose(b);
  }
}

/* A value shifted to depth 2 is what jansson writes for it inside
 * {"k": [value]}. */
static void test_outfile_put_shifts_like_nesting(void **state) {
  (void)state;
  json_t *inner = json_pack("{s[iii] s{sfsn} ss}", "a", 1, 2, 3, "b", "c", 0.5, "d", "e", "f");
  FILE *f = tmpfile();
  fputs("{\n \"k\": [\n  ", f);
  assert_int_equal(hr_json_put(f, inner, 2), 0);
  fputs("\n ]\n}", f);
  char *got = text_of(f);
  json_t *outer = json_pack("{s[O]}", "k", inner);
  char *want = json_dumps(outer, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
  assert_string_equal(got, want);
  free(got);
  free(want);
  json_decref(outer);
  json_decref(inner);
  fclose(f);
}

static char *file_text(const char *path) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  char *text = text_of(f);
  fclose(f);
  return text;
}

static int write_value(FILE *f, void *ctx) { return hr_json_put(f, ctx, 0) ? -ENOMEM : 0; }

static int write_nothing_but_fail(FILE *f, void *ctx) {
  (void)f;
  (void)ctx;
  return -ENOSPC; /* as a spool that filled its disk reports */
}

/* Through an hc_out: the file holds what jansson writes for the document
 * plus a newline, and no temporary file stays; a failure of the writer or
 * of the target is -1 naming the target and the reason, the old file kept. */
static void test_outfile_write_file_through_output_module(void **state) {
  (void)state;
  char dir[] = "/tmp/hr-outfile-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[64], err[256];
  snprintf(path, sizeof path, "%s/run.json", dir);
  json_t *doc = json_pack("{s{ss si} s[fff] sn}", "schema", "name", "hakreplay-run", "version", 1,
                          "x", 0.1, 1e300, -3.75, "z");
  hc_out o;
  assert_int_equal(hc_out_open(&o, path, 0), 0);
  assert_int_equal(hr_write_file(&o, path, write_value, doc, err, sizeof err), 0);
  char *want = json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
  char *got = file_text(path);
  assert_int_equal(strncmp(got, want, strlen(want)), 0);
  assert_string_equal(got + strlen(want), "\n");
  free(got);

  /* The writer's own failure: the old file stays, the reason is named. */
  assert_int_equal(hc_out_open(&o, path, 0), 0);
  assert_int_equal(hr_write_file(&o, path, write_nothing_but_fail, NULL, err, sizeof err), -1);
  char expect[128];
  snprintf(expect, sizeof expect, "%s: cannot write: %s", path, strerror(ENOSPC));
  assert_string_equal(err, expect);
  got = file_text(path);
  assert_int_equal(strncmp(got, want, strlen(want)), 0);
  free(got);
  free(want);

  /* A device that takes nothing: its errno, the node untouched. */
  if (access("/dev/full", W_OK) == 0) {
    assert_int_equal(hc_out_open(&o, "/dev/full", 0), 0);
    assert_int_equal(hr_write_file(&o, "/dev/full", write_value, doc, err, sizeof err), -1);
    snprintf(expect, sizeof expect, "/dev/full: cannot write: %s", strerror(ENOSPC));
    assert_string_equal(err, expect);
  }
  json_decref(doc);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(rmdir(dir), 0); /* empty: no temporary file left */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_outfile_writer_writes_what_jansson_writes),
      cmocka_unit_test(test_outfile_put_shifts_like_nesting),
      cmocka_unit_test(test_outfile_write_file_through_output_module),
  };
  return cmocka_run_group_tests_name("sim.outfile", tests, NULL, NULL);
}
