#!/usr/bin/env bash
# A due time that moves away from the stored one and back within batches
# gathered into one write (write.max.delay): the partition's due index must
# follow it back, or the account is not evaluated at its due time.
#
# Deterministic: Redis refuses writes for a few seconds (CLIENT PAUSE WRITE)
# while a run starts, so its first batch's write waits in Redis and the
# batches after it (one record each) are gathered into the next write. That
# run's redis.timeout is longer than the pause: with the default (2 s) the
# wait for the held write could time out, and the outage's path (reconnect,
# send again) then decided the run's counts instead (CI saw "7 consumed ...
# 1 fenced" once).
# churn.spend_drop alone, over a 3-day window and a 9-day baseline:
#
#   run 1 (plain):  acct-quiet orders 1000 a day, days 0..20, then stops: its
#                   spend falls below half its baseline at day 22 00:00 (D0,
#                   its due time, stored); acct-busy moves event time on to
#                   day 21 23:00.
#   run 2 (held):   B1 acct-busy 23:10             (its write waits in Redis)
#                   B2 acct-quiet orders 5000 at 22:00: no drop at D0, the
#                      due time moves away (later)
#                   B3 acct-quiet refunds it at 22:01: due time back to D0,
#                      the stored value
#                   B4 acct-busy at day 22 00:10   (now 00:05: D0 has passed)
# B2..B4 go to Redis in one write. The index must hold D0 after B3, so that
# B4 evaluates acct-quiet at D0: churn.spend_drop FIRING at D0, as in a clean
# pass that writes every batch on its own.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

create_topics 1
day=86400000
hour=3600000
t0=1772323200000   # 2026-03-01T00:00:00Z
quiet=acct-quiet
busy=acct-busy
d0=$((t0 + 22 * day))
rules=(-X rules.churn.spend_drop.window=3d -X rules.churn.spend_drop.baseline_window=9d
       -X rules.churn.order_drop.enabled=false -X rules.churn.inactivity.enabled=false
       -X rules.churn.refund_rate.enabled=false -X rules.dependency.account_share.enabled=false
       -X rules.dependency.vendor_share.enabled=false -X rules.dependency.account_hhi.enabled=false
       -X rules.dependency.vendor_hhi.enabled=false)
trap 'rcli CLIENT UNPAUSE >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

order() {   # ID ACCOUNT KIND AMOUNT AT
  printf '{"type":"order","event_id":"%s","account_id":"%s","vendor_id":"v-1","kind":"%s","amount_minor":%d,"currency":"EUR","occurred_at":%d}\n' \
    "$@"
}
produce() {   # DIR < events.jsonl
  "$PY" "$RW_SOURCE_DIR/tests/integration/make_events.py" "$RW_SOURCE_DIR/schemas" "$WORK/$1"
  kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -k k "$WORK/$1"/*.bin
}
{
  for d in $(seq 0 20); do
    order "q-$d" "$quiet" PLACED 1000 $((t0 + d * day + 6 * hour))
    order "b-$d" "$busy" PLACED 1000 $((t0 + d * day + 5 * hour))
  done
  order b-21 "$busy" PLACED 1000 $((t0 + 21 * day + 5 * hour))
  order b-21b "$busy" PLACED 1000 $((d0 - hour))
} | "$PY" -c '
import json, sys
for r in sorted((json.loads(l) for l in sys.stdin), key=lambda r: r["occurred_at"]):
    print(json.dumps(r))
' | produce h0
{
  order b-21c "$busy" PLACED 1000 $((d0 - 50 * 60000))
  order q-big "$quiet" PLACED 5000 $((d0 - 2 * hour))
  order q-back "$quiet" REFUNDED 5000 $((d0 - 2 * hour + 60000))
  order b-22 "$busy" PLACED 1000 $((d0 + 10 * 60000))
} >"$WORK/h1.jsonl"

# The clean pass: every batch its own write, over the whole history at once.
run_clean() {
  produce h1 <"$WORK/h1.jsonl"
  rw run -e "${rules[@]}" -X batch.size=1 -X write.max.delay=0 -X state.namespace="${NS}_clean" \
    -X group.id="group-$ID-clean" >"$WORK/clean.jsonl" 2>"$WORK/clean.log" ||
    { cat "$WORK/clean.log" >&2; fail "riskwatch run (clean pass) failed"; }
}

# Run 1 stores acct-quiet's due time D0.
rw run -e "${rules[@]}" >"$WORK/run1.jsonl" 2>"$WORK/run1.log" || { cat "$WORK/run1.log" >&2; fail "run 1 failed"; }
key="$NS:{0}:due:$T_ORDERS"
[[ $(rcli ZSCORE "$key" "$quiet") == "$d0" ]] ||
  fail "after run 1, $quiet's stored due time is '$(rcli ZSCORE "$key" "$quiet")', not D0 $d0"
ok "run 1 stored $quiet's due time D0 = $d0 (its spend drop)"

run_clean

# Run 2 with Redis refusing writes for its first seconds.
rcli CLIENT PAUSE 4000 WRITE >/dev/null
rw run -e "${rules[@]}" -X batch.size=1 -X write.max.delay=10s -X redis.timeout=20s >"$WORK/run2.jsonl" 2>"$WORK/run2.log" ||
  { cat "$WORK/run2.log" >&2; fail "run 2 failed"; }
summary=$(grep -o 'run: [0-9]* consumed.*' "$WORK/run2.log" || true)
echo "$summary"
[[ $summary =~ ^run:\ 4\ consumed ]] || fail "run 2 did not consume the 4 records: $summary"
[[ $summary =~ 4\ batch\(es\)\ \(3\ gathered ]] ||
  fail "run 2 did not gather batches 2 to 4 into one write (the pause did not hold its first write): $summary"
ok "run 2: batches 2 to 4 gathered into one write behind the first"

"$PY" - "$WORK/clean.jsonl" "$WORK/run1.jsonl" "$WORK/run2.jsonl" "$quiet" "$d0" <<'PYEOF' || fail "gathered batches changed the alerts"
import datetime, json, sys
clean, run1, run2, quiet, d0 = sys.argv[1:6]
def load(*ps):
    return [json.loads(l) for p in ps for l in open(p) if l.startswith("{")]
def ms(s):
    return int(datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)
c, g = load(clean), load(run1, run2)
fire = [a for a in c if a["rule"] == "churn.spend_drop" and a["subject"] == "ACCOUNT/" + quiet]
assert len(fire) == 1 and fire[0]["status"] == "FIRING", ("clean pass", fire)
assert ms(fire[0]["event_time"]) == int(d0), ("clean pass fired at", fire[0]["event_time"])
got = [a for a in g if a["rule"] == "churn.spend_drop" and a["subject"] == "ACCOUNT/" + quiet]
assert got, "with gathered batches %s was not evaluated at its due time: no churn.spend_drop" % quiet
assert sorted(a["alert_id"] for a in c) == sorted(a["alert_id"] for a in g), \
    ("alert ids differ", sorted((a["rule"], a["subject"], a["status"], a["event_time"]) for a in c),
     sorted((a["rule"], a["subject"], a["status"], a["event_time"]) for a in g))
print("churn.spend_drop FIRING at", fire[0]["event_time"], "in both;", len(c), "alert(s) in each")
PYEOF
ok "gathered batches fired $quiet's churn.spend_drop at D0, as the clean pass did"

# The same accounts have a due time stored. Not necessarily the same one: a
# stored due time earlier than the account's, still ahead of the clock when
# written, is kept rather than rewritten (a lower bound), and which one is
# kept depends on where batches ended; when the account is evaluated is what
# the alerts above compared.
for ns in "$NS" "${NS}_clean"; do
  rcli ZRANGE "$ns:{0}:due:$T_ORDERS" 0 -1 | sort >"$WORK/due.$ns"
done
diff "$WORK/due.$NS" "$WORK/due.${NS}_clean" || fail "the accounts with a stored due time differ from the clean pass's"
ok "the same $(wc -l <"$WORK/due.$NS") account(s) have a stored due time as in the clean pass"
