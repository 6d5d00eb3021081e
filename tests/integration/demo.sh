#!/usr/bin/env bash
# `riskwatch demo` with no services: its output and exit code, and that its private redis-server and temp dir never outlive it (normal exit, Ctrl-C, SIGKILL).
set -euo pipefail

: "${RW_BIN:?RW_BIN must point at the riskwatch binary}"
: "${RW_SOURCE_DIR:?RW_SOURCE_DIR must name the source tree}"

# Debian's python3 (a python3 earlier on PATH may lack what Debian ships).
PY=/usr/bin/python3
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rw-demo.XXXXXX")
# The demo makes its redis-server's riskwatch-redis-XXXXXX dir in $TMPDIR.
mkdir "$WORK/tmp"

DEMO_PID=""       # the demo running in the background, if any
LEFTOVER_DIRS=()  # redis temp dirs a killed demo could not remove

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

# proc_state PID: prints "STATE PPID PGRP" of a process, fails if there is none.
proc_state() {
  local stat="" rest state ppid pgrp
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  rest=${stat##*) }
  read -r state ppid pgrp _ <<<"$rest"
  echo "$state $ppid $pgrp"
}

# alive PID: the process exists and is not a zombie.
alive() {
  local st
  st=$(proc_state "$1") || return 1
  [[ ${st%% *} != Z ]]
}

# redis_pids TEXT: live redis-server processes whose command line contains TEXT.
# (Builtins only: this runs in polling loops over every process.)
redis_pids() {
  local d pid comm args
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    comm=""
    { read -r comm <"$d/comm"; } 2>/dev/null || continue
    [[ $comm == redis-server ]] || continue
    args=()
    { mapfile -d '' args <"$d/cmdline"; } 2>/dev/null || continue
    [[ "${args[*]:-}" == *"$1"* ]] || continue
    alive "$pid" && echo "$pid"
  done
  return 0
}

cleanup() {
  local pid
  if [[ -n $DEMO_PID ]] && alive "$DEMO_PID"; then
    kill -KILL "$DEMO_PID" 2>/dev/null || true
  fi
  # Only redis-servers of this script's demos: their socket is under $WORK
  # or in a dir one of them printed.
  for pid in $(redis_pids "$WORK/"); do kill -KILL "$pid" 2>/dev/null || true; done
  for d in "${LEFTOVER_DIRS[@]}"; do
    for pid in $(redis_pids "$d/"); do kill -KILL "$pid" 2>/dev/null || true; done
    rm -rf "$d"
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# start_demo NAME ARGS...: `riskwatch demo ARGS` in the background in its own
# session (so signals reach it alone), output in $WORK/NAME.out and .err.
start_demo() {
  local name=$1
  shift
  TMPDIR=$WORK/tmp setsid "$RW_BIN" demo "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
  DEMO_PID=$!
  DEMO_START=$(now_ms)
}

# show NAME: the demo's output, for failure messages.
show() {
  printf '\n--- stdout (tail) ---\n%s\n--- stderr (tail) ---\n%s\n' \
    "$(tail -n 25 "$WORK/$1.out")" "$(tail -n 25 "$WORK/$1.err")"
}

# await_redis NAME: wait for the demo's "redis ... (pid N) at unix://SOCK"
# line; sets REDIS_PID and REDIS_DIR and checks that this is a live
# redis-server, child of the demo, on a socket in a riskwatch-redis- dir.
await_redis() {
  local name=$1 line deadline st sock
  deadline=$(($(now_ms) + 30000))
  until line=$(grep -m1 -E '^redis .*\(pid [0-9]+\) at unix://' "$WORK/$name.out"); do
    alive "$DEMO_PID" || fail "$name: the demo exited before starting its redis-server$(show "$name")"
    (($(now_ms) < deadline)) || fail "$name: no redis-server line within 30 s$(show "$name")"
    sleep 0.05
  done
  REDIS_PID=$(sed -E 's/.*\(pid ([0-9]+)\).*/\1/' <<<"$line")
  sock=$(sed -E 's|.* at unix://([^ ?]+).*|\1|' <<<"$line")
  REDIS_DIR=$(dirname "$sock")
  [[ $(basename "$REDIS_DIR") == riskwatch-redis-?????? ]] ||
    fail "$name: the redis socket $sock is not in a riskwatch-redis-XXXXXX dir"
  [[ $REDIS_DIR == "$WORK/tmp/"* ]] || LEFTOVER_DIRS+=("$REDIS_DIR")
  [[ -d $REDIS_DIR ]] || fail "$name: the redis dir $REDIS_DIR does not exist while the demo runs"
  redis_pids "$REDIS_DIR/" | grep -x "$REDIS_PID" >/dev/null ||
    fail "$name: pid $REDIS_PID is not a live redis-server on $sock$(show "$name")"
  st=$(proc_state "$REDIS_PID") || fail "$name: redis-server $REDIS_PID vanished"
  read -r _ ppid _ <<<"$st"
  [[ $ppid == "$DEMO_PID" ]] ||
    fail "$name: redis-server $REDIS_PID is a child of $ppid, not of the demo ($DEMO_PID)"
}

# wait_exit NAME SECONDS: wait for the background demo to exit; sets DEMO_RC.
wait_exit() {
  local name=$1 deadline
  deadline=$(($(now_ms) + $2 * 1000))
  while alive "$DEMO_PID"; do
    if (($(now_ms) >= deadline)); then
      kill -KILL "$DEMO_PID" 2>/dev/null || true
      fail "$name: the demo did not exit within $2 s$(show "$name")"
    fi
    sleep 0.05
  done
  DEMO_RC=0
  wait "$DEMO_PID" || DEMO_RC=$?
  DEMO_PID=""
}

# redis_gone NAME SECONDS: the demo's redis-server is gone within SECONDS;
# prints how long it took (ms).
redis_gone() {
  local name=$1 t0 deadline
  t0=$(now_ms)
  deadline=$((t0 + $2 * 1000))
  while redis_pids "$REDIS_DIR/" | grep -x "$REDIS_PID" >/dev/null; do
    (($(now_ms) < deadline)) ||
      fail "$name: redis-server $REDIS_PID ($REDIS_DIR) still runs $2 s after the demo ended"
    sleep 0.05
  done
  echo $(($(now_ms) - t0))
}

# no_leftovers NAME: no redis-server on any riskwatch-redis- socket of this
# script, and no riskwatch-redis- dir left behind.
no_leftovers() {
  local name=$1 pids left
  pids=$(redis_pids "$WORK/tmp/riskwatch-redis-")
  [[ -z $pids ]] || fail "$name: redis-server(s) still running: $pids"
  [[ ! -e $REDIS_DIR ]] || fail "$name: the redis dir $REDIS_DIR was not removed: $(ls -A "$REDIS_DIR")"
  left=$(find "$WORK/tmp" -mindepth 1 -maxdepth 1 -name 'riskwatch-redis-*')
  [[ -z $left ]] || fail "$name: left behind: $left"
}

# Pre-existing demo redis-servers (not ours; never touched).
before=$(redis_pids riskwatch-redis- | sort)

# ---- (a) a small demo runs to the end ---------------------------------------------

start_demo small -X demo.accounts=60 -X demo.days=150
await_redis small
wait_exit small 120
[[ $DEMO_RC -eq 0 ]] || fail "small demo: exit code $DEMO_RC, expected 0$(show small)"
ok "demo -X demo.accounts=60 -X demo.days=150 exits 0 in $((($(now_ms) - DEMO_START) / 1000)) s"

out=$WORK/small.out
grep -qE '^population: 60 accounts: [0-9]+ steady' "$out" ||
  fail "small demo: no 'population: 60 accounts: ...' line$(show small)"
ok "small demo prints the population line: $(grep -m1 '^population:' "$out")"
grep -qx '== summary ==' "$out" || fail "small demo: no '== summary ==' section$(show small)"
ok "small demo prints the summary section"
grep -qE '^processed .*[^0-9]3 to the DLQ \(too_short 1, bad_magic 1, unknown_schema 1\)$' "$out" ||
  fail "small demo: the summary does not report 3 records to the DLQ$(show small)"
ok "small demo reports 3 records to the DLQ"
firing=$(grep -cE '^\{.*"status":"FIRING".*"rule":"churn\.[a-z_]+".*\}$' "$out" || true)
((firing > 0)) || fail "small demo: no FIRING churn.* alert JSON line on stdout$(show small)"
if command -v jq >/dev/null; then
  grep -E '^\{' "$out" | jq -e -s \
    'map(select(.status == "FIRING" and (.rule | startswith("churn.")))) | length > 0' \
    >/dev/null || fail "small demo: the alert lines are not JSON with a FIRING churn.* alert"
fi
ok "small demo prints $firing FIRING churn.* alert line(s), rules: $(grep -oE '"rule":"churn\.[a-z_]+"' "$out" |
  sed 's/"rule"://; s/"//g' | sort -u | tr '\n' ' ')"

# The summary's table of alerts by rule and severity: rows "RULE SEVERITY
# FIRING RESOLVED", then "total N" = every transition printed as a line.
# The generated population (seed 42: 2 accounts in each churn scenario, a
# dominant account and vendor-01) makes every churn rule fire, inactivity
# included (the vanished accounts, evaluated as event time passes), and the
# dependency rules for the dominant account and vendor.
table=$(sed -n '/^rule  *severity  *FIRING  *RESOLVED$/,/^total /p' "$out")
[[ -n $table ]] || fail "small demo: no table of alerts by rule and severity$(show small)"
echo "$table"
"$PY" - "$out" <<'PYEOF' || fail "small demo: the table of alerts by rule and severity is wrong$(show small)"
import json, re, sys
text = open(sys.argv[1]).read().splitlines()
lines = [json.loads(l) for l in text if l.startswith("{")]
start = text.index(next(l for l in text if re.match(r"rule +severity +FIRING +RESOLVED$", l)))
rows, total = {}, None
for l in text[start + 1:]:
    m = re.fullmatch(r"([a-z_.]+) +(INFO|WARNING|CRITICAL) +(\d+) +(\d+)", l)
    if m:
        rows[(m[1], m[2])] = (int(m[3]), int(m[4]))
        continue
    m = re.fullmatch(r"total +(\d+)", l)
    assert m, "unexpected line in the table: %r" % l
    total = int(m[1])
    break
fired = {}
for (rule, sev), (f, r) in rows.items():
    fired[rule] = fired.get(rule, 0) + f
# Every row agrees with the JSON lines, and the total with their number.
for (rule, sev), (f, r) in rows.items():
    got = (sum(1 for a in lines if (a["rule"], a["severity"], a["status"]) == (rule, sev, "FIRING")),
           sum(1 for a in lines if (a["rule"], a["severity"], a["status"]) == (rule, sev, "RESOLVED")))
    assert got == (f, r), "row %s %s says %s, the lines %s" % (rule, sev, (f, r), got)
assert total == len(lines) == sum(f + r for f, r in rows.values()), (total, len(lines))
for rule in ("churn.order_drop", "churn.spend_drop", "churn.inactivity", "churn.support_spike",
             "churn.low_satisfaction", "churn.refund_rate"):
    assert fired.get(rule, 0) > 0, "no FIRING row for %s" % rule
# The dependency rules, decided at hourly event-time boundaries: the
# dominant account's share of net spend (~30%), vendor-01's share of order
# value (~55%) and the vendors' HHI it drives over 2500.
for rule in ("dependency.account_share", "dependency.vendor_share", "dependency.vendor_hhi"):
    assert fired.get(rule, 0) > 0, "no FIRING row for %s" % rule
PYEOF
ok "small demo's table of alerts by rule and severity agrees with its $(grep -c '^{' "$out") alert lines"

# The labels against the alerts: every churning account fired its rule, no
# steady account fired anything, the dominant account and vendor fired the
# dependency rules.
scen() { awk -v s="$1" '$1 == "scenario" && $2 == "accounts" { t = 1 } t && $1 == s { print }' "$out"; }
[[ $(scen steady | awk '{ print $3 }') == 0 ]] || fail "small demo: a steady account fired: $(scen steady)"
for s in fading vanished angry refunding dominant; do
  line=$(scen "$s")
  [[ -n $line ]] || fail "small demo: no '$s' row in the scenario table$(show small)"
  read -r _ n alerted _ <<<"$line"
  [[ $n -gt 0 && $alerted == "$n" ]] || fail "small demo: $alerted of $n $s account(s) fired: $line"
done
scen fading | grep 'churn.order_drop' >/dev/null || fail "small demo: fading accounts did not fire order_drop"
scen vanished | grep 'churn.inactivity' >/dev/null || fail "small demo: vanished accounts did not fire inactivity"
scen angry | grep 'churn.support_spike' >/dev/null || fail "small demo: angry accounts did not fire support_spike"
scen refunding | grep 'churn.refund_rate' >/dev/null || fail "small demo: refunding accounts did not fire refund_rate"
scen dominant | grep 'dependency.account_share' >/dev/null || fail "small demo: the dominant account did not fire account_share"
[[ $(scen vendors | awk '{ print $2 }') == vendor-01 ]] || fail "small demo: vendors that fired: $(scen vendors)"
grep -qE '^\{.*"status":"FIRING","severity":"CRITICAL","rule":"dependency.vendor_share","subject":"VENDOR/vendor-01"' "$out" ||
  fail "small demo: no CRITICAL vendor_share line for vendor-01"
ok "small demo: each labelled scenario fired its rules, no steady account fired, vendor-01 alone fired vendor_share"

# ---- (b) its redis-server and temp dir are gone -------------------------------------

redis_gone small 0 >/dev/null
no_leftovers small
ok "small demo: its redis-server ($REDIS_PID) and $REDIS_DIR are gone when it exits"

# ---- (b2) the same history gives the same alert ids ---------------------------------

TMPDIR="$WORK/tmp" timeout 120 "$RW_BIN" demo -X demo.accounts=60 -X demo.days=150 \
  >"$WORK/again.out" 2>"$WORK/again.err" || fail "second small demo failed: $(tail -5 "$WORK/again.err")"
ids1=$(grep -oE '"alert_id":"[0-9a-f]+"' "$out" | sort)
ids2=$(grep -oE '"alert_id":"[0-9a-f]+"' "$WORK/again.out" | sort)
[[ -n $ids1 && $ids1 == "$ids2" ]] ||
  fail "the same generated history gave different alerts: $(diff <(echo "$ids1") <(echo "$ids2") | head -5)"
ok "the same history gives the same $(wc -l <<<"$ids1") alert id(s) in a second run"

# ---- (c) Ctrl-C ---------------------------------------------------------------------

start_demo sigint
await_redis sigint
sleep_ms=$((1500 - ($(now_ms) - DEMO_START)))
((sleep_ms <= 0)) || sleep "$(printf '%d.%03d' $((sleep_ms / 1000)) $((sleep_ms % 1000)))"
st=$(proc_state "$DEMO_PID") || st="gone"
read -r _ _ pgrp <<<"$st"
if [[ ${pgrp:-} == "$DEMO_PID" ]]; then
  # As a terminal's Ctrl-C: the whole foreground process group.
  kill -INT -- "-$DEMO_PID" 2>/dev/null || true
else
  kill -INT "$DEMO_PID" 2>/dev/null || true
fi
t_int=$(now_ms)
wait_exit sigint 15
how="exit code $DEMO_RC"
grep -qx interrupted "$WORK/sigint.out" && how+=", printed 'interrupted'"
((DEMO_RC < 128)) || how+=" (killed by signal $((DEMO_RC - 128)))"
ok "demo exits $(($(now_ms) - t_int)) ms after SIGINT at ~1.5 s: $how"
ms=$(redis_gone sigint 2)
no_leftovers sigint
ok "Ctrl-C: no redis-server and no riskwatch-redis- dir remain (redis gone after ${ms} ms)"

# ---- (d) SIGKILL ----------------------------------------------------------------------

start_demo sigkill
await_redis sigkill
sleep_ms=$((1500 - ($(now_ms) - DEMO_START)))
((sleep_ms <= 0)) || sleep "$(printf '%d.%03d' $((sleep_ms / 1000)) $((sleep_ms % 1000)))"
alive "$DEMO_PID" || fail "sigkill: the demo ended before it could be killed$(show sigkill)"
# Disowned: bash would report the killed job on stderr; the exit code of a
# SIGKILLed process says nothing.
disown "$DEMO_PID"
kill -KILL "$DEMO_PID"
t_kill=$(now_ms)
while alive "$DEMO_PID"; do
  (($(now_ms) < t_kill + 5000)) || fail "sigkill: the demo still runs 5 s after SIGKILL"
  sleep 0.02
done
DEMO_PID=""
redis_gone sigkill 5 >/dev/null
ok "SIGKILL: the demo's redis-server $REDIS_PID is gone $(($(now_ms) - t_kill)) ms after the demo was killed"
# A killed demo cannot remove its dir; the trap does (it is in $WORK/tmp).

# ---- nothing of ours is left --------------------------------------------------------

after=$(redis_pids riskwatch-redis- | sort)
new=$(comm -13 <(echo "$before") <(echo "$after") | sed '/^$/d')
for pid in $new; do
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
  [[ $cmdline != *"$WORK/"* ]] || fail "redis-server $pid of this test still runs: $cmdline"
  echo "note: ignoring redis-server $pid, not started by this test: $cmdline"
done
ok "no redis-server started by this test remains"

echo "ok: all demo checks passed"
