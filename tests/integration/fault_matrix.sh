#!/usr/bin/env bash
# Outages never change results: the same history consumed by a running
# `riskwatch run` once cleanly and once across a stall of Redis
# (redis-server SIGSTOPped, then SIGCONTed) or of Kafka (every broker down,
# then up) of 1, 3 and 4 s, with idle.timeout at 2 s, mid-way through the
# catch-up, leaves the same state (the whole
# namespace: accounts, portfolio buckets, the decider's 90-day totals,
# lifecycles and outbox; see state_dump.lua) once everything is stored and
# every partition idle, and delivers the same alert ids. A stall longer than
# idle.timeout leaves every partition without a record for longer than
# idle.timeout while some are behind: the decider must not pass them, nor
# may idle partitions follow them.
#
# Redis is a private redis-server of this test (it is stopped). Kafka stalls
# run on librdkafka's mock cluster in a process of its own (mock_cluster.c):
# the shared test broker is never stopped; Redis stalls on the real broker.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${RW_MOCK_CLUSTER:?RW_MOCK_CLUSTER must point at the mock_cluster helper}"
cleanup() {
  pkill -KILL -f "group-$ID-" 2>/dev/null || true
  [[ -n ${PACER:-} ]] && kill "$PACER" 2>/dev/null
  [[ -n ${RPID:-} ]] && kill -CONT "$RPID" 2>/dev/null
  exec 7>&- 2>/dev/null || true
  [[ -n ${MPID:-} ]] && kill "$MPID" 2>/dev/null
  "$RW_SOURCE_DIR/scripts/redis-private.sh" stop "$WORK/redis" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# This test's own Redis: it is SIGSTOPped.
"$RW_SOURCE_DIR/scripts/redis-private.sh" start "$WORK/redis" 2>/dev/null
# shellcheck disable=SC1091
source "$WORK/redis/redis.env"
RPID=$(cat "$WORK/redis/redis.pid")
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

# The mock cluster: one broker, the same topics.
mkfifo "$WORK/mock.in"
"$RW_MOCK_CLUSTER" 1 "$T_ORDERS:3" "$T_SUPPORT:3" "$T_ALERTS:3" "$T_DLQ:3" \
  <"$WORK/mock.in" >"$WORK/mock.out" 2>"$WORK/mock.err" &
MPID=$!
exec 7>"$WORK/mock.in"
for _ in $(seq 100); do grep -q '^bootstrap ' "$WORK/mock.out" && break; sleep 0.05; done
MOCK=$(sed -n 's/^bootstrap //p' "$WORK/mock.out")
[[ -n $MOCK ]] || fail "the mock cluster did not start: $(cat "$WORK/mock.err")"
mock() {   # mock down|up: and wait for its answer
  local n
  n=$(grep -c '^ok ' "$WORK/mock.out" || true)
  echo "$1" >&7
  for _ in $(seq 100); do (($(grep -c '^ok ' "$WORK/mock.out" || true) > n)) && return 0; sleep 0.02; done
  fail "the mock cluster did not answer '$1'"
}

create_topics 3
IDLE_MS=2000
# Small batches and writes, produced and consumed, and a short prefetch (a
# fetch stalls with its broker), with Redis paced until the stall (pace
# below), keep the catch-up going with the partitions at different event
# times, so that a stall lands mid-way with some of them behind the others.
# shellcheck disable=SC2054
OPTS=(-X idle.timeout=${IDLE_MS}ms -X batch.size=20 -X batch.timeout=20ms
      -X write.max.records=20
      -X kafka.queued.min.messages=100 -X kafka.fetch.message.max.bytes=16384
      -X kafka.reconnect.backoff.ms=50 -X kafka.reconnect.backoff.max.ms=200)
# run_on BOOTSTRAP TAG ARGS...: riskwatch on namespace NS+TAG, group of its own.
run_on() {
  local bs=$1 tag=$2
  shift 2
  exec "$RW_BIN" run -X kafka.bootstrap.servers="$bs" -X redis.url="$REDIS_URL" \
    -X state.namespace="$NS$tag" -X group.id="group-$ID-$tag" \
    -X topics.orders="$T_ORDERS" -X topics.support="$T_SUPPORT" \
    -X topics.alerts="$T_ALERTS" -X topics.dlq="$T_DLQ" "${OPTS[@]}" "$@"
}
GEN=(--seed 41 --accounts 45 --days 100)
for bs in "$KAFKA_BOOTSTRAP" "$MOCK"; do
  "$RW_BIN" gen -X kafka.bootstrap.servers="$bs" -X topics.orders="$T_ORDERS" \
    -X topics.support="$T_SUPPORT" -X kafka.batch.num.messages=100 "${GEN[@]}" 2>"$WORK/gen.err" ||
    { cat "$WORK/gen.err"; fail "gen to $bs"; }
done
total=$(grep -oE '^gen: [0-9]+ events' "$WORK/gen.err" | grep -oE '[0-9]+')

offsum() {
  local keys=() p t
  for p in 0 1 2; do for t in "$T_ORDERS" "$T_SUPPORT"; do keys+=("$NS$1:{$p}:off:$t"); done; done
  rcli MGET "${keys[@]}" | awk '{ s += $1 } END { print s + 0 }'
}
dump() { dump_state "$NS$1" "$2"; }   # dump TAG FILE
ids() { grep -oE '"alert_id": *"[^"]+"' "$1" | sort -u; }

# all_idle TAG: every orders partition reported at its end for longer than
# idle.timeout ("<wm>,<wall>,<end since>"), and every partition's clock
# (its stored watermark) has followed the group's to the furthest of them.
all_idle() {
  local now p t v max=0
  now=$(date +%s%3N)
  for p in 0 1 2; do
    v=$(rcli HGET "$NS$1:{dep}:prog" "$p")
    [[ $v =~ ^(-?[0-9]+),[0-9]+,([0-9]+)$ ]] || return 1
    ((BASH_REMATCH[2] > 0 && now - BASH_REMATCH[2] > IDLE_MS + 500)) || return 1
    ((BASH_REMATCH[1] > max)) && max=${BASH_REMATCH[1]}
  done
  for p in 0 1 2; do for t in "$T_ORDERS" "$T_SUPPORT"; do
    v=$(rcli GET "$NS$1:{$p}:wm:$t")
    ((${v:-0} >= max)) || return 1
  done; done
}
# pace: Redis busy 8 ms at a time, one client's command in between, so
# that a catch-up of a thousand records takes long enough for the test to
# see it half done however fast riskwatch is (a script that loops on TIME:
# no DEBUG command needed). Stopped with unpace: redis-cli itself runs in
# the background (not the rcli function, whose subshell a kill would leave
# redis-cli behind, still pacing).
pace() {
  redis-cli -p "$REDIS_PORT" -r -1 EVAL "local t = redis.call('TIME') local n
    repeat n = redis.call('TIME') until (n[1] - t[1]) * 1000000 + (n[2] - t[2]) >= 8000
    return 0" 0 >/dev/null 2>&1 &
  PACER=$!
}
unpace() {
  kill "$PACER" 2>/dev/null; wait "$PACER" 2>/dev/null || true
  PACER=
}
# pass BOOTSTRAP TAG [KIND SECONDS]: a running `riskwatch run` over the
# history, with a stall of KIND mid-way (half of the input stored), until it
# has stored everything and settled (every orders partition reported idle,
# then the boundaries the whole input allows decided and the alerts
# delivered: two dumps half a second apart the same); then stopped.
pass() {
  local bs=$1 tag=$2 kind=${3:-} secs=${4:-} pid at= _
  [[ -n $kind ]] && pace
  run_on "$bs" "$tag" >"$WORK/$tag.alerts" 2>"$WORK/$tag.log" &
  pid=$!
  if [[ -n $kind ]]; then
    for _ in $(seq 600); do at=$(offsum "$tag"); ((at >= total / 2)) && break; sleep 0.02; done
    # The stall starts while Redis is still paced: unpaced, the rest of the
    # catch-up takes less than one offsum (it once stored all 1313 records
    # between the check and the stall). Redis stops right after the check;
    # Kafka goes down first and `at` is read again, so that it bounds what
    # was stored when the stall began.
    if [[ $kind == redis ]]; then
      kill -STOP "$RPID"
    else
      mock down
      at=$(offsum "$tag")
    fi
    # (cleanup, on exit, resumes Redis and stops the pacer)
    ((at >= total / 2 && at < total)) ||
      { kill -9 "$pid"; fail "$kind stall of $secs s: not mid-way ($at of $total stored)"; }
    if [[ $kind == redis ]]; then
      sleep "$secs"; kill -CONT "$RPID"; unpace
    else
      unpace; sleep "$secs"; mock up
    fi
  fi
  for _ in $(seq 600); do (($(offsum "$tag") >= total)) && break; sleep 0.05; done
  (($(offsum "$tag") == total)) ||
    { kill -9 "$pid"; fail "$tag: $(offsum "$tag") of $total stored: $(grep -v 'kafka: ' "$WORK/$tag.log" | tail -5)"; }
  for _ in $(seq 300); do all_idle "$tag" && break; sleep 0.1; done
  all_idle "$tag" || { kill -9 "$pid"; fail "$tag: the partitions did not all go idle and follow: $(rcli HGETALL "$NS$tag:{dep}:prog" | tr '\n' ' ')"; }
  for _ in $(seq 20); do
    dump "$tag" "$WORK/settle1"; sleep 0.5; dump "$tag" "$WORK/settle2"
    cmp -s "$WORK/settle1" "$WORK/settle2" && break
  done
  cmp -s "$WORK/settle1" "$WORK/settle2" || { kill -9 "$pid"; fail "$tag: the state did not settle"; }
  kill -TERM "$pid"
  wait "$pid" || fail "$tag: the run failed: $(grep -v 'kafka: ' "$WORK/$tag.log" | tail -5)"
  dump "$tag" "$WORK/dump.$tag"
  STALL_AT=$at
}

# clean BOOTSTRAP TAG: one pass without faults.
clean() {
  pass "$1" "$2"
  grep -q '^{dep}:fc:a:' "$WORK/dump.$2" || fail "the clean pass on $1 holds no fold copies of the portfolio's window"
  grep -q '"rule":"dependency\.' "$WORK/$2.alerts" || fail "the clean pass on $1 sent no dependency alert"
}

# stalled KIND SECONDS BOOTSTRAP CLEANTAG: a pass with one stall mid-way.
stalled() {
  local kind=$1 secs=$2 bs=$3 ref=$4 tag="$1$2"
  pass "$bs" "$tag" "$kind" "$secs"
  if ! cmp -s "$WORK/dump.$ref" "$WORK/dump.$tag"; then
    { diff "$WORK/dump.$ref" "$WORK/dump.$tag" | grep '{dep}' | head -6 | cut -c1-240 || true; } >&2
    fail "$kind stall of $secs s (idle.timeout $((IDLE_MS / 1000)) s) at $STALL_AT of $total records: the state differs from a clean pass ($(diff "$WORK/dump.$ref" "$WORK/dump.$tag" | grep -c '^>') key(s))"
  fi
  if ! cmp -s <(ids "$WORK/$ref.alerts") <(ids "$WORK/$tag.alerts"); then
    { diff <(ids "$WORK/$ref.alerts") <(ids "$WORK/$tag.alerts") | head -6 || true; } >&2
    fail "$kind stall of $secs s: the alert ids differ from a clean pass's"
  fi
  ok "$kind stall of $secs s at $STALL_AT of $total records: the same state ($(($(wc -l <"$WORK/dump.$tag") - 1)) keys) and the same $(ids "$WORK/$tag.alerts" | wc -l) alert ids as a clean pass"
}

clean "$KAFKA_BOOTSTRAP" clean
ok "clean pass on the broker: $total events, $(ids "$WORK/clean.alerts" | wc -l) alerts"
for s in 1 3 4; do stalled redis "$s" "$KAFKA_BOOTSTRAP" clean; done
clean "$MOCK" mclean
ok "clean pass on the mock cluster: $(ids "$WORK/mclean.alerts" | wc -l) alerts"
for s in 1 3 4; do stalled kafka "$s" "$MOCK" mclean; done
