/* hak_options.h: the allocator's runtime options and named presets.
 *
 * One table is the single source of every option, closed over everything
 * that describes one: the enumerated values' names (the *_VALUES lists),
 * the presets (HAK_PRESETS, initialisers of the configuration), and the
 * variables libhakmem.so reads for itself (HAK_PRELOAD_OPTIONS, same row
 * shape). From it come the struct fields, the enums, the defaults, the
 * names, the environment variables, the `name=value` parser, the JSON
 * dump, the run label and the tables `hakmem-options` prints (which the
 * docs embed and are checked against). A variant is a set of option
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

/* ------------------------------------------------------ enumerated values */

/* X(constant, "name", "description"): constants count from 0 in list
 * order; the names are what users write and what JSON shows. */
#define HAK_REFILL_VALUES(X)                                                          \
  X(HAK_REFILL_FRESH, "fresh", "a thread with no room of its own maps a new SuperSlab") \
  X(HAK_REFILL_REUSE, "reuse", "first take an uncarved or empty slab of any SuperSlab")

#define HAK_REMOTE_ACCOUNTING_VALUES(X)                                                  \
  X(HAK_ACCT_NONE, "none", "the seed's bug: remote frees never decrement the counter")   \
  X(HAK_ACCT_PUSH, "push", "Option A: decrement at the remote push")                     \
  X(HAK_ACCT_DRAIN, "drain", "decrement when the owner drains the remote stack")

#define HAK_ORPHAN_POLICY_VALUES(X)                                                 \
  X(HAK_ORPHAN_LEAVE, "leave", "slabs keep their dead owner; nobody drains them")   \
  X(HAK_ORPHAN_ADOPT, "adopt", "a thread needing a slab reclaims an orphaned one first")

#define HAK_ON_BAD_FREE_VALUES(X)                                                        \
  X(HAK_BADFREE_ABORT, "abort", "one line naming the address and the fault, then abort()") \
  X(HAK_BADFREE_COUNT, "count",                                                          \
    "count it (stats), ignore the free, hak_free returns -HAK_EBADFREE")

#define HAK_COMPACTION_VALUES(X)                                                         \
  X(HAK_COMPACTION_NONE, "none", "SuperSlabs are anonymous mappings; live blocks never move") \
  X(HAK_COMPACTION_MESH, "mesh",                                                         \
    "SuperSlabs in a memfd, so hak_mesh can merge two slabs whose live blocks do not overlap")

#define HAK_SLOT_ORDER_VALUES(X)                                                          \
  X(HAK_SLOT_BUMP, "bump", "a slab's blocks are first handed out in address order")        \
  X(HAK_SLOT_RANDOM, "random",                                                            \
    "in a pseudo-random order per slab (slot_seed), so live blocks fall at different offsets")

#define HAK_SLAB0_VALUES(X)                                                               \
  X(HAK_SLAB0_FIRST, "first", "a SuperSlab's slab 0 (the one holding its header) is taken first") \
  X(HAK_SLAB0_LAST, "last", "slab 0 is taken after every other slab: it never meshes")

#define HAK_ENUM_CONSTANT(constant, ...) constant,
typedef enum { HAK_REFILL_VALUES(HAK_ENUM_CONSTANT) } hak_refill_t;
typedef enum { HAK_REMOTE_ACCOUNTING_VALUES(HAK_ENUM_CONSTANT) } hak_remote_accounting_t;
typedef enum { HAK_ORPHAN_POLICY_VALUES(HAK_ENUM_CONSTANT) } hak_orphan_policy_t;
typedef enum { HAK_ON_BAD_FREE_VALUES(HAK_ENUM_CONSTANT) } hak_on_bad_free_t;
typedef enum { HAK_COMPACTION_VALUES(HAK_ENUM_CONSTANT) } hak_compaction_t;
typedef enum { HAK_SLOT_ORDER_VALUES(HAK_ENUM_CONSTANT) } hak_slot_order_t;
typedef enum { HAK_SLAB0_VALUES(HAK_ENUM_CONSTANT) } hak_slab0_t;

#define HAK_MAX_CLASSES 32
/* HAKMEM's tiny classes (powers of two to 1 KiB), then medium classes to
 * 32 KiB, four per doubling (internal waste under 25%). */
#define HAK_SIZE_CLASSES_DEFAULT                                                        \
  "8,16,32,64,128,256,512,1024,1280,1536,1792,2048,2560,3072,3584,4096,5120,6144,7168," \
  "8192,10240,12288,14336,16384,20480,24576,28672,32768"

/* ---------------------------------------------------------------- options */

/* X(name, kind, values, by_preset, default, min, max, env, description)
 *
 * kind   U  unsigned integer in [min, max] (uint32_t)
 *        E  one of the names in `values`, a *_VALUES list (int)
 *        S  text checked by `values`, a function of options.c; the text
 *           lives in NAME_buf when it did not come from a literal
 *        F  flag: "" and "0" are off, anything else is on (bool)
 *        P  a file name, "" for none (char[HAK_PATH_MAX])
 * values `-` where the kind has none.
 * by_preset
 *        1: presets control the option. Applying a preset sets it to the
 *        value the preset's row names, or else to its default; options
 *        with 0 are left alone (a test holds every preset to that).
 *
 * The core's options, the fields of hak_config: */
#define HAK_OPTIONS(X)                                                                   \
  X(preset, E, HAK_PRESETS, 0, HAK_PRESET_none, 0, 0, "HAKMEM_PRESET",                   \
    "named preset applied before the individual options")                                \
  X(refill, E, HAK_REFILL_VALUES, 1, HAK_REFILL_FRESH, 0, 0, "HAKMEM_REFILL",            \
    "where a thread gets a new slab: fresh (own SuperSlabs, else map) or reuse")          \
  X(remote_accounting, E, HAK_REMOTE_ACCOUNTING_VALUES, 1, HAK_ACCT_NONE, 0, 0,          \
    "HAKMEM_REMOTE_ACCOUNTING",                                                          \
    "when a cross-thread free decrements total_active_blocks")                           \
  X(idle_trim_ms, U, -, 1, 0, 0, 3600000, "HAKMEM_TINY_IDLE_TRIM_MS",                    \
    "background trim period in milliseconds, 0 = no trim thread")                        \
  X(trim_ss, U, -, 1, 0, 0, 1, "HAKMEM_TINY_TRIM_SS",                                    \
    "1 lets the background trim thread unmap empty SuperSlabs")                          \
  X(ss_lg, U, -, 1, 21, 20, 22, "HAKMEM_TINY_SS_FORCE_LG",                               \
    "log2 of the SuperSlab size (20 = 1 MiB, 21 = 2 MiB)")                               \
  X(slab_lg, U, -, 0, 16, 14, 18, "HAKMEM_SLAB_LG", "log2 of the slab size (16 = 64 KiB)") \
  X(empty_reserve, U, -, 0, 1, 0, 1000000, "HAKMEM_EMPTY_RESERVE",                       \
    "empty SuperSlabs per size class that trim keeps mapped")                            \
  X(orphan_policy, E, HAK_ORPHAN_POLICY_VALUES, 1, HAK_ORPHAN_LEAVE, 0, 0,               \
    "HAKMEM_ORPHAN_POLICY", "what an exiting thread's slabs become")                     \
  X(ss_map_limit, U, -, 0, 0, 0, UINT32_MAX, "HAKMEM_SS_MAP_LIMIT",                      \
    "live SuperSlab mappings allowed (emulates vm.max_map_count), 0 = no limit")         \
  X(flush_on_exit, U, -, 0, 0, 0, 1, "HAKMEM_TINY_FLUSH_ON_EXIT",                        \
    "1 runs a final trim pass when the allocator is torn down")                          \
  X(size_classes, S, size_classes_check, 0, HAK_SIZE_CLASSES_DEFAULT, 0, 0,              \
    "HAKMEM_SIZE_CLASSES", "block sizes in bytes, ascending multiples of 8")             \
  X(on_bad_free, E, HAK_ON_BAD_FREE_VALUES, 0, HAK_BADFREE_ABORT, 0, 0,                  \
    "HAKMEM_ON_BAD_FREE",                                                                \
    "a detected double free or invalid free: abort (one line, then abort) or count")      \
  X(large_cache_mb, U, -, 0, 64, 0, 65536, "HAKMEM_LARGE_CACHE_MB",                      \
    "MiB of freed large mappings kept for reuse, 0 = none; trim passes release them")    \
  X(compaction, E, HAK_COMPACTION_VALUES, 1, HAK_COMPACTION_NONE, 0, 0, "HAKMEM_COMPACTION", \
    "mesh: SuperSlabs backed by a memfd, and hak_mesh merges slabs with disjoint live blocks") \
  X(slot_order, E, HAK_SLOT_ORDER_VALUES, 1, HAK_SLOT_BUMP, 0, 0, "HAKMEM_SLOT_ORDER",     \
    "order in which a slab's blocks are first handed out: bump (address order) or random") \
  X(slot_seed, U, -, 0, 1, 0, UINT32_MAX, "HAKMEM_SLOT_SEED",                            \
    "seed of slot_order=random's per-slab orders (the same seed, the same orders)")      \
  X(slab0, E, HAK_SLAB0_VALUES, 1, HAK_SLAB0_FIRST, 0, 0, "HAKMEM_SLAB0",                 \
    "when a thread takes a SuperSlab's slab 0, which holds the header: first, or last")

/* Options added after run.json version 1 froze its `config`
 * (docs/run-format.md): the JSON views (hak_config_to_json) show them only
 * when set away from their default, so a run of any earlier variant writes
 * exactly what it wrote before they existed. docs/run.schema.json lists
 * them with their default, not as required (allocator.options checks). */
#define HAK_OPTIONS_AFTER_V1(X) X(compaction) X(slot_order) X(slot_seed) X(slab0)

/* libhakmem.so's own variables: rows of the same shape that the core never
 * reads (fields of hak_preload_config, not of hak_config). They are read
 * inside the process's first malloc call, so nothing here allocates. */
#define HAK_PRELOAD_OPTIONS(X)                                                         \
  X(stats, F, -, 0, 0, 0, 0, "HAKMEM_STATS",                                           \
    "on (anything but 0 or empty): one line of every counter on stderr at exit")       \
  X(stats_json, P, -, 0, "", 0, 0, "HAKMEM_STATS_JSON",                                \
    "the counters and the configuration as JSON, written at exit (%p: the pid)")       \
  X(sample_file, P, -, 0, "", 0, 0, "HAKMEM_SAMPLE_FILE",                              \
    "a census line appended every HAKMEM_SAMPLE_MS, and a last one at exit (%p: the pid)") \
  X(sample_ms, U, -, 0, 0, 1, 3600000, "HAKMEM_SAMPLE_MS",                             \
    "sampling period in ms; unset: 100 with HAKMEM_SAMPLE_FILE; without a file, an error")

/* ---------------------------------------------------------------- presets */

/* Named presets: the seed's scenarios.
 * X(id, "name", "what it models", (designated initialisers of hak_config))
 * A preset is the defaults plus its row; applying one sets every option
 * with by_preset = 1 from it (and `preset`), nothing else. A row names only
 * the options it changes, so an option joins some presets by a line in
 * HAK_OPTIONS (by_preset = 1) and its initialiser in those rows. */
#define HAK_PRESETS(X)                                                                   \
  X(none, "none", "no preset: the defaults (HAKMEM as the seed found it)", ())           \
  X(seed_buggy, "seed-buggy", "the failing run, seed sections 1-3", ())                  \
  X(fix_a, "fix-a", "Option A alone: decrement at the remote push",                      \
    (.remote_accounting = HAK_ACCT_PUSH))                                                \
  X(fix_b, "fix-b", "Option B alone: 100 ms idle trim, accounting still broken",         \
    (.idle_trim_ms = 100, .trim_ss = 1))                                                 \
  X(phase1, "phase1", "the recommended Phase 1: Option A + Option B",                    \
    (.remote_accounting = HAK_ACCT_PUSH, .idle_trim_ms = 100, .trim_ss = 1))             \
  X(lg20, "lg20", "Option C: 1 MiB SuperSlabs", (.ss_lg = 20))                           \
  X(reuse, "reuse", "Phase 1 plus refilling from existing SuperSlabs",                   \
    (.remote_accounting = HAK_ACCT_PUSH, .idle_trim_ms = 100, .trim_ss = 1,              \
     .refill = HAK_REFILL_REUSE))                                                        \
  X(adopt, "adopt", "Option G done properly: reuse plus reclaim of orphaned slabs",      \
    (.remote_accounting = HAK_ACCT_PUSH, .idle_trim_ms = 100, .trim_ss = 1,              \
     .refill = HAK_REFILL_REUSE, .orphan_policy = HAK_ORPHAN_ADOPT))                     \
  X(mesh, "mesh", "Phase 1 plus meshing (Option E as Mesh does it), random slot order",  \
    (.remote_accounting = HAK_ACCT_PUSH, .idle_trim_ms = 100, .trim_ss = 1,              \
     .compaction = HAK_COMPACTION_MESH, .slot_order = HAK_SLOT_RANDOM,                   \
     .slab0 = HAK_SLAB0_LAST))                                                           \
  X(mesh_adopt, "mesh-adopt", "adopt plus meshing, random slot order",                   \
    (.remote_accounting = HAK_ACCT_PUSH, .idle_trim_ms = 100, .trim_ss = 1,              \
     .refill = HAK_REFILL_REUSE, .orphan_policy = HAK_ORPHAN_ADOPT,                      \
     .compaction = HAK_COMPACTION_MESH, .slot_order = HAK_SLOT_RANDOM,                   \
     .slab0 = HAK_SLAB0_LAST))

typedef enum {
#define HAK_PRESET_ENUM(id, ...) HAK_PRESET_##id,
  HAK_PRESETS(HAK_PRESET_ENUM)
#undef HAK_PRESET_ENUM
  HAK_PRESET_COUNT
} hak_preset_t;

/* ---------------------------------------------------------- configuration */

#define HAK_PATH_MAX 4096

/* A field of each kind; S rows also get a buffer, after every field. */
#define HAK_FIELD_U(name) uint32_t name;
#define HAK_FIELD_E(name) int name;
#define HAK_FIELD_S(name) const char *name;
#define HAK_FIELD_F(name) bool name;
#define HAK_FIELD_P(name) char name[HAK_PATH_MAX];
#define HAK_FIELD(name, kind, ...) HAK_FIELD_##kind(name)
#define HAK_FIELD_BUF_S(name) char name##_buf[256];
#define HAK_FIELD_BUF_U(name)
#define HAK_FIELD_BUF_E(name)
#define HAK_FIELD_BUF_F(name)
#define HAK_FIELD_BUF_P(name)
#define HAK_FIELD_BUF(name, kind, ...) HAK_FIELD_BUF_##kind(name)

/* The effective configuration of one allocator instance. */
typedef struct hak_config {
  HAK_OPTIONS(HAK_FIELD)
  HAK_OPTIONS(HAK_FIELD_BUF) /* size_classes_buf */
} hak_config;

/* libhakmem.so's own settings (allocator/preload/report.c). */
typedef struct hak_preload_config {
  HAK_PRELOAD_OPTIONS(HAK_FIELD)
} hak_preload_config;

typedef enum {
#define HAK_OPTION_ENUM(name, ...) HAK_OPT_##name,
  HAK_OPTIONS(HAK_OPTION_ENUM)
#undef HAK_OPTION_ENUM
  HAK_OPT_COUNT
} hak_option_id;

typedef enum {
#define HAK_PRELOAD_OPTION_ENUM(name, ...) HAK_PRELOAD_OPT_##name,
  HAK_PRELOAD_OPTIONS(HAK_PRELOAD_OPTION_ENUM)
#undef HAK_PRELOAD_OPTION_ENUM
  HAK_PRELOAD_OPT_COUNT
} hak_preload_option_id;

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
 * field and every option presets control. Returns 0 or -HAK_EINVAL. */
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

/* The run's variant as one word: the preset's name, then "+name=value"
 * for every option (in table order) whose value differs from what the
 * preset sets, wherever the value came from (environment, command line):
 * "phase1", "phase1+remote_accounting=drain", "none+ss_lg=20". Tables and
 * plots label runs with it. HAK_LABEL_MAX bytes always suffice. */
#define HAK_LABEL_MAX 1024
const char *hak_config_label(const hak_config *cfg, char *buf, size_t len);

/* Option metadata. kind: 'U', 'E', 'S' (see HAK_OPTIONS); values: an E
 * option's names, NULL-terminated (NULL for other kinds). */
const char *hak_option_name(hak_option_id id);
const char *hak_option_env(hak_option_id id);
const char *hak_option_description(hak_option_id id);
char hak_option_kind(hak_option_id id);
const char *const *hak_option_values(hak_option_id id);
bool hak_option_by_preset(hak_option_id id);
/* True for the options of HAK_OPTIONS_AFTER_V1. */
bool hak_option_after_v1(hak_option_id id);

/* Preset metadata: canonical name with dashes ("seed-buggy"). */
const char *hak_preset_name(hak_preset_t p);
const char *hak_preset_description(hak_preset_t p);
/* The configuration a preset describes: the defaults plus its row. */
void hak_preset_config(hak_preset_t p, hak_config *cfg);

/* libhakmem.so's variables (HAK_PRELOAD_OPTIONS). None of these allocates. */
void hak_preload_config_default(hak_preload_config *pc);
/* Same results and messages as hak_config_set. */
int hak_preload_config_set(hak_preload_config *pc, const char *name, const char *value, char *err,
                           size_t errlen);
/* Reads every variable, then checks them together (a sampling period needs
 * a sample file; a sample file alone samples every 100 ms). Returns 0 or
 * -HAK_EINVAL, err naming the variable. */
int hak_preload_config_from_env(hak_preload_config *pc, char *err, size_t errlen);
const char *hak_preload_option_name(hak_preload_option_id id);
const char *hak_preload_option_env(hak_preload_option_id id);

/* What `hakmem-options` prints (malloc'd text; NULL when out of memory):
 * HAK_LIST_TEXT every option, preset and library variable as aligned
 * tables; the Markdown tables the docs embed: HAK_LIST_OPTIONS (option,
 * values, default, variable, meaning), HAK_LIST_PRESETS (each preset's
 * value of every option presets control), HAK_LIST_VARIABLES (the options
 * by variable) and HAK_LIST_PRELOAD (libhakmem.so's own variables). */
typedef enum {
  HAK_LIST_TEXT,
  HAK_LIST_OPTIONS,
  HAK_LIST_PRESETS,
  HAK_LIST_VARIABLES,
  HAK_LIST_PRELOAD,
} hak_list_format;
char *hak_options_listing(hak_list_format format);

#endif
