#!/usr/bin/env bash
# End to end on the real broker and a private Redis: records produced by kcat
# (framed Avro written by python3-avro) are consumed by `riskwatch run`, leave
# state in Redis, and a framed Avro RiskAlert appears on the alerts topic; a
# poison record lands in the DLQ with its reason and its original bytes.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

create_topics 3
day=86400000
t0=1772344800000   # 2026-03-01T06:00:00Z (past the 5-minute lateness of day starts)

# Four orders in a week, two of them refunded: churn.refund_rate (>= 25% of
# >= 4 orders in 30 days) must fire for acct-e2e. One survey for acct-e2e.
{
  for i in 0 1 2 3; do
    kind=PLACED; [[ $i -ge 2 ]] && kind=REFUNDED
    printf '{"type":"order","event_id":"e2e-o%d","account_id":"acct-e2e","vendor_id":"vendor-7","product_line":"widgets","kind":"%s","amount_minor":%d,"currency":"EUR","occurred_at":%d}\n' \
      "$i" "$kind" $((1000 + i * 250)) $((t0 + i * day))
  done
} | "$PY" "$RW_SOURCE_DIR/tests/integration/make_events.py" "$RW_SOURCE_DIR/schemas" "$WORK/orders"
printf '{"type":"support","event_id":"e2e-s0","account_id":"acct-e2e","ticket_id":"T-1","kind":"SURVEY","severity":"LOW","csat":4,"sentiment":0.25,"occurred_at":%d}\n' \
  $((t0 + 2 * day)) |
  "$PY" "$RW_SOURCE_DIR/tests/integration/make_events.py" "$RW_SOURCE_DIR/schemas" "$WORK/support"

# kcat: one message per file, keyed by the account.
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -k acct-e2e "$WORK"/orders/*.bin
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_SUPPORT" -k acct-e2e "$WORK"/support/*.bin
printf '\x01garbage' > "$WORK/poison.bin"
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -k acct-poison "$WORK/poison.bin"
ok "produced 5 events and 1 poison record with kcat"

rc=0
timeout 120 "$BASH" -c "$(declare -f rw); $(declare -p RW_BIN KAFKA_BOOTSTRAP REDIS_URL NS ID T_ORDERS T_SUPPORT T_ALERTS T_DLQ); rw run -e" \
  >"$WORK/alerts.jsonl" 2>"$WORK/run.log" || rc=$?
[[ $rc -eq 0 ]] || { cat "$WORK/run.log" >&2; fail "riskwatch run exited $rc"; }
cat "$WORK/alerts.jsonl"
grep -q '"status":"FIRING","severity":"WARNING","rule":"churn.refund_rate","subject":"ACCOUNT/acct-e2e"' \
  "$WORK/alerts.jsonl" || fail "no refund_rate FIRING line for acct-e2e on stdout"
# The line carries what services get on the alerts topic too.
"$PY" - "$WORK/alerts.jsonl" <<'PYEOF' || fail "the alert line lacks what services get"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1]) if '"churn.refund_rate"' in l][0]
want = {"fingerprint": "churn.refund_rate/ACCOUNT/acct-e2e", "category": "CHURN",
        "window": "30d"}
bad = {k: a.get(k) for k, v in want.items() if a.get(k) != v}
assert not bad and "baseline" in a and len(a["alert_id"]) == 32, (bad, a)
PYEOF
ok "the alert line carries fingerprint, category, baseline and window"
ok "alert line on stdout"

# State in Redis: the account's buckets and both partitions' stored offsets.
keys=$(rcli --scan --pattern "$NS:*")
echo "$keys"
akey=$(grep ":a:acct-e2e$" <<<"$keys") || fail "no account state for acct-e2e in Redis"
[[ $(rcli HGET "$akey" m | cut -d, -f4) == 2 ]] || fail "expected 2 PLACED orders in $akey"
day0=$((t0 / day))
bucket=$(rcli HGET "$akey" "$((day0 + 2))")
[[ $bucket == ,,,1,1500 ]] || fail "orders bucket of day 2 is '$bucket'"
skey=$(grep ":s:acct-e2e$" <<<"$keys") || fail "no support state for acct-e2e in Redis"
bucket=$(rcli HGET "$skey" "$((day0 + 2))")
[[ $bucket == ,,,,,,,4,1,0.25,1 ]] || fail "support bucket of day 2 is '$bucket'"
offsum=0
for k in $(grep ":off:$T_ORDERS$" <<<"$keys"); do offsum=$((offsum + $(rcli GET "$k"))); done
[[ $offsum -ge 5 ]] || fail "stored order offsets cover $offsum records, expected 5"
ok "state and offsets in Redis"

# The alert on Kafka: key = fingerprint, value = framed Avro RiskAlert.
kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_ALERTS" -e -q -f '%k\n' >"$WORK/keys.txt"
grep -qx "churn.refund_rate/ACCOUNT/acct-e2e" "$WORK/keys.txt" ||
  fail "no alert keyed by its fingerprint on $T_ALERTS: $(cat "$WORK/keys.txt")"
part=$(kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_ALERTS" -e -q -f '%k %p\n' |
       awk '$1 == "churn.refund_rate/ACCOUNT/acct-e2e" { print $2; exit }')
kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_ALERTS" -p "$part" -o beginning -c 1 -e -q -D '' -f '%s' >"$WORK/alert.bin"
"$PY" "$RW_SOURCE_DIR/tests/integration/read_alert.py" "$RW_SOURCE_DIR/schemas" "$WORK/alert.bin" \
  >"$WORK/alert.json" || fail "alert on Kafka is not a framed RiskAlert"
cat "$WORK/alert.json"
"$PY" - "$WORK/alert.json" <<'PYEOF' || fail "decoded alert has wrong fields"
import json, sys
a = json.load(open(sys.argv[1]))
exp = {"rule": "churn.refund_rate", "category": "CHURN", "subject_type": "ACCOUNT",
       "subject_id": "acct-e2e", "status": "FIRING", "severity": "WARNING",
       "fingerprint": "churn.refund_rate/ACCOUNT/acct-e2e", "replay": False}
bad = {k: (a.get(k), v) for k, v in exp.items() if a.get(k) != v}
assert not bad, bad
assert a["observed"] == 0.5 and a["threshold"] == 0.25, a
assert len(a["alert_id"]) == 32 and a["source_partition"] >= 0, a
PYEOF
ok "framed Avro RiskAlert on $T_ALERTS"

# The poison record: original bytes and key, with the contract's headers.
kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_DLQ" -e -q \
  -f '%k|%h|%s\n' >"$WORK/dlq.txt"
cat "$WORK/dlq.txt"
grep -q '^acct-poison|' "$WORK/dlq.txt" || fail "DLQ record lost its key"
grep -q 'rw.error.reason=bad_magic' "$WORK/dlq.txt" || fail "DLQ reason is not bad_magic"
grep -q "rw.source.topic=$T_ORDERS" "$WORK/dlq.txt" || fail "DLQ source topic missing"
grep -q '|.garbage$' "$WORK/dlq.txt" || fail "DLQ value is not the original bytes"
ok "poison record in the DLQ"

# inspect: the figures the rules saw, the rule's decision and its alert.
rw inspect --json acct-e2e >"$WORK/inspect.json" || fail "inspect acct-e2e failed"
cat "$WORK/inspect.json"
"$PY" - "$WORK/inspect.json" <<'PYEOF' || fail "inspect --json shows the wrong figures"
import json, sys
j = json.load(open(sys.argv[1]))
o, s = j["orders"], j["support"]
assert (o["placed_30d"], o["orders_30d"], o["returns_30d"], o["orders_total"]) == (2, 4, 2, 2), o
assert o["net_spend_30d"] == 1000 + 1250 - 1500 - 1750, o
# The watermark is acct-e2e's own latest order: its rules are not evaluated
# before it (not at the watermark minus the lateness).
assert o["now"] == o["watermark"], o
assert (s["csat_n_30d"], s["csat_sum_30d"], s["sentiment_n_30d"]) == (1, 4, 1), s
r = {x["rule"]: x for x in j["rules"]}
rr = r["churn.refund_rate"]
assert rr["decided"] and rr["holds"] and rr["observed"] == 0.5 and rr["alert"]["firing"], rr
assert not r["churn.order_drop"]["decided"], r["churn.order_drop"]
PYEOF
rw inspect acct-e2e | grep "churn.refund_rate .*HOLDS" >/dev/null || fail "inspect text does not show refund_rate holding"
rw inspect --vendor vendor-7 --json | grep '"order_value":2250' >/dev/null ||
  fail "inspect --vendor vendor-7: $(rw inspect --vendor vendor-7 --json)"
rc=0; rw inspect no-such-account >/dev/null 2>"$WORK/err" || rc=$?
[[ $rc -eq 1 ]] && grep -q "not in namespace" "$WORK/err" || fail "inspect of an unknown account: exit $rc"
ok "inspect shows the figures, decisions and alert state the rules used"
