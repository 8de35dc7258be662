#!/bin/sh
# run.sh [RUNS] — builds the libFuzzer target for the trace parsers with
# clang (ASan + UBSan) into build-fuzz/ and runs it for RUNS executions in
# total (default 10,000,000) from the seed corpus, split over JOBS
# processes (default 1; logs in build-fuzz/fuzz-N.log when JOBS > 1).
# Not part of the meson build; needs a built haktrace for the corpus.
# FUZZ=jsonl_line runs the differential target for the .jsonl fast path
# instead (fuzz_jsonl_line.c; corpus: the event lines of the samples).
#   traces/fuzz/run.sh               # 10 M executions
#   JOBS=2 traces/fuzz/run.sh        # the same on two cores
#   traces/fuzz/run.sh 100000        # a quick check
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
runs=${1:-10000000}
out=$root/build-fuzz
mkdir -p "$out/corpus"
target=fuzz_${FUZZ:-reader}
clang -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -I"$root/traces/include" -I"$root/traces/src" \
    -I"$root/common/include" "$here/$target.c" "$root"/traces/src/*.c "$root"/common/src/*.c \
    -ljansson -o "$out/$target"
if [ "$target" = fuzz_reader ]; then
    # Seed corpus: the samples in each encoding (first byte = encoding).
    corpus=corpus
    "$here/make_corpus.sh" "$out/corpus"
else
    corpus=corpus-lines
    mkdir -p "$out/$corpus"
    i=0
    tail -n +2 "$root/traces/samples/larson-small.jsonl" | head -20 | while IFS= read -r l; do
        printf '%s' "$l" > "$out/$corpus/l$i"; i=$((i + 1)); done
    grep '^ *\[' "$root/traces/samples/every-op.json" | sed 's/,$//' | while IFS= read -r l; do
        printf '%s' "$l" > "$out/$corpus/e$i"; i=$((i + 1)); done
fi
jobs=${JOBS:-1}
cd "$out"
if [ "$jobs" -gt 1 ]; then
    exec ./$target -runs=$((runs / jobs)) -jobs="$jobs" -workers="$jobs" -max_len=4096 \
        -dict="$here/trace.dict" -print_final_stats=1 $corpus
fi
exec ./$target -runs="$runs" -max_len=4096 -dict="$here/trace.dict" \
    -print_final_stats=1 $corpus
