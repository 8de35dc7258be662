/* fork.c: keeping an instance usable across fork(). The caller (the
 * preload library's pthread_atfork handlers) brackets fork with
 * hak_fork_prepare / hak_fork_parent / hak_fork_child. prepare takes every
 * lock, in the allocator's lock order (trim, classes, map, large), so no
 * other thread is inside the allocator when the address space is copied.
 * In the child only the forking thread exists: the others' thread caches
 * go through the exit path (their slabs are orphaned or released under
 * the orphan policy, as if those threads had exited), and the background
 * trim thread, which fork does not copy, is started again.
 */
#include "internal.h"

void hak_fork_prepare(hak_allocator *a) {
  pthread_mutex_lock(&a->trim_lock);
  for (uint32_t c = 0; c < a->class_count; c++) pthread_mutex_lock(&a->classes[c].lock);
  pthread_mutex_lock(&a->map_lock);
  pthread_mutex_lock(&a->large.lock);
}

static void unlock_all(hak_allocator *a) {
  pthread_mutex_unlock(&a->large.lock);
  pthread_mutex_unlock(&a->map_lock);
  for (uint32_t c = a->class_count; c-- > 0;) pthread_mutex_unlock(&a->classes[c].lock);
  pthread_mutex_unlock(&a->trim_lock);
}

void hak_fork_parent(hak_allocator *a) { unlock_all(a); }

void hak_fork_child(hak_allocator *a) {
  unlock_all(a);
  hak_tcache *self = hak_tcache_peek(a);
  for (;;) {
    pthread_mutex_lock(&a->map_lock);
    hak_tcache *other = a->threads;
    while (other && other == self) other = other->next;
    pthread_mutex_unlock(&a->map_lock);
    if (!other) break;
    hak_tcache_exit(other);
  }
  if (a->trim_thread_running) {
    /* The thread is gone; its wait lock and condition may be mid-use. */
    a->trim_thread_running = false;
    hak_trim_thread_start(a);
  }
}
