#!/usr/bin/env bash
# Schema registry, on the real broker and a private Redis, with a
# Confluent-compatible test registry (registry_server.py):
#  1. records framed with an id only the registry knows (a v2 OrderEvent with
#     an extra field) are fetched once, resolved and applied; an id the
#     registry does not have goes to the DLQ as unknown_schema; the alert is
#     framed with the id the registry assigned under `<alerts topic>-value`;
#  2. while the registry does not answer, riskwatch waits at start-up, then
#     stops before the record it cannot resolve: nothing goes to the DLQ, the
#     stored offset stays before that record, and once the registry is back
#     every record is applied exactly once;
#  3. while the registry fails for the alerts' own id, alerts still go out keyed
#     by their fingerprint and are printed (the outbox needs no registry).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

create_topics 1
day=86400000
t0=1772344800000   # 2026-03-01T06:00:00Z

# ---- the test registry ----------------------------------------------------------

regdir=$WORK/registry
mkdir -p "$regdir"
cp "$RW_SOURCE_DIR/schemas/OrderEvent.avsc" "$regdir/1.avsc"
cp "$RW_SOURCE_DIR/schemas/SupportEvent.avsc" "$regdir/2.avsc"
# OrderEvent v2: an extra field with a default, under ids the catalogue lacks.
"$PY" - "$RW_SOURCE_DIR/schemas/OrderEvent.avsc" "$regdir/order_v2.json" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))
s["fields"].append({"name": "channel", "type": "string", "default": "web"})
json.dump(s, open(sys.argv[2], "w"), indent=1)
PYEOF
cp "$regdir/order_v2.json" "$regdir/101.avsc"
cp "$regdir/order_v2.json" "$regdir/102.avsc"

"$PY" "$RW_SOURCE_DIR/tests/integration/registry_server.py" "$regdir" >"$WORK/reg.port" 2>"$WORK/reg.log" &
REG_PID=$!
trap 'kill "$REG_PID" 2>/dev/null; [[ -n ${RW_PID:-} ]] && kill "$RW_PID" 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do [[ -s $WORK/reg.port ]] && break; sleep 0.1; done
REG=http://127.0.0.1:$(head -1 "$WORK/reg.port")
[[ $REG =~ :[0-9]+$ ]] || fail "test registry did not start: $(cat "$WORK/reg.log")"

reg_get() {
  "$PY" -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' "$REG$1"
}
reg_ctl() {
  "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=sys.argv[2].encode()))' \
    "$REG/_control" "$1"
}
# How often the registry was asked for one path ("GET /schemas/ids/101").
reg_count() {
  reg_get /_stats | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["requests"].get(sys.argv[1], 0))' "$1"
}
ok "test registry at $REG"

# frame ID SCHEMA OUT_DIR < events.jsonl: framed Avro written with python3-avro.
frame() { "$PY" "$WORK/frame.py" "$@"; }
cat >"$WORK/frame.py" <<'PYEOF'
import datetime, io, json, os, struct, sys
import avro.io, avro.schema
sid, schema = int(sys.argv[1]), avro.schema.parse(open(sys.argv[2]).read())
out = sys.argv[3]
os.makedirs(out, exist_ok=True)
epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
for n, line in enumerate(l for l in sys.stdin if l.strip()):
    rec = json.loads(line)
    for f in schema.fields:
        if f.name not in rec and f.has_default:
            rec[f.name] = f.default
    rec["occurred_at"] = epoch + datetime.timedelta(milliseconds=rec["occurred_at"])
    buf = io.BytesIO()
    buf.write(b"\x00" + struct.pack(">I", sid))
    avro.io.DatumWriter(schema).write(rec, avro.io.BinaryEncoder(buf))
    open(os.path.join(out, "%04d.bin" % n), "wb").write(buf.getvalue())
PYEOF

order() {   # order N KIND ACCOUNT DAY [CHANNEL]: one OrderEvent as JSON
  printf '{"event_id":"reg-%s","account_id":"%s","vendor_id":"vendor-r","product_line":null,"kind":"%s","amount_minor":%d,"currency":"EUR","occurred_at":%d%s}\n' \
    "$1" "$3" "$2" $((1000 + $1 * 10)) $((t0 + $4 * day)) "${5:+,\"channel\":\"$5\"}"
}

orders_offset() {   # the stored next offset of the orders partition
  local k
  k=$(rcli --scan --pattern "$NS:*:off:$T_ORDERS" | head -1)
  [[ -n $k ]] && rcli GET "$k" || echo -1
}
dlq_count() {
  kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_DLQ" -e -q -f 'x\n' 2>/dev/null | wc -l
}

# ---- 1. ids from the registry ------------------------------------------------------

# acct-reg: one order under catalogue id 1, three under registry id 101 (two
# refunded: churn.refund_rate fires), then a record under an id nobody has.
order 0 PLACED acct-reg 0 | frame 1 "$RW_SOURCE_DIR/schemas/OrderEvent.avsc" "$WORK/o1"
{ order 1 PLACED acct-reg 1 sms; order 2 REFUNDED acct-reg 2 app; order 3 REFUNDED acct-reg 3; } |
  frame 101 "$regdir/101.avsc" "$WORK/o101"
order 4 PLACED acct-reg 4 | frame 999 "$regdir/101.avsc" "$WORK/o999"
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -k acct-reg "$WORK"/o1/*.bin
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -k acct-reg "$WORK"/o101/*.bin
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -k acct-bad "$WORK"/o999/*.bin
ok "produced 1 record under id 1, 3 under id 101, 1 under id 999"

rc=0
timeout 120 "$BASH" -c "$(declare -f rw); $(declare -p RW_BIN KAFKA_BOOTSTRAP REDIS_URL NS ID T_ORDERS T_SUPPORT T_ALERTS T_DLQ); rw run -e -X schema.registry.url=$REG" \
  >"$WORK/alerts.jsonl" 2>"$WORK/run1.log" || rc=$?
[[ $rc -eq 0 ]] || { cat "$WORK/run1.log" >&2; fail "riskwatch run exited $rc"; }
grep -q '"rule":"churn.refund_rate","subject":"ACCOUNT/acct-reg"' "$WORK/alerts.jsonl" ||
  { cat "$WORK/run1.log" >&2; fail "no refund_rate alert for acct-reg"; }
akey=$(rcli --scan --pattern "$NS:*:a:acct-reg" | head -1)
[[ -n $akey && $(rcli HGET "$akey" m:n) == 2 ]] || fail "expected 2 PLACED orders for acct-reg"
[[ $(orders_offset) == 5 ]] || fail "stored orders offset is $(orders_offset), expected 5"
[[ $(reg_count "GET /schemas/ids/101") == 1 ]] ||
  fail "id 101 fetched $(reg_count "GET /schemas/ids/101") times, expected once"
# With a registry configured, ids resolve through it, id 1 included (the contract).
[[ $(reg_count "GET /schemas/ids/1") == 1 ]] ||
  fail "id 1 asked of the registry $(reg_count "GET /schemas/ids/1") times, expected once"
ok "records under a registry id resolved (fetched once) and applied"

kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_DLQ" -e -q -f '%k|%h\n' >"$WORK/dlq.txt"
[[ $(wc -l <"$WORK/dlq.txt") == 1 ]] || fail "expected 1 DLQ record: $(cat "$WORK/dlq.txt")"
grep -q '^acct-bad|.*rw.error.reason=unknown_schema' "$WORK/dlq.txt" ||
  fail "id 999 not in the DLQ as unknown_schema: $(cat "$WORK/dlq.txt")"
grep -q 'not found' "$WORK/dlq.txt" || fail "DLQ message does not say the registry has no id 999"
ok "an id the registry does not have: DLQ, unknown_schema"

alert_id=$(reg_get "/subjects/$T_ALERTS-value/versions/latest" |
           "$PY" -c 'import json, sys; print(json.load(sys.stdin)["id"])')
[[ $alert_id -gt 102 ]] || fail "RiskAlert registered as id $alert_id"
grep -q "alerts framed with schema id $alert_id" "$WORK/run1.log" ||
  fail "run does not log the alerts' schema id"
kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_ALERTS" -o beginning -c 1 -e -q -D '' -f '%s' >"$WORK/alert.bin"
"$PY" - "$RW_SOURCE_DIR/schemas/RiskAlert.avsc" "$WORK/alert.bin" "$alert_id" <<'PYEOF' \
  || fail "alert is not a RiskAlert framed with the registry's id $alert_id"
import io, struct, sys
import avro.io, avro.schema
schema = avro.schema.parse(open(sys.argv[1]).read())
data = open(sys.argv[2], "rb").read()
assert data[0] == 0, data[:5]
(sid,) = struct.unpack(">I", data[1:5])
assert sid == int(sys.argv[3]), "frame id %d, expected %s" % (sid, sys.argv[3])
rec = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(io.BytesIO(data[5:])))
assert rec["rule"] == "churn.refund_rate" and rec["subject_id"] == "acct-reg", rec
PYEOF
ok "alert framed with schema id $alert_id, registered under $T_ALERTS-value"

# ---- 2. the registry does not answer -------------------------------------------------

# acct-out: A (id 1), B (id 102), C (id 1); a new process, nothing cached.
order 10 PLACED acct-out 5 | frame 1 "$RW_SOURCE_DIR/schemas/OrderEvent.avsc" "$WORK/a"
order 11 PLACED acct-out 6 | frame 102 "$regdir/102.avsc" "$WORK/b"
order 12 PLACED acct-out 7 | frame 1 "$RW_SOURCE_DIR/schemas/OrderEvent.avsc" "$WORK/c"
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -k acct-out "$WORK"/a/*.bin "$WORK"/b/*.bin "$WORK"/c/*.bin

reg_ctl '{"fail": 503}'
"$RW_BIN" run \
  -X kafka.bootstrap.servers="$KAFKA_BOOTSTRAP" -X redis.url="$REDIS_URL" \
  -X state.namespace="$NS" -X group.id="group-$ID" \
  -X topics.orders="$T_ORDERS" -X topics.support="$T_SUPPORT" \
  -X topics.alerts="$T_ALERTS" -X topics.dlq="$T_DLQ" \
  -X schema.registry.url="$REG" -X schema.registry.timeout=1s \
  >"$WORK/run2.out" 2>"$WORK/run2.log" </dev/null &
RW_PID=$!
sleep 3
kill -0 "$RW_PID" 2>/dev/null || { cat "$WORK/run2.log" >&2; fail "run exited while the registry answers 503"; }
grep -q "schema registry unreachable: .*503.*registering $T_ALERTS-value, retrying" "$WORK/run2.log" ||
  { cat "$WORK/run2.log" >&2; fail "no retry line for the alerts' registration"; }
[[ $(orders_offset) == 5 ]] || fail "offset moved before the alerts schema was registered"
ok "registry down at start-up: run waits and retries"

# Registration and id 1 answer, id 102 does not: A is applied, B stops the partition.
reg_ctl '{"fail": 503, "fail_prefix": "/schemas/ids/102"}'
for _ in $(seq 600); do [[ $(orders_offset) == 6 ]] && break; sleep 0.1; done
[[ $(orders_offset) == 6 ]] || { cat "$WORK/run2.log" >&2; fail "record A not applied (offset $(orders_offset))"; }
sleep 4
kill -0 "$RW_PID" 2>/dev/null || { cat "$WORK/run2.log" >&2; fail "run exited during the outage"; }
[[ $(orders_offset) == 6 ]] || fail "offset moved past the unresolved record: $(orders_offset)"
[[ $(dlq_count) == 1 ]] || fail "the unresolved record went to the DLQ"
grep -q "schema registry unreachable: schema id 102: .*503.*; pausing 2 partition(s), retrying in" \
  "$WORK/run2.log" || { cat "$WORK/run2.log" >&2; fail "no pause line in the log"; }
grep -q "schema registry still unreachable" "$WORK/run2.log" ||
  { cat "$WORK/run2.log" >&2; fail "no probe while paused"; }
ok "registry down: partition paused before the record, nothing to the DLQ, offset stays"

reg_ctl '{"fail": 0}'
for _ in $(seq 300); do [[ $(orders_offset) == 8 ]] && break; sleep 0.1; done
[[ $(orders_offset) == 8 ]] || { cat "$WORK/run2.log" >&2; fail "records not applied after the registry came back (offset $(orders_offset))"; }
kill -TERM "$RW_PID"
rc=0
wait "$RW_PID" || rc=$?
RW_PID=
[[ $rc -eq 0 ]] || { cat "$WORK/run2.log" >&2; fail "run exited $rc on SIGTERM"; }
cat "$WORK/run2.log"
grep -q "schema registry answered: resumed" "$WORK/run2.log" || fail "no resume line in the log"
grep -Eq "run: 3 consumed, 3 applied.*, 0 duplicate\(s\), 0 to the DLQ" "$WORK/run2.log" ||
  fail "expected 3 records consumed and applied once each"
akey=$(rcli --scan --pattern "$NS:*:a:acct-out" | head -1)
[[ -n $akey && $(rcli HGET "$akey" m:n) == 3 ]] || fail "expected 3 PLACED orders for acct-out"
[[ $(dlq_count) == 1 ]] || fail "DLQ grew after the outage"
ok "registry back: every record applied once, nothing lost"

# ---- 3. the alerts' own schema id unanswered ------------------------------------------

# The outbox delivers alerts it framed itself: it needs no registry to find
# their key or print them. The registry fails only for the RiskAlert's id.
reg_ctl "{\"fail\": 503, \"fail_prefix\": \"/schemas/ids/$alert_id\"}"
{ order 20 PLACED acct-key 8; order 21 PLACED acct-key 9; order 22 REFUNDED acct-key 10
  order 23 REFUNDED acct-key 11; } | frame 1 "$RW_SOURCE_DIR/schemas/OrderEvent.avsc" "$WORK/k"
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -k acct-key "$WORK"/k/*.bin
rc=0
timeout 120 "$BASH" -c "$(declare -f rw); $(declare -p RW_BIN KAFKA_BOOTSTRAP REDIS_URL NS ID T_ORDERS T_SUPPORT T_ALERTS T_DLQ); rw run -e -X schema.registry.url=$REG" \
  >"$WORK/alerts3.jsonl" 2>"$WORK/run3.log" || rc=$?
[[ $rc -eq 0 ]] || { cat "$WORK/run3.log" >&2; fail "riskwatch run exited $rc"; }
grep -q '"rule":"churn.refund_rate","subject":"ACCOUNT/acct-key"' "$WORK/alerts3.jsonl" ||
  { cat "$WORK/run3.log" >&2; fail "no JSON line for acct-key's alert while /schemas/ids/$alert_id fails"; }
kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_ALERTS" -e -q -f '%k|%T\n' >"$WORK/keys3.txt"
grep -q '^churn.refund_rate/ACCOUNT/acct-key|' "$WORK/keys3.txt" ||
  fail "acct-key's alert is not keyed by its fingerprint: $(cat "$WORK/keys3.txt")"
! grep -q '^|' "$WORK/keys3.txt" || fail "an alert went out without a key: $(cat "$WORK/keys3.txt")"
ok "registry failing for the alerts' id: alerts keyed by fingerprint and printed"
