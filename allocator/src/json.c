/* json.c: jansson views of the options, stats and SuperSlab snapshots.
 * Nothing here is on an allocation path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hak_json.h"
#include "internal.h"

/* Unsigned options are numbers in JSON, the others strings. */
static json_t *option_value(const hak_config *cfg, hak_option_id id) {
  char buf[256];
  hak_config_value_str(cfg, id, buf, sizeof buf);
  if (hak_option_kind(id) == 'U') return json_integer((json_int_t)strtoull(buf, NULL, 10));
  return json_string(buf);
}

/* An option added after run.json version 1, at its default: left out, so
 * the runs of earlier variants read as they did (HAK_OPTIONS_AFTER_V1). */
static bool left_out(const hak_config *cfg, const hak_config *def, hak_option_id id) {
  if (!hak_option_after_v1(id)) return false;
  char have[256], want[256];
  return !strcmp(hak_config_value_str(cfg, id, have, sizeof have),
                 hak_config_value_str(def, id, want, sizeof want));
}

json_t *hak_config_to_json(const hak_config *cfg) {
  hak_config def;
  hak_config_default(&def);
  json_t *o = json_object();
  for (int i = 0; i < HAK_OPT_COUNT; i++)
    if (!left_out(cfg, &def, (hak_option_id)i))
      json_object_set_new(o, hak_option_name((hak_option_id)i), option_value(cfg, (hak_option_id)i));
  return o;
}

json_t *hak_options_table_json(void) {
  hak_config def;
  hak_config_default(&def);
  json_t *arr = json_array();
  for (int i = 0; i < HAK_OPT_COUNT; i++) {
    json_t *row = json_object();
    json_object_set_new(row, "name", json_string(hak_option_name((hak_option_id)i)));
    json_object_set_new(row, "env", json_string(hak_option_env((hak_option_id)i)));
    json_object_set_new(row, "default", option_value(&def, (hak_option_id)i));
    json_object_set_new(row, "description",
                        json_string(hak_option_description((hak_option_id)i)));
    json_array_append_new(arr, row);
  }
  return arr;
}

json_t *hak_stats_to_json(const hak_stats *s) {
  json_t *o = json_object();
#define HAK_STAT_JSON(name, desc) json_object_set_new(o, #name, json_integer((json_int_t)s->name));
  HAK_THREAD_STAT_FIELDS(HAK_STAT_JSON)
  HAK_GLOBAL_STAT_FIELDS(HAK_STAT_JSON)
#undef HAK_STAT_JSON
  return o;
}

json_t *hak_map_stats_to_json(const hak_stats *s) {
  json_t *o = json_object();
#define HAK_STAT_JSON(name, desc) json_object_set_new(o, #name, json_integer((json_int_t)s->name));
  HAK_MAP_STAT_FIELDS(HAK_STAT_JSON)
#undef HAK_STAT_JSON
  return o;
}

json_t *hak_ss_info_to_json(const hak_ss_info *ss) {
  return json_pack("{sI sI sI sI sI sI sI sI sI sI sI sb sI sI sI sI}",
                   "id", (json_int_t)ss->id,
                   "class", (json_int_t)ss->class_idx,
                   "block_size", (json_int_t)ss->block_size,
                   "lg", (json_int_t)ss->lg,
                   "nslabs", (json_int_t)ss->nslabs,
                   "slabs_owned", (json_int_t)ss->slabs_owned,
                   "slabs_orphaned", (json_int_t)ss->slabs_orphaned,
                   "slabs_free", (json_int_t)ss->slabs_free,
                   "capacity", (json_int_t)ss->capacity,
                   "cached_by", (json_int_t)ss->cached_by,
                   "owner_tid", (json_int_t)ss->owner_tid,
                   "owner_alive", ss->owner_alive,
                   "total_active_blocks", (json_int_t)ss->total_active_blocks,
                   "remote_pending", (json_int_t)ss->remote_pending,
                   "used_blocks", (json_int_t)ss->used_blocks,
                   "touched_bytes", (json_int_t)ss->touched_bytes);
}
