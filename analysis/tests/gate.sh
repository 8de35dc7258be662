#!/bin/sh
# gate.sh: the CI leak gate (meson test analysis.gate, suite gate).
# Generates a reduced seed-scenario Larson trace (4 threads, 8..128 bytes,
# 1024 chunks, 1 round, seed 12345, 40 generations, glibc's per-thread DTV
# calloc: ~365,000 events, 161 threads), replays it with --ops-per-ms 100
# (so the presets' 100 ms idle trim runs every 10,000 events) under phase1,
# adopt and seed-buggy, and
# checks each run against analysis/baselines/larson-gate.VARIANT.json:
# adopt must not leak SuperSlabs, phase1 must not leak more than it does
# (one 512-byte-class SuperSlab per dead thread, holding the DTV glibc
# callocs for its successor), seed-buggy must still leak.
#   gate.sh HAKTRACE HAKREPLAY BASELINE_DIR
# GATE_KEEP=DIR keeps the three runs there as VARIANT.json (what
# scripts/regen-golden.sh refreshes the baselines from).
set -u
haktrace=$1 hakreplay=$2 baselines=$3
tmp=$(mktemp -d /tmp/ha-gate-XXXXXX) || exit 4
trap 'rm -rf "$tmp"' EXIT

"$haktrace" gen larson --threads 4 --min 8 --max 128 --chunks 1024 --rounds 1 \
  --seed 12345 --generations 40 -o "$tmp/larson-gate.hkt" || exit 4

status=0
for v in phase1 adopt seed-buggy; do
  "$hakreplay" "$tmp/larson-gate.hkt" --variant "$v" --ops-per-ms 100 --quiet \
    -o "$tmp/$v.json"
  rc=$?
  # Exit 3 (out of memory) still writes the run; its baseline says oom false.
  if [ $rc -ne 0 ] && [ $rc -ne 3 ]; then
    echo "gate: replay under $v exited $rc" >&2
    exit 4
  fi
  [ -n "${GATE_KEEP:-}" ] && cp "$tmp/$v.json" "$GATE_KEEP/$v.json"
  echo "== $v"
  "$hakreplay" check "$tmp/$v.json" --baseline "$baselines/larson-gate.$v.json"
  rc=$?
  [ $rc -gt $status ] && status=$rc  # the worst: 2 (bad baseline) over 1 (regression)
done
exit $status
