#!/usr/bin/env bash
# Alerts a person can read and trust, end to end (real broker, private Redis):
#  - a churn.low_satisfaction alert whose answers leave the window resolves,
#    saying there is no longer enough data to decide, instead of staying
#    FIRING for ever;
#  - an alert's event_time is never earlier than the latest event it counts
#    (the second CSAT=1 survey, not the watermark 5 minutes before it);
#  - the JSON line shows churn.inactivity's durations as durations ("15d"),
#    not milliseconds;
#  - `inspect` shows durations as durations and a window without answers as
#    "no CSAT answers", not "CSAT 0.00";
#  - `inspect --vendor` shows the vendor's order value over every orders
#    partition, over the days it names.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

create_topics 3
day=86400000
hour=3600000
t0=1772344800000   # 2026-03-01T06:00:00Z

# Partition 0 of both topics: acct-busy orders every day (days 0..80) and
# answers a CSAT 5 survey every day (days 0..45); acct-quiet orders every 5
# days up to day 50, then stops; acct-sad answers CSAT 1 on days 2 and 3.
# Partitions 1 and 2: one order each of v-shared, which acct-busy also
# buys from.
{
  for d in $(seq 0 80); do
    printf '{"type":"order","event_id":"b-%d","account_id":"acct-busy","vendor_id":"v-shared","kind":"PLACED","amount_minor":1000,"currency":"EUR","occurred_at":%d}\n' \
      "$d" $((t0 + d * day + hour))
  done
  for d in $(seq 0 5 50); do
    printf '{"type":"order","event_id":"q-%d","account_id":"acct-quiet","vendor_id":"v-1","kind":"PLACED","amount_minor":1000,"currency":"EUR","occurred_at":%d}\n' \
      "$d" $((t0 + d * day))
  done
} | "$PY" -c '
import json, sys
lines = sorted((json.loads(l) for l in sys.stdin), key=lambda r: r["occurred_at"])
for r in lines: print(json.dumps(r))
' | "$PY" "$RW_SOURCE_DIR/tests/integration/make_events.py" "$RW_SOURCE_DIR/schemas" "$WORK/orders"
{
  for d in $(seq 0 45); do
    printf '{"type":"support","event_id":"s-%d","account_id":"acct-busy","ticket_id":"t-b%d","kind":"SURVEY","severity":"LOW","csat":5,"occurred_at":%d}\n' \
      "$d" "$d" $((t0 + d * day + 6 * hour))
  done
  for d in 2 3; do
    printf '{"type":"support","event_id":"sad-%d","account_id":"acct-sad","ticket_id":"t-s%d","kind":"SURVEY","severity":"LOW","csat":1,"occurred_at":%d}\n' \
      "$d" "$d" $((t0 + d * day + 4 * hour))
  done
} | "$PY" -c '
import json, sys
lines = sorted((json.loads(l) for l in sys.stdin), key=lambda r: r["occurred_at"])
for r in lines: print(json.dumps(r))
' | "$PY" "$RW_SOURCE_DIR/tests/integration/make_events.py" "$RW_SOURCE_DIR/schemas" "$WORK/support"
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -p 0 -k k "$WORK"/orders/*.bin
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_SUPPORT" -p 0 -k k "$WORK"/support/*.bin
for p in 1 2; do
  printf '{"type":"order","event_id":"p%d","account_id":"acct-p%d","vendor_id":"v-shared","kind":"PLACED","amount_minor":%d,"currency":"EUR","occurred_at":%d}\n' \
    "$p" "$p" $((p * 10000)) $((t0 + 70 * day)) |
    "$PY" "$RW_SOURCE_DIR/tests/integration/make_events.py" "$RW_SOURCE_DIR/schemas" "$WORK/p$p"
  kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -p "$p" -k "k$p" "$WORK/p$p"/*.bin
done
ok "produced orders and surveys"

rc=0
timeout 120 "$BASH" -c "$(declare -f rw); $(declare -p RW_BIN KAFKA_BOOTSTRAP REDIS_URL NS ID T_ORDERS T_SUPPORT T_ALERTS T_DLQ); rw run -e" \
  >"$WORK/lines.jsonl" 2>"$WORK/run.log" || rc=$?
[[ $rc -eq 0 ]] || { cat "$WORK/run.log" >&2; fail "riskwatch run -e exited $rc"; }
cat "$WORK/lines.jsonl"

"$PY" - "$WORK/lines.jsonl" "$t0" <<'PYEOF' || fail "alerts"
import datetime, json, re, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
t0, DAY, H = int(sys.argv[2]), 86400000, 3600000
def ms(a):
    return int(datetime.datetime.fromisoformat(a["event_time"].replace("Z", "+00:00")).timestamp() * 1000)
sad = [a for a in lines if a["subject"] == "ACCOUNT/acct-sad"]
assert [a["status"] for a in sad] == ["FIRING", "RESOLVED"], sad
fire, res = sad
# Fired on the second survey, at its time (not 5 minutes before it).
assert ms(fire) == t0 + 3 * DAY + 4 * H, ("event_time before the survey it counts", fire)
# Resolved when the first answer left the 30-day window: one answer is too few.
first_day = (t0 + 2 * DAY + 4 * H) // DAY
assert ms(res) == (first_day + 30) * DAY, res
assert "no longer enough data to decide" in res["summary"], res
assert res["observed"] == 1 and res["threshold"] == 2, res
inact = [a for a in lines if a["rule"] == "churn.inactivity"]
assert inact and inact[0]["subject"] == "ACCOUNT/acct-quiet", inact
for a in inact:
    for k in ("observed", "threshold"):
        assert isinstance(a[k], str) and re.fullmatch(r"\d+[dhms]( \d+[hms])?", a[k]), (k, a)
assert inact[0]["threshold"] == "15d" and inact[0]["observed"] == "15d", inact[0]
assert "no order for 15d (usual gap 5d)" in inact[0]["summary"], inact[0]
assert not [a for a in lines if a["subject"] == "ACCOUNT/acct-busy"], "acct-busy alerted"
print("low_satisfaction FIRING at", fire["event_time"], "RESOLVED at", res["event_time"],
      "(%s); inactivity line: %s / %s" % (res["summary"], inact[0]["observed"], inact[0]["threshold"]))
PYEOF
ok "stuck FIRING resolved for want of data; event_time at the survey; durations in the JSON line"

# `tail` shows the transitions run put on the alerts topic, as the JSON lines
# say them: time, status, severity, rule, subject, summary.
rw tail -o beginning -e >"$WORK/tail.txt" 2>"$WORK/tail.err" || fail "tail: $(cat "$WORK/tail.err")"
cat "$WORK/tail.txt"
"$PY" - "$WORK/lines.jsonl" "$WORK/tail.txt" <<'PYEOF' || fail "tail does not show what run emitted"
import json, sys
want = sorted((a["event_time"], a["status"], a["severity"], a["rule"], a["subject"], a["summary"])
              for a in map(json.loads, (l for l in open(sys.argv[1]) if l.startswith("{"))))
# The JSON line gives the time to whole seconds; tail gives it exactly.
got = sorted((f[0][:19] + "Z",) + tuple(f[1:])
             for f in (l.rstrip("\n").split(None, 5) for l in open(sys.argv[2])))
assert got == want, (got, want)
print(len(got), "transitions")
PYEOF
[[ ! -s $WORK/tail.err ]] || fail "tail wrote to stderr: $(cat "$WORK/tail.err")"
ok "tail shows each transition run emitted, FIRING and RESOLVED, with the JSON line's fields"

rw inspect acct-quiet >"$WORK/quiet.txt" || fail "inspect acct-quiet"
cat "$WORK/quiet.txt"
grep -qE 'churn.inactivity +HOLDS WARNING +observed [0-9]+d( [0-9]+h)? +threshold 15d ' "$WORK/quiet.txt" ||
  fail "inspect: inactivity's durations not shown as durations"
grep -qE 'mean gap 5d$' "$WORK/quiet.txt" || fail "inspect: the mean gap is not a duration"
grep -q 'no CSAT answers, no sentiment scores' "$WORK/quiet.txt" || fail "inspect: a window without answers"
grep -q 'CSAT 0.00' "$WORK/quiet.txt" && fail "inspect shows CSAT 0.00 for a window without answers"
rw inspect acct-sad >"$WORK/sad.txt" || fail "inspect acct-sad"
grep -qE 'churn.low_satisfaction +cannot decide .*alert: not firing' "$WORK/sad.txt" ||
  fail "inspect acct-sad: $(cat "$WORK/sad.txt")"
ok "inspect: durations, no answers, a rule that cannot decide and is not firing"

rw inspect --vendor v-shared --json >"$WORK/vendor.json" || fail "inspect --vendor v-shared"
rw inspect --vendor v-shared
"$PY" - "$WORK/vendor.json" "$t0" <<'PYEOF' || fail "inspect --vendor: $(cat "$WORK/vendor.json")"
import json, sys
v, t0 = json.load(open(sys.argv[1])), int(sys.argv[2])
DAY = 86400000
latest = (t0 + 80 * DAY) // DAY
# acct-busy's 90 orders within days latest-89..latest (all 81), plus 10000 and 20000
assert v["partitions"] == 3, v
assert (v["latest_day"], v["first_day"], v["window_days"]) == (latest, latest - 89, 90), v
assert v["order_value"] == 81 * 1000 + 10000 + 20000, v
PYEOF
rw inspect --vendor v-shared | grep -E '^vendor v-shared: order value 1110\.00 over the 90 days 2026-02-[0-9]+ \.\. 2026-05-20 .*on 3 orders partition' >/dev/null ||
  fail "inspect --vendor text: $(rw inspect --vendor v-shared)"
ok "inspect --vendor: the vendor's order value over all 3 partitions and the days it covers"
