#!/bin/sh
# run.sh: builds hakmem-bench in a release tree (buildtype=release, default
# build-release/ at the project root, or $BUILD_DIR) and runs it; every
# argument goes to hakmem-bench (try --help). Numbers from a debug build
# mean nothing, hence the separate tree.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build-release}
if [ -d "$build" ]; then
  meson configure "$build" -Dbuildtype=release >/dev/null
else
  meson setup "$build" "$root" -Dbuildtype=release >/dev/null
fi
ninja -C "$build" allocator/bench/hakmem-bench >&2
# The machine and its load, since both move the numbers.
model=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)
echo "# machine: ${model:-unknown}, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# command: hakmem-bench $*"
exec "$build/allocator/bench/hakmem-bench" "$@"
