/* schema_check.c: see schema_check.h. Unknown keywords are ignored. */
#include "schema_check.h"

#include <regex.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>

static int type_is(json_t *v, const char *t) {
  if (!strcmp(t, "object")) return json_is_object(v);
  if (!strcmp(t, "array")) return json_is_array(v);
  if (!strcmp(t, "string")) return json_is_string(v);
  if (!strcmp(t, "integer")) return json_is_integer(v);
  if (!strcmp(t, "number")) return json_is_number(v);
  if (!strcmp(t, "boolean")) return json_is_boolean(v);
  if (!strcmp(t, "null")) return json_is_null(v);
  return 0;
}

static int fail(char *err, size_t errlen, const char *path, const char *what, const char *arg) {
  snprintf(err, errlen, "%s: %s%s", path, what, arg ? arg : "");
  return -1;
}

int schema_check(json_t *root, json_t *s, json_t *v, const char *path, char *err,
                 size_t errlen) {
  json_t *ref = json_object_get(s, "$ref");
  if (ref) {
    const char *r = json_string_value(ref);
    if (strncmp(r, "#/$defs/", 8) != 0) return fail(err, errlen, path, "unsupported $ref ", r);
    s = json_object_get(json_object_get(root, "$defs"), r + 8);
    if (!s) return fail(err, errlen, path, "unknown $ref ", r);
  }
  json_t *type = json_object_get(s, "type");
  if (type) {
    int ok = 0;
    if (json_is_string(type)) ok = type_is(v, json_string_value(type));
    size_t i;
    json_t *t;
    json_array_foreach(type, i, t) ok |= type_is(v, json_string_value(t));
    if (!ok) return fail(err, errlen, path, "wrong type", NULL);
  }
  json_t *en = json_object_get(s, "enum");
  if (en) {
    int ok = 0;
    size_t i;
    json_t *e;
    json_array_foreach(en, i, e) ok |= json_equal(e, v);
    if (!ok) return fail(err, errlen, path, "value not in enum", NULL);
  }
  if (json_is_number(v)) {
    json_t *mn = json_object_get(s, "minimum"), *mx = json_object_get(s, "maximum");
    if (mn && json_number_value(v) < json_number_value(mn))
      return fail(err, errlen, path, "below minimum", NULL);
    if (mx && json_number_value(v) > json_number_value(mx))
      return fail(err, errlen, path, "above maximum", NULL);
  }
  json_t *pat = json_object_get(s, "pattern");
  if (pat && json_is_string(v)) {
    regex_t re;
    if (regcomp(&re, json_string_value(pat), REG_EXTENDED | REG_NOSUB) != 0)
      return fail(err, errlen, path, "bad pattern ", json_string_value(pat));
    int m = regexec(&re, json_string_value(v), 0, NULL, 0);
    regfree(&re);
    if (m != 0) return fail(err, errlen, path, "does not match ", json_string_value(pat));
  }
  if (json_is_object(v)) {
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(s, "required"), i, k) {
      if (!json_object_get(v, json_string_value(k)))
        return fail(err, errlen, path, "missing ", json_string_value(k));
    }
    const char *key;
    json_t *sub;
    json_object_foreach(json_object_get(s, "properties"), key, sub) {
      json_t *child = json_object_get(v, key);
      if (!child) continue;
      char p[512];
      snprintf(p, sizeof p, "%s.%s", path, key);
      if (schema_check(root, sub, child, p, err, errlen) != 0) return -1;
    }
  }
  if (json_is_array(v)) {
    json_t *mi = json_object_get(s, "minItems"), *ma = json_object_get(s, "maxItems");
    if (mi && json_array_size(v) < (size_t)json_integer_value(mi))
      return fail(err, errlen, path, "too few items", NULL);
    if (ma && json_array_size(v) > (size_t)json_integer_value(ma))
      return fail(err, errlen, path, "too many items", NULL);
    json_t *items = json_object_get(s, "items");
    size_t i;
    json_t *item;
    if (items) json_array_foreach(v, i, item) {
        char p[512];
        snprintf(p, sizeof p, "%s[%zu]", path, i);
        if (schema_check(root, items, item, p, err, errlen) != 0) return -1;
      }
  }
  json_t *cond = json_object_get(s, "if");
  if (cond) {
    char quiet[256];
    bool holds = schema_check(root, cond, v, path, quiet, sizeof quiet) == 0;
    json_t *branch = json_object_get(s, holds ? "then" : "else");
    if (branch && schema_check(root, branch, v, path, err, errlen) != 0) return -1;
  }
  return 0;
}
