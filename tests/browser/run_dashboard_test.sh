#!/usr/bin/env bash
# ctest's entry to the browser test: installs playwright-core from the
# lockfile (npm ci; it never downloads a browser) and runs
# dashboard.spec.mjs against Debian's chromium. Exits 77 (ctest: skipped)
# when node/npm or chromium is missing; scripts/deps.sh installs both.
# Usage: run_dashboard_test.sh <streamrec binary> <screenshot.png>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$1
screenshot=$2
chromium=${STREAMREC_CHROMIUM:-/usr/bin/chromium}
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIPPED: node/npm not found (scripts/deps.sh installs them)" >&2
  exit 77
fi
if [ ! -x "$chromium" ]; then
  echo "SKIPPED: no chromium at $chromium (scripts/deps.sh installs Debian's chromium)" >&2
  exit 77
fi
cd "$here"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
mkdir -p "$(dirname "$screenshot")"
STREAMREC_CHROMIUM=$chromium exec node dashboard.spec.mjs "$bin" "$screenshot"
