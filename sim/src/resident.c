/* resident.c: the allocator's memory as the kernel sees it, measured the
 * same way for every allocator (docs/run-format.md, "Resident and mapped
 * bytes"):
 *
 *   resident = Anonymous of /proc/self/smaps_rollup (private anonymous
 *              pages in memory, and copied-on-write pages of private file
 *              mappings) - the replayer's own private pages - the same at
 *              the baseline, taken before the first replayed event;
 *   mapped   = the sizes of the private, writable, anonymous mappings of
 *              /proc/self/maps (no file behind them, not the main thread's
 *              stack; PROT_NONE reservations are not counted) - the
 *              replayer's own - the baseline.
 *
 * In process, hakmem under compaction=mesh keeps its SuperSlabs in a
 * memfd (allocator/src/backing.c): MAP_SHARED, so shmem, in neither sum.
 * Its pages are the allocator's as much as anonymous ones would be, so
 * they are added: resident by the file's allocated blocks (fstat: each
 * page once, however many ranges show it, as a mesh makes two show one),
 * mapped by the sizes of the file's mappings. The file is found by its
 * name in /proc/self/fd when the baseline is taken (it exists from
 * hak_create on; nothing else in the process is a memfd of that name).
 *
 * The replayer keeps its own memory out of both by construction: every
 * region it maps itself (the child's op ring, slot table and thread
 * stacks, the pool threads' stacks in process, this file's scratch
 * buffers) is MAP_SHARED, so shmem, which neither sum counts. What it
 * allocates with malloc goes, in process, to glibc's brk heap alone
 * (hr_resident_init sets M_ARENA_MAX 1 and M_MMAP_MAX 0 first): that heap
 * is subtracted, its resident pages counted with mincore. In the child
 * nothing of the replayer's calls malloc during the replay.
 *
 * Cost: the kernel walks every mapping for both files. With tens of
 * thousands of mappings (seed-buggy's SuperSlabs) one measurement takes
 * 0.1-0.2 s, so such measurements are rationed: while the process has
 * more than HR_RESIDENT_CHEAP mappings, one is skipped as long as the time
 * spent measuring exceeds HR_RESIDENT_BUDGET of the run's time so far.
 * (Below that, about 0.1-0.3 ms each, every sample is measured: which
 * samples are does not depend on the machine's speed.)
 * The first and the last sample are always measured.
 *
 * Nothing here calls malloc: the child runs it under the measured
 * allocator.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define HR_RESIDENT_BUDGET 0.10
#define HR_MEMFD_NAME "/memfd:hakmem" /* backing.c's memfd_create("hakmem") */
#define HR_RESIDENT_CHEAP 4096 /* mappings: with fewer, every measurement is made */

void *hr_shared_map(size_t size) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

void hr_shared_unmap(void *p, size_t size) {
  if (p) munmap(p, size);
}

/* A shared scratch buffer of at least need bytes (its contents kept). */
static int grow(char **buf, size_t *cap, size_t need) {
  if (need <= *cap) return 0;
  size_t ncap = *cap ? *cap : 1 << 16;
  while (ncap < need) ncap *= 2;
  char *n = hr_shared_map(ncap);
  if (!n) return -1;
  if (*buf) {
    memcpy(n, *buf, *cap);
    hr_shared_unmap(*buf, *cap);
  }
  *buf = n;
  *cap = ncap;
  return 0;
}

/* The whole of a /proc file into r->buf, NUL-terminated: its length, or -1. */
static ssize_t slurp(hr_resident *r, int fd) {
  if (lseek(fd, 0, SEEK_SET) != 0) return -1;
  size_t len = 0;
  for (;;) {
    if (len + 4096 >= r->cap && grow(&r->buf, &r->cap, len + 8192) != 0) return -1;
    ssize_t n = read(fd, r->buf + len, r->cap - len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    len += (size_t)n;
  }
  r->buf[len] = '\0';
  return (ssize_t)len;
}

static uint64_t hex(const char **p) {
  uint64_t v = 0;
  for (;; (*p)++) {
    char c = **p;
    if (c >= '0' && c <= '9') v = v * 16 + (uint64_t)(c - '0');
    else if (c >= 'a' && c <= 'f') v = v * 16 + (uint64_t)(c - 'a' + 10);
    else return v;
  }
}

int hr_resident_init(hr_resident *r, bool in_process) {
  memset(r, 0, sizeof *r);
  r->in_process = in_process;
  r->memfd = -1;
  r->rollup_fd = open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC);
  r->maps_fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (r->rollup_fd < 0 || r->maps_fd < 0) return -1;
  if (in_process) {
    /* Every malloc of the replayer's into the brk heap, which is
     * subtracted (the allocator measured maps its own memory). */
    mallopt(M_ARENA_MAX, 1);
    mallopt(M_MMAP_MAX, 0);
  }
  r->started = hr_now();
  return 0;
}

void hr_resident_free(hr_resident *r) {
  if (r->rollup_fd > 0) close(r->rollup_fd);
  if (r->maps_fd > 0) close(r->maps_fd);
  hr_shared_unmap(r->buf, r->cap);
  hr_shared_unmap((char *)r->vec, r->veccap);
  memset(r, 0, sizeof *r);
  r->rollup_fd = r->maps_fd = -1;
}

/* Resident pages of [start, end) (page-aligned), by mincore. */
static uint64_t resident_of(hr_resident *r, uint64_t start, uint64_t end) {
  size_t pages = (size_t)((end - start) / 4096);
  if (!pages) return 0;
  if (pages > r->veccap && grow((char **)&r->vec, &r->veccap, pages) != 0) return 0;
  if (mincore((void *)start, end - start, r->vec) != 0) return 0;
  uint64_t n = 0;
  for (size_t i = 0; i < pages; i++) n += r->vec[i] & 1;
  return n * 4096;
}

/* The raw sums, before the baseline: 0, or -1. */
static int read_raw(hr_resident *r, int64_t *anon, int64_t *mapped) {
  if (slurp(r, r->rollup_fd) < 0) return -1;
  const char *a = strstr(r->buf, "\nAnonymous:");
  if (!a) return -1;
  *anon = strtoll(a + 11, NULL, 10) * 1024;
  if (slurp(r, r->maps_fd) < 0) return -1;
  int64_t m = 0;
  uint64_t heap_start = 0, heap_end = 0;
  r->vmas = 0;
  for (const char *p = r->buf; *p; r->vmas++) {
    uint64_t start = hex(&p);
    p++; /* '-' */
    uint64_t end = hex(&p);
    p++; /* ' ' */
    bool rw = p[0] == 'r' && p[1] == 'w', priv = p[3] == 'p';
    /* after the permissions: offset, device, inode (the fourth), path */
    int field = 1;
    const char *q = p;
    while (*q && *q != '\n' && field < 4)
      if (*q++ == ' ') field++;
    bool inode0 = *q == '0' && (q[1] == ' ' || q[1] == '\n' || q[1] == '\0');
    while (*q == ' ' || (*q >= '0' && *q <= '9')) q++;
    const char *path = q;
    const char *eol = strchr(q, '\n');
    if (!eol) eol = q + strlen(q);
    bool heap = !strncmp(path, "[heap]", 6);
    if (r->memfd >= 0 && !strncmp(path, HR_MEMFD_NAME " ", sizeof HR_MEMFD_NAME))
      m += (int64_t)(end - start); /* the allocator's memfd (above) */
    bool anon_vma = inode0 && (path == eol || heap || !strncmp(path, "[anon", 5));
    if (rw && priv && anon_vma) {
      m += (int64_t)(end - start);
      if (heap) heap_start = start, heap_end = end;
    }
    p = *eol ? eol + 1 : eol;
  }
  if (r->in_process && heap_end > heap_start) {
    *anon -= (int64_t)resident_of(r, heap_start, heap_end);
    m -= (int64_t)(heap_end - heap_start);
  }
  struct stat st;
  if (r->memfd >= 0 && fstat(r->memfd, &st) == 0) *anon += (int64_t)st.st_blocks * 512;
  *mapped = m;
  return 0;
}

/* The allocator's memfd, if it has one: its descriptor, or -1. Not
 * opened here (the allocator owns it and closes it at hak_destroy, after
 * the last measurement). */
static int find_memfd(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  int found = -1;
  for (struct dirent *e; found < 0 && (e = readdir(d));) {
    char link[320], target[64];
    if (e->d_name[0] == '.') continue;
    snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    if (!strncmp(target, HR_MEMFD_NAME " ", sizeof HR_MEMFD_NAME)) found = atoi(e->d_name);
  }
  closedir(d);
  return found;
}

int hr_resident_baseline(hr_resident *r) {
  if (r->in_process) r->memfd = find_memfd();
  int rc = read_raw(r, &r->base_anon, &r->base_mapped);
  r->started = hr_now();
  r->spent = 0;
  return rc;
}

bool hr_resident_due(const hr_resident *r, bool force) {
  if (force || r->measured == 0 || r->vmas < HR_RESIDENT_CHEAP) return true;
  return r->spent <= HR_RESIDENT_BUDGET * (hr_now() - r->started);
}

int hr_resident_measure(hr_resident *r, uint64_t *resident, uint64_t *mapped) {
  double t0 = hr_now();
  int64_t anon, m;
  int rc = read_raw(r, &anon, &m);
  r->spent += hr_now() - t0;
  if (rc) return -1;
  r->measured++;
  anon -= r->base_anon;
  m -= r->base_mapped;
  *resident = anon > 0 ? (uint64_t)anon : 0;
  *mapped = m > 0 ? (uint64_t)m : 0;
  return 0;
}
