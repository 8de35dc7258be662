#!/usr/bin/env bash
# A real program's run, plotted: larson under libhakmem.so writes its census
# every 10 ms (HAKMEM_SAMPLE_FILE), and `hakreplay plot` draws the sample
# file (the plots a real process can show: ladder, SuperSlabs, remote frees).
# usage: plot_samples.sh HAKREPLAY LIBHAKMEM LARSON SANITIZE
set -euo pipefail
hakreplay=$1 lib=$2 larson=$3 sanitize=$4
if [ "$sanitize" != none ]; then
  echo "skipped: libhakmem.so is not preloaded in sanitizer builds (docs/preload.md)"
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
LD_PRELOAD=$lib HAKMEM_PRESET=phase1 HAKMEM_SAMPLE_MS=10 HAKMEM_SAMPLE_FILE="$dir/s.jsonl" \
  "$larson" 1 8 128 1024 1 12345 4 > /dev/null
lines=$(wc -l < "$dir/s.jsonl")
[ "$lines" -ge 20 ] || { echo "only $lines sample lines"; exit 1; }
"$hakreplay" plot "$dir/s.jsonl" -o "$dir/plots"
for p in ladder superslabs remote; do
  [ -s "$dir/plots/$p.png" ] || { echo "no $p.png"; exit 1; }
done
for p in occupancy trim drift; do # they need ground truth or events
  [ ! -e "$dir/plots/$p.png" ] || { echo "unexpected $p.png"; exit 1; }
done
grep -q 'superslabs.png' "$dir/plots/index.html"
# A malformed line is bad input: exit 2, one line naming the file and line.
echo '{"t":' >> "$dir/s.jsonl"
set +e
err=$("$hakreplay" plot "$dir/s.jsonl" -o "$dir/p2" 2>&1); rc=$?
set -e
[ "$rc" -eq 2 ] || { echo "malformed sample file: exit $rc"; exit 1; }
echo "$err" | grep -q "s.jsonl:$((lines + 1)): not a libhakmem.so sample line"
echo "ok: $lines samples plotted"
