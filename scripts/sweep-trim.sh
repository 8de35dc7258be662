#!/usr/bin/env bash
# The worked example of docs/sweeps.md: phase1's idle trim period swept on
# the seed's Larson trace (1,000 generations: 8.3 M events, about 1 s of the
# seed's program), with hakreplay sweep, merged by compare, summed up as a
# table (stdout) and a plot (docs/img/sweep-trim.png with --update-docs).
#
#   bash scripts/sweep-trim.sh [--update-docs]      # about 20 s on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
build=${BUILD_DIR:-build-release}
[ -f "$build/build.ninja" ] || meson setup "$build" --buildtype=release >/dev/null
ninja -C "$build" >/dev/null
hr=$build/sim/hakreplay
out=out/sweep-trim
mkdir -p out
trace=out/larson-seed-1000.hkt
[ -f "$trace" ] || "$build/traces/haktrace" gen larson --threads 4 --min 8 --max 128 --chunks 1024 \
  --rounds 1 --seed 12345 --generations 1000 -o "$trace"
rm -rf "$out"
"$hr" sweep "$trace" --variants phase1 --opt-grid idle_trim_ms=10,25,50,100,200,500,1000 \
  -o "$out" --emit run
"$hr" compare "$out"/*/run.json -o "$out/compare" --no-variant-plots --quiet >/dev/null
python3 - "$out" >"$out/table.dat" <<'PY'
import glob, json, sys
rows = []
for p in glob.glob(sys.argv[1] + '/*/run.json'):
    r = json.load(open(p)); s = r['summary']
    rows.append((r['config']['idle_trim_ms'], s['trims'], s['ss_peak'], s['ss_live_end'],
                 s['peak_ss_mapped_bytes'] / 2**20, s['peak_resident_bytes'] / 2**20,
                 s['resident_fragmentation']['jw1'], s['resident_utilization_end']))
print('# idle_trim_ms trims ss_peak ss_live_end peak_H_MiB peak_resident_MiB jw1_resident utilization_end')
for x in sorted(rows): print('%d %d %d %d %.1f %.1f %.2f %.4f' % x)
PY
echo "| idle_trim_ms | trim passes | SuperSlabs, peak | SuperSlabs, end | peak H | peak resident | JW1 resident/live | live/resident, end |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
grep -v '^#' "$out/table.dat" | awk '{printf "| %s | %s | %s | %s | %s MiB | %s MiB | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8}'
img=$out/sweep-trim.png
gnuplot -e "
set terminal pngcairo size 960,540; set termoption noenhanced; set output '$img';
set title \"phase1: the idle trim period swept (seed's Larson trace, 1,000 generations, 8.3 M events)\";
set logscale x; set xlabel 'idle_trim_ms (logical ms at 8,380 events/ms)';
set ylabel 'MiB'; set y2label 'SuperSlabs'; set ytics nomirror; set y2tics; set grid;
set key top left;
plot '$out/table.dat' using 1:6 with linespoints lw 2 title 'peak resident (measured, MiB)',
     '' using 1:3 axes x1y2 with linespoints lw 2 dt 2 title 'SuperSlabs live, peak (right)'"
if [ "${1:-}" = --update-docs ]; then cp "$img" docs/img/sweep-trim.png; fi
echo "sweep-trim: $out (table.dat, compare/, $img)" >&2
