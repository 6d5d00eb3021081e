#!/usr/bin/env bash
# Hostile strings from the input, through the real broker: ids holding glob
# characters, quotes, tabs and newlines are inspected exactly (never another
# account's state), printed as valid JSON; a field value with a newline
# cannot forge a log line or break the DLQ's rw.error.message header.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

create_topics 3

day=86400000
t0=1772344800000   # 2026-03-01T06:00:00Z
HOSTILE=$'q"t\tn\nx\\y'
# id, partition, PLACED orders, vendor. "a\b" sits on another partition than
# "ab", which the unescaped pattern a\b matches.
ids=("ab" "a*" "a[b]" "$HOSTILE" 'a\b')
parts=(0 0 0 0 1)
counts=(1 2 3 4 5)
vendors=("v1" 'v"q' "v1" "v1" "v1")

for i in "${!ids[@]}"; do
  "$PY" - "${ids[$i]}" "${vendors[$i]}" "${counts[$i]}" "$t0" "$day" "$i" <<'PYEOF' |
import json, sys
acct, vendor, n, t0, day, i = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
for k in range(n):
    print(json.dumps({"type": "order", "event_id": "esc-%s-%d" % (i, k), "account_id": acct,
                      "vendor_id": vendor, "kind": "PLACED", "amount_minor": 1000,
                      "currency": "EUR", "occurred_at": t0 + k * day}))
PYEOF
    "$PY" "$RW_SOURCE_DIR/tests/integration/make_events.py" "$RW_SOURCE_DIR/schemas" "$WORK/ev$i"
  kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -p "${parts[$i]}" -k "k$i" "$WORK/ev$i"/*.bin
done
# A currency holding a newline and a forged log line.
printf '{"type":"order","event_id":"esc-forged","account_id":"ab","vendor_id":"v1","kind":"PLACED","amount_minor":1,"currency":"E\\nFORGED error x","occurred_at":%d}\n' \
  "$t0" | "$PY" "$RW_SOURCE_DIR/tests/integration/make_events.py" "$RW_SOURCE_DIR/schemas" "$WORK/forged"
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -p 0 -k forged "$WORK/forged/0000.bin"
ok "produced orders of ${#ids[@]} hostile ids and one forged currency"

rc=0
timeout 120 "$BASH" -c "$(declare -f rw); $(declare -p RW_BIN KAFKA_BOOTSTRAP REDIS_URL NS ID T_ORDERS T_SUPPORT T_ALERTS T_DLQ); rw run -e" \
  >"$WORK/alerts.jsonl" 2>"$WORK/run.log" || rc=$?
[[ $rc -eq 0 ]] || { cat "$WORK/run.log" >&2; fail "riskwatch run exited $rc"; }

# ---- log injection (stderr and the DLQ header) ------------------------------
grep -q 'to the DLQ: invalid_field: field currency' "$WORK/run.log" ||
  fail "the forged currency was not dead-lettered: $(cat "$WORK/run.log")"
if grep -q '^FORGED' "$WORK/run.log"; then
  fail "a field value forged a log line: $(grep -n -B1 '^FORGED' "$WORK/run.log")"
fi
grep -qF 'E\nFORGED error x' "$WORK/run.log" || fail "the log line does not show the value escaped"
"$PY" -c 'import sys; d = open(sys.argv[1], "rb").read()
bad = [l for l in d.split(b"\n") if l and not l[:4].isdigit()]
assert not bad, bad' "$WORK/run.log" || fail "stderr holds a line that is not a log record"
ok "stderr: the newline in the value is escaped, every line is a log record"

kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_DLQ" -e -q -J >"$WORK/dlq.json"
"$PY" - "$WORK/dlq.json" <<'PYEOF' || fail "rw.error.message of the forged record"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1], errors="surrogateescape") if l.strip()]
assert len(recs) == 1, recs
h = recs[0]["headers"]
msg = dict(zip(h[0::2], h[1::2]))["rw.error.message"]
print("rw.error.message:", msg)
assert "\n" not in msg and "\r" not in msg, repr(msg)
assert 'E\\nFORGED error x' in msg, repr(msg)
PYEOF
ok "DLQ header rw.error.message: one line, the value escaped"

# ---- inspect: the exact id, valid JSON ---------------------------------------
for i in "${!ids[@]}"; do
  id=${ids[$i]}
  rc=0
  rw inspect --json -- "$id" >"$WORK/inspect.json" 2>"$WORK/inspect.err" || rc=$?
  [[ $rc -eq 0 ]] || fail "inspect $(printf %q "$id"): exit $rc: $(cat "$WORK/inspect.err")"
  "$PY" - "$WORK/inspect.json" "$id" "${counts[$i]}" "${parts[$i]}" <<'PYEOF' ||
import json, sys
d = json.load(open(sys.argv[1]))
assert d["account"] == sys.argv[2], (d["account"], sys.argv[2])
assert d["orders"]["orders_total"] == int(sys.argv[3]), d["orders"]
assert d["partition"] == int(sys.argv[4]), d["partition"]
PYEOF
    fail "inspect --json $(printf %q "$id"): $(cat "$WORK/inspect.json")"
  ok "inspect --json $(printf %q "$id"): that account, ${counts[$i]} order(s), valid JSON"
done
rw inspect -- "$HOSTILE" >"$WORK/inspect.txt"
[[ $(head -1 "$WORK/inspect.txt") == 'account q"t\tn\nx\\y (partition 0)' ]] ||
  fail "inspect text: first line $(head -1 "$WORK/inspect.txt")"
ok "inspect text shows the id escaped on one line"

for id in 'a?' 'a*b' '*' 'a[' 'b\'; do
  rc=0
  rw inspect --json -- "$id" >"$WORK/inspect.json" 2>"$WORK/inspect.err" || rc=$?
  [[ $rc -eq 1 ]] && grep -q 'not in namespace' "$WORK/inspect.err" && [[ ! -s $WORK/inspect.json ]] ||
    fail "inspect $(printf %q "$id") (no such account): exit $rc: $(cat "$WORK/inspect.json" "$WORK/inspect.err")"
done
ok "ids that only match as patterns are not found (exit 1)"

rw inspect --json --vendor 'v"q' >"$WORK/vendor.json" || fail "inspect --vendor 'v\"q'"
"$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["vendor"] == "v\"q", d' \
  "$WORK/vendor.json" || fail "inspect --vendor --json: $(cat "$WORK/vendor.json")"
rc=0
rw inspect --vendor 'v*' >/dev/null 2>"$WORK/inspect.err" || rc=$?
[[ $rc -eq 1 ]] || fail "inspect --vendor 'v*' (no such vendor): exit $rc"
ok "inspect --vendor: exact id, valid JSON, patterns not found"
