/* testutil.c: see testutil.h. */
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../src/internal.h"

hak_allocator *make_alloc(const char *const *settings, int with_trim_thread) {
  hak_config cfg;
  char err[256];
  hak_config_default(&cfg);
  for (const char *const *s = settings; s && *s; s++) {
    if (hak_config_set_kv(&cfg, *s, err, sizeof err) != 0) fail_msg("%s: %s", *s, err);
  }
  hak_create_opts opts = {.no_trim_thread = !with_trim_thread};
  hak_allocator *a = NULL;
  if (hak_create(&cfg, &opts, &a, err, sizeof err) != 0) fail_msg("hak_create: %s", err);
  return a;
}

hak_ss_info ss_info(hak_allocator *a, const void *p) {
  hak_ss_info info;
  assert_true(hak_ss_of(a, p, &info));
  return info;
}

static hak_slab *slab_at(hak_allocator *a, const void *block) {
  hak_superslab *ss = hak_registry_lookup(a, block);
  assert_non_null(ss);
  return hak_slab_of(ss, block);
}

/* The slab's free blocks its owner holds: its free list (walked: links
 * are encoded) and the blocks of it in threads' free caches. */
uint32_t slab_free_count(hak_allocator *a, const void *block) {
  uint32_t n = 0;
  hak_slab *s = slab_at(a, block);
  for (void *q = s->free_list; q; q = hak_link_get(a, q)) n++;
  uint32_t c = hak_registry_lookup(a, block)->class_idx;
  pthread_mutex_lock(&a->map_lock);
  for (hak_tcache *tc = a->threads; tc; tc = tc->next) n += hak_fc_count_in(a, &tc->cls[c], s);
  pthread_mutex_unlock(&a->map_lock);
  return n;
}

uint32_t slab_remote_count(hak_allocator *a, const void *block) {
  hak_superslab *ss = hak_registry_lookup(a, block);
  hak_slab *s = slab_at(a, block);
  return hak_remote_count(atomic_load(&ss->remote_heads[s->index]));
}

static void count_one(void *ctx, const hak_ss_info *ss) {
  (void)ss;
  (*(uint32_t *)ctx)++;
}

uint32_t ss_count(hak_allocator *a) {
  uint32_t n = 0;
  hak_ss_foreach(a, count_one, &n);
  return n;
}

long proc_map_count(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) return -1;
  long n = 0;
  int c;
  while ((c = fgetc(f)) != EOF)
    if (c == '\n') n++;
  fclose(f);
  return n;
}

/* Calls fn for every line of /proc/self/maps, with its range and perms. */
static void each_map(void (*fn)(void *ctx, uintptr_t lo, uintptr_t hi, const char *perms),
                     void *ctx) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    char perms[5];
    if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3) fn(ctx, lo, hi, perms);
  }
  fclose(f);
}

typedef struct {
  uintptr_t lo, hi;
  uint32_t n;
  char perms[5];
} map_query;

static void count_within(void *ctx, uintptr_t lo, uintptr_t hi, const char *perms) {
  map_query *q = ctx;
  (void)perms;
  q->n += lo < q->hi && hi > q->lo;
}

uint32_t proc_maps_within(uintptr_t base, size_t len) {
  map_query q = {base, base + len, 0, ""};
  each_map(count_within, &q);
  return q.n;
}

static void perms_at(void *ctx, uintptr_t lo, uintptr_t hi, const char *perms) {
  map_query *q = ctx;
  if (q->lo >= lo && q->lo < hi) snprintf(q->perms, sizeof q->perms, "%s", perms);
}

void proc_maps_perms(uintptr_t addr, char perms[5]) {
  map_query q = {addr, addr + 1, 0, ""};
  each_map(perms_at, &q);
  memcpy(perms, q.perms, 5);
}

uint32_t slab_capacity(hak_allocator *a, const void *block) {
  return slab_at(a, block)->capacity;
}

uint32_t slab_index(hak_allocator *a, const void *block) { return slab_at(a, block)->index; }

void batch_alloc(void *arg) {
  test_batch *b = arg;
  for (int i = b->from; i < b->to; i++) {
    b->slots[i] = hak_malloc(b->a, b->size);
    assert_non_null(b->slots[i]);
  }
}

void batch_free(void *arg) {
  test_batch *b = arg;
  for (int i = b->from; i < b->to; i++) {
    assert_int_equal(hak_free(b->a, b->slots[i]), 0);
    b->slots[i] = NULL;
  }
}

void batch_detach(void *a) { hak_thread_detach(a); }
