/* selfreport.c: the external allocators hakreplay --allocator knows, how
 * each is loaded, and what each says about its own memory (run.json's
 * samples[].self). Runs in the child, under the allocator: the report
 * functions are found with dlsym, so hakreplay links none of them, and
 * nothing here calls malloc but the allocator's own report may.
 *
 *   glibc     mallinfo2(): arena (bytes taken with brk and in arenas),
 *             hblkhd (mmapped chunks), uordblks (in use), fordblks (free)
 *   jemalloc  mallctl("stats.*") after an "epoch" write: allocated,
 *             active, resident, mapped, retained
 *   mimalloc  mi_process_info(): current and peak commit
 *   tcmalloc  MallocExtension_GetNumericProperty(): generic.current_
 *             allocated_bytes, generic.heap_size, tcmalloc.pageheap_free_
 *             bytes, tcmalloc.pageheap_unmapped_bytes, tcmalloc.current_
 *             total_thread_cache_bytes
 */
#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

enum { HR_GLIBC, HR_JEMALLOC, HR_MIMALLOC, HR_TCMALLOC };

static const hr_allocator_info allocators[] = {
    [HR_GLIBC] = {"glibc", NULL, "libc6"},
    [HR_JEMALLOC] = {"jemalloc", "libjemalloc.so.2", "libjemalloc2"},
    [HR_MIMALLOC] = {"mimalloc", "libmimalloc.so.2", "libmimalloc2.0"},
    [HR_TCMALLOC] = {"tcmalloc", "libtcmalloc_minimal.so.4", "libtcmalloc-minimal4"},
};
#define HR_NALLOCATORS (sizeof allocators / sizeof *allocators)

static const char *const self_names[][HR_SELF_MAX] = {
    [HR_GLIBC] = {"arena_bytes", "mmap_bytes", "in_use_bytes", "free_bytes"},
    [HR_JEMALLOC] = {"allocated", "active", "resident", "mapped", "retained"},
    [HR_MIMALLOC] = {"committed_bytes", "peak_committed_bytes"},
    [HR_TCMALLOC] = {"allocated_bytes", "heap_size", "pageheap_free_bytes",
                     "pageheap_unmapped_bytes", "thread_cache_bytes"},
};

static const char *const tc_props[] = {
    "generic.current_allocated_bytes", "generic.heap_size", "tcmalloc.pageheap_free_bytes",
    "tcmalloc.pageheap_unmapped_bytes", "tcmalloc.current_total_thread_cache_bytes"};
static const char *const je_stats[] = {"stats.allocated", "stats.active", "stats.resident",
                                       "stats.mapped", "stats.retained"};

const hr_allocator_info *hr_allocator_find(const char *name) {
  for (size_t i = 0; i < HR_NALLOCATORS; i++)
    if (!strcmp(name, allocators[i].name)) return &allocators[i];
  return NULL;
}

const char *hr_allocator_names(void) { return "glibc, jemalloc, mimalloc, tcmalloc"; }

typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);
typedef void (*mi_info_fn)(size_t *, size_t *, size_t *, size_t *, size_t *, size_t *, size_t *,
                           size_t *);
typedef int (*tc_prop_fn)(const char *, size_t *);
typedef struct mallinfo2 (*mallinfo2_fn)(void);

int hr_self_init(hr_self *s, const hr_allocator_info *info, char *version, size_t vlen,
                 char *library, size_t llen, char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  s->info = info;
  int k = (int)(info - allocators);
  for (uint32_t i = 0; i < HR_SELF_MAX && self_names[k][i]; i++) s->names[s->n++] = self_names[k][i];
  /* Whose malloc this process calls: a preload that did not load (the
   * loader only warns) must not pass for the allocator. */
  Dl_info dl;
  void *m = dlsym(RTLD_DEFAULT, "malloc");
  if (!m || !dladdr(m, &dl) || !dl.dli_fname) {
    snprintf(err, errlen, "cannot find which library malloc comes from");
    return -1;
  }
  snprintf(library, llen, "%s", dl.dli_fname);
  const char *want = info->soname ? info->soname : "libc.so.6";
  size_t wl = strcspn(want, "."); /* "libjemalloc" of "libjemalloc.so.2" */
  const char *base = strrchr(dl.dli_fname, '/');
  base = base ? base + 1 : dl.dli_fname;
  if (strncmp(base, want, wl) != 0) {
    snprintf(err, errlen,
             "%s: malloc is %s's, not %s (is the Debian package %s installed? "
             "scripts/install-deps.sh)",
             info->name, dl.dli_fname, want, info->package);
    return -1;
  }
  switch (k) {
  case HR_GLIBC:
    s->fn = dlsym(RTLD_DEFAULT, "mallinfo2");
    snprintf(version, vlen, "glibc %s", gnu_get_libc_version());
    break;
  case HR_JEMALLOC: {
    mallctl_fn ctl = (mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl");
    s->fn = (void *)ctl;
    const char *v = NULL;
    size_t len = sizeof v;
    if (ctl && ctl("version", &v, &len, NULL, 0) == 0 && v)
      snprintf(version, vlen, "jemalloc %.*s", (int)strcspn(v, "-"), v);
    else
      snprintf(version, vlen, "jemalloc");
    break;
  }
  case HR_MIMALLOC: {
    s->fn = dlsym(RTLD_DEFAULT, "mi_process_info");
    int (*ver)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "mi_version");
    int v = ver ? ver() : 0;
    snprintf(version, vlen, "mimalloc %d.%d.%d", v / 100, v / 10 % 10, v % 10);
    break;
  }
  case HR_TCMALLOC: {
    s->fn = dlsym(RTLD_DEFAULT, "MallocExtension_GetNumericProperty");
    const char *(*ver)(int *, int *, const char **) =
        (const char *(*)(int *, int *, const char **))dlsym(RTLD_DEFAULT, "tc_version");
    int major = 0, minor = 0;
    const char *patch = "";
    const char *v = ver ? ver(&major, &minor, &patch) : NULL;
    snprintf(version, vlen, "tcmalloc (%s)", v ? v : "gperftools");
    break;
  }
  }
  if (!s->fn) {
    snprintf(err, errlen, "%s: its own statistics call is missing", info->name);
    return -1;
  }
  return 0;
}

void hr_self_read(const hr_self *s, uint64_t *vals) {
  memset(vals, 0, HR_SELF_MAX * sizeof *vals);
  switch ((int)(s->info - allocators)) {
  case HR_GLIBC: {
    struct mallinfo2 mi = ((mallinfo2_fn)s->fn)();
    vals[0] = mi.arena;
    vals[1] = mi.hblkhd;
    vals[2] = mi.uordblks + mi.hblkhd;
    vals[3] = mi.fordblks;
    break;
  }
  case HR_JEMALLOC: {
    mallctl_fn ctl = (mallctl_fn)s->fn;
    uint64_t epoch = 1;
    size_t len = sizeof epoch;
    ctl("epoch", &epoch, &len, &epoch, len); /* the stats are cached until then */
    for (uint32_t i = 0; i < s->n; i++) {
      size_t v = 0;
      len = sizeof v;
      if (ctl(je_stats[i], &v, &len, NULL, 0) == 0) vals[i] = v;
    }
    break;
  }
  case HR_MIMALLOC: {
    size_t elapsed, user, sys, rss, peak_rss, commit = 0, peak_commit = 0, faults;
    ((mi_info_fn)s->fn)(&elapsed, &user, &sys, &rss, &peak_rss, &commit, &peak_commit, &faults);
    vals[0] = commit;
    vals[1] = peak_commit;
    break;
  }
  case HR_TCMALLOC:
    for (uint32_t i = 0; i < s->n; i++) {
      size_t v = 0;
      if (((tc_prop_fn)s->fn)(tc_props[i], &v)) vals[i] = v;
    }
    break;
  }
}
