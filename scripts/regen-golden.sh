#!/usr/bin/env bash
# Regenerates every golden file and fixture of the project from the code as
# it is, after a change that moves them on purpose (an allocator change, a
# new field in run.json, a generator change), so they are never edited by
# hand and never go stale:
#
#   bash scripts/regen-golden.sh            # then review: git diff --stat
#
#   1. traces/tests/golden/larson-model.jsonl  the Larson trace the Python
#      model writes (traces/tests/larson_model.py), pinned for traces.larson
#   2. traces/samples/larson-small.jsonl       by its "regenerate:" command
#      in traces/samples/README.md (and the event count written there)
#   3. sim/tests/golden/*                      the replayer's golden runs and
#      --ss-detail file (HR_UPDATE_GOLDEN=1 meson test sim.replay); the
#      analysis tests read these as their fixtures
#   4. analysis/tests/golden/*                 plot's data files of those
#      runs (HA_UPDATE_GOLDEN=1 meson test analysis.data)
#   5. analysis/baselines/larson-gate.*.json   the leak gate's baselines:
#      every "recorded" value, the trace's event count and identity are
#      set from a fresh run of the gate (analysis/tests/gate.sh); the bounds
#      and notes written by hand stay, and the gate must pass with them
#   6. the option tables in docs/allocator.md and docs/preload.md
#      (scripts/options-doc.sh)
#
# then runs the whole test suite (NO_TEST=1 skips it).  The order matters:
# the sample trace feeds the replayer's goldens, which feed the analysis
# goldens.  Environment: BUILD_DIR (default build; set up if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${BUILD_DIR:-build}
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Dtests=enabled >/dev/null
fi
ninja -C "$build" >/dev/null
hk=$root/$build/traces/haktrace
hr=$root/$build/sim/hakreplay
step() { printf '== %s\n' "$*"; }

step "1. the Larson model's trace"
python3 traces/tests/larson_model.py --golden traces/tests/golden/larson-model.jsonl

step "2. traces/samples/larson-small.jsonl"
cmd=$(sed -n 's/^regenerate: haktrace //p' traces/samples/README.md | head -1)
out=$(echo "$cmd" | sed 's/.* -o //')
[ "$out" = larson-small.jsonl ] || { echo "unexpected regenerate line: $cmd" >&2; exit 2; }
# shellcheck disable=SC2086
(cd traces/samples && "$hk" $cmd)
n=$("$hk" validate traces/samples/larson-small.jsonl | sed -n 's/.*: ok, \([0-9]*\) events.*/\1/p')
sed -i "s/^| \`larson-small.jsonl\` | \(.*\) ([0-9,]* events) |/| \`larson-small.jsonl\` | \1 ($n events) |/" \
  traces/samples/README.md
grep -q "($n events)" traces/samples/README.md || { echo "README.md: event count not updated" >&2; exit 2; }

step "3. the replayer's golden runs"
HR_UPDATE_GOLDEN=1 meson test -C "$build" sim.replay --print-errorlogs >/dev/null

step "4. plot's golden data files"
HA_UPDATE_GOLDEN=1 meson test -C "$build" analysis.data --print-errorlogs >/dev/null

step "5. the leak gate's baselines"
keep=$(mktemp -d "${TMPDIR:-/tmp}/regen-gate.XXXXXX")
trap 'rm -rf "$keep"' EXIT
GATE_KEEP=$keep sh analysis/tests/gate.sh "$hk" "$hr" analysis/baselines >/dev/null || true
for f in analysis/baselines/larson-gate.*.json; do
  v=${f#analysis/baselines/larson-gate.}
  v=${v%.json}
  python3 - "$f" "$keep/$v.json" <<'PY'
import json, sys
from collections import OrderedDict
path, run_path = sys.argv[1], sys.argv[2]
b = json.load(open(path), object_pairs_hook=OrderedDict)
run = json.load(open(run_path))
def get(doc, dotted):
    cur = doc
    for k in dotted.split("."):
        cur = cur[int(k)] if isinstance(cur, list) else cur[k]
    return cur
rf = b.get("recorded_from", {})
if "trace_hash" in rf:
    rf["trace_hash"] = run["trace"]["hash"]
if "trace_meta" in rf:
    rf["trace_meta"] = run["trace"]["meta"]
for metric, bound in b["metrics"].items():
    if "recorded" in bound:
        bound["recorded"] = get(run, metric)
    if metric == "trace.events" and "equals" in bound:
        bound["equals"] = get(run, metric)
open(path, "w").write(json.dumps(b, indent=2) + "\n")
PY
done
sh analysis/tests/gate.sh "$hk" "$hr" analysis/baselines >/dev/null ||
  { echo "the gate fails with the refreshed baselines: a bound written by hand no longer holds" >&2; exit 1; }

step "6. the option tables in the docs"
sh scripts/options-doc.sh "$build/allocator/hakmem-options" docs/allocator.md docs/preload.md

if [ "${NO_TEST:-0}" != 1 ]; then
  step "the whole test suite"
  meson test -C "$build" --print-errorlogs >/dev/null
fi
step "changed:"
git status --short -- traces/tests/golden traces/samples sim/tests/golden analysis/tests/golden \
  analysis/baselines docs/allocator.md docs/preload.md
