/* options.c: the options table (defaults, names, environment variables,
 * text parsing) and the named presets. Every function here is generated
 * from HAK_OPTIONS / HAK_PRESETS, so adding an option is one table line.
 *
 * Precedence, lowest first: defaults, the preset (from whichever source
 * named it), individual environment variables, individual `name=value`
 * settings (the command line). A preset given later resets only the
 * options a preset controls.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Names of enumerated values, NULL-terminated, per enum option. */
static const char *const refill_names[] = {"fresh", "reuse", NULL};
static const char *const acct_names[] = {"none", "push", "drain", NULL};
static const char *const orphan_names[] = {"leave", "adopt", NULL};
static const char *const badfree_names[] = {"abort", "count", NULL};
static const char *const preset_names[] = {
#define HAK_PRESET_NAME(name, ...) #name,
    HAK_PRESETS(HAK_PRESET_NAME)
#undef HAK_PRESET_NAME
        NULL};
static const char *const preset_descriptions[] = {
#define HAK_PRESET_DESC(name, acct, trim, tss, lg, refill, orphan, desc) desc,
    HAK_PRESETS(HAK_PRESET_DESC)
#undef HAK_PRESET_DESC
};

/* The enum names of each option (NULL for non-enum options). */
static const char *const *enum_names(hak_option_id id) {
  switch (id) {
  case HAK_OPT_preset: return preset_names;
  case HAK_OPT_refill: return refill_names;
  case HAK_OPT_remote_accounting: return acct_names;
  case HAK_OPT_orphan_policy: return orphan_names;
  case HAK_OPT_on_bad_free: return badfree_names;
  default: return NULL;
  }
}

static const struct {
  const char *name, *env, *desc;
  char kind;
  uint64_t min, max;
} option_table[] = {
#define HAK_OPTION_ROW(name, kind, type, def, min, max, env, desc) \
  {#name, env, desc, #kind[0], (uint64_t)(min), (uint64_t)(max)},
    HAK_OPTIONS(HAK_OPTION_ROW)
#undef HAK_OPTION_ROW
};

const char *hak_option_name(hak_option_id id) { return option_table[id].name; }
const char *hak_option_env(hak_option_id id) { return option_table[id].env; }
const char *hak_option_description(hak_option_id id) { return option_table[id].desc; }

/* Preset names are C identifiers in the table; users write dashes. */
const char *hak_preset_name(hak_preset_t p) {
  static char names[HAK_PRESET_COUNT][32];
  static const char *const canonical[] = {
#define HAK_PRESET_CANON(name, ...) #name,
      HAK_PRESETS(HAK_PRESET_CANON)
#undef HAK_PRESET_CANON
  };
  if ((unsigned)p >= HAK_PRESET_COUNT) return "?";
  /* Dash form computed once per name; the table strings are immutable. */
  if (names[p][0] == '\0') {
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%s", canonical[p]);
    for (char *c = tmp; *c; c++)
      if (*c == '_') *c = '-';
    memcpy(names[p], tmp, sizeof tmp);
  }
  return names[p];
}

const char *hak_preset_description(hak_preset_t p) {
  return (unsigned)p < HAK_PRESET_COUNT ? preset_descriptions[p] : "?";
}

void hak_config_default(hak_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
#define HAK_OPTION_DEFAULT(name, kind, type, def, ...) cfg->name = def;
  HAK_OPTIONS(HAK_OPTION_DEFAULT)
#undef HAK_OPTION_DEFAULT
}

void hak_config_copy(hak_config *dst, const hak_config *src) {
  *dst = *src;
  if (src->size_classes == src->size_classes_buf) dst->size_classes = dst->size_classes_buf;
}

static void set_err(char *err, size_t errlen, const char *fmt, const char *a,
                    const char *b) {
  if (err && errlen) snprintf(err, errlen, fmt, a, b);
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

int hak_config_apply_preset(hak_config *cfg, const char *name) {
  int p = enum_lookup(preset_names, name);
  if (p < 0) return -HAK_EINVAL;
  cfg->preset = p;
  switch (p) {
#define HAK_PRESET_APPLY(pname, acct, trim, tss, lg, refill_, orphan, desc) \
  case HAK_PRESET_##pname:                                                  \
    cfg->remote_accounting = acct;                                          \
    cfg->idle_trim_ms = trim;                                               \
    cfg->trim_ss = tss;                                                     \
    cfg->ss_lg = lg;                                                        \
    cfg->refill = refill_;                                                  \
    cfg->orphan_policy = orphan;                                            \
    break;
    HAK_PRESETS(HAK_PRESET_APPLY)
#undef HAK_PRESET_APPLY
  }
  return 0;
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
  for (char *c = buf; *c; c++)
    if (*c == '_') *c = '-';
}

int hak_config_set(hak_config *cfg, const char *name, const char *value, char *err,
                   size_t errlen) {
  int id = -1;
  for (int i = 0; i < HAK_OPT_COUNT; i++)
    if (enum_lookup((const char *const[]){option_table[i].name, NULL}, name) == 0) id = i;
  if (id < 0) {
    set_err(err, errlen, "unknown option '%s'%s", name, "");
    return -HAK_EINVAL;
  }
  if (id == HAK_OPT_preset) {
    if (hak_config_apply_preset(cfg, value) == 0) return 0;
    char names[256];
    join_names(preset_names, names, sizeof names);
    set_err(err, errlen, "preset: unknown preset '%s' (one of: %s)", value, names);
    return -HAK_EINVAL;
  }
  switch (option_table[id].kind) {
  case 'E': {
    int v = enum_lookup(enum_names((hak_option_id)id), value);
    if (v < 0) {
      char names[256], what[300];
      join_names(enum_names((hak_option_id)id), names, sizeof names);
      snprintf(what, sizeof what, "%s (one of: %s)", option_table[id].name, names);
      set_err(err, errlen, "%s: bad value '%s'", what, value);
      return -HAK_EINVAL;
    }
    switch (id) {
#define HAK_SETE_E(oname) \
  case HAK_OPT_##oname: cfg->oname = v; break;
#define HAK_SETE_U(oname)
#define HAK_SETE_S(oname)
#define HAK_OPTION_SETE(oname, kind, ...) HAK_SETE_##kind(oname)
      HAK_OPTIONS(HAK_OPTION_SETE)
#undef HAK_OPTION_SETE
#undef HAK_SETE_E
#undef HAK_SETE_U
#undef HAK_SETE_S
    default: break;
    }
    return 0;
  }
  case 'U': {
    uint64_t v;
    if (parse_u64(value, &v) != 0 || v < option_table[id].min || v > option_table[id].max) {
      char what[128];
      snprintf(what, sizeof what, "%s (an integer in %" PRIu64 "..%" PRIu64 ")",
               option_table[id].name, option_table[id].min, option_table[id].max);
      set_err(err, errlen, "%s: bad value '%s'", what, value);
      return -HAK_EINVAL;
    }
    switch (id) {
#define HAK_SET_U(oname) \
  case HAK_OPT_##oname: cfg->oname = (uint32_t)v; break;
#define HAK_SET_E(oname)
#define HAK_SET_S(oname)
#define HAK_OPTION_SET(oname, kind, ...) HAK_SET_##kind(oname)
      HAK_OPTIONS(HAK_OPTION_SET)
#undef HAK_OPTION_SET
#undef HAK_SET_U
#undef HAK_SET_E
#undef HAK_SET_S
    default: break;
    }
    return 0;
  }
  default: { /* 'S': size_classes, the only string option */
    uint32_t sizes[HAK_MAX_CLASSES], count;
    char why[160];
    if (strlen(value) >= sizeof cfg->size_classes_buf ||
        hak_classes_parse(value, sizes, &count, why, sizeof why) != 0) {
      set_err(err, errlen, "size_classes: %s", strlen(value) >= sizeof cfg->size_classes_buf
                                                    ? "list too long"
                                                    : why, "");
      return -HAK_EINVAL;
    }
    snprintf(cfg->size_classes_buf, sizeof cfg->size_classes_buf, "%s", value);
    cfg->size_classes = cfg->size_classes_buf;
    return 0;
  }
  }
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
  const char *p = with_preset ? getenv(option_table[HAK_OPT_preset].env) : NULL;
  if (p && *p && hak_config_set(cfg, "preset", p, why, sizeof why) != 0) {
    set_err(err, errlen, "%s: %s", option_table[HAK_OPT_preset].env, why);
    return -HAK_EINVAL;
  }
  for (int i = 0; i < HAK_OPT_COUNT; i++) {
    if (i == HAK_OPT_preset) continue;
    const char *v = getenv(option_table[i].env);
    if (!v || !*v) continue;
    if (hak_config_set(cfg, option_table[i].name, v, why, sizeof why) != 0) {
      set_err(err, errlen, "%s: %s", option_table[i].env, why);
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

const char *hak_config_value_str(const hak_config *cfg, hak_option_id id, char *buf,
                                 size_t len) {
  switch (id) {
  case HAK_OPT_preset: snprintf(buf, len, "%s", hak_preset_name(cfg->preset)); break;
  case HAK_OPT_refill: snprintf(buf, len, "%s", refill_names[cfg->refill]); break;
  case HAK_OPT_remote_accounting:
    snprintf(buf, len, "%s", acct_names[cfg->remote_accounting]);
    break;
  case HAK_OPT_orphan_policy: snprintf(buf, len, "%s", orphan_names[cfg->orphan_policy]); break;
  case HAK_OPT_on_bad_free: snprintf(buf, len, "%s", badfree_names[cfg->on_bad_free]); break;
  case HAK_OPT_size_classes: snprintf(buf, len, "%s", cfg->size_classes); break;
#define HAK_STR_U(oname) \
  case HAK_OPT_##oname: snprintf(buf, len, "%" PRIu32, cfg->oname); break;
#define HAK_STR_E(oname)
#define HAK_STR_S(oname)
#define HAK_OPTION_STR(oname, kind, ...) HAK_STR_##kind(oname)
    HAK_OPTIONS(HAK_OPTION_STR)
#undef HAK_OPTION_STR
#undef HAK_STR_U
#undef HAK_STR_E
#undef HAK_STR_S
  default: buf[0] = '\0'; break;
  }
  return buf;
}
