#!/usr/bin/env bash
# Starts/stops a private Apicurio Registry (in-memory storage) on loopback for
# integration tests: a real schema registry serving the Confluent-compatible API.
set -euo pipefail

usage() {
  cat >&2 <<'EOF'
usage: schema-registry.sh start STATE_DIR
       schema-registry.sh stop STATE_DIR
       schema-registry.sh fetch

start   Start Apicurio Registry on a free 127.0.0.1 port, wait until it
        answers, write STATE_DIR/registry.env (SCHEMA_REGISTRY_URL=the base
        URL of its Confluent-compatible API, .../apis/ccompat/v7) and print
        that URL. Its access log is STATE_DIR/registry-access.log (one line
        per request: method="GET" path="/apis/ccompat/v7/schemas/ids/1" ...).
stop    Stop the registry started in STATE_DIR (if any); its schemas are
        kept in memory only and are gone.
fetch   Only populate the cache (Maven, first use only).

Environment:
  RW_CACHE_DIR          cache root (default: $HOME/.cache/riskwatch)
  RW_REGISTRY_JVM_OPTS  extra JVM options for the registry
  RW_REGISTRY_WATCH_PID start: stop the registry once this process is gone
EOF
  exit 2
}

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
POM="$SCRIPT_DIR/schema-registry/pom.xml"
VERSION=$(sed -n 's:.*<apicurio.version>\(.*\)</apicurio.version>.*:\1:p' "$POM")
[[ -n "$VERSION" ]] || { echo "schema-registry: cannot read apicurio.version from $POM" >&2; exit 1; }
CACHE_ROOT="${RW_CACHE_DIR:-$HOME/.cache/riskwatch}"
HOME_DIR="$CACHE_ROOT/apicurio-registry-$VERSION"
APP="$HOME_DIR/app"
RUNNER="$APP/apicurio-registry-app-$VERSION-runner.jar"
API_PATH=/apis/ccompat/v7
READY_TIMEOUT=120
STOP_TIMEOUT=20

die() { echo "schema-registry: $*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

need_java() {
  command -v java >/dev/null 2>&1 ||
    die "'java' not found: a Java 17+ runtime is needed to run Apicurio Registry (Debian: apt-get install openjdk-17-jre-headless)"
}

app_cached() { [[ -f "$APP/.complete" ]]; }

# Populate $APP from Maven once; safe against concurrent callers.
# Sets APP_FETCHED=1 if it had to be fetched now.
APP_FETCHED=0
fetch_app() {
  app_cached && return 0
  mkdir -p "$HOME_DIR"
  exec 9>"$HOME_DIR/.lock"
  flock -w 900 9 || die "timed out waiting for another fetch ($HOME_DIR/.lock)"
  if app_cached; then
    exec 9>&-
    return 0
  fi
  command -v mvn >/dev/null 2>&1 ||
    die "'mvn' not found: Maven is needed once to fetch Apicurio Registry $VERSION into $APP (Debian: apt-get install maven)"
  need_java
  local tmp="$HOME_DIR/app.tmp.$$"
  rm -rf "$tmp" "$tmp.markers"
  echo "schema-registry: fetching Apicurio Registry $VERSION with Maven into $APP" >&2
  if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:unpack \
      -Dregistry.dir="$tmp" >"$HOME_DIR/mvn.log" 2>&1; then
    tail -n 40 "$HOME_DIR/mvn.log" >&2
    rm -rf "$tmp" "$tmp.markers"
    die "mvn failed to fetch Apicurio Registry $VERSION (log: $HOME_DIR/mvn.log)"
  fi
  rm -rf "$tmp.markers"
  [[ -f "$tmp/$(basename "$RUNNER")" && -d "$tmp/lib" ]] || {
    rm -rf "$tmp"
    die "mvn finished but $(basename "$RUNNER") or lib/ is missing"
  }
  touch "$tmp/.complete"
  rm -rf "$APP"
  mv "$tmp" "$APP"
  exec 9>&-
  APP_FETCHED=1
}

# Print one free TCP port on 127.0.0.1 (never 6379).
free_port() {
  python3 - <<'EOF'
import socket
socks = []
while True:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
    if s.getsockname()[1] != 6379:
        print(s.getsockname()[1])
        break
EOF
}

abs_dir() {
  mkdir -p "$1"
  (cd "$1" && pwd)
}

# True if PID is alive and is the registry started for STATE_DIR.
is_our_registry() {
  local pid=$1 dir=$2
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -F -- "-Driskwatch.registry.dir=$dir " >/dev/null
}

# True once the Confluent-compatible API answers (not only the health check).
registry_answers() {
  curl -sf -o /dev/null --max-time 2 "$1/subjects"
}

cmd_start() {
  local dir
  dir=$(abs_dir "$1")
  command -v curl >/dev/null 2>&1 || die "'curl' not found (Debian: apt-get install curl)"
  command -v python3 >/dev/null 2>&1 || die "'python3' not found (Debian: apt-get install python3)"
  if [[ -f "$dir/registry.pid" ]] && is_our_registry "$(cat "$dir/registry.pid")" "$dir"; then
    die "a registry is already running for $dir (pid $(cat "$dir/registry.pid")); stop it first"
  fi
  local t0
  t0=$(now)
  need_java
  fetch_app
  local how="warm cache"
  ((APP_FETCHED)) && how="cold: fetched with Maven"

  local port url
  port=$(free_port)
  url="http://127.0.0.1:$port$API_PATH"
  local -a jvm=(
    -Xms64m -Xmx384m
    -XX:+UseSerialGC -XX:TieredStopAtLevel=1
    -XX:-UsePerfData -Xshare:auto
    -Djava.awt.headless=true
    -Driskwatch.registry.dir="$dir"
    -Dquarkus.http.host=127.0.0.1
    -Dquarkus.http.port="$port"
    -Dquarkus.http.access-log.enabled=true
    -Dquarkus.http.access-log.log-to-file=true
    -Dquarkus.http.access-log.log-directory="$dir"
    -Dquarkus.http.access-log.base-file-name=registry-access
    -Dquarkus.http.access-log.rotate=false
    -Dquarkus.log.console.color=false
  )
  if [[ -n "${RW_REGISTRY_JVM_OPTS:-}" ]]; then
    local -a extra
    read -r -a extra <<<"$RW_REGISTRY_JVM_OPTS"
    jvm+=("${extra[@]}")
  fi

  : >"$dir/registry.log"
  rm -f "$dir/registry-access.log"
  (cd "$dir" && exec java "${jvm[@]}" -jar "$RUNNER" </dev/null >>"$dir/registry.log" 2>&1) &
  local pid=$!
  echo "$pid" >"$dir/registry.pid"

  local deadline=$((SECONDS + READY_TIMEOUT))
  until registry_answers "$url"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 60 "$dir/registry.log" >&2
      rm -f "$dir/registry.pid"
      die "the registry exited during start-up (log: $dir/registry.log)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 60 "$dir/registry.log" >&2
      cmd_stop "$dir" || true
      die "the registry did not answer on $url within ${READY_TIMEOUT}s (log: $dir/registry.log)"
    fi
    sleep 0.2
  done

  if [[ -n "${RW_REGISTRY_WATCH_PID:-}" ]]; then
    # A test killed before it could stop the registry leaves no JVM behind.
    local watch=$RW_REGISTRY_WATCH_PID
    (
      while kill -0 "$watch" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 1; done
      if is_our_registry "$pid" "$dir"; then kill -TERM "$pid" 2>/dev/null || true; fi
    ) </dev/null >/dev/null 2>&1 &
  fi
  printf 'SCHEMA_REGISTRY_URL=%s\n' "$url" >"$dir/registry.env"
  echo "schema-registry: Apicurio Registry $VERSION at $url up in $(elapsed "$t0") s ($how)" >&2
  echo "$url"
}

cmd_stop() {
  local dir=$1
  [[ -d "$dir" ]] || return 0
  dir=$(cd "$dir" && pwd)
  if [[ -f "$dir/registry.pid" ]]; then
    local pid i
    pid=$(cat "$dir/registry.pid")
    if is_our_registry "$pid" "$dir"; then
      kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      if kill -0 "$pid" 2>/dev/null; then
        echo "schema-registry: pid $pid ignored SIGTERM for ${STOP_TIMEOUT}s, killing" >&2
        kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
    rm -f "$dir/registry.pid"
  fi
  rm -f "$dir/registry.env"
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
    fetch)
      (($# == 0)) || usage
      need_java
      local t0
      t0=$(now)
      fetch_app
      if ((APP_FETCHED)); then
        echo "schema-registry: Apicurio Registry $VERSION fetched into $APP in $(elapsed "$t0") s" >&2
      else
        echo "schema-registry: Apicurio Registry $VERSION cached in $APP" >&2
      fi
      ;;
    -h | --help | help) usage ;;
    *) usage ;;
  esac
}

main "$@"
