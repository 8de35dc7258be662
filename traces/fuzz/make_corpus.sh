#!/bin/sh
# make_corpus.sh DIR — seed inputs for fuzz_reader: the samples and a few
# small generated traces in all three encodings, each prefixed with the
# byte that selects its encoding (0 .json, 1 .jsonl, 2 .hkt).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dir=$1
hk=${HAKTRACE:-$(ls "$root"/build*/traces/haktrace 2>/dev/null | head -1)}
[ -x "$hk" ] || { echo "build haktrace first (meson/ninja)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$root/traces/samples/every-op.json" "$tmp/a.json"
"$hk" gen larson --threads 2 --chunks 4 --generations 2 -o "$tmp/b.json"
"$hk" gen churn --waves 2 --width 2 --allocs 4 --survivors 1 -o "$tmp/c.json"
for s in a b c; do
    "$hk" convert "$tmp/$s.json" "$tmp/$s.jsonl"
    "$hk" convert "$tmp/$s.json" "$tmp/$s.hkt"
    { printf '\000'; cat "$tmp/$s.json"; } > "$dir/$s-json"
    { printf '\001'; cat "$tmp/$s.jsonl"; } > "$dir/$s-jsonl"
    { printf '\002'; cat "$tmp/$s.hkt"; } > "$dir/$s-hkt"
done
