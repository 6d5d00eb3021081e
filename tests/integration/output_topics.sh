#!/usr/bin/env bash
# `riskwatch run` when a topic it produces to does not exist (real broker,
# which like most production brokers does not create topics on first use:
# auto.create.topics.enable=false). An alert or a dead letter that cannot be
# delivered would stop the run after a delivery timeout, so nothing is
# consumed until both exist:
#   - with -e: exit 1 at once, naming the missing topics and their
#     properties, and nothing consumed (no stored position);
#   - without -e: one line per missing topic says it waits; nothing is
#     consumed meanwhile; once the topics are created it says so and
#     consumes the whole input, its alerts on the alerts topic.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

shown() { printf '\n--- stderr ---\n%s\n' "$(head -c 3000 "$1")"; }
create() { "$RW_SOURCE_DIR/scripts/kafka-broker.sh" create-topic "$RW_SERVICES" "$1" 3 >/dev/null; }

create "$T_ORDERS"
create "$T_SUPPORT"
rw gen --seed 4 --accounts 30 --days 60 2>"$WORK/gen.err" || { cat "$WORK/gen.err" >&2; fail "gen"; }
produced=$(grep -oE '^gen: [0-9]+ events' "$WORK/gen.err" | grep -oE '[0-9]+')

# expect_e_fails LOG WHAT MESSAGE: `run -e` exits 1 saying MESSAGE, having
# stored nothing; WHAT names the case.
expect_e_fails() {
  local rc=0
  timeout 60 "$BASH" -c "$(declare -f rw); $(declare -p RW_BIN KAFKA_BOOTSTRAP REDIS_URL NS ID T_ORDERS T_SUPPORT T_ALERTS T_DLQ); rw run -e" \
    >/dev/null 2>"$1" || rc=$?
  [[ $rc -eq 1 ]] || fail "run -e with $2: exit $rc, expected 1$(shown "$1")"
  grep -qF "$3" "$1" || fail "run -e with $2 does not say '$3'$(shown "$1")"
  [[ $(stored) -eq 0 ]] || fail "run -e with $2 consumed $(stored) records"
  ok "run -e with $2 exits 1: $(grep -m1 'not found' "$1" | cut -d' ' -f4- | cut -c1-160)"
}

expect_e_fails "$WORK/e.err" "both output topics missing" \
  "output topics not found on the broker: $T_ALERTS (topics.alerts), $T_DLQ (topics.dlq)"
create "$T_ALERTS"
expect_e_fails "$WORK/e1.err" "topics.dlq missing" \
  "output topic not found on the broker: $T_DLQ (topics.dlq)"

# Live: it waits, says so once, consumes nothing; then the topic is created.
( exec "$RW_BIN" run -X kafka.bootstrap.servers="$KAFKA_BOOTSTRAP" -X redis.url="$REDIS_URL" \
    -X state.namespace="$NS" -X group.id="group-$ID" \
    -X topics.orders="$T_ORDERS" -X topics.support="$T_SUPPORT" \
    -X topics.alerts="$T_ALERTS" -X topics.dlq="$T_DLQ" -X log.file=/dev/null ) \
  >/dev/null 2>"$WORK/live.err" &
pid=$!
PIDS+=("$pid")
for _ in $(seq 200); do
  grep -q 'waiting for it to be created before consuming' "$WORK/live.err" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
grep -qF "topic $T_DLQ (topics.dlq) does not exist: waiting for it to be created before consuming" \
  "$WORK/live.err" || fail "run does not say it waits for $T_DLQ$(shown "$WORK/live.err")"
sleep 3
kill -0 "$pid" 2>/dev/null || fail "run exited while waiting for $T_DLQ$(shown "$WORK/live.err")"
[[ $(stored) -eq 0 ]] || fail "run consumed $(stored) records while $T_DLQ was missing"
! grep -q "assigned $T_ORDERS" "$WORK/live.err" ||
  fail "run joined the group while $T_DLQ was missing$(shown "$WORK/live.err")"
n=$(grep -c "does not exist" "$WORK/live.err" || true)
[[ $n -eq 1 ]] || fail "run said $n times that a topic is missing, expected once$(shown "$WORK/live.err")"
ok "a live run waits for $T_DLQ: said once, nothing consumed in 3 s"

create "$T_DLQ"
wait_stored "$produced" "$pid" ||
  fail "run did not consume the input once $T_DLQ was created ($covered of $produced)$(shown "$WORK/live.err")"
grep -qE "info  output topic created after waiting [0-9]+[a-z]+( [0-9]+[a-z]+)?: consuming" "$WORK/live.err" ||
  fail "run does not say it goes on once the topic exists$(shown "$WORK/live.err")"
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
[[ $rc -eq 0 ]] || fail "run: exit $rc after SIGINT$(shown "$WORK/live.err")"
alerts=$(kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_ALERTS" -e -q -f '.\n' | wc -l)
((alerts > 0)) || fail "no alert on $T_ALERTS after the run$(shown "$WORK/live.err")"
ok "once $T_DLQ was created: '$(grep -m1 'created after waiting' "$WORK/live.err" | cut -d' ' -f4-)', $produced events consumed, $alerts alert(s) on $T_ALERTS"
