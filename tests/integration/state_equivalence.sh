#!/usr/bin/env bash
# Effectively once, on the real broker and Redis: the whole state of a
# namespace (accounts, vendors, lifecycles, due sets, offsets, watermarks,
# dedup markers, portfolio buckets, outboxes and the decider's {dep} slot;
# see state_dump.lua for what is normalised) equals one clean pass's, and the
# alerts delivered are the clean pass's (by id; a re-delivery is allowed),
# after kill -9 at five points mid-stream, after re-consuming from offset 0,
# with a cache or a due index too small for the working set,
# with a second member joining and leaving mid-stream, with a SIGSTOPped
# zombie that lost its partitions (its writes fenced, none landing), and
# across a Redis restart that loses recent writes. Each phase checks that it
# happened as named (kills mid-stream, the zombie fenced, ...).
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
# subshell: (run_as ...). idle.timeout is an hour: a partition that had no
# record for idle.timeout of wall time stops holding the decider back, so
# which boundaries are decided by the end would otherwise depend on how long
# a phase's kills and pauses took, not on the input.
run_as() {
  local tag=$1 group=$2
  shift 2
  exec "$RW_BIN" run -X kafka.bootstrap.servers="$KAFKA_BOOTSTRAP" -X redis.url="$REDIS_URL" \
    -X state.namespace="$NS$tag" -X group.id="group-$ID-$group" \
    -X topics.orders="$T_ORDERS" -X topics.support="$T_SUPPORT" \
    -X topics.alerts="$T_ALERTS" -X topics.dlq="$T_DLQ" -X idle.timeout=1h "${SMALL[@]}" "$@"
}
# dump TAG [FILE]: the canonical state of namespace NS+TAG (state_dump.lua:
# every key, wall-clock parts normalised) into FILE ($WORK/dump.TAG). A dump
# that fails, stops early or finds nothing fails the test.
dump() { dump_state "$NS$1" "${2:-$WORK/dump.$1}"; }   # dump TAG [FILE]
same_as_clean() {   # same_as_clean TAG WHAT [NAME]: namespace NS+TAG, dumped as dump.NAME
  local d=$WORK/dump.${3:-$1}
  dump "$1" "$d"
  if ! cmp -s "$WORK/dump.clean" "$d"; then
    { diff "$WORK/dump.clean" "$d" || true; } | head -10 | cut -c1-300 >&2
    for f in "$WORK/$1.log" "$WORK/${1}2.log"; do
      [[ -f $f ]] && { echo "--- $f" >&2; grep -vE 'kafka: ' "$f" | tail -12 >&2; }
    done
    fail "$2: state differs from one clean pass ($(wc -l <"$d") lines: $(head -c 200 "$d"))"
  fi
  ok "$2: state equals one clean pass ($(($(wc -l <"$d") - 1)) keys)"
}
applied() { grep -oE '[0-9]+ applied' "$1" | tail -1 | grep -oE '[0-9]+'; }
# offsum TAG: input records covered by namespace NS+TAG's stored offsets (the
# keys by name: SCANning a busy Redis is too slow to poll with).
offsum() {
  local keys=() p t
  for p in 0 1 2; do for t in "$T_ORDERS" "$T_SUPPORT"; do keys+=("$NS$1:{$p}:off:$t"); done; done
  rcli MGET "${keys[@]}" | awk '{ s += $1 } END { print s + 0 }'
}
wait_offsum() {   # wait_offsum TAG N
  for _ in $(seq 600); do [[ $(offsum "$1") -ge $2 ]] && return 0; sleep 0.1; done
  fail "namespace $NS$1 stuck at $(offsum "$1") of $2 records$( [[ -f $WORK/$1.log ]] &&
    { echo; grep -vE 'kafka: ' "$WORK/$1.log" | tail -15 | cut -c1-240; })"
}
# The alerts the runs printed (one JSON line per delivered alert): ids, once.
# Runs of a phase print to one file, opened with >> (O_APPEND) so that the
# lines of concurrent runs do not overwrite each other.
ids() { cat "$@" | grep -oE '"alert_id": *"[^"]+"' | sort -u; }
same_alerts() {   # same_alerts CLEANFILE WHAT FILES...: the same alert ids as the clean pass
  local clean=$1 what=$2
  shift 2
  if ! cmp -s <(ids "$clean") <(ids "$@"); then
    { diff <(ids "$clean") <(ids "$@") || true; } | head -6 >&2
    fail "$what: the alerts delivered differ from one clean pass's"
  fi
  ok "$what: the same $(ids "$clean" | wc -l) alert ids delivered as by one clean pass ($(cat "$@" | grep -c '"alert_id"') deliveries)"
}

# ---- one clean pass ---------------------------------------------------------------
(run_as clean clean -e) >"$WORK/clean.alerts" 2>"$WORK/clean.log" || { tail "$WORK/clean.log"; fail "clean pass"; }
[[ $(applied "$WORK/clean.log") -eq $total ]] || fail "clean pass applied $(applied "$WORK/clean.log") of $total"
dump clean
# The comparisons below are only as good as what the dump holds: the clean
# state has the decider's slot and portfolio buckets, and alerts of both
# families went out through the outboxes.
grep -q '^{dep}:' "$WORK/dump.clean" || fail "the clean state has no {dep} keys"
grep -qE '^\{[0-9]+\}:pb:' "$WORK/dump.clean" || fail "the clean state has no portfolio buckets"
churn=$(grep -c '"rule":"churn\.' "$WORK/clean.alerts" || true)
dep=$(grep -c '"rule":"dependency\.' "$WORK/clean.alerts" || true)
((churn > 0 && dep > 0)) || fail "the clean pass delivered $churn churn and $dep dependency alert(s)"
ok "clean pass: $total events applied, $(($(wc -l <"$WORK/dump.clean") - 1)) keys, $churn churn and $dep dependency alerts"
# A fresh namespace: every account is new, none is read (the phases below
# read them back, and must end in the same state).
clean_new=$(grep -oE '[0-9]+ new \(no state stored' "$WORK/clean.log" | grep -oE '^[0-9]+')
clean_rd=$(grep -oE '[0-9]+ read\(s\) from Redis' "$WORK/clean.log" | grep -oE '^[0-9]+')
[[ ${clean_rd:-x} == 0 && ${clean_new:-0} -gt 0 ]] ||
  fail "the clean pass read ${clean_rd:-?} account(s) of a fresh namespace (${clean_new:-?} made new)"
ok "clean pass: $clean_new new accounts made without a read"
# Offsets are committed to Kafka too, so lag monitors see the real lag.
"$RW_SOURCE_DIR/scripts/kafka-broker.sh" describe-group "$RW_SERVICES" "group-$ID-clean" >"$WORK/lag"
cat "$WORK/lag"
[[ $(wc -l <"$WORK/lag") -eq 6 ]] || fail "the group's committed offsets cover $(wc -l <"$WORK/lag") of 6 partitions"
awk '$5 != 0 { bad = 1 } END { exit bad }' "$WORK/lag" || fail "lag is not 0 after the clean pass"
ok "Kafka's consumer-group report shows the committed offsets: lag 0 on all 6 partitions"

# ---- a cache too small for the working set: evicted and read back all the time ----
(run_as tiny tiny -e -X state.cache.max.bytes=0 -X batch.size=50) >"$WORK/tiny.alerts" \
  2>"$WORK/tiny.log" || { tail "$WORK/tiny.log"; fail "pass with a cache too small"; }
ev=$(grep -oE '[0-9]+ eviction\(s\)' "$WORK/tiny.log" | grep -oE '^[0-9]+')
rd=$(grep -oE '[0-9]+ read\(s\) from Redis' "$WORK/tiny.log" | grep -oE '^[0-9]+')
# Evicted accounts are read back, fresh namespace or not.
((ev > 0 && rd > clean_rd)) ||
  fail "the small cache did not evict (evictions ${ev:-?}, reads ${rd:-?} against ${clean_rd:-?} with the default cache)"
same_as_clean tiny "a cache too small for the working set ($ev evictions, $rd account reads against $clean_rd)"
same_alerts "$WORK/clean.alerts" "a cache too small for the working set" "$WORK/tiny.alerts"

# ---- a cache that packs: idle accounts packed and unpacked all the time ----
# Over its bound the cache packs idle accounts before it evicts any, and a
# packed account comes back in the blocks of another one's view.
(run_as packed packed -e -X state.cache.max.bytes=49152 -X batch.size=5 -X log.level=debug) \
  >"$WORK/packed.alerts" 2>"$WORK/packed.log" || { tail "$WORK/packed.log"; fail "pass with a packing cache"; }
unpacks=$(grep -oE '[0-9]+ packed one\(s\) used again' "$WORK/packed.log" | grep -oE '^[0-9]+')
ev=$(grep -oE '[0-9]+ eviction\(s\)' "$WORK/packed.log" | grep -oE '^[0-9]+')
rd=$(grep -oE '[0-9]+ read\(s\) from Redis' "$WORK/packed.log" | grep -oE '^[0-9]+')
((${unpacks:-0} > rd)) ||
  fail "the small cache did not pack (${unpacks:-?} packed accounts used again, ${rd:-?} reads): $(grep -oE "account cache: [0-9]+ entries.*" "$WORK/packed.log")"
same_as_clean packed "a cache that packs ($unpacks packed accounts used again, $ev evictions, $rd account reads)"
same_alerts "$WORK/clean.alerts" "a cache that packs" "$WORK/packed.alerts"

# ---- a due index holding one due time ahead: read back from Redis all the time ----
# Only the nearest due time beyond those passed stays in memory; the rest
# are read back from the partition's due set whenever the event clock passes
# what the index holds, while writes are in flight and gathered.
(run_as ahead ahead -e -X state.due.max.ahead=1 -X batch.size=20) >"$WORK/ahead.alerts" \
  2>"$WORK/ahead.log" || { tail "$WORK/ahead.log"; fail "pass with a due index of one ahead"; }
loads=$(grep -oE 'due times read from Redis [0-9]+ time' "$WORK/ahead.log" | grep -oE '[0-9]+')
clean_loads=$(grep -oE 'due times read from Redis [0-9]+ time' "$WORK/clean.log" | grep -oE '[0-9]+')
# (60 and 61 reads in runs of this history: read back all the time; without
# the re-read at the horizon they are the clean pass's, one per partition.)
((${loads:-0} > 3 * ${clean_loads:-1})) ||
  fail "due times read back ${loads:-?} times with one ahead, ${clean_loads:-?} in the clean pass"
same_as_clean ahead "a due index of one due time ahead (due times read back $loads times, $clean_loads in the clean pass)"
same_alerts "$WORK/clean.alerts" "a due index of one due time ahead" "$WORK/ahead.alerts"

# ---- Redis slow to answer: batches gathered into one write -------------------------
# While a write is in Redis the batches that follow are gathered into the next
# one (each account written once). Redis pauses write commands for 200 ms at
# a time meanwhile, so that writes stay in flight while small batches come.
(while :; do redis-cli -p "$REDIS_PORT" client pause 200 write >/dev/null 2>&1; sleep 0.4; done) &
pauser=$!
(run_as gather gather -e -X batch.size=20 -X write.max.delay=250ms) >"$WORK/gather.alerts" 2>"$WORK/gather.log" ||
  { kill "$pauser"; tail "$WORK/gather.log"; fail "pass with Redis pausing writes"; }
kill "$pauser"; wait "$pauser" 2>/dev/null || true
redis-cli -p "$REDIS_PORT" client unpause >/dev/null
gathered=$(grep -oE '[0-9]+ gathered into the next write' "$WORK/gather.log" | grep -oE '^[0-9]+')
((${gathered:-0} > 0)) || fail "no batch was gathered while Redis paused writes: $(grep 'run: .* consumed' "$WORK/gather.log")"
same_as_clean gather "batches gathered while a write was in flight ($gathered of $(grep -oE '[0-9]+ batch\(es\)' "$WORK/gather.log" | grep -oE '^[0-9]+'))"
same_alerts "$WORK/clean.alerts" "batches gathered while a write was in flight" "$WORK/gather.alerts"

# ---- kill -9 at several points ----------------------------------------------------
# Each run is killed once the stored offsets pass the next seventh of the
# input, and must have applied some of it, and not all, by then. Writes of
# at most 4 records keep the runs slow enough for a poll every 20 ms to
# catch them (with 10, a fresh machine once saw the last run finish before
# its kill): batches of 2, two of them gathered into a write while the
# previous one is in Redis, so kills also land with gathered writes open.
before=0
points=""
for i in 1 2 3 4 5; do
  target=$((total * i / 7))
  ((target > before)) || target=$((before + 1))
  run_as crash "crash$i" -X batch.size=2 -X write.max.records=4 >>"$WORK/crash.alerts" \
    2>>"$WORK/crash.log" &
  pid=$!
  deadline=$((SECONDS + 60))
  while (($(offsum crash) < target)); do
    kill -0 "$pid" 2>/dev/null || fail "killed run $i ended by itself: $(tail -3 "$WORK/crash.log")"
    ((SECONDS < deadline)) || { kill -9 "$pid"; fail "killed run $i: stuck at $(offsum crash) of $total records"; }
    sleep 0.02
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  at=$(offsum crash)
  ((at > before && at < total)) ||
    fail "kill -9 number $i did not land mid-stream: $before records applied before the run, $at of $total at the kill"
  points="$points $at"
  before=$at
done
(run_as crash crash-final -e) >>"$WORK/crash.alerts" 2>"$WORK/crash-final.log" || fail "run after the crashes"
same_as_clean crash "kill -9 five times, at$points of $total records"
same_alerts "$WORK/clean.alerts" "kill -9 five times" "$WORK/crash.alerts"

# ---- duplicate delivery: positions forgotten, everything consumed again ----------
for k in $(rcli --scan --pattern "${NS}clean:*:off:*"); do rcli DEL "$k" >/dev/null; done
(run_as clean again -e) >"$WORK/again.alerts" 2>"$WORK/again.log" || fail "re-consume from offset 0"
grep -q "$total duplicate(s)" "$WORK/again.log" ||
  fail "re-consuming from offset 0: not all $total events reported as duplicates: $(grep 'run:' "$WORK/again.log")"
[[ ! -s $WORK/again.alerts ]] || fail "re-consuming from offset 0 delivered alerts again: $(head -c 300 "$WORK/again.alerts")"
same_as_clean clean "re-consuming every partition from offset 0 (no alert delivered again)" again

# ---- a second member joins and leaves mid-stream ----------------------------------
# Batches of 5 keep the members busy, short heartbeats let both see the
# rebalances quickly. The second member joins once the first has stored
# something, and leaves (SIGTERM) as soon as it has stored something of its
# own: it must have applied records and left some of the input, and the first
# member must take its partitions back and finish. Redis holds writes back
# for 3 s while the second member starts (CLIENT PAUSE ... WRITE), so the
# first cannot race through the whole input before the group has rebalanced
# (it needs about a second for it, the join about two).
# Batches are gathered while a write is in Redis (Redis pauses writes
# below), at most 25 records per write, so that the pause still holds the
# first member back. (Uncapped, this phase found the due index following
# only the stored due times, in 3 of 8 runs, but the first member then
# often gathered the whole input during the pause.)
FAST=(-X batch.size=5 -X write.max.delay=250ms -X write.max.records=25
      -X kafka.heartbeat.interval.ms=300 -X kafka.session.timeout.ms=6000)
run_as rebal rebal "${FAST[@]}" >>"$WORK/rebal.alerts" 2>"$WORK/rebal1.log" &
p1=$!
for _ in $(seq 300); do (($(offsum rebal) > 0)) && break; sleep 0.02; done
rcli CLIENT PAUSE 3000 WRITE >/dev/null
run_as rebal rebal "${FAST[@]}" >>"$WORK/rebal.alerts" 2>"$WORK/rebal2.log" &
p2=$!
# p2_stored: 0 once a partition assigned to the second member has a stored
# offset past the one it was assigned at.
p2_stored() {
  local t p o cur
  while read -r t p o; do
    cur=$(rcli GET "$NS""rebal:{$p}:off:$t")
    [[ -n $cur ]] && ((cur > o)) && return 0
  done < <(sed -nE 's/.* assigned ([^ ]+) \[([0-9]+)\] at offset (-?[0-9]+).*/\1 \2 \3/p' "$WORK/rebal2.log")
  return 1
}
for _ in $(seq 1000); do p2_stored && break; sleep 0.02; done
# Mid-stream: what was applied when the second member was told to leave.
# Both members finish this small input in tens of milliseconds, about the
# time this loop takes to see the second member's write: Redis holds writes
# back for a second (CLIENT PAUSE ... WRITE) while the count is read and the
# member is told, so the count is the input's state at that moment.
rcli CLIENT PAUSE 1000 WRITE >/dev/null
at=$(offsum rebal)
t_term=$(date +%s%N)
kill -TERM "$p2"
rc2=0
wait "$p2" || rc2=$?
ms=$((($(date +%s%N) - t_term) / 1000000))
gone=$(offsum rebal)
[[ $rc2 -eq 0 ]] || fail "the second member exited $rc2 on SIGTERM"
((ms < 10000)) || fail "the second member took $ms ms to stop on SIGTERM"
n2=$(applied "$WORK/rebal2.log")
((n2 > 0)) || fail "the second member applied no record: $(grep -v 'kafka: ' "$WORK/rebal2.log" | tail -5)"
((at < total)) || fail "the second member was told to leave only once all $total records were applied"
kill -0 "$p1" 2>/dev/null || fail "the first member was gone before the second left"
wait_offsum rebal "$total"
kill -TERM "$p1"
wait "$p1" || fail "the first member failed"
back=$(($(grep -c ' assigned ' "$WORK/rebal1.log") - 6))
((back > 0)) || fail "the first member never took partitions back after the second left"
(run_as rebal rebal-final -e) >>"$WORK/rebal.alerts" 2>"$WORK/rebal3.log" || fail "final pass"
ok "second member: assigned $(grep -c ' assigned ' "$WORK/rebal2.log") partition(s), applied $n2 record(s), told to leave at $at of $total, gone on SIGTERM in $ms ms (exit 0) at $gone; the first member took partitions back ($back assignment(s)) and applied $(applied "$WORK/rebal1.log")"
same_as_clean rebal "a member joining and leaving mid-stream"
same_alerts "$WORK/clean.alerts" "a member joining and leaving mid-stream" "$WORK/rebal.alerts"

# ---- a zombie: SIGSTOPped, its partitions move on, then it wakes up ----------------
# The zombie collects one batch for 3 s (batch.size above the input), then
# writes it: WATCH and read its partitions' stored offsets, then MULTI ..
# EXEC. Redis holds writes meanwhile (CLIENT PAUSE WRITE), so the zombie is
# stopped with its transaction waiting in Redis, holding records it has not written
# and not polling Kafka; that connection is then closed, so the transaction
# never runs (as when a write's connection breaks), and the pause lifted.
# While it sleeps, more records arrive and another member takes over and
# applies everything. Woken, the zombie finds its connection gone, reconnects
# and sends its write again before it polls Kafka again and hears that it
# lost its partitions: its writes must be fenced, and nothing of them may
# land (they would store offsets behind the new records).
run_as zombie zombie "${FAST_GROUP[@]}" -X batch.size=100000 -X batch.timeout=3s \
  >>"$WORK/zombie.alerts" 2>"$WORK/zombie1.log" &
pz=$!
for _ in $(seq 200); do [[ $(grep -c assigned "$WORK/zombie1.log") -ge 6 ]] && break; sleep 0.05; done
[[ $(grep -c assigned "$WORK/zombie1.log") -ge 6 ]] || { kill -9 "$pz"; fail "the zombie was not assigned the partitions"; }
sleep 0.5
rcli CLIENT PAUSE 10000 WRITE >/dev/null
zid=
for _ in $(seq 100); do
  # In MULTI (x) and held by the pause (b): its transaction's first write.
  zid=$(rcli CLIENT LIST | awk '/ flags=[A-Za-z]*x/ && / flags=[A-Za-z]*b/ {
    for (i = 1; i <= NF; i++) if ($i ~ /^id=/) print substr($i, 4) }' | sed -n 1p)
  [[ -n $zid ]] && rcli INFO clients | grep '^blocked_clients:[1-9]' >/dev/null && break
  sleep 0.05
done
kill -STOP "$pz"
[[ -n $zid ]] || { rcli CLIENT UNPAUSE >/dev/null; kill -9 "$pz"; fail "the zombie did not write within 5 s"; }
rcli CLIENT KILL ID "$zid" >/dev/null
rcli CLIENT UNPAUSE >/dev/null
[[ $(offsum zombie) -eq 0 ]] || { kill -9 "$pz"; fail "the zombie stored offsets before it was stopped"; }
rw gen --seed 23 --accounts 80 --days 10 --start 2026-06-01 -n 300 2>"$WORK/gen.err" ||
  { kill -9 "$pz"; fail "gen while the zombie sleeps: $(cat "$WORK/gen.err")"; }
more=$(grep -oE '^gen: [0-9]+ events' "$WORK/gen.err" | grep -oE '[0-9]+')
((more > 0)) || { kill -9 "$pz"; fail "gen while the zombie sleeps: $(cat "$WORK/gen.err")"; }
total=$((total + more))
(run_as zombie zombie "${FAST_GROUP[@]}" -e) >>"$WORK/zombie.alerts" 2>"$WORK/zombie2.log" ||
  { kill -9 "$pz"; fail "the member that took over failed"; }
dump zombie "$WORK/dump.zombie-asleep"
kill -CONT "$pz"
for _ in $(seq 100); do grep -q '(lost)' "$WORK/zombie1.log" && break; sleep 0.1; done
sleep 1
kill -TERM "$pz"
wait "$pz" || true
fenced=$(grep -oE '[0-9]+ fenced' "$WORK/zombie1.log" | tail -1 | grep -oE '[0-9]+' || echo 0)
((fenced >= 1)) || fail "the zombie woke up and none of its writes was fenced: $(grep -v 'kafka: ' "$WORK/zombie1.log" | tail -5)"
[[ $(applied "$WORK/zombie1.log") -eq 0 ]] || fail "the zombie applied $(applied "$WORK/zombie1.log") record(s)"
dump zombie "$WORK/dump.zombie-woken"
if ! cmp -s "$WORK/dump.zombie-asleep" "$WORK/dump.zombie-woken"; then
  { diff "$WORK/dump.zombie-asleep" "$WORK/dump.zombie-woken" || true; } | head -6 | cut -c1-300 >&2
  fail "the zombie's writes landed: the state changed when it woke up"
fi
ok "zombie woke up: $fenced write(s) fenced, nothing of it landed, partitions lost: $(grep -c '(lost)' "$WORK/zombie1.log")"
(run_as clean3 clean3 -e) >"$WORK/clean3.alerts" 2>"$WORK/clean3.log" || fail "clean pass with the zombie's new records"
dump clean3 "$WORK/dump.clean"
same_as_clean zombie "a SIGSTOPped zombie resuming after losing its partitions"
same_alerts "$WORK/clean3.alerts" "a SIGSTOPped zombie resuming after losing its partitions" "$WORK/zombie.alerts"

# ---- Redis goes down mid-stream and comes back having lost writes ------------
# A snapshot taken before the run: everything the run writes will be lost.
rcli SAVE >/dev/null
run_as restart restart >>"$WORK/restart.alerts" 2>"$WORK/restart.log" &
pr=$!
wait_offsum restart "$total"
# The decider has decided boundaries, which Redis loses with the rest: the
# orders applied again must not be kept out of intervals Redis no longer
# holds decided.
for _ in $(seq 100); do [[ -n $(rcli HGET "${NS}restart:{dep}:agg" last) ]] && break; sleep 0.1; done
[[ -n $(rcli HGET "${NS}restart:{dep}:agg" last) ]] || fail "no boundary decided before Redis went down"
"$RW_SOURCE_DIR/scripts/redis-private.sh" stop "$RW_SERVICES" 2>/dev/null
# New events arrive while Redis is down: the run must write, and cannot.
rw gen --seed 22 --accounts 80 --days 30 --start 2026-06-01 -n 500 2>"$WORK/gen.err" ||
  fail "gen while Redis is down: $(cat "$WORK/gen.err")"
more=$(grep -oE '^gen: [0-9]+ events' "$WORK/gen.err" | grep -oE '[0-9]+')
sleep 3
"$RW_SOURCE_DIR/scripts/redis-private.sh" restart "$RW_SERVICES" 2>/dev/null
wait_offsum restart $((total + more))
kill -TERM "$pr"
wait "$pr" || fail "the run across the Redis outage exited non-zero: $(tail -5 "$WORK/restart.log")"
(run_as restart restart-final -e) >>"$WORK/restart.alerts" 2>"$WORK/restart2.log" || fail "final pass after the outage"
grep -q "redis unavailable .*paused [0-9]* partition(s), retrying" "$WORK/restart.log" ||
  fail "no pause while Redis was down: $(grep -v "assigned\|revoked" "$WORK/restart.log" | tail -12 | cut -c1-200)"
grep -q "redis back: resumed" "$WORK/restart.log" || fail "no resume once Redis was back"
grep -q "fenced: .*resuming from the stored offset" "$WORK/restart.log" ||
  fail "the writes Redis lost were not detected (no fenced re-sync)"
ok "Redis down 3 s under load: paused, reconnected, resumed; lost writes fenced and re-applied ($(grep -c 'fenced: ' "$WORK/restart.log") partition(s) re-synced)"
(run_as clean4 clean4 -e) >"$WORK/clean4.alerts" 2>"$WORK/clean4.log" || fail "clean pass over the longer history"
dump clean4 "$WORK/dump.clean"
same_as_clean restart "Redis down and restarted without the run's writes"
same_alerts "$WORK/clean4.alerts" "Redis down and restarted without the run's writes" "$WORK/restart.alerts"

# ---- the clock leaps: many due at once, with a due index of one ahead --------
# The namespace of one due time ahead catches up with the longer history
# (the index loaded again by a new run), then months without an event and
# a few: by the new clock nearly every account of a partition is due at
# once, far more than the one due time ahead the index holds. All of them
# are evaluated, as in the clean pass (an index cut below the clock left
# them in Redis, and run -e ended first). input.gap=0 for the leap: as an
# input outage it would hold the rules, and nothing would fire.
(run_as ahead ahead-more -e -X state.due.max.ahead=1 -X batch.size=20) >>"$WORK/ahead.alerts" \
  2>"$WORK/ahead-more.log" || { tail "$WORK/ahead-more.log"; fail "catching up with a due index of one ahead"; }
same_as_clean ahead "a due index of one ahead, caught up with the longer history by a new run"
rw gen --seed 24 --accounts 6 --days 2 --start 2026-10-01 -n 40 2>"$WORK/gen.err" ||
  fail "gen of the leap: $(cat "$WORK/gen.err")"
(run_as clean4 clean4-leap -e -X input.gap=0) >"$WORK/leap.alerts" 2>"$WORK/clean4-leap.log" ||
  fail "clean pass over the leap"
cat "$WORK/leap.alerts" >>"$WORK/clean4.alerts"
leap=$(grep -c '"rule":"churn\.' "$WORK/leap.alerts" || true)
((leap >= 20)) || fail "the leap fired ${leap:-0} churn alert(s) in the clean pass: it does not make many due at once"
(run_as ahead ahead-leap -e -X input.gap=0 -X state.due.max.ahead=1 -X batch.size=20) \
  >>"$WORK/ahead.alerts" 2>"$WORK/ahead-leap.log" ||
  { tail "$WORK/ahead-leap.log"; fail "pass over the leap with a due index of one ahead"; }
dump clean4 "$WORK/dump.clean"
same_as_clean ahead "a leap of the clock ($leap churn alerts at once) with a due index of one ahead"
same_alerts "$WORK/clean4.alerts" "a leap of the clock with a due index of one ahead" "$WORK/ahead.alerts"
