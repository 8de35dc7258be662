#!/usr/bin/env bash
# Sets up a fresh Debian machine and runs the project's main job (the
# README's first command): the seed's Larson OOM, reproduced and compared.
#
#   bash scripts/main.sh [GENERATIONS]
#
# 1. generates the seed's Larson trace (larson 10 8 128 1024 1 12345 4,
#    op for op, GENERATIONS threads per slot; default 2500: a little more
#    than the ~8.4 M operations of the seed's 2 s run);
# 2. replays it under every preset with the kernel's map limit (65,530) and
#    two mappings per never-joined thread, as the seed's run had, and under
#    the allocators people ship (glibc, jemalloc, mimalloc, tcmalloc: the
#    same real threads and order, each in a child process of its own);
# 3. writes runs, plots, compare.md and index.html to out/, and prints the
#    table. Variants that run out of memory are results (the seed's bug).
#    Every run's resident bytes are measured the same way, so index.html
#    opens with utilization live/resident over time for everyone.
# On a terminal, compare shows one progress line per variant while the
# replays run.
# About 3.5 minutes on 2 cores once set up (README: 210 s, most of it the
# four other allocators' child replays);
# `bash scripts/main.sh 300` for a quick look.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

generations=${1:-2500}
build=${BUILD_DIR:-build-release}
[ -f "$build/build.ninja" ] || meson setup "$build" --buildtype=release >/dev/null
ninja -C "$build" >/dev/null

mkdir -p out
trace=out/larson-seed-$generations.hkt
if [ ! -f "$trace" ]; then
  "$build/traces/haktrace" gen larson --threads 4 --min 8 --max 128 --chunks 1024 \
    --rounds 1 --seed 12345 --generations "$generations" -o "$trace"
fi
# Every preset (hakmem-options --presets), then the four allocators; the
# hakmem options (--opt, --thread-maps) go to the presets only.
presets=$("$build/allocator/hakmem-options" --presets | grep -vx none | paste -sd, -)
"$build/sim/hakreplay" compare "$trace" --variants "$presets,glibc,jemalloc,mimalloc,tcmalloc" \
  --opt ss_map_limit=65530 --thread-maps 2 -o out
echo
echo "out/index.html: the comparison, its plots, and each variant's own plots"
