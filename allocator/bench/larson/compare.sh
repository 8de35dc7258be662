#!/usr/bin/env bash
# compare.sh: the Larson benchmark (allocator/bench/larson/larson.c) under
# glibc, libhakmem.so (each preset), mimalloc, jemalloc and tcmalloc, in
# one run, on two configurations:
#   seed     larson SLEEP 8 128 1024 1 12345 4    (a new thread every 1,024 ops)
#   mimalloc larson SLEEP 8 1000 5000 100 4141 2  (mimalloc-bench's standard)
# Runs are interleaved (run 1 of every allocator, then run 2, ...) so the
# machine's drifting load falls on all of them alike. Reports, per
# configuration, the median ops/s [min-max] and its ratio to the fastest
# median, the median peak RSS (/usr/bin/time %M) and, for hakmem, the
# SuperSlab counters of its HAKMEM_STATS exit line; a run that ends in
# out-of-memory (exit 3) is marked.
#
# Every hakmem preset runs with HAKMEM_SS_MAP_LIMIT=65530 (vm.max_map_count
# on this kind of machine). At the end, seed-buggy runs once more on the
# seed's configuration for up to FAIL_SLEEP seconds (default 300; 0 skips
# it), until it reaches the map limit with freed = 0, as the seed's HAKMEM
# did (failure.md).
#
# The benchmark suite (allocator/bench/suite/run.sh) runs Larson with the
# other workloads and reports ratios to the best of the four; this script
# stays for every preset's SuperSlab counters and the failure run.
#
# Usage: compare.sh [-r RUNS] [-s SLEEP] [-o OUT_DIR] [-a ALLOCATORS]
#   RUNS    runs per allocator and configuration (default 3)
#   SLEEP   seconds per run (default 10, the seed's)
#   OUT_DIR where results.tsv and table.md go (default: a new temporary dir)
#   ALLOCATORS comma list (default: all): glibc, hakmem:PRESET, mimalloc,
#           jemalloc, tcmalloc
# Builds larson and libhakmem.so in a release tree ($BUILD_DIR, default
# build-release/ at the project root). The Debian allocators come from
# scripts/install-deps.sh (libmimalloc-dev, libjemalloc-dev,
# libtcmalloc-minimal4); one that is missing is reported and skipped.
set -euo pipefail

root=$(cd "$(dirname "$0")/../../.." && pwd)
build=${BUILD_DIR:-$root/build-release}
runs=3
sleep_s=10
out=""
allocs="" # default: glibc, hakmem:PRESET for every preset but none, mimalloc, jemalloc, tcmalloc
while getopts "r:s:o:a:h" opt; do
  case $opt in
    r) runs=$OPTARG ;;
    s) sleep_s=$OPTARG ;;
    o) out=$OPTARG ;;
    a) allocs=$OPTARG ;;
    *) sed -n '2,35s/^# \{0,1\}//p' "$0"; exit 2 ;;
  esac
done
[ -n "$out" ] || out=$(mktemp -d "${TMPDIR:-/tmp}/larson-compare.XXXXXX")
mkdir -p "$out"

if [ -d "$build" ]; then
  meson configure "$build" -Dbuildtype=release >/dev/null
else
  meson setup "$build" "$root" -Dbuildtype=release >/dev/null
fi
ninja -C "$build" allocator/preload/larson allocator/preload/libhakmem.so allocator/hakmem-options >&2
if [ -z "$allocs" ]; then
  presets=$("$build/allocator/hakmem-options" --presets | grep -vx none | sed 's/^/hakmem:/' | paste -sd, -)
  allocs="glibc,$presets,mimalloc,jemalloc,tcmalloc"
fi
larson=$build/allocator/preload/larson
hakmem=$build/allocator/preload/libhakmem.so
timebin=/usr/bin/time
[ -x "$timebin" ] || { echo "compare.sh: $timebin missing (Debian package time)" >&2; exit 2; }

# The Debian package's library, found with dpkg -L (first .so.N match).
deb_lib() {
  dpkg -L "$1" 2>/dev/null | grep -E "/$2\.so\.[0-9]+$" | head -n 1
}
declare -A lib
lib[mimalloc]=$(deb_lib libmimalloc2.0 libmimalloc)
lib[jemalloc]=$(deb_lib libjemalloc2 libjemalloc)
lib[tcmalloc]=$(deb_lib libtcmalloc-minimal4 libtcmalloc_minimal)

configs=("seed|8 128 1024 1 12345 4" "mimalloc-bench|8 1000 5000 100 4141 2")
IFS=, read -r -a alloc_list <<<"$allocs"

model=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)
{
  echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "# machine: ${model:-unknown}, $(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GiB, kernel $(uname -r), vm.max_map_count $(cat /proc/sys/vm/max_map_count)"
  echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# command: $0 -r $runs -s $sleep_s -a $allocs"
} | tee "$out/header.txt" >&2

results=$out/results.tsv
printf 'config\tallocator\trun\tstatus\tops_per_s\tpeak_rss_kib\tss_allocated\tss_freed\tss_peak\tooms\n' >"$results"

run_one() { # config args allocator run
  local cfg=$1 args=$2 al=$3 r=$4 pre="" env_extra=()
  case $al in
    glibc) ;;
    hakmem:*) pre=$hakmem
      env_extra=(HAKMEM_PRESET="${al#hakmem:}" HAKMEM_SS_MAP_LIMIT=65530 HAKMEM_STATS=1) ;;
    *) pre=${lib[$al]:-}
      if [ -z "$pre" ]; then echo "compare.sh: $al not installed, skipped" >&2; return; fi ;;
  esac
  local st=0
  # time measures the benchmark alone: the preload goes on larson, not on time.
  $timebin -f %M -o "$out/rss" env ${pre:+LD_PRELOAD=$pre} "${env_extra[@]}" \
    "$larson" "$sleep_s" $args >"$out/stdout" 2>"$out/stderr" || st=$?
  local ops rss a f p o
  ops=$(sed -n 's/^Throughput = *\([0-9]*\) operations.*/\1/p' "$out/stdout")
  rss=$(grep -E '^[0-9]+$' "$out/rss" | tail -n 1)
  hstat() { sed -n "s/.*\[hakmem\] pid=.* $1=\([0-9]*\).*/\1/p" "$out/stderr" | tail -n 1; }
  a=$(hstat ss_allocated) f=$(hstat ss_freed) p=$(hstat ss_peak) o=$(hstat ooms)
  local status=ok
  [ "$st" -eq 3 ] && status=oom
  [ "$st" -ne 0 ] && [ "$st" -ne 3 ] && status="exit$st"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cfg" "$al" "$r" "$status" "${ops:-0}" \
    "${rss:-0}" "${a:--}" "${f:--}" "${p:--}" "${o:--}" >>"$results"
  printf '%-15s %-18s run %s: %-5s %10s ops/s %8s KiB%s\n' "$cfg" "$al" "$r" "$status" \
    "${ops:-0}" "${rss:-0}" "${a:+  ss alloc=$a freed=$f peak=$p ooms=$o}" >&2
  if [ "$status" != ok ]; then grep -v '^\[hakmem\] pid=' "$out/stderr" | head -n 3 | sed 's/^/    /' >&2; fi
}

for r in $(seq 1 "$runs"); do
  for c in "${configs[@]}"; do
    for al in "${alloc_list[@]}"; do
      run_one "${c%%|*}" "${c#*|}" "$al" "$r"
    done
  done
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/header.txt" >&2

# The seed's failure, run to its end: seed-buggy on the seed's configuration
# for up to FAIL_SLEEP seconds (default 300), stopped by the map limit.
fail_sleep=${FAIL_SLEEP:-300}
fail_md=$out/failure.md
if [[ ",$allocs," == *",hakmem:seed-buggy,"* ]] && [ "$fail_sleep" -gt 0 ]; then
  st=0
  $timebin -f %M -o "$out/rss" env LD_PRELOAD="$hakmem" HAKMEM_PRESET=seed-buggy \
    HAKMEM_SS_MAP_LIMIT=65530 HAKMEM_STATS=1 "$larson" "$fail_sleep" 8 128 1024 1 12345 4 \
    >"$out/fail.stdout" 2>"$out/fail.stderr" || st=$?
  {
    echo ""
    echo "### seed-buggy until the map limit (larson $fail_sleep 8 128 1024 1 12345 4, HAKMEM_SS_MAP_LIMIT=65530)"
    echo ""
    echo "exit status $st; peak RSS $(( $(grep -E '^[0-9]+$' "$out/rss" | tail -n 1) / 1024 )) MiB"
    echo ""
    echo '```'
    cat "$out/fail.stdout"
    grep -v '^\[hakmem\] pid=' "$out/fail.stderr" || true
    grep -o '\[hakmem\] pid=.* ss_peak=[0-9]*' "$out/fail.stderr" || true
    grep -o ' ooms=[0-9]*' "$out/fail.stderr" | head -n 1 || true
    echo '```'
  } | tee "$fail_md"
fi

# Medians and the table (awk: no Python needed for the benchmark).
awk -F'\t' -v runs="$runs" '
function median(list,   n, v, i, j, t) {
  n = split(list, v, " ")
  for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
  return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function minmax(list, want,   n, v, i, m) {
  n = split(list, v, " "); m = v[1] + 0
  for (i = 2; i <= n; i++) if ((want == "min" && v[i] + 0 < m) || (want == "max" && v[i] + 0 > m)) m = v[i] + 0
  return m
}
NR == 1 { next }
{
  k = $1 SUBSEP $2
  if (!(k in seen)) { seen[k] = 1; order[$1] = order[$1] SUBSEP $2; if (!($1 in cseen)) { cseen[$1] = 1; corder[++nc] = $1 } }
  ops[k] = ops[k] " " $5; rss[k] = rss[k] " " $6
  if ($7 != "-") { ssa[k] = ssa[k] " " $7; ssf[k] = ssf[k] " " $8; ssp[k] = ssp[k] " " $9 }
  if ($4 != "ok") bad[k] = bad[k] (bad[k] ? "," : "") $4
}
END {
  for (ci = 1; ci <= nc; ci++) {
    c = corder[ci]; n = split(substr(order[c], 2), al, SUBSEP); best = 0
    for (i = 1; i <= n; i++) { k = c SUBSEP al[i]; m[k] = median(ops[k]); if (m[k] > best) best = m[k] }
    printf "\n### %s\n\n", c
    printf "| allocator | ops/s median [min-max] | vs fastest | peak RSS MiB (median) | SuperSlabs alloc / freed / peak (median) | failures |\n"
    printf "|---|---|---|---|---|---|\n"
    for (i = 1; i <= n; i++) {
      k = c SUBSEP al[i]
      ss = (k in ssa) ? sprintf("%d / %d / %d", median(ssa[k]), median(ssf[k]), median(ssp[k])) : ""
      printf "| %s | %.2fM [%.2f-%.2f] | %.2f | %.1f | %s | %s |\n", al[i], m[k] / 1e6, minmax(ops[k], "min") / 1e6,
        minmax(ops[k], "max") / 1e6, best ? m[k] / best : 0, median(rss[k]) / 1024, ss, (k in bad) ? bad[k] : ""
    }
  }
}' "$results" | tee "$out/table.md"
echo "compare.sh: results in $out (results.tsv, table.md, failure.md, header.txt)" >&2
