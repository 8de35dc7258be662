/* allocator.c: creating and destroying instances, and the census walks.
 *
 * hak_destroy gives back every mapping the instance made (counted by
 * os.c), so tests can create one allocator per case and prove isolation.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

#include "internal.h"

#define HAK_TID_ALIVE_BITS (1u << 24)

static _Atomic uint64_t next_instance_id = 1;

static void key_destructor(void *v) {
  if (v) hak_tcache_exit_thread(v);
}

/* Random keys for the link encodings (internal.h). Both have the top bit
 * set, so a cleared word decodes to no valid link; they differ in bit 62,
 * so a slab-list link read as a free-cache link (or the reverse) is
 * invalid too. */
static uint64_t random_bits(const hak_allocator *a, uint64_t salt) {
  uint64_t k = 0;
  if (getrandom(&k, sizeof k, GRND_NONBLOCK) != (ssize_t)sizeof k) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    k = (uint64_t)(uintptr_t)a ^ ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ salt;
    k *= 0x9E3779B97F4A7C15ULL;
  }
  return k;
}
#define HAK_KEY_TOP ((uint64_t)3 << 62)

static void set_err(char *err, size_t errlen, const char *msg) {
  if (err && errlen) snprintf(err, errlen, "%s", msg);
}

int hak_create(const hak_config *cfg, const hak_create_opts *opts, hak_allocator **out,
               char *err, size_t errlen) {
  hak_config def;
  if (!cfg) {
    hak_config_default(&def);
    cfg = &def;
  }
  if (hak_config_validate(cfg, err, errlen) != 0) return -HAK_EINVAL;
  /* The instance itself is mapped, not malloc'd: it may be the malloc. */
  hak_allocator *a = mmap(NULL, sizeof *a, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (a == MAP_FAILED) {
    set_err(err, errlen, "cannot map the allocator instance");
    return -HAK_ENOMEM;
  }
  hak_config_copy(&a->cfg, cfg);
  a->backing.fd = -1;
  a->instance_id = atomic_fetch_add(&next_instance_id, 1);
  if (opts) {
    if (opts->observer) {
      a->obs = *opts->observer;
      a->has_obs = true;
    }
    a->log = opts->log;
    a->log_ctx = opts->log_ctx;
  }
  if (hak_classes_init(a, err, errlen) != 0) {
    munmap(a, sizeof *a);
    return -HAK_EINVAL;
  }
  a->ss_size = (size_t)1 << a->cfg.ss_lg;
  a->link_key = (uintptr_t)((random_bits(a, 1) & ~HAK_KEY_TOP) | (uint64_t)1 << 63);
  a->fc_key = (uintptr_t)(random_bits(a, 2) | HAK_KEY_TOP);
  a->ss_shift = a->cfg.ss_lg;
  a->slot_random = a->cfg.slot_order == HAK_SLOT_RANDOM;
  a->slot_key = hak_mix64(0x6A09E667F3BCC909ULL ^ a->cfg.slot_seed);
#ifdef HAK_DEBUG
  a->strict_free = true;
#else
  a->strict_free = a->cfg.on_bad_free == HAK_BADFREE_COUNT;
#endif
  a->tcache_size =
      (sizeof(hak_tcache) + a->class_count * sizeof(hak_class_cache) + 63) & ~(size_t)63;
  for (uint32_t c = 0; c < a->class_count; c++) pthread_mutex_init(&a->classes[c].lock, NULL);
  pthread_mutex_init(&a->map_lock, NULL);
  pthread_mutex_init(&a->trim_lock, NULL);
  hak_large_init(a);
  a->tid_alive_max = HAK_TID_ALIVE_BITS - 1;
  a->tid_alive = hak_os_map(a, HAK_TID_ALIVE_BITS / 8);
  /* compaction=mesh: SuperSlabs in a memfd, unless this caller never
   * meshes (libhakmem.so: docs/meshing.md). */
  bool memfd = a->cfg.compaction == HAK_COMPACTION_MESH && !(opts && opts->no_mesh);
  const char *why = !a->tid_alive || hak_registry_init(a) != 0 ? "cannot map the allocator's tables"
                    : memfd && hak_backing_init(a) != 0          ? "cannot create the SuperSlabs' memfd"
                    : pthread_key_create(&a->key, key_destructor) ? "cannot create the thread key"
                                                                  : NULL;
  if (why) {
    set_err(err, errlen, why);
    hak_backing_destroy(a);
    hak_registry_destroy(a);
    if (a->tid_alive) hak_os_unmap(a, a->tid_alive, HAK_TID_ALIVE_BITS / 8);
    munmap(a, sizeof *a);
    return -HAK_ENOMEM;
  }
  bool want_thread = a->cfg.idle_trim_ms > 0 && a->cfg.trim_ss && !(opts && opts->no_trim_thread);
  if (want_thread && hak_trim_thread_start(a) != 0) {
    set_err(err, errlen, "cannot start the trim thread");
    hak_destroy(a);
    return -HAK_ENOMEM;
  }
  *out = a;
  return 0;
}

void hak_destroy(hak_allocator *a) {
  if (!a) return;
  hak_trim_thread_stop(a);
  if (a->cfg.flush_on_exit) hak_trim(a, NULL, NULL, 0);
  pthread_key_delete(a->key);
  hak_tcache_release_all(a);
  a->has_obs = false; /* teardown is not an observable event */
  a->closing = true;
  for (uint32_t c = 0; c < a->class_count; c++) {
    hak_class_state *cs = &a->classes[c];
    pthread_mutex_lock(&cs->lock);
    while (cs->first) hak_ss_unmap(a, cs->first, "destroy");
    pthread_mutex_unlock(&cs->lock);
    pthread_mutex_destroy(&cs->lock);
  }
  hak_large_destroy(a);
  hak_mesh_destroy(a);
  hak_backing_destroy(a);
  if (a->trim_ids) hak_os_unmap(a, a->trim_ids, a->trim_ids_cap * sizeof *a->trim_ids);
  hak_registry_destroy(a);
  hak_os_unmap(a, a->tid_alive, HAK_TID_ALIVE_BITS / 8);
  pthread_mutex_destroy(&a->map_lock);
  pthread_mutex_destroy(&a->trim_lock);
  munmap(a, sizeof *a);
}

const hak_config *hak_get_config(const hak_allocator *a) { return &a->cfg; }

void hak_set_extra_maps(hak_allocator *a, uint64_t n) {
  atomic_store_explicit(&a->extra_maps, n, memory_order_relaxed);
}

uint32_t hak_ss_id_of(hak_allocator *a, const void *p, uint32_t *slab_idx, uint32_t *block_size) {
  hak_superslab *ss = hak_registry_lookup(a, p);
  if (!ss) return 0;
  if (slab_idx) *slab_idx = (uint32_t)(((uintptr_t)p - (uintptr_t)ss) >> ss->slab_shift); /* the class's slabs */
  if (block_size) *block_size = ss->block_size;
  return ss->id;
}

bool hak_ss_of(hak_allocator *a, const void *p, hak_ss_info *out) {
  hak_superslab *ss = hak_registry_lookup(a, p);
  if (!ss) return false;
  hak_class_state *cs = &a->classes[ss->class_idx];
  pthread_mutex_lock(&cs->lock);
  hak_ss_fill_info(a, ss, out, true);
  pthread_mutex_unlock(&cs->lock);
  return true;
}

static void ss_walk(hak_allocator *a, void (*fn)(void *ctx, const hak_ss_info *ss), void *ctx,
                    bool per_slab) {
  /* Every class lock at once, so the walk is one consistent moment and can
   * be merged into mapping (id) order. */
  for (uint32_t c = 0; c < a->class_count; c++) pthread_mutex_lock(&a->classes[c].lock);
  hak_superslab *cur[HAK_MAX_CLASSES];
  for (uint32_t c = 0; c < a->class_count; c++) cur[c] = a->classes[c].first;
  for (;;) {
    int best = -1;
    for (uint32_t c = 0; c < a->class_count; c++)
      if (cur[c] && (best < 0 || cur[c]->id < cur[best]->id)) best = (int)c;
    if (best < 0) break;
    hak_ss_info info;
    hak_ss_fill_info(a, cur[best], &info, per_slab);
    cur[best] = cur[best]->next;
    fn(ctx, &info);
  }
  for (uint32_t c = a->class_count; c-- > 0;) pthread_mutex_unlock(&a->classes[c].lock);
}

void hak_ss_foreach(hak_allocator *a, void (*fn)(void *ctx, const hak_ss_info *ss), void *ctx) {
  ss_walk(a, fn, ctx, true);
}

void hak_ss_census(hak_allocator *a, void (*fn)(void *ctx, const hak_ss_info *ss), void *ctx) {
  /* Class by class, no merge: at tens of thousands of SuperSlabs the
   * ordered walk's extra header reads show in every sample. */
  for (uint32_t c = 0; c < a->class_count; c++) {
    hak_class_state *cs = &a->classes[c];
    pthread_mutex_lock(&cs->lock);
    for (hak_superslab *ss = cs->first; ss; ss = ss->next) {
      hak_ss_info info;
      hak_ss_fill_info(a, ss, &info, false);
      fn(ctx, &info);
    }
    pthread_mutex_unlock(&cs->lock);
  }
}

uint64_t hak_resident_bytes(hak_allocator *a) {
  uint64_t bytes = hak_os_resident(a, sizeof *a);
  for (uint32_t c = 0; c < a->class_count; c++) {
    hak_class_state *cs = &a->classes[c];
    pthread_mutex_lock(&cs->lock);
    for (hak_superslab *ss = cs->first; ss; ss = ss->next) bytes += hak_ss_resident(a, ss);
    pthread_mutex_unlock(&cs->lock);
  }
  bytes += hak_large_resident(a);
  pthread_mutex_lock(&a->trim_lock);
  if (a->trim_ids) bytes += hak_os_resident(a->trim_ids, a->trim_ids_cap * sizeof *a->trim_ids);
  if (a->mesh_scratch) bytes += hak_os_resident(a->mesh_scratch, a->mesh_scratch_len);
  pthread_mutex_unlock(&a->trim_lock);
  pthread_mutex_lock(&a->map_lock);
  bytes += hak_os_resident((const void *)a->reg.bits, a->reg.bytes);
  bytes += hak_os_resident((const void *)a->tid_alive, HAK_TID_ALIVE_BITS / 8);
  for (void *chunk = a->meta_chunks; chunk; chunk = *(void **)chunk)
    bytes += hak_os_resident(chunk, HAK_META_CHUNK);
  for (void *chunk = a->mesh_chunks; chunk; chunk = ((void **)chunk)[0])
    bytes += hak_os_resident(chunk, ((size_t *)chunk)[1]);
  if (a->backing.free_slots)
    bytes += hak_os_resident(a->backing.free_slots, a->backing.cap * sizeof *a->backing.free_slots);
  pthread_mutex_unlock(&a->map_lock);
  return bytes;
}
