#!/usr/bin/env bash
# Regenerates every number, table and plot of docs/larson-oom.md from
# scratch: the seed's Larson run replayed under every preset, and the runs
# the page's text cites beside them.
#
#   bash scripts/larson-oom.sh [GENERATIONS] [--update-docs]
#
# GENERATIONS (default 2500, the page's) threads per slot; fewer for a
# quick check of the script itself (the 6,000-generation runs stay as they
# are).  Writes to out/larson-oom-GENERATIONS/:
#   larson-seed.hkt            haktrace gen larson, the seed's command
#                              (larson 10 8 128 1024 1 12345 4), op for op,
#                              glibc's DTV calloc per new thread included
#   compare/                   hakreplay compare under every preset with the
#                              kernel's map limit (65,530) and two mappings
#                              per never-joined thread: run.json, plots and
#                              the comparison of each (compare/index.html)
#   seed-buggy-no-stacks.json  seed-buggy without the thread stacks'
#                              mappings (--thread-maps 0)
#   seed-buggy-no-dtv.json     seed-buggy on the trace without glibc's DTV
#                              (--thread-tls-bytes 0): five classes, not six
#   phase1-clock-4190.json     phase1 at the old clock, 4,190 events per
#                              logical ms (the page's note on the clock)
#   phase1-long.json           phase1 on a trace of 6,000 generations per
#                              slot (larson-long.hkt, 1.5 GB), long enough
#                              for it to meet the map limit too: each dead
#                              thread keeps the SuperSlab holding the DTV of
#                              its successor
#   reuse-long.json, adopt-long.json   reuse and adopt on the same trace
#   larson-seed-live.png, larson-seed-mapped.png   the page's two plots
#   larson-oom-numbers.md      the page's two tables and every other number
#                              it cites, with the run.json field of each
# --update-docs also rewrites the tables of docs/larson-oom.md (between its
# "larson-oom.sh" markers) and copies the plots to docs/img/; the text is
# then checked by hand against larson-oom-numbers.md.
# Every replay is deterministic: the same code gives the same numbers.
# About 2 minutes on 2 shared cores at 2,500 generations (release build,
# nice -n 19, load ~3); the 6,000-generation runs are about half of it,
# whatever GENERATIONS is.
set -euo pipefail
cd "$(dirname "$0")/.."

generations=2500
update=0
for a in "$@"; do
  case $a in
    --update-docs) update=1 ;;
    [0-9]*) generations=$a ;;
    *) echo "usage: scripts/larson-oom.sh [GENERATIONS] [--update-docs]" >&2; exit 2 ;;
  esac
done
build=${BUILD_DIR:-build-release}
[ -f "$build/build.ninja" ] || meson setup "$build" --buildtype=release -Dtests=disabled >/dev/null
ninja -C "$build" >/dev/null
hk=$build/traces/haktrace
hr=$build/sim/hakreplay
out=out/larson-oom-$generations
mkdir -p "$out"
limits=(--opt ss_map_limit=65530 --thread-maps 2)
say() { printf 'larson-oom: %s\n' "$*" >&2; }

seed=(--threads 4 --min 8 --max 128 --chunks 1024 --rounds 1 --seed 12345 --generations "$generations")
say "generating the seed's trace ($generations generations per slot)"
"$hk" gen larson "${seed[@]}" -o "$out/larson-seed.hkt"
"$hk" gen larson "${seed[@]}" --thread-tls-bytes 0 -o "$out/larson-seed-no-dtv.hkt"

say "replaying it under every preset (hakreplay compare)"
# A variant that runs out of memory is a result (exit 0 from compare).
"$hr" compare "$out/larson-seed.hkt" --variants seed-buggy,fix-a,fix-b,lg20,phase1,reuse,adopt \
  "${limits[@]}" --quiet -o "$out/compare" >"$out/compare.md"

say "the runs the text cites"
run() { # run OUTPUT TRACE ARGS...: a replay; exit 3 (out of memory) is a result
  local o=$1 t=$2
  shift 2
  "$hr" "$t" --quiet -o "$out/$o" "$@" 2>"$out/$o.err" || [ $? -eq 3 ] ||
    { cat "$out/$o.err" >&2; exit 1; }
}
run seed-buggy-no-stacks.json "$out/larson-seed.hkt" --variant seed-buggy --opt ss_map_limit=65530 --thread-maps 0
run seed-buggy-no-dtv.json "$out/larson-seed-no-dtv.hkt" --variant seed-buggy "${limits[@]}"
run phase1-clock-4190.json "$out/larson-seed.hkt" --variant phase1 "${limits[@]}" --ops-per-ms 4190
long=(--threads 4 --min 8 --max 128 --chunks 1024 --rounds 1 --seed 12345 --generations 6000)
[ -f "$out/larson-long.hkt" ] || "$hk" gen larson "${long[@]}" -o "$out/larson-long.hkt"
run phase1-long.json "$out/larson-long.hkt" --variant phase1 "${limits[@]}"
run reuse-long.json "$out/larson-long.hkt" --variant reuse "${limits[@]}"
run adopt-long.json "$out/larson-long.hkt" --variant adopt "${limits[@]}"

say "the page's plots"
# compare's overlays, redrawn at the page's size from compare's own data.
files="" names=""
for v in seed-buggy fix-a fix-b lg20 phase1 reuse adopt; do
  files="$files ovl_$v.dat"
  oom=$(python3 -c 'import json,sys; print("(OOM)" if json.load(open(sys.argv[1]))["summary"]["oom"] else "")' \
    "$out/compare/$v/run.json")
  names="$names $v$oom"
done
events=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["trace"]["events"])' \
  "$out/compare/seed-buggy/run.json")
for p in live mapped; do
  (cd "$out/compare" && gnuplot -e "files='${files# }'; names='${names# }'; width=800; height=480; \
    term='pngcairo'; tmax=$events.0; title='larson-seed.hkt: larson 10 8 128 1024 1 12345 4, $generations generations'; \
    outfile='../larson-seed-$p.png'" "ovl_$p.gp")
done

doc=()
[ $update -eq 1 ] && doc=(docs/larson-oom.md)
python3 scripts/larson-oom.py "$out" "${doc[@]}"
if [ $update -eq 1 ]; then
  cp "$out/larson-seed-live.png" "$out/larson-seed-mapped.png" docs/img/
  say "docs/img/larson-seed-live.png, larson-seed-mapped.png updated"
fi
say "done: $out (compare/index.html, larson-oom-numbers.md)"
