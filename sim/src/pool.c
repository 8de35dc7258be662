/* pool.c: the OS threads that run trace threads. A trace thread is bound
 * to an idle pool thread when it starts (a new OS thread only when none is
 * idle) and the pool thread is idle again once the trace thread's exit has
 * run. The exit runs the allocator's real exit path (hr_exit_thread: the
 * code a dying thread's key destructor runs), so the next trace thread on
 * the same OS thread reaches the allocator as a new thread: a new id, no
 * cached slab (sim.pool shows both). Starting an OS thread per trace
 * thread cost a creation and a join per thread: 10,000 of them in the
 * seed's trace.
 *
 * Pool threads run on stacks the pool maps itself, MAP_SHARED: never
 * counted as the allocator's memory when it is measured (resident.c).
 *
 * The pool's lists belong to whoever drives the replay: the turn holder in
 * deterministic mode, the coordinator in free mode. Workers are never freed
 * before the end (a waiter may still be heated after its trace thread ended).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

int hr_pool_init(hr_pool *p, hr_run *run, void *(*main)(void *)) {
  memset(p, 0, sizeof *p);
  p->run = run;
  p->main = main;
  return 0;
}

hr_worker *hr_pool_get(hr_pool *p) {
  hr_worker *w = p->idle;
  if (w) {
    p->idle = w->next_idle;
    p->nidle--;
    w->next_idle = NULL;
    return w;
  }
  if (p->n == p->cap) {
    uint32_t ncap = p->cap ? p->cap * 2 : 16;
    hr_worker **all = realloc(p->all, ncap * sizeof *all);
    if (!all) {
      p->err = -ENOMEM;
      return NULL;
    }
    p->all = all;
    p->cap = ncap;
  }
  w = aligned_alloc(_Alignof(hr_worker), sizeof *w);
  if (!w) {
    p->err = -ENOMEM;
    return NULL;
  }
  memset(w, 0, sizeof *w);
  hr_turn_slot_init(&w->turn);
  w->run = p->run;
  w->pool = p;
  w->index = p->n;
  w->tid = -1;
  pthread_attr_t attr;
  int rc = hr_stack_attr(&attr, &w->stack);
  if (rc == 0) {
    rc = pthread_create(&w->thread, &attr, p->main, w);
    pthread_attr_destroy(&attr);
  }
  if (rc != 0) {
    hr_stack_free(w->stack);
    p->err = -rc; /* EAGAIN: a limit (threads, address space for its stack) */
    free(w);
    return NULL;
  }
  p->all[p->n++] = w;
  return w;
}

void hr_pool_put(hr_pool *p, hr_worker *w) {
  w->next_idle = p->idle;
  p->idle = w;
  p->nidle++;
}

void hr_pool_join(hr_pool *p) {
  for (uint32_t i = 0; i < p->n; i++) pthread_join(p->all[i]->thread, NULL);
}

size_t hr_stack_size(void) {
  /* glibc's default for new threads (from ulimit -s), as its own stacks. */
  static size_t size;
  if (!size) {
    pthread_attr_t a;
    size_t s = (size_t)8 << 20;
    if (pthread_getattr_default_np(&a) == 0) {
      pthread_attr_getstacksize(&a, &s);
      pthread_attr_destroy(&a);
    }
    size = (s + 4095) / 4096 * 4096 + 4096;
  }
  return size;
}

int hr_stack_attr(pthread_attr_t *attr, void **stack) {
  /* A guard page below, as glibc's own stacks have. */
  *stack = hr_shared_map(hr_stack_size());
  if (!*stack) return EAGAIN;
  mprotect(*stack, 4096, PROT_NONE);
  int rc = pthread_attr_init(attr);
  if (rc == 0) rc = pthread_attr_setstack(attr, (char *)*stack + 4096, hr_stack_size() - 4096);
  if (rc != 0) {
    hr_stack_free(*stack);
    *stack = NULL;
  }
  return rc;
}

void hr_stack_free(void *stack) { hr_shared_unmap(stack, hr_stack_size()); }

void hr_pool_free(hr_pool *p) {
  for (uint32_t i = 0; i < p->n; i++) hr_stack_free(p->all[i]->stack);
  for (uint32_t i = 0; i < p->n; i++) free(p->all[i]);
  free(p->all);
  memset(p, 0, sizeof *p);
}
