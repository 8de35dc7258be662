#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs the project's main job: the
# README's first command.
#   bash scripts/main.sh [demo arguments...]
# For now the main job is the allocator demonstration: Larson-like churn
# (the seed's configuration) under seed-buggy and adopt, side by side.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

build=${BUILD_DIR:-build-release}
[ -f "$build/build.ninja" ] || meson setup "$build" --buildtype=release >/dev/null
ninja -C "$build" >/dev/null
exec "$build/allocator/demo/hakmem-demo" "$@"
