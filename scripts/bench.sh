#!/usr/bin/env bash
# Builds the benchmarks in Release, runs the micro benchmarks (Google
# Benchmark) and the end-to-end bench, and writes bench/results/<date>.md
# with its JSON twin bench/results/<date>.json.
#
# Usage: scripts/bench.sh [--quick | --long] [--no-micro] [--no-e2e] [--date YYYY-MM-DD]
#                         [--name NAME] [--micro-filter REGEX] [-- extra streamrec_bench_e2e flags]
#   default  ~25 minutes on 2 cores: micro x5 repetitions; e2e with 1M events
#            ingested (3 times, judged on the median rate), freshness at 1k
#            and 5k events/s over 1M users x 100k items (each pipeline run 3
#            times, judged on the median p99),
#            memory per 1M users / 1M items, evaluation on MovieLens
#   --quick  a smoke run (~5 minutes): smaller shapes, 3 repetitions; results
#            go to bench/results/<date>-quick.*
#   --long   more repetitions (10), freshness also at
#            20k events/s and for 60 s
#   --name   results file name instead of <date> (for partial or variant runs,
#            e.g. --no-micro --name <date>-dim64 -- --set learner.dim=64)
# Environment: STREAMREC_BENCH_BUILD_DIR (default build-bench), STREAMREC_JOBS,
# STREAMREC_MARCH (passed to CMake when set).
# The machine is shared and noisy: the report gives medians, spread and
# ratios to references measured in the same run; nothing here asserts a time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${STREAMREC_BENCH_BUILD_DIR:-$root/build-bench}
jobs=${STREAMREC_JOBS:-$(nproc)}
mode=default
run_micro=1
run_e2e=1
date=$(date +%F)
micro_filter=""
name=""
e2e_extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) mode=quick ;;
    --long) mode=long ;;
    --no-micro) run_micro=0 ;;
    --no-e2e) run_e2e=0 ;;
    --date) date=$2; shift ;;
    --micro-filter) micro_filter=$2; shift ;;
    --name) name=$2; shift ;;
    --) shift; e2e_extra=("$@"); break ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

results_dir=$root/bench/results
if [ -z "$name" ]; then
  name=$date
  [ "$mode" = quick ] && name=$date-quick
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/streamrec-bench-run-XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

# --- build -------------------------------------------------------------------
cmake_args=(-S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTREAMREC_BUILD_BENCH=ON)
[ -n "${STREAMREC_MARCH:-}" ] && cmake_args+=(-DSTREAMREC_MARCH="$STREAMREC_MARCH")
echo "bench.sh: building in $build_dir" >&2
cmake "${cmake_args[@]}" > "$work/cmake.log" || { cat "$work/cmake.log" >&2; exit 1; }
targets=(streamrec_bench_e2e)
[ "$run_micro" = 1 ] && targets+=(streamrec_microbench)
cmake --build "$build_dir" -j "$jobs" --target "${targets[@]}"
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build_dir/CMakeCache.txt")
march=$(sed -n 's/^STREAMREC_MARCH:STRING=//p' "$build_dir/CMakeCache.txt")

# --- machine -----------------------------------------------------------------
{
  echo "## lscpu"; lscpu
  echo "## free"; free -b
  echo "## uname"; uname -srm
  echo "## compiler"; ${CXX:-c++} --version | head -1
  echo "## git"; git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown
  echo "## git-dirty"; git -C "$root" status --porcelain 2>/dev/null | wc -l
  echo "## build"; echo "$build_type march=$march"
} > "$work/machine.txt"

# --- micro -------------------------------------------------------------------
micro_json=""
if [ "$run_micro" = 1 ]; then
  reps=5; min_time=0.2
  [ "$mode" = quick ] && { reps=3; min_time=0.05; }
  [ "$mode" = long ] && { reps=10; min_time=0.5; }
  filter=${micro_filter:-.}
  if [ "$mode" = quick ] && [ -z "$micro_filter" ]; then
    filter='^BM_(IsgdLearn/dim:64|IsgdLearnPlainMf|TopN/items:(10|100)000/|Gemm(Full|Blocked)/items:(10|100)000/|Gemv/items:(10|100)000$|MemoryPass/items:(10|100)000$|EncodeUser/dim:64|DecodeUser/dim:64|EncodeItem/dim:64|DecodeItem/dim:64|ParseEvent|NlohmannDom|Simdjson|FeatureStore|RocksDb)'
  fi
  echo "bench.sh: micro benchmarks ($reps repetitions)" >&2
  micro_json=$work/micro.json
  "$build_dir/bench/streamrec_microbench" --benchmark_filter="$filter" \
    --benchmark_repetitions=$reps --benchmark_report_aggregates_only=true \
    --benchmark_enable_random_interleaving=true \
    --benchmark_min_time=$min_time \
    --benchmark_out="$micro_json" --benchmark_out_format=json >&2
fi

# --- end to end --------------------------------------------------------------
e2e_json=""
if [ "$run_e2e" = 1 ]; then
  e2e_json=$work/e2e.json
  args=(--out "$e2e_json")
  movielens=$root/../shared/datasets/ml-latest-small/ratings.csv
  [ -f "$movielens" ] && args+=(--eval-input "$movielens")
  case "$mode" in
    quick) args+=(--ingest-events 200000 --fresh-users 200000 --fresh-seconds 8 --memory-users 200000
                  --memory-items 200000 --eval-synthetic-events 50000) ;;
    long) args+=(--ingest-repeats 3 --fresh-rates 1000,5000,20000 --fresh-seconds 60 --fresh-repeats 3) ;;
    *) args+=(--ingest-repeats 3 --fresh-seconds 15 --fresh-repeats 3) ;;
  esac
  echo "bench.sh: end-to-end bench" >&2
  e2e_status=0
  "$build_dir/bench/streamrec_bench_e2e" "${args[@]}" "${e2e_extra[@]}" || e2e_status=$?
  [ -f "$e2e_json" ] || { echo "bench.sh: the end-to-end bench wrote no results" >&2; exit 1; }
  [ "$e2e_status" = 0 ] || echo "bench.sh: warning: an end-to-end phase failed (see its error in the report)" >&2
fi

# --- report ------------------------------------------------------------------
# The raw files stay in the build dir, so the report can be rebuilt:
#   python3 bench/report.py --machine B/machine.txt --micro B/micro.json --e2e B/e2e.json ...
last=$build_dir/bench-last
mkdir -p "$last" "$results_dir"
cp "$work/machine.txt" "$last/"
[ -n "$micro_json" ] && cp "$micro_json" "$last/"
[ -n "$e2e_json" ] && cp "$e2e_json" "$last/"
report_args=(--machine "$work/machine.txt" --mode "$mode" --date "$date"
             --out-md "$results_dir/$name.md" --out-json "$results_dir/$name.json")
[ -n "$micro_json" ] && report_args+=(--micro "$micro_json")
[ -n "$e2e_json" ] && report_args+=(--e2e "$e2e_json")
python3 "$root/bench/report.py" "${report_args[@]}"
echo "bench.sh: wrote bench/results/$name.md and bench/results/$name.json" >&2
