#!/usr/bin/env bash
# Starts/stops a private single-node KRaft Kafka broker on loopback for integration tests.
set -euo pipefail

usage() {
  cat >&2 <<'EOF'
usage: kafka-broker.sh start STATE_DIR
       kafka-broker.sh stop STATE_DIR
       kafka-broker.sh fetch
       kafka-broker.sh create-topic STATE_DIR TOPIC PARTITIONS
       kafka-broker.sh describe-group STATE_DIR GROUP
       kafka-broker.sh delete-records STATE_DIR TOPIC PARTITION OFFSET
       kafka-broker.sh delete-topics STATE_DIR TOPIC...

start   Start a broker+controller on free 127.0.0.1 ports and write
        STATE_DIR/kafka.env (KAFKA_BOOTSTRAP=host:port). If KAFKA_BOOTSTRAP
        is already set, only check that it answers and record it.
stop    Stop the broker started in STATE_DIR (if any) and drop its data.
fetch   Only populate the jar cache (Maven, first use only).
create-topic
        Create TOPIC with PARTITIONS partitions (no-op if it exists).
delete-records
        Delete the records of TOPIC's PARTITION before OFFSET, as retention
        does (the partition's low watermark becomes OFFSET).
delete-topics
        Delete the TOPICs (those that do not exist are skipped).

Environment:
  KAFKA_BOOTSTRAP    use this broker instead of starting one
  RW_CACHE_DIR       jar cache root (default: $HOME/.cache/riskwatch)
  RW_KAFKA_JVM_OPTS  extra JVM options for the broker
EOF
  exit 2
}

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
POM="$SCRIPT_DIR/kafka/pom.xml"
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")
[[ -n "$KAFKA_VERSION" ]] || { echo "kafka: cannot read kafka.version from $POM" >&2; exit 1; }
CACHE_ROOT="${RW_CACHE_DIR:-$HOME/.cache/riskwatch}"
KAFKA_HOME="$CACHE_ROOT/kafka-$KAFKA_VERSION"
LIBS="$KAFKA_HOME/libs"
READY_TIMEOUT=90
STOP_TIMEOUT=20

die() { echo "kafka: $*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

need_java() {
  command -v java >/dev/null 2>&1 ||
    die "'java' not found: a Java 17+ runtime is needed to run the Kafka broker (Debian: apt-get install openjdk-17-jre-headless), or set KAFKA_BOOTSTRAP to an existing broker"
}

need_kcat() {
  command -v kcat >/dev/null 2>&1 || die "'kcat' not found (Debian: apt-get install kcat)"
}

jars_cached() { [[ -f "$LIBS/.complete" ]]; }

# Populate $LIBS from Maven once; safe against concurrent callers.
# Sets JARS_FETCHED=1 if they had to be fetched now.
JARS_FETCHED=0
fetch_jars() {
  jars_cached && return 0
  mkdir -p "$KAFKA_HOME"
  exec 9>"$KAFKA_HOME/.lock"
  flock -w 900 9 || die "timed out waiting for another jar fetch ($KAFKA_HOME/.lock)"
  if jars_cached; then
    exec 9>&-
    return 0
  fi
  command -v mvn >/dev/null 2>&1 ||
    die "'mvn' not found: Maven is needed once to fetch the Kafka $KAFKA_VERSION jars into $LIBS (Debian: apt-get install maven)"
  need_java
  local tmp="$KAFKA_HOME/libs.tmp.$$"
  rm -rf "$tmp"
  echo "kafka: fetching Kafka $KAFKA_VERSION jars with Maven into $LIBS" >&2
  if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
      -DoutputDirectory="$tmp" >"$KAFKA_HOME/mvn.log" 2>&1; then
    tail -n 40 "$KAFKA_HOME/mvn.log" >&2
    rm -rf "$tmp"
    die "mvn failed to fetch the Kafka $KAFKA_VERSION jars (log: $KAFKA_HOME/mvn.log)"
  fi
  ls "$tmp"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null 2>&1 || {
    rm -rf "$tmp"
    die "mvn finished but kafka_2.13-$KAFKA_VERSION.jar is missing"
  }
  touch "$tmp/.complete"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  exec 9>&-
  JARS_FETCHED=1
}

# Print N distinct free TCP ports on 127.0.0.1 (never 6379), space separated.
free_ports() {
  local n=$1
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$n" <<'EOF'
import socket, sys
socks, ports = [], []
while len(ports) < int(sys.argv[1]):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    socks.append(s)
    if p != 6379:
        ports.append(p)
print(" ".join(map(str, ports)))
EOF
    return
  fi
  local out=() p
  while ((${#out[@]} < n)); do
    p=$((20000 + RANDOM % 40000))
    [[ $p -eq 6379 || " ${out[*]} " == *" $p "* ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      out+=("$p")
    fi
  done
  echo "${out[*]}"
}

# True if BOOTSTRAP answers a metadata request listing at least one broker.
broker_answers() {
  local out
  out=$(timeout 10 kcat -b "$1" -L -m 3 2>/dev/null) || return 1
  grep -q ' brokers:' <<<"$out" && grep -q 'broker [0-9]* at' <<<"$out"
}

abs_dir() {
  mkdir -p "$1"
  (cd "$1" && pwd)
}

# True if PID is alive and is the broker started for STATE_DIR.
is_our_broker() {
  local pid=$1 dir=$2
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -F "kafka.Kafka $dir/server.properties" >/dev/null
}

cmd_start() {
  local dir
  dir=$(abs_dir "$1")
  need_kcat
  local t0
  t0=$(now)

  if [[ -n "${KAFKA_BOOTSTRAP:-}" ]]; then
    broker_answers "$KAFKA_BOOTSTRAP" ||
      die "KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP does not answer a metadata request"
    echo "KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP" >"$dir/kafka.env"
    echo "kafka: using external broker $KAFKA_BOOTSTRAP" >&2
    return 0
  fi

  if [[ -f "$dir/kafka.pid" ]] && is_our_broker "$(cat "$dir/kafka.pid")" "$dir"; then
    die "a broker is already running for $dir (pid $(cat "$dir/kafka.pid")); stop it first"
  fi

  need_java
  fetch_jars
  local how="warm cache"
  ((JARS_FETCHED)) && how="cold: fetched jars"

  local ports bport cport
  ports=$(free_ports 2)
  read -r bport cport <<<"$ports"
  local logdir="$dir/kafka-logs"
  rm -rf "$logdir"
  mkdir -p "$logdir"

  cat >"$dir/server.properties" <<EOF
# Single-node KRaft broker+controller for tests (generated by kafka-broker.sh).
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$bport,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$bport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$logdir
num.partitions=3
# Test histories carry event times months old as record timestamps: keep them
# (time-based retention would delete them within a minute of start-up).
log.retention.ms=-1
# As most production brokers: topics are created on purpose (the tests create
# theirs), never by a client's first request for one.
auto.create.topics.enable=false
delete.topic.enable=true
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.segment.bytes=67108864
EOF

  cat >"$dir/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.org.apache.kafka.storage.internals.log=WARN
EOF

  local -a jvm=(
    -Xms256m -Xmx512m
    -XX:+UseSerialGC -XX:TieredStopAtLevel=1
    -XX:-UsePerfData -Xshare:auto
    -Djava.awt.headless=true
    -Dlog4j.configuration="file:$dir/log4j.properties"
    -Dkafka.logs.dir="$dir"
  )
  if [[ -n "${RW_KAFKA_JVM_OPTS:-}" ]]; then
    local -a extra
    read -r -a extra <<<"$RW_KAFKA_JVM_OPTS"
    jvm+=("${extra[@]}")
  fi

  # Kafka's Uuid: 16 random bytes, URL-safe base64 without padding.
  local cluster_id
  cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  [[ $cluster_id == -* ]] && cluster_id="A${cluster_id:1}"

  : >"$dir/kafka.log"
  if ! java "${jvm[@]}" -cp "$LIBS/*" kafka.tools.StorageTool format \
      -t "$cluster_id" -c "$dir/server.properties" >>"$dir/kafka.log" 2>&1; then
    tail -n 40 "$dir/kafka.log" >&2
    die "formatting $logdir failed"
  fi

  java "${jvm[@]}" -cp "$LIBS/*" kafka.Kafka "$dir/server.properties" \
    </dev/null >>"$dir/kafka.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$dir/kafka.pid"

  local bootstrap="127.0.0.1:$bport" deadline=$((SECONDS + READY_TIMEOUT))
  until broker_answers "$bootstrap"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 60 "$dir/kafka.log" >&2
      rm -f "$dir/kafka.pid"
      die "broker exited during start-up (log: $dir/kafka.log)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 60 "$dir/kafka.log" >&2
      cmd_stop "$dir" || true
      die "broker did not answer on $bootstrap within ${READY_TIMEOUT}s (log: $dir/kafka.log)"
    fi
    sleep 0.2
  done

  echo "KAFKA_BOOTSTRAP=$bootstrap" >"$dir/kafka.env"
  echo "kafka: broker $bootstrap up in $(elapsed "$t0") s ($how)" >&2
}

cmd_stop() {
  local dir=$1
  [[ -d "$dir" ]] || return 0
  dir=$(cd "$dir" && pwd)
  if [[ -f "$dir/kafka.pid" ]]; then
    local pid i
    pid=$(cat "$dir/kafka.pid")
    if is_our_broker "$pid" "$dir"; then
      kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      if kill -0 "$pid" 2>/dev/null; then
        echo "kafka: broker pid $pid ignored SIGTERM for ${STOP_TIMEOUT}s, killing" >&2
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
          kill -0 "$pid" 2>/dev/null || break
          sleep 0.1
        done
      fi
    fi
    rm -f "$dir/kafka.pid"
  fi
  rm -rf "$dir/kafka-logs"
  rm -f "$dir/kafka.env"
}

cmd_create_topic() {
  local dir=$1 topic=$2 parts=$3
  [[ -f "$dir/kafka.env" ]] || die "no $dir/kafka.env: run 'start $dir' first"
  local bootstrap
  bootstrap=$(sed -n 's/^KAFKA_BOOTSTRAP=//p' "$dir/kafka.env")
  [[ -n "$bootstrap" ]] || die "$dir/kafka.env has no KAFKA_BOOTSTRAP"
  if ! jars_cached || ! command -v java >/dev/null 2>&1; then
    echo "kafka: note: Kafka jars not cached; not creating '$topic', relying on broker auto-create" >&2
    return 0
  fi
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
    -Dlog4j.configuration="file:$dir/log4j-tools.properties" \
    -cp "$LIBS/*" org.apache.kafka.tools.TopicCommand \
    --bootstrap-server "$bootstrap" --create --if-not-exists \
    --topic "$topic" --partitions "$parts" --replication-factor 1 \
    --config retention.ms=-1 >&2 ||
    die "creating topic '$topic' failed"
}

# Kafka's own consumer-group report (what lag monitors read): prints
# "TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG" lines of GROUP.
cmd_describe_group() {
  local dir=$1 group=$2
  [[ -f "$dir/kafka.env" ]] || die "no $dir/kafka.env: run 'start $dir' first"
  local bootstrap
  bootstrap=$(sed -n 's/^KAFKA_BOOTSTRAP=//p' "$dir/kafka.env")
  jars_cached && command -v java >/dev/null 2>&1 || die "describe-group needs the Kafka jars (run 'fetch')"
  [[ -f "$dir/log4j-tools.properties" ]] || write_tools_log4j "$dir"
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
    -Dlog4j.configuration="file:$dir/log4j-tools.properties" \
    -cp "$LIBS/*" org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
    --bootstrap-server "$bootstrap" --describe --group "$group" 2>/dev/null |
    awk 'NF >= 6 && $1 != "GROUP" { print $2, $3, $4, $5, $6 }'
}

cmd_delete_records() {
  local dir=$1 topic=$2 part=$3 off=$4 bootstrap
  [[ -f "$dir/kafka.env" ]] || die "no $dir/kafka.env: run 'start $dir' first"
  bootstrap=$(sed -n 's/^KAFKA_BOOTSTRAP=//p' "$dir/kafka.env")
  jars_cached && command -v java >/dev/null 2>&1 || die "delete-records needs the Kafka jars (run 'fetch')"
  [[ -f "$dir/log4j-tools.properties" ]] || write_tools_log4j "$dir"
  printf '{"version":1,"partitions":[{"topic":"%s","partition":%d,"offset":%d}]}\n' \
    "$topic" "$part" "$off" >"$dir/delete-records.json"
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
    -Dlog4j.configuration="file:$dir/log4j-tools.properties" \
    -cp "$LIBS/*" org.apache.kafka.tools.DeleteRecordsCommand \
    --bootstrap-server "$bootstrap" --offset-json-file "$dir/delete-records.json" >/dev/null
}

cmd_delete_topics() {
  local dir=$1 bootstrap re
  shift
  [[ -f "$dir/kafka.env" ]] || die "no $dir/kafka.env: run 'start $dir' first"
  bootstrap=$(sed -n 's/^KAFKA_BOOTSTRAP=//p' "$dir/kafka.env")
  jars_cached && command -v java >/dev/null 2>&1 || die "delete-topics needs the Kafka jars (run 'fetch')"
  [[ -f "$dir/log4j-tools.properties" ]] || write_tools_log4j "$dir"
  # One JVM for them all: --topic takes a regular expression when deleting.
  re=$(printf '%s\n' "$@" | sed 's/[.[\*^$()+?{|]/\\&/g' | paste -sd'|')
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
    -Dlog4j.configuration="file:$dir/log4j-tools.properties" \
    -cp "$LIBS/*" org.apache.kafka.tools.TopicCommand \
    --bootstrap-server "$bootstrap" --delete --if-exists --topic "^($re)\$" >/dev/null
}

write_tools_log4j() {
  cat >"$1/log4j-tools.properties" <<'EOF'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
}

main() {
  (($# >= 1)) || usage
  local cmd=$1
  shift
  case $cmd in
    start)
      (($# == 1)) || usage
      cmd_start "$1"
      ;;
    stop)
      (($# == 1)) || usage
      cmd_stop "$1"
      ;;
    describe-group)
      (($# == 2)) || usage
      cmd_describe_group "$1" "$2"
      ;;
    fetch)
      (($# == 0)) || usage
      need_java
      fetch_jars
      echo "kafka: Kafka $KAFKA_VERSION jars cached in $LIBS" >&2
      ;;
    delete-records)
      (($# == 4)) || usage
      [[ $3 =~ ^[0-9]+$ && $4 =~ ^[0-9]+$ ]] || die "PARTITION and OFFSET must be integers"
      cmd_delete_records "$(abs_dir "$1")" "$2" "$3" "$4"
      ;;
    delete-topics)
      (($# >= 2)) || usage
      local ddir
      ddir=$(abs_dir "$1")
      shift
      cmd_delete_topics "$ddir" "$@"
      ;;
    create-topic)
      (($# == 3)) || usage
      [[ $3 =~ ^[1-9][0-9]*$ ]] || die "PARTITIONS must be a positive integer"
      local dir
      dir=$(abs_dir "$1")
      write_tools_log4j "$dir"
      cmd_create_topic "$dir" "$2" "$3"
      ;;
    -h | --help | help) usage ;;
    *) usage ;;
  esac
}

main "$@"
