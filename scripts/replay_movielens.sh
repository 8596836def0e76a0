#!/usr/bin/env bash
# Replays MovieLens latest-small through the real pipeline and checks the
# issue-3 bars: the embedded broker, `streamrec produce`, a few malformed
# records mixed in with kcat, `streamrec run` until idle; then every user has
# a list on `recommendations`, the DLQ holds exactly the malformed records,
# and the pipeline's model digest equals `streamrec evaluate --state` on the
# same events (one learner, two drivers).
#
# Usage: scripts/replay_movielens.sh [--partitions N] [--processes P] [--stagger SECONDS]
#   With P > 1, P `streamrec run` processes share one consumer group; every
#   user must still get a list (their stores each hold what they consumed,
#   so the digest comparison is skipped). --stagger starts them that far
#   apart, so partitions move between processes mid-replay.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${STREAMREC_BIN:-$root/build/streamrec}
data=${STREAMREC_DATA:-$root/../shared/datasets/ml-latest-small}
partitions=1
processes=1
stagger=0
while (($#)); do
  case "$1" in
    --partitions) partitions=$2; shift 2 ;;
    --processes) processes=$2; shift 2 ;;
    --stagger) stagger=$2; shift 2 ;;
    *) echo "usage: $0 [--partitions N] [--processes P] [--stagger SECONDS]" >&2; exit 2 ;;
  esac
done
if [ ! -f "$data/ratings.csv" ]; then
  echo "replay: SKIPPED, $data/ratings.csv is absent" >&2
  exit 0
fi

work=$(mktemp -d)
broker_pid=
cleanup() {
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" broker --port 0 --partitions "$partitions" >"$work/broker.out" 2>"$work/broker.err" &
broker_pid=$!
for _ in $(seq 100); do grep -q '^bootstrap=' "$work/broker.out" 2>/dev/null && break; sleep 0.1; done
bootstrap=$(sed -n 's/^bootstrap=//p' "$work/broker.out")
[ -n "$bootstrap" ] || { cat "$work/broker.err" >&2; echo "replay: broker did not start" >&2; exit 1; }
echo "replay: broker at $bootstrap, $partitions partition(s), $processes run process(es)"

start=$(date +%s.%N)
"$bin" produce --input "$data/ratings.csv" --format movielens-csv --set "kafka.bootstrap.servers=$bootstrap"
# Malformed records, keyed so they spread over partitions.
malformed=(
  'not json at all'
  '{"user_id":"u1","item_id":"i1","type":"view"}'
  '{"user_id":"u1","item_id":"i1","type":"teleport","ts":1732350000000}'
  '{"user_id":"","item_id":"i1","type":"view","ts":1732350000000}'
  '{"user_id":"u1","item_id":"i1","type":"rating","ts":1732350000000}'
  '{"user_id":"u1","item_id":"i1","type":"view","ts":1732350000}'
  '[1,2,3]'
)
for k in "${!malformed[@]}"; do printf 'bad%s\t%s\n' "$k" "${malformed[$k]}"; done |
  kcat -b "$bootstrap" -P -t events -K $'\t' -z lz4

pids=()
for p in $(seq "$processes"); do
  "$bin" run --stop-when-idle 5s --set "kafka.bootstrap.servers=$bootstrap" --set "state.dir=$work/state-$p" \
    --set "log.level=${STREAMREC_RUN_LOG_LEVEL:-warn}" --set http.listen= 2>"$work/run-$p.err" &
  pids+=($!)
  sleep "$stagger"
done
for pid in "${pids[@]}"; do wait "$pid" || { cat "$work"/run-*.err >&2; exit 1; }; done
end=$(date +%s.%N)
cat "$work"/run-*.err >&2

users=$(cut -d, -f1 "$data/ratings.csv" | tail -n +2 | sort -u | wc -l)
kcat -b "$bootstrap" -C -t recommendations -e -q -f '%k\n' >"$work/keys"
listed=$(sort -u "$work/keys" | wc -l)
kcat -b "$bootstrap" -C -t events.dlq -e -q -f '%h\n' >"$work/dlq"
dead=$(wc -l <"$work/dlq")
echo "replay: $listed of $users users have a list; $dead of ${#malformed[@]} malformed records dead-lettered;" \
  "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s produce+run"
status=0
[ "$listed" -eq "$users" ] || { echo "replay: FAILED, not every user has a list" >&2; status=1; }
[ "$dead" -eq "${#malformed[@]}" ] || { echo "replay: FAILED, the DLQ does not hold exactly the malformed records" >&2; status=1; }
# Each event applied once across the group (a moved partition resumes at the
# group's committed offset).
applied=$(sed -n 's/^streamrec run: \([0-9]*\) events applied.*/\1/p' "$work"/run-*.err | awk '{ s += $1 } END { print s }')
events=$(($(wc -l <"$data/ratings.csv") - 1))
echo "replay: $applied events applied across $processes process(es), $events in the log"
[ "$applied" -eq "$events" ] || { echo "replay: FAILED, events applied != events in the log" >&2; status=1; }

if [ "$processes" -eq 1 ]; then
  "$bin" evaluate --input "$data/ratings.csv" --format movielens-csv --models isgd --state "$work/evaluated" \
    >/dev/null 2>&1
  pipeline_digest=$("$bin" inspect --state "$work/state-1" --digest | sed -n 's/^model: //p' | head -1)
  evaluate_digest=$("$bin" inspect --state "$work/evaluated" --digest | sed -n 's/^model: //p' | head -1)
  echo "replay: model digest pipeline $pipeline_digest, evaluate $evaluate_digest"
  [ -n "$pipeline_digest" ] && [ "$pipeline_digest" = "$evaluate_digest" ] ||
    { echo "replay: FAILED, the digests differ" >&2; status=1; }
fi
[ "$status" -eq 0 ] && echo "replay: PASSED"
exit "$status"
