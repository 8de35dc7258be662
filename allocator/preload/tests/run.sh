#!/usr/bin/env bash
# run.sh CASE [PRESET]: one test of libhakmem.so (meson suite 'preload').
# Runs a program with and without LD_PRELOAD=$HP_LIB and compares what it
# printed (and what it wrote); exits 0 on success, 1 with a reason.
# Environment (set by meson.build): HP_LIB, HP_BIN (the test programs),
# HP_LARSON (the benchmark program).
set -euo pipefail

case_name=$1
preset=${2:-adopt}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hp_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Debian's interpreter, not whatever python3 comes first in PATH: the
# point is a real program from the distribution.
py=/usr/bin/python3

fail() { echo "FAIL [$case_name/$preset]: $*" >&2; exit 1; }

# ASan and TSan interpose malloc themselves and must come first in the
# process: a sanitized libhakmem.so cannot be preloaded. Skip, saying so.
if [ "${HP_SANITIZE:-none}" != none ]; then
  echo "SKIP [$case_name/$preset]: libhakmem.so is not testable in a b_sanitize=$HP_SANITIZE build" >&2
  exit 77
fi

# Clean environment of allocator variables, then the preset under test.
for v in $(env | sed -n 's/^\(HAKMEM_[A-Z0-9_]*\)=.*/\1/p'); do unset "$v"; done
export HAKMEM_PRESET=$preset
export LC_ALL=C

under() { LD_PRELOAD="$HP_LIB" "$@"; }

# Same stdout with and without the preload; stderr of the preloaded run kept.
same_output() {
  "$@" >"$tmp/ref.out" 2>"$tmp/ref.err" || fail "reference run failed: $* ($(cat "$tmp/ref.err"))"
  under "$@" >"$tmp/hak.out" 2>"$tmp/hak.err" || fail "preloaded run failed (status $?): $* ($(tail -5 "$tmp/hak.err"))"
  cmp -s "$tmp/ref.out" "$tmp/hak.out" || { diff "$tmp/ref.out" "$tmp/hak.out" | head -20 >&2; fail "outputs differ: $*"; }
}

# A deterministic text file of N lines (no allocator involved: awk).
gen_text() {
  awk -v n="$1" 'BEGIN { x = 12345; for (i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648; k = x % 100000
    printf "%08d %s-%d line %d\n", k, substr("alphabetagammadeltaepsilonzetaeta", 1 + x % 20, 1 + x % 13), x % 977, i } }'
}

case $case_name in
  sort)
    gen_text 200000 >"$tmp/in.txt"
    same_output sort "$tmp/in.txt"
    same_output sort --parallel=2 -S 1M -k2,2 -k1,1n "$tmp/in.txt"
    same_output sort -u -t' ' -k3 "$tmp/in.txt"
    ;;
  python3)
    [ -x "$py" ] || fail "$py not installed (scripts/install-deps.sh installs python3)"
    script='
import hashlib, json, threading, queue, collections
d = {}
for i in range(200000):
    d["k%d" % (i * 7919 % 200003)] = [i, str(i) * (i % 7), {"v": i % 13}]
s = json.dumps(sorted(d.items())[:5000])
q = queue.Queue()
def prod(n):
    for i in range(20000):
        q.put(("x" * (i % 300), list(range(i % 50))))
def cons(out):
    c = collections.Counter()
    for _ in range(40000):
        a, b = q.get()
        c[len(a) % 17] += sum(b)
    out.append(sorted(c.items()))
res = []
ts = [threading.Thread(target=prod, args=(i,)) for i in range(2)] + [threading.Thread(target=cons, args=(res,))]
for t in ts: t.start()
for t in ts: t.join()
h = hashlib.sha256((s + repr(res)).encode()).hexdigest()
print(len(d), len(s), h)
'
    same_output "$py" -c "$script"
    ;;
  gzip)
    { gen_text 150000; seq 1 300000; } >"$tmp/data"
    gzip -9 -c <"$tmp/data" >"$tmp/ref.gz"
    under gzip -9 -c <"$tmp/data" >"$tmp/hak.gz" || fail "gzip under the preload"
    cmp -s "$tmp/ref.gz" "$tmp/hak.gz" || fail "gzip output differs under the preload"
    under gunzip -c <"$tmp/hak.gz" >"$tmp/back" || fail "gunzip under the preload"
    cmp -s "$tmp/data" "$tmp/back" || fail "gzip/gunzip round trip differs"
    ;;
  churn)
    same_output "$HP_BIN/hp_churn" 4 1024 1 40 12345
    grep -q 'errors=0' "$tmp/hak.out" || fail "churn reported errors"
    ;;
  cxx)
    same_output "$HP_BIN/hp_cxx"
    ;;
  fork)
    under "$HP_BIN/hp_fork" >"$tmp/out" 2>"$tmp/err" || fail "fork test failed: $(cat "$tmp/out" "$tmp/err")"
    grep -qx 'fork: ok' "$tmp/out" || fail "no 'fork: ok': $(cat "$tmp/out")"
    # Every process (parent, 20 children, 20 grandchildren) reports at exit.
    HAKMEM_STATS=1 under "$HP_BIN/hp_fork" >"$tmp/out" 2>"$tmp/err" || fail "fork test with HAKMEM_STATS failed"
    n=$(grep -c '^\[hakmem\] pid=' "$tmp/err" || true)
    [ "$n" -eq 41 ] || fail "expected 41 exit reports (1 + 20 + 20), got $n"
    ;;
  api)
    same_output "$HP_BIN/hp_api"
    HAKMEM_ON_BAD_FREE=count HAKMEM_STATS_JSON="$tmp/s.json" under "$HP_BIN/hp_api" --foreign \
      >"$tmp/out" 2>&1 || fail "api --foreign: $(cat "$tmp/out")"
    # Foreign: page, page+64, a static array and the realloc; a block's
    # interior is a bad free (counted under on_bad_free=count).
    "$py" - "$tmp/s.json" <<'PY' || fail "foreign pointers or the bad free were not counted"
import json, sys
d = json.load(open(sys.argv[1]))
p = d["preload"]
assert p["foreign_frees"] == 3, p
assert p["foreign_reallocs"] == 1, p
assert d["stats"]["bad_frees"] == 1, d["stats"]
PY
    ;;
  badfree)
    # Each wrong free, under abort (the default): SIGABRT at the free, with
    # one line naming the address the program announced; under count: the
    # program goes on, nothing handed out twice, one bad free counted.
    for mode in double double-tiny double-remote interior large; do
      st=0
      under "$HP_BIN/hp_badfree" "$mode" >"$tmp/out" 2>"$tmp/err" || st=$?
      [ "$st" -eq 134 ] || fail "$mode: expected SIGABRT (134), got $st: $(cat "$tmp/out" "$tmp/err")"
      addr=$(sed -n 's/^badfree: \(0x[0-9a-f]*\)$/\1/p' "$tmp/out")
      # Found at the free, or (a block the owner's free cache held, freed
      # again by another thread) by the next malloc, before a second hand-out.
      # A -Ddebug_checks=true build checks every free in full (as
      # allocator.badfree says): it finds that one at the free too.
      what="free(): double free"
      [ "$mode" = interior ] && what="free(): pointer inside a block"
      [ "$mode" = double-remote ] && what="\(malloc(): double free or write after free\|free(): double free\)"
      [ "$(grep -c '^\[hakmem\]' "$tmp/err")" -eq 1 ] &&
        grep -q "^\[hakmem\] $what: $addr (block of [0-9]* bytes)$" "$tmp/err" ||
        fail "$mode: expected one line naming $what at $addr, got: $(cat "$tmp/err")"
      HAKMEM_ON_BAD_FREE=count HAKMEM_STATS_JSON="$tmp/s.json" under "$HP_BIN/hp_badfree" "$mode" \
        >"$tmp/out" 2>"$tmp/err" || fail "$mode under count: $(cat "$tmp/out" "$tmp/err")"
      grep -q '^badfree: survived$' "$tmp/out" || fail "$mode under count: $(cat "$tmp/out")"
      "$py" -c 'import json,sys; s=json.load(open(sys.argv[1]))["stats"]; assert s["bad_frees"] == 1, s' \
        "$tmp/s.json" || fail "$mode under count: bad_frees is not 1"
    done
    ;;
  map_limit)
    # Classes other than 64 bytes may already hold SuperSlabs from libc's
    # start-up: with a limit of 8, at most 8 x 32,726 blocks fit (2 MiB
    # less a 2,688-byte header, in 64-byte blocks).
    HAKMEM_SS_MAP_LIMIT=8 under "$HP_BIN/hp_maplimit" 64 10000000 >"$tmp/out" 2>"$tmp/err" \
      || fail "maplimit: $(cat "$tmp/out" "$tmp/err")"
    grep -q 'errno=ENOMEM' "$tmp/out" || fail "no ENOMEM: $(cat "$tmp/out")"
    n=$(sed -n 's/.*NULL after \([0-9]*\) blocks.*/\1/p' "$tmp/out")
    [ "$n" -gt 0 ] && [ "$n" -le $((8 * 32726)) ] || fail "blocks before NULL out of range: $n"
    grep -q '^\[hakmem\] SuperSlab mmap failed: .* limit=8 ' "$tmp/err" || fail "no OOM line: $(cat "$tmp/err")"
    [ "$(grep -c 'SuperSlab mmap failed' "$tmp/err")" -eq 1 ] || fail "OOM line not once"
    # The same through the benchmark program: a clean exit 3 with its message.
    set +e
    HAKMEM_PRESET=seed-buggy HAKMEM_SS_MAP_LIMIT=200 under "$HP_LARSON" 20 8 128 1024 1 12345 4 >"$tmp/out" 2>"$tmp/err"
    st=$?
    set -e
    [ "$st" -eq 3 ] || fail "larson at the map limit: status $st, expected 3 ($(cat "$tmp/err"))"
    # Which fails first is a race: a worker's malloc, or pthread_create,
    # whose TLS set-up callocs (and gets NULL from the same class).
    grep -Eq 'larson: out of memory: (malloc returned NULL \(Cannot allocate memory\)|pthread_create failed \(Resource temporarily unavailable\))' "$tmp/err" \
      || fail "larson message: $(cat "$tmp/err")"
    ;;
  stats_json)
    HAKMEM_STATS_JSON="$tmp/stats-%p.json" under "$HP_BIN/hp_churn" 2 512 1 10 7 >/dev/null || fail "churn"
    f=$(ls "$tmp"/stats-*.json) || fail "no stats file"
    [ "$(ls -A "$tmp" | grep -c 'stats-')" -eq 1 ] || fail "temporary files left: $(ls -A "$tmp")"
    "$py" - "$f" "$preset" <<'PY' || fail "stats JSON content"
import json, sys
d = json.load(open(sys.argv[1]))
assert sys.argv[1].endswith("stats-%d.json" % d["pid"]), d["pid"]
assert d["config"]["preset"] == sys.argv[2], d["config"]
assert d["variant"] == sys.argv[2], d["variant"]  # the preset, no override
assert d["config"]["ss_lg"] == 21
s = d["stats"]
for k in ("ss_allocated", "ss_freed", "ss_live", "ss_peak", "bytes_mapped", "frees_local",
          "frees_remote", "trims", "adoptions", "ooms", "threads_attached", "large_allocs"):
    assert isinstance(s[k], int), k
assert s["threads_attached"] >= 21 and s["threads_exited"] >= 20, s
assert s["frees_remote"] > 0 and s["frees_local"] > 0 and s["large_allocs"] > 0, s
assert s["ss_live"] == s["ss_allocated"] - s["ss_freed"], s
assert s["ooms"] == 0
assert d["preload"]["foreign_frees"] == 0, d["preload"]
PY
    # An override is part of the label.
    HAKMEM_SS_MAP_LIMIT=1000 HAKMEM_STATS_JSON="$tmp/v.json" under /bin/true || fail "true"
    grep -q "\"variant\": \"$preset+ss_map_limit=1000\"" "$tmp/v.json" || fail "variant: $(head -5 "$tmp/v.json")"
    # Targets other than a plain file (common/include/hc_out.h): a missing
    # folder is reported, even by a program that closes stderr at exit (a
    # copy taken at start-up); a symbolic link is followed and kept; a
    # device or a FIFO is written straight through, never replaced.
    HAKMEM_STATS_JSON="$tmp/nodir/s.json" under /bin/true 2>"$tmp/err" || fail "true"
    grep -q "HAKMEM_STATS_JSON: cannot write $tmp/nodir/s.json: No such file or directory" "$tmp/err" \
      || fail "missing folder not reported: $(cat "$tmp/err")"
    echo old >"$tmp/real.json"; ln -s real.json "$tmp/link.json"
    HAKMEM_STATS_JSON="$tmp/link.json" under /bin/true || fail "true"
    [ -L "$tmp/link.json" ] || fail "the link was replaced"
    "$py" -c 'import json, sys; json.load(open(sys.argv[1]))' "$tmp/real.json" || fail "link target not written"
    if mknod "$tmp/full" c 1 7 2>/dev/null; then
      HAKMEM_STATS_JSON="$tmp/full" under /bin/true 2>"$tmp/err" || fail "true"
      [ -c "$tmp/full" ] || fail "the device node was replaced"
      grep -q "cannot write $tmp/full: No space left on device" "$tmp/err" || fail "full device: $(cat "$tmp/err")"
    fi
    mkfifo "$tmp/fifo"
    cat "$tmp/fifo" >"$tmp/fifo.out" &
    HAKMEM_STATS_JSON="$tmp/fifo" under /bin/true || fail "true"
    wait
    [ -p "$tmp/fifo" ] || fail "the FIFO was replaced"
    "$py" -c 'import json, sys; json.load(open(sys.argv[1]))' "$tmp/fifo.out" || fail "nothing came through the FIFO"
    [ -z "$(ls -A "$tmp" | grep '\.tmp\.')" ] || fail "temporary files left: $(ls -A "$tmp")"
    ;;
  stats_stderr)
    HAKMEM_STATS=1 under "$HP_BIN/hp_churn" 2 512 1 10 7 >"$tmp/out" 2>"$tmp/err" || fail "churn"
    "$HP_BIN/hp_churn" 2 512 1 10 7 >"$tmp/ref" || fail "reference"
    cmp -s "$tmp/out" "$tmp/ref" || fail "HAKMEM_STATS changed stdout"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "expected one stats line: $(cat "$tmp/err")"
    grep -Eq "^\[hakmem\] pid=[0-9]+ preset=$preset allocs=[0-9]+ frees_local=[0-9]+ frees_remote=[0-9]+ .* ss_allocated=[0-9]+ ss_freed=[0-9]+ ss_live=[0-9]+ ss_peak=[0-9]+ .*bytes_mapped=[0-9]+ .*adoptions=[0-9]+ trims=[0-9]+ .*ooms=0 .*foreign_frees=0 " "$tmp/err" \
      || fail "stats line: $(cat "$tmp/err")"
    # Without the variable: nothing on stderr.
    under "$HP_BIN/hp_churn" 2 512 1 10 7 >/dev/null 2>"$tmp/err2" || fail "churn"
    [ ! -s "$tmp/err2" ] || fail "stderr without HAKMEM_STATS: $(cat "$tmp/err2")"
    ;;
  sample_file)
    HAKMEM_SAMPLE_MS=5 HAKMEM_SAMPLE_FILE="$tmp/s.jsonl" under "$HP_BIN/hp_churn" 4 1024 2 40 3 >/dev/null || fail "churn"
    "$py" - "$tmp/s.jsonl" <<'PY' || fail "sample lines"
import json, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[-1] == "", "file must end with a newline"
rows = [json.loads(l) for l in lines[:-1]]
assert len(rows) >= 3, len(rows)
keys = {"t", "ss_mapped_bytes", "touched_bytes", "meta_bytes", "ss", "frees", "frees_interval",
        "remote_pending_blocks", "drains", "drained_blocks", "threads_alive"}
prev = -1
for r in rows:
    assert keys <= set(r), set(keys) - set(r)
    assert r["t"] >= prev
    prev = r["t"]
    assert {"live", "orphaned"} <= set(r["ss"]) and {"local", "remote", "remote_ratio"} <= set(r["frees"])
    assert r["ss_mapped_bytes"] == r["ss"]["live"] * 2 ** 21
assert rows[0]["t"] == 0 and rows[-1]["frees"]["remote"] > 0, rows[-1]
assert sum(r["frees_interval"]["local"] for r in rows) == rows[-1]["frees"]["local"]
PY
    # Milliseconds without a file is a configuration error.
    set +e
    HAKMEM_SAMPLE_MS=5 under /bin/true 2>"$tmp/err"
    st=$?
    set -e
    [ "$st" -eq 2 ] && grep -q 'HAKMEM_SAMPLE_MS needs HAKMEM_SAMPLE_FILE' "$tmp/err" || fail "HAKMEM_SAMPLE_MS alone: status $st"
    ;;
  bad_config)
    set +e
    HAKMEM_PRESET=no-such-preset under /bin/true 2>"$tmp/err"
    st=$?
    set -e
    [ "$st" -eq 2 ] || fail "bad preset: status $st"
    grep -q '^\[hakmem\] libhakmem.so: bad configuration: .*HAKMEM_PRESET' "$tmp/err" || fail "message: $(cat "$tmp/err")"
    # The library's own variables go through the same table: the message
    # names the variable.
    set +e
    HAKMEM_SAMPLE_FILE="$tmp/s.jsonl" HAKMEM_SAMPLE_MS=10ms under /bin/true 2>"$tmp/err"
    st=$?
    set -e
    [ "$st" -eq 2 ] || fail "bad HAKMEM_SAMPLE_MS: status $st"
    grep -q "^\[hakmem\] libhakmem.so: bad configuration: HAKMEM_SAMPLE_MS: sample_ms (an integer in 1..3600000): bad value '10ms'\$" "$tmp/err" \
      || fail "message: $(cat "$tmp/err")"
    ;;
  larson)
    # The benchmark program itself: a short run under glibc and under the preload.
    "$HP_LARSON" 1 8 128 1024 1 12345 2 >"$tmp/out" || fail "larson under glibc"
    grep -q '^Throughput = ' "$tmp/out" || fail "larson output: $(cat "$tmp/out")"
    HAKMEM_STATS=1 under "$HP_LARSON" 1 8 128 1024 1 12345 2 >"$tmp/out" 2>"$tmp/err" || fail "larson under the preload: $(cat "$tmp/err")"
    grep -q '^Throughput = ' "$tmp/out" || fail "larson output: $(cat "$tmp/out")"
    grep -q ' adoptions=[1-9]' "$tmp/err" || fail "adopt preset adopted nothing: $(cat "$tmp/err")"
    ;;
  *)
    fail "unknown case"
    ;;
esac
exit 0
