#!/usr/bin/env bash
# Effectively once, on the real broker and Redis: the state (buckets, vendor
# values, offsets, watermarks, dedup markers) equals one clean pass after
# kill -9 at several points, after re-consuming from offset 0, with a second
# member joining and leaving mid-stream, with a SIGSTOPped zombie that lost its
# partitions, and across a Redis restart that loses recent writes.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# No riskwatch of this test outlives it, whatever happens.
trap 'pkill -KILL -f "group-$ID-" 2>/dev/null || true; rm -rf "$WORK"' EXIT

create_topics 3
SMALL=(-X batch.size=40 -X batch.timeout=20ms)
# A member that stops heartbeating loses its partitions within seconds.
FAST_GROUP=(-X kafka.session.timeout.ms=6000 -X kafka.heartbeat.interval.ms=500)

rw gen --seed 21 --accounts 80 --days 150 2>"$WORK/gen.err" || { cat "$WORK/gen.err"; fail "gen"; }
total=$(grep -oE '^gen: [0-9]+ events' "$WORK/gen.err" | grep -oE '[0-9]+')
ok "generated $total events"

# run_as NSTAG GROUPTAG ARGS...: riskwatch run on namespace NS+NSTAG in group
# GROUPTAG. Runs that must not wait for killed members to time out use a
# group of their own: positions live in Redis, not in the group. It execs, so
# `run_as ... &` makes $! riskwatch itself; in the foreground call it in a
# subshell: (run_as ...).
run_as() {
  local tag=$1 group=$2
  shift 2
  exec "$RW_BIN" run -X kafka.bootstrap.servers="$KAFKA_BOOTSTRAP" -X redis.url="$REDIS_URL" \
    -X state.namespace="$NS$tag" -X group.id="group-$ID-$group" \
    -X topics.orders="$T_ORDERS" -X topics.support="$T_SUPPORT" \
    -X topics.alerts="$T_ALERTS" -X topics.dlq="$T_DLQ" "${SMALL[@]}" "$@"
}
dump() {   # dump TAG: the canonical state of namespace NS+TAG
  redis-cli -p "$REDIS_PORT" --raw --eval "$RW_SOURCE_DIR/tests/integration/state_dump.lua" \
    , "$NS$1" "a,s,v,due,f,off,wm,e" >"$WORK/dump.$1" 2>&1 ||
    fail "dumping namespace $NS$1: $(head -c 300 "$WORK/dump.$1")"
  [[ -s $WORK/dump.$1 ]] || fail "namespace $NS$1 is empty"
}
same_as_clean() {   # same_as_clean TAG WHAT
  dump "$1"
  if ! cmp -s "$WORK/dump.clean" "$WORK/dump.$1"; then
    { diff "$WORK/dump.clean" "$WORK/dump.$1" || true; } | head -10 | cut -c1-300 >&2
    for f in "$WORK/$1.log" "$WORK/${1}2.log"; do
      [[ -f $f ]] && { echo "--- $f" >&2; grep -vE 'kafka: ' "$f" | tail -12 >&2; }
    done
    fail "$2: state differs from one clean pass ($(wc -l <"$WORK/dump.$1") keys: $(head -c 200 "$WORK/dump.$1"))"
  fi
  ok "$2: state equals one clean pass ($(wc -l <"$WORK/dump.$1") keys)"
}
applied() { grep -oE '[0-9]+ applied' "$1" | tail -1 | grep -oE '[0-9]+'; }

# ---- one clean pass ---------------------------------------------------------------
(run_as clean clean -e) >/dev/null 2>"$WORK/clean.log" || { tail "$WORK/clean.log"; fail "clean pass"; }
[[ $(applied "$WORK/clean.log") -eq $total ]] || fail "clean pass applied $(applied "$WORK/clean.log") of $total"
dump clean
ok "clean pass: $total events applied, $(wc -l <"$WORK/dump.clean") keys"
# Offsets are committed to Kafka too, so lag monitors see the real lag.
"$RW_SOURCE_DIR/scripts/kafka-broker.sh" describe-group "$RW_SERVICES" "group-$ID-clean" >"$WORK/lag"
cat "$WORK/lag"
[[ $(wc -l <"$WORK/lag") -eq 6 ]] || fail "the group's committed offsets cover $(wc -l <"$WORK/lag") of 6 partitions"
awk '$5 != 0 { bad = 1 } END { exit bad }' "$WORK/lag" || fail "lag is not 0 after the clean pass"
ok "Kafka's consumer-group report shows the committed offsets: lag 0 on all 6 partitions"

# ---- kill -9 at several points ----------------------------------------------------
i=0
for delay in 0.5 1.3 2.1 0.8 1.7; do
  i=$((i + 1))
  run_as crash "crash$i" >/dev/null 2>>"$WORK/crash.log" &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
done
(run_as crash crash-final -e) >/dev/null 2>"$WORK/crash-final.log" || fail "run after the crashes"
kills=$(grep -c "run: consuming" "$WORK/crash.log" || true)
mid=$(grep -c "assigned" "$WORK/crash.log" || true)
same_as_clean crash "kill -9 five times ($mid partition assignment(s) among the $kills killed runs)"

# ---- duplicate delivery: positions forgotten, everything consumed again ----------
for k in $(rcli --scan --pattern "${NS}clean:*:off:*"); do rcli DEL "$k" >/dev/null; done
(run_as clean again -e) >/dev/null 2>"$WORK/again.log" || fail "re-consume from offset 0"
grep -q "$total duplicate(s)" "$WORK/again.log" ||
  fail "re-consuming from offset 0: not all $total events reported as duplicates: $(grep 'run:' "$WORK/again.log")"
same_as_clean clean "re-consuming every partition from offset 0"

# ---- a second member joins and leaves mid-stream ----------------------------------
# Small batches keep the first member busy, short heartbeats let both see the
# rebalance quickly; the second member leaves once it has partitions.
FAST=(-X batch.size=20 -X kafka.heartbeat.interval.ms=300 -X kafka.session.timeout.ms=6000)
run_as rebal rebal -e "${FAST[@]}" >/dev/null 2>"$WORK/rebal1.log" &
p1=$!
sleep 1
run_as rebal rebal "${FAST[@]}" >/dev/null 2>"$WORK/rebal2.log" &
p2=$!
for _ in $(seq 100); do
  grep -q "assigned" "$WORK/rebal2.log" && break
  sleep 0.1
done
sleep 0.5
t_term=$(date +%s%N)
kill -TERM "$p2"
rc2=0
wait "$p2" || rc2=$?
ms=$((($(date +%s%N) - t_term) / 1000000))
[[ $rc2 -eq 0 ]] || fail "the second member exited $rc2 on SIGTERM"
((ms < 10000)) || fail "the second member took $ms ms to stop on SIGTERM"
wait "$p1" || fail "the first member failed"
(run_as rebal rebal-final -e) >/dev/null 2>"$WORK/rebal3.log" || fail "final pass"
grep -q "assigned" "$WORK/rebal2.log" || fail "the second member was never assigned a partition"
ok "second member was assigned $(grep -c assigned "$WORK/rebal2.log") partition(s), left on SIGTERM in $ms ms (exit 0)"
same_as_clean rebal "a member joining and leaving mid-stream"

# ---- a zombie: SIGSTOPped, its partitions move on, then it wakes up ----------------
run_as zombie zombie "${FAST_GROUP[@]}" -X batch.timeout=1500ms >/dev/null 2>"$WORK/zombie1.log" &
pz=$!
sleep 1.5
kill -STOP "$pz"
(run_as zombie zombie "${FAST_GROUP[@]}" -e) >/dev/null 2>"$WORK/zombie2.log" ||
  { kill -9 "$pz"; fail "the member that took over failed"; }
kill -CONT "$pz"
sleep 4
kill -TERM "$pz"
wait "$pz" || true
fenced=$(grep -oE '[0-9]+ fenced' "$WORK/zombie1.log" | grep -oE '[0-9]+' || echo 0)
grep -qE "revoked .*\(lost\)|fenced" "$WORK/zombie1.log" ||
  fail "the zombie neither lost its partitions nor was fenced: $(tail -5 "$WORK/zombie1.log")"
ok "zombie woke up: $fenced write(s) fenced, partitions lost: $(grep -c '(lost)' "$WORK/zombie1.log")"
same_as_clean zombie "a SIGSTOPped zombie resuming after losing its partitions"

# ---- Redis goes down mid-stream and comes back having lost writes ------------
# A snapshot taken before the run: everything the run writes will be lost.
offsum() {   # offsum TAG: records covered by namespace TAG's stored offsets
  local sum=0 k
  for k in $(rcli --scan --pattern "$NS$1:*:off:*"); do sum=$((sum + $(rcli GET "$k"))); done
  echo "$sum"
}
wait_offsum() {   # wait_offsum TAG N
  for _ in $(seq 600); do [[ $(offsum "$1") -ge $2 ]] && return 0; sleep 0.1; done
  fail "namespace $NS$1 stuck at $(offsum "$1") of $2 records"
}
rcli SAVE >/dev/null
run_as restart restart >/dev/null 2>"$WORK/restart.log" &
pr=$!
wait_offsum restart "$total"
"$RW_SOURCE_DIR/scripts/redis-private.sh" stop "$RW_SERVICES" 2>/dev/null
# New events arrive while Redis is down: the run must write, and cannot.
rw gen --seed 22 --accounts 80 --days 30 --start 2026-06-01 -n 500 2>/dev/null ||
  fail "gen while Redis is down"
sleep 3
"$RW_SOURCE_DIR/scripts/redis-private.sh" restart "$RW_SERVICES" 2>/dev/null
wait_offsum restart $((total + 500))
kill -TERM "$pr"
wait "$pr" || fail "the run across the Redis outage exited non-zero: $(tail -5 "$WORK/restart.log")"
(run_as restart restart-final -e) >/dev/null 2>"$WORK/restart2.log" || fail "final pass after the outage"
grep -q "redis unavailable .*paused [0-9]* partition(s), retrying" "$WORK/restart.log" ||
  fail "no pause while Redis was down: $(grep -v "assigned\|revoked" "$WORK/restart.log" | tail -12 | cut -c1-200)"
grep -q "redis back: resumed" "$WORK/restart.log" || fail "no resume once Redis was back"
grep -q "fenced: .*resuming from the stored offset" "$WORK/restart.log" ||
  fail "the writes Redis lost were not detected (no fenced re-sync)"
ok "Redis down 3 s under load: paused, reconnected, resumed; lost writes fenced and re-applied ($(grep -c 'fenced: ' "$WORK/restart.log") partition(s) re-synced)"
(run_as clean2 clean2 -e) >/dev/null 2>"$WORK/clean2.log" || fail "clean pass over the longer history"
dump clean2
mv "$WORK/dump.clean2" "$WORK/dump.clean"
same_as_clean restart "Redis down and restarted without the run's writes"
