#!/usr/bin/env bash
# write.linger on a live stream (real broker, private Redis): records that
# trickle in, one per batch, are gathered into one write per linger instead
# of a write per batch; what a quiet moment leaves open still goes out once
# the linger has passed; the state and the alerts equal one clean pass.
#
#   A running `riskwatch run` (write.linger 400 ms, write.max.delay 10 s so
#   that only the linger bounds the wait, batches of at most 10 ms)
#   gets 8 accounts' orders and acct-sad's two CSAT-1 surveys, one record per
#   producer call (tens of milliseconds apart, about 2 s in all). Then:
#   - most batches were gathered into the next write (with write.linger=0 a
#     trickle this slow is a write per batch: Redis answers within a batch);
#   - after the last record the stored positions reach the input's end
#     within a few seconds (nothing stays open in a quiet stream);
#   - a replay (`run -e`, write.linger 0) into another namespace stores the
#     same state (tests/integration/state_dump.lua) and the same alert ids.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap 'pkill -KILL -f "group-$ID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

create_topics 1
t0=1772323200000   # 2026-03-01T00:00:00Z
min=60000
n=0
for k in $(seq 0 31); do
  order "o-$k" "acct-$((k % 8))" $((t0 + k * min)) | make_events "r$n"
  echo "$T_ORDERS" >"$WORK/r$n.topic"
  n=$((n + 1))
  if ((k == 12 || k == 24)); then
    printf '{"type":"support","event_id":"s-%d","account_id":"acct-sad","ticket_id":"T-%d","kind":"SURVEY","severity":"LOW","csat":1,"sentiment":null,"occurred_at":%d}\n' \
      "$k" "$k" $((t0 + k * min)) | make_events "r$n"
    echo "$T_SUPPORT" >"$WORK/r$n.topic"
    n=$((n + 1))
  fi
done
total=$n

offsum() {
  rcli MGET "$NS:{0}:off:$T_ORDERS" "$NS:{0}:off:$T_SUPPORT" | awk '{ s += $1 } END { print s + 0 }'
}
run_live() {   # exec, so that $! is riskwatch itself
  exec "$RW_BIN" run -X kafka.bootstrap.servers="$KAFKA_BOOTSTRAP" -X redis.url="$REDIS_URL" \
    -X state.namespace="$NS" -X group.id="group-$ID" \
    -X topics.orders="$T_ORDERS" -X topics.support="$T_SUPPORT" \
    -X topics.alerts="$T_ALERTS" -X topics.dlq="$T_DLQ" \
    -X write.linger=400ms -X write.max.delay=10s -X batch.timeout=10ms
}
run_live >"$WORK/live.jsonl" 2>"$WORK/live.log" &
pid=$!
for _ in $(seq 200); do
  grep -q "assigned $T_SUPPORT \[0\]" "$WORK/live.log" && grep -q "assigned $T_ORDERS \[0\]" "$WORK/live.log" && break
  sleep 0.05
done
grep -q "assigned $T_ORDERS \[0\]" "$WORK/live.log" || { kill -9 "$pid"; fail "no assignment: $(tail -5 "$WORK/live.log")"; }

t_start=$(date +%s%3N)
for i in $(seq 0 $((total - 1))); do
  kcat -P -b "$KAFKA_BOOTSTRAP" -t "$(cat "$WORK/r$i.topic")" -p 0 -k k "$WORK/r$i"/*.bin
  sleep 0.03
done
t_end=$(date +%s%3N)
for _ in $(seq 200); do (($(offsum) >= total)) && break; sleep 0.05; done
stored_after=$(($(date +%s%3N) - t_end))
(($(offsum) >= total)) || { kill -9 "$pid"; fail "$(offsum) of $total records stored $stored_after ms after the last one was produced"; }
kill -TERM "$pid"
wait "$pid" || fail "the live run exited non-zero: $(grep -v 'kafka: ' "$WORK/live.log" | tail -5)"
summary=$(grep -oE 'run: [0-9]+ consumed.*' "$WORK/live.log") || fail "no summary: $(tail -5 "$WORK/live.log")"
echo "$summary"
echo "produced $total records one at a time over $((t_end - t_start)) ms; all stored $stored_after ms after the last"
[[ $summary =~ ([0-9]+)\ batch\(es\)\ \(([0-9]+)\ gathered ]] || fail "no batch count in: $summary"
batches=${BASH_REMATCH[1]} gathered=${BASH_REMATCH[2]}
((batches >= total / 2)) || fail "only $batches batch(es) for $total records produced one at a time"
((gathered * 2 >= batches)) ||
  fail "write.linger gathered $gathered of $batches batches: most should wait for the next write"
ok "write.linger gathered $gathered of $batches batches into the next write"
# The linger (400 ms), a 10 ms batch, the write, the poll's step, slack for a busy machine.
((stored_after <= 3000)) || fail "the records were stored $stored_after ms after the last was produced"
ok "the last records were stored $stored_after ms after they were produced (write.linger 400 ms)"

rw run -e -X state.namespace="${NS}_clean" -X group.id="group-$ID-clean" -X write.linger=0 \
  >"$WORK/clean.jsonl" 2>"$WORK/clean.log" || fail "run -e: $(grep -v 'kafka: ' "$WORK/clean.log" | tail -5)"
same_state "${NS}_clean" "$NS" "the lingering live run"

"$PY" - "$WORK/live.jsonl" "$WORK/clean.jsonl" <<'PYEOF' || fail "the alerts differ from the clean pass's"
import json, sys
live, clean = ([json.loads(l) for l in open(p) if l.startswith("{")] for p in sys.argv[1:3])
sad = [a for a in live if a["rule"] == "churn.low_satisfaction" and a["subject"] == "ACCOUNT/acct-sad"]
assert sad and sad[0]["status"] == "FIRING", ("no churn.low_satisfaction for acct-sad", live)
assert sorted(a["alert_id"] for a in live) == sorted(a["alert_id"] for a in clean), \
    (sorted((a["rule"], a["subject"], a["status"]) for a in live),
     sorted((a["rule"], a["subject"], a["status"]) for a in clean))
print("ok: %d alert(s), churn.low_satisfaction for acct-sad among them, the same ids as the clean pass" % len(live))
PYEOF
