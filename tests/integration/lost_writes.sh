#!/usr/bin/env bash
# A Redis that comes back without writes is noticed even when no record
# arrives any more: a running `riskwatch run` whose partitions are all idle
# checks every few seconds that each owned partition's stored offset is what
# it wrote, says that Redis lost writes (not that another process owns the
# partition), and rebuilds the partitions from what Redis holds, so the
# state equals one clean pass again.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap 'pkill -KILL -f "group-$ID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

create_topics 3
offsum() {
  local keys=() p t
  for p in 0 1 2; do for t in "$T_ORDERS" "$T_SUPPORT"; do keys+=("$NS:{$p}:off:$t"); done; done
  rcli MGET "${keys[@]}" | awk '{ s += $1 } END { print s + 0 }'
}
count() { grep -oE '^gen: [0-9]+ events' "$1" | grep -oE '[0-9]+'; }

# Half a history applied, then the snapshot Redis will come back with.
rw gen --seed 31 --accounts 30 --days 60 2>"$WORK/gen1.err" || { cat "$WORK/gen1.err"; fail "gen"; }
half=$(count "$WORK/gen1.err")
rw run -e >/dev/null 2>"$WORK/first.log" || fail "first run: $(tail -3 "$WORK/first.log")"
rcli SAVE >/dev/null
(( $(offsum) == half )) || fail "the snapshot holds $(offsum) of $half records"
# The rest, applied by a run that keeps running.
rw gen --seed 32 --accounts 30 --days 60 --start 2026-03-05 2>"$WORK/gen2.err" ||
  { cat "$WORK/gen2.err"; fail "gen"; }
total=$((half + $(count "$WORK/gen2.err")))
# exec: $! is riskwatch itself, so SIGTERM reaches it.
run_bg() {
  exec "$RW_BIN" run -X kafka.bootstrap.servers="$KAFKA_BOOTSTRAP" -X redis.url="$REDIS_URL" \
    -X state.namespace="$NS" -X group.id="group-$ID" \
    -X topics.orders="$T_ORDERS" -X topics.support="$T_SUPPORT" \
    -X topics.alerts="$T_ALERTS" -X topics.dlq="$T_DLQ"
}
run_bg >"$WORK/run.out" 2>"$WORK/run.log" &
pid=$!
for _ in $(seq 600); do (( $(offsum) >= total )) && break; sleep 0.1; done
(( $(offsum) == total )) || fail "the run stored $(offsum) of $total records"
ok "run stored all $total records; the snapshot holds $half"

# Redis goes away for 3 s (the decider's passes and the loop's ticks, every
# half second, meet it each time), then restarts from the older snapshot. No
# record arrives any more.
"$RW_SOURCE_DIR/scripts/redis-private.sh" stop "$RW_SERVICES" >/dev/null 2>&1
sleep 3
"$RW_SOURCE_DIR/scripts/redis-private.sh" restart "$RW_SERVICES" >/dev/null 2>&1
(( $(offsum) < total )) || fail "Redis came back with everything ($(offsum))"
for _ in $(seq 300); do (( $(offsum) == total )) && break; sleep 0.1; done
(( $(offsum) == total )) ||
  fail "the run did not rebuild what Redis lost: $(offsum) of $total records stored; $(grep -vE 'kafka: ' "$WORK/run.log" | tail -8)"
grep -q "redis lost writes: " "$WORK/run.log" ||
  fail "the log does not say that Redis lost writes: $(grep -vE 'kafka: ' "$WORK/run.log" | tail -8)"
! grep -q "owned elsewhere" "$WORK/run.log" || fail "the log blames another owner"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
((rc == 0)) || fail "run exited $rc: $(grep -vE "kafka: |assigned|revoked" "$WORK/run.log" | tail -8)"
grep -qE "[1-9][0-9]* partition\(s\) found behind what was written" "$WORK/run.log" ||
  fail "the exit summary does not count the partitions that lost writes"
# The outage is said once per thing that met it, and its end once: not a
# line per pass or tick.
for what in "dependency rules" "the group's low watermark"; do
  n=$(grep -c "warn  $what: " "$WORK/run.log" || true)
  ((n == 1)) || fail "the log says '$what' failed $n times over a 3 s outage, not once: $(grep -F "$what" "$WORK/run.log" | head -5)"
  grep -qE "info  $what: working again after [0-9]+s \([0-9]+ failed attempts\)" "$WORK/run.log" ||
    fail "the log does not say '$what' works again: $(grep -F "$what" "$WORK/run.log" | head -5)"
done
ok "a 3 s Redis outage: said once by the decider and once by the loop's tick, each with its end ($(grep -oE "dependency rules: working again after [^)]*\)" "$WORK/run.log"))"
ok "Redis back without writes, no record arriving: noticed ($(grep -c 'redis lost writes: ' "$WORK/run.log") partition(s)), rebuilt to all $total records"
# What it rebuilt equals one clean pass (the decider's slot included, once a
# run to the end has decided what the group passed).
rw run -e >/dev/null 2>"$WORK/final.log" || fail "final run: $(tail -3 "$WORK/final.log")"
rw run -e -X state.namespace="${NS}clean" -X group.id="group-$ID-clean" >/dev/null \
  2>"$WORK/clean.log" || fail "clean pass: $(tail -3 "$WORK/clean.log")"
same_state "${NS}clean" "$NS" "rebuilt after the lost writes"
