#!/bin/sh
# allocators.sh CASE HAKREPLAY HAKTRACE SRCDIR SANITIZE: hakreplay
# --allocator and hakreplay sweep, one case per meson test.
#   honest   one thread holding 80 MiB in 4 KiB blocks reads about 80 MiB
#            resident under every allocator (hakmem, glibc, jemalloc,
#            mimalloc, tcmalloc): their own overhead, not the replayer's
#            memory; mapped at least that; each allocator's own report there
#   traces   every committed trace replays under the four allocators, the
#            run valid (plot reads it) and its trace-derived numbers the
#            same twice; the double-handout check and the usage errors
#   sweep    a sweep written for GNU parallel, run by it and merged by
#            compare, each run gated by check; slurm.sh run with
#            SLURM_ARRAY_TASK_ID set and no Slurm makes the same run;
#            --emit run runs the grid here
# Under a sanitizer the allocators cannot be preloaded (the sanitizer
# replaces malloc itself): skipped.
set -u
case_name=$1 hr=$2 hk=$3 src=$4 sanitize=${5:-none}
if [ "$sanitize" != none ] && [ "$case_name" != sweep ]; then
    echo "skipped: a sanitizer build replaces malloc; no allocator can be preloaded"
    exit 77
fi
. "$src/common/tests/shlib.sh" hr-alloc
py() { python3 -c "$1" || fail "the python check above"; }

case $case_name in
honest)
    python3 -c "
import json
ev = [['alloc', 0, i + 1, 4096] for i in range(20480)]
json.dump({'format': 'hakmem-trace', 'version': 1, 'threads': 1,
           'meta': {'description': '80 MiB in 4 KiB blocks, held'}, 'events': ev},
          open('$tmp/hold80.json', 'w'))"
    for a in hakmem glibc jemalloc mimalloc tcmalloc; do
        expect 0 "$hr" "$tmp/hold80.json" --allocator "$a" --quiet -o "$tmp/$a.json"
        # 80 MiB live; resident 80 MiB and at most 8 MiB of the allocator's
        # own on top (jemalloc's, the largest, was 2.8 MiB).
        py "
import json
r = json.load(open('$tmp/$a.json'))
s = r['summary']; last = r['samples'][-1]
MiB = 1 << 20
assert s['peak_live_all_bytes'] == 80 * MiB, s['peak_live_all_bytes']
res = last['resident_bytes']
assert 80 * MiB <= res <= 88 * MiB, ('$a resident', res / MiB)
assert last['mapped_bytes'] >= 80 * MiB, ('$a mapped', last['mapped_bytes'] / MiB)
assert s['peak_resident_bytes'] == max(x.get('resident_bytes', 0) for x in r['samples'])
assert isinstance(last['self'], dict) and last['self'], last
assert r['config']['allocator'] == '$a'
print('$a: resident %.2f MiB, mapped %.2f MiB' % (res / MiB, last['mapped_bytes'] / MiB))
"
    done
    ;;
traces)
    for t in "$src"/traces/samples/*.json* "$src"/traces/samples/real/*.jsonl "$src"/sim/tests/traces/*.json; do
        case $t in *map-limit*) continue ;; esac  # a hakmem option's trace: below
        for a in glibc jemalloc mimalloc tcmalloc; do
            expect 0 "$hr" "$t" --allocator "$a" --quiet -o "$tmp/r1.json"
            expect 0 "$hr" "$t" --allocator "$a" --quiet -o "$tmp/r2.json"
            expect 0 "$hr" plot "$tmp/r1.json" -o "$tmp/plot"
            [ -s "$tmp/plot/resident.png" ] || fail "$t $a: no resident plot"
            py "
import json
a, b = (json.load(open(p)) for p in ('$tmp/r1.json', '$tmp/r2.json'))
keep = ('t', 'live_blocks', 'live_req_bytes', 'frees', 'threads_alive')
strip = lambda r: ([{k: s[k] for k in keep} for s in r['samples']], r['events'],
                   {k: r['summary'][k] for k in ('events', 'live_blocks_end', 'peak_live_req_bytes', 'frees_remote')})
assert strip(a) == strip(b), 'not deterministic: $t $a'
assert a['trace']['hash'] == b['trace']['hash']
"
        done
    done
    # The same counts as the in-process replay of hakmem: events, threads,
    # remote frees are the trace's.
    t=$src/traces/samples/real/python3-threads.jsonl
    expect 0 "$hr" "$t" --allocator jemalloc --quiet -o "$tmp/je.json"
    expect 0 "$hr" "$t" --allocator hakmem --variant adopt --quiet -o "$tmp/hk.json"
    py "
import json
j, h = (json.load(open(p)) for p in ('$tmp/je.json', '$tmp/hk.json'))
assert j['summary']['events'] == h['summary']['events']
assert j['summary']['threads_started'] == h['summary']['threads_started']
assert [s['t'] for s in j['samples']] == [s['t'] for s in h['samples']]
# hakmem's R is its SuperSlab blocks', its large objects beside it.
assert [s['live_req_bytes'] for s in j['samples']] == [s['live_req_bytes'] + s['large_live_bytes'] for s in h['samples']]
"
    # A block overwritten before its free is caught in the child too.
    expect 4 "$hr" "$src/traces/samples/every-op.json" --allocator glibc --inject-overwrite 5 --quiet -o "$tmp/x.json"
    has "$tmp/err" "event 5: block 1: overwritten before its free: the allocator handed its memory out twice (allocator glibc)"
    [ ! -e "$tmp/x.json" ] || fail "run.json written for a corruption"
    # hakmem's options mean nothing to another allocator; unknown names.
    expect 2 "$hr" "$src/traces/samples/every-op.json" --allocator glibc --opt ss_lg=20 -o "$tmp/x.json"
    has "$tmp/err" "--opt is for hakmem, not for --allocator glibc"
    expect 2 "$hr" "$src/traces/samples/every-op.json" --allocator ptmalloc9 -o "$tmp/x.json"
    has "$tmp/err" "unknown allocator 'ptmalloc9' (hakmem, glibc, jemalloc, mimalloc, tcmalloc)"
    ;;
sweep)
    command -v parallel >/dev/null || { fail "GNU parallel missing (scripts/install-deps.sh)"; exit 1; }
    "$hk" gen larson --threads 2 --min 8 --max 128 --chunks 256 --rounds 1 --seed 7 \
        --generations 5 -o "$tmp/l.hkt" >/dev/null || fail "gen"
    if [ "$sanitize" = none ]; then variants=phase1,adopt,glibc; else variants=phase1,adopt; fi
    expect 0 "$hr" sweep "$tmp/l.hkt" --variants "$variants" --opt-grid idle_trim_ms=1,5 \
        --ops-per-ms 100 -o "$tmp/sw" --emit parallel
    has "$tmp/out" "parallel < $tmp/sw/jobs.txt"
    n=$(wc -l <"$tmp/sw/jobs.txt")
    nruns=4; [ "$sanitize" = none ] && nruns=5
    [ "$n" -eq "$nruns" ] || fail "jobs.txt has $n lines, not $nruns: $(cat "$tmp/sw/jobs.txt")"
    has "$tmp/sw/jobs.txt" "--variant phase1 --opt idle_trim_ms=5 --ops-per-ms 100 --quiet -o $tmp/sw/l.phase1.idle_trim_ms-5/run.json"
    (cd / && parallel <"$tmp/sw/jobs.txt") || fail "parallel failed"
    for d in "$tmp"/sw/l.*; do
        [ -s "$d/run.json" ] || fail "$d: no run.json"
    done
    expect 0 "$hr" compare "$tmp"/sw/*/run.json -o "$tmp/cmp" --no-variant-plots --quiet
    has "$tmp/out" "| metric | adopt+idle_trim_ms=1 | adopt+idle_trim_ms=5 |"
    has "$tmp/out" "phase1+idle_trim_ms=1 | phase1+idle_trim_ms=5 |"
    printf '%s\n' '{"format": "hakreplay-baseline", "version": 1, "metrics": {
      "summary.oom": {"equals": false}, "trace.events": {"min": 1}}}' >"$tmp/gate.json"
    for r in "$tmp"/sw/*/run.json; do expect 0 "$hr" check "$r" --baseline "$tmp/gate.json"; done
    # The Slurm array's task 2, without Slurm, makes the same run.
    expect 0 "$hr" sweep "$tmp/l.hkt" --variants "$variants" --opt-grid idle_trim_ms=1,5 \
        --ops-per-ms 100 -o "$tmp/sl" --emit slurm
    has "$tmp/out" "sbatch $tmp/sl/slurm.sh"
    has "$tmp/sl/slurm.sh" "#SBATCH --array=1-$nruns"
    SLURM_ARRAY_TASK_ID=2 bash "$tmp/sl/slurm.sh" || fail "slurm.sh task 2"
    two=$(sed -n 2p "$tmp/sl/jobs.txt" | sed 's|.*/sl/\([^/]*\)/run.json$|\1|')
    py "
import json
a, b = (json.load(open(p)) for p in ('$tmp/sw/$two/run.json', '$tmp/sl/$two/run.json'))
for r in (a, b):
    del r['host']; r['trace'].pop('path')
    for s in r['samples']:
        for k in ('resident_bytes', 'mapped_bytes', 'resident_utilization', 'self'): s.pop(k, None)
    for k in [k for k in r['summary'] if 'resident' in k or 'mapped_bytes' in k and 'ss' not in k]: r['summary'].pop(k)
assert a == b, 'slurm.sh and parallel differ'
"
    SLURM_ARRAY_TASK_ID=99 bash "$tmp/sl/slurm.sh" 2>"$tmp/err" && fail "slurm.sh ran a line it has not"
    has "$tmp/err" "has no line 99"
    # Here, with progress.
    expect 0 "$hr" sweep "$tmp/l.hkt" --variants phase1 --opt-grid idle_trim_ms=1,5 \
        --ops-per-ms 100 -o "$tmp/run" --emit run --jobs 2
    has "$tmp/err" "sweep: \[2/2\]"
    [ -s "$tmp/run/l.phase1.idle_trim_ms-1/run.json" ] || fail "--emit run made no run.json"
    expect 2 "$hr" sweep "$tmp/l.hkt" --variants phase9 -o "$tmp/bad"
    has "$tmp/err" "unknown preset or allocator 'phase9'"
    expect 2 "$hr" sweep "$tmp/l.hkt" --variants phase1 -o "$tmp/bad" --emit pbs
    has "$tmp/err" "--emit: expected parallel, slurm or run"
    ;;
*)
    echo "unknown case $case_name" >&2
    exit 2
    ;;
esac
[ "$fails" -eq 0 ] || exit 1
echo "ok"
