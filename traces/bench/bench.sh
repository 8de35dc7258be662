#!/bin/sh
# bench.sh [HAKTRACE] — trace throughput and memory benchmarks; prints the
# median of REPS runs (default 5) for each:
#   gen-larson-hkt  haktrace gen larson (the seed's run, 16.4 M events) -o X.hkt
#   read-hkt        haktrace validate X.hkt            (read + full validation)
#   read-hkt-mmap   haktrace validate --mmap X.hkt     (the same through mmap)
#   read-jsonl      haktrace validate X.jsonl
#   mem-*           peak RSS of validate / convert on 1 M and 10 M event .jsonl
#   gen-100M        one run: a 100 M event Larson .hkt (3.2 GB), time and peak RSS
# Needs ~4 GB free in $BENCH_DIR (default: a temporary directory).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
hk=${1:-$root/build-traces/traces/haktrace}
reps=${REPS:-5}
[ -x "$hk" ] || { echo "no haktrace at $hk (build first, or pass its path)" >&2; exit 2; }
dir=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/ht-bench-XXXXXX")
trap 'rm -rf "$dir"' EXIT

# median of the numbers on stdin
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# timed CMD...: wall seconds and peak RSS (KiB) of one run, "secs kib"
timed() { /usr/bin/time -f "%e %M" -o "$dir/time" "$@" >/dev/null 2>"$dir/err" || {
    cat "$dir/err" >&2; exit 1; }; cat "$dir/time"; }
# rate NAME EVENTS CMD...: median events/s over $reps runs
rate() {
    name=$1 events=$2; shift 2
    i=0; : > "$dir/t"
    while [ $i -lt "$reps" ]; do timed "$@" | cut -d' ' -f1 >> "$dir/t"; i=$((i + 1)); done
    s=$(median < "$dir/t")
    awk -v n="$name" -v e="$events" -v s="$s" -v r="$reps" \
        'BEGIN {printf "%-16s %6.1f M events/s  (median %.3f s of %d runs, %d events)\n", n, e/s/1e6, s, r, e}'
}
mem() {
    name=$1; shift
    i=0; : > "$dir/m"
    while [ $i -lt "$reps" ]; do timed "$@" | cut -d' ' -f2 >> "$dir/m"; i=$((i + 1)); done
    printf "%-28s %6d KiB peak RSS (median of %d)\n" "$name" "$(median < "$dir/m")" "$reps"
}

echo "haktrace benchmarks: $(uname -m), $(nproc) CPUs, $(date -u +%Y-%m-%d)"
seed_events=16436864
rate gen-larson-hkt $seed_events "$hk" gen larson -o "$dir/seed.hkt"
sync  # reads are timed without gigabytes of writeback competing for the CPUs
rate read-hkt $seed_events "$hk" validate "$dir/seed.hkt"
rate read-hkt-mmap $seed_events "$hk" validate --mmap "$dir/seed.hkt"
"$hk" convert "$dir/seed.hkt" "$dir/seed.jsonl"
rm -f "$dir/seed.hkt"
sync
rate read-jsonl $seed_events "$hk" validate "$dir/seed.jsonl"
rm -f "$dir/seed.jsonl"

# Memory against length: the same workload at 1 M and 10 M events.
"$hk" gen larson --generations 117 -o "$dir/m1.jsonl"    #   996,264 events
"$hk" gen larson --generations 1215 -o "$dir/m10.jsonl"  # 9,999,864 events
sync
for n in 1 10; do
    mem "mem-validate-jsonl-${n}M" "$hk" validate "$dir/m$n.jsonl"
    mem "mem-convert-jsonl-hkt-${n}M" "$hk" convert "$dir/m$n.jsonl" "$dir/o.hkt"
    mem "mem-convert-hkt-jsonl-${n}M" "$hk" convert "$dir/o.hkt" "$dir/o.jsonl"
done
rm -f "$dir"/*

# Bounded memory at 100 M events: one run, the file is 3.2 GB.
t=$(timed "$hk" gen larson --generations 12195 -o "$dir/g100.hkt")  # 100,035,864 events
awk -v t="$t" 'BEGIN {split(t, a, " "); printf "%-16s %6.1f M events/s, %d KiB peak RSS (one run, %.2f s, 100035864 events)\n", "gen-100M-hkt", 100035864/a[1]/1e6, a[2], a[1]}'
sync
t=$(timed "$hk" validate "$dir/g100.hkt")
awk -v t="$t" 'BEGIN {split(t, a, " "); printf "%-16s %6.1f M events/s, %d KiB peak RSS (one run, %.2f s)\n", "read-100M-hkt", 100035864/a[1]/1e6, a[2], a[1]}'
