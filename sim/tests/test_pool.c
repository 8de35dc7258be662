/* test_pool.c: the pool of OS threads that run trace threads (pool.c) and
 * the exit between two trace threads on one of them (hr_exit_thread). A
 * pool thread that ran trace thread A, exited it and runs trace thread B
 * must reach the allocator as a new thread (a new id, none of A's cached
 * slabs), and A's exit must be what a dying thread runs: the same
 * thread_exit event with the same orphaned and released slabs as a real
 * thread doing the same work and returning. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

/* ------------------------------------------------ a pool with a job each */

typedef struct jobs {
  hr_turn_policy policy;
  hr_turn_slot *coord;
  void (*job[8])(void);       /* by worker index */
  _Atomic bool stop;
} jobs;

static jobs J;

static void *job_main(void *arg) {
  hr_worker *w = arg;
  for (;;) {
    hr_turn_wait(&J.policy, &w->turn, true, NULL, NULL);
    if (atomic_load(&J.stop)) break;
    J.job[w->index]();
    hr_turn_give(J.coord);
  }
  return NULL;
}

/* Runs fn on pool thread w and waits for it. */
static void run_on(hr_worker *w, void (*fn)(void)) {
  J.job[w->index] = fn;
  hr_turn_give(&w->turn);
  while (!hr_turn_wait_for(J.coord, 1.0)) {
  }
}

static void pool_start(hr_pool *p) {
  memset(&J, 0, sizeof J);
  J.policy = hr_turn_policy_for_cpus(2);
  J.coord = aligned_alloc(64, sizeof *J.coord);
  hr_turn_slot_init(J.coord);
  hr_pool_init(p, NULL, job_main);
}

static void pool_end(hr_pool *p) {
  atomic_store(&J.stop, true);
  for (uint32_t i = 0; i < p->n; i++) hr_turn_give(&p->all[i]->turn);
  hr_pool_join(p);
  hr_pool_free(p);
  free(J.coord);
}

/* ------------------------------------------------ what the allocator saw */

typedef struct exit_seen {
  uint32_t tid, orphaned, released;
} exit_seen;

static hak_allocator *A;
static exit_seen exits[8];
static int nexits;

static void on_thread_exit(void *ctx, uint32_t tid, uint32_t orphaned, uint32_t released) {
  (void)ctx;
  exits[nexits++] = (exit_seen){tid, orphaned, released};
}

static void make_alloc(void) {
  hak_config cfg;
  hak_config_default(&cfg);
  assert_int_equal(hak_config_apply_preset(&cfg, "phase1"), 0); /* orphans stay orphans */
  hak_observer obs = {.thread_exit = on_thread_exit};
  hak_create_opts opts = {.observer = &obs, .no_trim_thread = true};
  char err[256];
  assert_int_equal(hak_create(&cfg, &opts, &A, err, sizeof err), 0);
  nexits = 0;
}

/* A trace thread's life: four 64-byte blocks kept live, then (for the
 * pooled one) the exit the replayer runs at thread_exit. */
static uint32_t id_a, id_b, ss_a, ss_b;
static pthread_t os_a, os_b;
static void *kept[8];

static void work_a(void) {
  id_a = hak_thread_id(A);
  os_a = pthread_self();
  for (int i = 0; i < 4; i++) kept[i] = hak_malloc(A, 64);
  ss_a = hak_ss_id_of(A, kept[0], NULL, NULL);
}

static void exit_a(void) { hr_exit_thread(A, 1, 100); }

static void work_b(void) {
  id_b = hak_thread_id(A);
  os_b = pthread_self();
  kept[4] = hak_malloc(A, 60); /* same class as A's blocks */
  ss_b = hak_ss_id_of(A, kept[4], NULL, NULL);
}

static void *dying_thread(void *arg) {
  (void)arg;
  for (int i = 0; i < 4; i++) kept[5 + (i % 3)] = hak_malloc(A, 64);
  return NULL; /* the key destructor runs the exit path */
}

static void test_pool_reused_thread_is_new_to_the_allocator(void **state) {
  (void)state;
  make_alloc();
  hr_pool p;
  pool_start(&p);
  hr_worker *w = hr_pool_get(&p);
  assert_non_null(w);
  run_on(w, work_a);
  run_on(w, exit_a);
  hr_pool_put(&p, w);
  assert_ptr_equal(hr_pool_get(&p), w); /* the idle thread, not a new one */
  run_on(w, work_b);
  assert_int_equal(p.n, 1);
  assert_true(pthread_equal(os_a, os_b));
  /* A new thread to the allocator: a new id and no cached slab (under
   * phase1 A's slab is an orphan, so B maps a SuperSlab of its own). */
  assert_int_not_equal(id_a, 0);
  assert_int_not_equal(id_b, id_a);
  assert_int_not_equal(ss_b, ss_a);
  /* A's exit path ran, from its own OS thread: the orphaning. */
  assert_int_equal(nexits, 1);
  assert_int_equal(exits[0].tid, id_a);
  assert_int_equal(exits[0].orphaned, 1);
  /* A thread that does the same and dies runs the same exit. */
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, dying_thread, NULL), 0);
  pthread_join(t, NULL);
  assert_int_equal(nexits, 2);
  assert_int_equal(exits[1].orphaned, exits[0].orphaned);
  assert_int_equal(exits[1].released, exits[0].released);
  hak_stats st;
  hak_get_stats(A, &st);
  assert_int_equal(st.threads_attached, 3);
  assert_int_equal(st.threads_exited, 2);
  assert_int_equal(st.slabs_orphaned, 2);
  run_on(w, exit_a); /* B's exit: before the pool's thread returns */
  pool_end(&p);
  hak_destroy(A);
}

static void nothing(void) {}

/* Idle threads are reused, most recently idle first; a new OS thread
 * only when none is idle. */
static void test_pool_reuses_idle_threads(void **state) {
  (void)state;
  hr_pool p;
  pool_start(&p);
  hr_worker *w1 = hr_pool_get(&p), *w2 = hr_pool_get(&p);
  assert_non_null(w1);
  assert_non_null(w2);
  assert_ptr_not_equal(w1, w2);
  hr_pool_put(&p, w1);
  hr_pool_put(&p, w2);
  assert_ptr_equal(hr_pool_get(&p), w2);
  assert_ptr_equal(hr_pool_get(&p), w1);
  hr_worker *w3 = hr_pool_get(&p);
  assert_int_equal(p.n, 3);
  assert_int_equal(w3->index, 2);
  run_on(w3, nothing);
  pool_end(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pool_reused_thread_is_new_to_the_allocator),
      cmocka_unit_test(test_pool_reuses_idle_threads),
  };
  return cmocka_run_group_tests_name("sim.pool", tests, NULL, NULL);
}
