#!/usr/bin/env bash
# The riskwatch command line without services: help, version, exit codes, config errors, -X precedence, secret masking, README reference sync.
set -euo pipefail

: "${RW_BIN:?RW_BIN must point at the riskwatch binary}"
: "${RW_SOURCE_DIR:?RW_SOURCE_DIR must name the source tree}"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rw-cli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

# rw ARGS...: run riskwatch, stdout to $WORK/out, stderr to $WORK/err, exit
# code in $RC. Never hangs: nothing here needs more than a few seconds.
RC=0
rw() {
  RC=0
  timeout 60 "$RW_BIN" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null || RC=$?
}

# What the last run printed, for failure messages.
shown() {
  printf '\n--- stdout ---\n%s\n--- stderr ---\n%s\n' \
    "$(head -c 2000 "$WORK/out")" "$(head -c 2000 "$WORK/err")"
}

expect_rc() {   # expect_rc CODE WHAT
  [[ $RC -eq $1 ]] || fail "$2: expected exit code $1, got $RC$(shown)"
}

# has FILE TEXT WHAT: FILE (out or err) contains TEXT literally.
has() {
  grep -qF -- "$2" "$WORK/$1" || fail "$3: std$1 does not contain '$2'$(shown)"
}

# lacks TEXT WHAT: neither stdout nor stderr contains TEXT.
lacks() {
  ! grep -qF -- "$1" "$WORK/out" "$WORK/err" || fail "$2: output contains '$1'$(shown)"
}

# has_line FILE LINE WHAT: FILE (out or err) has LINE as a whole line.
has_line() {
  grep -qxF -- "$2" "$WORK/$1" || fail "$3: std$1 has no line '$2'$(shown)"
}

# conf_err EXPECTED WHAT ARGS...: `riskwatch ARGS` exits 2 and stderr holds
# EXPECTED (a "FILE:LINE: KEY: reason" or "-X KEY: reason" text).
conf_err() {
  local expected=$1 what=$2
  shift 2
  rw "$@"
  expect_rc 2 "$what"
  has err "$expected" "$what"
  ok "$what: exit 2, '$expected'"
}

# ---- help, usage, version ---------------------------------------------------

for h in --help -h; do
  rw "$h"
  expect_rc 0 "riskwatch $h"
  has out "Usage: riskwatch" "riskwatch $h"
  for c in run demo config; do
    grep -qE "^  $c +[^ ]" "$WORK/out" || fail "riskwatch $h does not list the command '$c'$(shown)"
  done
  ok "riskwatch $h exits 0 and lists run, demo, config on stdout"
done

rw
expect_rc 2 "riskwatch without arguments"
has err "Usage: riskwatch" "riskwatch without arguments"
[[ ! -s $WORK/out ]] || fail "riskwatch without arguments wrote to stdout$(shown)"
ok "riskwatch without arguments exits 2 with the usage on stderr"

rw frobnicate
expect_rc 2 "unknown command"
has err "frobnicate" "unknown command"
ok "unknown command exits 2 and is named"

want_version=$(sed -n 's/^project(riskwatch VERSION \([0-9][0-9.]*\).*/\1/p' \
  "$RW_SOURCE_DIR/CMakeLists.txt" | sed -n 1p)
for v in --version -V; do
  rw "$v"
  expect_rc 0 "riskwatch $v"
  grep -qE '^riskwatch [0-9]+\.[0-9]+\.[0-9]+( |$)' "$WORK/out" ||
    fail "riskwatch $v does not print 'riskwatch X.Y.Z'$(shown)"
  if [[ -n $want_version ]]; then
    grep -qE "^riskwatch ${want_version//./\\.}( |\$)" "$WORK/out" ||
      fail "riskwatch $v does not print the project version $want_version$(shown)"
  fi
  ok "riskwatch $v prints '$(head -n 1 "$WORK/out")'"
done

for c in run demo config; do
  for h in --help -h; do
    rw "$c" "$h"
    expect_rc 0 "riskwatch $c $h"
    has out "Usage: riskwatch $c" "riskwatch $c $h"
  done
  ok "riskwatch $c --help and -h exit 0 with the command's usage"

  rw "$c" --no-such-option
  expect_rc 2 "riskwatch $c --no-such-option"
  has err "Usage: riskwatch $c" "riskwatch $c --no-such-option"
  rw "$c" -Q
  expect_rc 2 "riskwatch $c -Q"
  ok "riskwatch $c with an unknown option exits 2 with the usage on stderr"
done

rw config surplus-argument
expect_rc 2 "riskwatch config surplus-argument"
has err "surplus-argument" "riskwatch config surplus-argument"
ok "an unexpected argument exits 2 and is named"

# ---- options and arguments in any order; -- ends the options ---------------------

# Options after an argument are options (GNU getopt order): --help after a
# stray argument is help, for every command.
for c in run demo config decode gen inspect tail; do
  rw "$c" some-argument --help
  expect_rc 0 "riskwatch $c some-argument --help"
  has out "Usage: riskwatch $c" "riskwatch $c some-argument --help"
done
ok "every command takes its options after an argument too"

NOREDIS=(-X redis.url=redis://127.0.0.1:1/0 -X redis.timeout=200ms)
rw inspect acct-0146 --json "${NOREDIS[@]}"
expect_rc 1 "inspect ACCOUNT --json -X ... (Redis unreachable)"
lacks "give one ACCOUNT" "inspect ACCOUNT --json"
grep -qi redis "$WORK/err" || fail "inspect ACCOUNT --json: stderr does not mention redis$(shown)"
conf_err '-X batch.size: expected an integer' "inspect ACCOUNT -X after the argument" \
  inspect acct-0146 -X batch.size=abc
ok "inspect ACCOUNT --json -X ... reads the options after the account"

rw inspect "${NOREDIS[@]}" -- --help
expect_rc 1 "inspect -- --help"
lacks "Usage: riskwatch inspect" "inspect -- --help"
rw inspect -- acct-0146 --json
expect_rc 2 "inspect -- ACCOUNT --json"
has err "give one ACCOUNT" "inspect -- ACCOUNT --json"
rw config -- --dump
expect_rc 2 "config -- --dump"
has err "unexpected argument '--dump'" "config -- --dump"
ok "after --, everything is an argument (inspect -- --help looks up an account named --help)"

# ---- configuration file errors ----------------------------------------------

# conf_file NAME LINES...: a properties file; prints its path.
conf_file() {
  local f=$WORK/$1
  shift
  printf '%s\n' "$@" >"$f"
  printf '%s' "$f"
}

# Comments and blank lines before the bad line, so line numbers count them.
f=$(conf_file unknown.conf '# riskwatch' '' 'batch.size=10' 'no.such.key=1')
conf_err "$f:4: no.such.key: unknown property" "file: unknown key" config -c "$f"

f=$(conf_file typo.conf 'batch.sise=10')
conf_err "$f:1: batch.sise: unknown property (did you mean batch.size?)" \
  "file: misspelt key" config -c "$f"

f=$(conf_file badint.conf '# comment' 'batch.size=abc')
conf_err "$f:2: batch.size: expected an integer in [1, 100000], got \"abc\"" \
  "file: bad integer" config -c "$f"

f=$(conf_file range.conf 'log.level=warn' '' '' 'batch.size=100001')
conf_err "$f:4: batch.size: expected an integer in [1, 100000], got \"100001\"" \
  "file: integer out of range" config -c "$f"

f=$(conf_file duration.conf 'redis.timeout=5ms')
conf_err "$f:1: redis.timeout: expected a duration in [10ms, 1m]" \
  "file: duration out of range" config -c "$f"

f=$(conf_file number.conf 'alerts.hysteresis=1.5')
conf_err "$f:1: alerts.hysteresis: expected a number in [0, 1]" \
  "file: number out of range" config -c "$f"

f=$(conf_file enum.conf 'log.level=loud')
conf_err "$f:1: log.level: expected one of error|warn|info|debug" \
  "file: bad enum value" config -c "$f"

f=$(conf_file dup.conf '# dup' 'log.level=info' 'batch.size=10' '' 'log.level=debug')
conf_err "$f:5: log.level: duplicate" "file: duplicate key" config -c "$f"

f=$(conf_file noeq.conf 'batch.size=10' '# comment' 'just some words')
conf_err "$f:3: just some words: expected key=value" "file: line without '='" config -c "$f"

f=$(conf_file nokey.conf '=value')
conf_err "$f:1: " "file: line without a key" config -c "$f"
has err "expected key=value" "file: line without a key"

f=$(conf_file kafka.conf 'kafka.acks=banana')
conf_err "$f:1: kafka.acks: Invalid value for configuration property" \
  "file: bad kafka.* value (librdkafka's reason)" config -c "$f"

# The other commands validate the same way, before starting anything.
f=$(conf_file badrun.conf 'batch.size=abc')
for c in run demo; do
  conf_err "$f:1: batch.size: expected an integer" "riskwatch $c: bad file" "$c" -c "$f"
done

# A UTF-8 byte order mark at the top of a file is not part of the first key.
printf '\xef\xbb\xbfgroup.id=bom-group\n' >"$WORK/bom.conf"
rw config -c "$WORK/bom.conf" --dump
expect_rc 0 "file starting with a UTF-8 BOM"
has_line out "group.id=bom-group" "file starting with a UTF-8 BOM"
ok "a UTF-8 BOM at the top of a file is skipped"

# What no single property can check still names where the value came from.
f=$(conf_file interval.conf '# boundaries' 'evaluation.interval=7m')
conf_err "$f:2: evaluation.interval: 7m does not divide rules.dependency.window (90d)" \
  "file: interval that does not divide the window" run -c "$f"
conf_err "-X evaluation.interval: 7m does not divide rules.dependency.window (90d)" \
  "-X: interval that does not divide the window" run -X evaluation.interval=7m
conf_err "-X evaluation.interval: 7m does not divide" \
  "-X: interval that does not divide the window (inspect)" inspect --portfolio \
  -X evaluation.interval=7m

# ---- -X errors --------------------------------------------------------------

conf_err '-X batch.size: expected an integer in [1, 100000], got "abc"' \
  "-X: bad integer" config -X batch.size=abc
conf_err '-X batch.size: expected an integer in [1, 100000], got "0"' \
  "-X: integer out of range" config -X batch.size=0
conf_err '-X no.such.key: unknown property' "-X: unknown key" config -X no.such.key=1
conf_err '-X batch.size: expected key=value' "-X: no '='" config -X batch.size
conf_err '-X redis.url: ' "-X: bad redis URL" config -X redis.url=http://host/
conf_err '-X batch.size: expected an integer' "-X: bad value after a good file" \
  config -c "$(conf_file good.conf 'batch.size=10')" -X batch.size=abc
conf_err '-X batch.size: expected an integer' "riskwatch run: bad -X" run -X batch.size=abc

# librdkafka judges kafka.* keys and values, and its reason is shown.
conf_err '-X kafka.acks: Invalid value for configuration property "request.required.acks"' \
  "-X: bad kafka.* value" config -X kafka.acks=banana
conf_err '-X kafka.no.such: No such configuration property: "no.such"' \
  "-X: unknown kafka.* key" config -X kafka.no.such=1

# An empty broker list cannot work: said at start-up, not left to librdkafka.
conf_err '-X kafka.bootstrap.servers: empty' "-X: empty kafka.bootstrap.servers" \
  run -X kafka.bootstrap.servers=
conf_err "$(conf_file boot.conf 'kafka.bootstrap.servers = '):1: kafka.bootstrap.servers: empty" \
  "file: empty kafka.bootstrap.servers" run -c "$WORK/boot.conf"

# ---- unreadable files ----------------------------------------------------------

missing=$WORK/does-not-exist.conf
rw config -c "$missing"
expect_rc 2 "missing file"
has err "$missing" "missing file"
has err "No such file or directory" "missing file"
ok "a missing file exits 2 naming the file"

mkdir "$WORK/a-directory.conf"
rw config -c "$WORK/a-directory.conf"
expect_rc 2 "a directory as the file"
has err "$WORK/a-directory.conf" "a directory as the file"
ok "a directory as the file exits 2 naming it"

if [[ $(id -u) -ne 0 ]]; then
  f=$(conf_file noperm.conf 'batch.size=10')
  chmod 000 "$f"
  rw config -c "$f"
  expect_rc 2 "unreadable file"
  has err "$f" "unreadable file"
  ok "an unreadable file exits 2 naming the file"
fi

# ---- precedence, comments, dump -------------------------------------------------

f=$(conf_file prec.conf 'batch.size=10' 'kafka.linger.ms=5' 'state.namespace=fromfile')
rw config --dump -c "$f" -X batch.size=20 -X kafka.linger.ms=7
expect_rc 0 "-c then -X"
has_line out "batch.size=20" "-X wins over -c"
has_line out "kafka.linger.ms=7" "-X wins over -c for kafka.*"
has_line out "state.namespace=fromfile" "-c applies what -X does not set"
rw config -X batch.size=20 -X kafka.linger.ms=7 -c "$f"
expect_rc 0 "-X then -c"
has_line out "batch.size=20" "-X wins over a later -c"
has_line out "kafka.linger.ms=7" "-X wins over a later -c for kafka.*"
rw config -X batch.size=20 -X batch.size=30
expect_rc 0 "repeated -X"
has_line out "batch.size=30" "the last of repeated -X wins"
ok "-X wins over -c (either order), the file fills the rest, the last -X wins"

rw config
expect_rc 0 "config without options"
has_line out "batch.size=5000" "defaults in the dump"
has_line out "kafka.bootstrap.servers=localhost:9092" "defaults in the dump"
ok "config prints the defaults"

f=$WORK/comments.conf
printf '%s\n' '# a comment' '' '   ' '	# an indented comment' 'batch.size=42' \
  '' '#batch.size=43' 'state.namespace=commented' '' >"$f"
rw config -c "$f"
expect_rc 0 "comments and blank lines"
has_line out "batch.size=42" "comments and blank lines"
has_line out "state.namespace=commented" "comments and blank lines"
ok "comments, blank and whitespace-only lines are accepted"

# ---- secrets are masked ---------------------------------------------------------

f=$(conf_file secrets.conf 'redis.url=redis://user:s3cret@host:6379/0' \
  'kafka.sasl.password=Kafka-Pa55-in-file')
rw config --dump -c "$f"
expect_rc 0 "dump with secrets"
lacks "s3cret" "config --dump (file)"
lacks "Kafka-Pa55-in-file" "config --dump (file)"
grep -qE '^redis\.url=redis://user:[^@]*@host:6379/0$' "$WORK/out" ||
  fail "config --dump: redis.url is not shown (masked)$(shown)"
grep -qE '^kafka\.sasl\.password=.+' "$WORK/out" ||
  fail "config --dump: kafka.sasl.password is not shown (masked)$(shown)"
ok "config --dump masks the redis.url password and kafka.sasl.password from a file"

rw config --dump -X redis.url=redis://user:s3cret@host:6379/0 \
  -X kafka.sasl.password=Kafka-Pa55-on-cli -X redis.url=redis://:0nlyPw@host2:6380/1
expect_rc 0 "dump with -X secrets"
lacks "s3cret" "config --dump (-X)"
lacks "0nlyPw" "config --dump (-X)"
lacks "Kafka-Pa55-on-cli" "config --dump (-X)"
grep -qE '^redis\.url=redis://:[^@]*@host2:6380/1$' "$WORK/out" ||
  fail "config --dump: redis.url without a user is not shown (masked)$(shown)"
ok "config --dump masks secrets set with -X"

rw config -X 'redis.url=redis://user:s3cret@host:notaport/0'
expect_rc 2 "bad redis URL with a password"
lacks "s3cret" "error for a bad redis URL"
ok "an error about a redis URL does not echo its password"

# ---- runtime failure vs configuration error -----------------------------------

rw run -X redis.url=redis://127.0.0.1:1/0 -X redis.timeout=200ms \
  -X kafka.bootstrap.servers=127.0.0.1:1
expect_rc 1 "run against an unreachable Redis"
grep -qi redis "$WORK/err" || fail "run against an unreachable Redis: stderr does not mention redis$(shown)"
ok "run against an unreachable Redis exits 1 with '$(grep -i -m1 redis "$WORK/err")'"

# With -e there is an end to reach: brokers that never answer are given up
# on after broker.timeout (a private redis-server, so only Kafka is missing).
redis-server --port 0 --unixsocket "$WORK/redis.sock" --save '' --appendonly no \
  >"$WORK/redis.log" 2>&1 &
redis_pid=$!
trap 'kill "$redis_pid" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do [[ -S $WORK/redis.sock ]] && break; sleep 0.05; done
start=$SECONDS
rw run -e -X redis.url="unix://$WORK/redis.sock" -X kafka.bootstrap.servers=127.0.0.1:1 \
  -X broker.timeout=2s
expect_rc 1 "run -e with unreachable brokers"
has err "no answer from the brokers (kafka.bootstrap.servers 127.0.0.1:1) in 2 s" \
  "run -e with unreachable brokers"
(( SECONDS - start <= 15 )) || fail "run -e with unreachable brokers took $((SECONDS - start)) s"
kill "$redis_pid" 2>/dev/null || true
ok "run -e gives up on brokers that do not answer after broker.timeout (exit 1)"

# gen asks for its topics before producing: records queued for brokers that
# never answer would be given up only at message.timeout.ms, minutes later.
start=$SECONDS
rw gen -n 10 -X kafka.bootstrap.servers=127.0.0.1:1 -X broker.timeout=2s
expect_rc 1 "gen with unreachable brokers"
has err "gen: no answer from the brokers (kafka.bootstrap.servers 127.0.0.1:1) in 2 s" \
  "gen with unreachable brokers"
(( SECONDS - start <= 15 )) || fail "gen with unreachable brokers took $((SECONDS - start)) s"
ok "gen gives up on brokers that do not answer after broker.timeout (exit 1)"

# ---- schema registry: an unreachable one is an outage, not a configuration error ----

rw run -X schema.registry.url=http://127.0.0.1:1/ -X redis.url=redis://127.0.0.1:1/0 \
  -X redis.timeout=200ms -X kafka.bootstrap.servers=127.0.0.1:1
expect_rc 1 "run with an unreachable schema.registry.url (and Redis)"
lacks "schema.registry.url" "run with an unreachable schema.registry.url"
ok "run accepts an unreachable schema.registry.url at start-up"

RC=0
"$RW_BIN" demo -X demo.accounts=10 -X demo.days=30 \
  -X schema.registry.url=http://127.0.0.1:1/ -X schema.registry.timeout=200ms \
  >"$WORK/out" 2>"$WORK/err" </dev/null &
pid=$!
for _ in $(seq 300); do
  grep -q "retrying in" "$WORK/err" || ! kill -0 "$pid" 2>/dev/null && break
  sleep 0.1
done
kill -INT "$pid" 2>/dev/null || true
wait "$pid" || RC=$?
[[ $RC -ne 2 ]] || fail "demo with an unreachable schema.registry.url: exit 2$(shown)"
has err "schema registry unreachable: schema registry http://127.0.0.1:1: " \
  "demo with an unreachable schema.registry.url"
has err "retrying in" "demo with an unreachable schema.registry.url"
ok "demo with an unreachable schema.registry.url waits for it, retrying"

# gen registers what it writes before producing: a registry that does not
# answer is a runtime failure naming it, not a configuration error.
rw gen -n 1 -X schema.registry.url=http://127.0.0.1:1/ -X schema.registry.timeout=200ms
expect_rc 1 "gen with an unreachable schema.registry.url"
has err "schema registry: registering orders-value: schema registry http://127.0.0.1:1" "gen with an unreachable schema.registry.url"
ok "gen with an unreachable schema.registry.url exits 1 naming the registry"

# ---- README configuration reference -----------------------------------------------

readme=$RW_SOURCE_DIR/README.md
begin='<!-- BEGIN CONFIG REFERENCE -->'
end='<!-- END CONFIG REFERENCE -->'
[[ -f $readme ]] || fail "$readme does not exist"
[[ $(grep -cxF -- "$begin" "$readme") -eq 1 ]] ||
  fail "$readme must have exactly one line '$begin'"
[[ $(grep -cxF -- "$end" "$readme") -eq 1 ]] ||
  fail "$readme must have exactly one line '$end'"
awk -v b="$begin" -v e="$end" '
  $0 == e { inside = 0; done = 1 }
  inside  { print }
  $0 == b && !done { inside = 1 }
  END     { if (inside) exit 1 }' "$readme" >"$WORK/readme-ref.md" ||
  fail "$readme: '$end' does not follow '$begin'"
rw config --markdown
expect_rc 0 "config --markdown"
[[ -s $WORK/out ]] || fail "config --markdown printed nothing"
if ! cmp -s "$WORK/out" "$WORK/readme-ref.md"; then
  diff -u "$WORK/readme-ref.md" "$WORK/out" | head -n 40 >&2 || true
  fail "the configuration reference in $readme differs from 'riskwatch config --markdown' (diff above: - README, + binary); paste the output between the markers"
fi
ok "README.md's configuration reference equals 'riskwatch config --markdown'"

echo "ok: all cli checks passed"
