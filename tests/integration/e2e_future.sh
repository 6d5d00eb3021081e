#!/usr/bin/env bash
# future.margin judges a record as of its Kafka timestamp, so the verdict is
# the record's own: a replay hours later, or `riskwatch decode`, gives the one
# a live run gave when the record was new. Four orders through the real
# broker, produced with explicit timestamps:
#   written 3 h ago, occurred 1 h ago     (2 h ahead of its timestamp): DLQ
#   written 3 h ago, occurred 2.5 h ago   (30 min ahead): applied
#   timestamp 5 h ahead of the clock, occurred 2 h ahead: judged as of now: DLQ
#   written now, occurred 30 min ahead: applied
# Judged against the wall clock (as before), the first would be applied: a
# live run reading it when it was written would have refused it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

create_topics 1
now=$(($(date +%s%3N)))
h=3600000
{
  printf '{"type":"order","event_id":"f-1","account_id":"acct-old-ahead","vendor_id":"v","kind":"PLACED","amount_minor":100,"currency":"EUR","occurred_at":%d}\n' $((now - h))
  printf '{"type":"order","event_id":"f-2","account_id":"acct-old-ok","vendor_id":"v","kind":"PLACED","amount_minor":100,"currency":"EUR","occurred_at":%d}\n' $((now - 5 * h / 2))
  printf '{"type":"order","event_id":"f-3","account_id":"acct-clock-ahead","vendor_id":"v","kind":"PLACED","amount_minor":100,"currency":"EUR","occurred_at":%d}\n' $((now + 2 * h))
  printf '{"type":"order","event_id":"f-4","account_id":"acct-fresh-ok","vendor_id":"v","kind":"PLACED","amount_minor":100,"currency":"EUR","occurred_at":%d}\n' $((now + h / 2))
} | "$PY" "$RW_SOURCE_DIR/tests/integration/make_events.py" "$RW_SOURCE_DIR/schemas" "$WORK/ev"

# Timestamps as a producer sets them (0: librdkafka stamps the produce time).
"$PY" - "$KAFKA_BOOTSTRAP" "$T_ORDERS" "$WORK/ev" $((now - 3 * h)) $((now - 3 * h)) \
  $((now + 5 * h)) 0 <<'EOF'
import os, sys
from confluent_kafka import Producer
bootstrap, topic, d, *stamps = sys.argv[1:]
keys = ["acct-old-ahead", "acct-old-ok", "acct-clock-ahead", "acct-fresh-ok"]
p = Producer({"bootstrap.servers": bootstrap})
for i, (k, ts) in enumerate(zip(keys, stamps)):
    with open(os.path.join(d, "%04d.bin" % i), "rb") as f:
        p.produce(topic, f.read(), key=k, partition=0, timestamp=int(ts))
if p.flush(30):
    sys.exit("records not delivered")
EOF
ok "produced 4 orders with their timestamps"

rc=0
rw run -e >"$WORK/out" 2>"$WORK/run.log" || rc=$?
[[ $rc -eq 0 ]] || { tail -20 "$WORK/run.log" >&2; fail "riskwatch run exited $rc"; }
grep -q "run: 4 consumed, 2 applied" "$WORK/run.log" ||
  fail "expected 4 consumed, 2 applied: $(grep -o 'run: .*' "$WORK/run.log")"

kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_DLQ" -e -q -f '%k|%h\n' >"$WORK/dlq"
[[ $(wc -l <"$WORK/dlq") -eq 2 ]] || { cat "$WORK/dlq" >&2; fail "expected 2 dead letters"; }
grep "^acct-old-ahead|" "$WORK/dlq" | grep "rw.error.reason=invalid_field" |
  grep -q "more than 3600000 ms ahead of its timestamp ($((now - 3 * h)))" ||
  { cat "$WORK/dlq" >&2; fail "acct-old-ahead: not dead-lettered as ahead of its timestamp"; }
grep "^acct-clock-ahead|" "$WORK/dlq" | grep "rw.error.reason=invalid_field" |
  grep -q "more than 3600000 ms ahead of now (" ||
  { cat "$WORK/dlq" >&2; fail "acct-clock-ahead: not dead-lettered as ahead of now"; }
ok "the record 2 h ahead of its timestamp and the one 2 h ahead of the clock are dead letters, reasons named"

keys=$(rcli --scan --pattern "$NS:*")
for a in acct-old-ok acct-fresh-ok; do
  k=$(grep ":a:$a$" <<<"$keys") || fail "$a: no state"
  [[ $(rcli HGET "$k" m | cut -d, -f4) == 1 ]] || fail "$a: its order is not counted"
done
for a in acct-old-ahead acct-clock-ahead; do
  ! grep -q ":a:$a$" <<<"$keys" || fail "$a: a dead letter left state"
done
ok "the two within the margin of their timestamps are applied"

# riskwatch decode gives the run's verdict.
"$RW_BIN" decode -t "$T_ORDERS" -e -X kafka.bootstrap.servers="$KAFKA_BOOTSTRAP" \
  -X topics.orders="$T_ORDERS" >"$WORK/decoded" 2>"$WORK/decode.log" ||
  { cat "$WORK/decode.log" >&2; fail "riskwatch decode failed"; }
[[ $(grep -c '"reason":"invalid_field"' "$WORK/decoded") -eq 2 ]] &&
  grep '"key":"acct-old-ahead"' "$WORK/decoded" | grep "ahead of its timestamp" >/dev/null ||
  { cat "$WORK/decoded" >&2; fail "riskwatch decode does not judge as the run does"; }
ok "riskwatch decode judges the records as the run did"
