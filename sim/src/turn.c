/* turn.c: the turn, deterministic mode's one-at-a-time protocol.
 *
 * Participants (pool workers and the coordinator) each own a slot. Exactly
 * one holds the turn; only it calls the allocator or touches the replay's
 * shared state. It passes the turn by writing GO into the next holder's
 * slot with release order; the taker reads GO with acquire order, so all
 * the giver did happens before anything the taker does (no other lock).
 *
 * A slot's state: IDLE (running, or not waiting), WAITING (spinning or
 * yielding), PARKED (in futex_wait, or about to be), GO (given the turn,
 * not yet taken). Only the owner leaves GO; givers only write GO; rousers
 * only move PARKED to WAITING. A giver or rouser that replaces PARKED
 * wakes the futex, and a waiter parks only by a CAS from WAITING, so no
 * wake-up is lost.
 *
 * Why waiters yield rather than park: on the 2-vCPU VM this was built on, a
 * futex wake-up costs 5-20 us of the giver's time and the wakee's latency,
 * sched_yield about 0.7 us, and a hand-off between yielding waiters 1-2 us
 * (a ring of 4-16 threads, one CPU or two). A waiter whose turn is next but
 * one (hot) pauses between yields, so when the turn reaches it it is often
 * already on the other CPU; with one CPU in the affinity mask it never
 * pauses (it would take the CPU from the holder). Waiters park when their
 * turn is far (the caller knows it from the trace read ahead) or after
 * waiting park_ns, so idle threads cost nothing.
 */
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

enum { HR_TURN_IDLE = 0, HR_TURN_WAITING = 1, HR_TURN_PARKED = 2, HR_TURN_GO = 3 };

static void futex_wait(_Atomic uint32_t *addr, uint32_t val, const struct timespec *timeout) {
  syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, timeout, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *addr) {
  syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

hr_turn_policy hr_turn_policy_for_cpus(unsigned cpus) {
  return (hr_turn_policy){.spin = cpus > 1 ? 64 : 0, .park_ns = 2000000};
}

hr_turn_policy hr_turn_policy_default(void) {
  cpu_set_t set;
  unsigned cpus = 1;
  if (sched_getaffinity(0, sizeof set, &set) == 0) cpus = (unsigned)CPU_COUNT(&set);
  return hr_turn_policy_for_cpus(cpus);
}

void hr_turn_slot_init(hr_turn_slot *s) {
  atomic_init(&s->state, HR_TURN_IDLE);
  atomic_init(&s->hot, 0);
  s->parks = s->yields = 0;
}

void hr_turn_give(hr_turn_slot *to) {
  uint32_t prev = atomic_exchange_explicit(&to->state, HR_TURN_GO, memory_order_acq_rel);
  if (prev == HR_TURN_PARKED) futex_wake(&to->state);
}

void hr_turn_rouse(hr_turn_slot *s) {
  uint32_t parked = HR_TURN_PARKED;
  if (atomic_load_explicit(&s->state, memory_order_relaxed) == HR_TURN_PARKED &&
      atomic_compare_exchange_strong(&s->state, &parked, HR_TURN_WAITING))
    futex_wake(&s->state);
}

void hr_turn_heat(hr_turn_slot *s) {
  atomic_store_explicit(&s->hot, 1, memory_order_relaxed);
  hr_turn_rouse(s);
}

static void park(hr_turn_slot *me) {
  me->parks++;
  while (atomic_load_explicit(&me->state, memory_order_acquire) == HR_TURN_PARKED)
    futex_wait(&me->state, HR_TURN_PARKED, NULL);
}

static bool has_turn(hr_turn_slot *me) {
  return atomic_load_explicit(&me->state, memory_order_acquire) == HR_TURN_GO;
}

static void take(hr_turn_slot *me) {
  atomic_store_explicit(&me->state, HR_TURN_IDLE, memory_order_relaxed);
  atomic_store_explicit(&me->hot, 0, memory_order_relaxed);
}

void hr_turn_wait(const hr_turn_policy *p, hr_turn_slot *me, bool park_first,
                  bool (*help)(void *ctx), void *ctx) {
  uint32_t idle = HR_TURN_IDLE;
  /* Fails only when the turn came first: the state is GO. */
  if (!atomic_compare_exchange_strong(&me->state, &idle,
                                      park_first ? HR_TURN_PARKED : HR_TURN_WAITING)) {
    (void)has_turn(me); /* the acquire that pairs with the giver's release */
    take(me);
    return;
  }
  if (park_first) park(me);
  uint64_t since = 0;
  for (unsigned round = 0;; round++) {
    if (has_turn(me)) break;
    if (atomic_load_explicit(&me->hot, memory_order_relaxed)) {
      for (uint32_t i = 0; i < p->spin && !has_turn(me); i++)
        if (!help || !help(ctx)) hr_cpu_relax();
      if (has_turn(me)) break;
    }
    sched_yield();
    me->yields++;
    if (round % 16 != 15) continue;
    uint64_t now = now_ns();
    if (!since) since = now;
    if (now - since < p->park_ns) continue;
    uint32_t waiting = HR_TURN_WAITING;
    if (atomic_compare_exchange_strong(&me->state, &waiting, HR_TURN_PARKED)) park(me);
    since = 0;
  }
  take(me);
}

bool hr_turn_wait_for(hr_turn_slot *me, double seconds) {
  uint32_t idle = HR_TURN_IDLE;
  if (atomic_compare_exchange_strong(&me->state, &idle, HR_TURN_PARKED)) {
    struct timespec ts = {.tv_sec = (time_t)seconds,
                          .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)};
    futex_wait(&me->state, HR_TURN_PARKED, &ts);
    /* Timed out (or woken by a rouser): back to IDLE unless the turn came. */
    uint32_t st = atomic_load_explicit(&me->state, memory_order_relaxed);
    while (st != HR_TURN_GO &&
           !atomic_compare_exchange_weak(&me->state, &st, HR_TURN_IDLE)) {
    }
    if (st != HR_TURN_GO) return false;
  }
  (void)has_turn(me);
  take(me);
  return true;
}

bool hr_turn_is_parked(hr_turn_slot *s) {
  return atomic_load_explicit(&s->state, memory_order_relaxed) == HR_TURN_PARKED;
}
