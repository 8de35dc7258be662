#!/usr/bin/env bash
# Installs the Debian packages hakmem-sim needs to build, test and plot.
# Idempotent: does nothing (and needs no network) when all are present.
# This file is the single list of what the project needs from Debian.
set -euo pipefail

packages=(
  build-essential   # gcc, make, libc headers
  clang             # fuzz targets (libFuzzer) and an alternative compiler
  meson
  ninja-build
  pkg-config
  libjansson-dev    # run.json, configuration and stats as JSON
  libcmocka-dev     # unit tests
  gnuplot-nox       # plots
  python3           # libhakmem.so tests: a real Debian program, and JSON checks
  time              # /usr/bin/time -f %M: peak RSS in allocator/bench/suite/run.sh and
                    # allocator/bench/larson/compare.sh;
                    # CPU time in traces/record/bench/overhead.sh
  xz-utils          # traces/samples/real: xz -T2, a recorded real program
  libmimalloc-dev   # hakreplay --allocator mimalloc (its libmimalloc.so.2 preloaded in the
                    # replay's child) and the benchmarks (bench/suite/run.sh, compare.sh)
  libjemalloc-dev   # hakreplay --allocator jemalloc, and the benchmarks
  libtcmalloc-minimal4  # hakreplay --allocator tcmalloc, and the benchmarks
  parallel          # GNU parallel: runs a hakreplay sweep's jobs.txt (docs/sweeps.md)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
