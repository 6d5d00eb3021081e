#!/usr/bin/env bash
# A silence of one orders partition is not an outage of the input (real
# broker, private Redis). Three orders partitions; records go to chosen
# partitions:
#   orders [0]  acct-q1 orders every 4 days up to day 48 and acct-q2 every 5
#               days up to day 50; then nothing on that partition until
#               acct-back orders at day 85 (a 35-day silence of the
#               partition, longer than input.gap = 7 days) and daily from
#               day 150 to 155
#   orders [1]  acct-b1 orders daily up to day 90, then daily from day 150
#   orders [2]  acct-b2 likewise
# Orders [1] and [2] are live while orders [0] is silent: acct-q1 and acct-q2
# are really silent, and get churn.inactivity at their due times (days 62
# and 65). From day 90 to day 150 every orders partition is silent: an outage
# of the group's input, which holds the silence rules, so acct-b1 and acct-b2
# get no churn alert. The same input is consumed by a running `run` (small
# batches: orders [0] reaches day 85 before the others do, and waits for
# them), by `run -e` with other batches, which must give the same churn alert
# ids, and by a control `run -e` with `input.gap=0` (no outage detection), in
# which acct-b1 and acct-b2 do get silence alerts: the scenario tests
# something. Last, a record on orders [1] at day 250 that the others never
# reach: `run -e` stops before it and says so.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap 'pkill -KILL -f "group-$ID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

create_topics 3
day=86400000
t0=1772344800000   # 2026-03-01T06:00:00Z
{
  for d in $(seq 0 4 48); do order "q1-$d" acct-q1 $((t0 + d * day)); done
  for d in $(seq 0 5 50); do order "q2-$d" acct-q2 $((t0 + d * day + 3600000)); done
} | "$PY" -c '
import json, sys
for l in sorted(sys.stdin, key=lambda l: json.loads(l)["occurred_at"]):
    sys.stdout.write(l)' | make_events o0
{ order back-85 acct-back $((t0 + 85 * day))
  for d in $(seq 150 155); do order "back-$d" acct-back $((t0 + d * day)); done; } | make_events o0b
for p in 1 2; do
  for d in $(seq 0 90) $(seq 150 155); do order "b$p-$d" "acct-b$p" $((t0 + d * day + 7200000)); done | make_events "o$p"
done
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -p 0 -k acct-q "$WORK"/o0/*.bin
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -p 0 -k acct-back "$WORK"/o0b/*.bin
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -p 1 -k acct-b1 "$WORK"/o1/*.bin
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -p 2 -k acct-b2 "$WORK"/o2/*.bin
total=$(ls "$WORK"/o0 "$WORK"/o0b "$WORK"/o1 "$WORK"/o2 | grep -c '\.bin$')
ok "produced $total orders: [0] silent from day 50 to 85, every partition silent from day 90 to 150"

offsum() {
  rcli MGET "$NS:{0}:off:$T_ORDERS" "$NS:{1}:off:$T_ORDERS" "$NS:{2}:off:$T_ORDERS" |
    awk '{ s += $1 } END { print s + 0 }'
}
# The running process, small batches: exec, so that $! is riskwatch itself.
run_live() {
  exec "$RW_BIN" run -X kafka.bootstrap.servers="$KAFKA_BOOTSTRAP" -X redis.url="$REDIS_URL" \
    -X state.namespace="$NS" -X group.id="group-$ID" \
    -X topics.orders="$T_ORDERS" -X topics.support="$T_SUPPORT" \
    -X topics.alerts="$T_ALERTS" -X topics.dlq="$T_DLQ" \
    -X idle.timeout=2s -X batch.size=5 -X batch.timeout=20ms
}
run_live >"$WORK/live.jsonl" 2>"$WORK/live.log" &
pid=$!
for _ in $(seq 600); do (($(offsum) >= total)) && break; sleep 0.05; done
(($(offsum) >= total)) || { kill -9 "$pid"; fail "the run stored $(offsum) of $total records: $(grep -v 'kafka: ' "$WORK/live.log" | tail -5)"; }
sleep 3   # idle.timeout and a tick: the partitions follow the group's clock
kill -TERM "$pid"
wait "$pid" || fail "the live run exited non-zero: $(grep -v 'kafka: ' "$WORK/live.log" | tail -5)"

rw run -e -X state.namespace="${NS}_e" -X group.id="group-$ID-e" -X batch.size=3 \
  >"$WORK/e.jsonl" 2>"$WORK/e.log" || fail "run -e: $(grep -v 'kafka: ' "$WORK/e.log" | tail -5)"
rw run -e -X state.namespace="${NS}_c" -X group.id="group-$ID-c" -X input.gap=0 \
  >"$WORK/control.jsonl" 2>"$WORK/control.log" ||
  fail "run -e (control): $(grep -v 'kafka: ' "$WORK/control.log" | tail -5)"

waits() { grep -c 'waits until every other orders partition passed' "$1" || true; }
ok "records that end a partition's silence waited for the other partitions: $(waits "$WORK/live.log") time(s) live, $(waits "$WORK/e.log") in run -e"
grep -h 'stopped at offset' "$WORK"/*.log >&2 && fail "a run stopped with records left"
"$PY" - "$WORK/live.jsonl" "$WORK/e.jsonl" "$WORK/control.jsonl" "$t0" <<'PYEOF' || fail "a partition's silence"
import datetime, json, sys
DAY = 86400000
t0 = int(sys.argv[4])
def load(p):
    return [json.loads(l) for l in open(p) if l.startswith("{")]
def ms(a):
    return round(datetime.datetime.fromisoformat(a["event_time"].replace("Z", "+00:00")).timestamp() * 1000)
def churn(alerts):
    return sorted((a["alert_id"], a["rule"], a["subject"], a["status"], a["event_time"])
                  for a in alerts if a["rule"].startswith("churn."))
live, e, control = load(sys.argv[1]), load(sys.argv[2]), load(sys.argv[3])
# Real silence while the input is live fires, at its due time.
for acct, last, limit in (("acct-q1", 48, 14), ("acct-q2", 50, 15)):
    due = t0 + last * DAY + (3600000 if acct == "acct-q2" else 0) + limit * DAY + 1
    f = [a for a in live if a["subject"] == "ACCOUNT/" + acct and a["rule"] == "churn.inactivity"]
    assert f and f[0]["status"] == "FIRING", (acct, "no churn.inactivity", churn(live))
    assert ms(f[0]) == due // 1000 * 1000, (acct, f[0]["event_time"], due)
# The outage of the whole input holds the silence rules.
held = [a for a in live + e if a["subject"] in ("ACCOUNT/acct-b1", "ACCOUNT/acct-b2")
        and a["rule"].startswith("churn.")]
assert not held, held
storm = [a for a in control if a["subject"] in ("ACCOUNT/acct-b1", "ACCOUNT/acct-b2")
         and a["status"] == "FIRING" and a["rule"] in ("churn.inactivity", "churn.order_drop",
                                                       "churn.spend_drop")]
assert len(storm) >= 2, ("the control run shows no silence alert: the scenario tests nothing",
                         churn(control))
# The same churn alerts, ids and all, live and replayed.
assert churn(live) == churn(e), ("live", churn(live), "run -e", churn(e))
print("ok: churn.inactivity for acct-q1 and acct-q2 at their due times; none for acct-b1 and "
      "acct-b2 (the control run: %d); the same %d churn alerts live and in run -e"
      % (len(storm), len(churn(live))))
PYEOF
ok "a silent partition's accounts fire while the others are live; an outage of every partition holds; live and replay agree"

# A record that the other partitions never reach: orders [1] jumps to day 250
# while [0] and [2] end at day 155. `run -e` (nothing is idle in a replay)
# cannot know whether that is an outage of the input: it stops before the
# record, says so and exits 0; the record stays for a later run.
order b1-250 acct-b1 $((t0 + 250 * day + 7200000)) | make_events o1c
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -p 1 -k acct-b1 "$WORK"/o1c/*.bin
before=$(rcli GET "${NS}_e:{1}:off:$T_ORDERS")
rw run -e -X state.namespace="${NS}_e" -X group.id="group-$ID-e" \
  >"$WORK/e2.jsonl" 2>"$WORK/e2.log" || fail "run -e (day 250): $(grep -v 'kafka: ' "$WORK/e2.log" | tail -5)"
grep -q "\[1\]: stopped at offset $before, which ends a silence of the partition" "$WORK/e2.log" ||
  fail "run -e did not say it stopped at orders [1] offset $before: $(grep -E "waits|stopped|run:|warn" "$WORK/e2.log")"
[[ $(rcli GET "${NS}_e:{1}:off:$T_ORDERS") == "$before" ]] ||
  fail "run -e applied the record no other partition reaches"
ok "run -e stops before a record that no other orders partition reaches, and says so"
