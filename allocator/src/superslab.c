/* superslab.c: mapping, laying out, unmapping and describing SuperSlabs.
 *
 * Layout of one SuperSlab (2^ss_lg bytes, naturally aligned):
 *   [header: hak_superslab, remote_heads[n], acct_adjust[n], touched[n], slabs[n]]
 *   [slab 0 blocks ...][slab 1][slab 2] ... [slab n-1]
 * Slab i spans [i << slab_shift, (i+1) << slab_shift), slab_shift being the
 * class's (size_class.c); slab 0's blocks start after the header, rounded
 * up so that power-of-two blocks are naturally aligned. Blocks are carved
 * lazily (bump pointer), so untouched pages stay unbacked.
 *
 * Under compaction=mesh the mapping comes from the instance's memfd
 * (backing.c) instead of anonymous memory; nothing else differs.
 *
 * Invariants: ss->id values are sequential in mapping order; the class
 * list is in mapping order; a mapped SuperSlab is in the registry;
 * free_slabs + slabs_orphaned + slabs_live == nslabs (class lock).
 */
#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <string.h>

#include "internal.h"

/* Offsets of the per-slab arrays inside the header. */
static size_t heads_off(void) { return (sizeof(hak_superslab) + 63) & ~(size_t)63; }
static size_t adjust_off(uint32_t nslabs) {
  return heads_off() + nslabs * sizeof(_Atomic uintptr_t);
}
static size_t touched_off(uint32_t nslabs) {
  return adjust_off(nslabs) + nslabs * sizeof(_Atomic int64_t);
}
static size_t slabs_off(uint32_t nslabs) {
  return (touched_off(nslabs) + nslabs * sizeof(uint32_t) + 63) & ~(size_t)63;
}

size_t hak_ss_header_size(uint32_t nslabs) {
  return (slabs_off(nslabs) + nslabs * sizeof(hak_slab) + 63) & ~(size_t)63;
}

int64_t hak_ss_active(const hak_superslab *ss) {
  int64_t v = atomic_load_explicit(&((hak_superslab *)ss)->total_active_blocks,
                                   memory_order_acquire);
  if (ss->slabs_live == 0) return v + ss->frozen_active;
  for (uint32_t i = 0; i < ss->nslabs; i++) {
    hak_slab *s = &ss->slabs[i];
    v += (int64_t)atomic_load_explicit(&s->used, memory_order_acquire) +
         atomic_load_explicit(&ss->acct_adjust[i], memory_order_acquire);
  }
  return v;
}

static void list_add_tail(hak_ss_list *l, hak_superslab *ss, hak_ss_link *link,
                          size_t off) {
  link->prev = l->tail;
  link->next = NULL;
  if (l->tail) ((hak_ss_link *)((char *)l->tail + off))->next = ss;
  else l->head = ss;
  l->tail = ss;
  l->count++;
  link->in = true;
}

static void list_remove(hak_ss_list *l, hak_ss_link *link, size_t off) {
  if (link->prev) ((hak_ss_link *)((char *)link->prev + off))->next = link->next;
  else l->head = link->next;
  if (link->next) ((hak_ss_link *)((char *)link->next + off))->prev = link->prev;
  else l->tail = link->prev;
  l->count--;
  link->prev = link->next = NULL;
  link->in = false;
}

static void sync_one(hak_ss_list *l, hak_superslab *ss, hak_ss_link *link, size_t off,
                     bool want) {
  if (want && !link->in) list_add_tail(l, ss, link, off);
  else if (!want && link->in) list_remove(l, link, off);
}

void hak_ss_sync_lists(hak_class_state *cs, hak_superslab *ss, bool gone) {
  sync_one(&cs->with_free, ss, &ss->with_free, offsetof(hak_superslab, with_free),
           !gone && ss->free_slabs > 0);
  sync_one(&cs->all_free, ss, &ss->all_free, offsetof(hak_superslab, all_free),
           !gone && ss->free_slabs == ss->nslabs);
}

size_t hak_ss_header_bytes(const hak_allocator *a) {
  return hak_ss_header_size(1u << (a->cfg.ss_lg - a->cfg.slab_lg));
}

static void layout(hak_allocator *a, hak_superslab *ss, uint32_t class_idx) {
  const hak_class_state *cs = &a->classes[class_idx];
  ss->class_idx = (uint16_t)class_idx;
  ss->nslabs = (uint16_t)cs->nslabs;
  ss->slab_shift = (uint8_t)cs->slab_shift;
  ss->block_size = cs->block_size;
  ss->div_magic = cs->div_magic;
  ss->remote_heads = (_Atomic uintptr_t *)((char *)ss + heads_off());
  ss->touched = (uint32_t *)((char *)ss + touched_off(cs->nslabs));
  ss->acct_adjust = (_Atomic int64_t *)((char *)ss + adjust_off(cs->nslabs));
  ss->slabs = (hak_slab *)((char *)ss + slabs_off(cs->nslabs));
  size_t slab_size = (size_t)1 << cs->slab_shift;
  uint32_t cap = 0;
  for (uint32_t i = 0; i < cs->nslabs; i++) {
    hak_slab *s = &ss->slabs[i];
    size_t start = hak_class_first_block(cs, i);
    s->index = (uint16_t)i;
    s->data = (char *)ss + ((size_t)i << cs->slab_shift) + start;
    s->capacity = (uint32_t)((slab_size - start) / cs->block_size);
    s->span = s->capacity * cs->block_size;
    cap += s->capacity;
    /* The mapping is zero-filled: every other field starts at 0/NULL. */
  }
  ss->capacity = cap;
  ss->free_slabs = cs->nslabs;
}

/* Maps a SuperSlab for class_idx, registers it and links it at the end of
 * the class list. Caller holds the class lock. NULL + errno ENOMEM when the
 * map limit is reached or mmap fails. */
hak_superslab *hak_ss_map(hak_allocator *a, uint32_t class_idx, hak_tcache *tc) {
  hak_class_state *cs = &a->classes[class_idx];
  uint32_t limit = a->cfg.ss_map_limit;
  /* Reserve the mapping before making it: threads of different classes
   * (different class locks) must not both pass a check-then-add. */
  uint64_t live = atomic_load_explicit(&a->ss_live, memory_order_relaxed);
  do {
    /* Mappings the caller declared, and the splits meshes made. */
    uint64_t extra = atomic_load_explicit(&a->extra_maps, memory_order_relaxed) +
                     atomic_load_explicit(&a->ss_split, memory_order_relaxed);
    if (limit && live + extra >= limit) {
      hak_log_oom_once(a, ENOMEM);
      errno = ENOMEM;
      return NULL;
    }
  } while (!atomic_compare_exchange_weak_explicit(&a->ss_live, &live, live + 1,
                                                  memory_order_relaxed, memory_order_relaxed));
  uint64_t now = live + 1;
  uint64_t file_off = 0;
  hak_superslab *ss = hak_backing_on(a) ? hak_backing_map_ss(a, &file_off)
                                        : hak_os_map_aligned(a, a->ss_size, a->ss_size, NULL, NULL);
  if (!ss) {
    int e = errno ? errno : ENOMEM;
    atomic_fetch_sub_explicit(&a->ss_live, 1, memory_order_relaxed);
    hak_log_oom_once(a, e);
    errno = ENOMEM;
    return NULL;
  }
  layout(a, ss, class_idx);
  ss->file_off = file_off;
  pthread_mutex_lock(&a->map_lock);
  if (hak_registry_set(a, (uintptr_t)ss, true) != 0) {
    pthread_mutex_unlock(&a->map_lock);
    if (hak_backing_on(a)) hak_backing_unmap_ss(a, ss, file_off, 1, true);
    else hak_os_unmap(a, ss, a->ss_size);
    atomic_fetch_sub_explicit(&a->ss_live, 1, memory_order_relaxed);
    hak_log_oom_once(a, ENOMEM);
    errno = ENOMEM;
    return NULL;
  }
  ss->id = ++a->next_ss_id;
  pthread_mutex_unlock(&a->map_lock);

  hak_gstat_add(&a->g.ss_allocated, 1);
  hak_gstat_add(&a->g.ss_live, 1);
  hak_gstat_max(&a->g.ss_peak, now);
  hak_ss_mappings_add(a, 1);
  uint64_t bytes = atomic_fetch_add_explicit(&a->g.bytes_mapped, a->ss_size,
                                             memory_order_relaxed) + a->ss_size;
  hak_gstat_max(&a->g.bytes_mapped_peak, bytes);

  ss->owner_tid = tc ? tc->tid : 0;
  ss->prev = cs->last;
  ss->next = NULL;
  if (cs->last) cs->last->next = ss; else cs->first = ss;
  cs->last = ss;
  cs->count++;
  hak_ss_sync_lists(cs, ss, false);
  if (HAK_OBS(a, ss_map)) {
    hak_ss_info info;
    hak_ss_fill_info(a, ss, &info, true);
    a->obs.ss_map(a->obs.ctx, &info, tc ? tc->tid : 0);
  }
  return ss;
}

/* Unlinks, unregisters and unmaps ss. Caller holds the class lock and has
 * already taken every slab out of the orphan list; no live thread holds
 * one (trim's condition, or teardown). */
void hak_ss_unmap(hak_allocator *a, hak_superslab *ss, const char *reason) {
  hak_class_state *cs = &a->classes[ss->class_idx];
  uint32_t id = ss->id;
  if (ss->prev) ss->prev->next = ss->next; else cs->first = ss->next;
  if (ss->next) ss->next->prev = ss->prev; else cs->last = ss->prev;
  cs->count--;
  hak_ss_sync_lists(cs, ss, true);
  pthread_mutex_lock(&a->map_lock);
  hak_registry_set(a, (uintptr_t)ss, false);
  pthread_mutex_unlock(&a->map_lock);
  /* Only teardown unmaps a SuperSlab that a mesh split (trim keeps them).
   * Its count of mappings is the one its mesh block keeps (hak_check
   * holds it equal to hak_ss_vmas): recounting would follow its aliases
   * to their primaries' SuperSlabs, which teardown may have unmapped. */
  hak_ss_mesh *mesh = atomic_load_explicit(&ss->mesh, memory_order_relaxed);
  uint32_t vmas = mesh ? mesh->vmas : 1;
  hak_ss_mesh_put(a, ss);
  if (hak_backing_on(a)) hak_backing_unmap_ss(a, ss, ss->file_off, vmas, !a->closing);
  else hak_os_unmap(a, ss, a->ss_size);
  hak_ss_mappings_add(a, -(int64_t)vmas);
  atomic_fetch_sub_explicit(&a->ss_split, vmas - 1, memory_order_relaxed);
  atomic_fetch_sub_explicit(&a->ss_live, 1, memory_order_relaxed);
  atomic_fetch_sub_explicit(&a->g.ss_live, 1, memory_order_relaxed);
  atomic_fetch_sub_explicit(&a->g.bytes_mapped, a->ss_size, memory_order_relaxed);
  hak_gstat_add(&a->g.ss_freed, 1);
  if (HAK_OBS(a, ss_unmap)) a->obs.ss_unmap(a->obs.ctx, id, reason);
}

/* Fields read here are atomics or guarded by the class lock, which the
 * caller holds (or the SuperSlab is not yet visible to other threads).
 * per_slab adds used_blocks, which costs a read of every slab's metadata;
 * without it only the header, the remote_heads[] array and (while a live
 * thread holds slabs here) the slabs' counters are read. */
void hak_ss_fill_info(const hak_allocator *a, const hak_superslab *ss, hak_ss_info *out,
                      bool per_slab) {
  memset(out, 0, sizeof *out);
  out->id = ss->id;
  out->class_idx = ss->class_idx;
  out->block_size = ss->block_size;
  out->lg = a->cfg.ss_lg;
  out->nslabs = ss->nslabs;
  out->capacity = ss->capacity;
  out->cached_by = ss->slabs_live + ss->home_refs;
  out->owner_tid = ss->owner_tid;
  out->owner_alive = hak_tid_alive(a, ss->owner_tid);
  out->total_active_blocks = hak_ss_active(ss);
  out->base = (uintptr_t)ss;
  out->header_bytes = a->classes[ss->class_idx].header_size;
  out->touched_bytes =
      out->header_bytes +
      atomic_load_explicit(&((hak_superslab *)ss)->touched_blocks, memory_order_relaxed) *
          ss->block_size;
  out->slabs_free = ss->free_slabs;
  out->slabs_orphaned = ss->slabs_orphaned;
  out->slabs_owned = ss->slabs_live;
  out->slabs_alias = ss->slabs_alias;
  for (uint32_t i = 0; i < ss->nslabs; i++)
    out->remote_pending +=
        hak_remote_count(atomic_load_explicit(&ss->remote_heads[i], memory_order_relaxed));
  /* A primary's `used` counts its aliases' blocks, which count where they
   * are addressed (the aliases' own `used`). */
  hak_ss_mesh *m = atomic_load_explicit(&((hak_superslab *)ss)->mesh, memory_order_relaxed);
  for (uint32_t i = 0; per_slab && i < ss->nslabs; i++)
    out->used_blocks += atomic_load_explicit(&ss->slabs[i].used, memory_order_relaxed) -
                        (m ? m->slab[i].alias_blocks : 0);
}
