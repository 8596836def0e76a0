#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite with ctest.
# Usage: scripts/test.sh [ctest args], e.g. scripts/test.sh -L unit
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/deps.sh"
"$here/build.sh"
build_dir=${STREAMREC_BUILD_DIR:-$here/../build}
cd "$build_dir"
ctest --output-on-failure -j "${STREAMREC_TEST_JOBS:-2}" "$@"
