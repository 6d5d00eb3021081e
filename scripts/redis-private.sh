#!/usr/bin/env bash
# Starts/stops a private, non-persistent redis-server on a free loopback port for tests.
set -euo pipefail

usage() {
  cat >&2 <<'EOF'
usage: redis-private.sh start STATE_DIR
       redis-private.sh stop STATE_DIR
       redis-private.sh restart STATE_DIR

start    Start redis-server on a free 127.0.0.1 port (never 6379) and write
         STATE_DIR/redis.env (REDIS_URL=..., REDIS_PORT=...).
stop     Shut it down (no save); does nothing if it is not running.
         STATE_DIR/redis.env is kept so that a later restart reuses the port.
restart  Stop (if running), then start again on the port in redis.env.
EOF
  exit 2
}

START_TIMEOUT=10
STOP_TIMEOUT=10

die() { echo "redis: $*" >&2; exit 1; }

abs_dir() {
  mkdir -p "$1"
  (cd "$1" && pwd)
}

# Print one free TCP port on 127.0.0.1 other than 6379.
free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 - <<'EOF'
import socket
socks = []
while True:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
    p = s.getsockname()[1]
    if p != 6379:
        print(p)
        break
EOF
    return
  fi
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    [[ $p -eq 6379 ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
}

env_port() {
  [[ -f "$1/redis.env" ]] && sed -n 's/^REDIS_PORT=//p' "$1/redis.env"
  return 0
}

# True if PID is alive and is a redis-server.
is_redis() {
  local pid=$1
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  grep -q '^redis-server' "/proc/$pid/comm" 2>/dev/null
}

pong() {
  [[ "$(timeout 2 redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == PONG ]]
}

# start_redis DIR [PORT]
start_redis() {
  local dir=$1 port=${2:-}
  command -v redis-server >/dev/null 2>&1 || die "'redis-server' not found (Debian: apt-get install redis-server)"
  command -v redis-cli >/dev/null 2>&1 || die "'redis-cli' not found (Debian: apt-get install redis-tools)"

  if [[ -f "$dir/redis.pid" ]] && is_redis "$(cat "$dir/redis.pid")"; then
    die "a redis-server is already running for $dir (pid $(cat "$dir/redis.pid")); stop it first"
  fi
  [[ -n "$port" ]] || port=$(free_port)
  [[ "$port" != 6379 ]] || die "refusing to use port 6379"

  mkdir -p "$dir/redis"
  rm -f "$dir/redis.pid"
  : >"$dir/redis.log"
  redis-server \
    --bind 127.0.0.1 --port "$port" \
    --save "" --appendonly no \
    --dir "$dir/redis" \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
    </dev/null >"$dir/redis.out" 2>&1 ||
    { cat "$dir/redis.out" >&2; die "redis-server failed to start on port $port"; }

  local deadline=$((SECONDS + START_TIMEOUT))
  until pong "$port"; do
    if ((SECONDS >= deadline)); then
      tail -n 20 "$dir/redis.log" >&2
      stop_redis "$dir" "$port"
      die "redis-server did not answer PING on 127.0.0.1:$port within ${START_TIMEOUT}s (log: $dir/redis.log)"
    fi
    sleep 0.05
  done

  printf 'REDIS_URL=redis://127.0.0.1:%s/0\nREDIS_PORT=%s\n' "$port" "$port" >"$dir/redis.env"
  echo "redis: private redis-server up on 127.0.0.1:$port" >&2
}

# stop_redis DIR [PORT]
stop_redis() {
  local dir=$1 port=${2:-} pid="" i
  [[ -f "$dir/redis.pid" ]] && pid=$(cat "$dir/redis.pid")
  [[ -n "$port" ]] || port=$(env_port "$dir")

  is_redis "$pid" || { rm -f "$dir/redis.pid"; return 0; }
  if [[ -n "$port" && "$port" != 6379 ]]; then
    timeout 5 redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
  fi
  if is_redis "$pid"; then
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
      is_redis "$pid" || break
      sleep 0.1
    done
    if is_redis "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        is_redis "$pid" || break
        sleep 0.1
      done
      if is_redis "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
  fi
  rm -f "$dir/redis.pid"
}

main() {
  (($# == 2)) || usage
  local cmd=$1 dir
  case $cmd in
    start)
      dir=$(abs_dir "$2")
      start_redis "$dir"
      ;;
    stop)
      [[ -d "$2" ]] || return 0
      dir=$(abs_dir "$2")
      stop_redis "$dir"
      ;;
    restart)
      dir=$(abs_dir "$2")
      local port
      port=$(env_port "$dir")
      stop_redis "$dir"
      start_redis "$dir" "$port"
      ;;
    *) usage ;;
  esac
}

main "$@"
