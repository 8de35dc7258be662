/* test_mesh.c: meshing (compaction=mesh, docs/meshing.md). Two slabs of
 * one class with live blocks at disjoint offsets are built on purpose and
 * merged: one slab's pages go, every live block keeps its contents through
 * both virtual ranges, the counts (per SuperSlab, mappings against
 * /proc/self/maps) stay exact; then every block is freed from both ranges,
 * from the owner and from other threads, double frees among them, until
 * the alias dissolves and trim unmaps everything. Also: the map limit
 * stops a mesh, hak_mesh_potential under every configuration, and what
 * random slot order changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runner.h"
#include "testutil.h"

#define BS 256u          /* block size: 256 blocks per 64 KiB slab */
#define SLAB 65536u
#define CAP (SLAB / BS)
#define CAP0 ((SLAB - 3072u) / BS) /* slab 0: the header, rounded to a block */

static const char *const mesh_cfg[] = {"preset=phase1", "compaction=mesh", "slot_order=random",
                                       "empty_reserve=0", "on_bad_free=count", NULL};

static void check(hak_allocator *a) {
  char err[256];
  if (hak_check(a, true, err, sizeof err) != 0) fail_msg("hak_check: %s", err);
}

static uint64_t stat_of(hak_allocator *a, size_t off) {
  hak_stats st;
  hak_get_stats(a, &st);
  return *(uint64_t *)((char *)&st + off);
}
#define STAT(a, name) stat_of(a, offsetof(hak_stats, name))

/* The block index of p in its slab (slabs other than 0 start on the slab). */
static uint32_t offset_index(hak_allocator *a, const void *p) {
  hak_ss_info info = ss_info(a, p);
  return (uint32_t)(((uintptr_t)p - info.base) % SLAB / BS);
}

static void fill(void *p, uint32_t tag) {
  unsigned char *c = p;
  for (uint32_t i = 0; i < BS; i++) c[i] = (unsigned char)(tag * 131u + i);
}

static bool intact(const void *p, uint32_t tag) {
  const unsigned char *c = p;
  for (uint32_t i = 0; i < BS; i++)
    if (c[i] != (unsigned char)(tag * 131u + i)) return false;
  return true;
}

/* One thread's slabs 0 and 1 full, and `extra` blocks of slab 2. */
typedef struct slabs {
  hak_allocator *a;
  void *blk[CAP0 + CAP + 8];
  uint32_t n, tag0;
} slabs;

static void alloc_slabs(void *arg) {
  slabs *s = arg;
  for (uint32_t i = 0; i < s->n; i++) {
    s->blk[i] = hak_malloc(s->a, BS);
    assert_non_null(s->blk[i]);
    fill(s->blk[i], s->tag0 + i);
  }
}

/* Frees the slab-1 blocks of s whose offset index has parity `odd`. */
typedef struct parity_free {
  slabs *s;
  int odd;
  int every_other; /* only every other such block (the rest: another call) */
  int second;
} parity_free;

static void free_parity(void *arg) {
  parity_free *f = arg;
  slabs *s = f->s;
  int k = 0;
  for (uint32_t i = CAP0; i < CAP0 + CAP; i++) {
    if (!s->blk[i] || (int)(offset_index(s->a, s->blk[i]) & 1) != f->odd) continue;
    if (f->every_other && (k++ & 1) != f->second) continue;
    assert_int_equal(hak_free(s->a, s->blk[i]), 0);
    s->blk[i] = NULL;
  }
}

/* Frees every block of s in slab 1 (the rest too when all). */
typedef struct range_free {
  slabs *s;
  uint32_t from, to;
} range_free;

static void free_range(void *arg) {
  range_free *f = arg;
  for (uint32_t i = f->from; i < f->to; i++) {
    if (!f->s->blk[i]) continue;
    assert_true(intact(f->s->blk[i], f->s->tag0 + i));
    assert_int_equal(hak_free(f->s->a, f->s->blk[i]), 0);
    f->s->blk[i] = NULL;
  }
}

static void detach(void *a) { hak_thread_detach(a); }

/* {a, blocks, n}: each free must be refused as a bad free. */
static void free_expect_bad(void *arg) {
  void **v = arg;
  void **blocks = v[1];
  for (uintptr_t i = 0; i < (uintptr_t)v[2]; i++)
    assert_int_equal(hak_free(v[0], blocks[i]), -HAK_EBADFREE);
}

/* The mappings the SuperSlab holding p is split into, by /proc/self/maps,
 * against the instance's own count of them. */
static uint32_t ss_maps(hak_allocator *a, const void *p) {
  return proc_maps_within(ss_info(a, p).base, 2u << 20);
}

/* Main owns slabs 1 and 2 of one SuperSlab; slab 1 keeps its even blocks,
 * slab 2 its odd ones (half of slab 2's frees are remote, pending on its
 * stack). One mesh merges them. */
static void test_mesh_on_purpose(void **state) {
  (void)state;
  runner_exit(runner_start()); /* glibc keeps a stack of a joined thread: one now */
  (void)proc_map_count();
  long maps_before = proc_map_count();
  hak_allocator *a = make_alloc(mesh_cfg, 0);
  const uint32_t n = CAP0 + 2 * CAP + 4; /* slabs 0, 1, 2 full, 4 blocks of slab 3 */
  void **blk = calloc(n, sizeof *blk);
  for (uint32_t i = 0; i < n; i++) {
    blk[i] = hak_malloc(a, BS);
    fill(blk[i], i);
  }
  for (uint32_t i = 0; i < n; i++)
    assert_int_equal(slab_index(a, blk[i]), i < CAP0 ? 0 : i < CAP0 + CAP ? 1 : i < CAP0 + 2 * CAP ? 2 : 3);
  /* Slab 1: the odd blocks go (local). Slab 2: the even ones, half local,
   * half by another thread (remote, pending). */
  void *freed_b[CAP], *freed_a[CAP];
  uint32_t nfa = 0, nfb = 0;
  void *remote[CAP];
  uint32_t nremote = 0;
  for (uint32_t i = CAP0; i < CAP0 + 2 * CAP; i++) {
    uint32_t k = offset_index(a, blk[i]);
    bool one = i < CAP0 + CAP;
    if ((k & 1) != (one ? 1u : 0u)) continue;
    if (one) freed_a[nfa++] = blk[i];
    else freed_b[nfb++] = blk[i];
    if (!one && (k & 2)) remote[nremote++] = blk[i];
    else assert_int_equal(hak_free(a, blk[i]), 0);
  }
  hak_runner *t = runner_start();
  test_batch rb = {a, remote, 0, (int)nremote, 0};
  runner_call(t, batch_free, &rb);
  assert_int_equal(slab_remote_count(a, blk[CAP0 + CAP]), nremote);
  check(a);

  void *any = blk[0];
  assert_int_equal(ss_maps(a, any), 1);
  hak_stats st;
  hak_get_stats(a, &st);
  assert_int_equal(st.ss_mappings, 1);
  uint64_t mappings = st.mappings, resident = hak_resident_bytes(a);
  int64_t active = ss_info(a, any).total_active_blocks;

  hak_mesh_report r;
  assert_int_equal(hak_mesh(a, &r), 0);
  assert_int_equal(r.pass, 1);
  assert_int_equal(r.candidates, 3); /* slab 3, partly carved, too */
  assert_int_equal(r.meshes, 1);
  assert_int_equal(r.moved_blocks, CAP / 2);
  assert_int_equal(r.released_bytes, SLAB);
  uint64_t after = hak_resident_bytes(a);
  print_message("resident %llu -> %llu bytes (released %llu)\n", (unsigned long long)resident,
                (unsigned long long)after, (unsigned long long)r.released_bytes);
  assert_true(after + SLAB - 4 * 4096 <= resident); /* a slab less, give or take the pass's own pages */
  check(a);

  /* Every live block intact, through both ranges; the two ranges show
   * the same pages. */
  for (uint32_t i = 0; i < n; i++) {
    bool freed = false;
    for (uint32_t k = 0; k < nfa && !freed; k++) freed = freed_a[k] == blk[i];
    for (uint32_t k = 0; k < nfb && !freed; k++) freed = freed_b[k] == blk[i];
    if (freed) blk[i] = NULL;
    else assert_true(intact(blk[i], i));
  }
  /* An even block of slab 1 and its twin in slab 2 (freed before): one of
   * the two ranges shows the other's page (volatile: the compiler cannot
   * know that two addresses a slab apart are one byte). */
  volatile unsigned char *p1 = NULL;
  for (uint32_t i = CAP0; i < CAP0 + CAP && !p1; i++)
    if (blk[i] && !(offset_index(a, blk[i]) & 1)) p1 = blk[i];
  volatile unsigned char *p2 = p1 + SLAB;
  for (uint32_t i = 0; i < BS; i++) assert_int_equal(p1[i], p2[i]);
  p1[7] ^= 0xff;
  assert_int_equal(p2[7], p1[7]);
  p1[7] ^= 0xff;

  /* One SuperSlab split in three mappings (the merged slab's range shows
   * the other's pages), as the kernel sees it. */
  hak_get_stats(a, &st);
  assert_int_equal(st.meshes, 1);
  assert_int_equal(st.mesh_moved_blocks, CAP / 2);
  assert_int_equal(st.ss_mappings, 3);
  assert_int_equal(st.peak_ss_mappings, 3);
  assert_int_equal(ss_maps(a, any), 3);
  assert_true(st.mappings >= mappings + 2);
  hak_ss_info info = ss_info(a, any);
  assert_int_equal(info.slabs_alias, 1);
  assert_int_equal(info.total_active_blocks, active); /* the remote frees were counted at the push */
  assert_int_equal(info.used_blocks, active);         /* drained: nothing pending */
  assert_int_equal(info.remote_pending, 0);

  /* Double frees through both ranges, by the owner and by another thread:
   * in the merged slab's range a block freed before the mesh (its bit is
   * clear), in the keeper's a block freed before whose slot now holds a
   * merged block. Whichever slab was merged, freed_a and freed_b hold one
   * kind each. Caught, counted, nothing changes. */
  assert_int_equal(hak_free(a, freed_a[0]), -HAK_EBADFREE);
  assert_int_equal(hak_free(a, freed_b[0]), -HAK_EBADFREE);
  void *twice[2] = {freed_a[1], freed_b[1]};
  runner_call(t, free_expect_bad, (void *[]){a, twice, (void *)(uintptr_t)2});
  assert_int_equal(STAT(a, bad_frees), 4);
  check(a);

  /* Every live block of slabs 1 and 2 freed: a quarter by another thread
   * (remote, whatever range), the rest by main. */
  void *others[CAP];
  uint32_t nothers = 0;
  for (uint32_t i = CAP0; i < CAP0 + 2 * CAP; i++)
    if (blk[i] && (i & 3) == 0) {
      assert_true(intact(blk[i], i));
      others[nothers++] = blk[i];
      blk[i] = NULL;
    }
  test_batch ob = {a, others, 0, (int)nothers, 0};
  runner_call(t, batch_free, &ob);
  check(a);
  for (uint32_t i = CAP0; i < CAP0 + 2 * CAP; i++)
    if (blk[i]) {
      assert_true(intact(blk[i], i));
      assert_int_equal(hak_free(a, blk[i]), 0);
      blk[i] = NULL;
      if (i % 37 == 0) check(a);
    }
  hak_get_stats(a, &st);
  assert_int_equal(st.unmeshes, 1);
  assert_int_equal(st.ss_mappings, 1);
  assert_int_equal(ss_maps(a, any), 1);
  assert_int_equal(ss_info(a, any).slabs_alias, 0);
  check(a);
  /* A block freed twice through the range that is no longer an alias is
   * the ordinary case again: nothing to test there. The rest, then trim. */
  for (uint32_t i = 0; i < n; i++)
    if (blk[i]) {
      assert_true(intact(blk[i], i));
      assert_int_equal(hak_free(a, blk[i]), 0);
    }
  runner_call(t, detach, a);
  runner_exit(t);
  hak_thread_detach(a);
  check(a);
  hak_trim_report tr;
  hak_trim(a, &tr, NULL, 0);
  assert_int_equal(tr.skipped_nonempty + tr.skipped_meshed + tr.skipped_cached, 0);
  hak_get_stats(a, &st);
  assert_int_equal(st.ss_live, 0);
  assert_int_equal(st.ss_mappings, 0);
  assert_int_equal(st.bad_frees, 4);
  free(blk);
  hak_destroy(a);
#ifndef SANITIZED
  assert_int_equal(proc_map_count(), maps_before);
#else
  (void)maps_before;
#endif
}

/* Every SuperSlab's mappings by /proc/self/maps, summed. */
typedef struct bases {
  uintptr_t base[64];
  uint32_t n;
} bases;

static void add_base(void *ctx, const hak_ss_info *ss) {
  bases *b = ctx;
  if (b->n < 64) b->base[b->n++] = ss->base;
}

static uint32_t all_ss_maps(hak_allocator *a) {
  bases b = {{0}, 0};
  hak_ss_foreach(a, add_base, &b);
  uint32_t n = 0;
  for (uint32_t i = 0; i < b.n; i++) n += proc_maps_within(b.base[i], 2u << 20);
  return n;
}

/* The per-SuperSlab counters against the blocks live at its addresses. */
static void expect_active(hak_allocator *a, const void *in_ss, int64_t live) {
  hak_ss_info info = ss_info(a, in_ss);
  assert_int_equal(info.total_active_blocks, live);
  assert_int_equal(info.used_blocks, live + (int64_t)info.remote_pending);
}

static uint32_t live_in(const slabs *s) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < s->n; i++) n += s->blk[i] != NULL;
  return n;
}

/* Two threads, each with slabs 0 and 1 of a SuperSlab of its own full and
 * one block of slab 2 (tags from 0 and from 5000). */
static void two_owners(hak_allocator *a, slabs *s1, slabs *s2, hak_runner **t1, hak_runner **t2) {
  *s1 = (slabs){.a = a, .n = CAP0 + CAP + 1, .tag0 = 0};
  *s2 = (slabs){.a = a, .n = CAP0 + CAP + 1, .tag0 = 5000};
  *t1 = runner_start();
  *t2 = runner_start();
  runner_call(*t1, alloc_slabs, s1);
  runner_call(*t2, alloc_slabs, s2);
}

/* Two threads, two SuperSlabs (refill fresh): thread 1's slab 1 keeps its
 * even blocks, thread 2's its odd ones, and thread 2 exits (its slab an
 * orphan, with remote frees pending that nobody drains under `leave`).
 * After the mesh each SuperSlab still counts exactly the blocks at its
 * addresses; when the keeper's own blocks are all freed its SuperSlab
 * reads 0 but trim keeps it (it holds the merged slab's blocks); frees of
 * the merged range by three threads dissolve the alias; trim takes both. */
static void test_mesh_across_owners_accounting_and_trim(void **state) {
  (void)state;
  hak_allocator *a = make_alloc(mesh_cfg, 0);
  static slabs s1, s2;
  hak_runner *t1, *t2;
  two_owners(a, &s1, &s2, &t1, &t2);
  const void *in1 = s1.blk[0], *in2 = s2.blk[0]; /* an address in each SuperSlab */
  assert_int_not_equal(ss_info(a, in1).id, ss_info(a, in2).id);
  /* Slabs 0 empty (released) and slab 2's block freed (current, kept). */
  range_free z1 = {&s1, 0, CAP0}, z2 = {&s2, 0, CAP0};
  range_free c1 = {&s1, CAP0 + CAP, CAP0 + CAP + 1}, c2 = {&s2, CAP0 + CAP, CAP0 + CAP + 1};
  runner_call(t1, free_range, &z1);
  runner_call(t1, free_range, &c1);
  runner_call(t2, free_range, &z2);
  runner_call(t2, free_range, &c2);
  parity_free o1 = {&s1, 1, 0, 0}, e2 = {&s2, 0, 1, 0}, e2_main = {&s2, 0, 0, 0};
  runner_call(t1, free_parity, &o1);
  runner_call(t2, free_parity, &e2);
  free_parity(&e2_main); /* remote: pending on thread 2's slab */
  runner_exit(t2);
  expect_active(a, in1, CAP / 2);
  expect_active(a, in2, CAP / 2);
  assert_int_equal(ss_info(a, in2).remote_pending, CAP / 4);
  check(a);

  hak_mesh_report r;
  assert_int_equal(hak_mesh(a, &r), 0);
  assert_int_equal(r.meshes, 1);
  check(a);
  expect_active(a, in1, CAP / 2);
  expect_active(a, in2, CAP / 2);
  /* Which one was merged: its SuperSlab has the alias. */
  bool two_merged = ss_info(a, in2).slabs_alias == 1;
  assert_int_equal(ss_info(a, two_merged ? in1 : in2).slabs_alias, 0);
  slabs *keep = two_merged ? &s1 : &s2, *gone = two_merged ? &s2 : &s1;
  const void *keep_ss = two_merged ? in1 : in2, *gone_ss = two_merged ? in2 : in1;
  for (uint32_t i = 0; i < keep->n; i++)
    if (keep->blk[i]) assert_true(intact(keep->blk[i], keep->tag0 + i));
  for (uint32_t i = 0; i < gone->n; i++)
    if (gone->blk[i]) assert_true(intact(gone->blk[i], gone->tag0 + i));

  /* Thread 1 goes (its slab 1, keeper or merged, outlives it), then the
   * keeper's own blocks are freed: its SuperSlab reads 0 and holds the
   * merged blocks. */
  runner_call(t1, detach, a);
  check(a);
  range_free all_keep = {keep, 0, keep->n};
  free_range(&all_keep);
  expect_active(a, keep_ss, 0);
  expect_active(a, gone_ss, CAP / 2);
  hak_trim_report tr;
  assert_int_equal(hak_trim(a, &tr, NULL, 0), 0);
  assert_int_equal(tr.skipped_meshed, 1);
  assert_int_equal(tr.skipped_nonempty, 1);
  check(a);

  /* The merged range's blocks: a third by thread 1 (again attached), a
   * third by a new thread, the rest by main. */
  hak_runner *t3 = runner_start();
  uint32_t left = live_in(gone), k = 0;
  for (uint32_t i = 0; i < gone->n; i++) {
    if (!gone->blk[i]) continue;
    range_free one = {gone, i, i + 1};
    if (k % 3 == 2) free_range(&one);
    else runner_call(k % 3 == 0 ? t1 : t3, free_range, &one);
    k++;
    left--;
    if (left) expect_active(a, gone_ss, left);
    if (left % 16 == 0) check(a);
  }
  hak_stats st;
  hak_get_stats(a, &st);
  assert_int_equal(st.unmeshes, 1);
  assert_int_equal(st.ss_mappings, 2);
  runner_call(t1, detach, a);
  runner_call(t3, detach, a);
  runner_exit(t1);
  runner_exit(t3);
  hak_thread_detach(a);
  check(a);
  assert_int_equal(hak_trim(a, &tr, NULL, 0), 2);
  hak_get_stats(a, &st);
  assert_int_equal(st.ss_live, 0);
  assert_int_equal(st.ss_mappings, 0);
  assert_int_equal(st.allocs, st.frees_local + st.frees_remote);
  hak_destroy(a);
}

/* Main's slabs 1 and 2 of its one SuperSlab, even blocks kept in one,
 * odd in the other; the pointers in blk[CAP0 + 2 * CAP + 4]. */
static void disjoint_pair(hak_allocator *a, void **blk) {
  for (uint32_t i = 0; i < CAP0 + 2 * CAP + 4; i++) {
    blk[i] = hak_malloc(a, BS);
    fill(blk[i], i);
  }
  for (uint32_t i = CAP0; i < CAP0 + 2 * CAP; i++)
    if ((offset_index(a, blk[i]) & 1) == (i < CAP0 + CAP)) {
      assert_int_equal(hak_free(a, blk[i]), 0);
      blk[i] = NULL;
    }
}

/* ss_map_limit counts the mappings meshes split SuperSlabs into: a mesh
 * that would pass the limit is not made, and once made, its splits leave
 * less room for new SuperSlabs (the map-limit question of issue 13). */
static void test_mesh_map_limit(void **state) {
  (void)state;
  const char *cfg[] = {"preset=phase1", "compaction=mesh", "slot_order=random", "ss_map_limit=10",
                       NULL};
  hak_allocator *a = make_alloc(cfg, 0);
  static void *blk[CAP0 + 2 * CAP + 4];
  disjoint_pair(a, blk);
  hak_set_extra_maps(a, 8); /* 1 SuperSlab + 8: a split in three would make 11 */
  hak_mesh_report r;
  assert_int_equal(hak_mesh(a, &r), 0);
  assert_int_equal(r.meshes, 0);
  assert_int_equal(r.skipped_limit, 1);
  assert_int_equal(STAT(a, mesh_skipped_limit), 1);
  check(a);
  hak_set_extra_maps(a, 7); /* now it fits exactly */
  assert_int_equal(hak_mesh(a, &r), 0);
  assert_int_equal(r.meshes, 1);
  assert_int_equal(STAT(a, ss_mappings), 3);
  check(a);
  /* 3 + 7 = 10: no room for a second SuperSlab. */
  uint32_t n = 0;
  void *p;
  while ((p = hak_malloc(a, BS)) != NULL) n++;
  assert_int_equal(n, CAP - 4 + 28 * CAP); /* slab 3's rest and slabs 4..31 */
  assert_int_equal(STAT(a, ooms), 1);
  hak_set_extra_maps(a, 6);
  assert_non_null(hak_malloc(a, BS));
  assert_int_equal(STAT(a, ss_mappings), 4);
  check(a);
  hak_destroy(a);
}

/* Slabs whose first few blocks live on, as a program's long-lived ones
 * among short-lived: with bump slot order they sit at the same offsets in
 * every slab and nothing can be meshed; with random order the offsets
 * differ and almost every slab could go. hak_mesh_potential says so under
 * compaction=none too (and changes nothing), hak_mesh then does it. */
static uint32_t keep_first_four(hak_allocator *a, void **kept) {
  enum { SLABS = 17 };
  uint32_t n = CAP0 + (SLABS - 1) * CAP, k = 0;
  void **blk = calloc(n, sizeof *blk);
  for (uint32_t i = 0; i < n; i++) blk[i] = hak_malloc(a, BS);
  for (uint32_t i = 0; i < n; i++) {
    uint32_t in_slab = i < CAP0 ? i : (i - CAP0) % CAP;
    if (in_slab < 4 && i >= CAP0) {
      fill(blk[i], k);
      kept[k++] = blk[i];
    } else {
      assert_int_equal(hak_free(a, blk[i]), 0);
    }
  }
  free(blk);
  return k;
}

static hak_mesh_potential_report potential(const char *const *cfg, bool mesh_too) {
  hak_allocator *a = make_alloc(cfg, 0);
  void *kept[64];
  uint32_t n = keep_first_four(a, kept);
  assert_int_equal(n, 64);
  hak_mesh_potential_report p;
  assert_int_equal(hak_mesh_potential(a, &p), 0);
  hak_mesh_potential_report again;
  assert_int_equal(hak_mesh_potential(a, &again), 0);
  assert_memory_equal(&p, &again, sizeof p); /* pure */
  check(a);
  hak_mesh_report r;
  if (mesh_too) {
    uint64_t resident = hak_resident_bytes(a);
    assert_int_equal(hak_mesh(a, &r), 0);
    print_message("%u candidates: potential %u slabs (%llu resident bytes), mesh %u slabs "
                  "(%llu bytes), resident %llu -> %llu\n",
                  p.candidates, p.slabs, (unsigned long long)p.resident_bytes, r.meshes,
                  (unsigned long long)r.released_bytes, (unsigned long long)resident,
                  (unsigned long long)hak_resident_bytes(a));
    assert_true(r.meshes >= p.slabs / 2 && r.meshes <= p.slabs);
    check(a);
    assert_int_equal(all_ss_maps(a), STAT(a, ss_mappings));
    hak_mesh_potential_report after;
    assert_int_equal(hak_mesh_potential(a, &after), 0);
    assert_true(after.slabs < p.slabs || p.slabs == 0);
  } else {
    assert_int_equal(hak_mesh(a, &r), -HAK_EINVAL);
  }
  for (uint32_t i = 0; i < n; i++) {
    assert_true(intact(kept[i], i));
    assert_int_equal(hak_free(a, kept[i]), 0);
    if (i % 8 == 7) check(a);
  }
  check(a);
  /* Every alias dissolved: one mapping per SuperSlab again. */
  assert_int_equal(STAT(a, ss_mappings), STAT(a, ss_live));
  assert_int_equal(all_ss_maps(a), STAT(a, ss_live));
  hak_destroy(a);
  return p;
}

static void test_mesh_potential_and_slot_order(void **state) {
  (void)state;
  hak_mesh_potential_report bump = potential((const char *[]){"preset=phase1", NULL}, false);
  assert_int_equal(bump.candidates, 16);
  assert_int_equal(bump.slabs, 0);
  hak_mesh_potential_report rnd =
      potential((const char *[]){"preset=phase1", "slot_order=random", NULL}, false);
  assert_int_equal(rnd.candidates, 16);
  print_message("random: %u of %u slabs could go (%u pairs tested)\n", rnd.slabs, rnd.candidates,
                rnd.pairs_tested);
  assert_true(rnd.slabs >= 12);
  assert_int_equal(rnd.bytes, (uint64_t)rnd.slabs * SLAB);
  assert_int_equal(rnd.resident_bytes, rnd.bytes);
  hak_mesh_potential_report mesh = potential(mesh_cfg, true);
  assert_true(mesh.slabs >= 12);
  hak_mesh_potential_report mesh_bump =
      potential((const char *[]){"preset=phase1", "compaction=mesh", NULL}, true);
  assert_int_equal(mesh_bump.slabs, 0);
}

/* Larson's threads die long before they carve a slab to its end: each of
 * four short-lived threads leaves slab 1 of its SuperSlab partly carved
 * (96 of 256 blocks, at random offsets, 8 of them live) and orphaned.
 * Such slabs mesh: the keeper's list takes its uncarved blocks too (it is
 * fully carved from then on), every block stays intact through every
 * range, resident memory drops by what the pass says (net of the pages
 * the keeper's list touches anew), and frees from a thread that never
 * owned any of the blocks dissolve the aliases until trim unmaps all. */
#define SHORT_THREADS 4u
#define SHORT_CARVED 96u
#define SHORT_EVERY 12u /* one carved block in 12 stays live: 8 */
typedef struct sparse_free {
  slabs *s;
} sparse_free;

static void free_sparse(void *arg) {
  slabs *s = ((sparse_free *)arg)->s;
  for (uint32_t i = 0; i < s->n; i++)
    if (i < CAP0 || (i - CAP0) % SHORT_EVERY) {
      assert_int_equal(hak_free(s->a, s->blk[i]), 0);
      s->blk[i] = NULL;
    }
}

static void test_mesh_partly_carved(void **state) {
  (void)state;
  hak_allocator *a = make_alloc(mesh_cfg, 0);
  static slabs s[SHORT_THREADS];
  for (uint32_t t = 0; t < SHORT_THREADS; t++) {
    s[t] = (slabs){.a = a, .n = CAP0 + SHORT_CARVED, .tag0 = 1000 * t};
    hak_runner *r = runner_start();
    runner_call(r, alloc_slabs, &s[t]);
    assert_int_equal(slab_index(a, s[t].blk[CAP0]), 1);
    sparse_free f = {&s[t]};
    runner_call(r, free_sparse, &f); /* slab 0 empty, 8 blocks of slab 1 live */
    runner_exit(r);
  }
  check(a);
  uint64_t resident = hak_resident_bytes(a);
  hak_mesh_report r;
  assert_int_equal(hak_mesh(a, &r), 0);
  uint64_t after = hak_resident_bytes(a);
  print_message("%u partly carved candidates, %u meshes, %llu blocks moved, %llu bytes released, "
                "resident %llu -> %llu\n",
                r.candidates, r.meshes, (unsigned long long)r.moved_blocks,
                (unsigned long long)r.released_bytes, (unsigned long long)resident,
                (unsigned long long)after);
  assert_int_equal(r.candidates, SHORT_THREADS);
  assert_true(r.meshes >= 1);
  assert_true(r.released_bytes > 0);
  /* Give or take the pass's own pages: a mesh block per SuperSlab, its scratch. */
  assert_true(after + r.released_bytes <= resident + 8 * 4096);
  check(a);
  assert_int_equal(all_ss_maps(a), STAT(a, ss_mappings));
  for (uint32_t t = 0; t < SHORT_THREADS; t++)
    for (uint32_t i = CAP0; i < s[t].n; i++)
      if (s[t].blk[i]) assert_true(intact(s[t].blk[i], s[t].tag0 + i));
  /* A second pass: a keeper, fully carved now, is a candidate still. */
  assert_int_equal(hak_mesh(a, &r), 0);
  check(a);
  /* Every block freed by a thread that owned none of them. */
  hak_runner *other = runner_start();
  for (uint32_t t = 0; t < SHORT_THREADS; t++) {
    range_free rest = {&s[t], CAP0, s[t].n};
    runner_call(other, free_range, &rest);
    check(a);
  }
  runner_call(other, detach, a);
  runner_exit(other);
  hak_trim_report tr;
  hak_trim(a, &tr, NULL, 0);
  hak_stats st;
  hak_get_stats(a, &st);
  assert_true(st.unmeshes >= 1); /* the aliases dissolved as their blocks went */
  assert_int_equal(st.ss_live, 0);
  assert_int_equal(st.ss_mappings, 0);
  assert_int_equal(st.allocs, st.frees_local + st.frees_remote);
  hak_destroy(a);
}

/* hak_destroy while slabs are merged gives back every mapping. */
static void test_mesh_destroy_while_merged(void **state) {
  (void)state;
  runner_exit(runner_start());
  (void)proc_map_count();
  long before = proc_map_count();
  hak_allocator *a = make_alloc(mesh_cfg, 0);
  static void *blk[CAP0 + 2 * CAP + 4];
  disjoint_pair(a, blk);
  hak_mesh_report r;
  assert_int_equal(hak_mesh(a, &r), 0);
  assert_int_equal(r.meshes, 1);
  hak_destroy(a);
#ifndef SANITIZED
  assert_int_equal(proc_map_count(), before);
#else
  (void)before;
#endif
}

/* The same across two SuperSlabs, the merged slab in the one mapped
 * second: teardown unmaps the primary's SuperSlab first, and the alias's
 * mapping count must not be read through it (it was, once: a SIGSEGV in
 * hak_destroy after a replay that meshed). */
static void test_mesh_destroy_alias_after_primary(void **state) {
  (void)state;
  runner_exit(runner_start());
  (void)proc_map_count();
  long before = proc_map_count();
  hak_allocator *a = make_alloc(mesh_cfg, 0);
  static slabs s1, s2;
  hak_runner *t1, *t2;
  two_owners(a, &s1, &s2, &t1, &t2);
  const void *in1 = s1.blk[0], *in2 = s2.blk[0];
  assert_true(ss_info(a, in1).id < ss_info(a, in2).id);
  /* Slab 1 of the first keeps its odd blocks (half), of the second a
   * quarter (every other even one): the fuller first one keeps. */
  parity_free odd1 = {&s1, 0, 0, 0}, odd2 = {&s2, 1, 0, 0}, half_even2 = {&s2, 0, 1, 0};
  runner_call(t1, free_parity, &odd1);
  runner_call(t2, free_parity, &odd2);
  runner_call(t2, free_parity, &half_even2);
  /* Slab 2's one block each: gone, so the pair of slabs 1 is the only one. */
  range_free last1 = {&s1, CAP0 + CAP, CAP0 + CAP + 1}, last2 = {&s2, CAP0 + CAP, CAP0 + CAP + 1};
  runner_call(t1, free_range, &last1);
  runner_call(t2, free_range, &last2);
  runner_exit(t1);
  runner_exit(t2);
  hak_mesh_report r;
  assert_int_equal(hak_mesh(a, &r), 0);
  assert_int_equal(r.meshes, 1);
  assert_int_equal(ss_info(a, in1).slabs_alias, 0);
  assert_int_equal(ss_info(a, in2).slabs_alias, 1);
  check(a);
  hak_destroy(a);
#ifndef SANITIZED
  assert_int_equal(proc_map_count(), before);
#else
  (void)before;
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mesh_on_purpose),
      cmocka_unit_test(test_mesh_across_owners_accounting_and_trim),
      cmocka_unit_test(test_mesh_map_limit),
      cmocka_unit_test(test_mesh_potential_and_slot_order),
      cmocka_unit_test(test_mesh_destroy_while_merged),
      cmocka_unit_test(test_mesh_destroy_alias_after_primary),
      cmocka_unit_test(test_mesh_partly_carved),
  };
  return cmocka_run_group_tests_name("allocator.mesh", tests, NULL, NULL);
}
