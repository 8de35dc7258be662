#!/bin/sh
# run.sh [RUNS] — builds the libFuzzer target for the run.json readers
# (fuzz_run.c: plot's data files, compare's tables, check's baselines,
# sample files, --ss-detail) with clang (ASan + UBSan) into build-fuzz/ and
# runs it for RUNS executions in total (default 2,000,000) from the seed
# corpus: the replayer's golden runs and their --ss-detail file, a
# libhakmem.so sample file and the gate's baselines, each behind the byte
# that selects its reader.  JOBS=N splits the runs over N processes.
# Not part of the meson build.
#   analysis/fuzz/run.sh              # 2 M executions
#   JOBS=2 analysis/fuzz/run.sh 10000000
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
runs=${1:-2000000}
out=$root/build-fuzz
mkdir -p "$out/corpus-run"
cc=${CC:-clang}
# The embedded gnuplot scripts and run.schema.json, as meson makes them.
$cc -O1 -o "$out/ha-embed" "$root/analysis/tools/embed.c"
"$out/ha-embed" "$out/ha_scripts.c" "$root"/analysis/gp/*.gp "$root/docs/run.schema.json"
$cc -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -I"$root/analysis/include" -I"$root/analysis/src" \
    -I"$root/common/include" "$here/fuzz_run.c" "$out/ha_scripts.c" \
    $(ls "$root"/analysis/src/*.c | grep -v -e /check_main.c -e /compare.c) \
    "$root"/common/src/*.c -ljansson -lm -o "$out/fuzz_run"
g=$root/sim/tests/golden
c=$out/corpus-run
for f in "$g"/*.json; do { printf '\000'; cat "$f"; } > "$c/run-$(basename "$f")"; done
printf '\001{"t":0,"ss_mapped_bytes":2097152,"ss":{"live":1,"orphaned":0},"frees":{"local":1,"remote":2,"remote_ratio":0.66}}\n{"t":5,"ss_mapped_bytes":0}\n' > "$c/samples"
for f in "$root"/analysis/baselines/*.json; do { printf '\002'; cat "$f"; } > "$c/base-$(basename "$f")"; done
{ printf '\003'; cat "$g/larson-small.phase1.ss.jsonl"; } > "$c/ssdetail"
export FUZZ_RUN="$g/larson-small.phase1.json"
export FUZZ_BASELINES="$root/analysis/baselines/larson-gate.phase1.json:$root/analysis/baselines/larson-gate.adopt.json:$root/analysis/baselines/larson-gate.seed-buggy.json"
jobs=${JOBS:-1}
cd "$out"
if [ "$jobs" -gt 1 ]; then
    exec ./fuzz_run -runs=$((runs / jobs)) -jobs="$jobs" -workers="$jobs" -max_len=65536 \
        -dict="$here/run.dict" -print_final_stats=1 corpus-run
fi
exec ./fuzz_run -runs="$runs" -max_len=65536 -dict="$here/run.dict" -print_final_stats=1 corpus-run
