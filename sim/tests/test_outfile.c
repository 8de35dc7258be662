/* test_outfile.c: run.json's text (sim/src/outfile.c). The writer that
 * spools samples and events (hr_jw) must write what jansson writes for
 * the same values, byte for byte, at any depth: random nested documents
 * are written both ways and compared, with integers and reals at their
 * edges (the golden files and the determinism tests compare bytes). And
 * hr_json_put's shifted dump equals the same value dumped in place. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_outfile_writer_writes_what_jansson_writes),
      cmocka_unit_test(test_outfile_put_shifts_like_nesting),
  };
  return cmocka_run_group_tests_name("sim.outfile", tests, NULL, NULL);
}
