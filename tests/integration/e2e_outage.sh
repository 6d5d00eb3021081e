#!/usr/bin/env bash
# An input outage is not customer silence, and no alert stays FIRING when its
# rule can no longer decide (real broker, private Redis). A generated history
# (150 days from 2026-01-01) is consumed; then, as a new user would, one order
# at a date months after its end. That order must not set off a churn storm
# (every account "silent" for months because the whole input was), the drop
# alerts firing at the end of the history must resolve once their windows
# hold nothing to decide on, and the dependency alerts firing at the end of the history must resolve once the
# 90-day window holds too little to decide on, saying so, so that nothing
# dependency-related is left FIRING while `inspect --portfolio` shows an empty
# window, and none fires from the handful of orders left in the draining
# window. A control run of the same input with `input.gap=0` (no outage
# detection) shows the storm the scenario provokes.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

create_topics 1
START=2026-01-01
DAYS=150
LATE_MS=1792065600000    # 2026-10-15T12:00:00Z, 4.5 months after the history

rw gen --seed 11 --accounts 120 --days "$DAYS" --start "$START" 2>"$WORK/gen.err" ||
  { cat "$WORK/gen.err" >&2; fail "gen"; }
grep -E '^gen: ' "$WORK/gen.err"

run() {   # NAME [ARGS...]: one run -e of this test's topics into NAME.jsonl
  local name=$1 rc=0
  shift
  timeout 150 "$BASH" -c "$(declare -f rw); $(declare -p RW_BIN KAFKA_BOOTSTRAP REDIS_URL NS ID T_ORDERS T_SUPPORT T_ALERTS T_DLQ); rw run -e $*" \
    >"$WORK/$name.jsonl" 2>"$WORK/$name.log" || rc=$?
  [[ $rc -eq 0 ]] || { tail -20 "$WORK/$name.log" >&2; fail "riskwatch run -e ($name) exited $rc"; }
}

run history
ok "history consumed: $(grep -c '^{' "$WORK/history.jsonl") transitions"

printf '{"type":"order","event_id":"new-1","account_id":"acct-new","vendor_id":"vendor-new","kind":"PLACED","amount_minor":4200,"currency":"EUR","occurred_at":%d}\n' \
  "$LATE_MS" | "$PY" "$RW_SOURCE_DIR/tests/integration/make_events.py" "$RW_SOURCE_DIR/schemas" "$WORK/late"
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -k acct-new "$WORK"/late/*.bin
run after
cat "$WORK/after.jsonl"

# The control: the same input in a fresh namespace and group, outage
# detection off.
NS="${NS}_nogap" ID="$ID-nogap" T_ALERTS="$T_ALERTS" run control -X input.gap=0

"$PY" - "$WORK/history.jsonl" "$WORK/after.jsonl" "$WORK/control.jsonl" "$LATE_MS" <<'PYEOF' || fail "outage"
import collections, datetime, json, sys
hist, after, control, late = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def load(p):
    return [json.loads(l) for l in open(p) if l.startswith("{")]
def ms(a):
    return int(datetime.datetime.fromisoformat(a["event_time"].replace("Z", "+00:00")).timestamp() * 1000)
h, a, c = load(hist), load(after), load(control)
SILENCE = ("churn.order_drop", "churn.spend_drop", "churn.inactivity")
end = max(ms(x) for x in h)
storm = [x for x in c if x["rule"] in SILENCE and x["status"] == "FIRING" and ms(x) > end]
assert len(storm) >= 20, "the control run shows no storm (%d): the scenario tests nothing" % len(storm)
fired = [x for x in a if x["rule"] in SILENCE and x["status"] == "FIRING"]
assert not fired, "%d churn FIRING after the outage, e.g. %s" % (len(fired), fired[:3])
# Dependency alerts firing at the end of the history end, saying why.
state = {}
for x in h:
    if x["rule"].startswith("dependency."):
        state[(x["rule"], x["subject"])] = x["status"]
firing = sorted(k for k, v in state.items() if v == "FIRING")
assert firing, "no dependency alert firing at the end of the history: %s" % state
resolved = {(x["rule"], x["subject"]): x for x in a if x["rule"].startswith("dependency.")
            and x["status"] == "RESOLVED"}
for k in firing:
    assert k in resolved, "%s still FIRING after the window emptied: %s" % (k, a)
    assert "no longer enough data to decide" in resolved[k]["summary"], resolved[k]
    assert ms(resolved[k]) <= late, resolved[k]
# The drop and refund alerts firing at the end of the history cannot be
# decided 4.5 months later (their windows hold nothing): none stays FIRING.
churn = {}
for x in h + a:
    if x["rule"] in ("churn.order_drop", "churn.spend_drop", "churn.refund_rate"):
        churn[(x["rule"], x["subject"])] = x
stuck = [x for x in churn.values() if x["status"] == "FIRING"]
assert not stuck, "still FIRING with nothing to decide on: %s" % stuck[:3]
undecided = [x for x in a if x["status"] == "RESOLVED" and "no longer enough data" in x["summary"]
             and x["rule"] in ("churn.order_drop", "churn.spend_drop")]
assert undecided, "no drop alert resolved for want of data"
# As the window drains, a handful of orders must not decide shares or HHIs.
dep_fired = [x for x in a if x["rule"].startswith("dependency.") and x["status"] == "FIRING"]
assert not dep_fired, "dependency FIRING from a draining window: %s" % dep_fired
print("control: %d silence FIRINGs after the outage; with outage detection: none; "
      "%d dependency alerts resolved, e.g. %s" % (len(storm), len(firing),
                                                   resolved[firing[0]]["summary"]))
PYEOF
ok "one order after a 4.5-month outage: no churn storm (the control storms); every firing dependency alert resolved for want of data"

rw inspect --portfolio --json >"$WORK/portfolio.json" || fail "inspect --portfolio"
"$PY" - "$WORK/portfolio.json" <<'PYEOF' || fail "inspect --portfolio after the outage: $(cat "$WORK/portfolio.json")"
import json, sys
p = json.load(open(sys.argv[1]))
assert p["firing"] == 0 and p["outbox"] == 0, p
PYEOF
ok "inspect --portfolio: no dependency alert left firing"
