/* testutil.h: helpers shared by the allocator's unit tests. */
#ifndef HAK_TESTUTIL_H
#define HAK_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "hakmem.h"

/* Sanitizer runtimes add mappings of their own per thread: tests that
 * compare /proc/self/maps line counts skip that comparison under them. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif

/* Creates an allocator from "name=value" settings (NULL-terminated) on top
 * of the defaults; the background trim thread is off unless with_trim_thread.
 * Aborts the test on failure. */
hak_allocator *make_alloc(const char *const *settings, int with_trim_thread);

/* Snapshot of the SuperSlab holding p (fails the test if none). */
hak_ss_info ss_info(hak_allocator *a, const void *p);

/* A slab's free blocks its owner holds (its free list and the blocks in
 * free caches) and its remote count, by a block of the slab (white-box:
 * reads the allocator's header; call it when no thread runs). */
uint32_t slab_free_count(hak_allocator *a, const void *block);
uint32_t slab_remote_count(hak_allocator *a, const void *block);

/* Live SuperSlabs by census walk. */
uint32_t ss_count(hak_allocator *a);

/* Lines of /proc/self/maps: the process's mappings. */
long proc_map_count(void);

/* Lines of /proc/self/maps that intersect [base, base + len): the kernel
 * mappings that range is split into. */
uint32_t proc_maps_within(uintptr_t base, size_t len);

/* The permissions of the mapping holding addr ("rw-p", "rw-s"), "" if none. */
void proc_maps_perms(uintptr_t addr, char perms[5]);



/* Capacity and index of the slab holding block (white-box). */
uint32_t slab_capacity(hak_allocator *a, const void *block);
uint32_t slab_index(hak_allocator *a, const void *block);

/* A batch of operations run on a runner thread: allocate `size` bytes
 * into slots[from..to) or free slots[from..to) (setting them NULL). */
typedef struct test_batch {
  hak_allocator *a;
  void **slots;
  int from, to;
  size_t size;
} test_batch;
void batch_alloc(void *batch);
void batch_free(void *batch);
void batch_detach(void *a);
#endif
