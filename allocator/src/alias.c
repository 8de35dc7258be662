/* alias.c: merged slabs at run time (compaction=mesh). A mesh pass
 * (mesh.c) makes slab B an alias of slab A, its primary: B's range shows
 * A's file pages, B's live blocks now live at the same offsets of A, and
 * B's own pages are gone. This file keeps that true while the program
 * runs:
 *
 *   - a free of a B-range address (every one reaches hak_free_remote: B's
 *     owner is HAK_TID_ALIAS, no thread's id) clears the block's bit in B's
 *     bitmap (a clear bit: a double free), counts the block out of B's
 *     SuperSlab and into A's (+1 on A's shared counter), and then frees the
 *     same block of A by A's owner rule: a local free for A's owner, a
 *     remote push for anyone else. The class lock covers the first part;
 *     the free of the A-address follows it, so A's own paths run as ever;
 *   - the last B-range block freed gives B its own file range back (already
 *     punched: zero pages) and makes it a free slab (hak_unmesh);
 *   - a free of an A-address whose offset is live through one of A's
 *     aliases is a double free (that block was freed before the mesh and
 *     its slot now holds B's block): the remote path and the strict local
 *     path look (hak_alias_shadowed); the local fast path, which reads no
 *     block, does not;
 *   - the kernel mappings of a SuperSlab: runs of slabs whose file offsets
 *     follow each other are one mapping (the kernel merges them), every
 *     other boundary splits it.
 *
 * Trim safety: B's SuperSlab counts B's live blocks (B's `used`) until
 * each is freed, and trim keeps a SuperSlab while any slab of it is an
 * alias or a primary with aliases (hak_ss_meshed); the +1 on A's counter
 * precedes the A-free, whose own accounting is its last access, as on
 * every free path.
 */
#include <string.h>

#include "internal.h"

static inline bool bit_test(const uint64_t *w, uint32_t i) { return (w[i >> 6] >> (i & 63)) & 1u; }
static inline void bit_clear(uint64_t *w, uint32_t i) { w[i >> 6] &= ~((uint64_t)1 << (i & 63)); }

uint64_t hak_slab_file_off(const hak_allocator *a, const hak_superslab *ss, const hak_slab *s) {
  hak_ss_mesh *m = atomic_load_explicit(&((hak_superslab *)ss)->mesh, memory_order_relaxed);
  if (m && m->slab[s->index].primary) {
    const hak_slab *p = m->slab[s->index].primary;
    return hak_slab_file_off(a, hak_ss_of_slab(a, p), p);
  }
  return ss->file_off + ((uint64_t)s->index << ss->slab_shift);
}

uint32_t hak_ss_vmas(const hak_allocator *a, const hak_superslab *ss) {
  if (ss->slabs_alias == 0) return 1;
  uint64_t slab = (uint64_t)1 << ss->slab_shift, next = UINT64_MAX;
  uint32_t runs = 0;
  for (uint32_t i = 0; i < ss->nslabs; i++) {
    uint64_t off = hak_slab_file_off(a, ss, &ss->slabs[i]);
    runs += off != next;
    next = off + slab;
  }
  return runs;
}

void hak_ss_vmas_update(hak_allocator *a, hak_superslab *ss) {
  hak_ss_mesh *m = atomic_load_explicit(&ss->mesh, memory_order_relaxed);
  int64_t delta = (int64_t)hak_ss_vmas(a, ss) - (int64_t)m->vmas;
  m->vmas += (uint32_t)delta;
  atomic_fetch_add_explicit(&a->ss_split, (uint64_t)delta, memory_order_relaxed);
  hak_mappings_add(a, delta);
  hak_ss_mappings_add(a, delta);
}

int hak_ss_remap_all(hak_allocator *a, hak_superslab *ss) {
  if (hak_backing_remap(a, ss, a->ss_size, ss->file_off) != 0) return -HAK_ENOMEM;
  size_t slab = (size_t)1 << ss->slab_shift;
  for (uint32_t i = 0; ss->slabs_alias && i < ss->nslabs; i++)
    if (atomic_load_explicit(&ss->slabs[i].owner_tid, memory_order_relaxed) == HAK_TID_ALIAS &&
        hak_backing_remap(a, (char *)ss + i * slab, slab, hak_slab_file_off(a, ss, &ss->slabs[i])))
      return -HAK_ENOMEM;
  return 0;
}

uint64_t hak_ss_resident(const hak_allocator *a, const hak_superslab *ss) {
  if (ss->slabs_alias == 0) return hak_os_resident(ss, a->ss_size);
  /* An alias's range shows its primary's pages: counted there. */
  size_t slab = (size_t)1 << ss->slab_shift;
  uint64_t bytes = 0;
  for (uint32_t i = 0; i < ss->nslabs; i++)
    if (atomic_load_explicit(&ss->slabs[i].owner_tid, memory_order_relaxed) != HAK_TID_ALIAS)
      bytes += hak_os_resident((const char *)ss + i * slab, slab);
  return bytes;
}

bool hak_unmesh(hak_allocator *a, hak_superslab *ss, hak_slab *b) {
  hak_class_state *cs = &a->classes[ss->class_idx];
  hak_slab_mesh *mb = hak_slab_mesh_of(ss, b);
  hak_slab *p = mb->primary;
  hak_superslab *ps = hak_ss_of_slab(a, p);
  hak_slab_mesh *mp = hak_slab_mesh_of(ps, p);
  size_t slab = (size_t)1 << ss->slab_shift;
  /* Its own file range was punched by the mesh: zero pages, as uncarved. */
  if (hak_backing_remap(a, (char *)ss + ((size_t)b->index << ss->slab_shift), slab,
                        ss->file_off + ((uint64_t)b->index << ss->slab_shift)) != 0) {
    if (!mb->stuck) atomic_fetch_add_explicit(&a->mesh_stuck, 1, memory_order_relaxed);
    mb->stuck = true;
    return false;
  }
  if (mb->stuck) atomic_fetch_sub_explicit(&a->mesh_stuck, 1, memory_order_relaxed);
  mb->stuck = false;
  hak_slab **link = &mp->aliases;
  while (*link != b) link = &hak_slab_mesh_of(hak_ss_of_slab(a, *link), *link)->next_alias;
  *link = mb->next_alias;
  mb->next_alias = NULL;
  mb->primary = NULL;
  uint32_t left = atomic_load_explicit(&mp->naliases, memory_order_relaxed) - 1;
  atomic_store_explicit(&mp->naliases, left, memory_order_relaxed);
  if (left == 0) atomic_load_explicit(&ps->mesh, memory_order_relaxed)->primaries--;
  hak_slab_unalias(a, cs, ss, b);
  hak_ss_vmas_update(a, ss);
  hak_gstat_add(&a->g.unmeshes, 1);
  if (HAK_OBS(a, unmesh)) a->obs.unmesh(a->obs.ctx, ss->id, b->index);
  return true;
}

int hak_alias_free(hak_allocator *a, hak_superslab *ss, hak_slab *b, void *p) {
  hak_class_state *cs = &a->classes[ss->class_idx];
  uint32_t idx = (uint32_t)(((uintptr_t)p - (uintptr_t)b->data) / ss->block_size);
  pthread_mutex_lock(&cs->lock);
  hak_slab_mesh *mb = hak_slab_mesh_of(ss, b);
  /* No longer an alias (its last block went), or this block's bit is
   * clear: the block was freed already. */
  if (atomic_load_explicit(&b->owner_tid, memory_order_relaxed) != HAK_TID_ALIAS ||
      !bit_test(mb->live, idx)) {
    pthread_mutex_unlock(&cs->lock);
    return hak_bad_free(a, p, "double free", ss->block_size);
  }
  bit_clear(mb->live, idx);
  hak_slab *prim = mb->primary;
  hak_superslab *ps = hak_ss_of_slab(a, prim);
  void *q = prim->data + ((uintptr_t)p - (uintptr_t)b->data);
  /* The block counts in the primary's SuperSlab until its free there. */
  atomic_fetch_add_explicit(&ps->total_active_blocks, 1, memory_order_relaxed);
  hak_slab_mesh_of(ps, prim)->alias_blocks--;
  uint32_t left = atomic_load_explicit(&b->used, memory_order_relaxed) - 1;
  atomic_store_explicit(&b->used, left, memory_order_relaxed);
  if (ss->slabs_live == 0) ss->frozen_active--;
  if (left == 0) hak_unmesh(a, ss, b);
  pthread_mutex_unlock(&cs->lock);
  return hak_free(a, q);
}

bool hak_alias_shadowed(hak_allocator *a, hak_superslab *ss, hak_slab *s, const void *p) {
  hak_ss_mesh *m = atomic_load_explicit(&ss->mesh, memory_order_acquire);
  if (!m || atomic_load_explicit(&m->slab[s->index].naliases, memory_order_relaxed) == 0)
    return false;
  hak_class_state *cs = &a->classes[ss->class_idx];
  uint32_t idx = (uint32_t)(((uintptr_t)p - (uintptr_t)s->data) / ss->block_size);
  bool live = false;
  pthread_mutex_lock(&cs->lock);
  for (hak_slab *b = m->slab[s->index].aliases; b && !live;) {
    hak_slab_mesh *mb = hak_slab_mesh_of(hak_ss_of_slab(a, b), b);
    live = bit_test(mb->live, idx);
    b = mb->next_alias;
  }
  pthread_mutex_unlock(&cs->lock);
  return live;
}
