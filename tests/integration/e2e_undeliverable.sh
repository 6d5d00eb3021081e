#!/usr/bin/env bash
# An alert the alerts topic refuses for good (here: larger than the
# producer's message.max.bytes, as an alert of a very long account id is
# larger than the broker's limit) does not block the pipeline: it goes to
# the DLQ as alert_undeliverable with its reason and alert id, is counted
# and logged, the other alerts are delivered, the outbox is empty, and a
# restart does not stop on it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

create_topics 1
day=86400000
t0=1772344800000   # 2026-03-01T06:00:00Z
long=$(printf 'l%.0s' $(seq 250))   # 250 bytes: valid, but its alert is ~1.2 KB

# Four orders each, two refunded: churn.refund_rate fires for both accounts.
for acct in "$long" acct-ok; do
  for i in 0 1 2 3; do
    kind=PLACED; [[ $i -ge 2 ]] && kind=REFUNDED
    printf '{"type":"order","event_id":"%s-%d","account_id":"%s","vendor_id":"vendor-1","kind":"%s","amount_minor":1000,"currency":"EUR","occurred_at":%d}\n' \
      "${acct:0:8}" "$i" "$acct" "$kind" $((t0 + i * day))
  done
done | "$PY" "$RW_SOURCE_DIR/tests/integration/make_events.py" "$RW_SOURCE_DIR/schemas" "$WORK/orders"
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -p 0 -k acct "$WORK"/orders/*.bin
ok "produced 8 orders: two accounts, one with a 250-byte id"

for run in 1 2; do
  rc=0
  timeout 120 "$BASH" -c "$(declare -f rw); $(declare -p RW_BIN KAFKA_BOOTSTRAP REDIS_URL NS ID T_ORDERS T_SUPPORT T_ALERTS T_DLQ); rw run -e -X kafka.message.max.bytes=1000" \
    >"$WORK/alerts$run.jsonl" 2>"$WORK/run$run.log" || rc=$?
  [[ $rc -eq 0 ]] || { tail -20 "$WORK/run$run.log" >&2; fail "run $run: riskwatch run exited $rc"; }
done
grep -q 'to the DLQ as alert_undeliverable: the alerts topic refused the alert for good: .*too large' \
  "$WORK/run1.log" || { cat "$WORK/run1.log" >&2; fail "the undeliverable alert is not logged with its reason"; }
grep -q '(1 undeliverable, to the DLQ)' "$WORK/run1.log" ||
  fail "the exit summary does not count the undeliverable alert"
ok "run exits 0, twice; the undeliverable alert is logged and counted"

grep -q '"rule":"churn.refund_rate","subject":"ACCOUNT/acct-ok"' "$WORK/alerts1.jsonl" ||
  fail "acct-ok's alert was not delivered"
kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_ALERTS" -e -q -f '%k\n' >"$WORK/keys.txt"
[[ $(cat "$WORK/keys.txt") == "churn.refund_rate/ACCOUNT/acct-ok" ]] ||
  fail "alerts topic holds: $(cat "$WORK/keys.txt")"
ok "the other account's alert was delivered"

kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_DLQ" -e -q -f '%h\n' >"$WORK/dlq.txt"
[[ $(wc -l <"$WORK/dlq.txt") -eq 1 ]] || fail "expected 1 DLQ record, got: $(cat "$WORK/dlq.txt")"
grep -q 'rw.error.reason=alert_undeliverable' "$WORK/dlq.txt" || fail "DLQ headers: $(cat "$WORK/dlq.txt")"
grep -qE 'rw.alert.id=[0-9a-f]{32}' "$WORK/dlq.txt" || fail "no rw.alert.id: $(cat "$WORK/dlq.txt")"
grep -q "rw.source.topic=$T_ALERTS" "$WORK/dlq.txt" || fail "no rw.source.topic: $(cat "$WORK/dlq.txt")"
ok "the refused alert is in the DLQ with its reason and id"

for k in $(rcli --scan --pattern "$NS:*outbox*"); do
  [[ $(rcli LLEN "$k") -eq 0 ]] || fail "$k still holds $(rcli LLEN "$k") alert(s)"
done
ok "no outbox holds anything"
