#!/usr/bin/env bash
# Time-driven evaluation end to end (real broker, private Redis): an account
# that stops ordering fires churn.inactivity from event time passing alone —
# the alert's event time is the instant its limit was exceeded, it names no
# source record, and it comes whether the history is processed in one batch
# or many. An order afterwards resolves it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

create_topics 1
day=86400000
t0=1772344800000   # 2026-03-01T06:00:00Z
quiet=acct-quiet
busy=acct-busy

# acct-quiet orders every 5 days, days 0..50 (11 orders: limit = 3 x 5 = 15
# days), then stops. acct-busy orders every day up to day 80, moving event
# time on; at day 85 acct-quiet orders again.
{
  for d in $(seq 0 5 50); do
    printf '{"type":"order","event_id":"q-%d","account_id":"%s","vendor_id":"v-1","kind":"PLACED","amount_minor":1000,"currency":"EUR","occurred_at":%d}\n' \
      "$d" "$quiet" $((t0 + d * day))
  done
  for d in $(seq 0 80); do
    printf '{"type":"order","event_id":"b-%d","account_id":"%s","vendor_id":"v-1","kind":"PLACED","amount_minor":1000,"currency":"EUR","occurred_at":%d}\n' \
      "$d" "$busy" $((t0 + d * day + 3600000))
  done
  printf '{"type":"order","event_id":"q-85","account_id":"%s","vendor_id":"v-1","kind":"PLACED","amount_minor":1000,"currency":"EUR","occurred_at":%d}\n' \
    "$quiet" $((t0 + 85 * day))
} | "$PY" -c '
import json, sys
lines = [json.loads(l) for l in sys.stdin]
lines.sort(key=lambda r: r["occurred_at"])
for r in lines: print(json.dumps(r))
' | "$PY" "$RW_SOURCE_DIR/tests/integration/make_events.py" "$RW_SOURCE_DIR/schemas" "$WORK/orders"
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -k k "$WORK"/orders/*.bin
ok "produced $(ls "$WORK"/orders | wc -l) orders"

expect_due=$((t0 + 50 * day + 15 * day + 1))

run_variant() {   # NAME BATCH_SIZE: a fresh namespace, group and alerts topic
  local name=$1 bs=$2 rc=0
  "$RW_SOURCE_DIR/scripts/kafka-broker.sh" create-topic "$RW_SERVICES" "$T_ALERTS-$name" 1 >/dev/null
  timeout 120 "$BASH" -c "$(declare -f rw); $(declare -p RW_BIN KAFKA_BOOTSTRAP REDIS_URL T_ORDERS T_SUPPORT T_ALERTS T_DLQ); NS=${NS}_$name; ID=$ID-$name; rw run -e -X batch.size=$bs -X topics.alerts=$T_ALERTS-$name" \
    >"$WORK/$name.jsonl" 2>"$WORK/$name.log" || rc=$?
  [[ $rc -eq 0 ]] || { cat "$WORK/$name.log" >&2; fail "riskwatch run ($name) exited $rc"; }
}

run_variant one 1000
run_variant many 3
cat "$WORK/one.jsonl"

"$PY" - "$WORK/one.jsonl" "$WORK/many.jsonl" "$quiet" "$busy" "$expect_due" $((t0 + 85 * day - 300000)) <<'PYEOF' || fail "time-driven inactivity"
import json, sys
one, many, quiet, busy, due, back = sys.argv[1:7]
due, back = int(due), int(back)
def load(p):
    return [json.loads(l) for l in open(p) if l.startswith("{")]
a1, a2 = load(one), load(many)
inact = [a for a in a1 if a["rule"] == "churn.inactivity" and a["subject"] == "ACCOUNT/" + quiet]
assert inact, "no churn.inactivity for %s: %s" % (quiet, a1)
fire = inact[0]
assert fire["status"] == "FIRING" and fire["severity"] == "WARNING", fire
import datetime
t = datetime.datetime.fromisoformat(fire["event_time"].replace("Z", "+00:00"))
assert int(t.timestamp()) == due // 1000, ("event time", fire["event_time"], due)
res = [a for a in inact if a["status"] == "RESOLVED"]
assert res, "the order at day 85 did not resolve inactivity: %s" % inact
assert not [a for a in a1 if a["subject"] == "ACCOUNT/" + busy and a["rule"].startswith("churn.")], \
    "the busy account fired a churn rule"
ids1 = sorted(a["alert_id"] for a in a1)
ids2 = sorted(a["alert_id"] for a in a2)
assert ids1 == ids2, ("batch size changed the alerts", ids1, ids2)
print("inactivity FIRING at", fire["event_time"], "id", fire["alert_id"], "; RESOLVED at", res[0]["event_time"])
PYEOF
ok "inactivity fired from event time alone, at the limit; resolved by the next order; same ids in 1 and 3-record batches"

# On Kafka: the time-driven alert names no source record.
kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_ALERTS-one" -e -q -f '%k\n' >"$WORK/keys.txt"
grep -qx "churn.inactivity/ACCOUNT/$quiet" "$WORK/keys.txt" || fail "no inactivity alert on Kafka"
part=0
n=$(grep -n -x -m1 "churn.inactivity/ACCOUNT/$quiet" "$WORK/keys.txt" | cut -d: -f1)
kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_ALERTS-one" -p "$part" -o $((n - 1)) -c 1 -e -q -D '' -f '%s' >"$WORK/alert.bin"
"$PY" "$RW_SOURCE_DIR/tests/integration/read_alert.py" "$RW_SOURCE_DIR/schemas" "$WORK/alert.bin" >"$WORK/alert.json" ||
  fail "inactivity alert is not a framed RiskAlert"
cat "$WORK/alert.json"
"$PY" - "$WORK/alert.json" "$expect_due" <<'PYEOF' || fail "inactivity alert fields"
import datetime, json, sys, time
a = json.load(open(sys.argv[1]))
def ms(v):   # timestamp-millis, decoded by python3-avro to a datetime (printed by str)
    if isinstance(v, int):
        return v
    t = datetime.datetime.fromisoformat(v)
    return (t - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)) // datetime.timedelta(milliseconds=1)
assert a["rule"] == "churn.inactivity" and a["status"] == "FIRING", a
assert a["source_topic"] == "" and a["source_partition"] == -1 and a["source_offset"] == -1, a
assert ms(a["event_time"]) == int(sys.argv[2]), ("event_time", a["event_time"], ms(a["event_time"]), "expected", int(sys.argv[2]))
assert abs(ms(a["emitted_at"]) - time.time() * 1000) < 600000, ("emitted_at is not the wall clock", a["emitted_at"])
assert abs(a["threshold"] - 15 * 86400000) < 1 and a["observed"] > a["threshold"], a
PYEOF
ok "the time-driven alert on Kafka: event_time $expect_due ms (the limit), source -1, threshold 15 days"

# A decider that died holding its lock with an undelivered dependency alert:
# a later `run -e` waits for the lock to expire and delivers the alert.
kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_ALERTS-one" -p 0 -o beginning -c 1 -e -q -D '' -f '%s' >"$WORK/left.bin"
before=$(kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_ALERTS-one" -e -q -f '%o\n' | wc -l)
rcli -x RPUSH "${NS}_one:{dep}:outbox" <"$WORK/left.bin" >/dev/null
rcli SET "${NS}_one:{dep}:lock" someone-dead PX 3000 >/dev/null
t0_ms=$(date +%s%3N)
run_variant one 1000
waited=$(( $(date +%s%3N) - t0_ms ))
after=$(kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_ALERTS-one" -e -q -f '%o\n' | wc -l)
[[ $after -eq $((before + 1)) ]] || fail "the left-over alert was not delivered ($before -> $after records)"
[[ $(rcli LLEN "${NS}_one:{dep}:outbox") -eq 0 ]] || fail "the decider's outbox is not empty"
((waited >= 2500)) || fail "delivered after $waited ms: the dead decider's lock was not respected"
ok "an alert a dead decider left in its outbox was delivered once its lock expired ($waited ms)"

# A decider lock held by a process that does not let go (alive, but not
# catching up): `run -e` waits the lock's time to live and 5 s more for the
# decider, then exits and says what it leaves undecided and undelivered.
rcli -x RPUSH "${NS}_one:{dep}:outbox" <"$WORK/left.bin" >/dev/null
rcli SET "${NS}_one:{dep}:lock" someone-alive PX 120000 >/dev/null
t0_ms=$(date +%s%3N)
run_variant one 1000
waited=$(( $(date +%s%3N) - t0_ms ))
grep -q "the dependency decider did not catch up" "$WORK/one.log" ||
  fail "run -e gave up on the decider without saying so: $(grep -v 'kafka: ' "$WORK/one.log" | tail -3)"
[[ $(rcli LLEN "${NS}_one:{dep}:outbox") -eq 1 ]] || fail "the decider's outbox changed under another's lock"
((waited >= 15000)) || fail "gave up after $waited ms, before the lock's time to live and 5 s"
rcli DEL "${NS}_one:{dep}:lock" "${NS}_one:{dep}:outbox" >/dev/null
ok "run -e under a lock held elsewhere: gave up after $waited ms and said so"
