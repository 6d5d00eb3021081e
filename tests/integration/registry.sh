#!/usr/bin/env bash
# Schema registry, on the real broker and a private Redis.
#  1. against a real schema registry, Apicurio Registry (in-memory, through
#     its Confluent-compatible API; scripts/schema-registry.sh): records
#     framed with the ids it assigned to the schemas registered there
#     (OrderEvent and a v2 with an extra field) are fetched once, resolved and
#     applied; an id it does not have goes to the DLQ as unknown_schema;
#     riskwatch registers RiskAlert under `<alerts topic>-value` and frames
#     the alert with the id the registry assigned;
#  2. while the registry does not answer, riskwatch waits at start-up, then
#     stops before the record it cannot resolve: nothing goes to the DLQ, the
#     stored offset stays before that record, and once the registry is back
#     every record is applied exactly once;
#  3. while the registry fails for the alerts' own id, alerts still go out keyed
#     by their fingerprint and are printed (the outbox needs no registry).
# Parts 2 and 3 inject faults a real registry cannot be told to make (503s
# for some paths only, then answering again): there, and only there, the
# registry is tests/integration/registry_server.py, a Confluent-compatible
# imitation with fault controls.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

create_topics 1
day=86400000
t0=1772344800000   # 2026-03-01T06:00:00Z

# ---- the registries ----------------------------------------------------------------

regdir=$WORK/registry
mkdir -p "$regdir"
# OrderEvent v2: an extra field with a default.
"$PY" - "$RW_SOURCE_DIR/schemas/OrderEvent.avsc" "$regdir/order_v2.json" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))
s["fields"].append({"name": "channel", "type": "string", "default": "web"})
json.dump(s, open(sys.argv[2], "w"), indent=1)
PYEOF

trap 'kill "${REG_PID:-}" 2>/dev/null; [[ -n ${RW_PID:-} ]] && kill "$RW_PID" 2>/dev/null; schema_registry_stop; rm -rf "$WORK"' EXIT
schema_registry_start
APIC=$SCHEMA_REGISTRY_URL

# The imitation, for parts 2 and 3 only: the faults Apicurio cannot be told to
# make (503 for every request, then only for /schemas/ids/102 or only for the
# alerts' own id, then answering again). It serves N.avsc as id N.
cp "$RW_SOURCE_DIR/schemas/OrderEvent.avsc" "$regdir/1.avsc"
cp "$RW_SOURCE_DIR/schemas/SupportEvent.avsc" "$regdir/2.avsc"
cp "$regdir/order_v2.json" "$regdir/102.avsc"
"$PY" "$RW_SOURCE_DIR/tests/integration/registry_server.py" "$regdir" >"$WORK/reg.port" 2>"$WORK/reg.log" &
REG_PID=$!
for _ in $(seq 100); do [[ -s $WORK/reg.port ]] && break; sleep 0.1; done
REG=http://127.0.0.1:$(head -1 "$WORK/reg.port")
[[ $REG =~ :[0-9]+$ ]] || fail "test registry did not start: $(cat "$WORK/reg.log")"

# http_get URL: the body; exits non-zero on an HTTP error.
http_get() {
  "$PY" -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' "$1"
}
# http_status URL: the HTTP status and the body's error_code ("404 40403").
http_status() {
  "$PY" - "$1" <<'PYEOF'
import json, sys, urllib.error, urllib.request
try:
    r = urllib.request.urlopen(sys.argv[1]); print(r.status, 0)
except urllib.error.HTTPError as e:
    print(e.code, json.loads(e.read() or b"{}").get("error_code", 0))
PYEOF
}
# register BASE SUBJECT FILE: registers the schema in FILE under SUBJECT
# through the Confluent-compatible API; prints the id the registry assigned.
register() {
  "$PY" - "$1/subjects/$2/versions" "$3" <<'PYEOF'
import json, sys, urllib.request
body = json.dumps({"schema": open(sys.argv[2]).read()}).encode()
req = urllib.request.Request(sys.argv[1], data=body,
                             headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
print(json.load(urllib.request.urlopen(req))["id"])
PYEOF
}
# latest_id BASE SUBJECT: the id of the subject's latest version.
latest_id() {
  http_get "$1/subjects/$2/versions/latest" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["id"])'
}
# How often Apicurio was asked for one schema id (its access log).
apic_count() {
  grep -c "method=\"GET\" path=\"/apis/ccompat/v7/schemas/ids/$1\" " "$SCHEMA_REGISTRY_ACCESS_LOG" || true
}
reg_ctl() {
  "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=sys.argv[2].encode()))' \
    "$REG/_control" "$1"
}
ok "Apicurio Registry at $APIC; fault-injecting test registry at $REG"

id_order=$(register "$APIC" "$T_ORDERS-value" "$RW_SOURCE_DIR/schemas/OrderEvent.avsc")
id_support=$(register "$APIC" "$T_SUPPORT-value" "$RW_SOURCE_DIR/schemas/SupportEvent.avsc")
id_v2=$(register "$APIC" "$T_ORDERS-value" "$regdir/order_v2.json")
[[ $id_order =~ ^[0-9]+$ && $id_support =~ ^[0-9]+$ && $id_v2 =~ ^[0-9]+$ ]] ||
  fail "Apicurio assigned ids '$id_order', '$id_support', '$id_v2'"
[[ $id_v2 != "$id_order" && $id_v2 != "$id_support" && $id_order != "$id_support" ]] ||
  fail "Apicurio gave distinct schemas one id: $id_order $id_support $id_v2"
[[ $(register "$APIC" "$T_ORDERS-value" "$regdir/order_v2.json") == "$id_v2" ]] ||
  fail "registering OrderEvent v2 again gave another id"
id_none=$((id_order + id_support + id_v2 + 1000))
[[ $(http_status "$APIC/schemas/ids/$id_none") == "404 40403" ]] ||
  fail "Apicurio does not answer 404/40403 for id $id_none: $(http_status "$APIC/schemas/ids/$id_none")"
ok "registered OrderEvent as id $id_order, SupportEvent as $id_support, OrderEvent v2 as $id_v2; no id $id_none"

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
  k=$(rcli --scan --pattern "$NS:*:off:$T_ORDERS" | sed -n 1p)
  [[ -n $k ]] && rcli GET "$k" || echo -1
}
dlq_count() {
  kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_DLQ" -e -q -f 'x\n' 2>/dev/null | wc -l
}

# ---- 1. ids from the registry (Apicurio) --------------------------------------------

# acct-reg: one order under OrderEvent's id, three under OrderEvent v2's (two
# refunded: churn.refund_rate fires), then a record under an id nobody has.
order 0 PLACED acct-reg 0 | frame "$id_order" "$RW_SOURCE_DIR/schemas/OrderEvent.avsc" "$WORK/o1"
{ order 1 PLACED acct-reg 1 sms; order 2 REFUNDED acct-reg 2 app; order 3 REFUNDED acct-reg 3; } |
  frame "$id_v2" "$regdir/order_v2.json" "$WORK/o2"
order 4 PLACED acct-reg 4 | frame "$id_none" "$regdir/order_v2.json" "$WORK/onone"
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -k acct-reg "$WORK"/o1/*.bin
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -k acct-reg "$WORK"/o2/*.bin
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -k acct-bad "$WORK"/onone/*.bin
ok "produced 1 record under id $id_order, 3 under id $id_v2, 1 under id $id_none"

rc=0
timeout 120 "$BASH" -c "$(declare -f rw); $(declare -p RW_BIN KAFKA_BOOTSTRAP REDIS_URL NS ID T_ORDERS T_SUPPORT T_ALERTS T_DLQ); rw run -e -X schema.registry.url=$APIC" \
  >"$WORK/alerts.jsonl" 2>"$WORK/run1.log" || rc=$?
[[ $rc -eq 0 ]] || { cat "$WORK/run1.log" >&2; fail "riskwatch run exited $rc"; }
grep -q '"rule":"churn.refund_rate","subject":"ACCOUNT/acct-reg"' "$WORK/alerts.jsonl" ||
  { cat "$WORK/run1.log" >&2; fail "no refund_rate alert for acct-reg"; }
akey=$(rcli --scan --pattern "$NS:*:a:acct-reg" | sed -n 1p)
[[ -n $akey && $(rcli HGET "$akey" m | cut -d, -f4) == 2 ]] || fail "expected 2 PLACED orders for acct-reg"
[[ $(orders_offset) == 5 ]] || fail "stored orders offset is $(orders_offset), expected 5"
[[ $(apic_count "$id_v2") == 1 ]] ||
  fail "id $id_v2 fetched $(apic_count "$id_v2") times, expected once"
# With a registry configured, ids resolve through it, the catalogue's included (the contract).
[[ $(apic_count "$id_order") == 1 ]] ||
  fail "id $id_order asked of the registry $(apic_count "$id_order") times, expected once"
ok "records under registry ids resolved (each fetched once) and applied"

kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_DLQ" -e -q -f '%k|%h\n' >"$WORK/dlq.txt"
[[ $(wc -l <"$WORK/dlq.txt") == 1 ]] || fail "expected 1 DLQ record: $(cat "$WORK/dlq.txt")"
grep -q '^acct-bad|.*rw.error.reason=unknown_schema' "$WORK/dlq.txt" ||
  fail "id $id_none not in the DLQ as unknown_schema: $(cat "$WORK/dlq.txt")"
grep -q "schema id $id_none not found" "$WORK/dlq.txt" ||
  fail "DLQ message does not say the registry has no id $id_none: $(cat "$WORK/dlq.txt")"
ok "an id the registry does not have: DLQ, unknown_schema"

alert_id=$(latest_id "$APIC" "$T_ALERTS-value")
[[ $alert_id =~ ^[0-9]+$ && $alert_id != "$id_order" && $alert_id != "$id_support" &&
   $alert_id != "$id_v2" ]] || fail "RiskAlert registered as id '$alert_id'"
http_get "$APIC/schemas/ids/$alert_id" |
  "$PY" -c 'import json, sys; s = json.loads(json.load(sys.stdin)["schema"]); assert s["name"] == "RiskAlert", s["name"]' ||
  fail "Apicurio's id $alert_id is not the RiskAlert schema"
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
schema_registry_stop

# ---- 2. the registry does not answer (the imitation) ---------------------------------

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
akey=$(rcli --scan --pattern "$NS:*:a:acct-out" | sed -n 1p)
[[ -n $akey && $(rcli HGET "$akey" m | cut -d, -f4) == 3 ]] || fail "expected 3 PLACED orders for acct-out"
[[ $(dlq_count) == 1 ]] || fail "DLQ grew after the outage"
ok "registry back: every record applied once, nothing lost"

# ---- 3. the alerts' own schema id unanswered (the imitation) ---------------------------

# The outbox delivers alerts it framed itself: it needs no registry to find
# their key or print them. The registry fails only for the RiskAlert's id.
# The id the imitation assigned to RiskAlert when part 2's run registered it.
alert_id=$(latest_id "$REG" "$T_ALERTS-value")
[[ $alert_id =~ ^[0-9]+$ ]] || fail "the test registry has no id for $T_ALERTS-value"
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
