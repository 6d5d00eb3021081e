#!/usr/bin/env bash
# The end of a catch-up gives the allocator's free memory back to the
# kernel (real broker, private Redis). 60 000 generated events (2 000
# accounts over 120 days: about 2 900 hourly boundaries) are in the topics
# before a live `riskwatch run` starts: the dependency decider catches up,
# pass after pass (up to 400 boundaries each), and once a pass decides
# nothing riskwatch says what the catch-up decided and how much resident
# memory malloc_trim() returned:
#   - the line is there, with at least 4 deciding passes, and the passes
#     decide the boundaries of the input's 120 days (some may come after
#     the catch-up, in fewer passes than make one);
#   - resident memory after it is lower than before (not checked under the
#     sanitizers: their allocator is not glibc's);
#   - restarted over the same input, nothing left to decide, riskwatch says
#     nothing of the kind (its decider passes every half second);
#   - on a live stream the decider decides a boundary at a time, with passes
#     that decide nothing between: orders an hour apart in event time (one
#     per orders partition, so the group's low watermark moves), 1.2 s apart,
#     are decided boundary by boundary and nothing is said or trimmed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap 'pkill -KILL -f "group.id=group-$ID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

create_topics 4
rw gen --accounts 2000 --days 120 --start 2026-01-01 --seed 3 -n 60000 2>"$WORK/gen.err" ||
  { cat "$WORK/gen.err" >&2; fail "gen"; }
grep -E '^gen: ' "$WORK/gen.err"

# live_start PREFIX ERE SECONDS: a live run in the background (its pid in
# live_pid, its log in $WORK/PREFIX.log) once its log holds a line matching
# ERE, or SECONDS passed.
live_start() {
  rw run -X log.file=/dev/null -X log.level=debug >/dev/null 2>"$WORK/$1.log" &
  live_pid=$!
  for _ in $(seq $(($3 * 10))); do
    grep -E "$2" "$WORK/$1.log" >/dev/null && return
    kill -0 "$live_pid" 2>/dev/null || return
    sleep 0.1
  done
}
# live_stop: SIGTERM to this test's riskwatch (rw runs it from a subshell,
# so live_pid is not its pid) and wait for it to leave the group.
live_stop() {
  pkill -TERM -f "group.id=group-$ID" 2>/dev/null || true
  for _ in $(seq 100); do
    pgrep -f "group.id=group-$ID" >/dev/null || { wait "$live_pid" || true; return 0; }
    sleep 0.1
  done
  fail "riskwatch did not stop on SIGTERM within 10 s"
}
# decided_total LOG: the boundaries its passes decided (debug lines).
decided_total() {
  { grep -oE '[0-9]+ boundary\(ies\) decided' "$1" || true; } | awk '{ n += $1 } END { print n + 0 }'
}
# A catch-up cut short by a pass that found nothing to decide yet (the loop
# had not read that far) goes on once the loop reads further, in as many
# passes as it takes (fewer than 4 make no catch-up line): the run goes on
# until its passes have decided the input's boundaries, 30 s at most.
live_start run 'dependency rules: caught up' 60
for _ in $(seq 150); do
  (($(decided_total "$WORK/run.log") >= 2000)) && break
  sleep 0.2
done
sleep 1
live_stop
lines=$(grep -E 'dependency rules: caught up' "$WORK/run.log" || true)
[[ -n $lines ]] || fail "no catch-up reported: $(grep -E 'dependency|run: ' "$WORK/run.log" | tail -5)"
echo "$lines" | cut -c1-300
re='caught up \(([0-9]+) boundaries in ([0-9]+) passes over [0-9.]+ s\); ([0-9.]+) MiB of free memory returned to the system in [0-9.]+ ms \(resident ([0-9.]+) -> ([0-9.]+) MiB\)'
caught=0
sanitized && asan=1 || asan=0
while read -r line; do
  [[ $line =~ $re ]] || fail "unexpected catch-up line: $line"
  ((BASH_REMATCH[2] >= 4)) || fail "a catch-up of ${BASH_REMATCH[2]} passes (at least 4 make one): $line"
  caught=$((caught + BASH_REMATCH[1]))
  ((asan)) && continue
  $PY -c 'import sys; b, a = map(float, sys.argv[1:]); sys.exit(not a < b)' "${BASH_REMATCH[4]}" "${BASH_REMATCH[5]}" ||
    fail "no memory returned: $line"
done <<<"$lines"
# Every boundary up to the input's last hour, less the window's lateness;
# the catch-ups' lines say no more than the passes decided.
decided=$(decided_total "$WORK/run.log")
((decided >= 2000)) || fail "the passes decided $decided boundaries (about 2 900 in 120 days)"
((caught > 0 && caught <= decided)) ||
  fail "the catch-up lines say $caught boundaries, the passes decided $decided"
ok "the passes decided $decided boundaries, $caught of them in catch-ups that returned their free memory"

# Restarted: assigned, then 3 s of decider passes with nothing to decide.
live_start again "assigned $T_ORDERS \\[3\\]" 30
sleep 3
live_stop
grep -E "assigned $T_ORDERS \\[3\\]" "$WORK/again.log" >/dev/null || fail "not restarted: $(tail -3 "$WORK/again.log")"
! grep -E 'caught up' "$WORK/again.log" >/dev/null ||
  fail "a run with nothing to decide reported a catch-up: $(grep 'caught up' "$WORK/again.log")"
ok "restarted with nothing to decide: nothing reported"

# A live stream after the input's end (2026-05-01): 6 steps of an hour.
live_start stream "assigned $T_ORDERS \\[3\\]" 30
grep -E "assigned $T_ORDERS \\[3\\]" "$WORK/stream.log" >/dev/null ||
  fail "not assigned: $(tail -3 "$WORK/stream.log")"
t0=1777680000000   # 2026-05-02T00:00:00Z
sleep 1.2
n0=$(grep -c 'boundary(ies) decided' "$WORK/stream.log" || true)
for k in 1 2 3 4 5 6; do
  for p in 0 1 2 3; do
    order "live-$k-$p" "acct-live-$p" $((t0 + k * 3600000)) | make_events "l$k$p"
    kcat -P -b "$KAFKA_BOOTSTRAP" -t "$T_ORDERS" -p "$p" -k "acct-live-$p" "$WORK/l$k$p"/*.bin
  done
  sleep 1.2
done
live_stop
steps=$(($(grep -c 'boundary(ies) decided' "$WORK/stream.log" || true) - n0))
((steps >= 5)) ||
  fail "the stream's steps were decided in $steps pass(es), not one each: $(grep 'decided' "$WORK/stream.log" | tail -8)"
! grep -E 'caught up' "$WORK/stream.log" >/dev/null ||
  fail "a live stream deciding a boundary at a time reported a catch-up: $(grep 'caught up' "$WORK/stream.log")"
ok "a live stream: $steps deciding passes, one per step, and no catch-up reported"
