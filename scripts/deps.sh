#!/usr/bin/env bash
# Installs every Debian package streamrec needs to build, test and demo.
# Quick no-op when all are present. Sourced or run by setup.sh and test.sh.
set -euo pipefail

STREAMREC_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  librdkafka-dev librocksdb-dev libeigen3-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libtomlplusplus-dev catch2 libbenchmark-dev libcpp-httplib-dev
  libjemalloc-dev  # the executables' malloc (STREAMREC_JEMALLOC)
  libhnswlib-dev  # serving's ApproximateIndex (header-only HNSW)
  kcat python3 python3-jsonschema python3-confluent-kafka python3-yaml
  chromium
  clang libclang-rt-dev  # scripts/fuzz.sh: libFuzzer with ASan and UBSan
)

missing=()
for p in "${STREAMREC_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The browser test runs playwright-core under node. Any node >= 18 with npm
# will do; Debian's packages conflict with NodeSource's, so only install
# them when there is no npm at all.
command -v npm >/dev/null || missing+=(nodejs npm)

if ((${#missing[@]})); then
  echo "streamrec: installing ${missing[*]}" >&2
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
