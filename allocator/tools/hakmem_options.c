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
    "                          variables (the options by variable), preload, or\n"
    "                          classes (each size class's slabs and SuperSlab in the\n"
    "                          default configuration and with ss_lg=20)\n"
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

/* The default configuration's size classes, for docs/allocator.md. */
static int print_classes(void) {
  hak_allocator *a21, *a20;
  hak_config cfg;
  char err[256];
  hak_config_default(&cfg);
  hak_create_opts opts = {.no_trim_thread = true};
  if (hak_create(&cfg, &opts, &a21, err, sizeof err) != 0) return usage_error(err, NULL);
  hak_config_set(&cfg, "ss_lg", "20", err, sizeof err);
  if (hak_create(&cfg, &opts, &a20, err, sizeof err) != 0) return usage_error(err, NULL);
  puts("| class | block bytes | requests | slab | slabs per 2 MiB SuperSlab | blocks per 2 MiB "
       "SuperSlab | blocks per 1 MiB (`ss_lg=20`) |");
  puts("|---|---|---|---|---|---|---|");
  hak_class_info ci, c20;
  for (int c = 0; hak_class_geometry(a21, c, &ci) && hak_class_geometry(a20, c, &c20); c++)
    printf("| %d | %u | %u..%u | %u KiB | %u | %u | %u |\n", c, ci.block_size, ci.min_request,
           ci.block_size, ci.slab_bytes / 1024, ci.nslabs, ci.ss_blocks, c20.ss_blocks);
  printf("\nHeader: %u bytes with 32 slabs (slab 0 gives them up).\n",
         (hak_class_geometry(a21, 0, &ci), ci.header_bytes));
  hak_destroy(a20);
  hak_destroy(a21);
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
    if (argc < 3)
      return usage_error("--markdown needs a table: options, presets, variables, preload or classes",
                         NULL);
    if (!strcmp(argv[2], "classes")) return print_classes();
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++)
      if (!strcmp(argv[2], tables[i].name)) return print_listing(tables[i].format);
    return usage_error("--markdown: expected options, presets, variables, preload or classes, got",
                       argv[2]);
  }
  return usage_error("unknown option", a);
}
