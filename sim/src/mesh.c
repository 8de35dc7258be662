/* mesh.c: meshing in a replay (docs/meshing.md, "For the replayer").
 *
 * hak_mesh and hak_mesh_potential need every thread that uses the
 * allocator outside it for the whole call. The replayer has such points
 * already: deterministic mode's duties run between two events with every
 * trace thread waiting for the turn, and free mode's samples wait until
 * every worker's queue is empty and the worker idle. So:
 *
 *   - deterministic mode: a pass at every trim point, before hak_trim,
 *     so a SuperSlab the pass leaves empty (a slab that held only its
 *     aliases' blocks gets its own range back) is unmapped at once;
 *   - free mode: a pass at every sample point (free mode has no trim
 *     points of its own: the allocator's trim thread trims on wall-clock
 *     time, and waits on trim_lock while a pass holds it);
 *   - the potential, under any configuration, at sample points.
 *
 * Passes are logged as `mesh` events. The potential walks every slab of
 * every class and tests up to 4,096 candidates per class against 64
 * others, 8 rounds: on a Larson trace's 12,000 SuperSlabs under phase1 it
 * costs more than the sample it belongs to. It is rationed by sample
 * count, never by time, so which samples carry it is a function of the
 * trace and the configuration: every HR_POTENTIAL_EVERY-th sample and the
 * last one.
 *
 * A free through a merged slab's range frees the same block of its
 * primary, which can change the primary's SuperSlab (its counter, its
 * remote stack) while no block of that SuperSlab is freed. The census
 * only looks at SuperSlabs marked changed, so every SuperSlab that holds
 * a primary is marked at every sample (hr_mesh_touch_primaries) until it
 * is unmapped: a primary's SuperSlab cannot be trimmed while it has
 * aliases, so that is never early.
 */
#include <stdlib.h>

#include "internal.h"

#define HR_POTENTIAL_EVERY 10 /* samples between two potentials */

void hr_meshing_init(hr_run *run) {
  hr_meshing *m = &run->mesh;
  m->on = hak_get_config(run->alloc)->compaction == HAK_COMPACTION_MESH;
  m->potential_every = HR_POTENTIAL_EVERY;
}

void hr_meshing_free(hr_meshing *m) { free(m->primaries); }

void hr_mesh_pass(hr_run *run) {
  if (!run->mesh.on) return;
  hak_mesh_report r;
  if (hak_mesh(run->alloc, &r) != 0) return; /* no memfd: cannot happen with compaction=mesh */
  hr_jw *w = hr_event_begin(&run->events, "mesh", atomic_load(&run->t_now));
  if (!w) return;
  const char *keys[] = {"pass", "candidates", "pairs_tested", "meshes", "skipped_limit",
                        "moved_blocks", "released_bytes"};
  const uint64_t vals[] = {r.pass, r.candidates, r.pairs_tested, r.meshes, r.skipped_limit,
                           r.moved_blocks, r.released_bytes};
  for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
    hr_jw_key(w, keys[i]);
    hr_jw_int(w, (int64_t)vals[i]);
  }
  hr_event_end(&run->events);
}

bool hr_mesh_potential(hr_run *run, bool last, uint64_t *bytes) {
  hr_meshing *m = &run->mesh;
  bool due = last || m->samples_seen % m->potential_every == 0;
  m->samples_seen++;
  if (!due) return false;
  hak_mesh_potential_report p;
  hak_mesh_potential(run->alloc, &p);
  m->potential_n++;
  m->potential_last = p.bytes;
  m->potential_sum += p.bytes;
  if (p.bytes > m->potential_peak) m->potential_peak = p.bytes;
  if (p.slabs > m->potential_peak_slabs) m->potential_peak_slabs = p.slabs;
  *bytes = p.bytes;
  return true;
}

void hr_mesh_primary(hr_run *run, uint32_t id) {
  hr_meshing *m = &run->mesh;
  hr_ss *ss = hr_truth_get(&run->truth, id);
  if (ss->primary) return;
  if (m->nprimaries == m->primaries_cap) {
    uint32_t cap = m->primaries_cap ? m->primaries_cap * 2 : 256;
    uint32_t *n = realloc(m->primaries, cap * sizeof *n);
    if (!n) {
      m->primaries_oom = true;
      return;
    }
    m->primaries = n;
    m->primaries_cap = cap;
  }
  ss->primary = true;
  m->primaries[m->nprimaries++] = id;
}

bool hr_mesh_touch_primaries(hr_run *run) {
  hr_meshing *m = &run->mesh;
  for (uint32_t i = 0; i < m->nprimaries;) {
    hr_ss *ss = hr_truth_get(&run->truth, m->primaries[i]);
    if (!ss->mapped) { /* unmapped (ids are never reused): nothing more to look at */
      ss->primary = false;
      m->primaries[i] = m->primaries[--m->nprimaries];
      continue;
    }
    hr_truth_touch(&run->truth, ss);
    i++;
  }
  return !m->primaries_oom;
}

json_t *hr_mesh_potential_json(const hr_meshing *m) {
  json_int_t mean = m->potential_n ? (json_int_t)(m->potential_sum / m->potential_n) : 0;
  return json_pack("{sI sI sI sI sI}", "samples", (json_int_t)m->potential_n, "peak_bytes",
                   (json_int_t)m->potential_peak, "mean_bytes", mean, "end_bytes",
                   (json_int_t)m->potential_last, "peak_slabs",
                   (json_int_t)m->potential_peak_slabs);
}
