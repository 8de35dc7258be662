#!/bin/sh
# overhead.sh BUILDDIR [RUNS] [-- PROGRAM ARGS...] — the cost of recording:
# medians over RUNS (default 5) of the wall and CPU (user+sys) time of
# PROGRAM alone, of PROGRAM under the recorder (LD_PRELOAD: what the program
# itself pays), and of the whole `haktrace record` (recording, then the
# conversion to .hkt).  Default PROGRAM: the Larson-like rec-larson, 4 slots
# x 500 generations.  Needs /usr/bin/time (Debian package time).
set -eu
bd=$1; runs=${2:-5}
shift; [ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || set -- "$bd/traces/record/rec-larson" 4 8 128 1024 1 12345 500
hk="$bd/traces/haktrace"
export HAKTRACE_RECORDER="$bd/traces/record/libhakrecord.so"
tmp=$(mktemp -d /tmp/ht-over-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
rawdir=${HAKTRACE_RAW_DIR:-/dev/shm}; [ -w "$rawdir" ] || rawdir=$tmp
T="/usr/bin/time -a -f %e_%U_%S"
for i in $(seq "$runs"); do
    $T -o "$tmp/plain" "$@" >/dev/null 2>&1
    raw="$rawdir/hakrecord-overhead.$$.$i.raw"; : > "$raw"
    $T -o "$tmp/under" sh -c 'export HAKRECORD_FILE="$1" HAKRECORD_PID=$$ LD_PRELOAD="$2"; shift 2
        exec "$@"' sh "$raw" "$HAKTRACE_RECORDER" "$@" >/dev/null 2>&1
    rm -f "$raw"
    $T -o "$tmp/total" "$hk" record -o "$tmp/t.hkt" -- "$@" >/dev/null 2>"$tmp/err"
done
# median wall, median cpu
med() { tr _ ' ' < "$1" | awk '{ print $1, $2 + $3 }' | sort -g -k"$2" |
        awk -v k="$2" '{ v[NR] = $k } END { print v[int((NR + 1) / 2)] }'; }
events=$(grep -o 'wrote [^:]*: [0-9]* events' "$tmp/err" | awk '{ print $3 }')
echo "program: $*"
echo "events recorded: $events; runs: $runs (medians; wall and user+sys CPU seconds)"
awk -v pw="$(med "$tmp/plain" 1)" -v pc="$(med "$tmp/plain" 2)" \
    -v uw="$(med "$tmp/under" 1)" -v uc="$(med "$tmp/under" 2)" \
    -v tw="$(med "$tmp/total" 1)" -v tc="$(med "$tmp/total" 2)" 'BEGIN {
    printf "plain                  wall %7.3f  cpu %7.3f\n", pw, pc
    printf "under recorder         wall %7.3f (%.2fx)  cpu %7.3f (%.2fx)\n", uw, uw / pw, uc, uc / pc
    printf "haktrace record total  wall %7.3f (%.2fx)  cpu %7.3f (%.2fx)\n", tw, tw / pw, tc, tc / pc }'
