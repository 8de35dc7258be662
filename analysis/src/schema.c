/* schema.c: what plot, compare and check read is checked first against
 * docs/run.schema.json (embedded at build time, so the document and the
 * check cannot drift apart), and refused with the path of the first field
 * that breaks it ("samples[3].frees_interval: expected an object, got an
 * array").  The readers after it may then take every field they use for
 * what the schema says it is.  The keywords covered are those the schema
 * uses: type (a name or a list), enum, minimum, maximum, pattern,
 * required, properties, items, minItems, maxItems, local $ref and
 * if/then/else (an external allocator's run has no SuperSlab fields); any
 * other keyword is an error in the schema, not ignored. */
#include <regex.h>
#include <string.h>

#include "internal.h"

static const char *kind(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_STRING: return "a string";
  case JSON_INTEGER: return "an integer";
  case JSON_REAL: return "a real number";
  case JSON_TRUE:
  case JSON_FALSE: return "a boolean";
  default: return "null";
  }
}

static int type_is(const json_t *v, const char *t) {
  if (!strcmp(t, "object")) return json_is_object(v);
  if (!strcmp(t, "array")) return json_is_array(v);
  if (!strcmp(t, "string")) return json_is_string(v);
  if (!strcmp(t, "integer")) return json_is_integer(v);
  if (!strcmp(t, "number")) return json_is_number(v);
  if (!strcmp(t, "boolean")) return json_is_boolean(v);
  if (!strcmp(t, "null")) return json_is_null(v);
  return 0;
}

/* "default" is an annotation (an option's value when a run omits it):
 * accepted, never checked. */
static const char *const known_keywords[] = {
    "$schema", "$id", "title", "description", "default", "$defs", "$ref", "type", "enum",
    "minimum", "maximum", "pattern", "required", "properties", "items", "minItems", "maxItems",
    "if", "then", "else"};

typedef struct walk {
  const json_t *root; /* the schema, for $ref */
  const char *file;   /* the run's file name, for messages */
  ha_err *err;
} walk;

static int bad(walk *w, const char *path, const char *fmt, const char *a, const char *b) {
  char what[256];
  snprintf(what, sizeof what, fmt, a, b);
  return ha_fail(w->err, HA_ERR_INPUT, "%s: %s: %s (docs/run.schema.json)", w->file,
                 path[0] ? path : "the document", what);
}

static int check(walk *w, const json_t *s, const json_t *v, char *path);

/* Appends ".key" or "[i]" to path (in a buffer of HA_PATH_MAX), checks,
 * and cuts the path back. */
static int check_child(walk *w, const json_t *s, const json_t *v, char *path, const char *key,
                       size_t index) {
  size_t len = strlen(path);
  if (key) snprintf(path + len, HA_PATH_MAX - len, "%s%s", len ? "." : "", key);
  else snprintf(path + len, HA_PATH_MAX - len, "[%zu]", index);
  int rc = check(w, s, v, path);
  path[len] = '\0';
  return rc;
}

/* Every keyword of the schema is one check() knows (checked once). */
static int keywords_known(const json_t *s, ha_err *err) {
  const char *key;
  json_t *k;
  json_object_foreach((json_t *)s, key, k) {
    int known = 0;
    for (size_t i = 0; i < sizeof known_keywords / sizeof *known_keywords; i++)
      known |= !strcmp(key, known_keywords[i]);
    if (!known) return ha_fail(err, HA_ERR_INTERNAL, "run.schema.json: keyword %s not supported", key);
    /* Subschemas: under properties and $defs (by name), items (one). */
    if (!strcmp(key, "properties") || !strcmp(key, "$defs")) {
      const char *name;
      json_t *sub;
      json_object_foreach(k, name, sub) if (keywords_known(sub, err)) return HA_ERR_INTERNAL;
    } else if ((!strcmp(key, "items") || !strcmp(key, "if") || !strcmp(key, "then") ||
                !strcmp(key, "else")) &&
               keywords_known(k, err)) {
      return HA_ERR_INTERNAL;
    }
  }
  return 0;
}

static int check(walk *w, const json_t *s, const json_t *v, char *path) {
  const char *key;
  const json_t *ref = json_object_get(s, "$ref");
  if (ref) {
    const char *r = json_string_value(ref);
    if (!r || strncmp(r, "#/$defs/", 8))
      return ha_fail(w->err, HA_ERR_INTERNAL, "run.schema.json: unsupported $ref");
    s = json_object_get(json_object_get(w->root, "$defs"), r + 8);
    if (!s) return ha_fail(w->err, HA_ERR_INTERNAL, "run.schema.json: unknown $ref %s", r);
    return check(w, s, v, path);
  }
  const json_t *type = json_object_get(s, "type");
  if (type) {
    int ok = json_is_string(type) && type_is(v, json_string_value(type));
    size_t i;
    json_t *t;
    json_array_foreach(type, i, t) ok |= type_is(v, json_string_value(t));
    if (!ok) {
      char want[96] = "";
      if (json_is_string(type)) snprintf(want, sizeof want, "%s", json_string_value(type));
      json_array_foreach(type, i, t) {
        size_t l = strlen(want);
        snprintf(want + l, sizeof want - l, "%s%s", i ? " or " : "", json_string_value(t));
      }
      return bad(w, path, "expected %s, got %s", want, kind(v));
    }
  }
  const json_t *en = json_object_get(s, "enum");
  if (en) {
    int ok = 0;
    size_t i;
    json_t *e;
    json_array_foreach(en, i, e) ok |= json_equal(e, (json_t *)v);
    if (!ok) {
      char *text = json_dumps(en, JSON_COMPACT);
      int rc = bad(w, path, "not one of %s%s", text ? text : "the allowed values", "");
      free(text);
      return rc;
    }
  }
  if (json_is_number(v)) {
    const json_t *mn = json_object_get(s, "minimum"), *mx = json_object_get(s, "maximum");
    double x = json_number_value(v);
    char lim[64];
    if (mn && x < json_number_value(mn)) {
      snprintf(lim, sizeof lim, "%.17g", json_number_value(mn));
      return bad(w, path, "below the minimum %s%s", lim, "");
    }
    if (mx && x > json_number_value(mx)) {
      snprintf(lim, sizeof lim, "%.17g", json_number_value(mx));
      return bad(w, path, "above the maximum %s%s", lim, "");
    }
  }
  const json_t *pat = json_object_get(s, "pattern");
  if (pat && json_is_string(v)) {
    regex_t re;
    if (regcomp(&re, json_string_value(pat), REG_EXTENDED | REG_NOSUB) != 0)
      return ha_fail(w->err, HA_ERR_INTERNAL, "run.schema.json: bad pattern %s", json_string_value(pat));
    int m = regexec(&re, json_string_value(v), 0, NULL, 0);
    regfree(&re);
    if (m != 0) return bad(w, path, "does not match %s%s", json_string_value(pat), "");
  }
  if (json_is_object(v)) {
    size_t i;
    json_t *req;
    json_array_foreach(json_object_get(s, "required"), i, req)
      if (!json_object_get(v, json_string_value(req)))
        return bad(w, path, "missing field \"%s\"%s", json_string_value(req), "");
    json_t *sub;
    json_object_foreach(json_object_get(s, "properties"), key, sub) {
      const json_t *child = json_object_get(v, key);
      int rc = child ? check_child(w, sub, child, path, key, 0) : 0;
      if (rc) return rc;
    }
  }
  const json_t *cond = json_object_get(s, "if");
  if (cond) {
    /* The condition's failure is no error: it picks then or else. */
    ha_err quiet;
    walk q = {w->root, w->file, &quiet};
    char scratch[HA_PATH_MAX];
    snprintf(scratch, sizeof scratch, "%s", path);
    const json_t *branch = json_object_get(s, check(&q, cond, v, scratch) == 0 ? "then" : "else");
    int rc = branch ? check(w, branch, v, path) : 0;
    if (rc) return rc;
  }
  if (json_is_array(v)) {
    const json_t *mi = json_object_get(s, "minItems"), *ma = json_object_get(s, "maxItems");
    char num[32];
    if (mi && json_array_size(v) < (size_t)json_integer_value(mi)) {
      snprintf(num, sizeof num, "%lld", (long long)json_integer_value(mi));
      return bad(w, path, "fewer than %s items%s", num, "");
    }
    if (ma && json_array_size(v) > (size_t)json_integer_value(ma)) {
      snprintf(num, sizeof num, "%lld", (long long)json_integer_value(ma));
      return bad(w, path, "more than %s items%s", num, "");
    }
    const json_t *items = json_object_get(s, "items");
    size_t i;
    json_t *item;
    if (items) json_array_foreach(v, i, item) {
        int rc = check_child(w, items, item, path, NULL, i);
        if (rc) return rc;
      }
  }
  return 0;
}

int ha_run_validate(const json_t *run, const char *file, ha_err *err) {
  static json_t *schema; /* parsed once; the analysis commands are single-threaded */
  if (!schema) {
    const char *text = ha_script_text("run.schema.json");
    json_error_t je;
    schema = text ? json_loads(text, 0, &je) : NULL;
    if (!schema) return ha_fail(err, HA_ERR_INTERNAL, "run.schema.json: not embedded or not valid JSON");
    if (keywords_known(schema, err)) {
      json_decref(schema);
      schema = NULL;
      return HA_ERR_INTERNAL;
    }
  }
  walk w = {schema, file, err};
  char path[HA_PATH_MAX] = "";
  return check(&w, schema, run, path);
}
