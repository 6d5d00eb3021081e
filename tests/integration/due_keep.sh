#!/usr/bin/env bash
# A stored due time earlier than the account's (kept rather than rewritten
# while it is ahead of the clock) is harmless: a restarted process reads it,
# evaluates the account then, fires nothing, and fires at the real due time,
# as one clean pass does.
#
#   acct-quiet orders 6 times, 10 minutes apart (inactivity's limit: 14
#   days), its due time 14 days after its last order: from its third order
#   on, the stored due time (14 days after the third) stays, 10, 20 and 30
#   minutes earlier than its own, and ahead of the clock. acct-busy orders
#   every day, moving event time on.
#   run 1, one record per batch, to day 13: ends with the third order's due
#          time stored (day 14 00:20), its own day 14 00:50.
#   run 2, a new process (nothing cached), one record per batch: acct-busy at
#          day 14 00:30 moves the clock past the stored due time: it reads it
#          and evaluates acct-quiet there (nothing); at day 15 the clock
#          passes 00:50 and churn.inactivity fires at 00:50; acct-quiet
#          orders again at day 20.
#   clean: the whole history in one batch, another namespace.
# The alert ids of run 1 and run 2 together equal the clean pass's.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

create_topics 1
day=86400000
hour=3600000
t0=1772323200000   # 2026-03-01T00:00:00Z
min=60000
quiet=acct-quiet
busy=acct-busy
kept=$((t0 + 14 * day + 20 * min + 1))    # the third order's
fire_at=$((t0 + 14 * day + 50 * min + 1))  # the last order's: acct-quiet's own

produce() {   # NAME < events.jsonl (sorted by time)
  "$PY" -c '
import json, sys
for r in sorted((json.loads(l) for l in sys.stdin), key=lambda r: r["occurred_at"]):
    print(json.dumps(r))
' | make_events "$1"
  kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -k k "$WORK/$1"/*.bin
}
run() {   # OUT ARGS...
  local out=$1
  shift
  rw run -e "$@" >"$WORK/$out.jsonl" 2>"$WORK/$out.log" ||
    { cat "$WORK/$out.log" >&2; fail "riskwatch run ($out) failed"; }
  grep -o 'run: [0-9]* consumed.*' "$WORK/$out.log" || true
}

{
  for k in $(seq 0 5); do order "q-$k" "$quiet" $((t0 + k * 10 * min)); done
  for d in $(seq 0 13); do order "b-$d" "$busy" $((t0 + d * day + hour)); done
} | produce h1
run run1 -X batch.size=1 -X write.max.delay=0
stored=$(rcli ZSCORE "$NS:{0}:due:$T_ORDERS" "$quiet")
echo "after run 1: $quiet's stored due time $stored, its own $fire_at"
[[ $stored == "$kept" ]] ||
  fail "run 1 stored $quiet's due time $stored, not the third order's kept ($kept; its own: $fire_at)"
ok "run 1 kept the third order's due time for $quiet, 30 minutes earlier than its own"

{
  order b-14 "$busy" $((t0 + 14 * day + 30 * min))
  for d in $(seq 15 19); do order "b-$d" "$busy" $((t0 + d * day + hour)); done
  order q-20 "$quiet" $((t0 + 20 * day))
} | produce h2
summary=$(run run2 -X batch.size=1 -X write.max.delay=0)
echo "$summary"
[[ $summary =~ account\ cache:\ ([0-9]+)\ read ]] && ((BASH_REMATCH[1] >= 1)) ||
  fail "run 2 read no account back from Redis: $summary"
run clean -X batch.size=1000 -X state.namespace="${NS}_clean" -X group.id="group-$ID-clean"

"$PY" - "$WORK/run1.jsonl" "$WORK/run2.jsonl" "$WORK/clean.jsonl" "$quiet" "$fire_at" <<'PYEOF' ||
import datetime, json, sys
r1, r2, clean, quiet, due = sys.argv[1:6]
def load(p):
    return [json.loads(l) for l in open(p) if l.startswith("{")]
def ms(a):
    t = datetime.datetime.fromisoformat(a["event_time"].replace("Z", "+00:00"))
    return int(t.timestamp() * 1000)
kept, c = load(r1) + load(r2), load(clean)
inact = [a for a in kept if a["rule"] == "churn.inactivity" and a["subject"] == "ACCOUNT/" + quiet]
assert inact and inact[0]["status"] == "FIRING", ("no churn.inactivity for %s" % quiet, kept)
assert ms(inact[0]) // 1000 == int(due) // 1000, ("fired at", inact[0]["event_time"], "not at", due)
assert sorted(a["alert_id"] for a in kept) == sorted(a["alert_id"] for a in c), \
    ("alert ids differ from the clean pass's",
     sorted((a["rule"], a["subject"], a["status"], a["event_time"]) for a in kept),
     sorted((a["rule"], a["subject"], a["status"], a["event_time"]) for a in c))
print("churn.inactivity FIRING at", inact[0]["event_time"], "in both;", len(c), "alert(s)")
PYEOF
  fail "the earlier stored due time changed the alerts"
ok "read back after a restart, the earlier due time fired nothing; the alerts equal the clean pass's"
