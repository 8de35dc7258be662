/* preload.h: what the parts of libhakmem.so share (internal: nothing here
 * is exported from the library).
 *
 * preload.c owns the global instance and the malloc family; report.c the
 * exit report, the stats JSON, the sampler thread and the fork handlers;
 * C++'s operator new and delete are libstdc++'s, which call malloc and
 * free.
 */
#ifndef HAK_PRELOAD_H
#define HAK_PRELOAD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "hakmem.h"

/* Counters of what the preload layer did outside the instance. */
typedef struct hak_preload_counters {
  _Atomic uint64_t foreign_frees;     /* free() of a pointer no one here handed out */
  _Atomic uint64_t foreign_reallocs;  /* realloc() of such a pointer (NULL returned) */
  _Atomic uint64_t failed_frees;      /* hak_free could not attach the thread: leaked */
  _Atomic uint64_t bootstrap_allocs;  /* served from the static bootstrap arena */
  _Atomic uint64_t bootstrap_frees;   /* frees of bootstrap blocks (never reused) */
  _Atomic uint64_t bootstrap_bytes;   /* arena bytes used */
} hak_preload_counters;

extern hak_preload_counters hak_preload_counts;

/* The global instance, created on first use; NULL only in the thread that
 * is creating it (its own nested calls use the bootstrap arena). */
hak_allocator *hak_preload_instance(void);

/* The malloc family as libhakmem.so implements it (the exported symbols
 * are thin wrappers). */
void *hak_preload_malloc(size_t n);
void hak_preload_free(void *p);
/* align: any power of two (larger than a page goes to the large path). */
void *hak_preload_memalign(size_t align, size_t n);

/* report.c: called once from the instance's creation with the instance
 * (reads the HAKMEM_STATS* and HAKMEM_SAMPLE_* variables; must not
 * allocate). Returns 0, or -1 with a reason in err. */
int hak_preload_report_config(char *err, size_t errlen);

/* report.c: from the library constructor, once the instance exists:
 * fork handlers and the sampler thread. */
void hak_preload_report_start(hak_allocator *a);

/* report.c: from the library destructor: last sample, HAKMEM_STATS line,
 * HAKMEM_STATS_JSON file. */
void hak_preload_report_exit(hak_allocator *a);

/* Writes all of buf to fd, retrying short writes and EINTR. */
void hak_preload_write_all(int fd, const char *buf, size_t len);

#endif
