/* ssdetail.c: the per-SuperSlab heat map's data from hakreplay's
 * --ss-detail JSONL (one line per sample: {"t", "ss": [[id, class,
 * live_blocks, capacity, total_active_blocks, remote_pending,
 * orphaned_slabs], ...]}).  Streamed twice (a real run's file is large):
 * once to size the grid, once to fill it.  The grid has at most HA_SS_COLS
 * time columns (every k-th sample) and HA_SS_ROWS rows (w consecutive ids
 * per row); a cell is the mean true occupancy (live / capacity) of the live
 * SuperSlabs in it, and is flagged when one of them is logically non-empty
 * but truly empty (counter > 0, no live block: the seed's bug). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define HA_SS_COLS 400
#define HA_SS_ROWS 300

typedef struct cell {
  double occ;
  int n;
  int bug;
} cell;

/* Parses one line; NULL with a message on a malformed one. */
static json_t *parse_line(const char *path, long lineno, const char *line, ha_err *err) {
  json_error_t je;
  json_t *j = json_loads(line, 0, &je);
  if (!j) {
    ha_fail(err, HA_ERR_INPUT, "%s:%ld: not valid JSON: %s", path, lineno, je.text);
    return NULL;
  }
  const json_t *ss = json_object_get(j, "ss");
  const char *what = NULL;
  if (!json_is_integer(json_object_get(j, "t"))) what = "no integer \"t\"";
  else if (!json_is_array(ss)) what = "no \"ss\" array";
  for (size_t i = 0; !what && i < json_array_size(ss); i++) {
    const json_t *r = json_array_get(ss, i);
    if (!json_is_array(r) || json_array_size(r) < 5) what = "an \"ss\" entry is not [id, class, live, capacity, active, ...]";
    for (size_t k = 0; !what && k < 5; k++)
      if (!json_is_integer(json_array_get(r, k))) what = "an \"ss\" entry has a non-integer field";
  }
  if (what) {
    json_decref(j);
    ha_fail(err, HA_ERR_INPUT, "%s:%ld: %s", path, lineno, what);
    return NULL;
  }
  return j;
}

static int open_in(const char *path, FILE **f, ha_err *err) {
  *f = fopen(path, "r");
  if (!*f) return ha_fail(err, HA_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
  return 0;
}

int ha_ssdetail_scan(const char *path, ha_ssscan *scan, ha_err *err) {
  FILE *in;
  int rc = open_in(path, &in, err);
  if (rc) return rc;
  char *line = NULL;
  size_t cap = 0;
  long lineno = 0, nsamples = 0, maxid = -1;
  while (getline(&line, &cap, in) > 0) {
    lineno++;
    json_t *j = parse_line(path, lineno, line, err);
    if (!j) {
      rc = HA_ERR_INPUT;
      break;
    }
    nsamples++;
    const json_t *ss = json_object_get(j, "ss");
    for (size_t i = 0; i < json_array_size(ss); i++) {
      long id = (long)json_integer_value(json_array_get(json_array_get(ss, i), 0));
      if (id > maxid) maxid = id;
    }
    json_decref(j);
  }
  fclose(in);
  free(line);
  if (!rc && nsamples == 0) rc = ha_fail(err, HA_ERR_INPUT, "%s: no samples", path);
  scan->nsamples = nsamples;
  scan->maxid = maxid;
  return rc;
}

int ha_ssdetail_write(const char *path, const ha_ssscan *scan, const char *dir, ha_plotinfo *info,
                      ha_err *err) {
  FILE *in;
  char *line = NULL;
  size_t cap = 0;
  long lineno = 0, nsamples = scan->nsamples, maxid = scan->maxid;
  int rc = 0;
  long k = (nsamples + HA_SS_COLS - 1) / HA_SS_COLS;      /* samples per column */
  long w = (maxid + 1 + HA_SS_ROWS - 1) / HA_SS_ROWS;     /* ids per row */
  if (w < 1) w = 1;
  long rows = (maxid + 1 + w - 1) / w;
  cell *grid = calloc((size_t)(rows > 0 ? rows : 1), sizeof *grid);
  ha_out o;
  if (!grid) return ha_fail(err, HA_ERR_INTERNAL, "out of memory");
  if ((rc = ha_out_open(&o, dir, "ssdetail.dat", err)) || (rc = open_in(path, &in, err))) {
    if (o.f) ha_out_abort(&o);
    free(grid);
    free(line);
    return rc;
  }
  fprintf(o.f, "# t0 t1 id0 id1 occupancy(mean live/capacity) counter_nonzero_but_empty  "
               "(%ld samples per column, %ld SuperSlab ids per row)\n", k, w);
  long s = 0, prev_t = 0;
  lineno = 0;
  while (!rc && getline(&line, &cap, in) > 0) {
    lineno++;
    json_t *j = parse_line(path, lineno, line, err);
    if (!j) {
      rc = HA_ERR_INPUT;
      break;
    }
    if (++s % k != 0 && s != nsamples) { /* a column shows the last sample of its k */
      json_decref(j);
      continue;
    }
    long t = (long)json_integer_value(json_object_get(j, "t"));
    const json_t *ss = json_object_get(j, "ss");
    memset(grid, 0, (size_t)rows * sizeof *grid);
    for (size_t i = 0; i < json_array_size(ss); i++) {
      const json_t *r = json_array_get(ss, i);
      long id = (long)json_integer_value(json_array_get(r, 0));
      long live = (long)json_integer_value(json_array_get(r, 2));
      long capy = (long)json_integer_value(json_array_get(r, 3));
      long active = (long)json_integer_value(json_array_get(r, 4));
      if (id < 0 || id > maxid || capy <= 0) continue;
      cell *c = &grid[id / w];
      c->occ += (double)live / (double)capy;
      c->n++;
      if (active > 0 && live == 0) c->bug = 1;
    }
    for (long r = 0; r < rows; r++)
      if (grid[r].n)
        fprintf(o.f, "%ld %ld %ld %ld %.6g %d\n", prev_t, t, r * w, (r + 1) * w,
                grid[r].occ / grid[r].n, grid[r].bug);
    prev_t = t;
    json_decref(j);
  }
  fclose(in);
  free(grid);
  free(line);
  if (rc) {
    ha_out_abort(&o);
    return rc;
  }
  info->has_ssdetail = 1;
  info->nss = (int)(rows * w);
  info->ss_per_row = (int)w;
  if (prev_t > info->tmax) info->tmax = (double)prev_t;
  return ha_out_commit(&o, err);
}
