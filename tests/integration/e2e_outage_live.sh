#!/usr/bin/env bash
# The new user's outage, on a running process with three orders partitions
# (real broker, private Redis). A generated history (150 days from
# 2026-01-01) is consumed by `riskwatch run` (idle.timeout 2 s); then one
# order months after its end arrives on one partition. That partition's
# silence ends there; the other two receive nothing more, go idle and follow
# the group's clock across the same months: the whole input was silent, an
# outage, so no account gets a silence alert (churn.inactivity, order_drop,
# spend_drop) for it. A control run of the same input with `input.gap=0` (no
# outage detection) shows the storm the scenario provokes.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap 'pkill -KILL -f "group-$ID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

create_topics 3
LATE_MS=1792065600000    # 2026-10-15T12:00:00Z, 4.5 months after the history

rw gen --seed 11 --accounts 120 --days 150 --start 2026-01-01 2>"$WORK/gen.err" ||
  { cat "$WORK/gen.err" >&2; fail "gen"; }
total=$(grep -oE '^gen: [0-9]+ events' "$WORK/gen.err" | grep -oE '[0-9]+')
printf '{"type":"order","event_id":"new-1","account_id":"acct-new","vendor_id":"vendor-new","kind":"PLACED","amount_minor":4200,"currency":"EUR","occurred_at":%d}\n' \
  "$LATE_MS" | "$PY" "$RW_SOURCE_DIR/tests/integration/make_events.py" "$RW_SOURCE_DIR/schemas" "$WORK/late"

offsum() {   # offsum NS: records stored over every input partition
  local keys=() p t
  for t in "$T_ORDERS" "$T_SUPPORT"; do
    for p in 0 1 2; do keys+=("$1:{$p}:off:$t"); done
  done
  rcli MGET "${keys[@]}" | awk '{ s += $1 } END { print s + 0 }'
}
# One process, started on the history; the late order produced once the
# history is stored and every partition idle; then the process follows.
run_case() {   # run_case NAME NS [ARGS...]
  local name=$1 ns=$2 pid
  shift 2
  "$RW_BIN" run -X kafka.bootstrap.servers="$KAFKA_BOOTSTRAP" -X redis.url="$REDIS_URL" \
    -X state.namespace="$ns" -X group.id="group-$ID-$name" \
    -X topics.orders="$T_ORDERS" -X topics.support="$T_SUPPORT" \
    -X topics.alerts="$T_ALERTS" -X topics.dlq="$T_DLQ" -X idle.timeout=2s "$@" \
    >"$WORK/$name.jsonl" 2>"$WORK/$name.log" &
  pid=$!
  for _ in $(seq 1200); do (($(offsum "$ns") >= total)) && break; sleep 0.05; done
  (($(offsum "$ns") >= total)) || { kill -9 "$pid"; fail "$name: stored $(offsum "$ns") of $total records"; }
  sleep 3
  if [[ $name == live ]]; then
    kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -k acct-new "$WORK"/late/*.bin
  fi
  for _ in $(seq 1200); do (($(offsum "$ns") >= total + 1)) && break; sleep 0.05; done
  (($(offsum "$ns") >= total + 1)) || { kill -9 "$pid"; fail "$name: the late order was not stored"; }
  sleep 4   # idle.timeout and ticks: the other partitions follow
  kill -TERM "$pid"
  wait "$pid" || fail "$name exited non-zero: $(grep -v 'kafka: ' "$WORK/$name.log" | tail -5)"
}
run_case live "$NS"
ok "live: history and the late order consumed ($(grep -c '^{' "$WORK/live.jsonl") transitions)"
# The control: the same input (the late order is in the topic now) in a
# fresh namespace and group, outage detection off.
run_case control "${NS}_nogap" -X input.gap=0

"$PY" - "$WORK/live.jsonl" "$WORK/control.jsonl" <<'PYEOF' || fail "outage on a running process"
import datetime, json, sys
END = datetime.datetime(2026, 5, 31, tzinfo=datetime.timezone.utc)   # the history's end
def after(p):
    return [x for x in (json.loads(l) for l in open(p) if l.startswith("{"))
            if datetime.datetime.fromisoformat(x["event_time"].replace("Z", "+00:00")) > END]
SILENCE = ("churn.order_drop", "churn.spend_drop", "churn.inactivity")
live, control = after(sys.argv[1]), after(sys.argv[2])
storm = [x for x in control if x["rule"] in SILENCE and x["status"] == "FIRING"]
assert len(storm) >= 20, "the control run shows no storm (%d): the scenario tests nothing" % len(storm)
fired = [x for x in live if x["rule"] in SILENCE and x["status"] == "FIRING"]
assert not fired, "%d churn FIRING after the outage, e.g. %s" % (len(fired), fired[:3])
print("ok: control: %d silence FIRINGs after the history; with outage detection: none "
      "(%d transitions after the history)" % (len(storm), len(live)))
PYEOF
ok "one order after a 4.5-month outage, three partitions, a running process: no churn storm (the control storms)"
