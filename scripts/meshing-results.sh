#!/usr/bin/env bash
# The measurements of docs/meshing.md, "Results": meshing (Option E as Mesh
# does it) against the variants without it, resident bytes measured, on
#   1. the seed's Larson trace (2,500 generations: 20.5 M events) under the
#      seed's map limit (ss_map_limit=65530, two mappings per started
#      thread, as the seed's run had);
#   2. the same program run longer (6,000 generations: 49 M events), where
#      phase1 runs out of mappings: does meshing bring that sooner?
#   3. a producer/consumer trace (every free remote) and the recorded
#      real programs of docs/real-programs.md.
# Each trace is replayed under phase1; phase1 with slab 0 taken last, and
# with random slot order too (what meshing's two prerequisites cost without
# meshing); mesh; mesh with bump order (meshing without random order);
# adopt and mesh-adopt. compare merges the runs.
# Prints one table per trace (stdout); writes out/meshing/ (runs, compare/
# with plots and index.html) and, with --update-docs, the plots docs/img
# shows.
#
#   bash scripts/meshing-results.sh [--update-docs]   # ~10 minutes on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
build=${BUILD_DIR:-build-release}
[ -f "$build/build.ninja" ] || meson setup "$build" --buildtype=release >/dev/null
ninja -C "$build" >/dev/null
hr=$build/sim/hakreplay
ht=$build/traces/haktrace
out=out/meshing
mkdir -p "$out"

larson() { # GENERATIONS: the seed's Larson, generated once
  local t=out/larson-seed-$1.hkt
  [ -f "$t" ] || "$ht" gen larson --threads 4 --min 8 --max 128 --chunks 1024 --rounds 1 \
    --seed 12345 --generations "$1" -o "$t"
  echo "$t"
}
prodcons=$out/prodcons.hkt
[ -f "$prodcons" ] || "$ht" gen prodcons -o "$prodcons"

# VARIANT LABEL OPTIONS...: the variants every trace gets.
variants=(
  "phase1 phase1"
  "phase1 phase1-slab0last --opt slab0=last"
  "phase1 phase1-random --opt slot_order=random --opt slab0=last"
  "mesh mesh"
  "mesh mesh-bump --opt slot_order=bump"
  "adopt adopt"
  "mesh-adopt mesh-adopt"
)

# NAME TRACE: every variant of one trace, two at a time (with ${extra[@]}).
study() {
  local name=$1 trace=$2 dir=$out/$1 cmds=() v label
  rm -rf "$dir"
  for v in "${variants[@]}"; do
    set -- $v
    label=$2
    mkdir -p "$dir/$label"
    cmds+=("$hr $trace --allocator hakmem --variant $1 ${*:3} ${extra[*]} --quiet -o $dir/$label/run.json")
  done
  # exit 3 is a result (out of memory, run.json written)
  printf '%s\n' "${cmds[@]}" | xargs -P 2 -I{} sh -c '{} || [ $? -eq 3 ]'
  "$hr" compare "$dir"/*/run.json -o "$dir/compare" --no-variant-plots --quiet >/dev/null
  table "$dir"
}

# The table of one study, from its runs.
table() {
  python3 - "$1" <<'PY'
import glob, json, os, sys
d = sys.argv[1]
order = ['phase1', 'phase1-slab0last', 'phase1-random', 'mesh', 'mesh-bump', 'adopt', 'mesh-adopt']
print('\n### ' + os.path.basename(d) + '\n')
print('| variant | end | peak resident | resident, end | SuperSlabs, peak | SuperSlab mappings, peak | '
      'meshes | released by meshing | potential, peak | JW1 resident/live |')
print('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|')
mib = lambda b: '%.1f MiB' % (b / 2**20) if b is not None else '-'
for label in order:
    p = os.path.join(d, label, 'run.json')
    if not os.path.exists(p):
        continue
    r = json.load(open(p)); s = r['summary']; last = r['samples'][-1]
    oom = s.get('oom')
    end = 'OOM at event {:,}'.format(oom['t']) if isinstance(oom, dict) else 'done'
    jw = (s.get('resident_fragmentation') or {}).get('jw1')
    print('| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |' % (
        label, end, mib(s.get('peak_resident_bytes')), mib(last.get('resident_bytes')),
        '{:,}'.format(s['ss_peak']), '{:,}'.format(s['peak_ss_mappings']), '{:,}'.format(s['meshes']),
        mib(s['mesh_released_bytes']), mib(s['mesh_potential']['peak_bytes']),
        '%.2f' % jw if jw is not None else '-'))
PY
}

limit=(--opt ss_map_limit=65530 --thread-maps 2)
extra=("${limit[@]}")
study larson-2500 "$(larson 2500)"
study larson-6000 "$(larson 6000)"
# The short traces (0.1-0.3 M events) end before the default 100 ms trim
# period (838,000 events) comes round: no trim, no mesh pass. A 1 ms
# period (8,380 events) gives them 12-40 passes, every variant alike.
extra=(--opt idle_trim_ms=1)
study prodcons "$prodcons"
for t in python3-threads cc1-idmap; do study "$t" "traces/samples/real/$t.jsonl"; done

# The overlays docs/meshing.md shows (TRACE/PLOT).
if [ "${1:-}" = --update-docs ]; then
  for sp in larson-2500/resident larson-2500/mesh larson-6000/mappings python3-threads/resident; do
    cp "$out/${sp%/*}/compare/ovl_${sp#*/}.png" "docs/img/meshing-${sp%/*}-${sp#*/}.png"
  done
fi
echo "meshing-results: $out (one directory per trace: runs, compare/index.html)" >&2
