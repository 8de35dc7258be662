/* test_text.c: control bytes in messages are escaped, the rest kept, and
 * the result always fits its buffer whole (no half escape at the end). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "hc_text.h"

static void test_text_plain_unchanged(void **state) {
  (void)state;
  char s[64] = "unknown op \"frob\" (UTF-8: \xc3\xa9)";
  char want[64];
  strcpy(want, s);
  assert_int_equal(hc_text_escape_controls(s, sizeof s), strlen(want));
  assert_string_equal(s, want);
}

static void test_text_controls_escaped(void **state) {
  (void)state;
  char s[64] = "op \"\x1b[31mred\x1b[0m\"\nline\r\x7f\x01";
  size_t n = hc_text_escape_controls(s, sizeof s);
  assert_string_equal(s, "op \"\\x1b[31mred\\x1b[0m\"\\x0aline\\x0d\\x7f\\x01");
  assert_int_equal(n, strlen(s));
}

static void test_text_truncates_whole_escapes(void **state) {
  (void)state;
  char s[10] = "ab\x01\x02";  /* "ab\x01\x02" escaped is 10 bytes: too long for 9 + NUL */
  size_t n = hc_text_escape_controls(s, sizeof s);
  assert_string_equal(s, "ab\\x01");
  assert_int_equal(n, 6);
  char t[4] = "\x05\x05";
  assert_int_equal(hc_text_escape_controls(t, sizeof t), 0);
  assert_string_equal(t, "");
  char u[1] = "";
  assert_int_equal(hc_text_escape_controls(u, sizeof u), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_text_plain_unchanged),
      cmocka_unit_test(test_text_controls_escaped),
      cmocka_unit_test(test_text_truncates_whole_escapes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
