#!/usr/bin/env bash
# `riskwatch run` on the real broker when its input is not what the user
# meant: input topics that do not exist (-e fails at once naming them; without
# -e one line per topic says it waits, and the run consumes once they are
# created), histories produced onto the same topics (two starts: no
# duplicates; the same history twice: a warning in the exit summary), and a
# namespace run with another evaluation.interval than it was built with
# (exit 2, naming the setting's origin) or of another state layout (exit 2).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PIDS=()   # every riskwatch this test started in the background, killed on exit
trap 'for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

export -f rw
export RW_BIN KAFKA_BOOTSTRAP REDIS_URL NS ID T_ORDERS T_SUPPORT T_ALERTS T_DLQ
# run OUT ERR ARGS...: rw ARGS with a 60 s limit (a hang exits 124); exit
# status in $rc.
run() {
  local out=$1 err=$2
  shift 2
  rc=0
  timeout 60 "$BASH" -c 'rw "$@"' _ "$@" >"$out" 2>"$err" || rc=$?
}
shown() { printf '\n--- stderr ---\n%s\n' "$(head -c 3000 "$1")"; }
# summary LOG FIELD: a number of run's exit summary ("N consumed, N applied
# (N late), N duplicate(s), ...").
summary() { grep -oE "[0-9]+ $2" "$1" | tail -n 1 | grep -oE '^[0-9]+'; }

# The broker creates no topic on first use (auto.create.topics.enable=false):
# each is created before gen writes to it. The output topics exist throughout
# (output_topics.sh tests their absence).
create() {
  local t
  for t in "$@"; do
    "$RW_SOURCE_DIR/scripts/kafka-broker.sh" create-topic "$RW_SERVICES" "$t" 3 >/dev/null
  done
}
create "$T_ALERTS" "$T_DLQ"

# ---- missing input topics --------------------------------------------------------

# With -e: exit 1 at once, naming every missing topic and its property.
run "$WORK/out" "$WORK/e.err" run -e
[[ $rc -eq 1 ]] || fail "run -e on missing topics: exit $rc, expected 1$(shown "$WORK/e.err")"
grep -qF "input topics not found on the broker: $T_ORDERS (topics.orders), $T_SUPPORT (topics.support)" \
  "$WORK/e.err" || fail "run -e on missing topics does not name both$(shown "$WORK/e.err")"
ok "run -e on missing topics exits 1: $(grep -m1 'not found' "$WORK/e.err" | cut -d' ' -f3-)"

# Only the support topic missing: only it is named.
TO_ONLY="orders-only-$ID"
create "$TO_ONLY"
rw gen -X topics.orders="$TO_ONLY" -X topics.support="$TO_ONLY" -n 20 --accounts 5 --days 5 \
  2>"$WORK/gen0.err" || { cat "$WORK/gen0.err" >&2; fail "gen onto $TO_ONLY"; }
run "$WORK/out" "$WORK/e1.err" run -e -X topics.orders="$TO_ONLY"
[[ $rc -eq 1 ]] || fail "run -e with topics.support missing: exit $rc, expected 1$(shown "$WORK/e1.err")"
grep -qF "input topic not found on the broker: $T_SUPPORT (topics.support)" "$WORK/e1.err" ||
  fail "run -e with topics.support missing does not name it alone$(shown "$WORK/e1.err")"
ok "run -e with one missing topic names that one"

# Without -e: one line per missing topic, then it consumes them once created.
# (exec: $! is riskwatch itself, which SIGINT must reach)
( exec "$RW_BIN" run -X kafka.bootstrap.servers="$KAFKA_BOOTSTRAP" -X redis.url="$REDIS_URL" \
    -X state.namespace="$NS" -X group.id="group-$ID" \
    -X topics.orders="$T_ORDERS" -X topics.support="$T_SUPPORT" \
    -X topics.alerts="$T_ALERTS" -X topics.dlq="$T_DLQ" ) >"$WORK/wait.out" 2>"$WORK/wait.err" &
pid=$!
PIDS+=("$pid")
for _ in $(seq 200); do
  [[ $(grep -c 'waiting for it to be created' "$WORK/wait.err") -ge 2 ]] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$pid" 2>/dev/null || fail "run without -e on missing topics exited$(shown "$WORK/wait.err")"
for t in "$T_ORDERS (topics.orders)" "$T_SUPPORT (topics.support)"; do
  grep -qF "topic $t does not exist: waiting for it to be created" "$WORK/wait.err" ||
    fail "run without -e does not say it waits for $t$(shown "$WORK/wait.err")"
done
# Both in one CreateTopics request, so they appear together, as when the
# broker created them on gen's first request (created a second apart, the run
# was once seen assigned the orders partitions, then the support ones, and
# stalled with 27 of 28 records unread: not yet understood).
"$PY" - "$KAFKA_BOOTSTRAP" "$T_ORDERS" "$T_SUPPORT" <<'PYEOF' || fail "cannot create $T_ORDERS and $T_SUPPORT"
import sys
from confluent_kafka.admin import AdminClient, NewTopic
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
futures = admin.create_topics([NewTopic(t, 3, 1, config={"retention.ms": "-1"}) for t in sys.argv[2:]])
for f in futures.values():
    f.result(30)
PYEOF
rw gen --seed 3 --accounts 10 --days 10 2>"$WORK/gen1.err" ||
  { cat "$WORK/gen1.err" >&2; fail "gen"; }
produced=$(grep -oE '^gen: [0-9]+ events' "$WORK/gen1.err" | grep -oE '[0-9]+')
# Consumed once the stored offsets cover every record.
wait_stored "$produced" "$pid" ||
  fail "run without -e did not consume the topics once created ($covered of $produced)$(shown "$WORK/wait.err")"
kill -INT "$pid"
rc=0
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "run without -e still running 30 s after SIGINT$(shown "$WORK/wait.err")"
wait "$pid" || rc=$?
[[ $rc -eq 0 ]] || fail "run without -e: exit $rc after SIGINT$(shown "$WORK/wait.err")"
for t in "$T_ORDERS" "$T_SUPPORT"; do
  n=$(grep -c "topic $t (topics\.[a-z]*) does not exist" "$WORK/wait.err" || true)
  [[ $n -eq 1 ]] || fail "run without -e said $n times that it waits for $t$(shown "$WORK/wait.err")"
done
ok "run without -e says once per missing topic that it waits, and consumes the $produced events once gen created them"

# ---- the end of the input ---------------------------------------------------------

# -e ends once every record up to each partition's high watermark is stored:
# it does not wait for librdkafka's end-of-partition, which needs one more
# fetch that finds nothing and that the broker holds for fetch.wait.max.ms,
# nor does the decider ask the broker for the partitions behind such a fetch.
# A 20 s long poll: waiting for either would take 20 s, or the 5 s metadata
# timeout, or more.
END=(-X state.namespace="${NS}_end" -X group.id="group-end-$ID"
     -X topics.orders="orders-end-$ID" -X topics.support="support-end-$ID")
create "orders-end-$ID" "support-end-$ID"
rw gen "${END[@]}" --seed 5 --accounts 20 --days 20 2>"$WORK/gend.err" ||
  { cat "$WORK/gend.err" >&2; fail "gen (end)"; }
n_end=$(grep -oE '^gen: [0-9]+ events' "$WORK/gend.err" | grep -oE '[0-9]+')
t0=$(date +%s%N)
run "$WORK/out" "$WORK/end.err" run -e "${END[@]}" -X kafka.fetch.wait.max.ms=20000
took_ms=$((($(date +%s%N) - t0) / 1000000))
[[ $rc -eq 0 ]] || fail "run -e with a 20 s fetch.wait.max.ms: exit $rc$(shown "$WORK/end.err")"
[[ $(summary "$WORK/end.err" consumed) -eq $n_end ]] ||
  fail "run -e with a 20 s fetch.wait.max.ms: expected $n_end consumed$(shown "$WORK/end.err")"
((took_ms < 4000)) ||
  fail "run -e with a 20 s fetch.wait.max.ms took ${took_ms} ms: it waited behind the broker's long poll$(shown "$WORK/end.err")"
ok "run -e over $n_end events ends at the high watermarks in ${took_ms} ms, not after a 20 s fetch.wait.max.ms"

# Again, with nothing new: every partition is at its end when assigned (the
# ends are asked for with the assignment), while the first fetch, finding
# nothing, is held for the 20 s.
t0=$(date +%s%N)
run "$WORK/out" "$WORK/again.err" run -e "${END[@]}" -X kafka.fetch.wait.max.ms=20000
took_ms=$((($(date +%s%N) - t0) / 1000000))
[[ $rc -eq 0 ]] || fail "run -e again with nothing new: exit $rc$(shown "$WORK/again.err")"
[[ $(summary "$WORK/again.err" consumed) -eq 0 ]] ||
  fail "run -e again with nothing new: expected 0 consumed$(shown "$WORK/again.err")"
((took_ms < 4000)) ||
  fail "run -e again with nothing new took ${took_ms} ms: it waited for a fetch to say where the ends are$(shown "$WORK/again.err")"
ok "run -e again with nothing new ends in ${took_ms} ms, not after a 20 s fetch.wait.max.ms"

# Topics that exist and are empty: nothing to read, at once.
EMPTY=(-X state.namespace="${NS}_empty" -X group.id="group-empty-$ID"
       -X topics.orders="orders-empty-$ID" -X topics.support="support-empty-$ID")
create "orders-empty-$ID" "support-empty-$ID"
t0=$(date +%s%N)
run "$WORK/out" "$WORK/empty.err" run -e "${EMPTY[@]}" -X kafka.fetch.wait.max.ms=20000
took_ms=$((($(date +%s%N) - t0) / 1000000))
[[ $rc -eq 0 ]] || fail "run -e on empty topics: exit $rc$(shown "$WORK/empty.err")"
((took_ms < 4000)) ||
  fail "run -e on empty topics took ${took_ms} ms: it waited for a fetch to say they are empty$(shown "$WORK/empty.err")"
ok "run -e on empty topics ends in ${took_ms} ms, not after a 20 s fetch.wait.max.ms"

# ---- histories produced twice ------------------------------------------------------

# The same seed with a later --start is another history: its events are new,
# not duplicates of the first one's.
NS2="${NS}_twice"
TW_ORDERS="orders-twice-$ID"; TW_SUPPORT="support-twice-$ID"
two=(-X state.namespace="$NS2" -X group.id="group-twice-$ID"
     -X topics.orders="$TW_ORDERS" -X topics.support="$TW_SUPPORT")
h=(--seed 9 --accounts 20 --days 20)
create "$TW_ORDERS" "$TW_SUPPORT"
rw gen "${two[@]}" "${h[@]}" 2>"$WORK/g1.err" || { cat "$WORK/g1.err" >&2; fail "gen (1)"; }
rw gen "${two[@]}" "${h[@]}" --start 2026-02-01 2>"$WORK/g2.err" ||
  { cat "$WORK/g2.err" >&2; fail "gen --start 2026-02-01"; }
n1=$(grep -oE '^gen: [0-9]+ events' "$WORK/g1.err" | grep -oE '[0-9]+')
n2=$(grep -oE '^gen: [0-9]+ events' "$WORK/g2.err" | grep -oE '[0-9]+')
run "$WORK/out" "$WORK/two.err" run -e "${two[@]}"
[[ $rc -eq 0 ]] || fail "run -e over two histories: exit $rc$(shown "$WORK/two.err")"
[[ $(summary "$WORK/two.err" consumed) -eq $((n1 + n2)) ]] ||
  fail "run -e over two histories: expected $((n1 + n2)) consumed$(shown "$WORK/two.err")"
[[ $(summary "$WORK/two.err" 'duplicate\(s\)') -eq 0 ]] ||
  fail "run -e over two histories of different starts counted duplicates$(shown "$WORK/two.err")"
! grep -q 'were duplicates' "$WORK/two.err" ||
  fail "run -e over two histories warns of duplicates$(shown "$WORK/two.err")"
ok "two histories with the same seed and different starts: $((n1 + n2)) events, no duplicates"

# The same history twice: every event of the second copy is a duplicate, and
# the exit summary says what probably happened. An account remembers the ids
# of its events within dedup.horizon of event time: the whole 40 days here.
NS3="${NS}_same"
TS_ORDERS="orders-same-$ID"; TS_SUPPORT="support-same-$ID"
same=(-X state.namespace="$NS3" -X group.id="group-same-$ID"
      -X topics.orders="$TS_ORDERS" -X topics.support="$TS_SUPPORT" -X dedup.horizon=60d)
# Over 1,000 events in all, so the counts need their separators.
create "$TS_ORDERS" "$TS_SUPPORT"
for i in 1 2; do
  rw gen "${same[@]}" --seed 9 --accounts 40 --days 40 2>"$WORK/s$i.err" ||
    { cat "$WORK/s$i.err" >&2; fail "gen (same $i)"; }
done
n1=$(grep -oE '^gen: [0-9]+ events' "$WORK/s1.err" | grep -oE '[0-9]+')
run "$WORK/out" "$WORK/same.err" run -e "${same[@]}"
[[ $rc -eq 0 ]] || fail "run -e over one history twice: exit $rc$(shown "$WORK/same.err")"
all=$((2 * n1))
((all >= 1000)) || fail "the same history twice: only $all events, expected over 1,000"
[[ $(summary "$WORK/same.err" consumed) -eq $all ]] ||
  fail "run -e over one history twice: expected $all consumed$(shown "$WORK/same.err")"
[[ $(summary "$WORK/same.err" 'duplicate\(s\)') -eq $n1 ]] ||
  fail "run -e over one history twice: expected $n1 duplicates$(shown "$WORK/same.err")"
# The counts as the summary writes them, with thousands separators.
want=$(awk -v d="$n1" -v a="$all" '
  function g(n,  s) { s = ""; while (n >= 1000) { s = sprintf(",%03d", n % 1000) s; n = int(n / 1000) } return n s }
  BEGIN { printf "%s of %s events (50%%) were duplicates of events already applied: was the same history produced twice?", g(d), g(a) }')
grep -qF "warn  run: $want" "$WORK/same.err" ||
  fail "run -e over one history twice: no line 'warn  run: $want'$(shown "$WORK/same.err")"
ok "the same history twice: $(grep -m1 'were duplicates' "$WORK/same.err" | sed 's/.*warn  //')"

# ---- another evaluation.interval on a namespace that holds state ------------------

# The partitions' portfolio buckets and the decider's fold copies are indexed
# by evaluation.interval: a run with another one would read and write them at
# the wrong indices. The namespace keeps the interval it was built with, and
# a run with another one exits 2 at once, naming the setting and where it was
# set, writing nothing; inspect --portfolio shows it with its own. The same
# interval goes on as before.
offs() {   # the stored offsets and the decided boundary
  rcli --scan --pattern "$NS2:*:off:*" | sort | xargs -r redis-cli -p "$REDIS_PORT" MGET | tr '\n' ' '
  rcli hget "$NS2:{dep}:agg" last
}
before=$(offs)
[[ $(rcli hget "$NS2:{dep}:agg" interval) == 3600000 ]] ||
  fail "the namespace does not hold the interval it was built with (1h): '$(rcli hget "$NS2:{dep}:agg" interval)'"
run "$WORK/out" "$WORK/iv.err" run -e "${two[@]}" -X evaluation.interval=15m
[[ $rc -eq 2 ]] || fail "run -e with another evaluation.interval: exit $rc, expected 2$(shown "$WORK/iv.err")"
grep -qF "run: -X evaluation.interval: 15m, but state.namespace '$NS2' was built with 1h" "$WORK/iv.err" ||
  fail "run -e with another evaluation.interval does not name it and its origin$(shown "$WORK/iv.err")"
printf '# the interval\nevaluation.interval = 30m\n' >"$WORK/iv.conf"
run "$WORK/out" "$WORK/iv2.err" run -e "${two[@]}" -c "$WORK/iv.conf"
[[ $rc -eq 2 ]] || fail "run -e with another evaluation.interval from a file: exit $rc, expected 2$(shown "$WORK/iv2.err")"
grep -qF "run: $WORK/iv.conf:2: evaluation.interval: 30m, but state.namespace '$NS2' was built with 1h" \
  "$WORK/iv2.err" || fail "run -e with another evaluation.interval from a file does not name FILE:LINE$(shown "$WORK/iv2.err")"
[[ $(offs) == "$before" && $(rcli hget "$NS2:{dep}:agg" interval) == 3600000 ]] ||
  fail "the refused runs changed the namespace: offsets and last boundary '$before' -> '$(offs)'"
# inspect --portfolio reads the fold copies with the namespace's interval,
# whatever the configuration says, and says so.
rw inspect "${two[@]}" --portfolio --json >"$WORK/p1.json" 2>"$WORK/p1.err" ||
  fail "inspect --portfolio$(shown "$WORK/p1.err")"
rw inspect "${two[@]}" --portfolio --json -X evaluation.interval=15m >"$WORK/p2.json" 2>"$WORK/p2.err" ||
  fail "inspect --portfolio with another evaluation.interval$(shown "$WORK/p2.err")"
grep -q '"top_accounts":\[{' "$WORK/p1.json" || fail "inspect --portfolio lists no account: $(head -c 600 "$WORK/p1.json")"
cmp -s "$WORK/p1.json" "$WORK/p2.json" ||
  fail "inspect --portfolio with 15m differs from 1h: $(head -c 400 "$WORK/p2.json")"
grep -qF "state.namespace '$NS2' was built with evaluation.interval 1h: shown with it (not 15m)" "$WORK/p2.err" ||
  fail "inspect --portfolio with 15m does not say it shows 1h$(shown "$WORK/p2.err")"
run "$WORK/out" "$WORK/iv3.err" run -e "${two[@]}" -X evaluation.interval=1h
[[ $rc -eq 0 ]] || fail "run -e with the namespace's own evaluation.interval: exit $rc$(shown "$WORK/iv3.err")"
ok "inspect --portfolio shows a namespace built with 1h with 1h whatever evaluation.interval says"
ok "another evaluation.interval on a namespace built with 1h exits 2: $(grep -m1 'but state.namespace' "$WORK/iv.err" | sed 's/.*error run: //' | cut -c1-90)..."

# ---- a namespace of another layout --------------------------------------------------

# The namespace records the layout it was written in; one of another (a
# newer riskwatch's) is neither read nor written: run exits 2 at once naming
# it, inspect too; with its own layout back, it runs as before.
[[ $(rcli hget "$NS2:{dep}:agg" layout) == 1 ]] ||
  fail "the namespace does not record its layout (1): '$(rcli hget "$NS2:{dep}:agg" layout)'"
rcli hset "$NS2:{dep}:agg" layout 2 >/dev/null
before=$(offs)
run "$WORK/out" "$WORK/lay.err" run -e "${two[@]}"
[[ $rc -eq 2 ]] || fail "run -e on a namespace of layout 2: exit $rc, expected 2$(shown "$WORK/lay.err")"
grep -qF "run: -X state.namespace: '$NS2' holds state of layout 2, and this riskwatch reads layout 1 only: a newer riskwatch wrote it" \
  "$WORK/lay.err" || fail "run -e on a namespace of layout 2 does not say so$(shown "$WORK/lay.err")"
[[ $(offs) == "$before" && $(rcli hget "$NS2:{dep}:agg" layout) == 2 ]] ||
  fail "the refused run changed the namespace: '$before' -> '$(offs)', layout $(rcli hget "$NS2:{dep}:agg" layout)"
rc=0
rw inspect "${two[@]}" --portfolio >"$WORK/out" 2>"$WORK/lay-i.err" || rc=$?
[[ $rc -eq 2 ]] && grep -qF "inspect: state.namespace: '$NS2' holds state of layout 2, and this riskwatch reads layout 1 only" \
  "$WORK/lay-i.err" || fail "inspect on a namespace of layout 2: exit $rc$(shown "$WORK/lay-i.err")"
rcli hset "$NS2:{dep}:agg" layout 1 >/dev/null
run "$WORK/out" "$WORK/lay2.err" run -e "${two[@]}"
[[ $rc -eq 0 ]] || fail "run -e with the namespace's layout back: exit $rc$(shown "$WORK/lay2.err")"
ok "a namespace of layout 2 is refused by run and inspect (exit 2, nothing written): $(grep -m1 'holds state of layout' "$WORK/lay.err" | sed 's/.*error run: //' | cut -c1-80)..."
