#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs every test: the README's test
# command and what CI runs (.ci/run).
#   bash scripts/test.sh            # build in build/, run `meson test`
# Environment: BUILD_DIR (default build), MESON_TEST_ARGS (extra arguments,
# e.g. "--suite allocator").
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

build=${BUILD_DIR:-build}
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Dwerror=true -Dtests=enabled
else
  meson configure "$build" -Dwerror=true -Dtests=enabled >/dev/null
fi
ninja -C "$build"

status=0
# shellcheck disable=SC2086
meson test -C "$build" --print-errorlogs ${MESON_TEST_ARGS:-} || status=$?

# One plain closing line, whatever meson's own summary looks like.
log="$build/meson-logs/testlog.json"
if [ -f "$log" ]; then
  results=$(grep -o '"result": "[A-Z]*"' "$log" | cut -d'"' -f4)
  passed=$(grep -c -E '^(OK|EXPECTEDFAIL)$' <<<"$results" || true)
  skipped=$(grep -c -E '^SKIP$' <<<"$results" || true)
  total=$(grep -c . <<<"$results" || true)
  failed=$((total - passed - skipped))
  [ "$total" -gt 0 ] || { echo "no test ran" >&2; status=1; }
  extra=""; [ "$skipped" -gt 0 ] && extra=", $skipped skipped"
  echo "$passed passed, $failed failed$extra"
fi
exit $status
