#!/usr/bin/env bash
# Alert transitions to a real Prometheus Alertmanager (Debian's
# `prometheus-alertmanager`, on loopback), checked through its own
# `GET /api/v2/alerts`. The run starts while Alertmanager is down: POSTs fail
# and are counted and retried; once it is up it holds exactly the alerts whose
# last transition was FIRING, with the contract's labels (the RESOLVED ones
# were sent resolved: none of them is active); restarted empty, it has them
# all again within alertmanager.resend.interval. Nothing slows the pipeline.
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
import json, sys
out = []
for a in json.load(sys.stdin):
    l = a["labels"]
    assert set(l) == {"alertname", "category", "subject_type", "subject_id", "severity"}, l
    assert l["category"].lower() == l["alertname"].split(".")[0], l
    assert a["annotations"]["summary"] and a["annotations"]["description"].startswith("observed "), a
    if a["status"]["state"] == "active":
        out.append("%s %s/%s %s" % (l["alertname"], l["subject_type"], l["subject_id"], l["severity"]))
print("\n".join(sorted(out)))'
}

create_topics 2
rw gen --seed 11 --accounts 80 --days 120 2>"$WORK/gen.err" || { cat "$WORK/gen.err" >&2; fail "gen"; }
produced=$(grep -oE '^gen: [0-9]+ events' "$WORK/gen.err" | grep -oE '[0-9]+')

mport=$(free_port)
( exec "$RW_BIN" run -X kafka.bootstrap.servers="$KAFKA_BOOTSTRAP" -X redis.url="$REDIS_URL" \
    -X state.namespace="$NS" -X group.id="group-$ID" \
    -X topics.orders="$T_ORDERS" -X topics.support="$T_SUPPORT" \
    -X topics.alerts="$T_ALERTS" -X topics.dlq="$T_DLQ" \
    -X alertmanager.url="http://127.0.0.1:$amport" -X alertmanager.resend.interval=3s \
    -X metrics.listen="127.0.0.1:$mport" ) >"$WORK/run.out" 2>"$WORK/run.err" &
pid=$!
PIDS+=("$pid")
metric() { curl -s --max-time 5 "http://127.0.0.1:$mport/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# Everything consumed while Alertmanager is down.
covered=0
for _ in $(seq 900); do
  covered=$(rcli --scan --pattern "$NS:*:off:*" | xargs -r redis-cli -p "$REDIS_PORT" MGET |
            awk '{ s += $1 } END { print s + 0 }')
  ((covered >= produced)) && break
  kill -0 "$pid" 2>/dev/null || fail "run exited$(shown "$WORK/run.err")"
  sleep 0.1
done
((covered >= produced)) || fail "not consumed ($covered of $produced)$(shown "$WORK/run.err")"
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
ok "Alertmanager restarted: every firing alert back within the resend interval"

kill -INT "$pid"
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "run did not stop on SIGINT"
am_stop
exit 0
