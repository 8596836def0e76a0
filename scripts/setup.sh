#!/usr/bin/env bash
# One step from a fresh Debian 12 machine to a built streamrec in build/:
# installs the Debian packages (a no-op when present), then builds Release.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/deps.sh"
"$here/build.sh" "$@"
echo "streamrec: built $(cd "$here/.." && pwd)/build/streamrec" >&2
