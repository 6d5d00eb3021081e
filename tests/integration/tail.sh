#!/usr/bin/env bash
# `riskwatch tail` on the real broker, over RiskAlert records written by
# python3-avro (an encoder riskwatch shares nothing with):
#  - one line per transition: event time (RFC 3339), status, severity, rule,
#    subject type/id, summary; a record that is not a RiskAlert is a line on
#    stderr and tail goes on; it follows new records from the end by default;
#  - --rule (names, globs, lists, repeated), --subject (ID, TYPE:ID),
#    --severity (SEV, SEV+), --status each select what they name;
#  - -o TIME / s@MS start at the first record at or after TIME, -o -N;
#  - --json is one valid JSON object per line with RFC 3339 times;
#  - colour only on a terminal, never with NO_COLOR;
#  - with schema.registry.url, alerts framed with the id a real registry
#    (Apicurio Registry) assigned decode; without it, they are unknown_schema.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

create_topics 2
t0=1772344800000   # 2026-03-01T06:00:00Z

# alert N RULE SUBJECT_TYPE SUBJECT_ID STATUS SEVERITY EVENT_TIME: a RiskAlert as
# make_events.py takes it; its summary "alert-N ..." names it in the output.
alert() {
  printf '{"type":"alert","alert_id":"id-%s","fingerprint":"%s/%s/%s","rule":"%s","category":"CHURN","subject_type":"%s","subject_id":"%s","status":"%s","severity":"%s","observed":1.5,"threshold":2.0,"baseline":3.0,"window_ms":604800000,"event_time":%s,"emitted_at":%s,"source_topic":"","source_partition":-1,"source_offset":-1,"summary":"alert-%s %s %s","replay":false}\n' \
    "$1" "$2" "$3" "$4" "$2" "$3" "$4" "$5" "$6" "$7" "$7" "$1" "$2" "$5"
}
# produce PARTITION DIR: the records make_events.py wrote into DIR.
produce() { kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ALERTS" -p "$1" -k key "$2"/*.bin; }
mk() { "$PY" "$RW_SOURCE_DIR/tests/integration/make_events.py" "$RW_SOURCE_DIR/schemas" "$WORK/$1"; }

{
  alert 1 churn.order_drop ACCOUNT a-1 FIRING WARNING "$t0"
  alert 2 churn.order_drop ACCOUNT a-1 RESOLVED WARNING $((t0 + 3600250))
  alert 3 dependency.vendor_share VENDOR v-1 FIRING CRITICAL "$t0"
} | mk b1p0
alert 4 churn.inactivity ACCOUNT v-1 FIRING INFO "$t0" | mk b1p1
produce 0 "$WORK/b1p0"
produce 1 "$WORK/b1p1"
printf '\x01not-avro' >"$WORK/junk.bin"
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ALERTS" -p 1 -k junk "$WORK/junk.bin"
junk_off=$(kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_ALERTS" -p 1 -o -1 -e -q -f '%o\n')
# The second batch is produced (Kafka timestamp: the wall clock) after T.
sleep 1.2
T=$("$PY" -c 'import time; print(int(time.time() * 1000))')
T_ISO=$("$PY" -c 'import datetime, sys; ms = int(sys.argv[1])
print(datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (ms % 1000))' "$T")
sleep 1.2
alert 6 churn.low_satisfaction ACCOUNT a-2 FIRING CRITICAL $((t0 + 7200000)) | mk b2p0
alert 7 dependency.account_hhi PORTFOLIO accounts RESOLVED WARNING $((t0 + 7200000)) | mk b2p1
produce 0 "$WORK/b2p0"
produce 1 "$WORK/b2p1"
ok "7 alerts and 1 record that is not one on $T_ALERTS; T = $T_ISO"

# run ARGS...: `rw tail ARGS` into $WORK/out and $WORK/err, exit status in $rc.
run() {
  rc=0
  timeout 60 "$BASH" -c "$(declare -f rw); $(declare -p RW_BIN KAFKA_BOOTSTRAP REDIS_URL NS ID T_ORDERS T_SUPPORT T_ALERTS T_DLQ); rw tail \"\$@\"" \
    _ "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
}
# The alerts printed, by number, sorted: "1 2 3".
shown() { grep -oE 'alert-[0-9]+' "$WORK/out" | cut -d- -f2 | sort -n | tr '\n' ' ' | sed 's/ $//'; }
# expect WANT ARGS...: `tail -o beginning -e ARGS` prints exactly alerts WANT.
expect() {
  local want=$1
  shift
  run -o beginning -e "$@"
  [[ $rc -eq 0 ]] || { cat "$WORK/err" >&2; fail "tail $*: exit $rc"; }
  [[ $(shown) == "$want" ]] || fail "tail $*: printed alerts '$(shown)', expected '$want'"
  echo "  tail $* -> $want"
}

# ---- every transition, one line each; the bad record on stderr -------------------
expect "1 2 3 4 6 7"
"$PY" - "$WORK/out" <<'PYEOF' || fail "tail lines: $(cat "$WORK/out")"
import sys
lines = {l.split()[-3]: l.rstrip("\n") for l in open(sys.argv[1])}
for l in lines.values():
    assert "\033" not in l, ("colour on a pipe", l)
def fields(n):
    f = lines["alert-%d" % n].split(None, 5)
    return f[:5] + [f[5]]
# The FIRING and the RESOLVED transition of one alert, field by field.
assert fields(1) == ["2026-03-01T06:00:00Z", "FIRING", "WARNING", "churn.order_drop",
                     "ACCOUNT/a-1", "alert-1 churn.order_drop FIRING"], fields(1)
assert fields(2) == ["2026-03-01T07:00:00.250Z", "RESOLVED", "WARNING", "churn.order_drop",
                     "ACCOUNT/a-1", "alert-2 churn.order_drop RESOLVED"], fields(2)
assert fields(3)[1:5] == ["FIRING", "CRITICAL", "dependency.vendor_share", "VENDOR/v-1"], fields(3)
assert fields(7)[1:5] == ["RESOLVED", "WARNING", "dependency.account_hhi", "PORTFOLIO/accounts"], fields(7)
# Columns line up: the rule starts at the same place on every line.
assert len({l.index(" churn") if " churn" in l else l.index(" dependency") for l in lines.values()}) == 1, lines
PYEOF
grep -qE "^riskwatch tail: $T_ALERTS \[1\] offset $junk_off: not a RiskAlert: bad_magic: magic byte is 0x01" "$WORK/err" ||
  fail "no stderr line for the record that is not a RiskAlert: $(cat "$WORK/err")"
ok "one line per transition (time, status, severity, rule, subject, summary); the bad record named on stderr, the rest shown"

# ---- filters ------------------------------------------------------------------
expect "1 2" --rule churn.order_drop
expect "1 2 4 6" --rule 'churn.*'
expect "1 2 3" --rule churn.order_drop,dependency.vendor_share
expect "1 2 3" --rule churn.order_drop --rule dependency.vendor_share
expect "1 2" --subject a-1
expect "3 4" --subject v-1
expect "3" --subject vendor:v-1
expect "4" --subject ACCOUNT:v-1
expect "7" --subject portfolio:accounts
expect "3 6" --severity critical
expect "4" --severity INFO
expect "1 2 3 6 7" --severity warning+
expect "1 2 4 7" --severity info,warning
expect "2 7" --status resolved
expect "1 3 4 6" --status FIRING
expect "1 6" --rule 'churn.*' --status firing --severity warning+
ok "--rule, --subject, --severity, --status select what they name, and together all of them"

# ---- where to start ---------------------------------------------------------------
expect "6 7" -o "$T_ISO"
expect "6 7" -o "s@$T"
expect "1 2 3 4 6 7" -o "s@$((T - 60000))"
run -o beginning -o -1 -e
[[ $rc -eq 0 && $(shown) == "6 7" ]] || fail "tail -o -1: '$(shown)'"
run -e
[[ $rc -eq 0 && ! -s $WORK/out ]] || fail "tail -e (from the end) printed: $(cat "$WORK/out")"
run -o beginning -e -n 2
[[ $rc -eq 0 && $(wc -l <"$WORK/out") -eq 2 ]] || fail "tail -n 2 printed $(wc -l <"$WORK/out") lines"
ok "-o TIME and -o s@MS start at the first record at or after it; -o -N; -e from the end prints nothing; -n"

# From the end (the default), following: a new alert is printed as it comes.
timeout 60 "$BASH" -c "$(declare -f rw); $(declare -p RW_BIN KAFKA_BOOTSTRAP REDIS_URL NS ID T_ORDERS T_SUPPORT T_ALERTS T_DLQ); rw tail -n 1" \
  >"$WORK/follow.out" 2>"$WORK/follow.err" &
follow_pid=$!
sleep 3     # partitions assigned at their ends
alert 8 churn.spend_drop ACCOUNT a-8 FIRING WARNING "$t0" | mk b3
produce 1 "$WORK/b3"
wait "$follow_pid" || fail "tail -n 1 (following): exit $? $(cat "$WORK/follow.err")"
grep -q 'FIRING   WARNING  churn.spend_drop .* ACCOUNT/a-8 alert-8' "$WORK/follow.out" ||
  fail "tail did not follow: $(cat "$WORK/follow.out")"
ok "tail follows from the end: a new alert is printed when it arrives"

# ---- --json -----------------------------------------------------------------------
run -o beginning -e --json --rule 'churn.order_drop'
[[ $rc -eq 0 ]] || fail "tail --json: exit $rc"
"$PY" - "$WORK/out" "$T_ALERTS" <<'PYEOF' || fail "tail --json: $(cat "$WORK/out")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert [r["value"]["alert_id"] for r in lines] == ["id-1", "id-2"], lines
for r in lines:
    assert r["topic"] == sys.argv[2] and r["partition"] == 0 and r["key"] == "key", r
    assert r["timestamp"].endswith("Z"), r
v = lines[1]["value"]
assert v == {"type": "RiskAlert", "schema_id": 3, "alert_id": "id-2",
             "fingerprint": "churn.order_drop/ACCOUNT/a-1", "rule": "churn.order_drop",
             "category": "CHURN", "subject_type": "ACCOUNT", "subject_id": "a-1",
             "status": "RESOLVED", "severity": "WARNING", "observed": 1.5, "threshold": 2,
             "baseline": 3, "window_ms": 604800000, "event_time": "2026-03-01T07:00:00.250Z",
             "emitted_at": "2026-03-01T07:00:00.250Z", "source_topic": "",
             "source_partition": -1, "source_offset": -1,
             "summary": "alert-2 churn.order_drop RESOLVED", "replay": False}, v
PYEOF
ok "--json: one JSON object per line, filtered, its times RFC 3339"

# ---- colour: by severity on a terminal, not with NO_COLOR or on a pipe ------------
# script(1) runs its command with $SHELL (/bin/sh when unset, as on a fresh
# machine's root shell): this command is bash.
on_tty() {
  SHELL=$BASH script -qec "$(declare -f rw); $(declare -p RW_BIN KAFKA_BOOTSTRAP REDIS_URL NS ID T_ORDERS T_SUPPORT T_ALERTS T_DLQ); $*" /dev/null
}
on_tty rw tail -o beginning -e --severity critical >"$WORK/tty.out" </dev/null
grep -q $'\033\\[1;31m.*CRITICAL' "$WORK/tty.out" || fail "no red CRITICAL line on a terminal: $(cat -v "$WORK/tty.out")"
on_tty rw tail -o beginning -e --severity warning >"$WORK/tty.out" </dev/null
grep -q $'\033\\[33m.*WARNING' "$WORK/tty.out" || fail "no yellow WARNING line on a terminal: $(cat -v "$WORK/tty.out")"
on_tty NO_COLOR=1 rw tail -o beginning -e >"$WORK/tty.out" </dev/null
grep -q 'alert-1' "$WORK/tty.out" || fail "nothing printed on a terminal with NO_COLOR: $(cat -v "$WORK/tty.out")"
if grep -q $'\033\\[' "$WORK/tty.out"; then fail "colour with NO_COLOR set: $(cat -v "$WORK/tty.out" | head -3)"; fi
run -o beginning -e --color always --status resolved
grep -q $'^\033\\[33m.*RESOLVED WARNING' "$WORK/out" || fail "--color always: $(cat -v "$WORK/out")"
ok "colour by severity on a terminal; none with NO_COLOR, none on a pipe; --color always"

# ---- usage errors ------------------------------------------------------------------
for bad in "--rule churn.nope" "--status maybe" "--severity loud" "-o e@$T" "-o soon" "--subject account:" "--color sometimes"; do
  # shellcheck disable=SC2086
  run $bad
  [[ $rc -eq 2 ]] || fail "tail $bad: exit $rc, expected 2"
done
run --rule churn.nope
grep -q 'churn.order_drop' "$WORK/err" || fail "an unknown --rule does not list the rules: $(cat "$WORK/err")"
ok "a --rule that matches no rule, a bad status, severity, offset or colour exit 2"

# ---- schema.registry.url: alerts framed with a registry's id ----------------------
# A real registry, Apicurio Registry (scripts/schema-registry.sh), through its
# Confluent-compatible API: RiskAlert registered there under the id it assigns.
trap 'schema_registry_stop; rm -rf "$WORK"' EXIT
schema_registry_start
REG=$SCHEMA_REGISTRY_URL
T_ALERTS="alerts-r-$ID"
"$RW_SOURCE_DIR/scripts/kafka-broker.sh" create-topic "$RW_SERVICES" "$T_ALERTS" 1 >/dev/null
alert_id=$("$PY" - "$REG/subjects/$T_ALERTS-value/versions" "$RW_SOURCE_DIR/schemas/RiskAlert.avsc" <<'PYEOF'
import json, sys, urllib.request
body = json.dumps({"schema": open(sys.argv[2]).read()}).encode()
req = urllib.request.Request(sys.argv[1], data=body,
                             headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
print(json.load(urllib.request.urlopen(req))["id"])
PYEOF
) || fail "registering RiskAlert under $T_ALERTS-value failed"
[[ $alert_id =~ ^[0-9]+$ ]] || fail "the registry assigned RiskAlert the id '$alert_id'"
# The catalogue's own RiskAlert id (3) would not tell the registry from the catalogue.
[[ $alert_id != 3 ]] || fail "the registry assigned RiskAlert the catalogue's id 3"
alert 9 churn.refund_rate ACCOUNT a-9 FIRING CRITICAL "$t0" | mk b4
"$PY" -c 'import struct, sys
p = sys.argv[1]; b = open(p, "rb").read()
open(p, "wb").write(b[:1] + struct.pack(">I", int(sys.argv[2])) + b[5:])' "$WORK"/b4/0000.bin "$alert_id"
produce 0 "$WORK/b4"
run -o beginning -e -X schema.registry.url="$REG"
[[ $rc -eq 0 && $(shown) == 9 ]] || fail "tail through the registry: '$(shown)' $(cat "$WORK/err")"
grep -q "method=\"GET\" path=\"/apis/ccompat/v7/schemas/ids/$alert_id\" " "$SCHEMA_REGISTRY_ACCESS_LOG" ||
  fail "tail never asked the registry for id $alert_id"
run -o beginning -e
[[ $rc -eq 0 && ! -s $WORK/out ]] || fail "schema id $alert_id decoded as a RiskAlert without the registry"
grep -q "not a RiskAlert: unknown_schema: schema id $alert_id " "$WORK/err" ||
  fail "without the registry: $(cat "$WORK/err")"
ok "with schema.registry.url, an alert framed with the id the registry assigned ($alert_id) is shown; without it, unknown_schema on stderr"
