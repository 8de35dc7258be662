/* mesh.c: the mesh pass (compaction=mesh), Mesh's compaction (Powers et
 * al., PLDI 2019) on this allocator's slabs; docs/meshing.md.
 *
 * PRECONDITION of hak_mesh and hak_mesh_potential: no other thread is
 * inside the allocator (the deterministic replayer calls them where it
 * trims, with every thread parked). That lets a pass read every slab's
 * free list, remote stack and its owner's free cache, and change them on
 * the owners' behalf (internal.h, "quiescence"). libhakmem.so never calls
 * them: it has no write barrier to stop the program meanwhile.
 *
 * A pass, class by class under the class lock:
 *   1. candidates: slabs other than slab 0 (it holds the header), not
 *      aliases, owned (live, orphaned), with live blocks filling at most
 *      3/4 of them. Each gets a bitmap of the offsets its pages hold:
 *      carved, minus its free list, remote stack and owner's free cache (a
 *      primary's include its aliases' blocks). A partly carved slab is a
 *      candidate too: a thread that lives for a few thousand operations, as
 *      Larson's do, never carves its slabs to the end;
 *   2. matching, as Mesh's SplitMesher: the candidates shuffled (a
 *      deterministic stream from slot_seed and the pass), halved, and each
 *      of the left half tried against at most HAK_MESH_PROBES of the right;
 *      a pair whose bitmaps do not intersect is merged, the one with more
 *      live blocks keeping (fewer bytes to copy); up to HAK_MESH_ROUNDS
 *      rounds, a keeper's bitmap growing by what it took;
 *   3. the merge (B into A): both slabs' cached blocks dropped from their
 *      owners' caches and their remote stacks drained (the free blocks are
 *      in the bitmaps); B's live blocks copied to A's same offsets; B's
 *      range, and the ranges of B's own aliases, mapped onto A's file
 *      pages (MAP_FIXED) and B's own range punched; A's free list rebuilt
 *      (in its slot order) from every offset neither holds, uncarved ones
 *      included (A is fully carved from then on); B an alias of
 *      A, B's aliases A's (alias.c), B a free slab again at once if none of
 *      the blocks it held was its own. A merge that would take the
 *      SuperSlab mappings past ss_map_limit is not made.
 * Accounting stays exact per SuperSlab: B's `used` keeps counting the
 * blocks addressed through B's range; A's `used` grows by them (its free
 * list invariant) and acct_adjust[A] takes them back out of A's counter.
 *
 * hak_mesh_potential runs steps 1 and 2 on copies, merging nothing: how
 * many slabs meshing could release, for any configuration.
 */
#include <string.h>

#include "queue.h"

#define HAK_MESH_MAX_CAND 4096u   /* candidates per class and pass */
#define HAK_MESH_PROBES 64u       /* right-half slabs tried per left-half slab */
#define HAK_MESH_ROUNDS 4u        /* matching rounds per pass */
#define HAK_MESH_POTENTIAL_ROUNDS 8u
#define HAK_MESH_CHUNK (1u << 20) /* mesh blocks are carved from chunks this big */
#define HAK_MESH_MAX_MOVE 64u     /* ranges one merge moves: a slab and its aliases */

static inline bool bit_test(const uint64_t *w, uint32_t i) { return (w[i >> 6] >> (i & 63)) & 1u; }
static inline void bit_clear(uint64_t *w, uint32_t i) { w[i >> 6] &= ~((uint64_t)1 << (i & 63)); }

/* ------------------------------------------------------- mesh blocks */

static size_t mesh_block_size(const hak_class_state *cs) {
  size_t n = sizeof(hak_ss_mesh) + cs->nslabs * sizeof(hak_slab_mesh) +
             (size_t)cs->nslabs * cs->mesh_words * sizeof(uint64_t);
  return (n + 63) & ~(size_t)63;
}

hak_ss_mesh *hak_ss_mesh_get(hak_allocator *a, hak_superslab *ss) {
  hak_ss_mesh *m = atomic_load_explicit(&ss->mesh, memory_order_relaxed);
  if (m) return m;
  hak_class_state *cs = &a->classes[ss->class_idx];
  size_t size = mesh_block_size(cs);
  if (cs->mesh_free) {
    m = cs->mesh_free;
    cs->mesh_free = m->next_free;
  } else {
    pthread_mutex_lock(&a->map_lock);
    if (!a->mesh_bump || a->mesh_bump + size > a->mesh_end) {
      size_t len = size + 64 > HAK_MESH_CHUNK ? size + 64 : HAK_MESH_CHUNK;
      char *chunk = hak_os_map(a, len);
      if (chunk) {
        ((void **)chunk)[0] = a->mesh_chunks;
        ((size_t *)chunk)[1] = len;
        a->mesh_chunks = chunk;
        a->mesh_bump = chunk + 64;
        a->mesh_end = chunk + len;
      }
    }
    if (a->mesh_bump && a->mesh_bump + size <= a->mesh_end) {
      m = (hak_ss_mesh *)a->mesh_bump;
      a->mesh_bump += size;
    }
    pthread_mutex_unlock(&a->map_lock);
    if (!m) return NULL;
  }
  memset(m, 0, size);
  m->vmas = 1;
  for (uint32_t i = 0; i < ss->nslabs; i++) m->slab[i].live = hak_mesh_bitmap(cs, m, ss->nslabs, i);
  atomic_store_explicit(&ss->mesh, m, memory_order_release);
  return m;
}

void hak_ss_mesh_put(hak_allocator *a, hak_superslab *ss) {
  hak_ss_mesh *m = atomic_load_explicit(&ss->mesh, memory_order_relaxed);
  if (!m) return;
  hak_class_state *cs = &a->classes[ss->class_idx];
  atomic_store_explicit(&ss->mesh, NULL, memory_order_relaxed);
  m->next_free = cs->mesh_free;
  cs->mesh_free = m;
}

void hak_mesh_destroy(hak_allocator *a) {
  for (void *c = a->mesh_chunks, *next; c; c = next) {
    next = ((void **)c)[0];
    hak_os_unmap(a, c, ((size_t *)c)[1]);
  }
  a->mesh_chunks = NULL;
  a->mesh_bump = a->mesh_end = NULL;
  for (uint32_t c = 0; c < a->class_count; c++) a->classes[c].mesh_free = NULL;
  if (a->mesh_scratch) hak_os_unmap(a, a->mesh_scratch, a->mesh_scratch_len);
  a->mesh_scratch = NULL;
  a->mesh_scratch_len = 0;
}

/* ------------------------------------------------------- candidates */

typedef struct cand {
  hak_slab *s;
  hak_superslab *ss;
  uint64_t *bits;     /* offsets its pages hold */
  uint32_t live;      /* bits set */
  uint32_t naliases;  /* a primary: it can only keep */
  uint8_t state;      /* CAND_OPEN, CAND_PAIRED (this round), CAND_GONE */
} cand;

enum { CAND_OPEN = 0, CAND_PAIRED, CAND_GONE };

/* trim_lock held: room for max candidates of `words` bitmap words. */
static cand *scratch(hak_allocator *a, uint32_t max, uint32_t words, uint32_t **order,
                     uint64_t **bits) {
  size_t need = (size_t)max * (sizeof(cand) + sizeof(uint32_t) + words * sizeof(uint64_t));
  need = (need + 4095) & ~(size_t)4095;
  if (need > a->mesh_scratch_len) {
    void *p = hak_os_map(a, need);
    if (!p) return NULL;
    if (a->mesh_scratch) hak_os_unmap(a, a->mesh_scratch, a->mesh_scratch_len);
    a->mesh_scratch = p;
    a->mesh_scratch_len = need;
  }
  cand *c = a->mesh_scratch;
  *order = (uint32_t *)(c + max);
  *bits = (uint64_t *)(((uintptr_t)(*order + max) + 7) & ~(uintptr_t)7);
  return c;
}

/* The index of block q in slab s, or UINT32_MAX when q is none of its
 * carved blocks. */
static uint32_t block_index(const hak_superslab *ss, const hak_slab *s, const void *q) {
  uintptr_t off = (uintptr_t)q - (uintptr_t)s->data;
  if (off >= s->span || off % ss->block_size) return UINT32_MAX;
  return (uint32_t)(off / ss->block_size);
}

/* Clears the bits of the blocks on a list of s (links decoded by fc_key
 * for a free cache, where only s's blocks count); false when the list is
 * not what it should be (a block twice, a link out of the slab). */
static bool clear_list(const hak_allocator *a, const hak_superslab *ss, const hak_slab *s,
                       const void *q, bool cache, uint32_t budget, uint64_t *bits) {
  for (; q && budget--; q = cache ? hak_fc_get(a, q) : hak_link_get(a, q)) {
    uint32_t i = block_index(ss, s, q);
    if (i == UINT32_MAX) {
      if (cache) continue; /* another slab's cached block */
      return false;
    }
    if (!bit_test(bits, i)) return false;
    bit_clear(bits, i);
  }
  return q == NULL;
}

/* The offsets s's pages hold, into bits: its carved blocks (every one
 * when fully carved; otherwise the first `carved` of its slot order) less
 * its lists. false when the lists do not add up (left alone: a bad free
 * will show there). */
static bool live_bits(const hak_allocator *a, const hak_class_state *cs, const hak_superslab *ss,
                      const hak_slab *s, uint32_t words, uint64_t *bits) {
  uint32_t cap = s->capacity;
  if (s->carved == cap) {
    for (uint32_t w = 0; w < words; w++)
      bits[w] = w < cap / 64 ? ~(uint64_t)0 : w == cap / 64 && cap % 64 ? ((uint64_t)1 << (cap % 64)) - 1 : 0;
  } else {
    memset(bits, 0, words * sizeof *bits);
    for (uint32_t k = 0; k < s->carved; k++) {
      uint32_t i = hak_slot_index(a, cs, ss->id, s->index, cap, k);
      bits[i >> 6] |= (uint64_t)1 << (i & 63);
    }
  }
  uintptr_t word = atomic_load_explicit(&ss->remote_heads[s->index], memory_order_relaxed);
  if (!clear_list(a, ss, s, s->free_list, false, cap + 1, bits) ||
      !clear_list(a, ss, s, hak_remote_first(word), false, cap + 1, bits))
    return false;
  hak_tcache *tc = atomic_load_explicit(&s->owner_tc, memory_order_relaxed);
  if (tc && !s->orphaned) {
    const hak_class_cache *cc = &tc->cls[ss->class_idx];
    if (!clear_list(a, ss, s, cc->fc_head, true, cc->fc_count + 1u, bits)) return false;
  }
  uint32_t n = 0;
  for (uint32_t w = 0; w < words; w++) n += (uint32_t)__builtin_popcountll(bits[w]);
  return n == atomic_load_explicit(&s->used, memory_order_relaxed) - hak_remote_count(word);
}

/* Class lock held: the class's candidates, in mapping order. */
static uint32_t collect(const hak_allocator *a, const hak_class_state *cs, cand *c, uint32_t max,
                        uint64_t *bits) {
  uint32_t n = 0, words = cs->mesh_words;
  for (hak_superslab *ss = cs->first; ss && n < max; ss = ss->next) {
    hak_ss_mesh *m = atomic_load_explicit(&ss->mesh, memory_order_relaxed);
    for (uint32_t i = 1; i < ss->nslabs && n < max; i++) {
      hak_slab *s = &ss->slabs[i];
      uint32_t owner = atomic_load_explicit(&s->owner_tid, memory_order_relaxed);
      if (owner == HAK_TID_NONE || owner == HAK_TID_ALIAS) continue;
      uint32_t live = atomic_load_explicit(&s->used, memory_order_relaxed) -
                      hak_remote_count(atomic_load_explicit(&ss->remote_heads[i], memory_order_relaxed));
      if (live == 0 || (uint64_t)live * 4 > (uint64_t)s->capacity * 3) continue;
      uint64_t *b = bits + (size_t)n * words;
      if (!live_bits(a, cs, ss, s, words, b)) continue;
      uint32_t na = m ? atomic_load_explicit(&m->slab[i].naliases, memory_order_relaxed) : 0;
      c[n++] = (cand){s, ss, b, live, na, CAND_OPEN};
    }
  }
  return n;
}

/* ---------------------------------------------------------- matching */

typedef int (*merge_fn)(void *ctx, cand *keep, cand *gone);

static bool overlap(const uint64_t *x, const uint64_t *y, uint32_t words) {
  for (uint32_t w = 0; w < words; w++)
    if (x[w] & y[w]) return true;
  return false;
}

/* Rounds of split matching over c[0..n); returns the merges made. */
static uint32_t match(cand *c, uint32_t n, uint32_t *order, uint32_t words, uint64_t seed,
                      uint32_t rounds, merge_fn merge, void *ctx, uint32_t *tested) {
  uint32_t merged = 0;
  for (uint32_t round = 0; round < rounds; round++) {
    uint32_t open = 0;
    for (uint32_t i = 0; i < n; i++) {
      if (c[i].state == CAND_PAIRED) c[i].state = CAND_OPEN;
      if (c[i].state == CAND_OPEN) order[open++] = i;
    }
    uint64_t x = hak_mix64(seed + round) | 1;
    for (uint32_t i = open; i > 1; i--) { /* Fisher-Yates, deterministic */
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      uint32_t j = (uint32_t)(x % i), t = order[i - 1];
      order[i - 1] = order[j];
      order[j] = t;
    }
    uint32_t half = open / 2, right = open - half, made = 0;
    for (uint32_t i = 0; i < half; i++) {
      cand *l = &c[order[i]];
      uint32_t probes = right < HAK_MESH_PROBES ? right : HAK_MESH_PROBES;
      for (uint32_t k = 0; k < probes && l->state == CAND_OPEN; k++) {
        cand *r = &c[order[half + (i + k) % right]];
        if (r->state != CAND_OPEN || l->live + r->live > l->s->capacity) continue;
        (*tested)++;
        if (overlap(l->bits, r->bits, words)) continue;
        /* The fuller one keeps (fewer blocks to copy); on a tie, the one
         * with aliases (fewer ranges to move). */
        cand *keep = r->live > l->live || (r->live == l->live && r->naliases > l->naliases) ? r : l;
        cand *gone = keep == l ? r : l;
        l->state = r->state = CAND_PAIRED;
        if (merge(ctx, keep, gone) != 0) break;
        for (uint32_t w = 0; w < words; w++) keep->bits[w] |= gone->bits[w];
        keep->live += gone->live;
        keep->naliases += 1 + gone->naliases;
        gone->state = CAND_GONE;
        if ((uint64_t)keep->live * 4 > (uint64_t)keep->s->capacity * 3) keep->state = CAND_GONE;
        made++;
      }
    }
    merged += made;
    if (!made) break;
  }
  return merged;
}

/* ------------------------------------------------------------- merge */

typedef struct pass {
  hak_allocator *a;
  hak_class_state *cs;
  hak_mesh_report *r;
  hak_mesh_potential_report *p;
} pass;

/* The remote stack of s drained on its owner's behalf, counted as its
 * owner's drain (or, with no live owner, with the exited threads'). */
static void drain(hak_allocator *a, hak_superslab *ss, hak_slab *s) {
  hak_tcache *tc = s->orphaned ? NULL : atomic_load_explicit(&s->owner_tc, memory_order_relaxed);
  uint32_t n = hak_ss_remote_drain(a, ss, s, tc);
  if (n && !tc) {
    pthread_mutex_lock(&a->map_lock);
    hak_tstat_add(&a->exited.drains, 1);
    hak_tstat_add(&a->exited.drained_blocks, n);
    pthread_mutex_unlock(&a->map_lock);
  }
}

/* s's blocks out of its owner's free cache: free, and about to be on the
 * free list the merge builds. */
static void purge(hak_allocator *a, hak_superslab *ss, hak_slab *s) {
  hak_tcache *tc = atomic_load_explicit(&s->owner_tc, memory_order_relaxed);
  if (tc && !s->orphaned) hak_fc_purge_slab(a, &tc->cls[ss->class_idx], s);
}

/* s's free list: every offset `held` does not hold, in s's slot order.
 * The slab is fully carved from then on (its uncarved blocks are on the
 * list, and a moved block may sit at one of them), and touched: a link is
 * written into every free block. */
static void rebuild(hak_allocator *a, hak_class_state *cs, hak_superslab *ss, hak_slab *s,
                    const uint64_t *held) {
  void *head = NULL;
  for (uint32_t k = s->capacity; k-- > 0;) {
    uint32_t i = hak_slot_index(a, cs, ss->id, s->index, s->capacity, k);
    if (bit_test(held, i)) continue;
    void *blk = s->data + (size_t)i * cs->block_size;
    hak_link_set(a, blk, head);
    head = blk;
  }
  s->free_list = head;
  s->carved = s->capacity;
  uint32_t *touched = &ss->touched[s->index];
  if (*touched < s->capacity) {
    atomic_fetch_add_explicit(&ss->touched_blocks, s->capacity - *touched, memory_order_relaxed);
    *touched = s->capacity;
  }
}

/* A live owner's slab in the queue its room calls for (current stays). */
static void requeue(hak_superslab *ss, hak_slab *s) {
  if (s->orphaned || s->queue == HAK_Q_CURRENT) return;
  hak_tcache *tc = atomic_load_explicit(&s->owner_tc, memory_order_relaxed);
  hak_class_cache *cc = &tc->cls[ss->class_idx];
  bool room = s->free_list != NULL;
  if (s->queue == HAK_Q_AVAIL && !room) {
    hak_queue_remove(cc, s);
    hak_queue_push_full(cc, s);
  } else if (s->queue == HAK_Q_FULL && room) {
    hak_queue_remove(cc, s);
    hak_queue_push_avail(cc, s);
  }
}

/* The ranges a merge of b moves: b's own, then its aliases'. */
typedef struct moving {
  hak_slab *s[HAK_MESH_MAX_MOVE];
  hak_superslab *ss[HAK_MESH_MAX_MOVE];
  uint32_t n;
} moving;

static bool ranges_of(hak_allocator *a, hak_superslab *sb, hak_slab *b, moving *mv) {
  mv->n = 0;
  mv->s[mv->n] = b;
  mv->ss[mv->n++] = sb;
  for (hak_slab *x = hak_slab_mesh_of(sb, b)->aliases; x;
       x = hak_slab_mesh_of(hak_ss_of_slab(a, x), x)->next_alias) {
    if (mv->n == HAK_MESH_MAX_MOVE) return false;
    mv->s[mv->n] = x;
    mv->ss[mv->n++] = hak_ss_of_slab(a, x);
  }
  return true;
}

/* Points every moving range at p (to, or back from, p: back when p is
 * NULL), as the metadata says how each is mapped; returns the change in
 * the SuperSlab mappings that makes. */
static int64_t point_at(hak_allocator *a, const moving *mv, hak_slab *p, hak_slab *b) {
  for (uint32_t i = 0; i < mv->n; i++) hak_slab_mesh_of(mv->ss[i], mv->s[i])->primary = i ? (p ? p : b) : p;
  if (p) mv->ss[0]->slabs_alias++;
  else mv->ss[0]->slabs_alias--;
  int64_t delta = 0;
  for (uint32_t i = 0; i < mv->n; i++) {
    bool seen = false;
    for (uint32_t j = 0; j < i && !seen; j++) seen = mv->ss[j] == mv->ss[i];
    if (!seen)
      delta += (int64_t)hak_ss_vmas(a, mv->ss[i]) -
               (int64_t)atomic_load_explicit(&mv->ss[i]->mesh, memory_order_relaxed)->vmas;
  }
  return delta;
}

/* Would moving these ranges onto p take the SuperSlab mappings past the
 * limit? */
static bool over_limit(hak_allocator *a, const moving *mv, hak_slab *p, hak_slab *b) {
  uint32_t limit = a->cfg.ss_map_limit;
  if (!limit) return false;
  int64_t delta = point_at(a, mv, p, b);
  point_at(a, mv, NULL, b);
  uint64_t now = atomic_load_explicit(&a->ss_live, memory_order_relaxed) +
                 atomic_load_explicit(&a->ss_split, memory_order_relaxed) +
                 atomic_load_explicit(&a->extra_maps, memory_order_relaxed);
  return delta > 0 && now + (uint64_t)delta > limit;
}

static char *range_of(const hak_superslab *ss, const hak_slab *s) {
  return (char *)ss + ((size_t)s->index << ss->slab_shift);
}

/* Merges gone's slab B into keep's slab A: B's live blocks (its aliases'
 * among them) copied to A, B's range and its aliases' mapped onto A's
 * pages, B's pages punched, B an alias of A (or, with no block of its own
 * left, a free slab), B's aliases A's. */
static int merge_real(void *ctx, cand *keep, cand *gone) {
  pass *ps = ctx;
  hak_allocator *a = ps->a;
  hak_class_state *cs = ps->cs;
  hak_slab *A = keep->s, *B = gone->s;
  hak_superslab *sa = keep->ss, *sb = gone->ss;
  hak_ss_mesh *ma = hak_ss_mesh_get(a, sa), *mb = hak_ss_mesh_get(a, sb);
  moving mv;
  if (!ma || !mb || !ranges_of(a, sb, B, &mv)) return -1;
  if (over_limit(a, &mv, A, B)) {
    ps->r->skipped_limit++;
    hak_gstat_add(&a->g.mesh_skipped_limit, 1);
    return -1;
  }
  uint32_t bs = cs->block_size, words = cs->mesh_words;
  size_t slab = (size_t)1 << cs->slab_shift;
  uint64_t a_off = hak_slab_file_off(a, sa, A), b_off = hak_slab_file_off(a, sb, B);
  /* The owners' views first, while B's range is still B's: both slabs'
   * free blocks (in the bitmaps) on their free lists. */
  purge(a, sa, A);
  purge(a, sb, B);
  drain(a, sa, A);
  drain(a, sb, B);
  for (uint32_t w = 0; w < words; w++)
    for (uint64_t m = gone->bits[w]; m; m &= m - 1) {
      size_t off = ((size_t)w * 64 + (size_t)__builtin_ctzll(m)) * bs;
      memcpy(A->data + off, B->data + off, bs);
    }
  /* Released: B's resident pages, less what A's rebuilt list touches
   * anew in A (its uncarved blocks' pages): net, never below 0. */
  uint64_t released = hak_os_resident(range_of(sb, B), slab) + hak_os_resident(range_of(sa, A), slab);
  uint32_t done = 0;
  while (done < mv.n && hak_backing_remap(a, range_of(mv.ss[done], mv.s[done]), slab, a_off) == 0) done++;
  if (done < mv.n) {
    /* Nothing merged: every range back on B's pages, each slab's free
     * list from its own bitmap. */
    while (done--) hak_backing_remap(a, range_of(mv.ss[done], mv.s[done]), slab, b_off);
    rebuild(a, cs, sa, A, keep->bits);
    rebuild(a, cs, sb, B, gone->bits);
    requeue(sa, A);
    requeue(sb, B);
    hak_ss_refreeze(sa);
    hak_ss_refreeze(sb);
    return -1;
  }
  hak_backing_punch(a, b_off, slab);
  for (uint32_t w = 0; w < words; w++) gone->bits[w] |= keep->bits[w]; /* A's pages now */
  rebuild(a, cs, sa, A, gone->bits);
  for (uint32_t w = 0; w < words; w++) gone->bits[w] &= ~keep->bits[w];
  uint64_t a_now = hak_os_resident(range_of(sa, A), slab);
  released = released > a_now ? released - a_now : 0;
  /* Counts. Every moved block is addressed elsewhere than A: A's `used`
   * holds them, acct_adjust[A] takes them out of A's counter. B keeps
   * counting its own; what it held for its aliases, they count. */
  hak_slab_mesh *pa = &ma->slab[A->index], *pb = &mb->slab[B->index];
  uint32_t moved = gone->live, held = pb->alias_blocks, own = moved - held;
  HAK_ASSERT(atomic_load_explicit(&A->used, memory_order_relaxed) == keep->live);
  HAK_ASSERT(atomic_load_explicit(&B->used, memory_order_relaxed) == moved);
  atomic_store_explicit(&A->used, keep->live + moved, memory_order_relaxed);
  atomic_store_explicit(&sa->acct_adjust[A->index],
                        atomic_load_explicit(&sa->acct_adjust[A->index], memory_order_relaxed) -
                            (int64_t)moved,
                        memory_order_relaxed);
  atomic_store_explicit(&B->used, own, memory_order_relaxed);
  atomic_store_explicit(&sb->acct_adjust[B->index],
                        atomic_load_explicit(&sb->acct_adjust[B->index], memory_order_relaxed) +
                            (int64_t)held,
                        memory_order_relaxed);
  requeue(sa, A);
  hak_slab_alias(a, cs, sb, B);
  /* B's own blocks: its bitmap less its aliases'. */
  memcpy(pb->live, gone->bits, words * sizeof(uint64_t));
  for (hak_slab *x = pb->aliases; x;) {
    hak_slab_mesh *px = hak_slab_mesh_of(hak_ss_of_slab(a, x), x);
    for (uint32_t w = 0; w < words; w++) pb->live[w] &= ~px->live[w];
    px->primary = A;
    if (!px->next_alias) {
      px->next_alias = pa->aliases; /* B's aliases, then A's */
      pa->aliases = pb->aliases;
      break;
    }
    x = px->next_alias;
  }
  uint32_t moved_aliases = atomic_load_explicit(&pb->naliases, memory_order_relaxed);
  if (moved_aliases) mb->primaries--;
  pb->aliases = NULL;
  atomic_store_explicit(&pb->naliases, 0, memory_order_relaxed);
  pb->alias_blocks = 0;
  pb->primary = A;
  pb->next_alias = pa->aliases;
  pa->aliases = B;
  if (atomic_load_explicit(&pa->naliases, memory_order_relaxed) == 0) ma->primaries++;
  atomic_store_explicit(&pa->naliases,
                        atomic_load_explicit(&pa->naliases, memory_order_relaxed) + 1 + moved_aliases,
                        memory_order_relaxed);
  pa->alias_blocks += moved;
  /* B's pages are gone: no longer touched. */
  atomic_fetch_sub_explicit(&sb->touched_blocks, sb->touched[B->index], memory_order_relaxed);
  sb->touched[B->index] = 0;
  for (uint32_t i = 0; i < mv.n; i++) {
    bool seen = false;
    for (uint32_t j = 0; j < i && !seen; j++) seen = mv.ss[j] == mv.ss[i];
    if (!seen) hak_ss_vmas_update(a, mv.ss[i]);
  }
  /* No block of its own: B needs no alias, only its range back. */
  if (own == 0) hak_unmesh(a, sb, B);
  hak_ss_refreeze(sa);
  hak_ss_refreeze(sb);
  ps->r->meshes++;
  ps->r->moved_blocks += moved;
  ps->r->released_bytes += released;
  hak_gstat_add(&a->g.meshes, 1);
  hak_gstat_add(&a->g.mesh_moved_blocks, moved);
  hak_gstat_add(&a->g.mesh_released_bytes, released);
  if (HAK_OBS(a, mesh)) a->obs.mesh(a->obs.ctx, sa->id, A->index, sb->id, B->index, moved);
  return 0;
}

static int merge_counted(void *ctx, cand *keep, cand *gone) {
  pass *ps = ctx;
  (void)keep;
  size_t slab = (size_t)1 << ps->cs->slab_shift;
  ps->p->slabs++;
  ps->p->bytes += slab;
  ps->p->resident_bytes +=
      hak_os_resident((char *)gone->ss + ((size_t)gone->s->index << ps->cs->slab_shift), slab);
  return 0;
}

/* ---------------------------------------------------------- the pass */

/* Aliases whose range could not be given back when their last block went. */
static void retry_stuck(hak_allocator *a) {
  for (uint32_t c = 0; c < a->class_count; c++) {
    hak_class_state *cs = &a->classes[c];
    pthread_mutex_lock(&cs->lock);
    for (hak_superslab *ss = cs->first; ss; ss = ss->next)
      for (uint32_t i = 1; ss->slabs_alias && i < ss->nslabs; i++)
        if (atomic_load_explicit(&ss->slabs[i].owner_tid, memory_order_relaxed) == HAK_TID_ALIAS &&
            hak_slab_mesh_of(ss, &ss->slabs[i])->stuck)
          hak_unmesh(a, ss, &ss->slabs[i]);
    pthread_mutex_unlock(&cs->lock);
  }
}

/* Class by class: the candidates, then the matching with `merge`. */
static void each_class(hak_allocator *a, pass *ps, merge_fn merge, uint64_t seed, uint32_t rounds,
                       uint32_t *candidates, uint32_t *tested) {
  for (uint32_t c = 0; c < a->class_count; c++) {
    hak_class_state *cs = &a->classes[c];
    pthread_mutex_lock(&cs->lock);
    uint32_t max = cs->count * (cs->nslabs - 1);
    if (max > HAK_MESH_MAX_CAND) max = HAK_MESH_MAX_CAND;
    uint32_t *order;
    uint64_t *bits;
    cand *cv = max ? scratch(a, max, cs->mesh_words, &order, &bits) : NULL;
    uint32_t n = cv ? collect(a, cs, cv, max, bits) : 0;
    *candidates += n;
    ps->cs = cs;
    if (n > 1)
      match(cv, n, order, cs->mesh_words, hak_mix64(seed ^ ((uint64_t)c << 40)), rounds, merge, ps,
            tested);
    pthread_mutex_unlock(&cs->lock);
  }
}

int hak_mesh(hak_allocator *a, hak_mesh_report *out) {
  hak_mesh_report r;
  memset(&r, 0, sizeof r);
  if (!hak_backing_on(a)) {
    if (out) *out = r;
    return -HAK_EINVAL;
  }
  pthread_mutex_lock(&a->trim_lock);
  r.pass = atomic_fetch_add_explicit(&a->g.mesh_passes, 1, memory_order_relaxed) + 1;
  if (atomic_load_explicit(&a->mesh_stuck, memory_order_relaxed)) retry_stuck(a);
  pass ps = {a, NULL, &r, NULL};
  each_class(a, &ps, merge_real, a->slot_key ^ (r.pass << 20), HAK_MESH_ROUNDS, &r.candidates,
             &r.pairs_tested);
  pthread_mutex_unlock(&a->trim_lock);
  if (out) *out = r;
  return 0;
}

int hak_mesh_potential(hak_allocator *a, hak_mesh_potential_report *out) {
  hak_mesh_potential_report p;
  hak_mesh_report r;
  memset(&p, 0, sizeof p);
  memset(&r, 0, sizeof r);
  pthread_mutex_lock(&a->trim_lock);
  pass ps = {a, NULL, &r, &p};
  each_class(a, &ps, merge_counted, a->slot_key, HAK_MESH_POTENTIAL_ROUNDS, &p.candidates,
             &p.pairs_tested);
  pthread_mutex_unlock(&a->trim_lock);
  if (out) *out = p;
  return 0;
}
