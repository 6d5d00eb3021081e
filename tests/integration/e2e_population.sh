#!/usr/bin/env bash
# End to end over a generated, labelled population on the real broker and
# Redis: 300 accounts over 180 days (steady ones; fading, vanished, angry and
# refunding ones from a labelled onset; a dominant account and vendor-01) into
# 3-partition topics, one `riskwatch run -e`, then every alert on the alerts
# topic (decoded with python3-avro) and every JSON line is judged against the
# contract and the labels by check_population.py: each labelled case fires
# its rule and severity, never before its onset; steady accounts and other
# vendors stay quiet; key = fingerprint; one id per transition; lifecycle.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SEED=7
DAYS=180
START=2026-01-01
START_MS=1767225600000
create_topics 3

rw gen --seed "$SEED" --days "$DAYS" --start "$START" --labels "$WORK/labels.csv" 2>"$WORK/gen.err" ||
  { cat "$WORK/gen.err" >&2; fail "gen"; }
grep -E '^gen: ' "$WORK/gen.err"
total=$(grep -oE '^gen: [0-9]+ events' "$WORK/gen.err" | grep -oE '[0-9]+')

rc=0
timeout 150 "$BASH" -c "$(declare -f rw); $(declare -p RW_BIN KAFKA_BOOTSTRAP REDIS_URL NS ID T_ORDERS T_SUPPORT T_ALERTS T_DLQ); rw run -e" \
  >"$WORK/lines.jsonl" 2>"$WORK/run.log" || rc=$?
[[ $rc -eq 0 ]] || { tail -20 "$WORK/run.log" >&2; fail "riskwatch run -e exited $rc"; }
grep -E 'run: [0-9]+ consumed' "$WORK/run.log" | tail -1
grep -qE "run: $total consumed, $total applied" "$WORK/run.log" ||
  fail "the run did not apply all $total events: $(grep -E 'run: [0-9]+ consumed' "$WORK/run.log" | tail -1)"
ok "riskwatch run -e applied all $total generated events"

kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T_ALERTS" -e -q -D '' -f '%p:%o:%K:%k%S:%s' |
  "$PY" "$RW_SOURCE_DIR/tests/integration/read_alerts.py" "$RW_SOURCE_DIR/schemas" >"$WORK/alerts.jsonl" ||
  fail "the alerts topic holds a record that is not a framed RiskAlert"
ok "$(wc -l <"$WORK/alerts.jsonl") framed RiskAlert records on $T_ALERTS, $(grep -c '^{' "$WORK/lines.jsonl" || true) JSON lines on stdout"

rw decode -t "$T_ORDERS" -e --epoch >"$WORK/orders.jsonl" 2>"$WORK/decode.err" ||
  { cat "$WORK/decode.err" >&2; fail "decode of the orders topic"; }

"$PY" "$RW_SOURCE_DIR/tests/integration/check_population.py" "$WORK/labels.csv" \
  "$WORK/alerts.jsonl" "$WORK/lines.jsonl" "$WORK/orders.jsonl" "$START_MS" "$DAYS" ||
  fail "the alerts do not match the labelled population (see above)"
ok "every labelled case fired its rule, nothing else fired"

# What the dependency rules were decided on, as ops see it.
rw inspect --portfolio >"$WORK/portfolio.txt" || fail "inspect --portfolio"
cat "$WORK/portfolio.txt"
rw inspect --portfolio --json >"$WORK/portfolio.json" || fail "inspect --portfolio --json"
"$PY" - "$WORK/portfolio.json" <<'PYEOF' || fail "inspect --portfolio: unexpected figures"
import json, sys
p = json.load(open(sys.argv[1]))
assert p["partitions"] == 3 and p["last_boundary"] > p["history_from"] > 0, p
assert p["top_vendors"][0]["id"] == "vendor-01" and p["top_vendors"][0]["share"] > 0.5, p
assert p["vendor_hhi"] > 2500 and p["account_hhi"] < 1800, p
assert p["firing"] == 3 and p["outbox"] == 0, p
PYEOF
ok "inspect --portfolio: vendor-01 leads, 3 dependency alerts firing, nothing waiting for delivery"
