/* runner.c: one thread per runner, driven through a mutex and condition
 * variable; each call completes before runner_call returns. */
#include "runner.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct hak_runner {
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  void (*fn)(void *);
  void *arg;
  bool has_work, done, quit;
};

static void *runner_main(void *p) {
  hak_runner *r = p;
  pthread_mutex_lock(&r->lock);
  for (;;) {
    while (!r->has_work && !r->quit) pthread_cond_wait(&r->cond, &r->lock);
    if (r->has_work) {
      pthread_mutex_unlock(&r->lock);
      r->fn(r->arg);
      pthread_mutex_lock(&r->lock);
      r->has_work = false;
      r->done = true;
      pthread_cond_broadcast(&r->cond);
      continue;
    }
    break;
  }
  pthread_mutex_unlock(&r->lock);
  return NULL;
}

hak_runner *runner_start(void) {
  hak_runner *r = calloc(1, sizeof *r);
  if (!r) abort();
  pthread_mutex_init(&r->lock, NULL);
  pthread_cond_init(&r->cond, NULL);
  if (pthread_create(&r->thread, NULL, runner_main, r) != 0) abort();
  return r;
}

void runner_call(hak_runner *r, void (*fn)(void *), void *arg) {
  pthread_mutex_lock(&r->lock);
  r->fn = fn;
  r->arg = arg;
  r->done = false;
  r->has_work = true;
  pthread_cond_broadcast(&r->cond);
  while (!r->done) pthread_cond_wait(&r->cond, &r->lock);
  pthread_mutex_unlock(&r->lock);
}

void runner_exit(hak_runner *r) {
  pthread_mutex_lock(&r->lock);
  r->quit = true;
  pthread_cond_broadcast(&r->cond);
  pthread_mutex_unlock(&r->lock);
  pthread_join(r->thread, NULL);
  pthread_mutex_destroy(&r->lock);
  pthread_cond_destroy(&r->cond);
  free(r);
}
