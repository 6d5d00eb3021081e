#!/usr/bin/env bash
# Alert transitions to a real Prometheus Alertmanager (Debian's
# `prometheus-alertmanager`, on loopback), checked through its own
# `GET /api/v2/alerts`. The run starts while Alertmanager is down: POSTs fail
# and are counted and retried; once it is up it holds exactly the alerts whose
# last transition was FIRING, with the contract's labels (the RESOLVED ones
# were sent resolved: none of them is active); restarted empty, it has them
# all again within alertmanager.resend.interval. Nothing slows the pipeline.
# Each alert's generatorURL follows alertmanager.generator.url. The firing set
# is read from Redis: a run killed with -9 and started again keeps pushing
# every alert's endsAt ahead (with nothing new to decide), and with two
# processes in the group each re-sends the alerts of the partitions it owns,
# none twice (riskwatch_alertmanager_firing_alerts of both add up).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PIDS=()
AM_PID=""
trap 'for p in "${PIDS[@]}" $AM_PID; do kill -KILL "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
shown() { printf '\n--- %s ---\n%s\n' "$1" "$(tail -c 3000 "$1")"; }
AM_BIN=$(command -v prometheus-alertmanager || command -v alertmanager || true)
[[ -n $AM_BIN ]] || fail "prometheus-alertmanager not installed (scripts/setup.sh --test)"
free_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# ---- bad configuration fails at start ------------------------------------------------
rc=0
rw run -X alertmanager.url=ftp://x >/dev/null 2>"$WORK/bad.err" || rc=$?
[[ $rc -eq 2 ]] || fail "alertmanager.url=ftp://x: exit $rc, expected 2$(shown "$WORK/bad.err")"
grep -qF -- '-X alertmanager.url: expected http(s)://HOST[:PORT], got "ftp://x"' "$WORK/bad.err" ||
  fail "bad alertmanager.url not named$(shown "$WORK/bad.err")"
ok "bad alertmanager.url: $(grep -oE 'alertmanager.url: .*' "$WORK/bad.err")"
rc=0
rw run -X alertmanager.url=http://127.0.0.1:1 -X 'alertmanager.generator.url=http://x/{account}' \
  >/dev/null 2>"$WORK/bad.err" || rc=$?
[[ $rc -eq 2 ]] || fail "alertmanager.generator.url={account}: exit $rc, expected 2$(shown "$WORK/bad.err")"
grep -qF -- '-X alertmanager.generator.url: unknown placeholder {account}' "$WORK/bad.err" ||
  fail "bad alertmanager.generator.url not named$(shown "$WORK/bad.err")"
ok "bad alertmanager.generator.url: $(grep -oE 'alertmanager.generator.url: .*' "$WORK/bad.err")"

amport=$(free_port)
cat >"$WORK/am.yml" <<YML
route:
  receiver: discard
receivers:
  - name: discard
YML
am_start() {
  "$AM_BIN" --config.file="$WORK/am.yml" --storage.path="$WORK/am" \
    --web.listen-address="127.0.0.1:$amport" --cluster.listen-address= \
    >>"$WORK/am.log" 2>&1 &
  AM_PID=$!
  for _ in $(seq 100); do
    curl -s --max-time 2 -o /dev/null "http://127.0.0.1:$amport/-/ready" && return 0
    sleep 0.1
  done
  fail "alertmanager did not start$(shown "$WORK/am.log")"
}
am_stop() { kill -TERM "$AM_PID"; wait "$AM_PID" 2>/dev/null || true; AM_PID=""; }
# The active alerts Alertmanager holds: "rule subject_type/subject_id severity"
# sorted, one a line; the contract's labels checked on each.
am_alerts() {
  curl -s --max-time 5 "http://127.0.0.1:$amport/api/v2/alerts?active=true" | $PY -c '
import json, sys, urllib.parse
out = []
for a in json.load(sys.stdin):
    l = a["labels"]
    assert set(l) == {"alertname", "category", "subject_type", "subject_id", "severity"}, l
    assert l["category"].lower() == l["alertname"].split(".")[0], l
    assert a["annotations"]["summary"] and a["annotations"]["description"].startswith("observed "), a
    q = lambda v: urllib.parse.quote(v, safe="")
    want = "http://riskwatch.example/a/%s?s=%s:%s" % (q(l["alertname"]), q(l["subject_type"]),
                                                      q(l["subject_id"]))
    assert a["generatorURL"] == want, (a["generatorURL"], want)
    if a["status"]["state"] == "active":
        out.append("%s %s/%s %s" % (l["alertname"], l["subject_type"], l["subject_id"], l["severity"]))
print("\n".join(sorted(out)))'
}

create_topics 2
rw gen --seed 11 --accounts 80 --days 120 2>"$WORK/gen.err" || { cat "$WORK/gen.err" >&2; fail "gen"; }
produced=$(grep -oE '^gen: [0-9]+ events' "$WORK/gen.err" | grep -oE '[0-9]+')

# run_rw NAME PORT: a run (stdout NAME.out, stderr NAME.err, metrics on PORT)
# in the background; its pid in RUN_PID.
run_rw() {
  ( exec "$RW_BIN" run -X kafka.bootstrap.servers="$KAFKA_BOOTSTRAP" -X redis.url="$REDIS_URL" \
      -X state.namespace="$NS" -X group.id="group-$ID" \
      -X topics.orders="$T_ORDERS" -X topics.support="$T_SUPPORT" \
      -X topics.alerts="$T_ALERTS" -X topics.dlq="$T_DLQ" \
      -X alertmanager.url="http://127.0.0.1:$amport" -X alertmanager.resend.interval=3s \
      -X 'alertmanager.generator.url=http://riskwatch.example/a/{rule}?s={subject_type}:{subject_id}' \
      -X kafka.session.timeout.ms=6000 -X kafka.heartbeat.interval.ms=500 \
      -X metrics.listen="127.0.0.1:$2" ) >>"$WORK/$1.out" 2>>"$WORK/$1.err" &
  RUN_PID=$!
  PIDS+=("$RUN_PID")
}
mport=$(free_port)
run_rw run "$mport"
pid=$RUN_PID
# Empty while the process does not serve /metrics yet (it may be starting):
# the callers' loops wait, set -e must not end the test silently.
metric_at() { { curl -s --max-time 5 "http://127.0.0.1:$1/metrics" || true; } |
                awk -v m="$2" '$1 == m { print $2 }'; }
metric() { metric_at "$mport" "$1"; }

# Everything consumed while Alertmanager is down.
wait_stored "$produced" "$pid" 900 || {
  kill -0 "$pid" 2>/dev/null || fail "run exited$(shown "$WORK/run.err")"
  fail "not consumed ($covered of $produced)$(shown "$WORK/run.err")"
}
sleep 2   # the last outboxes delivered
# The expected set: each (rule, subject)'s last transition, if FIRING.
expected() {
  $PY -c '
import json, sys
last = {}
for line in open(sys.argv[1]):
    a = json.loads(line)
    last[(a["rule"], a["subject"])] = a
print("\n".join(sorted("%s %s %s" % (r, s, a["severity"]) for (r, s), a in last.items()
                       if a["status"] == "FIRING")))' "$WORK/run.out"
}
resolved=$(grep -c '"status":"RESOLVED"' "$WORK/run.out" || true)
firing=$(expected | grep -c . || true)
((resolved > 0 && firing > 0)) ||
  fail "the history gave $firing firing and $resolved resolved transitions: need both"
(( $(metric riskwatch_alertmanager_errors_total) > 0 )) ||
  fail "no failed POST counted while Alertmanager was down$(shown "$WORK/run.err")"
grep -qE "alertmanager http://127.0.0.1:$amport: .*retrying with backoff" "$WORK/run.err" ||
  fail "the failed POST was not logged$(shown "$WORK/run.err")"
ok "Alertmanager down: $(metric riskwatch_alertmanager_errors_total) failed POST(s) counted, run consumed $covered records"

# Up: within the backoff (at most the resend interval) it has the expected set.
am_start
got=""
for _ in $(seq 100); do
  got=$(am_alerts)
  [[ $got == "$(expected)" ]] && break
  sleep 0.1
done
[[ $got == "$(expected)" ]] ||
  fail "Alertmanager holds$(printf '\n%s' "$got" | head -20)
expected$(printf '\n%s' "$(expected)" | head -20)$(shown "$WORK/run.err")"
ok "Alertmanager up: holds the $firing alerts whose last transition is FIRING, none of the $resolved resolved"
(( $(metric riskwatch_alertmanager_alerts_sent_total) >= firing )) || fail "alerts sent not counted"
[[ $(metric riskwatch_alertmanager_dropped_total) == 0 ]] || fail "alerts dropped"

# Restarted (empty: alerts are not persisted): the resend brings them back.
am_stop
am_start
[[ -z $(am_alerts) ]] || fail "a restarted Alertmanager already holds alerts: the check proves nothing"
for _ in $(seq 100); do
  got=$(am_alerts)
  [[ $got == "$(expected)" ]] && break
  sleep 0.1
done
[[ $got == "$(expected)" ]] || fail "after a restart Alertmanager holds$(printf '\n%s' "$got" | head)"
ok "Alertmanager restarted: every firing alert back within the resend interval, generatorURL as templated"

# endsAt of each alert Alertmanager holds: "rule subject_type/subject_id EPOCH_MS", sorted.
am_ends() {
  curl -s --max-time 5 "http://127.0.0.1:$amport/api/v2/alerts" | $PY -c '
import datetime, json, sys
for a in sorted(json.load(sys.stdin), key=lambda a: sorted(a["labels"].items())):
    l = a["labels"]
    t = datetime.datetime.fromisoformat(a["endsAt"].replace("Z", "+00:00"))
    print("%s %s/%s %d" % (l["alertname"], l["subject_type"], l["subject_id"], t.timestamp() * 1000))'
}
# 0 when every alert of $1 (am_ends) ends later in $2, by more than a resend.
pushed() {
  $PY -c '
import sys
before = dict(l.rsplit(" ", 1) for l in open(sys.argv[1]).read().split("\n") if l)
after = dict(l.rsplit(" ", 1) for l in open(sys.argv[2]).read().split("\n") if l)
sys.exit(0 if before and all(int(after.get(k, 0)) > int(v) + 3000 for k, v in before.items()) else 1)' "$1" "$2"
}

# ---- kill -9 and start again: the restarted run re-sends what fires -----------------
am_ends >"$WORK/ends.before"
[[ $(grep -c . "$WORK/ends.before") -eq $firing ]] ||
  fail "Alertmanager holds $(grep -c . "$WORK/ends.before") alerts, expected $firing"
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
run_rw run2 "$mport"
pid=$RUN_PID
for _ in $(seq 300); do
  am_ends >"$WORK/ends.after"
  pushed "$WORK/ends.before" "$WORK/ends.after" && break
  kill -0 "$pid" 2>/dev/null || fail "restarted run exited$(shown "$WORK/run2.err")"
  sleep 0.1
done
pushed "$WORK/ends.before" "$WORK/ends.after" ||
  fail "after kill -9 and a restart, endsAt not pushed ahead:$(diff "$WORK/ends.before" "$WORK/ends.after" | head)$(shown "$WORK/run2.err")"
[[ $(grep -c '"status":"FIRING"' "$WORK/run2.out" || true) -eq 0 ]] ||
  fail "the restarted run decided FIRING transitions again: the check proves nothing"
[[ $(am_alerts) == "$(expected)" ]] || fail "after the restart Alertmanager holds$(printf '\n%s' "$(am_alerts)" | head)"
ok "killed with -9 and started again: the $firing firing alerts re-sent from Redis, endsAt pushed ahead"

# ---- two processes: each alert re-sent by its partition's owner ----------------------
mport2=$(free_port)
run_rw run3 "$mport2"
pid2=$RUN_PID
for _ in $(seq 300); do
  a1=$(metric_at "$mport" riskwatch_assigned_partitions); a2=$(metric_at "$mport2" riskwatch_assigned_partitions)
  f1=$(metric_at "$mport" riskwatch_alertmanager_firing_alerts); f2=$(metric_at "$mport2" riskwatch_alertmanager_firing_alerts)
  [[ ${a1:-0} -gt 0 && ${a2:-0} -gt 0 && $(( ${a1:-0} + ${a2:-0} )) -eq 4 &&
     $(( ${f1:-0} + ${f2:-0} )) -eq $firing && ${f1:-0} -gt 0 && ${f2:-0} -gt 0 ]] && break
  kill -0 "$pid2" 2>/dev/null || fail "second run exited$(shown "$WORK/run3.err")"
  sleep 0.1
done
(( ${a1:-0} + ${a2:-0} == 4 && ${a1:-0} > 0 && ${a2:-0} > 0 )) ||
  fail "partitions not shared: $a1 and $a2 assigned$(shown "$WORK/run3.err")"
(( ${f1:-0} + ${f2:-0} == firing && ${f1:-0} > 0 && ${f2:-0} > 0 )) ||
  fail "firing alerts re-sent: $f1 by one, $f2 by the other, expected $firing in all, each some$(shown "$WORK/run3.err")"
# And they are the right ones: Alertmanager keeps every one of them.
sleep 4
[[ $(am_alerts) == "$(expected)" ]] || fail "with two processes Alertmanager holds$(printf '\n%s' "$(am_alerts)" | head)"
ok "two processes: $a1 and $a2 partitions, re-sending $f1 and $f2 of the $firing firing alerts"

for p in "$pid" "$pid2"; do
  kill -INT "$p"
  for _ in $(seq 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$p" 2>/dev/null && fail "run did not stop on SIGINT"
done
am_stop
exit 0
