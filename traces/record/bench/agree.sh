#!/bin/sh
# agree.sh BUILDDIR [GENERATIONS] [OPS_PER_MS] — section 3 of issue 6: record
# the Larson-like rec-larson, replay the recording under phase1 and
# seed-buggy, run the same program natively under libhakmem.so with the
# same presets (3 runs each), and print the SuperSlab counts side by side.
# OPS_PER_MS (default 8380, the replayer's) sets the replay's logical clock;
# pass the native run's rate to compare trim-dependent numbers.
set -eu
bd=$1; gens=${2:-200}; opm=${3:-8380}
tmp=$(mktemp -d /tmp/ht-agree-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prog="$bd/traces/record/rec-larson 4 8 128 1024 1 12345 $gens"
HAKTRACE_RECORDER="$bd/traces/record/libhakrecord.so" \
    "$bd/traces/haktrace" record -o "$tmp/larson.hkt" -- $prog 2>&1 | grep wrote
field() { grep -o "\"$2\": *[0-9.e+-]*" "$1" | head -1 | sed 's/.*: *//'; }
echo "preset      source   ss_allocated ss_freed ss_peak trims"
for v in phase1 seed-buggy; do
    "$bd/sim/hakreplay" "$tmp/larson.hkt" --variant "$v" --ops-per-ms "$opm" --quiet -o "$tmp/r.json"
    printf '%-11s replay   %12s %8s %7s %5s\n' "$v" "$(field "$tmp/r.json" ss_allocated)" \
        "$(field "$tmp/r.json" ss_freed)" "$(field "$tmp/r.json" ss_peak)" "$(field "$tmp/r.json" trims)"
    for i in 1 2 3; do
        LD_PRELOAD="$bd/allocator/preload/libhakmem.so" HAKMEM_PRESET=$v \
            HAKMEM_STATS_JSON="$tmp/n.json" $prog > "$tmp/out"
        printf '%-11s native%d  %12s %8s %7s %5s  (%s)\n' "$v" "$i" "$(field "$tmp/n.json" ss_allocated)" \
            "$(field "$tmp/n.json" ss_freed)" "$(field "$tmp/n.json" ss_peak)" \
            "$(field "$tmp/n.json" trims)" "$(cat "$tmp/out")"
    done
done
