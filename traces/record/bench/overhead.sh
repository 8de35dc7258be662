#!/bin/sh
# overhead.sh BUILDDIR [RUNS] [-- PROGRAM ARGS...] — the cost of recording:
# medians over RUNS (default 5) of the wall time of PROGRAM alone, of
# PROGRAM under the recorder (LD_PRELOAD, what the program itself pays),
# and of the whole `haktrace record` (recording plus conversion to .hkt).
# Default PROGRAM: the Larson-like rec-larson, 4 slots x 500 generations.
set -eu
bd=$1; runs=${2:-5}
shift; [ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || set -- "$bd/traces/record/rec-larson" 4 8 128 1024 1 12345 500
hk="$bd/traces/haktrace"
export HAKTRACE_RECORDER="$bd/traces/record/libhakrecord.so"
tmp=$(mktemp -d /tmp/ht-over-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for i in $(seq "$runs"); do
    t0=$(now); "$@" >/dev/null 2>&1; t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }' >> "$tmp/plain"
    raw="$tmp/raw.$i"; : > "$raw"
    t0=$(now)
    sh -c 'export HAKRECORD_FILE="$1" HAKRECORD_PID=$$ LD_PRELOAD="$2"; shift 2; exec "$@"' \
        sh "$raw" "$HAKTRACE_RECORDER" "$@" >/dev/null 2>&1
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }' >> "$tmp/under"
    rm -f "$raw"
    t0=$(now); "$hk" record -o "$tmp/t.hkt" -- "$@" >/dev/null 2>"$tmp/err"; t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }' >> "$tmp/total"
done
p=$(median < "$tmp/plain"); u=$(median < "$tmp/under"); t=$(median < "$tmp/total")
events=$(grep -o 'wrote [^:]*: [0-9]* events' "$tmp/err" | awk '{ print $3 }')
echo "program: $*"
echo "events recorded: $events; runs: $runs (medians)"
awk -v p="$p" -v u="$u" -v t="$t" 'BEGIN {
    printf "plain %.3f s\nunder recorder %.3f s (%.2fx)\nhaktrace record total %.3f s (%.2fx)\n",
        p, u, u / p, t, t / p }'
