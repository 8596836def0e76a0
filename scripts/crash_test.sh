#!/usr/bin/env bash
# Crash test (docs/reliability.md): a fixed event stream in the embedded
# broker, one uninterrupted reference run, then trials in which `streamrec run`
# is killed with SIGKILL — from outside at a random moment of its processing,
# or by itself at a named kill point of the batch cycle (testing.kill_point:
# after_store_write, mid_publish, before_commit) — and restarted until it
# finishes. After every trial it checks, against the reference and against
# the stream itself:
#   - nothing is owed: `inspect --digest` shows pending=0, and every user has
#     a list on the trial's recommendations topic;
#   - ledger: each user's event count equals its number of distinct valid
#     events in the stream (an event lost or applied twice shows there), and
#     the stored offset of every partition is its end (offsets digest equals
#     the reference's);
#   - the dedup window holds every event id once (redelivered copies of
#     earlier events, produced after the stream, are dropped across restarts
#     too, which the event counts show);
#   - every malformed record is dead-lettered (at least once: a crash between
#     the DLQ produce and the store write dead-letters it again);
#   - with one partition, where the order of events is fixed, the model and
#     dedup digests equal the reference's (whose model equals `evaluate
#     --state` on the same events).
# Recovery time: from a restart to the partitions being assigned again (the
# store is loaded and consumption resumes at the stored offsets).
#
# Usage: scripts/crash_test.sh [--trials N] [--partitions P] [--kills K] [--events N] [--seed S]
#   Trials cycle through: K kills at random moments; a kill point then K-1
#   random kills (for each of the three kill points); then a final run.
set -euo pipefail
export LC_ALL=C
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${STREAMREC_BIN:-$root/build/streamrec}
trials=20
partitions=1
kills_per_trial=1
events=20000
seed=$((RANDOM * 32768 + RANDOM))
while (($#)); do
  case "$1" in
    --trials) trials=$2; shift 2 ;;
    --partitions) partitions=$2; shift 2 ;;
    --kills) kills_per_trial=$2; shift 2 ;;
    --events) events=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    *) echo "usage: $0 [--trials N] [--partitions P] [--kills K] [--events N] [--seed S]" >&2; exit 2 ;;
  esac
done
RANDOM=$seed
users=400
redelivered=300  # copies of earlier events, produced again after the stream
batch_events=100 # small batches: more batch boundaries to crash between

work=$(mktemp -d)
broker_pid=
run_pid=
cleanup() {
  [ -n "$run_pid" ] && kill -9 "$run_pid" 2>/dev/null && wait "$run_pid" 2>/dev/null
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  if [ -n "${STREAMREC_CRASH_KEEP:-}" ]; then echo "crash: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
say() { echo "crash: $*"; }
fail() { echo "crash: FAILED, $*" >&2; exit 1; }

"$bin" broker --port 0 --partitions "$partitions" >"$work/broker.out" 2>"$work/broker.err" &
broker_pid=$!
for _ in $(seq 100); do grep -q '^bootstrap=' "$work/broker.out" 2>/dev/null && break; sleep 0.1; done
bootstrap=$(sed -n 's/^bootstrap=//p' "$work/broker.out")
[ -n "$bootstrap" ] || { cat "$work/broker.err" >&2; fail "the broker did not start"; }

# The stream: deterministic events with event ids (users uniform, items
# skewed, every event type), then redelivered copies and malformed records.
python3 - "$events" "$users" "$redelivered" "$work" <<'EOF'
import json, random, sys
n, users, redelivered, work = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
r = random.Random(20241123)
types = ["view"] * 5 + ["click"] * 3 + ["add_to_cart", "purchase", "rating", "impression"]
ts = 1700000000000
lines = []
with open(f"{work}/events.jsonl", "w") as out:
    for k in range(n):
        ts += r.randint(1, 2000)
        e = {"user_id": f"u{r.randrange(users)}", "item_id": f"i{int(r.paretovariate(1.1)) % 300}",
             "type": r.choice(types), "ts": ts, "event_id": f"e{k}"}
        if e["type"] == "rating":
            e["value"] = r.choice([1, 2, 3, 3.5, 4, 4.5, 5])
        line = json.dumps(e, separators=(",", ":"))
        lines.append((e["user_id"], line))
        out.write(line + "\n")
malformed = ['not json', '{"user_id":"u1","item_id":"i1","type":"view"}',
             '{"user_id":"u1","item_id":"i1","type":"teleport","ts":1700000000000}',
             '{"user_id":"","item_id":"i1","type":"view","ts":1700000000000}', '[1,2,3]',
             '{"user_id":"u1","item_id":"i1","type":"view","ts":-5}']
with open(f"{work}/tail.txt", "w") as out:
    for k in range(redelivered):
        user, line = lines[r.randrange(len(lines))]
        out.write(f"{user}\t{line}\n")
        if k % 25 == 0:
            out.write(f"bad{k}\t{malformed[k // 25 % len(malformed)]}\n")
EOF
"$bin" produce --input "$work/events.jsonl" --format jsonl --set "kafka.bootstrap.servers=$bootstrap" \
  --set log.level=warn 2>"$work/produce.err" || { cat "$work/produce.err" >&2; fail "produce"; }
kcat -q -b "$bootstrap" -P -t events -K $'\t' -z lz4 <"$work/tail.txt"
malformed=$(grep -c '^bad' "$work/tail.txt")
# Expected ledger: distinct valid events per user.
python3 - "$work" <<'EOF' >"$work/expected_counts"
import json, sys, collections
counts = collections.Counter(json.loads(l)["user_id"] for l in open(f"{sys.argv[1]}/events.jsonl"))
for user in sorted(counts):
    print(f"{user}\t{counts[user]}")
EOF
say "broker $bootstrap, $partitions partition(s); $events events + $redelivered redelivered + $malformed malformed;" \
  "$trials trials, seed $seed"

common=(--set "kafka.bootstrap.servers=$bootstrap" --set kafka.session.timeout.ms=3000
        --set kafka.heartbeat.interval.ms=500 --set "batch.max_events=$batch_events" --set http.listen=
        --set log.level=info)
now_ms() { date +%s%3N; }
# Starts `streamrec run` on trial $1's store in the background: run_pid, log.
start_run() {
  local name=$1; shift
  run_log="$work/$name.log.$((++attempt))"
  run_start_ms=$(now_ms)
  "$bin" run --stop-when-idle 1s "${common[@]}" --set "state.dir=$work/$name" --set "kafka.group.id=$name" \
    --set "topics.recommendations=recs.$name" --set "topics.dlq=dlq.$name" "$@" >"$run_log" 2>&1 &
  run_pid=$!
}
# Waits for the running process; sets run_status (137 = killed).
wait_run() {
  run_status=0
  # (bash reports a killed job on stderr; the status says it already)
  { wait "$run_pid"; } 2>/dev/null || run_status=$?
  run_pid=
}
# Milliseconds from the start of the attempt to its partitions being assigned.
assigned_after_ms() {
  local line
  line=$(grep -m1 'assigned .* partition' "$run_log" | sed -n 's/^\[\([^]]*\)\].*/\1/p')
  [ -n "$line" ] || return 1
  echo $(($(date -d "$line" +%s%3N) - run_start_ms))
}
digest_field() { sed -n "s/^$2: //p" <<<"$1"; }

# Reference: one uninterrupted run.
attempt=0
start_run ref
wait_run
[ "$run_status" -eq 0 ] || { cat "$run_log" >&2; fail "the reference run exited $run_status"; }
ref_digest=$("$bin" inspect --state "$work/ref" --digest)
"$bin" inspect --state "$work/ref" --event-counts >"$work/ref_counts"
cmp -s "$work/ref_counts" "$work/expected_counts" ||
  fail "the reference run's event counts differ from the stream's ($(diff "$work/ref_counts" "$work/expected_counts" | head -3))"
grep -q 'pending=0' <<<"$ref_digest" || fail "the reference run left lists owed"
if [ "$partitions" -eq 1 ]; then
  "$bin" evaluate --input "$work/events.jsonl" --format jsonl --models isgd --state "$work/evaluated" >/dev/null 2>&1
  eval_model=$("$bin" inspect --state "$work/evaluated" --digest | sed -n 's/^model: //p')
  [ "$eval_model" = "$(digest_field "$ref_digest" model)" ] || fail "the reference run differs from evaluate"
fi
dlq_offsets() { kcat -q -b "$bootstrap" -C -t "dlq.$1" -e -f '%h\n' | grep -o 'source.partition=[0-9]*,source.offset=[0-9]*'; }
dlq_offsets ref | sort -u >"$work/ref_dlq"
[ "$(wc -l <"$work/ref_dlq")" -eq "$malformed" ] || fail "the reference run dead-lettered $(wc -l <"$work/ref_dlq") of $malformed"
say "reference: model $(digest_field "$ref_digest" model), $(grep '^counts' <<<"$ref_digest")"

modes=(random after_store_write mid_publish before_commit)
total_kills=0 total_lost=0 total_twice=0 dlq_repeats=0 mid_stream=0
: >"$work/recovery_ms"
for trial in $(seq "$trials"); do
  name="t$trial"
  attempt=0
  mode=${modes[$(((trial - 1) % ${#modes[@]}))]}
  kills=0
  # A kill point fires inside the process after a random number of batches.
  plan=("$mode")
  for _ in $(seq 2 "$kills_per_trial"); do plan+=(random); done
  for step in "${plan[@]}"; do
    if [ "$step" = random ]; then
      start_run "$name"
      for _ in $(seq 400); do
        grep -q 'assigned .* partition' "$run_log" 2>/dev/null && break
        kill -0 "$run_pid" 2>/dev/null || break
        sleep 0.05
      done
      # A random moment within about the time the stream takes to consume
      # (~0.5 s for 20,000 events in batches of 100 on two cores).
      sleep "$(printf '0.%03d' $((RANDOM % 600)))"
      kill -9 "$run_pid" 2>/dev/null || true
    else
      start_run "$name" --set "testing.kill_point=$step" \
        --set "testing.kill_after_batches=$((1 + RANDOM % (events / batch_events)))"
    fi
    wait_run
    if [ "$run_status" -eq 137 ]; then
      kills=$((kills + 1))
    elif [ "$run_status" -ne 0 ]; then
      cat "$run_log" >&2
      fail "trial $trial: run exited $run_status"
    fi
    # Recovery of a restart after a kill.
    if [ "$attempt" -gt 1 ] && ms=$(assigned_after_ms); then echo "$ms" >>"$work/recovery_ms"; fi
  done
  start_run "$name"
  wait_run
  [ "$run_status" -eq 0 ] || { cat "$run_log" >&2; fail "trial $trial: the final run exited $run_status"; }
  if [ "$kills" -gt 0 ] && ms=$(assigned_after_ms); then echo "$ms" >>"$work/recovery_ms"; fi
  total_kills=$((total_kills + kills))
  # The last kill interrupted consumption when the final run still had
  # events to apply (rather than lists to publish or nothing).
  resumed=$(sed -n 's/^streamrec run: \([0-9]*\) events applied.*/\1/p' "$run_log")
  [ "${resumed:-0}" -gt 0 ] && mid_stream=$((mid_stream + 1))

  digest=$("$bin" inspect --state "$work/$name" --digest)
  "$bin" inspect --state "$work/$name" --event-counts >"$work/counts.$name"
  read -r lost twice < <(join -t $'\t' -a1 -a2 -e 0 -o 0,1.2,2.2 "$work/expected_counts" "$work/counts.$name" |
    awk -F'\t' '{ d = $3 - $2; if (d < 0) lost -= d; else twice += d } END { print lost + 0, twice + 0 }')
  total_lost=$((total_lost + lost))
  total_twice=$((total_twice + twice))
  problems=()
  [ "$lost" -eq 0 ] || problems+=("$lost events lost")
  [ "$twice" -eq 0 ] || problems+=("$twice events applied twice")
  grep -q 'pending=0' <<<"$digest" || problems+=("lists still owed ($(grep '^counts' <<<"$digest"))")
  [ "$(digest_field "$digest" offsets)" = "$(digest_field "$ref_digest" offsets)" ] ||
    problems+=("stored offsets differ from the reference")
  # The dedup window holds every distinct event id (it is larger than the
  # stream); its order, like the model, follows the interleaving of partitions.
  [ "$(grep -o 'dedup=[0-9]*' <<<"$digest")" = "dedup=$events" ] || problems+=("dedup window is not every event id")
  if [ "$partitions" -eq 1 ]; then
    [ "$(digest_field "$digest" dedup)" = "$(digest_field "$ref_digest" dedup)" ] ||
      problems+=("dedup window differs from the reference")
    [ "$(digest_field "$digest" model)" = "$(digest_field "$ref_digest" model)" ] ||
      problems+=("model digest differs from the reference")
  fi
  listed=$(kcat -q -b "$bootstrap" -C -t "recs.$name" -e -f '%k\n' | sort -u | wc -l)
  [ "$listed" -eq "$users" ] || problems+=("$listed of $users users have a list")
  dlq_offsets "$name" >"$work/dlq.$name"
  cmp -s <(sort -u "$work/dlq.$name") "$work/ref_dlq" || problems+=("the DLQ misses malformed records")
  dlq_repeats=$((dlq_repeats + $(wc -l <"$work/dlq.$name") - malformed))
  say "trial $trial ($mode): $kills kill(s), $attempt runs, ${resumed:-0} events left at the last kill," \
    "lost $lost, applied twice $twice" \
    "${problems[*]:+- ${problems[*]}}"
  if ((${#problems[@]})); then
    for f in "$work/$name".log.*; do echo "== $f" >&2; tail -5 "$f" >&2; done
    fail "trial $trial: ${problems[*]}"
  fi
  rm -rf "${work:?}/$name"
done

read -r p50 p99 n < <(sort -n "$work/recovery_ms" |
  awk '{ v[NR] = $1 } END { if (NR == 0) { print "- - 0"; exit }
         i50 = int(0.5 * NR + 0.999); i99 = int(0.99 * NR + 0.999); print v[i50], v[i99], NR }')
say "RESULT partitions=$partitions trials=$trials kills=$total_kills last_kill_mid_stream=$mid_stream" \
  "lost=$total_lost applied_twice=$total_twice dlq_repeats=$dlq_repeats" \
  "recovery_ms_p50=$p50 recovery_ms_p99=$p99 (n=$n)"
say "PASSED"
