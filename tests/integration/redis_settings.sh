#!/usr/bin/env bash
# What a Redis server's own settings put at risk is said at start-up (real
# Redis servers started here with the settings in question):
#   - maxmemory with an evicting maxmemory-policy (allkeys-lru): Redis may
#     evict the state it alone holds: a warning naming the policy and the fix;
#   - hash-max-listpack-value 32 and hash-max-listpack-entries 64: the
#     account hashes would be stored as hash tables: a warning each;
#   - CONFIG renamed away (as some managed services do): said that the
#     settings are not checked, no warning, the run goes on;
#   - the test's own Redis (noeviction, the defaults): nothing said.
# Each run (`run -e`) still applies the input and exits 0.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

create_topics 1
t0=1772323200000   # 2026-03-01T00:00:00Z
for k in 0 1 2; do order "o-$k" "acct-$k" $((t0 + k * 60000)); done | make_events h
kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -k k "$WORK"/h/*.bin

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
redis_with() {   # NAME ARGS...: a redis-server with ARGS; sets PORT
  local name=$1
  shift
  PORT=$(free_port)
  redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$WORK" --logfile "$WORK/$name.redis.log" "$@" &
  pids+=($!)
  for _ in $(seq 100); do redis-cli -p "$PORT" PING 2>/dev/null | grep PONG >/dev/null && return; sleep 0.05; done
  fail "redis-server ($name) did not start: $(tail -3 "$WORK/$name.redis.log")"
}
run_on() {   # NAME URL: run -e against URL, its stderr in $WORK/NAME.log
  rw run -e -X redis.url="$2" -X state.namespace="${NS}_$1" -X group.id="group-$ID-$1" \
    >/dev/null 2>"$WORK/$1.log" || fail "run -e ($1) failed: $(grep -v 'kafka: ' "$WORK/$1.log" | tail -5)"
  grep -q 'run: 3 consumed, 3 applied' "$WORK/$1.log" ||
    fail "run -e ($1) did not apply the 3 records: $(grep -oE 'run: .*' "$WORK/$1.log")"
}

redis_with evicting --maxmemory 1gb --maxmemory-policy allkeys-lru \
  --hash-max-listpack-value 32 --hash-max-listpack-entries 64
run_on evicting "redis://127.0.0.1:$PORT/0"
grep -E 'warn .*redis: maxmemory-policy is allkeys-lru with maxmemory 1073741824 bytes: Redis may evict the state.*set maxmemory-policy noeviction' \
  "$WORK/evicting.log" || fail "no warning of the evicting maxmemory-policy: $(grep -v 'kafka: ' "$WORK/evicting.log" | head -8)"
grep -E 'warn .*redis: hash-max-listpack-value is 32 \(default 64\).*at least 64' "$WORK/evicting.log" ||
  fail "no warning of hash-max-listpack-value 32"
grep -E 'warn .*redis: hash-max-listpack-entries is 64 \(default 128\).*at least 128' "$WORK/evicting.log" ||
  fail "no warning of hash-max-listpack-entries 64"
ok "an evicting policy and small-hash limits below the accounts' are warned of, and the run goes on"

redis_with noconfig --rename-command CONFIG ""
run_on noconfig "redis://127.0.0.1:$PORT/0"
grep -E "info .*redis: CONFIG: ERR unknown command.*the server's settings are not checked" "$WORK/noconfig.log" ||
  fail "a server refusing CONFIG was not said: $(grep -v 'kafka: ' "$WORK/noconfig.log" | head -8)"
! grep -q 'warn .*redis: ' "$WORK/noconfig.log" || fail "warnings from a server whose settings were not read"
ok "a server refusing CONFIG: its settings are said not to be checked, and the run goes on"

run_on plain "$REDIS_URL"
! grep -qE "redis: (maxmemory-policy|hash-max-listpack)|settings are not checked" "$WORK/plain.log" ||
  fail "the default settings were warned of: $(grep 'redis: ' "$WORK/plain.log")"
ok "the default settings (noeviction, no maxmemory) draw nothing"
