#!/usr/bin/env bash
# run.sh: the allocator benchmark suite. Plain malloc/free programs
# (allocator/bench/suite/*.c and allocator/bench/larson/larson.c) run under
# glibc, tcmalloc, mimalloc, jemalloc and libhakmem.so (LD_PRELOAD), in one
# interleaved run: run 1 of every row and allocator, then run 2, ... (each
# run starts one allocator further down the list), so the machine's
# drifting load falls on all of them alike.
#
# Rows (P = $SUITE_PROCS threads, default 2; S = -s seconds):
#   larson-std      larson S 8 1000 5000 100 4141 P     mimalloc-bench's Larson
#   larson-seed     larson S 8 128 1024 1 12345 4       the seed's Larson (detached threads)
#   larson-seed-nj  larson --never-join N 8 128 1024 1 12345 4   the same with the
#                   original's never-joined threads; N = min(S, $SUITE_NJ_SECONDS,
#                   default 1): every thread leaks two mappings, and at the
#                   10,000-12,500 threads/s seen here the process reaches
#                   vm.max_map_count (65,530) after about 3 s; a run that gets
#                   there anyway exits 3 (marked oom). Its RSS is mostly the
#                   leaked stacks, so it grows with the speed
#   mt-sizes        mt-sizes -t S P           glibc's bench-malloc-thread: 4 B..32 KiB
#   xmalloc         xmalloc -w P -t S -s 64   xmalloc-test: producers malloc, consumers free
#   cache-scratch   cache-scratch -t S P 1 2000000   Hoard's cache-scratch: false sharing
#   pair16, pair64  pair -t S 16 (64)         one thread, malloc/write/free
# hakmem:seed-buggy is not run on larson-seed and larson-seed-nj: it frees
# no SuperSlab there and reaches the map limit within seconds (the seed's
# failure; allocator/bench/larson/compare.sh reproduces it to the end).
#
# Reports per row a markdown table: median ops/s [min-max] over the runs,
# its ratio to the best median of glibc/tcmalloc/mimalloc/jemalloc (the
# "best of four"), the median peak RSS (/usr/bin/time -f %M of the
# benchmark process alone) and its ratio to the lowest of the four, and the
# runs that failed (oom: exit 3, timeout, exitN). Runs that failed after
# printing a result line still count in the median.
#
# Usage: run.sh [-r RUNS] [-s SECONDS] [-o OUT_DIR] [-a ALLOCATORS] [-w ROWS]
#   -r RUNS     runs per row and allocator (default 5)
#   -s SECONDS  whole seconds per run (default 5)
#   -o OUT_DIR  where header.txt, results.tsv (one line per run, with the
#               result line's other fields, e.g. cache-scratch's
#               shared_lines and min_gap) and table.md go (default: a new
#               temporary directory); logs/ keeps failed runs' stderr
#   -a LIST     comma list (default glibc,tcmalloc,mimalloc,jemalloc,
#               hakmem:adopt,hakmem:phase1,hakmem:seed-buggy): glibc,
#               tcmalloc, mimalloc, jemalloc, hakmem:PRESET (the library
#               built here), NAME@PATH:PRESET (another libhakmem.so, shown as
#               NAME:PRESET, e.g. old@/tmp/old/libhakmem.so:adopt)
#   -w LIST     comma list of rows (default: all, in the order above)
# Quick smoke test: run.sh -r 1 -s 1 (about two minutes).
# Every hakmem run has HAKMEM_PRESET=PRESET and HAKMEM_SS_MAP_LIMIT=65530.
# Builds the programs and libhakmem.so in a release tree ($BUILD_DIR,
# default build-release/ at the project root). The Debian allocators come
# from scripts/install-deps.sh; one that is missing is reported and skipped.
set -euo pipefail

root=$(cd "$(dirname "$0")/../../.." && pwd)
build=${BUILD_DIR:-$root/build-release}
procs=${SUITE_PROCS:-2}
nj_cap=${SUITE_NJ_SECONDS:-1}
runs=5
secs=5
out=""
allocs="glibc,tcmalloc,mimalloc,jemalloc,hakmem:adopt,hakmem:phase1,hakmem:seed-buggy"
all_rows="larson-std,larson-seed,larson-seed-nj,mt-sizes,xmalloc,cache-scratch,pair16,pair64"
rows=$all_rows
command_line="$0 $*"
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//p}' "$0" >&2; exit 2; }
die() { echo "run.sh: $*" >&2; exit 2; }
while getopts "r:s:o:a:w:h" opt; do
  case $opt in
    r) runs=$OPTARG ;;
    s) secs=$OPTARG ;;
    o) out=$OPTARG ;;
    a) allocs=$OPTARG ;;
    w) rows=$OPTARG ;;
    *) usage ;;
  esac
done
[ $OPTIND -gt $# ] || usage
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "-r wants a whole number of runs, got '$runs'"
[[ $secs =~ ^[1-9][0-9]*$ ]] || die "-s wants whole seconds (larson's SLEEP), got '$secs'"
[[ $procs =~ ^[1-9][0-9]*$ ]] || die "SUITE_PROCS wants a whole number, got '$procs'"
[[ $nj_cap =~ ^[1-9][0-9]*$ ]] || die "SUITE_NJ_SECONDS wants whole seconds, got '$nj_cap'"
nj_secs=$((secs < nj_cap ? secs : nj_cap))
timebin=/usr/bin/time
[ -x "$timebin" ] || die "$timebin missing (Debian package time: scripts/install-deps.sh)"
IFS=, read -r -a row_list <<<"$rows"
for w in "${row_list[@]}"; do
  [[ ",$all_rows," == *",$w,"* ]] || die "unknown row '$w' (rows: $all_rows)"
done

# Each run's environment is set here alone.
unset LD_PRELOAD
for v in $(env | sed -n 's/^\(HAKMEM_[A-Z0-9_]*\)=.*/\1/p'); do unset "$v"; done

larson=$build/allocator/preload/larson
bin=$build/allocator/bench/suite
hakmem=$build/allocator/preload/libhakmem.so

# Allocators: label -> library ("" for glibc) and hakmem preset.
deb_lib() { # the Debian package's library, found with dpkg -L (first .so.N)
  dpkg -L "$1" 2>/dev/null | grep -E "/$2\.so\.[0-9]+$" | head -n 1
}
declare -A lib preset
labels=()
add_alloc() { # label library preset
  [ -z "${lib[$1]+x}" ] || die "allocator '$1' given twice (name another build NAME@PATH:PRESET)"
  lib[$1]=$2
  preset[$1]=$3
  labels+=("$1")
}
IFS=, read -r -a alloc_list <<<"$allocs"
for a in "${alloc_list[@]}"; do
  case $a in
    glibc) add_alloc glibc "" "" ;;
    mimalloc | jemalloc | tcmalloc)
      case $a in
        mimalloc) l=$(deb_lib libmimalloc2.0 libmimalloc) ;;
        jemalloc) l=$(deb_lib libjemalloc2 libjemalloc) ;;
        tcmalloc) l=$(deb_lib libtcmalloc-minimal4 libtcmalloc_minimal) ;;
      esac
      if [ -z "$l" ]; then echo "run.sh: $a not installed (scripts/install-deps.sh), skipped" >&2; continue; fi
      add_alloc "$a" "$l" "" ;;
    hakmem:?*) add_alloc "$a" "$hakmem" "${a#hakmem:}" ;;
    ?*@?*:?*)
      name=${a%%@*} rest=${a#*@}
      l=${rest%:*}
      [ -f "$l" ] || die "$a: no library at $l"
      add_alloc "$name:${rest##*:}" "$(realpath "$l")" "${rest##*:}" ;;
    *) die "unknown allocator '$a' (glibc, tcmalloc, mimalloc, jemalloc, hakmem:PRESET, NAME@PATH:PRESET)" ;;
  esac
done
[ ${#labels[@]} -gt 0 ] || die "no allocator to run"

# The release build of the programs and of libhakmem.so (its log shown only
# if it fails).
if [ -d "$build" ]; then
  step=(meson configure "$build" -Dbuildtype=release)
else
  step=(meson setup "$build" "$root" -Dbuildtype=release)
fi
log=$("${step[@]}" 2>&1) || { echo "$log" >&2; die "${step[*]} failed"; }
echo "run.sh: building in $build" >&2
log=$(ninja -C "$build" allocator/preload/larson allocator/preload/libhakmem.so \
  allocator/bench/suite/{pair,mt-sizes,xmalloc,cache-scratch} 2>&1) \
  || { echo "$log" >&2; die "the build in $build failed"; }

# row -> command (in cmd), the unit of its ops, and why an allocator skips it.
row_cmd() {
  case $1 in
    larson-std) cmd=("$larson" "$secs" 8 1000 5000 100 4141 "$procs") ;;
    larson-seed) cmd=("$larson" "$secs" 8 128 1024 1 12345 4) ;;
    larson-seed-nj) cmd=("$larson" --never-join "$nj_secs" 8 128 1024 1 12345 4) ;;
    mt-sizes) cmd=("$bin/mt-sizes" -t "$secs" "$procs") ;;
    xmalloc) cmd=("$bin/xmalloc" -w "$procs" -t "$secs" -s 64) ;;
    cache-scratch) cmd=("$bin/cache-scratch" -t "$secs" "$procs" 1 2000000) ;;
    pair16) cmd=("$bin/pair" -t "$secs" 16) ;;
    pair64) cmd=("$bin/pair" -t "$secs" 64) ;;
  esac
}
row_unit() {
  case $1 in
    larson-*) echo "operations (a free and a malloc)" ;;
    mt-sizes) echo "iterations (a free and a malloc)" ;;
    xmalloc) echo "frees (of blocks another thread allocated)" ;;
    cache-scratch) echo "byte writes (each read back)" ;;
    pair*) echo "malloc/free pairs" ;;
  esac
}
excluded() { # row label: prints the reason, or nothing
  if [ "${preset[$2]}" = seed-buggy ] && [[ $1 == larson-seed* ]]; then
    echo "frees no SuperSlab on this configuration and reaches the map limit within seconds"
  fi
}

[ -n "$out" ] || out=$(mktemp -d "${TMPDIR:-/tmp}/bench-suite.XXXXXX")
mkdir -p "$out/logs"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/bench-suite-run.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

model=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ] || commit="$commit (modified)"
{
  echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "# machine: ${model:-unknown}, $(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GiB, kernel $(uname -r), vm.max_map_count $(cat /proc/sys/vm/max_map_count)"
  echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# command: $command_line"
  echo "# commit: $commit; runs $runs, $secs s each (larson-seed-nj $nj_secs s), $procs threads"
  for a in "${labels[@]}"; do
    echo "# allocator $a: ${lib[$a]:-glibc $(ldd --version | head -n 1 | awk '{print $NF}')}${preset[$a]:+ HAKMEM_PRESET=${preset[$a]}}"
  done
} | tee "$out/header.txt" >&2

# rows.tsv: what the table needs to say about each row.
for w in "${row_list[@]}"; do
  row_cmd "$w"
  shown=("${cmd[@]}")
  shown[0]=${shown[0]##*/}
  skip=""
  for a in "${labels[@]}"; do
    r=$(excluded "$w" "$a")
    [ -z "$r" ] || skip="$skip${skip:+; }$a: $r"
  done
  printf '%s\t%s\t%s\t%s\n' "$w" "${shown[*]}" "$(row_unit "$w")" "$skip"
done >"$out/rows.tsv"

results=$out/results.tsv
printf 'row\tallocator\trun\tstatus\tops_per_s\tpeak_rss_kib\twall_s\tmore\n' >"$results"

run_one() { # row label run
  local w=$1 a=$2 r=$3 st=0 env_args=(env)
  [ -z "$(excluded "$w" "$a")" ] || return 0
  row_cmd "$w"
  [ -z "${lib[$a]}" ] || env_args+=(LD_PRELOAD="${lib[$a]}")
  [ -z "${preset[$a]}" ] || env_args+=(HAKMEM_PRESET="${preset[$a]}" HAKMEM_SS_MAP_LIMIT=65530)
  local t0 t1
  t0=$(date +%s.%N)
  # time measures the benchmark alone: the preload is set by env, under it.
  timeout -k 5 $((secs * 3 + 60)) "$timebin" -f %M -o "$scratch/rss" "${env_args[@]}" "${cmd[@]}" \
    >"$scratch/stdout" 2>"$scratch/stderr" || st=$?
  t1=$(date +%s.%N)
  local ops rss more status=ok
  ops=$(sed -n 's/^result: ops_per_s=\([0-9]*\) .*/\1/p' "$scratch/stdout" | tail -n 1)
  # The result line's own fields after unit= (e.g. cache-scratch's shared_lines).
  more=$(sed -n 's/^result: .* unit=[^ ]* *//p' "$scratch/stdout" | tail -n 1)
  rss=$(grep -E '^[0-9]+$' "$scratch/rss" 2>/dev/null | tail -n 1 || true)
  case $st in
    0) ;;
    3) status=oom ;;
    124 | 137) status=timeout ;;
    *) status=exit$st ;;
  esac
  [ -n "$ops" ] || { [ "$status" != ok ] || status=noresult; ops=-; }
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$a" "$r" "$status" "$ops" "${rss:--}" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')" "$more" >>"$results"
  printf '[%s/%s] %-14s %-20s %-8s %12s ops/s %10s KiB\n' "$r" "$runs" "$w" "$a" "$status" "$ops" \
    "${rss:--}" >&2
  if [ "$status" != ok ]; then
    cp "$scratch/stderr" "$out/logs/$w.${a//[^A-Za-z0-9_.-]/_}.$r.stderr"
    head -n 2 "$scratch/stderr" | sed 's/^/    /' >&2
  fi
}

n=${#labels[@]}
for r in $(seq 1 "$runs"); do
  for w in "${row_list[@]}"; do
    for i in $(seq 0 $((n - 1))); do
      run_one "$w" "${labels[$(((i + r - 1) % n))]}" "$r"
    done
  done
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/header.txt" >&2

"$(dirname "$0")/table.awk" "$out/rows.tsv" "$results" | tee "$out/table.md"
echo "run.sh: results in $out (header.txt, results.tsv, table.md, logs/)" >&2
