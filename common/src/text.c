/* text.c: escaping control bytes in messages (hc_text.h). */
#include "hc_text.h"

#include <string.h>

static int is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

size_t hc_text_escape_controls(char *s, size_t cap) {
  if (cap == 0) return 0;
  size_t len = strnlen(s, cap - 1), extra = 0;
  for (size_t i = 0; i < len; i++) extra += is_control((unsigned char)s[i]) ? 3 : 0;
  if (extra == 0) {
    s[len] = '\0';
    return len;
  }
  /* Work backwards so every byte is read before it is overwritten; bytes
   * that would land beyond the buffer are dropped from the end. */
  size_t out = len + extra;
  size_t keep = len;
  while (out > cap - 1) {
    keep--;
    out -= is_control((unsigned char)s[keep]) ? 4 : 1;
  }
  static const char hex[] = "0123456789abcdef";
  s[out] = '\0';
  size_t w = out;
  for (size_t i = keep; i-- > 0;) {
    unsigned char c = (unsigned char)s[i];
    if (is_control(c)) {
      s[--w] = hex[c & 15];
      s[--w] = hex[c >> 4];
      s[--w] = 'x';
      s[--w] = '\\';
    } else {
      s[--w] = (char)c;
    }
  }
  return out;
}
