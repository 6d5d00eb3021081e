#!/usr/bin/env bash
# `riskwatch run` with metrics.listen on the real broker and Redis, scraped
# by a real Prometheus (Debian's `prometheus`, on loopback): the target is up
# (Prometheus parsed the exposition), the records counted by topic and
# outcome add up to the records produced, there is a consumer-lag series per
# partition, and /healthz and /readyz answer (readyz 503 while Redis does not
# answer, 200 again once it does), Redis round trips are timed, the outbox
# depth is read from Redis at each scrape (an element left in an outbox shows,
# and goes when it goes), dependency boundaries pending are exported, the
# process and memory families agree with /proc and Redis. A bad
# metrics.listen fails at start, and so does kafka.statistics.interval.ms.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
shown() { printf '\n--- %s ---\n%s\n' "$1" "$(tail -c 3000 "$1")"; }
command -v prometheus >/dev/null || fail "prometheus not installed (scripts/setup.sh --test)"
free_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# code URL: the HTTP status of a GET.
code() { curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$1" || true; }
listening() { $PY -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$1" 2>/dev/null; }

# ---- bad addresses fail at start, naming the property -----------------------------
rc=0
rw run -X metrics.listen=localhost >/dev/null 2>"$WORK/bad.err" || rc=$?
[[ $rc -eq 2 ]] || fail "metrics.listen=localhost: exit $rc, expected 2$(shown "$WORK/bad.err")"
grep -qF -- '-X metrics.listen: expected HOST:PORT, got "localhost"' "$WORK/bad.err" ||
  fail "bad metrics.listen not named$(shown "$WORK/bad.err")"
busy=$(free_port)
$PY -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(30)' "$busy" &
PIDS+=("$!")
for _ in $(seq 50); do listening "$busy" && break; sleep 0.1; done
rc=0
rw run -X metrics.listen="127.0.0.1:$busy" >/dev/null 2>"$WORK/busy.err" || rc=$?
[[ $rc -eq 1 ]] || fail "metrics.listen on a port in use: exit $rc, expected 1$(shown "$WORK/busy.err")"
grep -qF -- "-X metrics.listen: cannot listen on 127.0.0.1:$busy: Address already in use" \
  "$WORK/busy.err" || fail "port in use not reported$(shown "$WORK/busy.err")"
ok "bad metrics.listen: $(grep -oE 'metrics.listen: .*' "$WORK/bad.err"); in use: exit 1"
rc=0
rw run -X kafka.statistics.interval.ms=5000 >/dev/null 2>"$WORK/stats.err" || rc=$?
[[ $rc -eq 2 ]] || fail "kafka.statistics.interval.ms=5000: exit $rc, expected 2$(shown "$WORK/stats.err")"
grep -qF -- '-X kafka.statistics.interval.ms: not supported' "$WORK/stats.err" ||
  fail "kafka.statistics.interval.ms not refused by name$(shown "$WORK/stats.err")"
ok "kafka.statistics.interval.ms=5000: exit 2: $(grep -oE 'not supported.*' "$WORK/stats.err" | head -c 80)..."

# ---- a run, scraped -----------------------------------------------------------------
create_topics 2
rw gen --seed 9 --accounts 20 --days 40 2>"$WORK/gen.err" || { cat "$WORK/gen.err" >&2; fail "gen"; }
produced=$(grep -oE '^gen: [0-9]+ events' "$WORK/gen.err" | grep -oE '[0-9]+')

port=$(free_port)
started=$(date +%s)
( exec "$RW_BIN" run -X kafka.bootstrap.servers="$KAFKA_BOOTSTRAP" -X redis.url="$REDIS_URL" \
    -X state.namespace="$NS" -X group.id="group-$ID" \
    -X topics.orders="$T_ORDERS" -X topics.support="$T_SUPPORT" \
    -X topics.alerts="$T_ALERTS" -X topics.dlq="$T_DLQ" \
    -X metrics.listen="127.0.0.1:$port" -X redis.timeout=300ms ) \
  >"$WORK/run.out" 2>"$WORK/run.err" &
pid=$!
PIDS+=("$pid")
M="http://127.0.0.1:$port"
for _ in $(seq 100); do [[ $(code "$M/healthz") == 200 ]] && break; sleep 0.1; done
[[ $(code "$M/healthz") == 200 ]] || fail "/healthz not 200$(shown "$WORK/run.err")"
for _ in $(seq 300); do [[ $(code "$M/readyz") == 200 ]] && break; sleep 0.1; done
[[ $(code "$M/readyz") == 200 ]] || fail "/readyz not 200 once assigned$(shown "$WORK/run.err")"
ok "/healthz: $(curl -s --max-time 5 "$M/healthz")  /readyz: $(curl -s --max-time 5 "$M/readyz")"

# Prometheus scraping it every second.
pport=$(free_port)
cat >"$WORK/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: riskwatch
    static_configs:
      - targets: ['127.0.0.1:$port']
YML
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$pport" >"$WORK/prom.log" 2>&1 &
PIDS+=("$!")
P="http://127.0.0.1:$pport"
# query PROMQL: the value of a one-sample result ("" when empty).
query() {
  curl -s --max-time 10 --get "$P/api/v1/query" --data-urlencode "query=$1" | $PY -c '
import json, sys
r = json.load(sys.stdin)
assert r["status"] == "success", r
res = r["data"]["result"]
print(res[0]["value"][1] if len(res) == 1 else "")' 2>/dev/null || true
}
sel="topic=~\"$T_ORDERS|$T_SUPPORT\""
got=""
for _ in $(seq 600); do
  got=$(query "sum(riskwatch_records_consumed_total{$sel})")
  [[ $got == "$produced" ]] && break
  sleep 0.2
done
[[ $got == "$produced" ]] ||
  fail "Prometheus reads $got records consumed, $produced were produced$(shown "$WORK/prom.log")$(shown "$WORK/run.err")"
[[ $(query 'up{job="riskwatch"}') == 1 ]] || fail "the scrape target is not up"
ok "Prometheus: sum(riskwatch_records_consumed_total) = $got = records produced; target up"
applied=$(query "sum(riskwatch_records_consumed_total{$sel,outcome=~\"applied|late\"})")
((applied > 0)) || fail "no record counted as applied"
[[ $(query "count(riskwatch_consumer_lag_records{$sel})") == 4 ]] ||
  fail "not one consumer-lag series per partition: $(curl -s --max-time 5 "$M/metrics" | grep consumer_lag)"
for _ in $(seq 100); do
  [[ $(query "sum(riskwatch_consumer_lag_records{$sel})") == 0 ]] && break
  sleep 0.2
done
[[ $(query "sum(riskwatch_consumer_lag_records{$sel})") == 0 ]] || fail "consumer lag not 0 at the end"
[[ $(query "count(riskwatch_event_time_lag_seconds{$sel})") == 4 ]] ||
  fail "not one event-time-lag series per partition"
# Every alert printed is counted (the scrape is a second behind at most).
for _ in $(seq 100); do
  alerts=$(wc -l <"$WORK/run.out")
  [[ $(query 'sum(riskwatch_alert_transitions_total)') == "$alerts" &&
     $(query 'riskwatch_alert_latency_seconds_count') == "$alerts" ]] && break
  sleep 0.2
done
((alerts > 0)) || fail "no alerts printed"
[[ $(query 'sum(riskwatch_alert_transitions_total)') == "$alerts" ]] ||
  fail "alert transitions $(query 'sum(riskwatch_alert_transitions_total)'), $alerts printed"
[[ $(query 'riskwatch_alert_latency_seconds_count') == "$alerts" ]] ||
  fail "alert latency histogram counts $(query 'riskwatch_alert_latency_seconds_count'), $alerts printed"
[[ $(query 'riskwatch_build_info') == 1 ]] || fail "no riskwatch_build_info"
(( $(query 'riskwatch_batch_duration_seconds_count') > 0 )) || fail "no batch durations"
(( $(query 'riskwatch_redis_round_trips_total') > 0 )) || fail "no Redis round trips"
ok "lag series per partition (4, summing to 0), $alerts alert transitions, batches and round trips counted"

# Every Redis round trip timed: a histogram Prometheus reads, its +Inf bucket
# the count.
rt=$(query 'riskwatch_redis_round_trip_duration_seconds_count')
(( ${rt:-0} > 0 )) || fail "no Redis round trip timed$(curl -s --max-time 5 "$M/metrics" | grep redis_round)"
# One expression, so both sides come from the same scrape (riskwatch keeps
# making round trips between two queries).
d=$(query 'riskwatch_redis_round_trip_duration_seconds_count - ignoring(le) riskwatch_redis_round_trip_duration_seconds_bucket{le="+Inf"}')
[[ $d == 0 ]] ||
  fail "round-trip histogram: count minus the +Inf bucket is '$d', expected 0"
p99=$(query 'histogram_quantile(0.99, riskwatch_redis_round_trip_duration_seconds_bucket)')
ok "Redis round trips timed: $rt, p99 ${p99}s"
# Boundaries pending: exported once the decider passed, 0 once caught up.
for _ in $(seq 100); do [[ $(query 'riskwatch_dependency_boundaries_pending') == 0 ]] && break; sleep 0.2; done
[[ $(query 'riskwatch_dependency_boundaries_pending') == 0 ]] ||
  fail "riskwatch_dependency_boundaries_pending: '$(query 'riskwatch_dependency_boundaries_pending')', expected 0 at the end"
# Outbox depth: read from Redis at each scrape. An element left in a
# partition's outbox (the loop drains at its next batch; nothing arrives now)
# shows, and is gone once removed.
[[ $(query 'riskwatch_outbox_alerts') == 0 ]] || fail "outbox not empty at the end: $(query 'riskwatch_outbox_alerts')"
metric() { curl -s --max-time 5 "$M/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
rcli RPUSH "$NS:{1}:outbox:$T_SUPPORT" x x >/dev/null
[[ $(metric riskwatch_outbox_alerts) == 2 ]] || fail "2 elements in an outbox, riskwatch_outbox_alerts $(metric riskwatch_outbox_alerts)"
rcli DEL "$NS:{1}:outbox:$T_SUPPORT" >/dev/null
[[ $(metric riskwatch_outbox_alerts) == 0 ]] || fail "outbox emptied, riskwatch_outbox_alerts $(metric riskwatch_outbox_alerts)"
ok "outbox depth from Redis at scrape (2 while 2 waited, then 0); dependency boundaries pending 0"

# Memory: Prometheus' process families agree with /proc; the account cache
# holds what it missed (accounts and vendors; none evicted); the due
# indexes hold what Redis' due sets hold (the loop is idle: nothing unsent).
rss=$(metric process_resident_memory_bytes)
vmrss=$(awk '/^VmRSS/ { print $2 * 1024 }' "/proc/$pid/status")
$PY -c 'import sys; a, b = map(float, sys.argv[1:]); sys.exit(not (abs(a - b) <= 0.25 * b))' \
  "${rss:-0}" "$vmrss" || fail "process_resident_memory_bytes '$rss', VmRSS $vmrss"
start=$(metric process_start_time_seconds)
$PY -c 'import sys; a, b = map(float, sys.argv[1:]); sys.exit(not (abs(a - b) <= 5))' \
  "${start:-0}" "$started" || fail "process_start_time_seconds '$start', started at $started"
cpu=$(query process_cpu_seconds_total)
$PY -c 'import sys; sys.exit(not float(sys.argv[1]) > 0)' "${cpu:-0}" ||
  fail "process_cpu_seconds_total: '$cpu'"
fds=$(metric process_open_fds) maxfds=$(metric process_max_fds)
((fds > 3 && fds <= maxfds && maxfds == $(ulimit -n))) ||
  fail "process_open_fds '$fds', process_max_fds '$maxfds' (ulimit -n $(ulimit -n))"
inuse=$(curl -s --max-time 5 "$M/metrics" | awk '$1 == "riskwatch_heap_bytes{state=\"in_use\"}" { print $2 }')
if sanitized; then
  # The sanitizers' allocator gives mallinfo2() no figures: no series.
  [[ -z $inuse ]] || fail "riskwatch_heap_bytes exported under ASan: '$inuse'"
  inuse="(none under ASan)"
else
  ((${inuse:-0} > 1000000)) || fail "riskwatch_heap_bytes{state=\"in_use\"}: '$inuse'"
fi
[[ $(metric riskwatch_account_cache_limit_bytes) == 33554432 ]] ||
  fail "riskwatch_account_cache_limit_bytes '$(metric riskwatch_account_cache_limit_bytes)'"
cached=$(query 'sum(riskwatch_account_cache_entries)')
missed=$(query 'riskwatch_account_cache_lookups_total{result="miss"}')
((cached >= 20 && cached <= missed)) ||
  fail "account cache: $cached entries, $missed misses (20 accounts and their vendors, each missed at least once)"
(( $(query 'riskwatch_account_cache_lookups_total{result="hit"}') > 0 )) || fail "no cache hits"
[[ $(query 'riskwatch_account_cache_evictions_total') == 0 ]] || fail "evictions in a small run"
cbytes=$(metric riskwatch_account_cache_bytes)
((cbytes > 0 && cbytes <= 33554432)) || fail "riskwatch_account_cache_bytes '$cbytes'"
due=0
for k in $(rcli --scan --pattern "$NS:*:due:*"); do due=$((due + $(rcli ZCARD "$k"))); done
((due > 0)) || fail "no due times stored"
[[ $(metric riskwatch_due_index_entries) == "$due" ]] ||
  fail "riskwatch_due_index_entries '$(metric riskwatch_due_index_entries)', Redis' due sets hold $due"
ok "memory: RSS $rss (VmRSS $vmrss), heap in use $inuse, $fds of $maxfds fds; cache $cached accounts ($cbytes bytes), due index $due = Redis"

# ---- readiness follows Redis ---------------------------------------------------------
rcli CLIENT PAUSE 8000 ALL >/dev/null
for _ in $(seq 100); do [[ $(code "$M/readyz") == 503 ]] && break; sleep 0.1; done
[[ $(code "$M/readyz") == 503 ]] || fail "/readyz stays $(code "$M/readyz") while Redis does not answer"
ok "Redis paused: /readyz $(code "$M/readyz"): $(curl -s --max-time 5 "$M/readyz")"
[[ $(code "$M/healthz") == 200 ]] || fail "/healthz not 200 while Redis is away (the loop is alive)"
for _ in $(seq 200); do [[ $(code "$M/readyz") == 200 ]] && break; sleep 0.1; done
[[ $(code "$M/readyz") == 200 ]] || fail "/readyz not 200 once Redis answers again$(shown "$WORK/run.err")"
(( $(curl -s --max-time 5 "$M/metrics" | awk '$1 == "riskwatch_redis_errors_total" { print $2 }') > 0 )) ||
  fail "no Redis error counted"
ok "Redis back: /readyz 200"

kill -INT "$pid"
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "run did not stop on SIGINT"
exit 0
