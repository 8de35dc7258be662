#!/usr/bin/env bash
# test.sh plain|preload|table: the benchmark suite cannot rot (meson suite
# 'bench'). plain and preload run each program once with tiny parameters,
# with the process's own malloc (plain) or under LD_PRELOAD=$SUITE_HAKMEM
# (preload, HAKMEM_PRESET=adopt), and check that it exits 0 and prints its
# result line; table checks run.sh's tables (table.awk) on made-up results.
# Environment (set by meson.build): SUITE_BIN (the programs), SUITE_LARSON,
# SUITE_HAKMEM, SUITE_SANITIZE.
set -euo pipefail

mode=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/suite_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL [bench.suite/$mode]: $*" >&2; exit 1; }

# table: run.sh's tables from made-up results (medians, ratios, failures).
if [ "$mode" = table ]; then
  tsv() { tr '|' '\t'; }
  tsv >"$tmp/rows.tsv" <<'END'
r1|prog 1|things|
r2|prog 2|things|hakmem:seed-buggy: why
END
  tsv >"$tmp/results.tsv" <<'END'
row|allocator|run|status|ops_per_s|peak_rss_kib|wall_s
r1|glibc|1|ok|2000000|2048|1.00
r1|tcmalloc|1|ok|6000000|1024|1.00
r1|hakmem:adopt|1|ok|2500000|512|1.00
r2|glibc|1|exit1|-|-|0.10
r1|tcmalloc|2|ok|5000000|1024|1.00
r1|hakmem:adopt|2|timeout|-|-|60.00
r1|glibc|2|ok|4000000|4096|1.00
r1|hakmem:adopt|3|ok|7500000|1536|1.00
r1|glibc|3|ok|3000000|3072|1.00
r1|tcmalloc|3|oom|1000000|1024|0.50
END
  cat >"$tmp/expected" <<'END'
### r1: `prog 1`

Unit: things per second.

| allocator | ops/s median [min-max], millions | vs best of four | peak RSS MiB (median) | RSS vs lowest of four | failed runs |
|---|---|---|---|---|---|
| glibc | 3.00 [2.00-4.00] | 0.60 | 3.0 | 3.00 |  |
| tcmalloc | 5.00 [1.00-6.00] | 1.00 | 1.0 | 1.00 | oom 1/3 |
| hakmem:adopt | 5.00 [2.50-7.50] | 1.00 | 1.0 | 1.00 | timeout 1/3 |

### r2: `prog 2`

Unit: things per second.

| allocator | ops/s median [min-max], millions | vs best of four | peak RSS MiB (median) | RSS vs lowest of four | failed runs |
|---|---|---|---|---|---|
| glibc | - | - | - | - | exit1 1/1 |

Not run: hakmem:seed-buggy: why.

END
  "$(dirname "$0")/table.awk" "$tmp/rows.tsv" "$tmp/results.tsv" >"$tmp/table.md" || fail "table.awk failed"
  diff -u "$tmp/expected" "$tmp/table.md" >&2 || fail "table differs from the expected one"
  echo "bench.suite/table: ok"
  exit 0
fi

for v in $(env | sed -n 's/^\(HAKMEM_[A-Z0-9_]*\)=.*/\1/p'); do unset "$v"; done
pre=()
case $mode in
  plain) ;;
  preload)
    # A sanitizer runtime interposes malloc itself and must come first.
    if [ "${SUITE_SANITIZE:-none}" != none ]; then
      echo "SKIP: libhakmem.so cannot be preloaded in a b_sanitize=$SUITE_SANITIZE build" >&2
      exit 77
    fi
    pre=(env LD_PRELOAD="$SUITE_HAKMEM" HAKMEM_PRESET=adopt) ;;
  *) fail "unknown mode" ;;
esac

# check NAME PATTERN CMD...: exit 0 and a line matching PATTERN on stdout.
check() {
  local name=$1 pattern=$2 st=0
  shift 2
  "${pre[@]}" "$@" >"$tmp/out" 2>"$tmp/err" || st=$?
  [ "$st" -eq 0 ] || fail "$name: exit status $st: $(head -n 3 "$tmp/err")"
  grep -Eq "$pattern" "$tmp/out" || fail "$name: no result line: $(head -n 3 "$tmp/out")"
  echo "ok $name: $(grep -E '^result: ' "$tmp/out")"
}
result='^result: ops_per_s=[0-9]+ ops=[0-9]+ seconds=[0-9.]+'

check pair "$result unit=pairs size=16\$" "$SUITE_BIN/pair" -t 0.1
check pair-count '^result: ops_per_s=[0-9]+ ops=1000 .* size=64$' "$SUITE_BIN/pair" -n 1000 64
check mt-sizes "$result unit=iterations threads=2\$" "$SUITE_BIN/mt-sizes" -t 0.2 2
check xmalloc "$result unit=frees workers=2 size=64\$" "$SUITE_BIN/xmalloc" -w 2 -t 0.2 -s 64
check xmalloc-mixed "$result unit=frees workers=1 size=-1\$" "$SUITE_BIN/xmalloc" -w 1 -t 0.2 -s -1
check cache-scratch "$result unit=writes threads=2 rounds=[0-9]+ shared_lines=[0-2] min_gap=[0-9]+\$" \
  "$SUITE_BIN/cache-scratch" -t 0.2 2 1 20000
# Fixed work: 2 threads x 3 rounds x (1000 / 2) repetitions x 8 bytes.
check cache-scratch-count '^result: ops_per_s=[0-9]+ ops=24000 .* rounds=6 shared_lines=[0-2] min_gap=[0-9]+$' \
  "$SUITE_BIN/cache-scratch" -n 3 2 8 1000
# Never-joined threads are the point of --never-join: ThreadSanitizer must
# not call them a leak.
for nj in "" --never-join; do
  TSAN_OPTIONS="report_thread_leaks=0 ${TSAN_OPTIONS:-}" check "larson${nj:+ $nj}" \
    "$result unit=ops threads=[0-9]+\$" "$SUITE_LARSON" $nj 1 8 128 1024 1 12345 2
  grep -q '^Throughput = ' "$tmp/out" || fail "larson: no Throughput line"
done

# Bad usage is exit 2 with a usage line, never a result.
for cmd in "pair 0" "pair -t 0" "mt-sizes 0" "xmalloc -s 0" "cache-scratch 2 1"; do
  st=0
  # shellcheck disable=SC2086
  "$SUITE_BIN"/$cmd >"$tmp/out" 2>"$tmp/err" || st=$?
  if ! { [ "$st" -eq 2 ] && grep -q '^usage: ' "$tmp/err" && [ ! -s "$tmp/out" ]; }; then
    fail "'$cmd': expected exit 2 and a usage line, got $st"
  fi
done
echo "bench.suite/$mode: all programs ran"
