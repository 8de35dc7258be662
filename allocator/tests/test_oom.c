/* test_oom.c: the map limit (emulating vm.max_map_count). At the limit,
 * malloc returns NULL with errno ENOMEM, the failure is counted and logged
 * once in the seed's words, and the allocator keeps working for frees and
 * for allocations that fit; a trim that frees room lets allocation
 * succeed again. */
#include <errno.h>
#include <pthread.h>
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

typedef struct {
  int lines;
  char last[256];
  int oom_events;
  uint64_t oom_live;
  uint32_t oom_limit;
} oom_log;

/* Observers run in the thread that hit the event, under its class's lock
 * only: threads of different classes can report at once. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void log_line(void *ctx, const char *line) {
  oom_log *log = ctx;
  pthread_mutex_lock(&log_lock);
  log->lines++;
  snprintf(log->last, sizeof log->last, "%s", line);
  pthread_mutex_unlock(&log_lock);
}

static void on_oom(void *ctx, uint64_t live, int err, uint32_t limit) {
  oom_log *log = ctx;
  pthread_mutex_lock(&log_lock);
  if (err != ENOMEM) log->oom_limit = UINT32_MAX; /* fails the test's check */
  else log->oom_limit = limit;
  log->oom_events++;
  log->oom_live = live;
  pthread_mutex_unlock(&log_lock);
}

static hak_allocator *make(oom_log *log, const char *limit) {
  hak_config cfg;
  char err[200];
  hak_config_default(&cfg);
  assert_int_equal(hak_config_set(&cfg, "ss_map_limit", limit, err, sizeof err), 0);
  assert_int_equal(hak_config_set(&cfg, "preset", "phase1", err, sizeof err), 0);
  assert_int_equal(hak_config_set(&cfg, "empty_reserve", "0", err, sizeof err), 0);
  hak_observer obs = {.ctx = log, .oom = on_oom};
  hak_create_opts opts = {.observer = &obs, .log = log_line, .log_ctx = log, .no_trim_thread = true};
  hak_allocator *a;
  assert_int_equal(hak_create(&cfg, &opts, &a, err, sizeof err), 0);
  return a;
}

static void test_oom_limit_returns_null_and_keeps_working(void **state) {
  (void)state;
  oom_log log = {0};
  hak_allocator *a = make(&log, "2");
  void *p16 = hak_malloc(a, 16);
  void *p32 = hak_malloc(a, 32);
  assert_non_null(p16);
  assert_non_null(p32);
  errno = 0;
  assert_null(hak_malloc(a, 64)); /* a third SuperSlab would pass the limit */
  assert_int_equal(errno, ENOMEM);
  errno = 0;
  assert_null(hak_malloc(a, 100));
  assert_int_equal(errno, ENOMEM);
  hak_stats s;
  hak_get_stats(a, &s);
  assert_int_equal(s.ooms, 2);
  assert_int_equal(s.ss_live, 2);
  assert_int_equal(log.lines, 1); /* logged once */
  assert_string_equal(log.last,
                      "[hakmem] SuperSlab mmap failed: alloc=2 freed=0 bytes=4194304 errno=12 "
                      "limit=2 extra_maps=0");
  assert_int_equal(log.oom_events, 2);
  assert_int_equal(log.oom_live, 2);
  assert_int_equal(log.oom_limit, 2);
  /* Allocations that fit and frees still work. */
  void *q = hak_malloc(a, 16);
  assert_non_null(q);
  assert_int_equal(hak_free(a, q), 0);
  assert_int_equal(hak_free(a, p16), 0);
  hak_destroy(a);
}

static void test_oom_trim_makes_room(void **state) {
  (void)state;
  oom_log log = {0};
  hak_allocator *a = make(&log, "2");
  /* Another thread fills the limit and exits having freed everything. */
  hak_runner *t = runner_start();
  void *blk[2];
  test_batch b16 = {a, blk, 0, 1, 16}, b32 = {a, blk, 1, 2, 32}, bf = {a, blk, 0, 2, 0};
  runner_call(t, batch_alloc, &b16);
  runner_call(t, batch_alloc, &b32);
  runner_call(t, batch_free, &bf);
  runner_exit(t);
  assert_null(hak_malloc(a, 64));
  hak_trim_report r;
  assert_int_equal(hak_trim(a, &r, NULL, 0), 2);
  void *p = hak_malloc(a, 64);
  assert_non_null(p);
  hak_stats s;
  hak_get_stats(a, &s);
  assert_int_equal(s.ooms, 1);
  assert_int_equal(s.ss_allocated, 3);
  assert_int_equal(s.ss_freed, 2);
  hak_free(a, p);
  hak_destroy(a);
}

static void test_oom_extra_maps_count_against_limit(void **state) {
  (void)state;
  /* Leaked thread stacks (the replayer's --thread-maps) share the limit. */
  oom_log log = {0};
  hak_allocator *a = make(&log, "3");
  hak_set_extra_maps(a, 2);
  assert_non_null(hak_malloc(a, 16));
  assert_null(hak_malloc(a, 32));
  assert_true(strstr(log.last, "alloc=1 freed=0 bytes=2097152 errno=12 limit=3 extra_maps=2") != NULL);
  hak_set_extra_maps(a, 1);
  assert_non_null(hak_malloc(a, 32));
  hak_destroy(a);
}

static void test_oom_large_path_unaffected(void **state) {
  (void)state;
  oom_log log = {0};
  hak_allocator *a = make(&log, "1");
  assert_non_null(hak_malloc(a, 16));
  assert_null(hak_malloc(a, 32));
  void *big = hak_malloc(a, 100000); /* not a SuperSlab: not limited */
  assert_non_null(big);
  hak_free(a, big);
  hak_destroy(a);
}

/* Threads of different classes (different class locks) race for the last
 * mappings: the limit must still hold exactly. */
typedef struct {
  hak_allocator *a;
  pthread_barrier_t *go;
  size_t size;
} racer;

static void *race_one(void *arg) {
  racer *r = arg;
  pthread_barrier_wait(r->go);
  void *p = hak_malloc(r->a, r->size);
  if (p) hak_free(r->a, p);
  return NULL;
}

static void test_oom_limit_holds_across_classes(void **state) {
  (void)state;
  for (int round = 0; round < 100; round++) {
    oom_log log = {0};
    hak_allocator *a = make(&log, "3");
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 8);
    pthread_t t[8];
    racer r[8];
    for (int i = 0; i < 8; i++) {
      r[i] = (racer){a, &go, (size_t)8 << i}; /* classes 8 .. 1024 */
      pthread_create(&t[i], NULL, race_one, &r[i]);
    }
    for (int i = 0; i < 8; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
    hak_stats s;
    hak_get_stats(a, &s);
    assert_int_equal(s.ss_allocated, 3);
    assert_int_equal(s.ss_peak, 3);
    assert_int_equal(s.ooms, 5);
    hak_destroy(a);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_oom_limit_returns_null_and_keeps_working),
      cmocka_unit_test(test_oom_trim_makes_room),
      cmocka_unit_test(test_oom_extra_maps_count_against_limit),
      cmocka_unit_test(test_oom_large_path_unaffected),
      cmocka_unit_test(test_oom_limit_holds_across_classes),
  };
  return cmocka_run_group_tests_name("allocator.oom", tests, NULL, NULL);
}
