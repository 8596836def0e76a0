#!/usr/bin/env bash
# Fuzzes parse -> validate -> Learner::Apply (fuzz/event_fuzzer.cc) with
# libFuzzer, ASan and UBSan for SECONDS (default 60), seeded with real events
# (the schemas corpus, and MovieLens ratings when ../shared/datasets has
# them). Builds fuzz/ with clang into build-fuzz/ (nothing of the main build
# is touched). Prints executions, corpus size and crashes; exits non-zero on
# a crash (the reproducer is kept in build-fuzz/crashes/), 77 when clang or
# libFuzzer is missing (ctest counts that as skipped).
#
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
build=${STREAMREC_FUZZ_BUILD_DIR:-$root/build-fuzz}
cxx=${STREAMREC_FUZZ_CXX:-$(command -v clang++ || command -v clang++-14 || true)}

if [ -z "$cxx" ]; then
  echo "fuzz: SKIPPED, no clang++ (Debian: apt-get install clang libclang-rt-dev)" >&2
  exit 77
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' >"$probe/p.cc"
if ! "$cxx" -fsanitize=fuzzer "$probe/p.cc" -o "$probe/p" 2>/dev/null; then
  echo "fuzz: SKIPPED, $cxx cannot link libFuzzer (Debian: apt-get install libclang-rt-dev)" >&2
  exit 77
fi

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root/fuzz" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j "${STREAMREC_JOBS:-$(nproc)}" --target event_fuzzer >/dev/null

# Seeds: every corpus message, and real events as the pipeline sees them.
seeds="$build/seeds"
corpus="$build/corpus"
crashes="$build/crashes"
mkdir -p "$seeds" "$corpus" "$crashes"
find "$root/tests/schemas/corpus" -type f -name '*.json' -exec cp {} "$seeds/" \;
ratings="$root/../shared/datasets/ml-latest-small/ratings.csv"
if [ -f "$ratings" ]; then
  awk -F, 'NR > 1 && NR <= 201 {
      printf "{\"user_id\":\"u%s\",\"item_id\":\"m%s\",\"type\":\"rating\",\"ts\":%s000,\"event_id\":\"ml-%d\",\"value\":%s}\n",
             $1, $2, $4, NR, $3 > sprintf("%s/ml-%03d.json", seeds, int((NR - 2) / 10)) }' seeds="$seeds" "$ratings"
fi

log="$build/fuzz.log"
status=0
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  "$build/event_fuzzer" -max_total_time="$seconds" -dict="$root/fuzz/event.dict" -max_len=8192 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/" "$corpus" "$seeds" >"$log" 2>&1 || status=$?

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
files=$(find "$corpus" -type f | wc -l)
found=$(find "$crashes" -type f | wc -l)
echo "fuzz: ${seconds} s, ${runs:-0} executions, corpus ${files} inputs, ${found} crash(es) (seeds $(find "$seeds" -type f | wc -l))"
if [ "$status" -ne 0 ] || [ "$found" -ne 0 ]; then
  tail -40 "$log" >&2
  echo "fuzz: FAILED, reproducers in $crashes (run: $build/event_fuzzer FILE)" >&2
  exit 1
fi
echo "fuzz: PASSED"
