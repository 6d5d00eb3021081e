#!/usr/bin/env bash
# Quiet partitions still keep time (real broker, private Redis). Two orders
# and two support partitions; records go to chosen partitions:
#   orders [0]   acct-quiet orders every 5 days, days 0..50, then nothing
#                more arrives on that partition: churn.inactivity is due at
#                day 65 (3 x 5 days after its last order)
#   orders [1]   acct-busy orders every day up to day 80: the group's event
#                time moves far past that due time
#   support [1]  acct-sad answers two surveys with CSAT 1 just after midnight
#                of day 80 (the last records of the input): held back by the
#                lateness allowance (5 min), they count once the partition
#                is idle
#   support [0]  nothing
# A running `riskwatch run` (idle.timeout 2 s) must fire churn.inactivity for
# acct-quiet at its due time and churn.low_satisfaction for acct-sad at an
# event time not earlier than the surveys, within seconds of the input's
# end, with no record arriving on their partitions. Then, with more records
# on the busy partitions, a replay (`run -e`, where nothing is idle) gives
# the same churn alert ids as the live run (replay parity).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap 'pkill -KILL -f "group-$ID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

create_topics 2
day=86400000
t0=1772344800000   # 2026-03-01T06:00:00Z
mid=$((t0 + 80 * day - 6 * 3600000))   # 2026-05-20T00:00:00Z
s1=$((mid + 60000)) s2=$((mid + 120000))
due_quiet=$((t0 + 65 * day + 1))
for d in $(seq 0 5 50); do order "q-$d" acct-quiet $((t0 + d * day)); done | make_events o0
for d in $(seq 0 80); do order "b-$d" acct-busy $((t0 + d * day + 3600000)); done | make_events o1
for s in "$s1" "$s2"; do
  printf '{"type":"support","event_id":"s-%d","account_id":"acct-sad","ticket_id":"T-%d","kind":"SURVEY","severity":"LOW","csat":1,"sentiment":null,"occurred_at":%d}\n' "$s" "$s" "$s"
done | make_events s1
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -p 0 -k acct-quiet "$WORK"/o0/*.bin
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -p 1 -k acct-busy "$WORK"/o1/*.bin
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_SUPPORT" -p 1 -k acct-sad "$WORK"/s1/*.bin
total=$(($(ls "$WORK"/o0 "$WORK"/o1 "$WORK"/s1 | grep -c '\.bin$')))
ok "produced $total records: orders [0] end at day 50, orders [1] at day 80, support [1] two surveys at $s1 and $s2"

# input.gap stays at its 7 days: the quiet partition's records resuming 35
# days later end a silence of that partition only (the other orders
# partition is live throughout), no outage of the group's input, so the
# replay holds nothing the live run (whose quiet partition followed the
# group's clock) fired.
IDLE=(-X idle.timeout=2s)
offsum() {
  rcli MGET "$NS:{0}:off:$T_ORDERS" "$NS:{1}:off:$T_ORDERS" "$NS:{1}:off:$T_SUPPORT" |
    awk '{ s += $1 } END { print s + 0 }'
}
# The live run: exec, so that $! is riskwatch itself.
run_live() {
  exec "$RW_BIN" run -X kafka.bootstrap.servers="$KAFKA_BOOTSTRAP" -X redis.url="$REDIS_URL" \
    -X state.namespace="$NS" -X group.id="group-$ID" \
    -X topics.orders="$T_ORDERS" -X topics.support="$T_SUPPORT" \
    -X topics.alerts="$T_ALERTS" -X topics.dlq="$T_DLQ" "${IDLE[@]}"
}
run_live >"$WORK/live.jsonl" 2>"$WORK/live.log" &
pid=$!
for _ in $(seq 600); do (($(offsum) >= total)) && break; sleep 0.05; done
(($(offsum) >= total)) || { kill -9 "$pid"; fail "the run stored $(offsum) of $total records"; }
t_end=$(date +%s%3N)
fired() { grep -q "\"rule\":\"churn.inactivity\".*\"subject\":\"ACCOUNT/acct-quiet\"" "$WORK/live.jsonl" &&
          grep -q "\"rule\":\"churn.low_satisfaction\".*\"subject\":\"ACCOUNT/acct-sad\"" "$WORK/live.jsonl"; }
for _ in $(seq 200); do fired && break; sleep 0.05; done
waited=$(($(date +%s%3N) - t_end))
kill -TERM "$pid"
wait "$pid" || fail "the live run exited non-zero: $(grep -v 'kafka: ' "$WORK/live.log" | tail -5)"
fired || fail "no time-driven alert from the quiet partitions within $waited ms of the input's end: $(cat "$WORK/live.jsonl")"
# Within idle.timeout (2 s), plus the half-second ticks, a batch and some slack.
((waited <= 5000)) || fail "the quiet partitions' alerts came $waited ms after the input's end (idle.timeout 2 s)"
ok "the quiet partitions' alerts came $waited ms after the input's end (idle.timeout 2 s)"

"$PY" - "$WORK/live.jsonl" "$due_quiet" "$s2" <<'PYEOF' || fail "the quiet partitions' alerts"
import datetime, json, sys
alerts = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
due, s2 = int(sys.argv[2]), int(sys.argv[3])
def ms(s):
    t = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    return round(t.timestamp() * 1000)
q = [a for a in alerts if a["subject"] == "ACCOUNT/acct-quiet" and a["rule"] == "churn.inactivity"]
assert q and q[0]["status"] == "FIRING", q
# The JSON line shows seconds (RFC 3339); the due time is 1 ms past a second.
assert ms(q[0]["event_time"]) == due // 1000 * 1000, ("inactivity event_time", q[0]["event_time"], "due", due)
sad = [a for a in alerts if a["subject"] == "ACCOUNT/acct-sad" and a["rule"] == "churn.low_satisfaction"]
assert sad and sad[0]["status"] == "FIRING", sad
assert ms(sad[0]["event_time"]) >= s2, ("low_satisfaction event_time", sad[0]["event_time"], "before the surveys", s2)
busy = [a for a in alerts if a["subject"] == "ACCOUNT/acct-busy" and a["rule"].startswith("churn.")]
assert not busy, busy
print("ok: churn.inactivity for acct-quiet at %s (its due time); churn.low_satisfaction for acct-sad at %s (surveys at %s)"
      % (q[0]["event_time"], sad[0]["event_time"],
         datetime.datetime.fromtimestamp(s2 / 1000, datetime.timezone.utc).isoformat()))
PYEOF

# Replay parity. More records arrive on every busy partition (acct-quiet
# orders again at day 85, resolving its inactivity; acct-busy goes on to day
# 90; another survey at day 90), the live run goes on, and `run -e` replays
# the whole history in a fresh namespace: there no partition is idle, and
# the later records move each partition's clock past the same due times, so
# the churn alerts are the same ones (the same ids) as the live run's.
{ order q-85 acct-quiet $((t0 + 85 * day)); } | make_events o0b
for d in $(seq 81 90); do order "b-$d" acct-busy $((t0 + d * day + 3600000)); done | make_events o1b
printf '{"type":"support","event_id":"s-other","account_id":"acct-other","ticket_id":"T-9","kind":"SURVEY","severity":"LOW","csat":4,"sentiment":null,"occurred_at":%d}\n' \
  $((t0 + 90 * day)) | make_events s1b
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -p 0 -k acct-quiet "$WORK"/o0b/*.bin
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -p 1 -k acct-busy "$WORK"/o1b/*.bin
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_SUPPORT" -p 1 -k acct-other "$WORK"/s1b/*.bin
total=$((total + 12))
run_live >>"$WORK/live.jsonl" 2>"$WORK/live2.log" &
pid=$!
for _ in $(seq 600); do (($(offsum) >= total)) && break; sleep 0.05; done
(($(offsum) >= total)) || { kill -9 "$pid"; fail "the second live run stored $(offsum) of $total records"; }
sleep 3   # idle.timeout and a tick: its partitions follow again
kill -TERM "$pid"
wait "$pid" || fail "the second live run exited non-zero: $(grep -v 'kafka: ' "$WORK/live2.log" | tail -5)"
grep -q '"status":"RESOLVED","severity":"WARNING","rule":"churn.inactivity","subject":"ACCOUNT/acct-quiet"' "$WORK/live.jsonl" ||
  fail "acct-quiet's order at day 85 did not resolve its inactivity: $(grep acct-quiet "$WORK/live.jsonl")"
rw run -e -X state.namespace="${NS}_e" -X group.id="group-$ID-e" "${IDLE[@]}" \
  >"$WORK/e.jsonl" 2>"$WORK/e.log" || fail "run -e: $(grep -v 'kafka: ' "$WORK/e.log" | tail -5)"
# Churn alerts: the dependency rules are decided up to the lowest partition
# in a replay, up to the furthest once all are idle in a live run.
ids() { grep '"rule":"churn\.' "$1" | grep -oE '"alert_id": *"[^"]+"' | sort -u; }
if ! cmp -s <(ids "$WORK/live.jsonl") <(ids "$WORK/e.jsonl"); then
  { diff <(ids "$WORK/live.jsonl") <(ids "$WORK/e.jsonl") | head -6 || true; } >&2
  grep churn "$WORK/live.jsonl" "$WORK/e.jsonl" | cut -c1-200 >&2
  fail "run -e over the same history gave other churn alerts than the live run"
fi
ok "run -e over the whole history: the same $(ids "$WORK/e.jsonl" | wc -l) churn alert ids as the live run (FIRING and RESOLVED for acct-quiet, FIRING for acct-sad)"
