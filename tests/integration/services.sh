#!/usr/bin/env bash
# CTest fixture: starts (or stops) the real services the integration tests use:
# a Kafka broker (or KAFKA_BOOTSTRAP's) and a private redis-server; and fetches
# Apicurio Registry once (scripts/schema-registry.sh), which the tests that need
# a real schema registry start privately (lib.sh: schema_registry_start).
set -euo pipefail
scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../scripts" && pwd)
cmd=${1:?usage: services.sh start|stop DIR}
dir=${2:?usage: services.sh start|stop DIR}
case "$cmd" in
  start)
    mkdir -p "$dir"
    "$scripts/redis-private.sh" start "$dir"
    "$scripts/kafka-broker.sh" start "$dir"
    "$scripts/schema-registry.sh" fetch
    cat "$dir/kafka.env" "$dir/redis.env"
    ;;
  stop)
    rc=0
    "$scripts/kafka-broker.sh" stop "$dir" || rc=1
    "$scripts/redis-private.sh" stop "$dir" || rc=1
    exit $rc
    ;;
  *) echo "usage: services.sh start|stop DIR" >&2; exit 2 ;;
esac
