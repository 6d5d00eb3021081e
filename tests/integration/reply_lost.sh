#!/usr/bin/env bash
# A write Redis executed but whose reply was lost (here: a write that takes
# Redis longer than redis.timeout, the run's wait for the reply giving up)
# is recognised when sent again: the partition's stored offset is the one
# the write itself stores, so it landed. The run goes on from there, counts
# it ("landed with the reply lost" in its summary), and
# neither applies it twice nor takes it for another owner's write (fenced,
# the partition rebuilt from Redis). The state and the alerts equal one
# clean pass's.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap 'pkill -KILL -f "group-$ID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

create_topics 2
rw gen --seed 41 --accounts 10000 --days 120 -n 100000 2>"$WORK/gen.err" ||
  { cat "$WORK/gen.err"; fail "gen"; }
total=$(grep -oE '^gen: [0-9]+ events' "$WORK/gen.err" | grep -oE '[0-9]+')

ids() { grep -oE '"alert_id": *"[^"]+"' "$1" | sort -u; }

rw run -e -X state.namespace="${NS}clean" -X group.id="group-$ID-clean" \
  >"$WORK/clean.alerts" 2>"$WORK/clean.log" || fail "clean pass: $(tail -3 "$WORK/clean.log")"
grep -q "run: $total consumed, $total applied" "$WORK/clean.log" ||
  fail "clean pass: $(grep 'run: ' "$WORK/clean.log" | tail -1)"

# One batch of everything (a prefetch that holds it all, and time for the
# batch to fill), its write alone, and 10 ms for Redis to answer it: the run
# has nothing else to do while Redis executes it. Redis' time goes mostly
# by account (an HSET each): 10 000 accounts, so that even a fast machine
# takes longer than the run waits (with 3 000, it answered in time in about
# half the runs on a quiet machine).
rw run -e -X state.namespace="${NS}slow" -X group.id="group-$ID-slow" -X batch.size=100000 \
  -X batch.timeout=2s -X kafka.queued.min.messages=100000 \
  -X kafka.queued.max.messages.kbytes=65536 \
  -X write.max.delay=0 -X redis.timeout=10ms >"$WORK/slow.alerts" 2>"$WORK/slow.log" ||
  fail "run with redis.timeout=10ms: $(tail -3 "$WORK/slow.log")"
summary=$(grep -E 'run: [0-9]+ consumed' "$WORK/slow.log" | tail -1)
unacked=$(grep -oE '[0-9]+ landed with the reply lost' <<<"$summary" | grep -oE '^[0-9]+' || true)
fenced=$(grep -oE '[0-9]+ fenced' <<<"$summary" | grep -oE '^[0-9]+' || true)
((${unacked:-0} > 0)) || fail "no write found landed with its reply lost: $summary"
[[ ${fenced:-x} == 0 ]] || fail "a run alone in its group counted ${fenced:-?} write(s) fenced: $summary"
grep -qE "redis: the write of .* up to offset [0-9]+ had landed, its reply lost" "$WORK/slow.log" ||
  fail "the run did not say which write had landed"
grep -q "fenced: " "$WORK/slow.log" && fail "a landed write was taken for another owner's: $(grep -m1 'fenced: ' "$WORK/slow.log")"
ok "$unacked write(s) whose reply was lost found landed, 0 fenced: $summary"

same_state "${NS}clean" "${NS}slow" "writes whose reply was lost"
cmp -s <(ids "$WORK/clean.alerts") <(ids "$WORK/slow.alerts") ||
  fail "the alerts differ from one clean pass's ($(ids "$WORK/clean.alerts" | wc -l) against $(ids "$WORK/slow.alerts" | wc -l))"
ok "the same $(ids "$WORK/clean.alerts" | wc -l) alert ids as one clean pass"
