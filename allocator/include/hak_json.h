/* hak_json.h: the allocator's configuration, stats and census as jansson
 * values (generated from the same X-macro tables as the structs). */
#ifndef HAK_JSON_H
#define HAK_JSON_H

#include <jansson.h>

#include "hakmem.h"

/* {"preset": "seed-buggy", "refill": "fresh", ..., "ss_lg": 21, ...}:
 * every option, effective value, in table order; an option added after
 * run.json version 1 (HAK_OPTIONS_AFTER_V1) only when away from its
 * default. */
json_t *hak_config_to_json(const hak_config *cfg);

/* [{"name", "env", "default", "description"}, ...] for documentation. */
json_t *hak_options_table_json(void);

/* The counters of hak_stats' thread and global lists, by name (run.json
 * version 1's summary.allocator: the mapping and mesh counters are not in
 * it). */
json_t *hak_stats_to_json(const hak_stats *s);

/* The mapping and mesh counters (HAK_MAP_STAT_FIELDS), by name. */
json_t *hak_map_stats_to_json(const hak_stats *s);

/* One SuperSlab; the address is left out (golden files must not hold it). */
json_t *hak_ss_info_to_json(const hak_ss_info *ss);

#endif
