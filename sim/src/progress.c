/* progress.c: the progress line. On a terminal (and without --quiet)
 * hakreplay rewrites one line on stderr with \r at most every quarter
 * second: events run, the rate, and the time left when the trace's header
 * says how many events it has. With --progress-fd N (what `hakreplay
 * compare` passes to its replays) it writes the same text to N instead,
 * one line per update, for the parent to draw one line per variant.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

void hr_progress_init(hr_progress_line *p, const hr_options *o, int64_t total) {
  memset(p, 0, sizeof *p);
  p->fd = o->progress_fd;
  p->on = o->progress || p->fd >= 0;
  p->total = total;
  p->started = hr_now();
}

void hr_progress_format(char *buf, size_t len, uint64_t done, int64_t total, double seconds,
                        bool last) {
  double rate = seconds > 0 ? (double)done / seconds : 0;
  if (last) {
    snprintf(buf, len, "%.1f M events in %.1f s, %.2f M events/s", (double)done / 1e6, seconds,
             rate / 1e6);
    return;
  }
  int n = snprintf(buf, len, "%.1f", (double)done / 1e6);
  if (total > 0 && n >= 0 && (size_t)n < len) {
    double left = rate > 0 && (uint64_t)total > done ? (double)((uint64_t)total - done) / rate : 0;
    n += snprintf(buf + n, len - (size_t)n, "/%.1f M events (%d%%), %.2f M events/s, %d:%02d left",
                  (double)total / 1e6, (int)(100.0 * (double)done / (double)total), rate / 1e6,
                  (int)left / 60, (int)left % 60);
  } else if (n >= 0 && (size_t)n < len) {
    snprintf(buf + n, len - (size_t)n, " M events, %.2f M events/s", rate / 1e6);
  }
}

void hr_progress(hr_run *run, uint64_t done, bool last) {
  hr_progress_line *p = &run->progress_line;
  if (!p->on) return;
  double now = hr_now();
  if (!last && now - p->last < 0.25) return;
  p->last = now;
  char line[160];
  hr_progress_format(line, sizeof line, done, p->total, now - p->started, last);
  if (p->fd >= 0) {
    dprintf(p->fd, "%s\n", line);
    return;
  }
  fprintf(stderr, "\rhakreplay: %s   %s", line, last ? "\n" : "");
  fflush(stderr);
}
