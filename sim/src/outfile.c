/* outfile.c: run.json and --ss-detail go through the project's output
 * module (common/include/hc_out.h): a temporary file in the destination's
 * directory, fsync'd and renamed over it, so a reader never sees a partial
 * file and a failed write leaves the old one; a FIFO or a device (-o
 * /dev/stdout) is written straight through, never replaced. And JSON text
 * as jansson indents it (JSON_INDENT(1), keys in insertion order) for a
 * value nested at any depth, so a document can be written in parts
 * (run.json's event log comes from a spool file) and still be
 * byte-identical to one json_dumpf of the whole.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int hr_json_put(FILE *f, const json_t *v, int depth) {
  /* jansson indents a nested value by depth x 1 space after each newline
   * and nothing else: dumping it alone and shifting its lines is the same. */
  char *text = json_dumps(v, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
  if (!text) return -1;
  int rc = 0;
  for (const char *p = text; *p && rc == 0; p++) {
    if (putc(*p, f) == EOF) rc = -1;
    if (*p == '\n')
      for (int i = 0; i < depth && rc == 0; i++)
        if (putc(' ', f) == EOF) rc = -1;
  }
  free(text);
  return rc;
}

/* The stream's writes: hc_out_write, whose first error stays in the
 * hc_out (stdio would keep only an error flag); 0 tells stdio it failed. */
static ssize_t out_write(void *cookie, const char *buf, size_t len) {
  return hc_out_write(cookie, buf, len) == 0 ? (ssize_t)len : 0;
}

FILE *hr_out_stream(hc_out *o) {
  FILE *f = fopencookie(o, "w", (cookie_io_functions_t){.write = out_write});
  if (f) setvbuf(f, NULL, _IOFBF, 1 << 16);
  return f;
}

int hr_write_file(hc_out *o, const char *path, int (*write)(FILE *f, void *ctx), void *ctx,
                  char *err, size_t errlen) {
  int rc = 0;
  FILE *f = hr_out_stream(o);
  if (!f) rc = -(errno ? errno : ENOMEM);
  if (rc == 0) {
    int wr = write(f, ctx);
    int bad = fputc('\n', f) == EOF;
    bad |= fclose(f) != 0;
    /* The output's own error first (the module's errno), then the
     * writer's (a spool, memory). */
    if (o->err) rc = -o->err;
    else if (wr) rc = wr < 0 ? wr : -EIO;
    else if (bad) rc = -EIO;
  }
  if (rc == 0) rc = hc_out_commit(o);
  else hc_out_abort(o);
  if (rc != 0) {
    snprintf(err, errlen, "%s: cannot write: %s", path, strerror(-rc));
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------ hr_jw */

/* Unlocked: a writer's FILE is its owner's alone (the events lock, the
 * sampler's thread), and a locked fwrite per key was most of its cost. */
static void jw_raw(hr_jw *w, const char *s, size_t n) {
  if (fwrite_unlocked(s, 1, n, w->f) != n) w->err = -1;
}

static void jw_indent(hr_jw *w, int depth) {
  char buf[1 + HR_JW_MAX_DEPTH] = "\n";
  memset(buf + 1, ' ', (size_t)depth);
  jw_raw(w, buf, 1 + (size_t)depth);
}

/* Before an element of the innermost container: the separator and the
 * element's indentation, as jansson writes them. */
static void jw_element(hr_jw *w) {
  if (w->level == 0) return; /* the value itself */
  if (!w->first[w->level]) jw_raw(w, ",", 1);
  w->first[w->level] = false;
  jw_indent(w, w->depth + w->level);
}

void hr_jw_init(hr_jw *w, FILE *f, int depth) {
  memset(w, 0, sizeof *w);
  w->f = f;
  w->depth = depth;
}

void hr_jw_open(hr_jw *w, char c) {
  if (!w->in_key) jw_element(w);
  w->in_key = false;
  jw_raw(w, &c, 1);
  w->first[++w->level] = true;
}

void hr_jw_close(hr_jw *w, char c) {
  if (!w->first[w->level]) jw_indent(w, w->depth + w->level - 1);
  w->level--;
  jw_raw(w, &c, 1);
}

void hr_jw_key(hr_jw *w, const char *key) {
  jw_element(w);
  jw_raw(w, "\"", 1);
  jw_raw(w, key, strlen(key));
  jw_raw(w, "\": ", 3);
  w->in_key = true;
}

static void jw_value(hr_jw *w, const char *text, size_t n) {
  if (!w->in_key) jw_element(w);
  w->in_key = false;
  jw_raw(w, text, n);
}

void hr_jw_int(hr_jw *w, int64_t v) {
  char buf[24], *p = buf + sizeof buf;
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) *--p = '-';
  jw_value(w, p, (size_t)(buf + sizeof buf - p));
}

void hr_jw_put_int(hr_jw *w, const char *key, int64_t v) {
  hr_jw_key(w, key);
  hr_jw_int(w, v);
}

void hr_jw_real(hr_jw *w, double v) {
  /* jansson's jsonp_dtostr: %.17g, ".0" when it reads as an integer, no
   * '+' and no leading zeros in the exponent. */
  char buf[64];
  int n = snprintf(buf, sizeof buf - 3, "%.17g", v);
  if (n < 0) n = 0;
  if (!strchr(buf, '.') && !strchr(buf, 'e')) {
    memcpy(buf + n, ".0", 3);
    n += 2;
  }
  char *e = strchr(buf, 'e');
  if (e) {
    char *start = e + 1, *end = start + 1;
    if (*start == '-') start++;
    while (*end == '0') end++;
    if (end != start) {
      memmove(start, end, (size_t)(buf + n - end) + 1);
      n -= (int)(end - start);
    }
  }
  jw_value(w, buf, (size_t)n);
}

void hr_jw_null(hr_jw *w) { jw_value(w, "null", 4); }

void hr_jw_str(hr_jw *w, const char *s) {
  if (!w->in_key) jw_element(w);
  w->in_key = false;
  jw_raw(w, "\"", 1);
  jw_raw(w, s, strlen(s));
  jw_raw(w, "\"", 1);
}
