#!/usr/bin/env bash
# Every kind of bad input, through the real broker: each poison record lands in
# the DLQ once, with the contract's reason and headers and its original key and
# bytes; the valid records around it are applied; offsets move past it all.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

create_topics 3
"$PY" "$RW_SOURCE_DIR/tests/integration/poison.py" make "$RW_SOURCE_DIR/schemas" "$WORK/cases"

day=86400000
t0=1772344800000   # 2026-03-01T06:00:00Z
for i in 0 1; do
  printf '{"type":"order","event_id":"ok-%d","account_id":"acct-valid","vendor_id":"vendor-1","kind":"PLACED","amount_minor":500,"currency":"EUR","occurred_at":%d}\n' \
    "$i" $((t0 + i * day))
done | "$PY" "$RW_SOURCE_DIR/tests/integration/make_events.py" "$RW_SOURCE_DIR/schemas" "$WORK/valid"

# Everything on partition 0, in this order: the valid record at T0 sets the
# partition's watermark before the too-late record arrives.
produce() {   # produce TOPIC KEY FILE: one record, the file's bytes as its value
  if [[ -s $3 ]]; then
    kcat -P -b "$KAFKA_BOOTSTRAP" -t "$1" -p 0 -k "$2" "$3"
  else
    # An empty value (not a null one): "KEY;" with ';' as kcat's key delimiter.
    printf '%s;' "$2" | kcat -P -b "$KAFKA_BOOTSTRAP" -t "$1" -p 0 -K ';'
  fi
}
produce "$T_ORDERS" acct-valid "$WORK/valid/0000.bin"
n=0
for topic in orders support; do
  t=$T_ORDERS; [[ $topic == support ]] && t=$T_SUPPORT
  for f in "$WORK/cases/$topic"/*.bin; do
    produce "$t" "$topic/$(basename "$f" .bin)" "$f"
    n=$((n + 1))
  done
done
produce "$T_ORDERS" acct-valid "$WORK/valid/0001.bin"
ok "produced $n poison records between two valid ones"

rc=0
rw run -e >"$WORK/out" 2>"$WORK/run.log" || rc=$?
[[ $rc -eq 0 ]] || { tail -20 "$WORK/run.log" >&2; fail "riskwatch run exited $rc"; }
grep -E "to the DLQ \(" "$WORK/run.log" || fail "the exit summary does not count the DLQ per reason"
[[ $(grep -c "to the DLQ:" "$WORK/run.log") -le 8 ]] ||
  fail "DLQ log lines are not rate-limited per reason: $(grep -c "to the DLQ:" "$WORK/run.log")"
ok "run exits 0; DLQ log lines rate-limited, counted per reason at exit"

kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_DLQ" -e -q -f '%K:%k%S:%s%h\n' >"$WORK/dlq.dump"
"$PY" "$RW_SOURCE_DIR/tests/integration/poison.py" check "$WORK/cases" "$WORK/dlq.dump" \
  "$T_ORDERS" "$T_SUPPORT"

keys=$(rcli --scan --pattern "$NS:*")
akey=$(grep ":a:acct-valid$" <<<"$keys") || fail "the valid records left no state"
[[ $(rcli HGET "$akey" m | cut -d, -f4) == 2 ]] || fail "expected both valid orders counted in $akey"
ok "both valid records around the poison were applied"
for t in "$T_ORDERS" "$T_SUPPORT"; do
  stored=0
  for k in $(grep ":off:$t$" <<<"$keys"); do stored=$((stored + $(rcli GET "$k"))); done
  total=$(kcat -C -b "$KAFKA_BOOTSTRAP" -t "$t" -e -q -f '.\n' | wc -l)
  [[ $stored -eq $total ]] || fail "$t: stored offsets cover $stored of $total records"
  ok "$t: stored offsets moved past all $total records"
done
