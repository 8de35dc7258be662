#!/usr/bin/env bash
# Replayer benchmark (not a test): events per second of hakreplay on a
# Larson trace of the seed's configuration, deterministic and free mode,
# with default sampling and with sampling off, against the allocator-only
# floor (replay-floor: the same operations in one thread, no replayer;
# its own timing of the allocator calls, the trace read beforehand).
#   sim/bench/bench.sh [RUNS] [GENERATIONS] [PRESET]     (default 5 1250 adopt)
# Builds build-release/ (buildtype=release). Prints medians (min-max) and
# peak RSS; the machine's load is printed too: these numbers are noisy.
# BASE=DIR (a release build of another tree, e.g. the commit before a
# change) adds its hakreplay's three cases, interleaved with these: before
# and after on the same machine at the same time.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5} gens=${2:-1250} preset=${3:-adopt}
build=${BUILD_DIR:-build-release}
[ -f "$build/build.ninja" ] || meson setup "$build" --buildtype=release >/dev/null
ninja -C "$build" >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trace=$tmp/larson.hkt
"$build/traces/haktrace" gen larson --threads 4 --min 8 --max 128 --chunks 1024 --rounds 1 \
  --seed 12345 --generations "$gens" -o "$trace"
events=$("$build/traces/haktrace" stats "$trace" | awk '/^events:/ {print $2}')
echo "trace: $events events (larson 4 threads, 8..128, 1024 chunks, $gens generations), preset $preset"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"

# measure CMD...: prints seconds and peak KB of one run (for replay-floor,
# its own timing of the operations, without reading the trace)
measure() {
  /usr/bin/time -f "%e %M" -o "$tmp/t" "$@" > "$tmp/out" 2> "$tmp/err" || {
    cat "$tmp/err" >&2; return 1; }
  if grep -q ' events .* s ' "$tmp/out"; then
    echo "$(awk '{print $3}' "$tmp/out") $(awk '{print $2}' "$tmp/t")"
  else
    cat "$tmp/t"
  fi
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A secs rss
names=(floor deterministic det-no-samples free)
[ -n "${BASE:-}" ] && names+=(base-det base-no-samples base-free)
for name in "${names[@]}"; do secs[$name]=""; rss[$name]=""; done
for r in $(seq "$runs"); do
  for name in "${names[@]}"; do  # interleaved, so load drifts hit every case alike
    case $name in
      floor) out=$(measure "$build/sim/replay-floor" "$trace" --variant "$preset") ;;
      deterministic) out=$(measure "$build/sim/hakreplay" "$trace" --variant "$preset" --quiet -o "$tmp/r.json") ;;
      det-no-samples) out=$(measure "$build/sim/hakreplay" "$trace" --variant "$preset" --quiet --no-samples -o "$tmp/r.json") ;;
      free) out=$(measure "$build/sim/hakreplay" "$trace" --variant "$preset" --quiet --mode free -o "$tmp/r.json") ;;
      base-det) out=$(measure "$BASE/sim/hakreplay" "$trace" --variant "$preset" --quiet -o "$tmp/r.json") ;;
      base-no-samples) out=$(measure "$BASE/sim/hakreplay" "$trace" --variant "$preset" --quiet --no-samples -o "$tmp/r.json") ;;
      base-free) out=$(measure "$BASE/sim/hakreplay" "$trace" --variant "$preset" --quiet --mode free -o "$tmp/r.json") ;;
    esac
    secs[$name]+="${out% *} "
    rss[$name]+="${out#* } "
  done
done
printf '%-16s %12s %14s %10s %16s %10s\n' case "median s" "M events/s" "vs floor" "min-max s" "peak MiB"
floor=$(tr ' ' '\n' <<<"${secs[floor]}" | grep . | median)
for name in "${names[@]}"; do
  s=$(tr ' ' '\n' <<<"${secs[$name]}" | grep . | median)
  lo=$(tr ' ' '\n' <<<"${secs[$name]}" | grep . | sort -n | head -1)
  hi=$(tr ' ' '\n' <<<"${secs[$name]}" | grep . | sort -n | tail -1)
  m=$(tr ' ' '\n' <<<"${rss[$name]}" | grep . | median)
  awk -v n="$name" -v s="$s" -v e="$events" -v r="$lo-$hi" -v m="$m" -v f="$floor" \
    'BEGIN { printf "%-16s %12s %14.2f %10.3f %16s %10.1f\n", n, s, e / s / 1e6, f / s, r, m / 1024 }'
done
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
d=$(tr ' ' '\n' <<<"${secs[deterministic]}" | grep . | median)
n=$(tr ' ' '\n' <<<"${secs[det-no-samples]}" | grep . | median)
awk -v d="$d" -v n="$n" 'BEGIN { printf "sampling cost (deterministic, default sampling vs --no-samples): %.1f%%\n", (d / n - 1) * 100 }'
if [ -n "${BASE:-}" ]; then
  d=$(tr ' ' '\n' <<<"${secs[base-det]}" | grep . | median)
  n=$(tr ' ' '\n' <<<"${secs[base-no-samples]}" | grep . | median)
  awk -v d="$d" -v n="$n" 'BEGIN { printf "sampling cost of BASE: %.1f%%\n", (d / n - 1) * 100 }'
fi
