#!/usr/bin/env bash
# `riskwatch replay` against the real broker and Redis: a history applied by
# a live run, then replayed from a point in it. The replay's alerts are the
# live run's from that point on, with the same ids (its warm-up covers what
# the rules read), on its own topic with replay = true; --to stops it; a dry
# run writes nothing to Kafka; the live namespace, alerts and dead-letter
# topics are never touched, and writing to them is refused; history deleted
# by retention before the warm-up's start is reported with exit status 3.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
T_REPLAY="replay-$ID"
create_topics 3
"$RW_SOURCE_DIR/scripts/kafka-broker.sh" create-topic "$RW_SERVICES" "$T_REPLAY" 3 >/dev/null

# Day 0 is 2025-01-01; 400 days. The rules read at most 120 days, so a
# replay warms up over 240: from 2025-08-29 (day 240) it starts at day 0.
rw gen --seed 7 --accounts 60 --days 400 --start 2025-01-01 2>"$WORK/gen.err" || { cat "$WORK/gen.err"; fail "gen"; }
events=$(grep -oE '^gen: [0-9]+ events' "$WORK/gen.err" | grep -oE '[0-9]+')
rw run -e >"$WORK/live.json" 2>"$WORK/live.log" || fail "live run: $(tail -3 "$WORK/live.log")"
# All of it applied: a record ahead of the wall clock (future.margin) is a dead
# letter for the live run and maybe not for the replay, which runs later.
applied=$(grep -oE '[0-9]+ applied' "$WORK/live.log" | grep -oE '^[0-9]+')
((applied == events)) || fail "the live run applied $applied of $events events: $(grep -m1 'ahead of now' "$WORK/live.log")"
ok "live run: $events events, $(wc -l <"$WORK/live.json") alerts"
# A record the live run never saw, that no decoder accepts: a replay's dead letter.
printf 'not an event' >"$WORK/poison.bin"
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -p 0 -k acct-poison "$WORK/poison.bin"

topic_count() {   # records in a topic (sum of its partitions' high watermarks)
  kcat -C -b "$KAFKA_BOOTSTRAP" -t "$1" -e -q -f '.\n' 2>/dev/null | wc -l
}
live_keys() { rcli --scan --pattern "$NS:*" | wc -l; }
keys0=$(live_keys); alerts0=$(topic_count "$T_ALERTS"); dlq0=$(topic_count "$T_DLQ")
offs0=$("$RW_SOURCE_DIR/scripts/kafka-broker.sh" describe-group "$RW_SERVICES" "group-$ID" | sort)

replay() { rw replay -X topics.alerts.replay="$T_REPLAY" "$@"; }
# The live run's alert ids with event time in [$1, $2), sorted.
live_ids() {
  "$PY" -c 'import json, sys
lo, hi = sys.argv[1], sys.argv[2]
for l in open(sys.argv[3]):
    a = json.loads(l)
    if lo <= a["event_time"] < hi:
        print(a["alert_id"])' "$1" "$2" "$WORK/live.json" | sort
}
ids() { "$PY" -c 'import json, sys
for l in open(sys.argv[1]): print(json.loads(l)["alert_id"])' "$1" | sort; }
times_within() {  # every alert of $1 in [$2, $3)
  "$PY" -c 'import json, sys
bad = [a for a in map(json.loads, open(sys.argv[1])) if not sys.argv[2] <= a["event_time"] < sys.argv[3]]
sys.exit(1 if bad else 0)' "$@"
}

# ---- from day 240 to the end ----------------------------------------------------
replay --from 2025-08-29 >"$WORK/r1.json" 2>"$WORK/r1.log" || fail "replay: $(tail -3 "$WORK/r1.log")"
grep -q "warmed up from 2025-01-01T00:00:00Z" "$WORK/r1.log" || fail "warm-up start: $(grep warmed "$WORK/r1.log")"
n1=$(wc -l <"$WORK/r1.json")
((n1 > 0)) || fail "the replay emitted nothing"
times_within "$WORK/r1.json" 2025-08-29 9999 || fail "the replay emitted transitions before --from"
diff <(live_ids 2025-08-29 9999) <(ids "$WORK/r1.json") >"$WORK/d1" ||
  fail "replay and live run differ from --from on: $(head -20 "$WORK/d1")"
sup=$(grep -oE '[0-9]+ transition\(s\) before --from not emitted' "$WORK/r1.log" | grep -oE '^[0-9]+')
((sup > 0)) || fail "no warm-up transition was held back: $(tail -1 "$WORK/r1.log")"
ok "replay from 2025-08-29: the live run's $n1 alerts from then on, the same ids; $sup earlier transitions held back"
grep -qE "to the DLQ \(bad_magic 1[,)].* \(counted, not sent\)" "$WORK/r1.log" ||
  fail "the poison record was not counted as a dead letter: $(grep 'DLQ' "$WORK/r1.log" | tail -1)"
grep -qE '^replay: event time [0-9T:Z-]+, [0-9]+ of [0-9]+ records \([0-9]+%\), [0-9]+ records/s, ETA ' "$WORK/r1.log" ||
  fail "no progress line on stderr"
ok "replay: the dead letter counted, not sent; a progress line on stderr"

kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_REPLAY" -e -q -D '' -f '%p:%o:%K:%k%S:%s' |
  "$PY" "$RW_SOURCE_DIR/tests/integration/read_alerts.py" "$RW_SOURCE_DIR/schemas" >"$WORK/r1.avro" ||
  fail "the replay topic holds a record that is not a framed RiskAlert"
"$PY" - "$WORK/r1.avro" "$n1" <<'PYEOF' || fail "replay topic content"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == int(sys.argv[2]), "%d records on the replay topic, %s JSON lines" % (len(recs), sys.argv[2])
assert all(r["replay"] is True for r in recs), "a record with replay = false"
assert all(r["_key"] == r["fingerprint"] for r in recs), "a record not keyed by its fingerprint"
PYEOF
ok "replay topic: $n1 RiskAlerts, each with replay = true, keyed by fingerprint"

# ---- --dlq: dead letters sent where it says ------------------------------------------
T_DLQ2="dlq2-$ID"
"$RW_SOURCE_DIR/scripts/kafka-broker.sh" create-topic "$RW_SERVICES" "$T_DLQ2" 1 >/dev/null
replay --from 2025-08-29 --dry-run --dlq "$T_DLQ2" >/dev/null 2>"$WORK/rd.log" || fail "replay --dlq: $(tail -3 "$WORK/rd.log")"
(($(topic_count "$T_DLQ2") == 0)) || fail "a dry run sent a dead letter"
replay --from 2025-08-29 --dlq "$T_DLQ2" >/dev/null 2>"$WORK/rd.log" || fail "replay --dlq: $(tail -3 "$WORK/rd.log")"
[[ $(kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_DLQ2" -e -q -f '%h\n') == *rw.error.reason=bad_magic* ]] ||
  fail "replay --dlq: no dead letter with its reason on $T_DLQ2"
ok "replay --dlq TOPIC: the dead letter sent there with its reason (not by a dry run)"

# ---- a range, dry run ---------------------------------------------------------------
before=$(topic_count "$T_REPLAY")
replay --from 2025-08-29 --to s@1761955200000 --dry-run >"$WORK/r2.json" 2>"$WORK/r2.log" ||
  fail "dry-run replay: $(tail -3 "$WORK/r2.log")"  # s@ = 2025-11-01T00:00:00Z
times_within "$WORK/r2.json" 2025-08-29 2025-11-01 || fail "the range replay emitted outside [--from, --to)"
diff <(live_ids 2025-08-29 2025-11-01) <(ids "$WORK/r2.json") >"$WORK/d2" ||
  fail "range replay and live run differ: $(head -20 "$WORK/d2")"
(($(topic_count "$T_REPLAY") == before)) || fail "the dry run wrote to the replay topic"
ok "replay 2025-08-29 .. s@1761955200000 (dry run): the live run's $(wc -l <"$WORK/r2.json") alerts of the range, nothing written to Kafka"

# ---- the live run untouched; its names refused --------------------------------------
(($(live_keys) == keys0)) || fail "the live namespace changed: $keys0 -> $(live_keys) keys"
(($(topic_count "$T_ALERTS") == alerts0)) || fail "the live alerts topic changed"
(($(topic_count "$T_DLQ") == dlq0)) || fail "the live dead-letter topic changed"
[[ $("$RW_SOURCE_DIR/scripts/kafka-broker.sh" describe-group "$RW_SERVICES" "group-$ID" | sort) == "$offs0" ]] ||
  fail "the live group's committed offsets changed"
ok "live namespace ($keys0 keys), alerts and dead-letter topics and group offsets unchanged"
for args in "--namespace $NS" "-X topics.alerts.replay=$T_ALERTS" "--dlq $T_DLQ"; do
  rc=0
  # shellcheck disable=SC2086
  rw replay --from 2025-08-29 $args >/dev/null 2>"$WORK/refuse.log" || rc=$?
  ((rc == 2)) && grep -q "refusing to write to the live run" "$WORK/refuse.log" ||
    fail "replay $args: exit $rc, $(cat "$WORK/refuse.log")"
done
ok "replay refuses the live namespace, alerts topic and dead-letter topic (exit 2)"

# ---- backtest: the same settings agree; other settings differ, alert by alert ----------
rw backtest --from 2025-08-29 --json >"$WORK/b1.json" 2>"$WORK/b1.log" ||
  fail "backtest: $(tail -3 "$WORK/b1.log")"
"$PY" - "$WORK/b1.json" "$(live_ids 2025-08-29 9999 | wc -l)" <<'PYEOF' || fail "backtest with the live settings: $(cat "$WORK/b1.json")"
import json, sys
d = json.load(open(sys.argv[1]))
t, n = d["total"], int(sys.argv[2])
assert d["live_alerts"] == n and d["backtest_alerts"] == n, (d["live_alerts"], d["backtest_alerts"], n)
assert t["alike"] == n and t["shifted"] == 0 and t["only_live"] == 0 and t["only_backtest"] == 0, t
PYEOF
[[ -z $(rcli --scan --pattern "$NS-backtest-*") ]] || fail "the backtest left its namespace behind"
ok "backtest with the live settings: all $(live_ids 2025-08-29 9999 | wc -l) live alerts alike, its namespace deleted"
rw backtest --from 2025-08-29 -X rules.churn.refund_rate.enabled=false \
  -X rules.churn.inactivity.gap_factor=1.5 --keep >"$WORK/b2.txt" 2>"$WORK/b2.log" ||
  fail "backtest with other settings: $(tail -3 "$WORK/b2.log")"
cat "$WORK/b2.txt"
refunds=$(live_ids 2025-08-29 9999 >/dev/null; "$PY" -c 'import json, sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["rule"] == "churn.refund_rate" and json.loads(l)["event_time"] >= "2025-08-29"))' "$WORK/live.json")
awk -v r="$refunds" '$1 == "churn.refund_rate" { found = 1; if ($2 != 0 || $5 != 0 || $4 != r) exit 1 }
  END { exit !(found || r == 0) }' "$WORK/b2.txt" || fail "refund_rate off: not every live refund_rate alert only live ($refunds expected)"
awk '$1 == "total" { exit !($3 + $4 + $5 > 0) }' "$WORK/b2.txt" || fail "other settings changed nothing"
[[ -n $(rcli --scan --pattern "$NS-backtest-*" | head -1) ]] || fail "--keep did not keep the namespace"
ok "backtest with refund_rate off and a shorter inactivity limit: $refunds refund_rate alerts only live, the rest compared; --keep keeps the namespace"

# ---- a replay's namespace deleted on demand -------------------------------------------
[[ -n $(rcli --scan --pattern "$NS-replay-20250829T000000Z:*" | head -1) ]] || fail "the replay left no namespace"
replay --from 2025-08-29 --delete 2>"$WORK/del.log" || fail "replay --delete: $(cat "$WORK/del.log")"
[[ -z $(rcli --scan --pattern "$NS-replay-20250829T000000Z:*" | head -1) ]] || fail "replay --delete left keys"
(($(live_keys) == keys0)) || fail "replay --delete touched the live namespace"
ok "replay --delete: the replay's namespace gone, the live one intact"

# ---- retention cut into the warm-up -------------------------------------------------
"$RW_SOURCE_DIR/scripts/kafka-broker.sh" delete-records "$RW_SERVICES" "$T_ORDERS" 0 200
rc=0
replay --from 2025-08-29 --dry-run >/dev/null 2>"$WORK/r3.log" || rc=$?
((rc == 3)) || fail "replay with history gone: exit $rc, $(tail -3 "$WORK/r3.log")"
grep -qE "$T_ORDERS \[0\]: [0-9.]+ days missing" "$WORK/r3.log" ||
  fail "the gap is not reported: $(grep -i missing "$WORK/r3.log")"
ok "history deleted before the warm-up's start: exit 3, $(grep -oE "$T_ORDERS \[0\]: [0-9.]+ days missing" "$WORK/r3.log" | head -1)"
