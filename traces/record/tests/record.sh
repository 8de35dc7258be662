#!/bin/sh
# record.sh CASE HAKTRACE LIBHAKRECORD BUILDDIR SANITIZE — tests of `haktrace record`
# and libhakrecord.so, one case per meson test (traces.record_CASE): record
# a program of rec_prog.c, validate the trace, and count the program's own
# events (found by their marker sizes) in it.
set -u
case_name=$1 hk=$2 lib=$3 bd=$4 sanitize=${5:-none}
if [ "$sanitize" != none ]; then
    # A sanitized recorder cannot be preloaded into the programs it records
    # (the sanitizer runtime must come first): as for libhakmem.so.
    echo "skipped: LD_PRELOAD recording is not tested in sanitizer builds"
    exit 77
fi
tmp=$(mktemp -d /tmp/ht-rec-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export HAKTRACE_RECORDER="$lib" HAKTRACE_RAW_DIR="$tmp"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# rec WANT_EXIT ARGS...: record rec-prog ARGS into $tmp/t.jsonl and validate it
rec() {
    want=$1; shift
    "$hk" record -o "$tmp/t.jsonl" -- "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "record $* exited $got, expected $want: $(cat "$tmp/err")"
    "$hk" validate "$tmp/t.jsonl" >/dev/null 2>"$tmp/verr" || fail "invalid trace: $(cat "$tmp/verr")"
    [ -z "$(ls "$tmp"/*.raw 2>/dev/null)" ] || fail "raw log left behind"
}
# events OP SIZE: events of op OP whose last field is SIZE
events() { grep -c "^\[\"$1\",[0-9,]*,$2\]\$" "$tmp/t.jsonl"; }
ops() { grep -c "^\[\"$1\"," "$tmp/t.jsonl"; }
eq() { [ "$2" = "$3" ] || fail "$1: got $2, expected $3"; }
meta() { head -1 "$tmp/t.jsonl" | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2; }
# frees of blocks of SIZE made by a thread other than the allocating one, and by the same
cross() {
    awk -F, -v size="$1" '
        { gsub(/[\[\]"]/, ""); }
        $1 == "alloc" && $4 == size { owner[$3] = $2; next }
        $1 == "free" && ($3 in owner) { if (owner[$3] != $2) r++; else l++; delete owner[$3]; next }
        ($1 == "alloc" || $1 == "calloc" || $1 == "memalign") { delete owner[$3] }
        END { printf "%d %d\n", r, l }' "$tmp/t.jsonl"
}

case $case_name in
threads)
    # 5 waves of 4 workers: thread churn, cross-thread frees both ways.
    rec 0 "$bd/rec-prog" threads 5 4
    eq thread_start "$(ops thread_start)" 20
    eq thread_exit "$(ops thread_exit)" 20
    eq "alloc 777" "$(events alloc 777)" $((20 * 20))
    eq "alloc 555" "$(events alloc 555)" $((20 * 10))
    eq "alloc 333" "$(events alloc 333)" $((20 * 100))
    eq "777 freed remote/local" "$(cross 777)" "400 0"
    eq "555 freed remote/local" "$(cross 555)" "200 0"
    eq "333 freed remote/local" "$(cross 333)" "0 2000"
    eq unknown_frees "$(meta unknown_frees)" 0
    eq events_after_exit "$(meta events_after_exit)" 0
    grep -q "exited with status 0" "$tmp/err" || fail "no status line: $(cat "$tmp/err")"
    ;;
reuse)
    rec 0 "$bd/rec-prog" reuse
    grep -q "reused 1" "$tmp/out" || fail "glibc did not reuse the address"
    eq "alloc 100" "$(events alloc 100)" 3
    # the second malloc of the same address is a new block: three ids freed once each
    eq "100 freed" "$(cross 100)" "0 3"
    ;;
variety)
    rec 0 "$bd/rec-prog" variety
    eq calloc "$(grep -c '^\["calloc",0,[0-9]*,13,7\]$' "$tmp/t.jsonl")" 1
    eq "realloc 5000" "$(events realloc 5000)" 1
    eq "realloc 4000" "$(events realloc 4000)" 1
    eq "alloc 333 (realloc NULL)" "$(events alloc 333)" 1
    eq posix_memalign "$(grep -c '^\["memalign",0,[0-9]*,64,1000\]$' "$tmp/t.jsonl")" 1
    eq aligned_alloc "$(grep -c '^\["memalign",0,[0-9]*,2048,6144\]$' "$tmp/t.jsonl")" 1
    eq memalign "$(grep -c '^\["memalign",0,[0-9]*,256,300\]$' "$tmp/t.jsonl")" 1
    eq valloc "$(grep -c '^\["memalign",0,[0-9]*,4096,1234\]$' "$tmp/t.jsonl")" 1
    eq pvalloc "$(grep -c '^\["memalign",0,[0-9]*,4096,8192\]$' "$tmp/t.jsonl")" 1
    # realloc(p, 0) frees: the next event naming the 40-byte block is its free
    eq "realloc(p,0)" "$(awk -F, '{ gsub(/[\[\]"]/, "") }
        $1 == "alloc" && $4 == 40 && !seen { seen = 1; id = $3; next }
        seen && $3 == id { print $1; exit }' "$tmp/t.jsonl")" free
    eq unknown_frees "$(meta unknown_frees)" 0
    ;;
exit)
    rec 0 "$bd/rec-prog" exit
    grep -q "exited with status 3" "$tmp/err" || fail "status: $(cat "$tmp/err")"
    eq "alloc 999" "$(events alloc 999)" 50
    [ "$(events alloc 4242)" -gt 0 ] || fail "the spinning thread's prefix is missing"
    grep -q '"exit_code":3' "$tmp/t.jsonl" || fail "meta lacks the exit code"
    ;;
signal)
    rec 0 "$bd/rec-prog" signal
    grep -q "killed by signal 9" "$tmp/err" || fail "status: $(cat "$tmp/err")"
    eq "alloc 999" "$(events alloc 999)" 50
    [ "$(events alloc 4242)" -gt 0 ] || fail "the spinning thread's prefix is missing"
    grep -q '"signal":9' "$tmp/t.jsonl" || fail "meta lacks the signal"
    ;;
fork)
    rec 0 "$bd/rec-prog" fork
    eq "alloc 1111 (parent, before)" "$(events alloc 1111)" 3
    eq "alloc 3333 (parent, after)" "$(events alloc 3333)" 3
    eq "alloc 2222 (fork child)" "$(events alloc 2222)" 0
    eq "alloc 4444 (exec'd child)" "$(events alloc 4444)" 0
    eq forks "$(meta forks)" 2
    eq excluded_processes "$(meta excluded_processes)" 1
    ;;
unknown)
    rec 0 "$bd/rec-prog" unknown
    eq unknown_frees "$(meta unknown_frees)" 5
    grep -q "unknown_frees=5" "$tmp/err" || fail "not reported: $(cat "$tmp/err")"
    ;;
larson)
    # Larson-like churn: 2 slots x 5 generations, 256 chunks; every block
    # the warm-up made is freed by a worker.
    rec 0 "$bd/rec-larson" 2 8 128 256 1 12345 5
    eq thread_start "$(ops thread_start)" 10
    eq thread_exit "$(ops thread_exit)" 10
    # warm-up 512 + 4 x 512 replacements, then 10 threads x 256 pairs, all sizes in [8,128)
    n=$(awk -F, '/^\["alloc"/ { s = $4 + 0; if (s >= 8 && s < 128) n++ } END { print n }' "$tmp/t.jsonl")
    [ "$n" -ge $((512 + 2048 + 2560)) ] || fail "too few allocs: $n"
    "$hk" stats "$tmp/t.jsonl" > "$tmp/stats" || fail "stats"
    grep -q "by another thread" "$tmp/stats" || fail "stats output"
    ;;
larson_dtv)
    # glibc's allocation for each new thread, in a Larson-like program that
    # never joins (as mimalloc-bench's larson): pthread_create callocs the
    # new thread's DTV, 16 + (modules with thread-local storage) entries of
    # 16 bytes, in the parent right after the start, and it is never freed.
    # The generator's --thread-tls-bytes is this (docs/trace-format.md).
    rec 0 "$bd/rec-larson" --never-join 2 8 128 256 1 12345 5
    k=$(sed -n 's/^tls_modules=//p' "$tmp/out")
    [ -n "$k" ] || fail "no tls_modules line: $(cat "$tmp/out")"
    n=$((16 + k))
    eq thread_start "$(ops thread_start)" 10
    eq "calloc($n, 16)" "$(grep -c "^\[\"calloc\",[0-9]*,[0-9]*,$n,16\]\$" "$tmp/t.jsonl")" 10
    # each by the parent, its next call after the start; none freed
    eq "DTV after each start" "$(awk -F, -v n=$n '
        { gsub(/[\[\]"]/, "") }
        $1 == "thread_start" { want[$3] = 1; next }
        ($2 in want) { if ($1 == "calloc" && $4 == n && $5 == 16) { ok++; dtv[$3] = 1 } delete want[$2] }
        $1 == "free" && ($3 in dtv) { freed++ }
        END { printf "%d %d\n", ok, freed }' "$tmp/t.jsonl")" "10 0"
    # Joined threads give their stack, DTV included, to the next thread:
    # the calloc happens only when a new stack is mapped.
    rec 0 "$bd/rec-larson" 2 8 128 256 1 12345 5
    eq thread_start "$(ops thread_start)" 10
    d=$(grep -c "^\[\"calloc\",[0-9]*,[0-9]*,$n,16\]\$" "$tmp/t.jsonl")
    [ "$d" -ge 2 ] && [ "$d" -lt 10 ] || fail "joined threads: $d DTV callocs, expected 2..9 (stacks reused)"
    ;;
cli)
    "$hk" record --help > "$tmp/out" 2>&1 || fail "--help"
    grep -q "usage: haktrace record" "$tmp/out" || fail "help text"
    "$hk" record > /dev/null 2>&1; eq "no program" $? 2
    "$hk" record --bogus -- true > /dev/null 2>&1; eq "bad option" $? 2
    "$hk" record -o "$tmp/x.txt" -- true > /dev/null 2>&1; eq "bad extension" $? 2
    "$hk" record --format hkt -o "$tmp/x.jsonl" -- true > /dev/null 2>&1; eq "format mismatch" $? 2
    "$hk" record -o "$tmp/x.jsonl" -- "$tmp/no-such-program" > /dev/null 2>"$tmp/err"
    eq "missing program" $? 2; grep -q "cannot run" "$tmp/err" || fail "message: $(cat "$tmp/err")"
    [ ! -e "$tmp/x.jsonl" ] || fail "output left for a program that did not run"
    "$hk" record --format hkt -o "$tmp/x.hkt" -- "$bd/rec-prog" reuse > /dev/null 2>&1 || fail "hkt"
    "$hk" validate "$tmp/x.hkt" > /dev/null || fail "hkt invalid"
    HAKTRACE_RECORDER="$tmp/none.so" "$hk" record -o "$tmp/y.jsonl" -- true > /dev/null 2>&1
    eq "no recorder" $? 2
    ;;
*)
    echo "unknown case $case_name" >&2; exit 2 ;;
esac
[ "$fails" -eq 0 ] || exit 1
