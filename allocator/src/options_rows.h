/* options_rows.h: the options table as data (one row per option, generated
 * from HAK_OPTIONS and HAK_PRELOAD_OPTIONS), shared by options.c (parsing,
 * presets, the label) and options_list.c (what hakmem-options prints). */
#ifndef HAK_OPTIONS_ROWS_H
#define HAK_OPTIONS_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hak_options.h"

typedef struct hak_option_row {
  const char *name, *env, *desc;
  char kind;                                        /* U E S F P, as in HAK_OPTIONS */
  bool by_preset;                                   /* presets set it */
  uint32_t min, max;                                /* U */
  const char *const *values;                        /* E: names, NULL-terminated */
  int (*check)(const char *text, char *why, size_t len); /* S */
  size_t off;                                       /* the field, in its struct */
  size_t size;                                      /* S: of its buffer; P: of the field */
  size_t buf_off;                                   /* S: its buffer */
} hak_option_row;

/* hak_config's rows (by hak_option_id) and hak_preload_config's. */
extern const hak_option_row hak_option_rows[HAK_OPT_COUNT];
extern const hak_option_row hak_preload_rows[HAK_PRELOAD_OPT_COUNT];

/* The text form of a row's value in the struct at base (hak_config or
 * hak_preload_config, whichever the row belongs to). */
const char *hak_row_value_str(const hak_option_row *r, const void *base, char *buf, size_t len);

#endif
