/* fork.c: keeping an instance usable across fork(). The caller (the
 * preload library's pthread_atfork handlers) brackets fork with
 * hak_fork_prepare / hak_fork_parent / hak_fork_child. prepare takes every
 * lock, in the allocator's lock order (trim, classes, map, large), so no
 * other thread is inside the allocator when the address space is copied.
 * In the child only the forking thread exists: the others' thread caches
 * go through the exit path (their slabs are orphaned or released under
 * the orphan policy, as if those threads had exited), and the background
 * trim thread, which fork does not copy, is started again.
 *
 * compaction=mesh: the SuperSlabs are shared mappings of a memfd, which
 * fork does not copy: the child copies the file into one of its own and
 * maps its SuperSlabs onto it (backing.c) while the parent waits on a pipe
 * for it to be done, so neither sees the other's writes afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

void hak_fork_prepare(hak_allocator *a) {
  pthread_mutex_lock(&a->trim_lock);
  for (uint32_t c = 0; c < a->class_count; c++) pthread_mutex_lock(&a->classes[c].lock);
  pthread_mutex_lock(&a->map_lock);
  pthread_mutex_lock(&a->large.lock);
  a->fork_pipe[0] = a->fork_pipe[1] = -1;
  if (hak_backing_on(a) && pipe2(a->fork_pipe, O_CLOEXEC) != 0) a->fork_pipe[0] = a->fork_pipe[1] = -1;
}

static void unlock_all(hak_allocator *a) {
  pthread_mutex_unlock(&a->large.lock);
  pthread_mutex_unlock(&a->map_lock);
  for (uint32_t c = a->class_count; c-- > 0;) pthread_mutex_unlock(&a->classes[c].lock);
  pthread_mutex_unlock(&a->trim_lock);
}

void hak_fork_parent(hak_allocator *a) {
  if (a->fork_pipe[0] >= 0) {
    /* Our write end closed, the read ends when the child writes or exits
     * (or at once when fork failed: no child holds a write end). */
    close(a->fork_pipe[1]);
    char c;
    while (read(a->fork_pipe[0], &c, 1) < 0 && errno == EINTR) {
    }
    close(a->fork_pipe[0]);
  }
  unlock_all(a);
}

void hak_fork_child(hak_allocator *a) {
  if (hak_backing_on(a)) {
    if (hak_backing_fork_child(a) != 0) {
      /* Going on would write into the parent's heap. */
      hak_log_line(a, "[hakmem] fork: cannot copy the SuperSlabs' memfd");
      abort();
    }
    if (a->fork_pipe[0] >= 0) {
      close(a->fork_pipe[0]);
      while (write(a->fork_pipe[1], "", 1) < 0 && errno == EINTR) {
      }
      close(a->fork_pipe[1]);
    }
  }
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
