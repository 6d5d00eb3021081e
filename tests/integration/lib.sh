# lib.sh - shared by the integration test scripts: the services' addresses,
# unique names per test, riskwatch invocation and assertions.
set -euo pipefail

: "${RW_BIN:?RW_BIN must point at the riskwatch binary}"
: "${RW_SERVICES:?RW_SERVICES must name the services directory}"
: "${RW_SOURCE_DIR:?RW_SOURCE_DIR must name the source tree}"

# shellcheck disable=SC1091
source "$RW_SERVICES/kafka.env"
# shellcheck disable=SC1091
source "$RW_SERVICES/redis.env"
export KAFKA_BOOTSTRAP REDIS_URL REDIS_PORT

# Debian's python3 has python3-avro; a python3 earlier on PATH may not.
PY=/usr/bin/python3
TEST_NAME=$(basename "${BASH_SOURCE[1]}" .sh)
# Unique per run, so tests never see each other's topics, groups or keys.
ID="${TEST_NAME//_/-}-$$-$RANDOM"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rw-$TEST_NAME.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

T_ORDERS="orders-$ID"
T_SUPPORT="support-$ID"
T_ALERTS="alerts-$ID"
T_DLQ="dlq-$ID"
NS="t${ID//-/_}"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
# Whether riskwatch runs under the sanitizers (whose allocator is not glibc's).
sanitized() { ldd "$RW_BIN" | grep libasan >/dev/null; }

create_topics() {
  local t
  for t in "$T_ORDERS" "$T_SUPPORT" "$T_ALERTS" "$T_DLQ"; do
    "$RW_SOURCE_DIR/scripts/kafka-broker.sh" create-topic "$RW_SERVICES" "$t" "${1:-3}" >/dev/null
  done
}

# riskwatch with this test's topics, group, namespace and services.
rw() {
  local cmd=$1
  shift
  "$RW_BIN" "$cmd" \
    -X kafka.bootstrap.servers="$KAFKA_BOOTSTRAP" \
    -X redis.url="$REDIS_URL" \
    -X state.namespace="$NS" \
    -X group.id="group-$ID" \
    -X topics.orders="$T_ORDERS" -X topics.support="$T_SUPPORT" \
    -X topics.alerts="$T_ALERTS" -X topics.dlq="$T_DLQ" \
    "$@"
}

rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

# The records the stored positions of namespace NS (default $NS) cover.
stored() {   # [NS]
  rcli --scan --pattern "${1:-$NS}:*:off:*" | xargs -r redis-cli -p "$REDIS_PORT" MGET |
    awk '{ s += $1 } END { print s + 0 }'
}
# Wait up to TENTHS tenths of a second (default 600) for the stored
# positions of $NS to cover N records while process PID runs; $covered holds
# the last count. 1 when they do not.
wait_stored() {   # N PID [TENTHS]
  local _
  covered=0
  for _ in $(seq "${3:-600}"); do
    covered=$(stored)
    ((covered >= $1)) && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  covered=$(stored)
  ((covered >= $1))
}

# The canonical state of a namespace into FILE (state_dump.lua): fails unless
# the dump ends with its key count, the count is its lines', and it is not 0.
dump_state() {   # NAMESPACE FILE
  local n
  rcli --raw --eval "$RW_SOURCE_DIR/tests/integration/state_dump.lua" , "$1" 3600000 \
    >"$2" 2>&1 || fail "dumping namespace $1: $(head -c 300 "$2")"
  n=$(tail -1 "$2" | sed -nE 's/^-- ([0-9]+) keys$/\1/p')
  [[ -n $n && $n -eq $(($(wc -l <"$2") - 1)) ]] || fail "dumping namespace $1 failed: $(tail -c 300 "$2")"
  ((n > 0)) || fail "namespace $1 is empty"
}
# Namespace NS holds the state of namespace CLEAN (one clean pass): dumped to
# $WORK/dump.CLEAN and $WORK/dump.NS, the first lines of a difference shown.
same_state() {   # CLEAN NS WHAT
  dump_state "$1" "$WORK/dump.$1"
  dump_state "$2" "$WORK/dump.$2"
  if ! cmp -s "$WORK/dump.$1" "$WORK/dump.$2"; then
    { diff "$WORK/dump.$1" "$WORK/dump.$2" || true; } | head -10 | cut -c1-300 >&2
    fail "$3: the state differs from one clean pass"
  fi
  ok "$3: the state equals one clean pass ($(($(wc -l <"$WORK/dump.$2") - 1)) keys)"
}

# A PLACED order of 1 000 EUR from vendor v-1, as a JSON line.
order() {   # EVENT_ID ACCOUNT OCCURRED_AT
  printf '{"type":"order","event_id":"%s","account_id":"%s","vendor_id":"v-1","kind":"PLACED","amount_minor":1000,"currency":"EUR","occurred_at":%d}\n' "$1" "$2" "$3"
}
# The JSON lines of stdin as framed records, one file each, in $WORK/DIR.
make_events() {   # DIR < jsonl
  "$PY" "$RW_SOURCE_DIR/tests/integration/make_events.py" "$RW_SOURCE_DIR/schemas" "$WORK/$1"
}

# A private Apicurio Registry (scripts/schema-registry.sh, in-memory) for this
# test, started in $WORK/schema-registry: sets SCHEMA_REGISTRY_URL (the base URL
# of its Confluent-compatible API, .../apis/ccompat/v7) and
# SCHEMA_REGISTRY_ACCESS_LOG (one line per request). The test's EXIT trap must
# call schema_registry_stop.
schema_registry_start() {
  local dir=$WORK/schema-registry
  SCHEMA_REGISTRY_URL=$(RW_REGISTRY_WATCH_PID=$$ "$RW_SOURCE_DIR/scripts/schema-registry.sh" start "$dir") ||
    fail "Apicurio Registry did not start (log: $dir/registry.log)"
  SCHEMA_REGISTRY_ACCESS_LOG=$dir/registry-access.log
}
schema_registry_stop() {
  [[ -d $WORK/schema-registry ]] &&
    "$RW_SOURCE_DIR/scripts/schema-registry.sh" stop "$WORK/schema-registry"
  return 0
}
