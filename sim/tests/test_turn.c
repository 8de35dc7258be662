/* test_turn.c: the turn protocol (sim/src/turn.c). Threads pass the turn
 * along a fixed pseudo-random schedule, as the replayer's workers do along
 * a trace: every turn must run in schedule order, one at a time, and see
 * everything earlier turns wrote without any lock but the turn (the shared
 * counters are plain variables: ThreadSanitizer reports a missing
 * happens-before). Run with yielding waiters, parked waiters, waiters that
 * park after a timeout, and on one CPU; then the single steps: a turn
 * given before its owner waits, heating a parked owner, the coordinator's
 * timed wait. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "internal.h"

enum { THREADS = 6, TURNS = 20000 };

typedef struct ring {
  hr_turn_policy policy;
  hr_turn_slot *slots;          /* [THREADS] */
  uint8_t schedule[TURNS + 2];  /* owner of each turn; consecutive owners differ */
  int far;                      /* park_first when the next own turn is more than `far` away */
  bool one_cpu;
  /* Written by the holder only, with no lock: the turn orders them. */
  uint64_t pos;
  uint8_t log[TURNS];
  int inside;
  int errors;
} ring;

typedef struct arg {
  ring *r;
  int me;
} arg;

static int turns_of(const ring *r, int me) {
  int n = 0;
  for (int i = 0; i < TURNS; i++) n += r->schedule[i] == me;
  return n;
}

static void *ring_thread(void *p) {
  arg *a = p;
  ring *r = a->r;
  if (r->one_cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  }
  int mine = turns_of(r, a->me);
  bool park_first = false;
  for (int k = 0; k < mine; k++) {
    hr_turn_wait(&r->policy, &r->slots[a->me], park_first, NULL, NULL);
    uint64_t pos = r->pos;
    if (r->inside || r->schedule[pos] != a->me) r->errors++;
    r->inside = 1;
    r->log[pos] = (uint8_t)a->me;
    r->pos = pos + 1;
    r->inside = 0;
    /* Like the replayer: look ahead before giving (after, the state is
     * the next holder's), then give, then heat the one after. */
    uint64_t next = pos + 1;
    int distance = 0;
    while (next + (uint64_t)distance < TURNS && r->schedule[next + distance] != a->me) distance++;
    park_first = r->far >= 0 && distance > r->far;
    int after = next + 1 < TURNS ? r->schedule[next + 1] : -1;
    if (next < TURNS) hr_turn_give(&r->slots[r->schedule[next]]);
    if (after >= 0) hr_turn_heat(&r->slots[after]);
  }
  return NULL;
}

static void run_ring(hr_turn_policy policy, int far, bool one_cpu) {
  ring *r = calloc(1, sizeof *r);
  r->slots = aligned_alloc(64, THREADS * sizeof *r->slots);
  for (int i = 0; i < THREADS; i++) hr_turn_slot_init(&r->slots[i]);
  r->policy = policy;
  r->far = far;
  r->one_cpu = one_cpu;
  uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < TURNS + 2; i++) {
    int o;
    do {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      /* mostly round robin, as Larson's slots; sometimes a random jump */
      o = x % 4 ? (i ? (r->schedule[i - 1] + 1) % THREADS : 0) : (int)((x >> 8) % THREADS);
    } while (i && o == r->schedule[i - 1]);
    r->schedule[i] = (uint8_t)o;
  }
  pthread_t t[THREADS];
  arg args[THREADS];
  for (int i = 0; i < THREADS; i++) {
    args[i] = (arg){r, i};
    assert_int_equal(pthread_create(&t[i], NULL, ring_thread, &args[i]), 0);
  }
  hr_turn_give(&r->slots[r->schedule[0]]);
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  assert_int_equal(r->errors, 0);
  assert_int_equal(r->pos, TURNS);
  assert_memory_equal(r->log, r->schedule, TURNS);
  free(r->slots);
  free(r);
}

static void test_turn_ring_yielding(void **state) {
  (void)state;
  run_ring(hr_turn_policy_for_cpus(2), -1, false);
}

static void test_turn_ring_parked(void **state) {
  (void)state;
  run_ring(hr_turn_policy_for_cpus(2), 0, false); /* every waiter parks at once */
}

static void test_turn_ring_parks_after_timeout(void **state) {
  (void)state;
  hr_turn_policy p = hr_turn_policy_for_cpus(2);
  p.park_ns = 1000; /* parks after about 16 yields */
  run_ring(p, 2, false);
}

static void test_turn_ring_one_cpu(void **state) {
  (void)state;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0 || !CPU_ISSET(0, &set)) skip();
  hr_turn_policy p = hr_turn_policy_for_cpus(1);
  assert_int_equal(p.spin, 0); /* pausing would take the holder's only CPU */
  run_ring(p, 3, true);
}

static void test_turn_given_before_waiting(void **state) {
  (void)state;
  hr_turn_slot *s = aligned_alloc(64, sizeof *s);
  hr_turn_slot_init(s);
  hr_turn_give(s);
  hr_turn_policy p = hr_turn_policy_for_cpus(2);
  hr_turn_wait(&p, s, true, NULL, NULL); /* returns at once, parked or not */
  assert_false(hr_turn_is_parked(s));
  hr_turn_give(s);
  assert_true(hr_turn_wait_for(s, 5.0));
  free(s);
}

typedef struct waiter {
  hr_turn_slot *slot;
  hr_turn_policy policy;
  _Atomic int done;
} waiter;

static void *wait_parked(void *p) {
  waiter *w = p;
  hr_turn_wait(&w->policy, w->slot, true, NULL, NULL);
  atomic_store(&w->done, 1);
  return NULL;
}

static void sleep_ms(int ms) {
  struct timespec ts = {0, ms * 1000000L};
  nanosleep(&ts, NULL);
}

/* Heating a parked owner wakes it into waiting (and it still waits for
 * the turn itself). */
static void test_turn_heat_rouses_parked(void **state) {
  (void)state;
  waiter w = {.slot = aligned_alloc(64, sizeof(hr_turn_slot)), .policy = hr_turn_policy_for_cpus(2)};
  w.policy.park_ns = 60ull * 1000000000u; /* no parking again on its own */
  hr_turn_slot_init(w.slot);
  atomic_init(&w.done, 0);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, wait_parked, &w), 0);
  while (!hr_turn_is_parked(w.slot)) sleep_ms(1);
  hr_turn_heat(w.slot);
  assert_false(hr_turn_is_parked(w.slot));
  sleep_ms(20);
  assert_int_equal(atomic_load(&w.done), 0); /* awake, not holding the turn */
  assert_false(hr_turn_is_parked(w.slot));
  hr_turn_give(w.slot);
  pthread_join(t, NULL);
  assert_int_equal(atomic_load(&w.done), 1);
  free(w.slot);
}

static void *give_later(void *p) {
  sleep_ms(20);
  hr_turn_give(p);
  return NULL;
}

/* The coordinator's wait: a timeout leaves the slot idle; a turn given
 * meanwhile is taken. */
static void test_turn_wait_for_times_out(void **state) {
  (void)state;
  hr_turn_slot *s = aligned_alloc(64, sizeof *s);
  hr_turn_slot_init(s);
  assert_false(hr_turn_wait_for(s, 0.01));
  assert_false(hr_turn_is_parked(s));
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, give_later, s), 0);
  bool got = false;
  for (int i = 0; i < 500 && !got; i++) got = hr_turn_wait_for(s, 0.01);
  assert_true(got);
  pthread_join(t, NULL);
  free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_turn_ring_yielding),
      cmocka_unit_test(test_turn_ring_parked),
      cmocka_unit_test(test_turn_ring_parks_after_timeout),
      cmocka_unit_test(test_turn_ring_one_cpu),
      cmocka_unit_test(test_turn_given_before_waiting),
      cmocka_unit_test(test_turn_heat_rouses_parked),
      cmocka_unit_test(test_turn_wait_for_times_out),
  };
  return cmocka_run_group_tests_name("sim.turn", tests, NULL, NULL);
}
