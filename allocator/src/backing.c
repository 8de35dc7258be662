/* backing.c: the memfd behind the SuperSlabs under compaction=mesh.
 *
 * One memfd per instance. Each SuperSlab is a MAP_SHARED | MAP_FIXED
 * mapping of the file at an offset of its own (a multiple of the SuperSlab
 * size: a slot), at a naturally aligned address reserved by over-mapping
 * anonymous memory (the same trick as os.c), so it is still one kernel
 * mapping. A slab's pages are then the file's pages at (slot offset + slab
 * offset), and another virtual range can be mapped onto them: that is how
 * a mesh merges two slabs (mesh.c). Unmapping a SuperSlab punches its
 * file range (fallocate PUNCH_HOLE): its pages go back to the kernel, and
 * the slot reads zeros when it is reused, as a fresh anonymous mapping
 * would. Freed slots are reused last in first out (deterministic), so the
 * file spans the peak number of SuperSlabs, sparsely.
 *
 * The slot list and the file's size are under map_lock; mapping, punching
 * and remapping are system calls on ranges the caller owns.
 *
 * fork(): a shared mapping stays shared with the child, so the child
 * copies the file's data into a memfd of its own and maps every range of
 * its SuperSlabs onto it again (hak_backing_fork_child) while the parent
 * waits for it in hak_fork_parent (fork.c): the child's heap is then the
 * parent's at the fork, as with anonymous memory. Parent threads that
 * write to their blocks during the copy (the forking thread waits; others
 * may not) can still show through: Mesh has the same window. Without
 * compaction=mesh (or with hak_create_opts.no_mesh) none of this runs:
 * SuperSlabs are anonymous mappings.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

/* The file grows this many slots at a time (one ftruncate per 64 SuperSlabs). */
#define HAK_BACKING_GROW 64u

int hak_backing_init(hak_allocator *a) {
  a->backing.fd = memfd_create("hakmem", MFD_CLOEXEC);
  return a->backing.fd >= 0 ? 0 : -HAK_ENOMEM;
}

void hak_backing_destroy(hak_allocator *a) {
  hak_backing *b = &a->backing;
  if (b->free_slots) hak_os_unmap(a, b->free_slots, b->cap * sizeof *b->free_slots);
  b->free_slots = NULL;
  b->nfree = b->cap = 0;
  if (b->fd >= 0) close(b->fd);
  b->fd = -1;
}

/* map_lock held: a slot for a new SuperSlab, the file grown to hold it. */
static int slot_take(hak_allocator *a, uint32_t *slot) {
  hak_backing *b = &a->backing;
  if (b->nfree) {
    *slot = b->free_slots[--b->nfree];
    return 0;
  }
  if (b->next_slot == b->file_slots) {
    uint32_t to = b->file_slots + HAK_BACKING_GROW;
    if (ftruncate(b->fd, (off_t)((uint64_t)to * a->ss_size)) != 0) return -HAK_ENOMEM;
    b->file_slots = to;
  }
  *slot = b->next_slot++;
  return 0;
}

/* map_lock held: the slot goes back on the list (the list grows if it must;
 * a slot that finds no room is left unused, never lost track of twice). */
static void slot_give(hak_allocator *a, uint32_t slot) {
  hak_backing *b = &a->backing;
  if (b->nfree == b->cap) {
    uint32_t cap = b->cap ? b->cap * 2 : 1024;
    uint32_t *list = hak_os_map(a, cap * sizeof *list);
    if (!list) return;
    if (b->free_slots) {
      memcpy(list, b->free_slots, b->nfree * sizeof *list);
      hak_os_unmap(a, b->free_slots, b->cap * sizeof *list);
    }
    b->free_slots = list;
    b->cap = cap;
  }
  b->free_slots[b->nfree++] = slot;
}

void *hak_backing_map_ss(hak_allocator *a, uint64_t *off) {
  size_t size = a->ss_size;
  uint32_t slot;
  pthread_mutex_lock(&a->map_lock);
  int rc = slot_take(a, &slot);
  pthread_mutex_unlock(&a->map_lock);
  if (rc) return NULL;
  char *raw = mmap(NULL, 2 * size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  char *p = MAP_FAILED;
  if (raw != MAP_FAILED) {
    char *start = (char *)(((uintptr_t)raw + size - 1) & ~(uintptr_t)(size - 1));
    p = mmap(start, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, a->backing.fd,
             (off_t)((uint64_t)slot * size));
    size_t head = (size_t)(start - raw), tail = size - head;
    if (p == MAP_FAILED) {
      munmap(raw, 2 * size);
    } else {
      if (head) munmap(raw, head);
      if (tail) munmap(start + size, tail);
    }
  }
  if (p == MAP_FAILED) {
    pthread_mutex_lock(&a->map_lock);
    slot_give(a, slot);
    pthread_mutex_unlock(&a->map_lock);
    return NULL;
  }
  hak_mappings_add(a, 1);
  *off = (uint64_t)slot * size;
  return p;
}

void hak_backing_punch(hak_allocator *a, uint64_t off, size_t len) {
  fallocate(a->backing.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
}

void hak_backing_unmap_ss(hak_allocator *a, void *ss, uint64_t off, uint32_t vmas, bool punch) {
  munmap(ss, a->ss_size);
  hak_mappings_add(a, -(int64_t)vmas);
  if (!punch) return; /* the instance is going: closing the file frees it all */
  hak_backing_punch(a, off, a->ss_size);
  pthread_mutex_lock(&a->map_lock);
  slot_give(a, (uint32_t)(off / a->ss_size));
  pthread_mutex_unlock(&a->map_lock);
}

int hak_backing_remap(hak_allocator *a, void *addr, size_t len, uint64_t off) {
  void *p = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, a->backing.fd,
                 (off_t)off);
  return p == MAP_FAILED ? -HAK_ENOMEM : 0;
}

/* Copies [off, end) of one file into another at the same offsets. */
static int copy_range(int from, int to, off_t off, off_t end) {
  while (off < end) {
    loff_t in = off, out = off;
    ssize_t n = copy_file_range(from, &in, to, &out, (size_t)(end - off), 0);
    if (n <= 0) {
      char buf[65536];
      n = pread(from, buf, (size_t)(end - off) < sizeof buf ? (size_t)(end - off) : sizeof buf, off);
      if (n <= 0 || pwrite(to, buf, (size_t)n, off) != n) return -1;
    }
    off += n;
  }
  return 0;
}

int hak_backing_fork_child(hak_allocator *a) {
  hak_backing *b = &a->backing;
  int fd = memfd_create("hakmem", MFD_CLOEXEC);
  off_t size = (off_t)((uint64_t)b->file_slots * a->ss_size);
  if (fd < 0 || ftruncate(fd, size) != 0) return -HAK_ENOMEM;
  /* Only the data: holes (untouched and punched pages) stay holes. */
  for (off_t off = 0; off < size;) {
    off_t data = lseek(b->fd, off, SEEK_DATA);
    if (data < 0) break;
    off_t hole = lseek(b->fd, data, SEEK_HOLE);
    if (hole < 0) hole = size;
    if (copy_range(b->fd, fd, data, hole) != 0) {
      close(fd);
      return -HAK_ENOMEM;
    }
    off = hole;
  }
  int old = b->fd;
  b->fd = fd;
  /* Every range of every SuperSlab onto the same offsets of the new file
   * (the forking thread holds every lock: fork.c). */
  for (uint32_t c = 0; c < a->class_count; c++)
    for (hak_superslab *ss = a->classes[c].first; ss; ss = ss->next)
      if (hak_ss_remap_all(a, ss) != 0) return -HAK_ENOMEM;
  close(old);
  return 0;
}
