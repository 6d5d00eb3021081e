#!/usr/bin/env bash
# Determinism of the alerts on the real broker and Redis: one generated
# history processed (a) by one `riskwatch run -e`, (b) by two processes
# sharing the group concurrently, (c) by one process killed with SIGKILL
# twice mid-stream and restarted until done, each variant with its own Redis
# namespace and alerts topic. (b) and (c) must produce exactly the alerts of
# (a): the same alert ids, and the same records apart from emitted_at. An
# exact re-delivery of an alert after a kill -9 (same id, same record) is
# allowed and counted; a missing or extra id, or two different records for
# one id, fails.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PIDS=()   # every riskwatch this test started, killed on exit
trap 'for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

create_topics 3
for v in a b c; do
  for t in alerts dlq; do
    "$RW_SOURCE_DIR/scripts/kafka-broker.sh" create-topic "$RW_SERVICES" "$t-$v-$ID" 3 >/dev/null
  done
done
# Small batches in (b) and the last run of (c): many batch boundaries.
SMALL=(-X batch.size=40 -X batch.timeout=20ms)
# A killed member's partitions move to its successor within seconds.
FAST_GROUP=(-X kafka.session.timeout.ms=6000 -X kafka.heartbeat.interval.ms=500)


# run_as VARIANT ARGS...: riskwatch run for one variant: its own namespace,
# group and alerts topic. It execs, so `run_as ... &` makes $! riskwatch.
run_as() {
  local v=$1
  shift
  exec "$RW_BIN" run -X kafka.bootstrap.servers="$KAFKA_BOOTSTRAP" -X redis.url="$REDIS_URL" \
    -X state.namespace="$NS$v" -X group.id="group-$ID-$v" \
    -X topics.orders="$T_ORDERS" -X topics.support="$T_SUPPORT" \
    -X topics.alerts="alerts-$v-$ID" -X topics.dlq="dlq-$v-$ID" "$@"
}
# start VARIANT LOG ARGS...: run_as in the background; its pid in $LAST.
start() {
  local v=$1 log=$2
  shift 2
  touch "$WORK/$v.lines"
  run_as "$v" "$@" >>"$WORK/$v.lines" 2>>"$log" &
  LAST=$!
  PIDS+=("$LAST")
}
# finish PID WHAT SECONDS: wait for a background run; fail if it fails or hangs.
finish() {
  local pid=$1 what=$2 deadline=$((SECONDS + $3)) rc=0
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS < deadline)) || { kill -KILL "$pid"; fail "$what: still running after $3 s"; }
    sleep 0.2
  done
  wait "$pid" || rc=$?
  [[ $rc -eq 0 ]] || fail "$what exited $rc"
}
# offsum VARIANT: input records covered by the variant's stored offsets (the
# keys by name: a SCAN of a busy Redis is too slow to poll with).
offsum() {
  local keys=() p t
  for p in 0 1 2; do for t in "$T_ORDERS" "$T_SUPPORT"; do keys+=("$NS$1:{$p}:off:$t"); done; done
  rcli MGET "${keys[@]}" | awk '{ s += $1 } END { print s + 0 }'
}
alert_cnt() { kcat -C -b "$KAFKA_BOOTSTRAP" -t "alerts-$1-$ID" -e -q -f '%o\n' 2>/dev/null | wc -l; }
applied() { grep -oE '[0-9]+ applied' "$1" | awk '{ s += $1 } END { print s + 0 }'; }
# kill_when VARIANT PID WHAT CONDITION: SIGKILL PID once CONDITION (a bash
# expression over $off, the records covered by stored offsets, and $lines,
# the alert lines the variant's runs printed) holds, which must be before the
# input is done: fail if the run gets to the end first.
kill_when() {
  local v=$1 pid=$2 what=$3 cond=$4 off lines deadline=$((SECONDS + 90))
  while :; do
    off=$(offsum "$v")
    lines=$(wc -l <"$WORK/$v.lines")
    eval "$cond" && break
    kill -0 "$pid" 2>/dev/null || fail "$what: the run ended before it could be killed ($off of $total records, $lines alert lines)"
    ((SECONDS < deadline)) || fail "$what: '$cond' never held ($off of $total records, $lines alert lines)"
    sleep 0.02
  done
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  off=$(offsum "$v")
  ((off < total)) || fail "$what: the run had processed every record when it was killed: not mid-stream"
  ok "$what: killed with SIGKILL at $off of $total records stored, $lines alert line(s) printed, $(alert_cnt "$v") alert(s) on the topic"
}
complete() {   # complete VARIANT WHAT: every input record is covered by stored offsets
  local off
  off=$(offsum "$1")
  [[ $off -eq $total ]] || fail "$2: stored offsets cover $off of $total records"
}

# ---- (b) two processes sharing the group ----------------------------------------------
# Both members join the group before there is anything to read, so neither
# can run through the input before the other has its partitions (a member
# that joins while the other consumes waits seconds for the rebalance, and
# that is longer than one process takes for this history). They run until
# every record is stored, then are stopped.
start b "$WORK/b1.log" "${SMALL[@]}" "${FAST_GROUP[@]}"
p1=$LAST
start b "$WORK/b2.log" "${SMALL[@]}" "${FAST_GROUP[@]}"
p2=$LAST
deadline=$((SECONDS + 60))
until grep -q "partitions assigned" "$WORK/b1.log" && grep -q "partitions assigned" "$WORK/b2.log"; do
  ((SECONDS < deadline)) || fail "(b): the two members did not both get partitions within 60 s"
  sleep 0.2
done
ok "(b) two processes: both members have partitions"

rw gen --seed 11 --days 180 --labels "$WORK/labels.csv" 2>"$WORK/gen.err" ||
  { cat "$WORK/gen.err" >&2; fail "gen"; }
total=$(grep -oE '^gen: [0-9]+ events' "$WORK/gen.err" | grep -oE '[0-9]+')
ok "generated $total events ($(cut -d, -f2 "$WORK/labels.csv" | sed 1d | sort | uniq -c | xargs))"

# ---- (a) one process ----------------------------------------------------------------
start a "$WORK/a.log" -e
finish "$LAST" "(a) one process" 150
complete a "(a) one process"
ok "(a) one process: $(applied "$WORK/a.log") events applied, $(alert_cnt a) alerts"

# ---- (b), continued ---------------------------------------------------------------------
deadline=$((SECONDS + 120))
until (($(offsum b) == total)); do
  ((SECONDS < deadline)) || fail "(b): stored offsets cover $(offsum b) of $total records after 120 s"
  kill -0 "$p1" 2>/dev/null && kill -0 "$p2" 2>/dev/null || fail "(b): a member exited early"
  sleep 0.2
done
# The last alerts delivered (the drain follows the write, and the decider
# the stored watermarks; a member stopped first leaves them in its outboxes
# for the next run): as many alert records as (a) delivered, or 60 s.
want=$(alert_cnt a)
deadline=$((SECONDS + 60))
until (($(alert_cnt b) >= want)) || ((SECONDS >= deadline)); do sleep 0.2; done
kill -TERM "$p1" "$p2"
finish "$p1" "(b) first member" 60
finish "$p2" "(b) second member" 60
complete b "(b) two processes"
n1=$(applied "$WORK/b1.log")
n2=$(applied "$WORK/b2.log")
((n1 > 0 && n2 > 0)) || fail "(b): the group was not shared: the members applied $n1 and $n2 events"
ok "(b) two processes: the members applied $n1 and $n2 events, $(alert_cnt b) alerts"

# ---- (c) killed with SIGKILL mid-stream, restarted until done ---------------------------
# One record per batch in the runs to be killed: a few seconds of work, so
# the kills land mid-stream.
start c "$WORK/c1.log" -X batch.size=1 "${FAST_GROUP[@]}"
kill_when c "$LAST" "(c) first run" '((off >= total * 3 / 10))'
# The second once it has printed alerts of its own: in the thick of them, a
# kill can fall between an alert's delivery and its lifecycle write.
l0=$(wc -l <"$WORK/c.lines")
start c "$WORK/c2.log" -X batch.size=1 "${FAST_GROUP[@]}"
kill_when c "$LAST" "(c) second run" "((lines >= l0 + 5))"
start c "$WORK/c3.log" -e "${SMALL[@]}" "${FAST_GROUP[@]}"
finish "$LAST" "(c) run after two kills" 150
complete c "(c) after two kills"
ok "(c) after two kills: the last run applied $(applied "$WORK/c3.log") events, $(alert_cnt c) alerts"

# ---- the alerts of every variant ------------------------------------------------------
for v in a b c; do
  kcat -C -b "$KAFKA_BOOTSTRAP" -t "alerts-$v-$ID" -e -q -D '' -f '%p:%o:%K:%k%S:%s' |
    "$PY" "$RW_SOURCE_DIR/tests/integration/read_alerts.py" "$RW_SOURCE_DIR/schemas" >"$WORK/$v.jsonl" ||
    fail "($v): the alerts topic holds a record that is not a framed RiskAlert"
done
"$PY" - "$WORK" <<'PYEOF' || fail "the variants' alerts differ (see above)"
import collections, json, sys
work = sys.argv[1]
bad = []

def load(v):
    """alert id -> list of its records, minus emitted_at and where they sit"""
    ids = collections.defaultdict(list)
    for l in open("%s/%s.jsonl" % (work, v)):
        r = json.loads(l)
        for k in ("emitted_at", "_offset", "_partition"):
            del r[k]
        ids[r["alert_id"]].append(json.dumps(r, sort_keys=True))
    return ids

a = load("a")
if len(a) < 50:
    bad.append("(a) produced only %d alerts: too few to compare" % len(a))
for aid, recs in a.items():
    if len(recs) > 1:
        bad.append("(a) one process: %s appears %d times" % (aid, len(recs)))
rules = collections.Counter(json.loads(r[0])["rule"] for r in a.values())
print("(a) %d alert ids: %s" % (len(a), ", ".join("%s %d" % kv for kv in sorted(rules.items()))))
print("%-22s %8s %9s %10s %8s %6s %10s" % ("variant", "records", "alert ids", "exact dups", "missing", "extra", "different"))
for v, what in (("a", "(a) one process"), ("b", "(b) two processes"), ("c", "(c) kill -9 twice")):
    x = load(v)
    recs = sum(len(r) for r in x.values())
    dups = sum(len(r) - 1 for r in x.values())
    missing = sorted(set(a) - set(x))
    extra = sorted(set(x) - set(a))
    diff = sorted(aid for aid in set(a) & set(x) if set(x[aid]) != {a[aid][0]})
    print("%-22s %8d %9d %10d %8d %6d %10d" % (what, recs, len(x), dups, len(missing), len(extra), len(diff)))
    for aid in missing[:10]:
        bad.append("%s: missing %s" % (what, a[aid][0]))
    for aid in extra[:10]:
        bad.append("%s: extra %s" % (what, x[aid][0]))
    for aid in diff[:10]:
        bad.append("%s: %s differs:\n    (a) %s\n    %s" % (what, aid, a[aid][0], "\n    ".join(sorted(set(x[aid]) - {a[aid][0]}))))
for b in bad:
    print("FAIL: " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PYEOF
ok "(b) and (c) produced exactly the alerts of (a)"
