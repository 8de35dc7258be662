/* options_list.c: the options table as tables people read: what
 * `hakmem-options` (and `hakreplay --list-options`) print, and the Markdown
 * that docs/allocator.md and docs/preload.md embed between marker comments
 * (scripts/options-doc.sh regenerates them; the allocator.options_doc test
 * fails when they differ). Every cell comes from the table; nothing here
 * knows an option by name. Not on any allocation path: it uses malloc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options_rows.h"

#define LIST_MAX_COLS 16
#define LIST_MAX_ROWS 32

/* A table of malloc'd cells; row 0 is the header. */
typedef struct table {
  const char *title; /* text output only */
  int ncols, nrows;
  char *cell[LIST_MAX_ROWS][LIST_MAX_COLS];
  int failed;
} table;

static void put(table *t, int col, const char *text) {
  if (t->nrows > LIST_MAX_ROWS || col >= LIST_MAX_COLS) {
    t->failed = 1;
    return;
  }
  char *c = strdup(text);
  if (!c) t->failed = 1;
  t->cell[t->nrows - 1][col] = c;
}

static void new_row(table *t) {
  if (t->nrows++ >= LIST_MAX_ROWS) t->failed = 1;
}

/* `text` in Markdown, text alone in plain output. */
static const char *code(char *buf, size_t len, const char *text, int md) {
  snprintf(buf, len, md ? "`%s`" : "%s", text);
  return buf;
}

/* A value as the tables show it: names and text as code, numbers plain,
 * "unset" where the default cannot be written (an empty file name, a
 * number below the accepted range). */
static const char *shown(char *buf, size_t len, const hak_option_row *r, const void *base,
                         int md) {
  char v[300];
  hak_row_value_str(r, base, v, sizeof v);
  if ((r->kind == 'P' && !v[0]) || (r->kind == 'U' && strtoull(v, NULL, 10) < r->min))
    snprintf(buf, len, "unset");
  else if (r->kind == 'U' || r->kind == 'F')
    snprintf(buf, len, "%s", v);
  else
    code(buf, len, v, md);
  return buf;
}

/* What a row accepts. */
static const char *accepts(char *buf, size_t len, const hak_option_row *r, int md) {
  char c[96];
  buf[0] = '\0';
  switch (r->kind) {
  case 'U': snprintf(buf, len, "%u..%u", (unsigned)r->min, (unsigned)r->max); break;
  case 'E':
    for (int i = 0; r->values[i]; i++)
      snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? ", " : "",
               code(c, sizeof c, r->values[i], md));
    break;
  case 'F': snprintf(buf, len, "%s", md ? "`0`, `1`" : "0, 1"); break;
  case 'P': snprintf(buf, len, "file name"); break;
  default: snprintf(buf, len, "text"); break;
  }
  return buf;
}

/* One row per option of the core, first column its name (the options
 * table) or its environment variable (the variables table). */
static void core_rows(table *t, int md, int by_env) {
  static const char *const head[2][5] = {
      {"option", "values", "default", "environment", "meaning"},
      {"variable", "option", "values", "default", "meaning"}};
  hak_config def;
  char b[1024];
  hak_config_default(&def);
  t->ncols = 5;
  new_row(t);
  for (int c = 0; c < 5; c++) put(t, c, head[by_env][c]);
  for (int i = 0; i < HAK_OPT_COUNT; i++) {
    const hak_option_row *r = &hak_option_rows[i];
    new_row(t);
    put(t, 0, code(b, sizeof b, by_env ? r->env : r->name, md));
    put(t, by_env ? 1 : 3, code(b, sizeof b, by_env ? r->name : r->env, md));
    put(t, by_env ? 2 : 1, accepts(b, sizeof b, r, md));
    put(t, by_env ? 3 : 2, shown(b, sizeof b, r, &def, md));
    put(t, 4, r->desc);
  }
}

static void options_table(table *t, int md) {
  t->title = "Options (hak_config), lowest precedence first: defaults, the preset, each "
             "option's variable, name=value";
  core_rows(t, md, 0);
}

static void presets_table(table *t, int md) {
  char b[1024];
  t->title = "Presets: each preset's value of every option presets control";
  new_row(t);
  put(t, 0, "preset");
  int col = 1;
  for (int i = 0; i < HAK_OPT_COUNT; i++)
    if (hak_option_rows[i].by_preset) put(t, col++, hak_option_rows[i].name);
  put(t, col++, "models");
  t->ncols = col;
  for (int p = 0; p < HAK_PRESET_COUNT; p++) {
    hak_config cfg;
    hak_preset_config((hak_preset_t)p, &cfg);
    new_row(t);
    put(t, 0, code(b, sizeof b, hak_preset_name((hak_preset_t)p), md));
    col = 1;
    for (int i = 0; i < HAK_OPT_COUNT; i++)
      if (hak_option_rows[i].by_preset) put(t, col++, shown(b, sizeof b, &hak_option_rows[i], &cfg, md));
    put(t, col, hak_preset_description((hak_preset_t)p));
  }
}

static void variables_table(table *t, int md) { core_rows(t, md, 1); }

static void preload_table(table *t, int md) {
  static const char *const head[] = {"variable", "values", "default", "meaning"};
  hak_preload_config def;
  char b[1024];
  hak_preload_config_default(&def);
  t->title = "libhakmem.so's own variables (not options of the core)";
  t->ncols = 4;
  new_row(t);
  for (int c = 0; c < 4; c++) put(t, c, head[c]);
  for (int i = 0; i < HAK_PRELOAD_OPT_COUNT; i++) {
    const hak_option_row *r = &hak_preload_rows[i];
    new_row(t);
    put(t, 0, code(b, sizeof b, r->env, md));
    put(t, 1, accepts(b, sizeof b, r, md));
    put(t, 2, shown(b, sizeof b, r, &def, md));
    put(t, 3, r->desc);
  }
}

static const char *cell(const table *t, int r, int c) {
  return t->cell[r][c] ? t->cell[r][c] : "";
}

static void render(FILE *f, const table *t, int md) {
  if (md) {
    for (int r = 0; r < t->nrows; r++) {
      for (int c = 0; c < t->ncols; c++) fprintf(f, "| %s ", cell(t, r, c));
      fputs("|\n", f);
      if (r == 0) {
        for (int c = 0; c < t->ncols; c++) fputs("|---", f);
        fputs("|\n", f);
      }
    }
    return;
  }
  size_t width[LIST_MAX_COLS] = {0};
  for (int r = 0; r < t->nrows; r++)
    for (int c = 0; c < t->ncols; c++)
      if (strlen(cell(t, r, c)) > width[c]) width[c] = strlen(cell(t, r, c));
  fprintf(f, "%s\n\n", t->title);
  for (int r = 0; r < t->nrows; r++) {
    for (int c = 0; c < t->ncols; c++) {
      if (c + 1 == t->ncols) fprintf(f, "%s\n", cell(t, r, c)); /* no trailing blanks */
      else fprintf(f, "%-*s  ", (int)width[c], cell(t, r, c));
    }
  }
}

static void release(table *t) {
  for (int r = 0; r < LIST_MAX_ROWS; r++)
    for (int c = 0; c < LIST_MAX_COLS; c++) free(t->cell[r][c]);
}

char *hak_options_listing(hak_list_format format) {
  static void (*const make[])(table *, int) = {
      [HAK_LIST_OPTIONS] = options_table, [HAK_LIST_PRESETS] = presets_table,
      [HAK_LIST_VARIABLES] = variables_table, [HAK_LIST_PRELOAD] = preload_table};
  static const hak_list_format text_parts[] = {HAK_LIST_OPTIONS, HAK_LIST_PRESETS,
                                               HAK_LIST_PRELOAD};
  if ((unsigned)format > HAK_LIST_PRELOAD) return NULL;
  char *out = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&out, &size);
  if (!f) return NULL;
  int failed = 0;
  int md = format != HAK_LIST_TEXT;
  size_t nparts = md ? 1 : sizeof text_parts / sizeof *text_parts;
  for (size_t i = 0; i < nparts; i++) {
    table *t = calloc(1, sizeof *t);
    if (!t) {
      failed = 1;
      break;
    }
    make[md ? format : text_parts[i]](t, md);
    failed |= t->failed;
    if (i) fputc('\n', f);
    if (!failed) render(f, t, md);
    release(t);
    free(t);
  }
  if (fclose(f) != 0 || failed) {
    free(out);
    return NULL;
  }
  return out;
}
