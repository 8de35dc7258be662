/* util.c: errors, JSON loading and path lookup, number and name formatting,
 * paths.  Nothing here prints: errors go to the caller's ha_err. */
#include <ctype.h>
#include <stdio.h>
#include <sys/types.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hc_text.h"
#include "internal.h"

int ha_fail(ha_err *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    /* Messages quote run.json and file names: no raw control bytes. */
    hc_text_escape_controls(err->msg, sizeof err->msg);
  }
  return code;
}

int ha_json_load(const char *path, json_t **out, ha_err *err) {
  json_error_t je;
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return ha_fail(err, HA_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
  json_t *j = json_loadf(f, 0, &je);
  fclose(f);
  if (!j)
    return ha_fail(err, HA_ERR_INPUT, "%s:%d: not valid JSON: %s", path, je.line, je.text);
  *out = j;
  return 0;
}

/* A libhakmem.so sample file (HAKMEM_SAMPLE_FILE, docs/preload.md): one
 * census per line, in run.json's sample field names, t in milliseconds.
 * Wrapped as a run with those samples and nothing else, so `plot` draws
 * what a real program's run can show (fields that need ground truth, like
 * live requested bytes, are absent and plot as no data). */
static int load_sample_file(const char *path, json_t **run, ha_err *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return ha_fail(err, HA_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
  json_t *samples = json_array();
  char *line = NULL;
  size_t cap = 0;
  long lineno = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, f)) > 0) {
    lineno++;
    if (n == 1 && line[0] == '\n') continue;
    json_error_t je;
    json_t *s = json_loads(line, 0, &je);
    if (!s || !json_is_object(s) || !json_is_integer(json_object_get(s, "t"))) {
      json_decref(s);
      json_decref(samples);
      free(line);
      fclose(f);
      return ha_fail(err, HA_ERR_INPUT, "%s:%ld: not a libhakmem.so sample line", path, lineno);
    }
    json_array_append_new(samples, s);
  }
  free(line);
  fclose(f);
  if (json_array_size(samples) == 0) {
    json_decref(samples);
    return ha_fail(err, HA_ERR_INPUT, "%s: no samples", path);
  }
  const char *preset = getenv("HAKMEM_PRESET");
  *run = json_pack("{s{ss si} s{ss ss ss sI sI s{ss}} s{ss} so s[] s{} s{}}", "schema", "name",
                   "hakreplay-run", "version", 1, "trace", "path", path, "encoding", "libhakmem-samples",
                   "hash", "", "events", (json_int_t)0, "threads", (json_int_t)0, "meta",
                   "description", "libhakmem.so samples of a real program (t in ms)", "config",
                   "preset", preset && *preset ? preset : "libhakmem.so", "samples", samples,
                   "events", "summary", "host");
  return *run ? 0 : ha_fail(err, HA_ERR_INTERNAL, "%s: out of memory", path);
}

int ha_run_load(const char *path, json_t **run, ha_err *err) {
  size_t len = strlen(path);
  if (len > 6 && !strcmp(path + len - 6, ".jsonl")) return load_sample_file(path, run, err);
  json_t *j;
  int rc = ha_json_load(path, &j, err);
  if (rc) return rc;
  if ((rc = ha_run_accept(j, path, err))) {
    json_decref(j);
    return rc;
  }
  *run = j;
  return 0;
}

int ha_run_accept(const json_t *j, const char *path, ha_err *err) {
  int rc;
  const char *name = json_string_value(ha_path_get(j, "schema.name"));
  const char *what = NULL;
  if (!name || strcmp(name, "hakreplay-run")) what = "not a hakreplay run (schema.name is not \"hakreplay-run\")";
  else if (json_integer_value(ha_path_get(j, "schema.version")) != 1) what = "schema.version is not 1";
  if (what) return ha_fail(err, HA_ERR_INPUT, "%s: %s", path, what);
  /* Then every field, against the schema: the readers rely on it. */
  if ((rc = ha_run_validate(j, path, err))) return rc;
  return 0;
}

json_t *ha_path_get(const json_t *root, const char *path) {
  const json_t *cur = root;
  const char *p = path;
  char seg[128];
  while (cur && *p) {
    size_t len = strcspn(p, ".");
    if (len == 0 || len >= sizeof seg) return NULL;
    memcpy(seg, p, len);
    seg[len] = '\0';
    p += len;
    if (*p == '.' && !*++p) return NULL; /* trailing dot */
    if (json_is_object(cur)) {
      cur = json_object_get(cur, seg);
    } else if (json_is_array(cur)) {
      char *end;
      long i = strtol(seg, &end, 10);
      if (*end) return NULL;
      long n = (long)json_array_size(cur);
      if (i < 0) i += n;
      cur = i >= 0 && i < n ? json_array_get(cur, (size_t)i) : NULL;
    } else {
      return NULL;
    }
  }
  return (json_t *)cur;
}

double ha_num(const json_t *v) {
  if (json_is_integer(v)) return (double)json_integer_value(v);
  if (json_is_real(v)) return json_real_value(v);
  return NAN;
}

long long ha_int(const json_t *v) {
  if (json_is_integer(v)) return (long long)json_integer_value(v);
  double d = json_is_real(v) ? json_real_value(v) : NAN;
  return d > -9.2e18 && d < 9.2e18 ? (long long)d : 0; /* false for NaN */
}

void ha_fmt_value(char *buf, size_t n, const json_t *v) {
  if (json_is_integer(v)) snprintf(buf, n, "%lld", (long long)json_integer_value(v));
  else if (json_is_real(v)) snprintf(buf, n, "%.6g", json_real_value(v));
  else if (json_is_string(v)) snprintf(buf, n, "\"%s\"", json_string_value(v));
  else if (json_is_true(v)) snprintf(buf, n, "true");
  else if (json_is_false(v)) snprintf(buf, n, "false");
  else if (json_is_null(v) || !v) snprintf(buf, n, "null");
  else {
    char *s = json_dumps(v, JSON_COMPACT);
    snprintf(buf, n, "%s", s ? s : "?");
    if (n > 4 && s && strlen(s) >= n) strcpy(buf + n - 4, "...");
    free(s);
  }
}

void ha_fmt_bytes(char *buf, size_t n, double b) {
  static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  double v = b;
  while (fabs(v) >= 1024 && u < 4) {
    v /= 1024;
    u++;
  }
  if (u == 0) snprintf(buf, n, "%.0f B", b);
  else snprintf(buf, n, "%.*f %s", fabs(v) < 10 ? 2 : fabs(v) < 100 ? 1 : 0, v, unit[u]);
}

const char *ha_basename(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

void ha_run_names(const json_t *run, char *trace, size_t tn, char *variant, size_t vn) {
  const char *path = json_string_value(ha_path_get(run, "trace.path"));
  const char *gen = json_string_value(ha_path_get(run, "trace.meta.generator"));
  const char *desc = json_string_value(ha_path_get(run, "trace.meta.description"));
  char name[256];
  snprintf(name, sizeof name, "%s", path ? ha_basename(path) : "trace");
  if (gen) snprintf(trace, tn, "%s (%s, %lld events)", name, gen,
                    (long long)json_integer_value(ha_path_get(run, "trace.events")));
  else if (desc) snprintf(trace, tn, "%s (%.60s%s)", name, desc, strlen(desc) > 60 ? "..." : "");
  else snprintf(trace, tn, "%s", name);
  for (char *c = trace; *c; c++)
    if ((unsigned char)*c < 0x20) *c = ' ';
  /* config.variant is the preset plus every override; runs written before
   * it existed (and libhakmem.so sample files) have only the preset. */
  const char *label = json_string_value(ha_path_get(run, "config.variant"));
  if (!label) label = json_string_value(ha_path_get(run, "config.preset"));
  snprintf(variant, vn, "%s", label ? label : "none");
}

int ha_join(char *buf, size_t n, const char *dir, const char *name, ha_err *err) {
  int len = snprintf(buf, n, "%s/%s", dir, name);
  if (len < 0 || (size_t)len >= n) return ha_fail(err, HA_ERR_INPUT, "%s/%s: path too long", dir, name);
  return 0;
}

int ha_mkdirs(const char *dir, ha_err *err) {
  char p[HA_PATH_MAX];
  if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p)
    return ha_fail(err, HA_ERR_INPUT, "%s: path too long", dir);
  for (char *s = p + 1;; s++) {
    if (*s == '/' || !*s) {
      char c = *s;
      *s = '\0';
      struct stat st;
      if (mkdir(p, 0777) != 0 && (errno != EEXIST || stat(p, &st) != 0 || !S_ISDIR(st.st_mode)))
        return ha_fail(err, HA_ERR_INPUT, "%s: cannot create directory: %s", p,
                       errno == EEXIST ? "not a directory" : strerror(errno));
      *s = c;
      if (!c) break;
    }
  }
  return 0;
}

void ha_label(char *buf, size_t n, const char *text) {
  size_t i = 0;
  for (; text[i] && i + 1 < n; i++) {
    unsigned char c = (unsigned char)text[i];
    buf[i] = isalnum(c) || c == '.' || c == '_' || c == '-' ? (char)c : '_';
  }
  buf[i] = '\0';
  if (!i && n > 1) snprintf(buf, n, "run");
}

bool ha_run_is_external(const json_t *run) {
  const char *a = json_string_value(ha_path_get(run, "config.allocator"));
  return a && strcmp(a, "hakmem");
}

int ha_usage_error(const char *cmd, const char *msg, const char *arg) {
  fprintf(stderr, "hakreplay %s: %s%s%s (try --help)\n", cmd, msg, arg ? ": " : "", arg ? arg : "");
  return HA_EXIT_USAGE;
}

int ha_parse_jobs(const char *v, int *jobs) {
  char *end;
  long j = strtol(v, &end, 10);
  if (*end || end == v || j < 1 || j > 1024) return -1;
  *jobs = (int)j;
  return 0;
}

int ha_is_one_of(const char *a, const char *const *list, size_t n) {
  for (size_t k = 0; k < n; k++)
    if (!strcmp(a, list[k])) return 1;
  return 0;
}
