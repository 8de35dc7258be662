#!/bin/sh
# cli.sh CASE HAKREPLAY HAKTRACE SRCDIR: hakreplay's command line, one case
# per meson test (sim.cli_CASE).
#   usage    unknown options are named as such, whatever follows them
#   threads  a trace thread the OS cannot create is named, with the reason
#   outputs  the output files of hakreplay and its analysis commands on
#            every kind of target (common/include/hc_out.h):
# a device or a FIFO is written straight through and never replaced, a
# symbolic link is followed and kept, a write error is exit 2 with one line
# naming the target and leaves the old file, a signal leaves no temporary
# file.  Device nodes are private (mknod in the test's folder; those cases
# are skipped where mknod is not allowed).
set -u
case_name=$1 hr=$2 hk=$3 src=$4
. "$src/common/tests/shlib.sh" hr-out
no_temporaries() { ! ls -A "$1" | grep -q '\.tmp\.' || fail "temporary file left in $1: $(ls -A "$1")"; }
trace=$src/traces/samples/every-op.json

case $case_name in
usage)
    for c in "" plot check compare; do
        expect 2 "$hr" $c "$trace" --frobnicate
        has "$tmp/err" "unknown option"
        expect 2 "$hr" $c "$trace" --frobnicate 1
        has "$tmp/err" "unknown option"
    done
    expect 2 "$hr" "$trace" -o
    has "$tmp/err" "missing value for: -o"
    ;;
threads)
    # 1 GiB stacks under a 6 GB address-space limit: the sixth concurrent
    # thread cannot be created.  (Sanitizer runtimes cannot start under
    # such a limit: skipped there.)
    lim() { ulimit -s 1048576 && ulimit -v 6000000 && "$@"; }
    (lim "$hr" --help) >/dev/null 2>&1 || { echo "skipped: cannot run under ulimit -v"; exit 77; }
    "$hk" gen churn --waves 2 --width 12 --allocs 8 --survivors 1 -o "$tmp/churn.jsonl" || fail "gen"
    (lim "$hr" "$tmp/churn.jsonl" --quiet -o "$tmp/churn.json") >"$tmp/out" 2>"$tmp/err"
    [ $? -eq 4 ] || fail "not exit 4: $(cat "$tmp/err")"
    has "$tmp/err" "cannot create an OS thread for trace thread [0-9]* ([0-9]* trace threads alive): pthread_create: Resource temporarily unavailable"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "more than one line: $(cat "$tmp/err")"
    [ ! -e "$tmp/churn.json" ] || fail "run.json written for an internal error"
    ;;
outputs)
    # run.json onto a full device: exit 2, one line naming it, the node intact.
    if mknod "$tmp/full" c 1 7 2>/dev/null; then
        expect 2 "$hr" "$trace" --quiet -o "$tmp/full"
        has "$tmp/err" "hakreplay: $tmp/full: cannot write: No space left on device"
        [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "more than one line: $(cat "$tmp/err")"
        [ -c "$tmp/full" ] || fail "the device node was replaced"
        expect 2 "$hr" "$trace" --quiet -o "$tmp/r.json" --ss-detail "$tmp/full"
        [ -c "$tmp/full" ] || fail "the device node was replaced by --ss-detail"
        expect 0 "$hr" "$trace" --quiet -o "$tmp/r.json"
        expect 2 "$hr" check --record "$tmp/r.json" -o "$tmp/full"
        has "$tmp/err" "$tmp/full: cannot write: No space left on device"
        [ -c "$tmp/full" ] || fail "the device node was replaced by check --record"
    fi
    if mknod "$tmp/null" c 1 3 2>/dev/null; then
        expect 0 "$hr" "$trace" --quiet -o "$tmp/null"
        [ -c "$tmp/null" ] || fail "/dev/null's copy was replaced"
    fi

    # A symbolic link is followed; the link stays.
    echo old >"$tmp/target.json"
    ln -s target.json "$tmp/link.json"
    expect 0 "$hr" "$trace" --quiet -o "$tmp/link.json"
    [ -L "$tmp/link.json" ] || fail "the link was replaced"
    has "$tmp/target.json" '"hakreplay-run"'

    # A FIFO with a reader gets the document.
    mkfifo "$tmp/fifo.json"
    cat "$tmp/fifo.json" >"$tmp/fifo.out" &
    expect 0 "$hr" "$trace" --quiet -o "$tmp/fifo.json"
    wait
    [ -p "$tmp/fifo.json" ] || fail "the FIFO was replaced"
    has "$tmp/fifo.out" '"hakreplay-run"'

    # A file-size limit stands in for a full disk: exit 2, the old file kept.
    echo old >"$tmp/big.json"
    (ulimit -f 8; "$hr" "$trace" --quiet -o "$tmp/big.json") >"$tmp/out" 2>"$tmp/err"
    [ $? -eq 2 ] || fail "run.json past the file-size limit: not exit 2: $(cat "$tmp/err")"
    has "$tmp/err" "big.json: cannot write: File too large"
    [ "$(cat "$tmp/big.json")" = old ] || fail "the old run.json was touched"
    no_temporaries "$tmp"

    # Errors name the target, never the temporary file.
    expect 2 "$hr" check --record "$tmp/r.json" -o "$tmp/no/such/base.json"
    has "$tmp/err" "hakreplay check: $tmp/no/such/base.json: cannot write: No such file or directory"
    grep -q '\.tmp\.' "$tmp/err" && fail "a message names the temporary file: $(cat "$tmp/err")"

    # plot: an image that is a link is drawn into the link's target.
    mkdir "$tmp/plots" "$tmp/elsewhere"
    ln -s ../elsewhere/ladder.png "$tmp/plots/ladder.png"
    expect 0 "$hr" plot "$tmp/r.json" -o "$tmp/plots"
    [ -L "$tmp/plots/ladder.png" ] || fail "plot replaced the link"
    [ -s "$tmp/elsewhere/ladder.png" ] || fail "plot did not draw into the link's target"
    no_temporaries "$tmp/plots"
    no_temporaries "$tmp/elsewhere"

    # SIGTERM mid-replay: the --ss-detail output exists only as a temporary
    # file; the signal removes it, the old file stays.
    "$hk" gen larson --threads 4 --chunks 1024 --generations 400 -o "$tmp/big.hkt" || fail "gen"
    echo old >"$tmp/detail.jsonl"
    "$hr" "$tmp/big.hkt" --quiet -o "$tmp/killed.json" --ss-detail "$tmp/detail.jsonl" 2>/dev/null &
    pid=$!
    n=0
    while ! ls -A "$tmp" | grep -q '^\.detail\.jsonl\.tmp\.' && [ $n -lt 200 ]; do sleep 0.02; n=$((n + 1)); done
    [ $n -lt 200 ] || fail "no temporary --ss-detail file appeared"
    kill -TERM $pid
    wait $pid; st=$?
    [ $st -eq 143 ] || fail "hakreplay after SIGTERM: status $st, expected 143"
    [ "$(cat "$tmp/detail.jsonl")" = old ] || fail "the old --ss-detail file was touched"
    [ ! -e "$tmp/killed.json" ] || fail "a run.json appeared"
    no_temporaries "$tmp"

    # --ss-detail failing mid-replay (the replay stops at that sample) is
    # an output error as at the end: exit 2, one line naming it, no run.json.
    if [ -c "$tmp/full" ]; then
        expect 2 "$hr" "$tmp/big.hkt" --quiet -o "$tmp/mid.json" --ss-detail "$tmp/full"
        has "$tmp/err" "hakreplay: $tmp/full: cannot write: No space left on device"
        [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "more than one line: $(cat "$tmp/err")"
        [ ! -e "$tmp/mid.json" ] || fail "run.json written after --ss-detail failed"
        no_temporaries "$tmp"
    fi
    ;;
*) fail "unknown case $case_name" ;;
esac

[ $fails -eq 0 ] || exit 1
exit 0
