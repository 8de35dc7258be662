/* preload.c: libhakmem.so's malloc family over one lazily created global
 * hakmem instance, configured by the HAKMEM_* environment.
 *
 * Invariants:
 *   - the instance is created by the first call of the process (or by the
 *     library constructor, whichever comes first) and never destroyed:
 *     other libraries' destructors and detached threads may still call
 *     free after our own destructor has run;
 *   - creation must not re-enter the allocator: hak_create only mmaps, but
 *     it starts the trim thread (pthread_create calls calloc for the new
 *     thread's TLS vector). Calls made by the creating thread while it
 *     creates are served by a static bump arena (the bootstrap arena);
 *     other threads wait for the instance;
 *   - free never reads a pointer it did not hand out: the instance's
 *     registry and large-object table decide (hak_free refuses foreign
 *     pointers untouched), then the bootstrap arena's bounds; what is left
 *     is counted as a foreign free and ignored (leaked), never a crash.
 */
#include <errno.h>
#include <malloc.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "preload.h"
#include "../src/fast.h"

#define HP_EXPORT __attribute__((visibility("default")))
#define HP_LIKELY(x) __builtin_expect(!!(x), 1)
#define HP_UNLIKELY(x) __builtin_expect(!!(x), 0)

enum { HP_UNINIT = 0, HP_CREATING = 1, HP_READY = 2 };

hak_preload_counters hak_preload_counts;

/* The instance, published (release) once it is ready: the fast paths'
 * only test. g_state orders its creation. */
static _Atomic(hak_allocator *) g_alloc;
static _Atomic int g_state;
/* True in the thread that is creating the instance (initial-exec TLS:
 * libhakmem.so is loaded at startup, so this never allocates). */
static _Thread_local bool tl_creating;

/* ------------------------------------------------------------ bootstrap */

/* A few KiB serve what pthread_create and pthread_atfork allocate while the
 * instance is being created; 256 KiB leaves room for a configuration
 * that makes more calls. Blocks are never reused. */
#define HP_BOOT_SIZE (256u * 1024u)
#define HP_BOOT_HDR 16u
static _Alignas(4096) unsigned char g_boot[HP_BOOT_SIZE];
static _Atomic size_t g_boot_used;

static bool in_boot(const void *p) {
  return (const unsigned char *)p >= g_boot && (const unsigned char *)p < g_boot + HP_BOOT_SIZE;
}

static size_t boot_size(const void *p) {
  size_t n;
  memcpy(&n, (const unsigned char *)p - HP_BOOT_HDR, sizeof n);
  return n;
}

/* Zeroed memory (static storage, never reused); align a power of two. */
static void *boot_alloc(size_t n, size_t align) {
  if (align < HP_BOOT_HDR) align = HP_BOOT_HDR;
  size_t cur = atomic_load_explicit(&g_boot_used, memory_order_relaxed);
  for (;;) {
    size_t start = (cur + HP_BOOT_HDR + align - 1) & ~(align - 1);
    if (align > HP_BOOT_SIZE || n > HP_BOOT_SIZE || start + n > HP_BOOT_SIZE) {
      errno = ENOMEM;
      return NULL;
    }
    if (atomic_compare_exchange_weak_explicit(&g_boot_used, &cur, start + n,
                                              memory_order_relaxed, memory_order_relaxed)) {
      memcpy(g_boot + start - HP_BOOT_HDR, &n, sizeof n);
      atomic_fetch_add_explicit(&hak_preload_counts.bootstrap_allocs, 1, memory_order_relaxed);
      atomic_store_explicit(&hak_preload_counts.bootstrap_bytes, start + n,
                            memory_order_relaxed);
      return g_boot + start;
    }
  }
}

/* ------------------------------------------------------------- instance */

void hak_preload_write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t w = write(fd, buf, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    buf += w;
    len -= (size_t)w;
  }
}

/* The core's one message (the OOM line) goes straight to fd 2: no stdio
 * lock is taken inside malloc. */
static void log_line(void *ctx, const char *line) {
  (void)ctx;
  char buf[512];
  int n = snprintf(buf, sizeof buf, "%s\n", line);
  if (n > 0) hak_preload_write_all(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* A configuration error leaves no allocator to run the program with:
 * running it on another allocator would silently measure the wrong one. */
static _Noreturn void die(const char *what, const char *err) {
  char buf[512];
  int n = snprintf(buf, sizeof buf, "[hakmem] libhakmem.so: %s: %s\n", what, err);
  if (n > 0) hak_preload_write_all(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
  _exit(2);
}

static hak_allocator *create_slow(void) {
  int s = atomic_load_explicit(&g_state, memory_order_acquire);
  for (;;) {
    if (s == HP_READY) return atomic_load_explicit(&g_alloc, memory_order_acquire);
    if (s == HP_UNINIT) {
      if (atomic_compare_exchange_weak_explicit(&g_state, &s, HP_CREATING, memory_order_acquire,
                                                memory_order_acquire))
        break;
      continue;
    }
    if (tl_creating) return NULL; /* a nested call: bootstrap arena */
    sched_yield();
    s = atomic_load_explicit(&g_state, memory_order_acquire);
  }
  tl_creating = true;
  hak_config cfg;
  char err[256] = "";
  hak_config_default(&cfg);
  if (hak_config_from_env(&cfg, true, err, sizeof err) != 0) die("bad configuration", err);
  if (hak_preload_report_config(err, sizeof err) != 0) die("bad configuration", err);
  /* Never meshes (no write barrier: docs/meshing.md), so no memfd. */
  hak_create_opts opts = {.log = log_line, .no_mesh = true};
  hak_allocator *a;
  if (hak_create(&cfg, &opts, &a, err, sizeof err) != 0) die("cannot create the allocator", err);
  atomic_store_explicit(&g_alloc, a, memory_order_release);
  atomic_store_explicit(&g_state, HP_READY, memory_order_release);
  tl_creating = false;
  return a;
}

static inline hak_allocator *instance(void) {
  hak_allocator *a = atomic_load_explicit(&g_alloc, memory_order_acquire);
  if (HP_LIKELY(a != NULL)) return a;
  return create_slow();
}

hak_allocator *hak_preload_instance(void) { return instance(); }

/* ------------------------------------------------------- malloc family */

void *hak_preload_malloc(size_t n) {
  hak_allocator *a = instance();
  if (HP_UNLIKELY(!a)) return boot_alloc(n, 16);
  return hak_malloc_fast(a, n);
}

static void free_slow(hak_allocator *a, void *p, int rc) {
  if (rc == -HAK_EBADFREE) return; /* reported and counted by the core */
  if (in_boot(p)) {
    atomic_fetch_add_explicit(&hak_preload_counts.bootstrap_frees, 1, memory_order_relaxed);
  } else if (a && rc == -HAK_ENOMEM) {
    atomic_fetch_add_explicit(&hak_preload_counts.failed_frees, 1, memory_order_relaxed);
  } else {
    atomic_fetch_add_explicit(&hak_preload_counts.foreign_frees, 1, memory_order_relaxed);
  }
}

void hak_preload_free(void *p) {
  hak_allocator *a = atomic_load_explicit(&g_alloc, memory_order_acquire);
  if (HP_LIKELY(a != NULL)) {
    int rc = hak_free_fast(a, p); /* free(NULL) is 0 there too */
    if (HP_LIKELY(rc == 0)) return;
    free_slow(a, p, rc);
    return;
  }
  if (p) free_slow(NULL, p, -HAK_EINVAL); /* before the instance: nothing of ours */
}

static size_t next_pow2(size_t v) {
  if (v <= 1) return 1;
  if (v > (SIZE_MAX >> 1) + 1) return 0;
  return (size_t)1 << (64 - __builtin_clzll((unsigned long long)(v - 1)));
}

void *hak_preload_memalign(size_t align, size_t n) {
  hak_allocator *a = instance();
  if (HP_UNLIKELY(!a)) return boot_alloc(n, align);
  return hak_memalign(a, align, n);
}

HP_EXPORT void *malloc(size_t n) { return hak_preload_malloc(n); }

HP_EXPORT void free(void *p) { hak_preload_free(p); }

HP_EXPORT void *calloc(size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  hak_allocator *a = instance();
  if (HP_UNLIKELY(!a)) return boot_alloc(total, 16); /* static storage: zeroed */
  /* hak_calloc clears only what needs it: a large block straight from
   * the kernel is already zero. */
  return hak_calloc(a, count, size);
}

HP_EXPORT void *realloc(void *p, size_t n) {
  if (!p) return hak_preload_malloc(n);
  hak_allocator *a = instance();
  if (HP_UNLIKELY(!a || in_boot(p))) {
    if (n == 0) {
      hak_preload_free(p);
      return NULL;
    }
    if (!in_boot(p)) { /* foreign, before the instance exists */
      atomic_fetch_add_explicit(&hak_preload_counts.foreign_reallocs, 1, memory_order_relaxed);
      errno = ENOMEM;
      return NULL;
    }
    void *q = hak_preload_malloc(n);
    if (!q) return NULL;
    size_t old = boot_size(p);
    memcpy(q, p, old < n ? old : n);
    atomic_fetch_add_explicit(&hak_preload_counts.bootstrap_frees, 1, memory_order_relaxed);
    return q;
  }
  if (HP_UNLIKELY(hak_usable_size(a, p) == 0)) {
    /* Not ours: its size is unknown, so it cannot be moved. */
    atomic_fetch_add_explicit(&hak_preload_counts.foreign_reallocs, 1, memory_order_relaxed);
    errno = ENOMEM;
    return NULL;
  }
  return hak_realloc(a, p, n);
}

HP_EXPORT void *reallocarray(void *p, size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return realloc(p, total);
}

/* glibc's memalign rounds an alignment that is not a power of two up. */
HP_EXPORT void *memalign(size_t align, size_t n) {
  size_t al = next_pow2(align);
  if (al == 0) {
    errno = EINVAL;
    return NULL;
  }
  return hak_preload_memalign(al, n);
}

HP_EXPORT void *aligned_alloc(size_t align, size_t n) {
  if (align == 0 || (align & (align - 1)) != 0) {
    errno = EINVAL;
    return NULL;
  }
  return hak_preload_memalign(align, n);
}

HP_EXPORT int posix_memalign(void **out, size_t align, size_t n) {
  if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
  int saved = errno;
  void *p = hak_preload_memalign(align, n);
  errno = saved;
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

HP_EXPORT void *valloc(size_t n) { return hak_preload_memalign(hak_page_size(), n); }

HP_EXPORT void *pvalloc(size_t n) {
  size_t ps = hak_page_size();
  if (n == 0) n = 1;
  if (n > SIZE_MAX - ps) {
    errno = ENOMEM;
    return NULL;
  }
  return hak_preload_memalign(ps, (n + ps - 1) & ~(ps - 1));
}

HP_EXPORT size_t malloc_usable_size(void *p) {
  if (!p) return 0;
  if (HP_UNLIKELY(in_boot(p))) return boot_size(p);
  hak_allocator *a = atomic_load_explicit(&g_alloc, memory_order_acquire);
  return a ? hak_usable_size(a, p) : 0;
}

/* ----------------------------------------------------- load and unload */

__attribute__((constructor)) static void hak_preload_ctor(void) {
  hak_allocator *a = instance();
  if (a) hak_preload_report_start(a);
}

__attribute__((destructor)) static void hak_preload_dtor(void) {
  hak_allocator *a = instance();
  if (a) hak_preload_report_exit(a);
}
