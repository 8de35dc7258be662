/* options.c: the options table as data (names, environment variables,
 * kinds, ranges, value names, where each value lives), the defaults and
 * the presets as initialisers of hak_config, text parsing, the run label.
 * Everything here is generated from HAK_OPTIONS, HAK_PRELOAD_OPTIONS,
 * HAK_PRESETS and the *_VALUES lists, so adding an option, a value or a
 * preset is one edit there.
 *
 * Precedence, lowest first: defaults, the preset (from whichever source
 * named it), individual environment variables, individual `name=value`
 * settings (the command line). A preset given later resets only the
 * options a preset controls (by_preset).
 *
 * Nothing here allocates: libhakmem.so parses its configuration inside the
 * process's first malloc call.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "options_rows.h"

/* The S option's checker (the `values` column of size_classes). */
static int size_classes_check(const char *text, char *why, size_t len) {
  uint32_t sizes[HAK_MAX_CLASSES], count;
  return hak_classes_parse(text, sizes, &count, why, len);
}

/* ---------------------------------------------------------------- table */

/* Each E option's value names: NAME_values[]. */
#define HAK_VALUE_NAME(constant, name, ...) name,
#define NAMES_E(oname, values) \
  static const char *const oname##_values[] = {values(HAK_VALUE_NAME) NULL};
#define NAMES_U(oname, values)
#define NAMES_S(oname, values)
#define NAMES_F(oname, values)
#define NAMES_P(oname, values)
#define NAMES(oname, kind, values, ...) NAMES_##kind(oname, values)
HAK_OPTIONS(NAMES)
HAK_PRELOAD_OPTIONS(NAMES)

#define ROW_VALUES_E(oname) oname##_values
#define ROW_VALUES_U(oname) NULL
#define ROW_VALUES_S(oname) NULL
#define ROW_VALUES_F(oname) NULL
#define ROW_VALUES_P(oname) NULL
#define ROW_CHECK_S(values) values
#define ROW_CHECK_U(values) NULL
#define ROW_CHECK_E(values) NULL
#define ROW_CHECK_F(values) NULL
#define ROW_CHECK_P(values) NULL
#define ROW_SIZE_S(type, oname) sizeof(((type *)0)->oname##_buf), offsetof(type, oname##_buf)
#define ROW_SIZE_P(type, oname) sizeof(((type *)0)->oname), 0
#define ROW_SIZE_U(type, oname) 0, 0
#define ROW_SIZE_E(type, oname) 0, 0
#define ROW_SIZE_F(type, oname) 0, 0
#define ROW_KIND_U 'U'
#define ROW_KIND_E 'E'
#define ROW_KIND_S 'S'
#define ROW_KIND_F 'F'
#define ROW_KIND_P 'P'
#define ROW(type, oname, kind, values, by_preset, def, min, max, env, desc)               \
  {#oname, env, desc, ROW_KIND_##kind, by_preset, (uint32_t)(min), (uint32_t)(max),           \
   ROW_VALUES_##kind(oname), ROW_CHECK_##kind(values), offsetof(type, oname),            \
   ROW_SIZE_##kind(type, oname)},
#define CORE_ROW(...) ROW(hak_config, __VA_ARGS__)
#define PRELOAD_ROW(...) ROW(hak_preload_config, __VA_ARGS__)

const hak_option_row hak_option_rows[HAK_OPT_COUNT] = {HAK_OPTIONS(CORE_ROW)};
const hak_option_row hak_preload_rows[HAK_PRELOAD_OPT_COUNT] = {HAK_PRELOAD_OPTIONS(PRELOAD_ROW)};

#define DEFAULT_INIT(oname, kind, values, by_preset, def, ...) .oname = def,
static const hak_config config_defaults = {HAK_OPTIONS(DEFAULT_INIT)};
static const hak_preload_config preload_defaults = {HAK_PRELOAD_OPTIONS(DEFAULT_INIT)};

/* A preset is the defaults with its row's initialisers written over them:
 * overriding an initialiser is the point here, hence the pragma. */
#define HAK_UNPAREN(...) __VA_ARGS__
#define PRESET_CONFIG(id, name, desc, init) \
  [HAK_PRESET_##id] = {HAK_OPTIONS(DEFAULT_INIT).preset = HAK_PRESET_##id, HAK_UNPAREN init},
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
static const hak_config preset_configs[HAK_PRESET_COUNT] = {HAK_PRESETS(PRESET_CONFIG)};
#pragma GCC diagnostic pop

#define PRESET_DESC(id, name, desc, init) desc,
static const char *const preset_descriptions[HAK_PRESET_COUNT] = {HAK_PRESETS(PRESET_DESC)};

/* ------------------------------------------------------------- metadata */

const char *hak_option_name(hak_option_id id) { return hak_option_rows[id].name; }
const char *hak_option_env(hak_option_id id) { return hak_option_rows[id].env; }
const char *hak_option_description(hak_option_id id) { return hak_option_rows[id].desc; }
char hak_option_kind(hak_option_id id) { return hak_option_rows[id].kind; }
const char *const *hak_option_values(hak_option_id id) { return hak_option_rows[id].values; }
bool hak_option_by_preset(hak_option_id id) { return hak_option_rows[id].by_preset; }

bool hak_option_after_v1(hak_option_id id) {
  switch (id) {
#define AFTER_V1_CASE(oname) case HAK_OPT_##oname: return true;
    HAK_OPTIONS_AFTER_V1(AFTER_V1_CASE)
#undef AFTER_V1_CASE
  default: return false;
  }
}
const char *hak_preload_option_name(hak_preload_option_id id) { return hak_preload_rows[id].name; }
const char *hak_preload_option_env(hak_preload_option_id id) { return hak_preload_rows[id].env; }

const char *hak_preset_name(hak_preset_t p) {
  return (unsigned)p < HAK_PRESET_COUNT ? preset_values[p] : "?";
}

const char *hak_preset_description(hak_preset_t p) {
  return (unsigned)p < HAK_PRESET_COUNT ? preset_descriptions[p] : "?";
}

void hak_preset_config(hak_preset_t p, hak_config *cfg) {
  hak_config_copy(cfg, (unsigned)p < HAK_PRESET_COUNT ? &preset_configs[p] : &config_defaults);
}

void hak_config_default(hak_config *cfg) { hak_config_copy(cfg, &config_defaults); }

void hak_config_copy(hak_config *dst, const hak_config *src) {
  *dst = *src;
  for (int i = 0; i < HAK_OPT_COUNT; i++) {
    const hak_option_row *r = &hak_option_rows[i];
    if (r->kind != 'S') continue;
    const char *const *from = (const char *const *)((const char *)src + r->off);
    if (*from == (const char *)src + r->buf_off)
      *(const char **)((char *)dst + r->off) = (const char *)dst + r->buf_off;
  }
}

void hak_preload_config_default(hak_preload_config *pc) { *pc = preload_defaults; }

/* --------------------------------------------------------------- values */

static void set_err(char *err, size_t errlen, const char *fmt, const char *a,
                    const char *b) {
  if (err && errlen) snprintf(err, errlen, fmt, a, b);
}

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* Matches `text` against names, treating '-' and '_' alike. */
static int enum_lookup(const char *const *names, const char *text) {
  for (int i = 0; names[i]; i++) {
    const char *n = names[i], *t = text;
    while (*n && *t && (*n == *t || ((*n == '_' || *n == '-') && (*t == '_' || *t == '-')))) {
      n++;
      t++;
    }
    if (*n == '\0' && *t == '\0') return i;
  }
  return -1;
}

static int row_lookup(const hak_option_row *rows, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (enum_lookup((const char *const[]){rows[i].name, NULL}, name) == 0) return i;
  return -1;
}

static int parse_u64(const char *text, uint64_t *out) {
  if (!text || !isdigit((unsigned char)text[0])) return -1;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno || *end != '\0') return -1;
  *out = v;
  return 0;
}

/* Builds "a, b, c" from an enum's names for error messages. */
static void join_names(const char *const *names, char *buf, size_t len) {
  buf[0] = '\0';
  for (int i = 0; names[i]; i++) {
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, "%s%s", i ? ", " : "", names[i]);
  }
}

/* Sets row r of the struct at base from its text form. */
static int set_row(const hak_option_row *r, void *base, const char *value, char *err,
                   size_t errlen) {
  char *field = (char *)base + r->off;
  switch (r->kind) {
  case 'E': {
    int v = enum_lookup(r->values, value);
    if (v < 0) {
      char names[256];
      join_names(r->values, names, sizeof names);
      errf(err, errlen, "%s (one of: %s): bad value '%s'", r->name, names, value);
      return -HAK_EINVAL;
    }
    *(int *)field = v;
    return 0;
  }
  case 'U': {
    uint64_t v;
    if (parse_u64(value, &v) != 0 || v < r->min || v > r->max) {
      errf(err, errlen, "%s (an integer in %" PRIu32 "..%" PRIu32 "): bad value '%s'", r->name,
           r->min, r->max, value);
      return -HAK_EINVAL;
    }
    *(uint32_t *)field = (uint32_t)v;
    return 0;
  }
  case 'F': *(bool *)field = value[0] != '\0' && strcmp(value, "0") != 0; return 0;
  case 'P':
    if (strlen(value) >= r->size) {
      errf(err, errlen, "%s: too long (at most %zu bytes)", r->name, r->size - 1);
      return -HAK_EINVAL;
    }
    memcpy(field, value, strlen(value) + 1);
    return 0;
  default: { /* 'S' */
    char why[160];
    if (strlen(value) >= r->size) {
      errf(err, errlen, "%s: too long (at most %zu bytes)", r->name, r->size - 1);
      return -HAK_EINVAL;
    }
    if (r->check(value, why, sizeof why) != 0) {
      errf(err, errlen, "%s: %s", r->name, why);
      return -HAK_EINVAL;
    }
    char *buf = (char *)base + r->buf_off;
    memcpy(buf, value, strlen(value) + 1);
    *(const char **)field = buf;
    return 0;
  }
  }
}

const char *hak_row_value_str(const hak_option_row *r, const void *base, char *buf, size_t len) {
  const char *field = (const char *)base + r->off;
  if (!len) return buf;
  switch (r->kind) {
  case 'E': {
    int v = *(const int *)field, i = 0;
    while (r->values[i] && i < v) i++;
    snprintf(buf, len, "%s", v >= 0 && r->values[i] ? r->values[i] : "?");
    break;
  }
  case 'U': snprintf(buf, len, "%" PRIu32, *(const uint32_t *)field); break;
  case 'F': snprintf(buf, len, "%d", *(const bool *)field ? 1 : 0); break;
  case 'P': snprintf(buf, len, "%s", field); break;
  default: { /* 'S' */
    const char *s = *(const char *const *)field;
    snprintf(buf, len, "%s", s ? s : "");
    break;
  }
  }
  return buf;
}

const char *hak_config_value_str(const hak_config *cfg, hak_option_id id, char *buf,
                                 size_t len) {
  if ((unsigned)id >= HAK_OPT_COUNT) {
    if (len) buf[0] = '\0';
    return buf;
  }
  return hak_row_value_str(&hak_option_rows[id], cfg, buf, len);
}

/* ------------------------------------------------------- configurations */

static size_t field_size(const hak_option_row *r) {
  switch (r->kind) {
  case 'U': return sizeof(uint32_t);
  case 'E': return sizeof(int);
  case 'F': return sizeof(bool);
  case 'P': return r->size;
  default: return sizeof(const char *); /* 'S': presets name literals only */
  }
}

int hak_config_apply_preset(hak_config *cfg, const char *name) {
  int p = enum_lookup(preset_values, name);
  if (p < 0) return -HAK_EINVAL;
  for (int i = 0; i < HAK_OPT_COUNT; i++) {
    const hak_option_row *r = &hak_option_rows[i];
    if (r->by_preset)
      memcpy((char *)cfg + r->off, (const char *)&preset_configs[p] + r->off, field_size(r));
  }
  cfg->preset = p;
  return 0;
}

int hak_config_set(hak_config *cfg, const char *name, const char *value, char *err,
                   size_t errlen) {
  int id = row_lookup(hak_option_rows, HAK_OPT_COUNT, name);
  if (id < 0) {
    set_err(err, errlen, "unknown option '%s'%s", name, "");
    return -HAK_EINVAL;
  }
  if (id == HAK_OPT_preset) {
    if (hak_config_apply_preset(cfg, value) == 0) return 0;
    char names[256];
    join_names(preset_values, names, sizeof names);
    set_err(err, errlen, "preset: unknown preset '%s' (one of: %s)", value, names);
    return -HAK_EINVAL;
  }
  return set_row(&hak_option_rows[id], cfg, value, err, errlen);
}

int hak_config_set_kv(hak_config *cfg, const char *kv, char *err, size_t errlen) {
  const char *eq = strchr(kv, '=');
  if (!eq || eq == kv) {
    set_err(err, errlen, "expected name=value, got '%s'%s", kv, "");
    return -HAK_EINVAL;
  }
  char name[64];
  size_t n = (size_t)(eq - kv);
  if (n >= sizeof name) n = sizeof name - 1;
  memcpy(name, kv, n);
  name[n] = '\0';
  return hak_config_set(cfg, name, eq + 1, err, errlen);
}

int hak_config_from_env(hak_config *cfg, bool with_preset, char *err, size_t errlen) {
  char why[256];
  const char *p = with_preset ? getenv(hak_option_rows[HAK_OPT_preset].env) : NULL;
  if (p && *p && hak_config_set(cfg, "preset", p, why, sizeof why) != 0) {
    set_err(err, errlen, "%s: %s", hak_option_rows[HAK_OPT_preset].env, why);
    return -HAK_EINVAL;
  }
  for (int i = 0; i < HAK_OPT_COUNT; i++) {
    if (i == HAK_OPT_preset) continue;
    const char *v = getenv(hak_option_rows[i].env);
    if (!v || !*v) continue;
    if (hak_config_set(cfg, hak_option_rows[i].name, v, why, sizeof why) != 0) {
      set_err(err, errlen, "%s: %s", hak_option_rows[i].env, why);
      return -HAK_EINVAL;
    }
  }
  return 0;
}

int hak_config_validate(const hak_config *cfg, char *err, size_t errlen) {
  uint32_t sizes[HAK_MAX_CLASSES], count;
  char why[160];
  if (hak_classes_parse(cfg->size_classes, sizes, &count, why, sizeof why) != 0) {
    set_err(err, errlen, "size_classes: %s%s", why, "");
    return -HAK_EINVAL;
  }
  if (hak_classes_validate(sizes, count, cfg->slab_lg, cfg->ss_lg, why, sizeof why) != 0) {
    set_err(err, errlen, "%s%s", why, "");
    return -HAK_EINVAL;
  }
  return 0;
}

const char *hak_config_label(const hak_config *cfg, char *buf, size_t len) {
  if (!len) return buf;
  const hak_config *ref =
      (unsigned)cfg->preset < HAK_PRESET_COUNT ? &preset_configs[cfg->preset] : &config_defaults;
  int n = snprintf(buf, len, "%s", hak_preset_name((hak_preset_t)cfg->preset));
  size_t o = n < 0 ? 0 : (size_t)n;
  for (int i = 0; i < HAK_OPT_COUNT && o < len; i++) {
    if (i == HAK_OPT_preset) continue;
    char have[300], want[300];
    hak_row_value_str(&hak_option_rows[i], cfg, have, sizeof have);
    hak_row_value_str(&hak_option_rows[i], ref, want, sizeof want);
    if (strcmp(have, want) == 0) continue;
    n = snprintf(buf + o, len - o, "+%s=%s", hak_option_rows[i].name, have);
    o += n < 0 ? 0 : (size_t)n;
  }
  return buf;
}

/* ------------------------------------------------- libhakmem.so's own */

int hak_preload_config_set(hak_preload_config *pc, const char *name, const char *value, char *err,
                           size_t errlen) {
  int id = row_lookup(hak_preload_rows, HAK_PRELOAD_OPT_COUNT, name);
  if (id < 0) {
    set_err(err, errlen, "unknown option '%s'%s", name, "");
    return -HAK_EINVAL;
  }
  return set_row(&hak_preload_rows[id], pc, value, err, errlen);
}

int hak_preload_config_from_env(hak_preload_config *pc, char *err, size_t errlen) {
  char why[256];
  for (int i = 0; i < HAK_PRELOAD_OPT_COUNT; i++) {
    const hak_option_row *r = &hak_preload_rows[i];
    const char *v = getenv(r->env);
    if (!v || !*v) continue;
    if (set_row(r, pc, v, why, sizeof why) != 0) {
      set_err(err, errlen, "%s: %s", r->env, why);
      return -HAK_EINVAL;
    }
  }
  if (pc->sample_ms && !pc->sample_file[0]) {
    set_err(err, errlen, "%s needs %s", hak_preload_rows[HAK_PRELOAD_OPT_sample_ms].env,
            hak_preload_rows[HAK_PRELOAD_OPT_sample_file].env);
    return -HAK_EINVAL;
  }
  if (pc->sample_file[0] && !pc->sample_ms) pc->sample_ms = 100;
  return 0;
}
