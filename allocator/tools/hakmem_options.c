/* hakmem_options.c: `hakmem-options`, the allocator's options table for
 * people and scripts: every option with its values, default, variable and
 * each preset's value; the Markdown the docs embed (scripts/options-doc.sh);
 * the preset names; the variant label of an environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hakmem.h"

static const char usage_text[] =
    "usage: hakmem-options [--markdown TABLE | --presets | --label [NAME=VALUE]...]\n"
    "\n"
    "Prints the hakmem allocator's options table (allocator/include/hak_options.h).\n"
    "\n"
    "  (nothing)               every option (values, default, variable, meaning), each\n"
    "                          preset's value of the options presets control, and\n"
    "                          libhakmem.so's own variables\n"
    "  --markdown TABLE        one table as the docs embed it: options, presets,\n"
    "                          variables (the options by variable) or preload\n"
    "  --presets               the preset names, one a line\n"
    "  --label [NAME=VALUE]... the variant label (as run.json's config.variant) of the\n"
    "                          HAKMEM_* environment with these settings on top\n"
    "  -h, --help              this text\n"
    "\n"
    "Exit: 0 done, 2 bad usage or a bad setting.\n";

static int usage_error(const char *msg, const char *arg) {
  fprintf(stderr, "hakmem-options: %s%s%s\nTry 'hakmem-options --help'.\n", msg, arg ? ": " : "",
          arg ? arg : "");
  return 2;
}

static int print_listing(hak_list_format format) {
  char *text = hak_options_listing(format);
  if (!text) {
    fprintf(stderr, "hakmem-options: out of memory\n");
    return 4;
  }
  fputs(text, stdout);
  free(text);
  return 0;
}

static int print_label(int argc, char **argv) {
  hak_config cfg;
  char err[320], label[HAK_LABEL_MAX];
  hak_config_default(&cfg);
  if (hak_config_from_env(&cfg, true, err, sizeof err) != 0) return usage_error(err, NULL);
  for (int i = 0; i < argc; i++)
    if (hak_config_set_kv(&cfg, argv[i], err, sizeof err) != 0) return usage_error(err, NULL);
  puts(hak_config_label(&cfg, label, sizeof label));
  return 0;
}

int main(int argc, char **argv) {
  static const struct {
    const char *name;
    hak_list_format format;
  } tables[] = {{"options", HAK_LIST_OPTIONS},
                {"presets", HAK_LIST_PRESETS},
                {"variables", HAK_LIST_VARIABLES},
                {"preload", HAK_LIST_PRELOAD}};
  if (argc == 1) return print_listing(HAK_LIST_TEXT);
  const char *a = argv[1];
  if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
    fputs(usage_text, stdout);
    return 0;
  }
  if (!strcmp(a, "--label")) return print_label(argc - 2, argv + 2);
  if (argc > 3 || (argc == 3 && strcmp(a, "--markdown")))
    return usage_error("unexpected argument", argv[argc - 1]);
  if (!strcmp(a, "--presets")) {
    for (int p = 0; p < HAK_PRESET_COUNT; p++) puts(hak_preset_name((hak_preset_t)p));
    return 0;
  }
  if (!strcmp(a, "--markdown")) {
    if (argc < 3) return usage_error("--markdown needs a table: options, presets, variables or preload", NULL);
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++)
      if (!strcmp(argv[2], tables[i].name)) return print_listing(tables[i].format);
    return usage_error("--markdown: expected options, presets, variables or preload, got", argv[2]);
  }
  return usage_error("unknown option", a);
}
