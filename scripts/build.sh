#!/usr/bin/env bash
# Configures and builds streamrec (Release by default) into build/.
# Usage: scripts/build.sh [extra cmake -D options]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${STREAMREC_BUILD_DIR:-$root/build}
jobs=${STREAMREC_JOBS:-$(nproc)}
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=${STREAMREC_BUILD_TYPE:-Release} "$@"
fi
cmake --build "$build_dir" -j "$jobs"
