/* replay_floor.c: the allocator-only cost of a trace, the floor hakreplay
 * is measured against. Every alloc/free/realloc of the trace is executed
 * by one thread directly on a hakmem-sim instance (or glibc malloc), with
 * no worker threads, no hand-offs, no ground truth and no samples; the
 * trace is read first, so reading is not timed either.
 *
 *   replay-floor TRACE [--variant PRESET] [--system]
 * prints: events, seconds, events/s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hakmem.h"
#include "ht_trace.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  const char *path = NULL, *variant = NULL;
  int use_system = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--variant") && i + 1 < argc) variant = argv[++i];
    else if (!strcmp(argv[i], "--system")) use_system = 1;
    else path = argv[i];
  }
  if (!path) {
    fprintf(stderr, "usage: replay-floor TRACE [--variant PRESET] [--system]\n");
    return 2;
  }
  ht_reader *r;
  ht_error err;
  if (ht_reader_open(path, HT_READ_NO_VALIDATE, &r, &err) < 0) {
    fprintf(stderr, "%s\n", err.text);
    return 2;
  }
  size_t cap = 1 << 20, n = 0;
  ht_event *evs = malloc(cap * sizeof *evs);
  uint64_t max_id = 0;
  ht_event ev;
  int rc;
  while ((rc = ht_reader_next(r, &ev)) > 0) {
    if (ev.op == HT_OP_THREAD_START || ev.op == HT_OP_THREAD_EXIT) continue;
    if (n == cap) evs = realloc(evs, (cap *= 2) * sizeof *evs);
    evs[n++] = ev;
    if (ev.id > max_id) max_id = ev.id;
    if (ev.new_id > max_id) max_id = ev.new_id;
  }
  ht_reader_close(r);
  if (rc < 0 || max_id > (1u << 28)) {
    fprintf(stderr, "%s: unreadable, or ids too large for a flat table\n", path);
    return 2;
  }
  void **ptr = calloc(max_id + 1, sizeof *ptr);
  hak_allocator *a = NULL;
  if (!use_system) {
    hak_config cfg;
    char e[256];
    hak_config_default(&cfg);
    if (variant && hak_config_apply_preset(&cfg, variant) != 0) return 2;
    hak_create_opts opts = {.no_trim_thread = 1};
    if (hak_create(&cfg, &opts, &a, e, sizeof e) != 0) return 2;
  }
  double t0 = now();
  for (size_t i = 0; i < n; i++) {
    const ht_event *e = &evs[i];
    switch (e->op) {
    case HT_OP_ALLOC:
      ptr[e->id] = a ? hak_malloc(a, e->size) : malloc(e->size);
      if (e->size) ((char *)ptr[e->id])[0] = 1;
      break;
    case HT_OP_CALLOC: ptr[e->id] = a ? hak_calloc(a, e->n, e->size) : calloc(e->n, e->size); break;
    case HT_OP_MEMALIGN:
      ptr[e->id] = a ? hak_memalign(a, e->align, e->size) : aligned_alloc(e->align, e->size);
      break;
    case HT_OP_REALLOC: {
      void *p = a ? hak_realloc(a, ptr[e->id], e->size) : realloc(ptr[e->id], e->size);
      ptr[e->id] = NULL;
      ptr[e->new_id] = p;
      break;
    }
    case HT_OP_FREE:
      if (a) hak_free(a, ptr[e->id]);
      else free(ptr[e->id]);
      ptr[e->id] = NULL;
      break;
    default: break;
    }
  }
  double dt = now() - t0;
  printf("%zu events %.3f s %.2f M events/s (%s)\n", n, dt, n / dt / 1e6,
         use_system ? "glibc" : variant ? variant : "default");
  if (a) hak_destroy(a);
  free(ptr);
  free(evs);
  return 0;
}
