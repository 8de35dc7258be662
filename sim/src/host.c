/* host.c: the `host` object of run.json, the only part that may differ
 * between two runs of the same trace and configuration. */
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

double hr_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void cpu_model(char *buf, size_t len) {
  snprintf(buf, len, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) != 0) continue;
    char *colon = strchr(line, ':');
    if (!colon) break;
    colon += 2;
    colon[strcspn(colon, "\n")] = '\0';
    snprintf(buf, len, "%s", colon);
    break;
  }
  fclose(f);
}

/* The CPUs this process may run on (compare pins its parallel replays). */
static int cpus_allowed(void) {
  cpu_set_t set;
  return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
}

json_t *hr_host_json(double wall, uint64_t events, uint32_t pool_threads, int who) {
  struct rusage ru;
  getrusage(who, &ru);
  struct utsname u;
  uname(&u);
  char cpu[256];
  cpu_model(cpu, sizeof cpu);
  return json_pack("{sf sf sI sI sI ss si si ss ss si}", "wall_seconds", wall, "events_per_second",
                   wall > 0 ? (double)events / wall : 0.0, "peak_rss_bytes",
                   (json_int_t)ru.ru_maxrss * 1024, "minor_faults", (json_int_t)ru.ru_minflt,
                   "major_faults", (json_int_t)ru.ru_majflt, "cpu", cpu, "cpus",
                   (int)sysconf(_SC_NPROCESSORS_ONLN), "cpus_allowed", cpus_allowed(), "kernel", u.release, "machine", u.machine,
                   "os_threads", (int)pool_threads + 1);
}
