#!/usr/bin/env bash
# `riskwatch run`'s status line on the real broker and Redis: before any
# partition is assigned, a line says what the loop waits for; then a status
# line every log.status.interval gives records/s, the consumer lag, the
# event-time watermark (RFC 3339) and how far it is behind the wall clock,
# the alerts since start and Redis' health, which turns to "failing" while
# Redis is away.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
shown() { printf '\n--- stderr ---\n%s\n' "$(tail -c 3000 "$1")"; }

create_topics 2
rw gen --seed 5 --accounts 20 --days 40 2>"$WORK/gen.err" || { cat "$WORK/gen.err" >&2; fail "gen"; }
produced=$(grep -oE '^gen: [0-9]+ events' "$WORK/gen.err" | grep -oE '[0-9]+')

( exec "$RW_BIN" run -X kafka.bootstrap.servers="$KAFKA_BOOTSTRAP" -X redis.url="$REDIS_URL" \
    -X state.namespace="$NS" -X group.id="group-$ID" \
    -X topics.orders="$T_ORDERS" -X topics.support="$T_SUPPORT" \
    -X topics.alerts="$T_ALERTS" -X topics.dlq="$T_DLQ" -X log.status.interval=1s -X redis.timeout=300ms ) \
  >"$WORK/run.out" 2>"$WORK/run.err" &
pid=$!
PIDS+=("$pid")

# Every record consumed and acknowledged (lag 0), a quiet second (0
# records/s), and every alert printed: then a full status line.
line=""
settled() {
  line=$(grep -E 'status: [0-9,]+ records/s' "$WORK/run.err" | tail -n 1 || true)
  [[ $line =~ status:\ 0\ records/s,\ .*,\ lag\ 0\ records,.*\ ([0-9]+)\ alerts?\ since ]] &&
    [[ ${BASH_REMATCH[1]} == "$(wc -l <"$WORK/run.out")" ]]
}
for _ in $(seq 600); do
  settled && break
  kill -0 "$pid" 2>/dev/null || fail "run exited$(shown "$WORK/run.err")"
  sleep 0.1
done
settled || fail "no quiet status line with lag 0 and the alerts printed ($(wc -l <"$WORK/run.out"))$(shown "$WORK/run.err")"

grep -qE "waiting for partitions of $T_ORDERS and $T_SUPPORT to be assigned \(group group-$ID; .*kafka.session.timeout.ms 45s\)" \
  "$WORK/run.err" || fail "no line saying it waits for partitions$(shown "$WORK/run.err")"
grep -qE "4 partitions assigned after waiting [0-9]+(ms|s)" "$WORK/run.err" ||
  fail "no line saying how long it waited for partitions$(shown "$WORK/run.err")"
# The wait it reports is the one its own log shows, from the line saying it
# waits to the last partition assigned, not rounded up to a periodic report.
ms_of() { date -u -d "$1" +%s%3N; }
t_wait=$(ms_of "$(grep -m1 'waiting for partitions of' "$WORK/run.err" | cut -d' ' -f1)")
t_asg=$(ms_of "$(grep -E 'info  assigned .* at offset' "$WORK/run.err" | head -n 4 | tail -n 1 | cut -d' ' -f1)")
said=$(grep -m1 -oE 'assigned after waiting [0-9]+(ms|s)$' "$WORK/run.err" | grep -oE '[0-9]+(ms|s)$')
case $said in *ms) said_ms=${said%ms} ;; *) said_ms=$((${said%s} * 1000)) ;; esac
((said_ms <= t_asg - t_wait + 250)) ||
  fail "it says it waited $said for partitions; its log shows $((t_asg - t_wait)) ms$(shown "$WORK/run.err")"
ok "says what it waits for: $(grep -m1 -o 'waiting for partitions.*' "$WORK/run.err" | cut -c1-80)..."

re='status: [0-9,]+ records/s, 4 partitions, lag 0 records, watermark (20[0-9-]{8}T[0-9:]{8}(\.[0-9]{3})?Z) \(([0-9]+d( [0-9]+h)?)\ behind\), ([0-9]+) alerts? since start, redis ok$'
[[ $line =~ $re ]] || fail "status line not as expected: $line"
wm=${BASH_REMATCH[1]} behind=${BASH_REMATCH[3]} alerts=${BASH_REMATCH[5]}
# The watermark is the lowest partition's highest event time minus
# allowed.lateness, as stored in Redis.
lowest=$(for k in $(rcli --scan --pattern "$NS:*:wm:*"); do rcli GET "$k"; done | sort -n | sed -n 1p)
ms=$((lowest - 300000))
want=$(date -u -d "@$((ms / 1000)).$(printf %03d $((ms % 1000)))" +%Y-%m-%dT%H:%M:%S.%3NZ)
want=${want/.000Z/Z}
[[ $wm == "$want" ]] || fail "status watermark $wm, Redis' lowest minus 5m is $want"
days=$(( ($(date +%s) - $(date -u -d "$wm" +%s)) / 86400 ))
[[ $behind == "${days}d"* ]] || fail "watermark $wm is ${days}d behind, the line says $behind"
((alerts > 0)) || fail "no alerts counted"
ok "status line: ${line#*status: }"

# Some line saw records go by (one line a second: records/s is per line).
grep -qE 'status: [1-9][0-9,]* records/s' "$WORK/run.err" ||
  fail "no status line reported records/s above 0$(shown "$WORK/run.err")"

# Redis away: the line says so, with the error.
# (Redis holds every client for 4 s; riskwatch's commands time out.)
rcli CLIENT PAUSE 4000 ALL >/dev/null
rw gen --seed 6 --accounts 5 --days 3 2>/dev/null || fail "gen"
for _ in $(seq 100); do
  grep -qE 'status: .*redis failing since 20[0-9-]{8}T[0-9:.]{8,12}Z: ' "$WORK/run.err" && break
  sleep 0.1
done
grep -qE 'status: .*redis failing since 20[0-9-]{8}T[0-9:.]{8,12}Z: ' "$WORK/run.err" ||
  fail "no status line saying Redis is failing$(shown "$WORK/run.err")"
ok "redis away: $(grep -m1 -oE 'redis failing since .*' "$WORK/run.err")"
for _ in $(seq 150); do
  tail -n 1 "$WORK/run.err" | grep -E 'status: .*redis ok \(last error ' >/dev/null && break
  sleep 0.1
done
grep -qE 'status: .*redis ok \(last error 20' "$WORK/run.err" ||
  fail "no status line saying Redis is back$(shown "$WORK/run.err")"
ok "redis back: $(grep -oE 'redis ok \(last error .*' "$WORK/run.err" | tail -n 1 | cut -c1-80)"

kill -INT "$pid"
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "run did not stop on SIGINT"
ok "$produced events produced and consumed"
exit 0
