#!/usr/bin/env bash
# `riskwatch gen` and `riskwatch decode` on the real broker: a generated
# history lands on the input topics as framed Avro keyed by account; decode
# prints every record as a JSON line that agrees with kcat's view of the same
# records, its times RFC 3339 (milliseconds with --epoch); offsets, counts,
# end-of-partition and kcat's s@/e@ time offsets behave as kcat's do; a poison
# record is an error line and decoding goes on; --rate paces; the same seed
# gives the same events; --labels lists every account's scenario; with
# schema.registry.url, gen registers what it writes with a real registry
# (Apicurio Registry, through its Confluent-compatible API), frames with the
# ids it assigns and decode resolves them through it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

create_topics 3
TB_ORDERS="orders-b-$ID"; TB_SUPPORT="support-b-$ID"
TC_ORDERS="orders-c-$ID"; TC_SUPPORT="support-c-$ID"
for t in "$TB_ORDERS" "$TB_SUPPORT" "$TC_ORDERS" "$TC_SUPPORT"; do
  "$RW_SOURCE_DIR/scripts/kafka-broker.sh" create-topic "$RW_SERVICES" "$t" 3 >/dev/null
done

# run OUT ERR rw CMD...: exit status in $rc, never fails the script; a hang
# is killed after 2 minutes (the rw function runs in a child bash for that).
export -f rw
export RW_BIN KAFKA_BOOTSTRAP REDIS_URL NS ID T_ORDERS T_SUPPORT T_ALERTS T_DLQ
run() {
  local out=$1 err=$2
  shift 2
  rc=0
  timeout 120 "$BASH" -c '"$@"' _ "$@" >"$out" 2>"$err" || rc=$?
}
expect_rc() { [[ $rc -eq $1 ]] || { cat "$WORK/err" >&2; fail "$2: exit $rc, expected $1"; }; }
kcount() { kcat -C -b "$KAFKA_BOOTSTRAP" -t "$1" -e -q -f '%o\n' | wc -l; }

# ---- gen: exactly COUNT records, keyed by account ---------------------------
run "$WORK/out" "$WORK/err" rw gen -n 500 --seed 5 --labels "$WORK/labels.csv"
expect_rc 0 "gen -n 500 --seed 5"
cat "$WORK/err"
grep -qE '^gen: 500 events produced \([0-9]+ orders, [0-9]+ support\)' "$WORK/err" ||
  fail "gen printed no summary line with 500 events"
n_orders=$(kcount "$T_ORDERS")
n_support=$(kcount "$T_SUPPORT")
[[ $((n_orders + n_support)) -eq 500 ]] ||
  fail "gen -n 500 left $n_orders + $n_support records on the topics"
[[ $n_orders -gt 0 && $n_support -gt 0 ]] || fail "one of the topics is empty"
grep -q "^gen: 500 events produced ($n_orders orders, $n_support support)" "$WORK/err" ||
  fail "the summary's per-topic counts disagree with kcat ($n_orders, $n_support)"
! grep -q "fewer than -n" "$WORK/err" || fail "gen -n 500 said the history was shorter: $(cat "$WORK/err")"
ok "gen -n 500 produced $n_orders orders + $n_support support records"

# ---- decode -e: one JSON line per record, agreeing with kcat ----------------
for t in "$T_ORDERS" "$T_SUPPORT"; do
  run "$WORK/$t.jsonl" "$WORK/err" rw decode -t "$t" -e
  expect_rc 0 "decode -t $t -e"
  run "$WORK/$t.epoch.jsonl" "$WORK/err" rw decode -t "$t" -e --epoch
  expect_rc 0 "decode -t $t -e --epoch"
  kcat -C -b "$KAFKA_BOOTSTRAP" -t "$t" -e -q -f '%p %o %k %T\n' >"$WORK/$t.kcat"
done
"$PY" - "$WORK" "$T_ORDERS" "$T_SUPPORT" <<'PYEOF' || fail "decoded lines do not match the records"
import datetime, json, sys
work, t_orders, t_support = sys.argv[1:]
def iso(ms):
    s = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return s + (".%03dZ" % (ms % 1000) if ms % 1000 else "Z")
for topic, rtype in ((t_orders, "OrderEvent"), (t_support, "SupportEvent")):
    # The default: the same records with their times as RFC 3339 strings.
    rfc = open(f"{work}/{topic}.jsonl").read().splitlines()
    lines = open(f"{work}/{topic}.epoch.jsonl").read().splitlines()
    assert len(rfc) == len(lines), (topic, len(rfc), len(lines))
    # Two runs interleave the partitions as their fetches come back: compared
    # record by record (each partition's offsets ascend: checked below).
    by_pos = lambda ls: sorted((json.loads(l) for l in ls),
                               key=lambda r: (r["partition"], r["offset"]))
    for a, b in zip(by_pos(rfc), by_pos(lines)):
        assert isinstance(b["timestamp"], int) and isinstance(b["value"]["occurred_at"], int), b
        assert a["timestamp"] == iso(b["timestamp"]), (a, b)
        assert a["value"]["occurred_at"] == iso(b["value"]["occurred_at"]), (a, b)
        a["timestamp"], a["value"]["occurred_at"] = b["timestamp"], b["value"]["occurred_at"]
        assert a == b, (a, b)
    kc = {}
    for l in open(f"{work}/{topic}.kcat").read().splitlines():
        p, o, k, ts = l.split(" ")
        kc[(int(p), int(o))] = (k, int(ts))
    assert len(lines) == len(kc), (topic, len(lines), len(kc))
    last, last_off = {}, {}
    seen = set()
    for l in lines:
        r = json.loads(l)
        assert r["offset"] > last_off.get(r["partition"], -1), ("offsets went back", r)
        last_off[r["partition"]] = r["offset"]
        assert set(r) == {"topic", "partition", "offset", "key", "timestamp", "value"}, r
        v = r["value"]
        where = (r["partition"], r["offset"])
        assert r["topic"] == topic, r
        assert where in kc and where not in seen, r
        seen.add(where)
        assert (r["key"], r["timestamp"]) == kc[where], (r, kc[where])
        assert v["type"] == rtype and v["schema_id"] == (1 if rtype == "OrderEvent" else 2), r
        assert v["account_id"] == r["key"], r
        assert v["occurred_at"] == r["timestamp"], r
        # Order holds per partition and key, not across partitions.
        k = (r["partition"], r["key"])
        assert v["occurred_at"] >= last.get(k, 0), ("occurred_at went back", r)
        last[k] = v["occurred_at"]
    print(f"{topic}: {len(lines)} lines ok")
PYEOF
ok "decode -e: one line per record; key = account_id, timestamp = occurred_at, as kcat sees them; RFC 3339 by default, milliseconds with --epoch"

# ---- -n, -o end, -o -N -p ----------------------------------------------------
run "$WORK/n3.jsonl" "$WORK/err" rw decode -t "$T_ORDERS" -n 3
expect_rc 0 "decode -n 3"
[[ $(wc -l <"$WORK/n3.jsonl") -eq 3 ]] || fail "decode -n 3 printed $(wc -l <"$WORK/n3.jsonl") lines"
ok "decode -n 3 prints exactly 3 lines and exits without -e"

run "$WORK/end.jsonl" "$WORK/err" rw decode -t "$T_ORDERS" -o end -e
expect_rc 0 "decode -o end -e"
[[ ! -s $WORK/end.jsonl ]] || fail "decode -o end -e printed: $(head -c 300 "$WORK/end.jsonl")"
ok "decode -o end -e prints nothing"

# kcat's time offsets: s@MS from the first record at or after MS (the same
# as the RFC 3339 form of MS), e@MS up to the last one before it, in every
# partition; the records are those kcat reads with the same offsets.
read -r ts_from ts_to < <(awk '{ print $4 }' "$WORK/$T_ORDERS.kcat" | sort -n |
  awk '{ t[NR] = $1 } END { print t[int(NR / 3)], t[int(2 * NR / 3)] }')
ts_iso=$("$PY" -c 'import datetime, sys; ms = int(sys.argv[1])
s = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
print(s + (".%03dZ" % (ms % 1000) if ms % 1000 else "Z"))' "$ts_from")
positions() { "$PY" -c 'import json, sys
for l in sys.stdin: r = json.loads(l); print(r["partition"], r["offset"])' | sort; }
for form in "s@$ts_from" "$ts_iso"; do
  run "$WORK/s.jsonl" "$WORK/err" rw decode -t "$T_ORDERS" -o "$form" -e
  expect_rc 0 "decode -o $form -e"
  got=$(positions <"$WORK/s.jsonl")
  want=$(kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -o "s@$ts_from" -e -q -f '%p %o\n' | sort)
  [[ -n $want && $got == "$want" ]] ||
    fail "decode -o $form: $(wc -l <<<"$got") records, kcat -o s@$ts_from: $(wc -l <<<"$want")"
  [[ $(wc -l <<<"$got") -lt $(wc -l <"$WORK/$T_ORDERS.kcat") ]] || fail "-o $form started at the beginning"
done
run "$WORK/se.jsonl" "$WORK/err" rw decode -t "$T_ORDERS" -o "s@$ts_from" -o "e@$ts_to" -e
expect_rc 0 "decode -o s@$ts_from -o e@$ts_to -e"
got=$(positions <"$WORK/se.jsonl")
want=$(kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -o "s@$ts_from" -o "e@$ts_to" -e -q -f '%p %o\n' | sort)
[[ -n $want && $got == "$want" ]] ||
  fail "decode -o s@ -o e@: $(wc -l <<<"$got") records, kcat: $(wc -l <<<"$want")"
"$PY" -c 'import json, sys
lo, hi = int(sys.argv[1]), int(sys.argv[2])
for l in sys.stdin:
    t = json.loads(l)["value"]["occurred_at"]
    assert lo <= t < hi, (lo, t, hi)' "$ts_from" "$ts_to" \
  < <(rw decode -t "$T_ORDERS" -o "s@$ts_from" -o "e@$ts_to" -e --epoch) || fail "-o s@ -o e@: a time outside"
ok "decode -o s@$ts_from (and $ts_iso), -o e@$ts_to: the records kcat reads with those offsets"

run "$WORK/tail.jsonl" "$WORK/err" rw decode -t "$T_ORDERS" -o -2 -p 0 -e
expect_rc 0 "decode -o -2 -p 0 -e"
want=$(awk '$1 == 0 { print $1, $2 }' "$WORK/$T_ORDERS.kcat" | sort -k2,2n | tail -n 2)
got=$("$PY" -c 'import json, sys
for l in sys.stdin: r = json.loads(l); print(r["partition"], r["offset"])' <"$WORK/tail.jsonl")
[[ -n $want && $got == "$want" ]] || fail "decode -o -2 -p 0 gave '$got', expected '$want'"
ok "decode -o -2 -p 0 -e prints the last 2 records of partition 0"

# ---- errors: unknown topic, usage --------------------------------------------
run "$WORK/out" "$WORK/err" rw decode -t "no-such-topic-$ID" -e
expect_rc 1 "decode of an unknown topic"
grep -qi "unknown topic" "$WORK/err" || fail "no librdkafka reason for an unknown topic: $(cat "$WORK/err")"
run "$WORK/out" "$WORK/err" rw decode -e
expect_rc 2 "decode without -t"
run "$WORK/out" "$WORK/err" rw decode -t "$T_ORDERS" -o soon
expect_rc 2 "decode -o soon"
run "$WORK/out" "$WORK/err" rw decode -t "$T_ORDERS" -o s@2026-13-01
expect_rc 2 "decode -o s@2026-13-01"
run "$WORK/out" "$WORK/err" rw gen --rate 0
expect_rc 2 "gen --rate 0"
run "$WORK/out" "$WORK/err" rw gen --scenario steady,sulking
expect_rc 2 "gen --scenario with an unknown name"
grep -q sulking "$WORK/err" || fail "gen does not name the unknown scenario"
ok "unknown topic exits 1 with librdkafka's reason; usage errors exit 2"

# ---- the same seed, the same events ------------------------------------------
run "$WORK/out" "$WORK/err" rw gen -n 500 --seed 5 \
  -X topics.orders="$TB_ORDERS" -X topics.support="$TB_SUPPORT"
expect_rc 0 "gen -n 500 --seed 5, second time"
for t in orders support; do
  a=T_${t^^}; b=TB_${t^^}
  run "$WORK/b-$t.jsonl" "$WORK/err" rw decode -t "${!b}" -e \
    -X topics.orders="$TB_ORDERS" -X topics.support="$TB_SUPPORT"
  expect_rc 0 "decode -t ${!b} -e"
  for f in "$WORK/${!a}.jsonl" "$WORK/b-$t.jsonl"; do
    "$PY" -c 'import json, sys
for l in sys.stdin:
    r = json.loads(l)
    print(r["partition"], r["offset"], r["value"]["event_id"], json.dumps(r["value"], sort_keys=True))' \
      <"$f" | sort -k1,1n -k2,2n >"$f.ids"
  done
  [[ -s $WORK/b-$t.jsonl.ids ]] || fail "second run left nothing on ${!b}"
  cmp -s "$WORK/${!a}.jsonl.ids" "$WORK/b-$t.jsonl.ids" ||
    fail "seed 5 gave different $t events the second time: $(diff "$WORK/${!a}.jsonl.ids" "$WORK/b-$t.jsonl.ids" | head -n 4)"
done
ok "the same seed gives identical decoded events (event ids, values, partitions, offsets)"

# ---- labels -------------------------------------------------------------------
"$PY" - "$WORK/labels.csv" "$WORK/$T_ORDERS.jsonl" "$WORK/$T_SUPPORT.jsonl" <<'PYEOF' || fail "labels CSV is wrong"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert rows and list(rows[0]) == ["account_id", "scenario", "onset_ms"], rows[:1]
ids = [r["account_id"] for r in rows]
assert len(ids) == 300 and len(set(ids)) == 300, len(ids)     # the default population
by = {}
for r in rows:
    s = r["scenario"]
    assert s in ("steady", "fading", "vanished", "angry", "refunding", "dominant"), r
    by[s] = by.get(s, 0) + 1
    if s in ("steady", "dominant"):
        assert r["onset_ms"] == "", r
    else:
        assert int(r["onset_ms"]) >= 1767225600000, r
assert by.get("dominant") == 1 and all(by.get(s) == 12 for s in
           ("fading", "vanished", "angry", "refunding")), by
for f in sys.argv[2:]:
    for l in open(f):
        assert json.loads(l)["key"] in set(ids), l
print(by)
PYEOF
ok "--labels lists every account with its scenario and onset; every produced key is one of them"

# ---- --rate, --scenario, --no-dominant, --start ---------------------------------
t0=$(date +%s%N)
run "$WORK/out" "$WORK/err" rw gen --rate 200 -n 400 --seed 7 --scenario fading,refunding \
  --no-dominant --start 2026-03-01T00:00:00Z --labels "$WORK/labels-c.csv" \
  -X topics.orders="$TC_ORDERS" -X topics.support="$TC_SUPPORT"
t1=$(date +%s%N)
expect_rc 0 "gen --rate 200 -n 400"
elapsed_ms=$(((t1 - t0) / 1000000))
cat "$WORK/err"
[[ $elapsed_ms -ge 1500 ]] || fail "gen --rate 200 -n 400 took only $elapsed_ms ms"
[[ $(($(kcount "$TC_ORDERS") + $(kcount "$TC_SUPPORT"))) -eq 400 ]] || fail "gen --rate 200 -n 400 did not produce 400"
ok "gen --rate 200 -n 400 took $elapsed_ms ms (>= 1500)"
cut -d, -f2 "$WORK/labels-c.csv" | tail -n +2 | sort | uniq -c
[[ -z $(cut -d, -f2 "$WORK/labels-c.csv" | tail -n +2 | grep -vxE 'steady|fading|refunding') ]] ||
  fail "--scenario fading,refunding --no-dominant still labels other scenarios"
grep -q ',fading,' "$WORK/labels-c.csv" && grep -q ',refunding,' "$WORK/labels-c.csv" ||
  fail "--scenario fading,refunding has no fading or no refunding account"
run "$WORK/c.jsonl" "$WORK/err" rw decode -t "$TC_ORDERS" -e --epoch \
  -X topics.orders="$TC_ORDERS" -X topics.support="$TC_SUPPORT"
expect_rc 0 "decode -t $TC_ORDERS -e"
"$PY" -c 'import json, sys
t = [json.loads(l)["value"]["occurred_at"] for l in sys.stdin]
assert t and min(t) >= 1772323200000, min(t)' <"$WORK/c.jsonl" || fail "--start is not honoured"
ok "--scenario, --no-dominant and --start shape the history"

# ---- a poison record is an error line, and decoding goes on -------------------
printf '\x01garbage' >"$WORK/poison.bin"
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -p 0 -k acct-poison "$WORK/poison.bin"
poison_off=$(kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -p 0 -o -1 -e -q -f '%o\n')
run "$WORK/out" "$WORK/err" rw gen -n 60 --seed 6
expect_rc 0 "gen -n 60 --seed 6"
run "$WORK/p.jsonl" "$WORK/err" rw decode -t "$T_ORDERS" -p 0 -o "$poison_off" -e
expect_rc 0 "decode across a poison record"
"$PY" - "$WORK/p.jsonl" "$poison_off" <<'PYEOF' || fail "poison record not shown as a bad_magic error line"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
first, rest = lines[0], lines[1:]
assert first["offset"] == int(sys.argv[2]) and first["key"] == "acct-poison", first
assert "value" not in first and first["error"]["reason"] == "bad_magic", first
assert "0x01" in first["error"]["message"], first
assert rest and all("value" in r and r["value"]["account_id"] == r["key"] for r in rest), rest[:2]
print(f"poison at offset {first['offset']}, then {len(rest)} good records")
PYEOF
ok "a poison record decodes as a bad_magic error line; the records after it decode"

# ---- schema.registry.url: gen registers and frames, decode resolves ------------
# Against a real registry, Apicurio Registry (scripts/schema-registry.sh),
# through its Confluent-compatible API: every id is one it assigns.
TR_ORDERS="orders-r-$ID"; TR_SUPPORT="support-r-$ID"; TR_ALERTS="alerts-r-$ID"
for t in "$TR_ORDERS" "$TR_SUPPORT"; do
  "$RW_SOURCE_DIR/scripts/kafka-broker.sh" create-topic "$RW_SERVICES" "$t" 1 >/dev/null
done
trap 'schema_registry_stop; rm -rf "$WORK"' EXIT
schema_registry_start
REG=$SCHEMA_REGISTRY_URL
# register SUBJECT FILE: registers the schema in FILE under SUBJECT; prints
# the id the registry assigned.
register() {
  "$PY" - "$REG/subjects/$1/versions" "$2" <<'PYEOF'
import json, sys, urllib.request
body = json.dumps({"schema": open(sys.argv[2]).read()}).encode()
req = urllib.request.Request(sys.argv[1], data=body,
                             headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
print(json.load(urllib.request.urlopen(req))["id"])
PYEOF
}
# reg_latest SUBJECT: "ID NAME" of the subject's latest version.
reg_latest() {
  "$PY" -c 'import json, sys, urllib.request
r = json.load(urllib.request.urlopen(sys.argv[1] + "/subjects/" + sys.argv[2] + "/versions/latest"))
print(r["id"], json.loads(r["schema"])["name"])' "$REG" "$1"
}
# fetched ID: how often the registry was asked for schema id ID (its access log).
fetched() {
  grep -c "method=\"GET\" path=\"/apis/ccompat/v7/schemas/ids/$1\" " "$SCHEMA_REGISTRY_ACCESS_LOG" || true
}
# The registry already holds the alerts' schema (as `run` registers it), so
# the ids gen is given are not the catalogue's for the same types.
id_alerts=$(register "$TR_ALERTS-value" "$RW_SOURCE_DIR/schemas/RiskAlert.avsc")
RT=(-X topics.orders="$TR_ORDERS" -X topics.support="$TR_SUPPORT")
run "$WORK/out" "$WORK/err" rw gen -n 40 --seed 8 "${RT[@]}" -X schema.registry.url="$REG"
expect_rc 0 "gen -X schema.registry.url"
read -r id_orders name_orders < <(reg_latest "$TR_ORDERS-value") || fail "gen registered no $TR_ORDERS-value"
read -r id_support name_support < <(reg_latest "$TR_SUPPORT-value") || fail "gen registered no $TR_SUPPORT-value"
[[ $name_orders == OrderEvent && $name_support == SupportEvent ]] ||
  fail "gen registered $name_orders under $TR_ORDERS-value, $name_support under $TR_SUPPORT-value"
[[ $id_orders =~ ^[0-9]+$ && $id_support =~ ^[0-9]+$ && $id_orders != "$id_support" &&
   $id_orders != "$id_alerts" && $id_support != "$id_alerts" ]] ||
  fail "the registry assigned ids $id_orders, $id_support (RiskAlert: $id_alerts)"
# The catalogue's own ids for these types (1 and 2) would not tell decoding
# through the registry from decoding through the catalogue.
[[ $id_orders != 1 && $id_support != 2 ]] ||
  fail "the registry assigned the catalogue's ids (OrderEvent $id_orders, SupportEvent $id_support)"
grep -q "$TR_ORDERS framed with schema id $id_orders (subject $TR_ORDERS-value)" "$WORK/err" &&
  grep -q "$TR_SUPPORT framed with schema id $id_support (subject $TR_SUPPORT-value)" "$WORK/err" ||
  { cat "$WORK/err" >&2; fail "gen does not log the ids it frames with"; }
ok "gen with a registry: OrderEvent and SupportEvent registered under <topic>-value as ids $id_orders and $id_support (RiskAlert already $id_alerts)"

run "$WORK/r.jsonl" "$WORK/err" rw decode -t "$TR_ORDERS" -e "${RT[@]}" -X schema.registry.url="$REG"
expect_rc 0 "decode -X schema.registry.url"
"$PY" - "$WORK/r.jsonl" "$id_orders" <<'PYEOF' || fail "decode through the registry"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert lines and all(r["value"]["type"] == "OrderEvent" and r["value"]["schema_id"] == int(sys.argv[2])
                     for r in lines), lines[:2]
print(len(lines), "orders decoded through the registry, every frame with its id")
PYEOF
[[ $(fetched "$id_orders") == 1 ]] ||
  fail "decode asked the registry for id $id_orders $(fetched "$id_orders") times, expected once"
# On a topic decode does not know, the registry's id still selects the type.
run "$WORK/r2.jsonl" "$WORK/err" rw decode -t "$TR_SUPPORT" -e -X schema.registry.url="$REG"
expect_rc 0 "decode by schema id through the registry"
"$PY" - "$WORK/r2.jsonl" "$id_support" <<'PYEOF' ||
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert lines and all(r["value"]["type"] == "SupportEvent" and r["value"]["schema_id"] == int(sys.argv[2])
                     for r in lines), lines[:2]
PYEOF
  fail "decode by id through the registry: $(head -c 300 "$WORK/r2.jsonl")"
[[ $(fetched "$id_support") -ge 1 ]] || fail "decode by id never asked the registry for id $id_support"
# Without the registry those ids mean nothing or another type: unknown_schema,
# as the DLQ says.
run "$WORK/r3.jsonl" "$WORK/err" rw decode -t "$TR_ORDERS" -e "${RT[@]}"
expect_rc 0 "decode without the registry"
"$PY" -c 'import json, sys
lines = [json.loads(l) for l in sys.stdin]
assert lines and all(r["error"]["reason"] == "unknown_schema" for r in lines), lines[:2]' <"$WORK/r3.jsonl" ||
  fail "ids only the registry knows decoded without it: $(head -c 300 "$WORK/r3.jsonl")"
ok "decode with a registry resolves its ids (by topic and by id); without it they are unknown_schema"

# ---- gen: a history shorter than -n is produced whole, and said --------------
TS_ORDERS="short-orders-$ID" TS_SUPPORT="short-support-$ID"
for t in "$TS_ORDERS" "$TS_SUPPORT"; do
  "$RW_SOURCE_DIR/scripts/kafka-broker.sh" create-topic "$RW_SERVICES" "$t" 1 >/dev/null
done
run "$WORK/out" "$WORK/err" rw gen --accounts 10 --days 3 -n 100000 \
  -X topics.orders="$TS_ORDERS" -X topics.support="$TS_SUPPORT"
expect_rc 0 "gen -n 100000 over a 3-day history of 10 accounts"
n_short=$(($(kcount "$TS_ORDERS") + $(kcount "$TS_SUPPORT")))
((n_short > 0 && n_short < 100000)) || fail "the short history left $n_short records"
grep -qE "^gen: $n_short events produced .*; the whole history, fewer than -n 100000" "$WORK/err" ||
  fail "gen did not say the history ($n_short events) was shorter than -n 100000: $(cat "$WORK/err")"
ok "gen -n 100000 over a shorter history produced its $n_short events and said so"
