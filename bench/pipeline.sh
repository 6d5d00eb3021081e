#!/usr/bin/env bash
# Pipeline benchmark on a real broker and Redis: events/s of `riskwatch run`
# over a generated history, Redis round trips per 1000 events, and the ratio
# to kcat's raw consume rate of the same topics (the physical limit here).
# usage: bench/pipeline.sh [ACCOUNTS] [DAYS] [RUNS]   (default 2000 180 3)
# Uses KAFKA_BOOTSTRAP if set, else starts a broker; always a private Redis.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin="${RW_BIN:-$here/build/riskwatch}"
accounts=${1:-2000}
days=${2:-180}
runs=${3:-3}
dir=$(mktemp -d "${TMPDIR:-/tmp}/rw-bench.XXXXXX")
trap '"$here/scripts/kafka-broker.sh" stop "$dir" 2>/dev/null; "$here/scripts/redis-private.sh" stop "$dir" 2>/dev/null; rm -rf "$dir"' EXIT
"$here/scripts/redis-private.sh" start "$dir" 2>/dev/null
"$here/scripts/kafka-broker.sh" start "$dir" 2>/dev/null
# shellcheck disable=SC1091
source "$dir/kafka.env"
# shellcheck disable=SC1091
source "$dir/redis.env"
id=$$
for t in orders support alerts dlq; do
  "$here/scripts/kafka-broker.sh" create-topic "$dir" "bench-$t-$id" 3 >/dev/null 2>&1
done
common=(-X kafka.bootstrap.servers="$KAFKA_BOOTSTRAP" -X redis.url="$REDIS_URL"
        -X topics.orders="bench-orders-$id" -X topics.support="bench-support-$id"
        -X topics.alerts="bench-alerts-$id" -X topics.dlq="bench-dlq-$id" -X log.level=warn)
"$bin" gen "${common[@]}" --accounts "$accounts" --days "$days" --seed 1 2>"$dir/gen.err"
events=$(grep -oE '^gen: [0-9]+ events' "$dir/gen.err" | grep -oE '[0-9]+')
now() { date +%s.%N; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "history: $events events ($accounts accounts, $days days), 3 partitions per topic"
: >"$dir/kcat"; : >"$dir/rw"; : >"$dir/rt"
for i in $(seq "$runs"); do
  t0=$(now)
  n=$({ kcat -C -b "$KAFKA_BOOTSTRAP" -t "bench-orders-$id" -o beginning -e -q -f '.\n'
         kcat -C -b "$KAFKA_BOOTSTRAP" -t "bench-support-$id" -o beginning -e -q -f '.\n'
       } 2>/dev/null | wc -l)
  t1=$(now)
  [[ $n -eq $events ]] || { echo "kcat read $n of $events records" >&2; exit 1; }
  awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { printf "%.0f\n", n / (b - a) }' >>"$dir/kcat"

  t0=$(now)
  "$bin" run "${common[@]}" -X log.level=info -X state.namespace="bench$i" \
    -X group.id="bench-$id-$i" -X alerts.cooldown=24h -e >/dev/null 2>"$dir/run.log"
  t1=$(now)
  line=$(grep "run: " "$dir/run.log" | tail -1)
  applied=$(grep -oE '[0-9]+ applied' <<<"$line" | grep -oE '[0-9]+')
  calls=$(grep -oE '[0-9]+ redis round trip' <<<"$line" | grep -oE '[0-9]+')
  [[ $applied -eq $events ]] || { echo "run applied $applied of $events: $line" >&2; exit 1; }
  awk -v a="$t0" -v b="$t1" -v n="$events" 'BEGIN { printf "%.0f\n", n / (b - a) }' >>"$dir/rw"
  awk -v c="$calls" -v n="$events" 'BEGIN { printf "%.2f\n", 1000 * c / n }' >>"$dir/rt"
  printf 'run %d: kcat %s/s, riskwatch %s/s (wall clock incl. group join), %s round trips per 1000 events\n' \
    "$i" "$(tail -1 "$dir/kcat")" "$(tail -1 "$dir/rw")" "$(tail -1 "$dir/rt")"
done
k=$(median <"$dir/kcat"); r=$(median <"$dir/rw"); rt=$(median <"$dir/rt")
printf 'median of %d: kcat %s records/s, riskwatch run %s events/s (%.1f%% of kcat), %s Redis round trips per 1000 events\n' \
  "$runs" "$k" "$r" "$(awk -v a="$r" -v b="$k" 'BEGIN { print 100 * a / b }')" "$rt"
