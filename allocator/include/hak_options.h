/* hak_options.h: the allocator's runtime options and named presets.
 *
 * One X-macro table is the single source of every option: it generates the
 * struct fields, the defaults, the names, the environment variables, the
 * `name=value` parser and the JSON dump. A variant is a set of option
 * values, never a compile-time switch.
 *
 * Defaults model the HAKMEM allocator as the seed analysis found it
 * (the `seed-buggy` preset): no remote-free accounting, no idle trim,
 * 2 MiB SuperSlabs, fresh refill, orphans left behind.
 */
#ifndef HAK_OPTIONS_H
#define HAK_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Enumerated option values. The string names are in hak_options.c. */
typedef enum {
  HAK_REFILL_FRESH = 0, /* a thread with no room of its own maps a new SuperSlab */
  HAK_REFILL_REUSE = 1, /* first take an uncarved or empty slab of any SuperSlab */
} hak_refill_t;

typedef enum {
  HAK_ACCT_NONE = 0,  /* the seed's bug: remote frees never decrement the counter */
  HAK_ACCT_PUSH = 1,  /* Option A: decrement at the remote push */
  HAK_ACCT_DRAIN = 2, /* decrement when the owner drains the remote stack */
} hak_remote_accounting_t;

typedef enum {
  HAK_ORPHAN_LEAVE = 0, /* slabs keep their dead owner; nobody drains them */
  HAK_ORPHAN_ADOPT = 1, /* a thread needing a slab reclaims an orphaned one first */
} hak_orphan_policy_t;

typedef enum {
  HAK_BADFREE_ABORT = 0, /* one line naming the address and the fault, then abort() */
  HAK_BADFREE_COUNT = 1, /* count it (stats), ignore the free, hak_free returns -HAK_EBADFREE */
} hak_on_bad_free_t;

#define HAK_MAX_CLASSES 32
/* HAKMEM's tiny classes (powers of two to 1 KiB), then medium classes to
 * 32 KiB, four per doubling (internal waste under 25%). */
#define HAK_SIZE_CLASSES_DEFAULT                                                        \
  "8,16,32,64,128,256,512,1024,1280,1536,1792,2048,2560,3072,3584,4096,5120,6144,7168," \
  "8192,10240,12288,14336,16384,20480,24576,28672,32768"

/* Option kinds: U = unsigned integer in [min, max], E = one of an enum's
 * names, S = string (validated by its own parser).
 *
 * X(name, kind, c_type, default, min, max, env, description) */
#define HAK_OPTIONS(X)                                                              \
  X(preset, E, int, 0, 0, 0, "HAKMEM_PRESET",                                       \
    "named preset applied before the individual options")                           \
  X(refill, E, int, HAK_REFILL_FRESH, 0, 0, "HAKMEM_REFILL",                         \
    "where a thread gets a new slab: fresh (own SuperSlabs, else map) or reuse")     \
  X(remote_accounting, E, int, HAK_ACCT_NONE, 0, 0, "HAKMEM_REMOTE_ACCOUNTING",      \
    "when a cross-thread free decrements total_active_blocks: none, push, drain")    \
  X(idle_trim_ms, U, uint32_t, 0, 0, 3600000, "HAKMEM_TINY_IDLE_TRIM_MS",            \
    "background trim period in milliseconds, 0 = no trim thread")                   \
  X(trim_ss, U, uint32_t, 0, 0, 1, "HAKMEM_TINY_TRIM_SS",                            \
    "1 lets the background trim thread unmap empty SuperSlabs")                     \
  X(ss_lg, U, uint32_t, 21, 20, 22, "HAKMEM_TINY_SS_FORCE_LG",                       \
    "log2 of the SuperSlab size (20 = 1 MiB, 21 = 2 MiB)")                          \
  X(slab_lg, U, uint32_t, 16, 14, 18, "HAKMEM_SLAB_LG",                              \
    "log2 of the slab size (16 = 64 KiB)")                                          \
  X(empty_reserve, U, uint32_t, 1, 0, 1000000, "HAKMEM_EMPTY_RESERVE",               \
    "empty SuperSlabs per size class that trim keeps mapped")                       \
  X(orphan_policy, E, int, HAK_ORPHAN_LEAVE, 0, 0, "HAKMEM_ORPHAN_POLICY",           \
    "what an exiting thread's slabs become: leave or adopt")                        \
  X(ss_map_limit, U, uint32_t, 0, 0, UINT32_MAX, "HAKMEM_SS_MAP_LIMIT",              \
    "live SuperSlab mappings allowed (emulates vm.max_map_count), 0 = no limit")    \
  X(flush_on_exit, U, uint32_t, 0, 0, 1, "HAKMEM_TINY_FLUSH_ON_EXIT",                \
    "1 runs a final trim pass when the allocator is torn down")                     \
  X(size_classes, S, const char *, HAK_SIZE_CLASSES_DEFAULT, 0, 0,                   \
    "HAKMEM_SIZE_CLASSES", "block sizes in bytes, ascending multiples of 8")        \
  X(on_bad_free, E, int, HAK_BADFREE_ABORT, 0, 0, "HAKMEM_ON_BAD_FREE",              \
    "a detected double free or invalid free: abort (one line, then abort) or count") \
  X(large_cache_mb, U, uint32_t, 64, 0, 65536, "HAKMEM_LARGE_CACHE_MB",              \
    "MiB of freed large mappings kept for reuse, 0 = none; trim passes release them")

/* Named presets: the seed's scenarios.
 * X(name, remote_accounting, idle_trim_ms, trim_ss, ss_lg, refill, orphan_policy, models) */
#define HAK_PRESETS(X)                                                                   \
  X(none, HAK_ACCT_NONE, 0, 0, 21, HAK_REFILL_FRESH, HAK_ORPHAN_LEAVE,                  \
    "no preset: the defaults (HAKMEM as the seed found it) plus individual options")     \
  X(seed_buggy, HAK_ACCT_NONE, 0, 0, 21, HAK_REFILL_FRESH, HAK_ORPHAN_LEAVE,              \
    "the failing run, seed sections 1-3")                                                \
  X(fix_a, HAK_ACCT_PUSH, 0, 0, 21, HAK_REFILL_FRESH, HAK_ORPHAN_LEAVE,                   \
    "Option A alone: decrement at the remote push")                                      \
  X(fix_b, HAK_ACCT_NONE, 100, 1, 21, HAK_REFILL_FRESH, HAK_ORPHAN_LEAVE,                 \
    "Option B alone: 100 ms idle trim, accounting still broken")                         \
  X(phase1, HAK_ACCT_PUSH, 100, 1, 21, HAK_REFILL_FRESH, HAK_ORPHAN_LEAVE,                \
    "the recommended Phase 1: Option A + Option B")                                      \
  X(lg20, HAK_ACCT_NONE, 0, 0, 20, HAK_REFILL_FRESH, HAK_ORPHAN_LEAVE,                    \
    "Option C: 1 MiB SuperSlabs")                                                        \
  X(reuse, HAK_ACCT_PUSH, 100, 1, 21, HAK_REFILL_REUSE, HAK_ORPHAN_LEAVE,                 \
    "Phase 1 plus refilling from existing SuperSlabs")                                   \
  X(adopt, HAK_ACCT_PUSH, 100, 1, 21, HAK_REFILL_REUSE, HAK_ORPHAN_ADOPT,                 \
    "Option G done properly: reuse plus reclaim of orphaned slabs")

typedef enum {
#define HAK_PRESET_ENUM(name, ...) HAK_PRESET_##name,
  HAK_PRESETS(HAK_PRESET_ENUM)
#undef HAK_PRESET_ENUM
  HAK_PRESET_COUNT
} hak_preset_t;

/* The effective configuration of one allocator instance. */
typedef struct hak_config {
#define HAK_OPTION_FIELD(name, kind, type, ...) type name;
  HAK_OPTIONS(HAK_OPTION_FIELD)
#undef HAK_OPTION_FIELD
  /* Storage for size_classes when it did not come from a literal. */
  char size_classes_buf[256];
} hak_config;

typedef enum {
#define HAK_OPTION_ENUM(name, ...) HAK_OPT_##name,
  HAK_OPTIONS(HAK_OPTION_ENUM)
#undef HAK_OPTION_ENUM
  HAK_OPT_COUNT
} hak_option_id;

/* Error codes returned (negated) by functions that can fail. */
#define HAK_EINVAL 1   /* bad value, unknown name, foreign pointer */
#define HAK_ENOMEM 2   /* out of memory (map limit or mmap failure) */
#define HAK_EBADFREE 3 /* a double free or a pointer inside a block (on_bad_free=count) */

/* Fills *cfg with the defaults (the seed's HAKMEM). */
void hak_config_default(hak_config *cfg);

/* Copies a configuration (size_classes may point into the source's own
 * buffer: a plain struct copy would leave it pointing there). */
void hak_config_copy(hak_config *dst, const hak_config *src);

/* Applies preset `name` (dashes or underscores) to *cfg: sets the preset
 * field and every option the preset names. Returns 0 or -HAK_EINVAL. */
int hak_config_apply_preset(hak_config *cfg, const char *name);

/* Sets option `name` from its text form. Returns 0, or -HAK_EINVAL with a
 * one-line reason in err (if err is not NULL). A preset given this way is
 * applied as hak_config_apply_preset does. */
int hak_config_set(hak_config *cfg, const char *name, const char *value, char *err,
                   size_t errlen);

/* Parses "name=value". Same results as hak_config_set. */
int hak_config_set_kv(hak_config *cfg, const char *kv, char *err, size_t errlen);

/* Reads the HAKMEM_* environment: first HAKMEM_PRESET (unless with_preset
 * is false: a caller that took the preset from its command line), then
 * every other option's variable. Returns 0 or -HAK_EINVAL (err names the
 * variable). */
int hak_config_from_env(hak_config *cfg, bool with_preset, char *err, size_t errlen);

/* Checks cross-option constraints (size classes parse and fit a slab).
 * Returns 0 or -HAK_EINVAL with the reason in err. */
int hak_config_validate(const hak_config *cfg, char *err, size_t errlen);

/* Text form of an option's current value, written into buf. */
const char *hak_config_value_str(const hak_config *cfg, hak_option_id id, char *buf,
                                 size_t len);

/* Option metadata. */
const char *hak_option_name(hak_option_id id);
const char *hak_option_env(hak_option_id id);
const char *hak_option_description(hak_option_id id);

/* Preset metadata: canonical name with dashes ("seed-buggy"). */
const char *hak_preset_name(hak_preset_t p);
const char *hak_preset_description(hak_preset_t p);

#endif
