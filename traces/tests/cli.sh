#!/bin/sh
# cli.sh CASE HAKTRACE SRCDIR — the haktrace command's tests, one case per
# meson test (traces.cli_CASE).  Checks exit codes, the one-line error
# format, and that outputs appear only when complete.
set -u
case_name=$1 hk=$2 src=$3
. "$src/../common/tests/shlib.sh" ht-cli # src: the traces folder
H='{"format":"hakmem-trace","version":1,"meta":{},"threads":1}'

case $case_name in
help)
    expect 0 "$hk" --help; has "$tmp/out" "usage: haktrace COMMAND"
    for c in validate convert stats gen; do
        expect 0 "$hk" $c --help; has "$tmp/out" "usage: haktrace $c"
    done
    for k in larson prodcons churn phase; do
        expect 0 "$hk" gen $k --help; has "$tmp/out" "usage: haktrace gen $k"
    done
    has "$tmp/out" "--keep"
    expect 2 "$hk"; expect 2 "$hk" frobnicate; has "$tmp/err" "unknown command"
    expect 2 "$hk" validate
    ;;
validate)
    expect 0 "$hk" validate "$src/samples/every-op.json"
    has "$tmp/out" "every-op.json: ok, 14 events, 3 threads"
    printf '%s\n["alloc",0,1,8]\n' "$H" > "$tmp/ok.jsonl"
    expect 0 "$hk" validate "$tmp/ok.jsonl" "$src/samples/every-op.json"
    ;;
errors)
    printf '%s\n["alloc",0,1,8]\n["free",0,2]\n' "$H" > "$tmp/bad.jsonl"
    expect 2 "$hk" validate "$tmp/bad.jsonl"
    [ "$(cat "$tmp/err")" = "$tmp/bad.jsonl:3: event 1: free of id 2 which is not live" ] ||
        fail "message: $(cat "$tmp/err")"
    [ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "more than one line"
    expect 2 "$hk" validate "$tmp/missing.hkt"; has "$tmp/err" "cannot open"
    expect 2 "$hk" validate "$tmp/x.txt"; has "$tmp/err" "unknown trace encoding"
    # An unknown flag is an error, not a file; "--" ends the options.
    expect 2 "$hk" validate --bogus "$src/samples/every-op.json"
    has "$tmp/err" "haktrace validate: unknown option '--bogus'"
    cp "$src/samples/every-op.json" "$tmp/-dash.json"
    (cd "$tmp" && "$hk" validate -- -dash.json) >"$tmp/out" 2>&1 || fail "validate -- -dash.json: $(cat "$tmp/out")"
    expect 2 "$hk" convert --bogus "$src/samples/every-op.json" "$tmp/y.hkt"
    has "$tmp/err" "haktrace convert: unknown option '--bogus'"
    printf 'HAKTRACEjunk' > "$tmp/bad.hkt"
    expect 2 "$hk" validate "$tmp/bad.hkt"; has "$tmp/err" "bad.hkt:offset 12: header: truncated file"
    head -c 100 /dev/urandom > "$tmp/rand.hkt"
    expect 2 "$hk" validate "$tmp/rand.hkt"; has "$tmp/err" "offset 0: header: wrong magic"
    expect 2 "$hk" stats "$tmp/bad.jsonl"
    expect 2 "$hk" convert "$tmp/bad.jsonl" "$tmp/out.hkt"
    [ ! -e "$tmp/out.hkt" ] || fail "convert of a bad trace left an output"
    # The largest legal thread count is checked like any other (it meant
    # "unknown", validated, and converted to threads: 1).
    printf '{"format":"hakmem-trace","version":1,"meta":{},"threads":16777216,"events":[["alloc",0,1,8]]}\n' > "$tmp/max.json"
    expect 2 "$hk" validate "$tmp/max.json"
    has "$tmp/err" "max.json:1: header: the header says 16777216 threads but the body has 1"
    expect 2 "$hk" convert "$tmp/max.json" "$tmp/max.hkt"
    [ ! -e "$tmp/max.hkt" ] || fail "convert of a bad trace left an output"
    # Limits: a 17 MiB meta is refused when read (and so never converted
    # into files the readers reject); an endless .json stops at its limit
    # (it grew to gigabytes); a stream named .hkt is named as such.
    awk 'BEGIN { printf "{\"format\":\"hakmem-trace\",\"version\":1,\"threads\":1,\"events\":[],\"meta\":{\"x\":\""; for (i = 0; i < 17 * 1024; i++) printf "%1024s", ""; print "\"}}" }' > "$tmp/meta.json"
    expect 2 "$hk" validate "$tmp/meta.json"; has "$tmp/err" "header: meta of 17825800 bytes exceeds the limit of 16777216"
    for o in jsonl hkt; do
        expect 2 "$hk" convert "$tmp/meta.json" "$tmp/meta.$o"
        [ ! -e "$tmp/meta.$o" ] || fail "convert wrote a meta its readers reject"
    done
    ln -s /dev/zero "$tmp/zero.json"
    # Under 1 GB of address space, where the program can start at all (a
    # sanitizer runtime cannot): the limit, not the memory, stops it.
    lim=""; (ulimit -v 1000000; "$hk" --help) >/dev/null 2>&1 && lim="ulimit -v 1000000;"
    (eval "$lim" '"$hk" validate "$tmp/zero.json"') >"$tmp/out" 2>"$tmp/err"
    [ $? -eq 2 ] || fail "/dev/zero as .json: not exit 2: $(cat "$tmp/err")"
    has "$tmp/err" "zero.json:1: document: longer than the .json limit of 33554432 bytes"
    ln -s /dev/zero "$tmp/zero.hkt"
    expect 2 "$hk" validate "$tmp/zero.hkt"; has "$tmp/err" "zero.hkt: not a regular file"
    mkfifo "$tmp/fifo.hkt"
    expect 2 "$hk" validate "$tmp/fifo.hkt"; has "$tmp/err" "fifo.hkt: not a regular file"
    # What the .json reader would refuse, the writer does not write.
    expect 2 "$hk" gen larson --generations 200 -o "$tmp/big.json"
    has "$tmp/err" "big.json: a .json trace holds at most 33554432 bytes"
    [ ! -e "$tmp/big.json" ] || fail "an oversized .json was written"
    ;;
convert)
    s="$src/samples/every-op.json"
    expect 0 "$hk" convert "$s" "$tmp/a.hkt"
    expect 0 "$hk" convert "$tmp/a.hkt" "$tmp/b.jsonl"
    expect 0 "$hk" convert "$tmp/b.jsonl" "$tmp/c.json"
    expect 0 "$hk" convert "$tmp/c.json" "$tmp/d.hkt"
    cmp -s "$tmp/a.hkt" "$tmp/d.hkt" || fail ".hkt differs after a round trip"
    expect 0 "$hk" convert "$tmp/d.hkt" "$tmp/e.json"
    cmp -s "$tmp/c.json" "$tmp/e.json" || fail ".json differs after a round trip"
    expect 0 "$hk" stats --json "$s"; cp "$tmp/out" "$tmp/s1"
    expect 0 "$hk" stats --json "$tmp/c.json"
    sed 's/"file": .*//' "$tmp/s1" > "$tmp/s1n"; sed 's/"file": .*//' "$tmp/out" > "$tmp/s2n"
    cmp -s "$tmp/s1n" "$tmp/s2n" || fail "stats differ after conversion"
    expect 2 "$hk" convert "$s"
    expect 2 "$hk" convert "$s" "$tmp/x.txt"
    ;;
stats)
    expect 0 "$hk" stats "$src/samples/every-op.json"
    has "$tmp/out" "events: 14"; has "$tmp/out" "threads: 3"
    has "$tmp/out" "peak live blocks: 4"; has "$tmp/out" "by another thread: 4 (0.8000)"
    expect 0 "$hk" stats --json "$src/samples/every-op.json"
    has "$tmp/out" '"peak_live_bytes": 528'; has "$tmp/out" '"remote_frees": 4'
    ;;
gen)
    expect 0 "$hk" gen larson --threads 2 --chunks 64 --generations 3 -o "$tmp/l.hkt"
    expect 0 "$hk" validate "$tmp/l.hkt"; has "$tmp/out" "7 threads"
    expect 0 "$hk" validate --mmap "$tmp/l.hkt"; has "$tmp/out" "7 threads"
    expect 0 "$hk" gen larson --threads=2 --chunks=64 --generations=3 --quantum 1 -o "$tmp/l1.jsonl"
    expect 0 "$hk" stats --json "$tmp/l1.jsonl"; has "$tmp/out" '"events": 1938'
    expect 0 "$hk" gen prodcons --blocks 1000 -o "$tmp/p.jsonl"
    expect 0 "$hk" stats "$tmp/p.jsonl"; has "$tmp/out" "(1.0000)"
    expect 0 "$hk" gen churn --waves 10 -o "$tmp/c.json"
    expect 0 "$hk" gen phase --blocks 100 --steady 10 -o "$tmp/ph.hkt"
    expect 0 "$hk" validate "$tmp/c.json" "$tmp/ph.hkt"
    expect 2 "$hk" gen larson --min 200 -o "$tmp/x.hkt"; has "$tmp/err" "inconsistent parameters"
    expect 2 "$hk" gen larson --bogus 1 -o "$tmp/x.hkt"; has "$tmp/err" "unknown parameter"
    expect 2 "$hk" gen larson --threads -1 -o "$tmp/x.hkt"
    expect 2 "$hk" gen larson --threads 2
    expect 2 "$hk" gen larson --generations 0 -o "$tmp/x.hkt"; has "$tmp/err" "inconsistent parameters"
    expect 2 "$hk" gen nosuch -o "$tmp/x.hkt"
    [ ! -e "$tmp/x.hkt" ] || fail "a failed gen left an output"
    # meta records the regenerating command
    expect 0 "$hk" convert "$tmp/l.hkt" "$tmp/l.json"
    has "$tmp/l.json" '"command":"haktrace gen larson --threads 2 --min 8 --max 128 --chunks 64'
    ;;
samples)
    # The checked-in samples are valid and the generated one is reproducible.
    for f in "$src"/samples/*.json "$src"/samples/*.jsonl; do
        expect 0 "$hk" validate "$f"
    done
    cmd=$(sed -n 's/^regenerate: //p' "$src/samples/README.md" | head -1)
    [ -n "$cmd" ] || fail "no regenerate line in samples/README.md"
    out=$(echo "$cmd" | sed 's/.* -o //')
    (cd "$tmp" && eval "\"$hk\" ${cmd#haktrace }" 2>"$tmp/err") || fail "regenerating: $(cat "$tmp/err")"
    cmp -s "$tmp/$(basename "$out")" "$src/samples/$(basename "$out")" ||
        fail "samples/$(basename "$out") is not what its command generates"
    ;;
schema)
    # The JSON Schema in docs/trace-format.md accepts the .json traces we
    # write and rejects a malformed one (skipped without python3-jsonschema).
    python3 -c 'import jsonschema' 2>/dev/null || exit 77
    doc="$src/../docs/trace-format.md"
    awk '/^JSON Schema/ {f=1; next} f && /^```json/ {g=1; next} g && /^```/ {exit} g' "$doc" > "$tmp/schema.json"
    expect 0 "$hk" gen larson --threads 2 --chunks 8 --generations 2 -o "$tmp/l.json"
    expect 0 "$hk" convert "$src/samples/larson-small.jsonl" "$tmp/s.json"
    printf '{"format":"hakmem-trace","version":1,"meta":{},"threads":1,"events":[["memalign",0,1,24,8]]}' > "$tmp/bad.json"
    cat > "$tmp/check.py" <<'PY'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
for path in sys.argv[2:]:
    errs = list(v.iter_errors(json.load(open(path))))
    print(path, "valid" if not errs else "invalid")
PY
    expect 0 python3 "$tmp/check.py" "$tmp/schema.json" "$src/samples/every-op.json" "$tmp/l.json" "$tmp/s.json" "$tmp/bad.json"
    [ "$(grep -c ' valid$' "$tmp/out")" -eq 3 ] || fail "schema rejected a valid trace: $(cat "$tmp/out")"
    has "$tmp/out" "bad.json invalid"
    ;;
outputs)
    # Output targets (common/include/hc_out.h): a symbolic link is followed,
    # a FIFO or a device is refused (a trace's header is patched at the
    # end) and never replaced, a write error leaves the old file.
    s="$src/samples/every-op.json"
    echo old > "$tmp/real.hkt"
    ln -s real.hkt "$tmp/link.hkt"
    expect 0 "$hk" convert "$s" "$tmp/link.hkt"
    [ -L "$tmp/link.hkt" ] || fail "the link was replaced"
    expect 0 "$hk" validate "$tmp/real.hkt"
    mkfifo "$tmp/fifo.jsonl"
    expect 2 "$hk" convert "$s" "$tmp/fifo.jsonl"; has "$tmp/err" "fifo.jsonl: cannot write: not a regular file"
    [ -p "$tmp/fifo.jsonl" ] || fail "the FIFO was replaced"
    if mknod "$tmp/full.hkt" c 1 7 2>/dev/null; then
        expect 2 "$hk" gen larson --generations 2 -o "$tmp/full.hkt"
        [ -c "$tmp/full.hkt" ] || fail "the device node was replaced"
        ln -s full.hkt "$tmp/tofull.hkt"
        expect 2 "$hk" convert "$s" "$tmp/tofull.hkt"
        [ -c "$tmp/full.hkt" ] && [ -L "$tmp/tofull.hkt" ] || fail "device or link replaced"
    fi
    # A file-size limit (standing in for a full disk): exit 2, old file kept.
    echo old > "$tmp/big.hkt"
    (ulimit -f 64; "$hk" gen larson --generations 50 -o "$tmp/big.hkt") >"$tmp/out" 2>"$tmp/err"
    [ $? -eq 2 ] || fail "write past the limit: exit $?"
    has "$tmp/err" "big.hkt: write error: File too large"
    [ "$(cat "$tmp/big.hkt")" = old ] || fail "the old file was touched"
    ls -a "$tmp" | grep -q '\.tmp\.' && fail "temporary file left: $(ls -a "$tmp")"
    mkdir "$tmp/dir.hkt"
    expect 2 "$hk" convert "$s" "$tmp/dir.hkt"; has "$tmp/err" "Is a directory"
    expect 2 "$hk" convert "$s" "$tmp/no/such/dir.hkt"; has "$tmp/err" "No such file or directory"
    ;;
signals)
    # SIGINT or SIGTERM mid-write: the convert reads a FIFO that stalls, its
    # output exists only as a temporary file; the signal removes it and the
    # old output stays.  (env --default-signal: a shell starts background
    # jobs with SIGINT ignored.)
    head -200 "$src/samples/larson-small.jsonl" > "$tmp/part"
    for sig in INT TERM; do
        rm -f "$tmp/in.jsonl"; mkfifo "$tmp/in.jsonl"
        echo old > "$tmp/out.hkt"
        env --default-signal=INT "$hk" convert "$tmp/in.jsonl" "$tmp/out.hkt" 2>"$tmp/err" &
        pid=$!
        exec 3>"$tmp/in.jsonl"
        cat "$tmp/part" >&3
        n=0
        while ! ls -a "$tmp" | grep -q '^\.out\.hkt\.tmp\.' && [ $n -lt 100 ]; do
            sleep 0.05; n=$((n + 1))
        done
        [ $n -lt 100 ] || fail "SIG$sig: no temporary file appeared"
        kill -$sig $pid
        wait $pid; st=$?
        exec 3>&-
        [ $st -gt 128 ] || fail "SIG$sig: convert exited $st, expected death by the signal"
        ls -a "$tmp" | grep -q '\.tmp\.' && fail "SIG$sig: temporary file left: $(ls -a "$tmp")"
        [ "$(cat "$tmp/out.hkt")" = old ] || fail "SIG$sig: the old output was touched"
    done
    ;;
atomic)
    # An interrupted writer leaves no file under the final name.
    "$hk" gen larson --generations 200000 -o "$tmp/big.hkt" 2>/dev/null &
    pid=$!
    sleep 0.3
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    [ ! -e "$tmp/big.hkt" ] || fail "final name exists after kill"
    ;;
*) fail "unknown case $case_name" ;;
esac
[ $fails -eq 0 ] || exit 1
exit 0
