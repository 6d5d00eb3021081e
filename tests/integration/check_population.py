#!/usr/bin/python3
"""check_population.py - judges the alerts of one `riskwatch run` over a
generated, labelled population against the contract and the generator's
labels, and prints what fired (rule x severity x scenario).

usage: check_population.py LABELS.csv ALERTS.jsonl LINES.jsonl ORDERS.jsonl START_MS DAYS

  LABELS.csv    `riskwatch gen --labels`: account_id,scenario,onset_ms
  ALERTS.jsonl  read_alerts.py's decoding of the alerts topic
  LINES.jsonl   the JSON lines `riskwatch run` printed
  ORDERS.jsonl  `riskwatch decode -t ORDERS -e --epoch`: the input orders, from which
                the dependency figures (shares, HHI) are recomputed here
  START_MS DAYS the generated history's first event-time day and length

Every problem is listed, each naming the labelled case or alert; exit 1 if any.
"""
import collections
import csv
import datetime
import json
import re
import sys

DAY = 86400000
SEV = {"INFO": 0, "WARNING": 1, "CRITICAL": 2}
# The contract's rule table: subject type, and for dependency rules the
# WARNING and CRITICAL thresholds.
RULES = {
    "churn.order_drop": "ACCOUNT", "churn.spend_drop": "ACCOUNT",
    "churn.inactivity": "ACCOUNT", "churn.support_spike": "ACCOUNT",
    "churn.low_satisfaction": "ACCOUNT", "churn.refund_rate": "ACCOUNT",
    "dependency.account_share": "ACCOUNT", "dependency.vendor_share": "VENDOR",
    "dependency.account_hhi": "PORTFOLIO", "dependency.vendor_hhi": "PORTFOLIO",
}
DEP_THRESHOLDS = {
    "dependency.account_share": (0.25, 0.40), "dependency.vendor_share": (0.30, 0.50),
    "dependency.account_hhi": (1800, 2500), "dependency.vendor_hhi": (1800, 2500),
}
DEP_MIN_HISTORY_D = 30
DEP_WINDOW_D = 90
COOLDOWN = DAY
# What each labelled scenario must fire, at least once, at or after its
# onset: rule -> the severities accepted for its first FIRING transition
# (an episode may escalate later). Derived from gen/gen.c:
#   fading:    orders fall to 15-25% of the rate before (and amounts shrink)
#   vanished:  no order after the onset at all (time-driven rule)
#   angry:     a burst of 4-6 tickets, the first URGENT and ESCALATED, with
#              sentiment -1..-0.6 and CSAT 1-2 on every survey after it
#   refunding: half of the orders after the onset come back
EXPECTED = {
    "fading": {"churn.order_drop": {"WARNING", "CRITICAL"}},
    "vanished": {"churn.inactivity": {"WARNING"}},
    "angry": {"churn.support_spike": {"CRITICAL"}, "churn.low_satisfaction": {"WARNING"}},
    "refunding": {"churn.refund_rate": {"WARNING"}},
}
def iso(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def duration(ms):
    """ms as riskwatch prints a duration: "15d 2h", "3h 20m", "45s"."""
    ms = abs(int(ms))
    units = [(DAY, "d"), (3600000, "h"), (60000, "m"), (1000, "s")]
    i = 0
    while i < len(units) - 1 and ms < units[i][0]:
        i += 1
    if i + 1 < len(units) and ms % units[i][0] >= units[i + 1][0]:
        return "%d%s %d%s" % (ms // units[i][0], units[i][1],
                              ms % units[i][0] // units[i + 1][0], units[i + 1][1])
    return "%d%s" % (ms // units[i][0], units[i][1])


def day(ms):
    return ms // DAY


def dependency_reference(orders_path, start_ms, days):
    """Recomputes the dependency figures per day boundary from the input
    orders: for every day from 30 days into the history to its end, over the
    90 days up to it, each account's net spend (PLACED - REFUNDED) and each
    vendor's PLACED value. Returns, per (rule, subject), the highest value
    over all boundaries (shares as fractions, HHI on 0..10000)."""
    acct = collections.defaultdict(lambda: collections.defaultdict(int))
    vend = collections.defaultdict(lambda: collections.defaultdict(int))
    for line in open(orders_path):
        v = json.loads(line)["value"]
        d = day(v["occurred_at"])
        if v["kind"] == "PLACED":
            acct[v["account_id"]][d] += v["amount_minor"]
            vend[v["vendor_id"]][d] += v["amount_minor"]
        elif v["kind"] == "REFUNDED":
            acct[v["account_id"]][d] -= v["amount_minor"]
    best = collections.defaultdict(float)
    d0 = day(start_ms)
    for end in range(d0 + DEP_MIN_HISTORY_D, d0 + days):
        lo = end - DEP_WINDOW_D + 1
        for kind, table in (("account", acct), ("vendor", vend)):
            tot = {s: sum(x for dd, x in per.items() if lo <= dd <= end) for s, per in table.items()}
            total = sum(tot.values())
            if total <= 0:
                continue
            hhi = sum(x * x for x in tot.values()) / (total * total) * 10000
            key = ("dependency.%s_hhi" % kind, kind + "s")
            best[key] = max(best[key], hhi)
            for s, x in tot.items():
                key = ("dependency.%s_share" % kind, s)
                best[key] = max(best[key], x / total)
    return best


def expected_dependency(rule, value):
    """The severities a dependency rule may reach on a subject whose highest
    value is `value`: set() = must not fire. Values within 5% of a threshold
    accept either side."""
    warn, crit = DEP_THRESHOLDS[rule]
    if value < warn * 0.95:
        return set()
    ok = set()
    if value > warn * 0.95 and value < crit * 1.05:
        ok.add("WARNING")
    if value > crit * 0.95:
        ok.add("CRITICAL")
    if value < warn * 1.05:
        ok.add(None)     # may stay quiet
    return ok


def main():
    labels_path, alerts_path, lines_path, orders_path = sys.argv[1:5]
    start_ms, days = int(sys.argv[5]), int(sys.argv[6])
    end_ms = start_ms + days * DAY
    problems = collections.defaultdict(list)   # check -> [message]

    labels = {}
    for r in csv.DictReader(open(labels_path)):
        labels[r["account_id"]] = (r["scenario"], int(r["onset_ms"]) if r["onset_ms"] else None)
    alerts = [json.loads(l) for l in open(alerts_path)]
    lines = [json.loads(l) for l in open(lines_path) if l.startswith("{")]
    if not alerts:
        sys.exit("FAIL: no alert on the alerts topic")

    # ---- every record on its own --------------------------------------------
    by_id = collections.defaultdict(list)
    by_transition = collections.defaultdict(set)
    for a in alerts:
        fp = "%s/%s/%s" % (a["rule"], a["subject_type"], a["subject_id"])
        where = "%s (partition %d offset %d)" % (a["alert_id"], a["_partition"], a["_offset"])
        if a["_key"] != a["fingerprint"]:
            problems["key = fingerprint"].append("%s: key %r, fingerprint %r" % (where, a["_key"], a["fingerprint"]))
        if a["fingerprint"] != fp:
            problems["fingerprint = rule/subject_type/subject_id"].append("%s: %r != %r" % (where, a["fingerprint"], fp))
        if RULES.get(a["rule"]) != a["subject_type"]:
            problems["rule and subject type"].append("%s: %s on %s" % (where, a["rule"], a["subject_type"]))
        if a["category"] != a["rule"].split(".")[0].upper():
            problems["category"].append("%s: %s is %s" % (where, a["rule"], a["category"]))
        if not re.fullmatch(r"[0-9a-f]{32}", a["alert_id"]):
            problems["alert id format"].append(where)
        if a["replay"]:
            problems["replay flag"].append(where + ": replay=true in a live run")
        if not start_ms <= a["event_time"] <= end_ms:
            problems["event time within the history"].append("%s: %s" % (where, iso(a["event_time"])))
        timed = (a["source_topic"], a["source_partition"], a["source_offset"])
        if (timed[0] == "") != (timed[1] == -1) or (timed[1] == -1) != (timed[2] == -1):
            problems["source of a time-driven alert"].append("%s: %r" % (where, timed))
        by_id[a["alert_id"]].append(a)
        by_transition[(a["fingerprint"], a["status"], a["severity"], a["event_time"])].add(a["alert_id"])
    for aid, recs in by_id.items():
        if len(recs) > 1:
            problems["one record per alert id"].append("%s appears %d times" % (aid, len(recs)))
    for t, ids in by_transition.items():
        if len(ids) > 1:
            problems["one alert id per (fingerprint, status, severity, event_time)"].append("%r: %s" % (t, sorted(ids)))

    # ---- the JSON lines say the same as the Avro records --------------------
    line_ids = collections.Counter(l["alert_id"] for l in lines)
    for aid in set(by_id) ^ set(line_ids):
        problems["JSON lines = Avro records"].append(
            "%s only %s" % (aid, "on the topic" if aid in by_id else "on stdout"))
    for l in lines:
        a = by_id.get(l["alert_id"], [None])[0]
        if a is None:
            continue
        want = {"rule": a["rule"], "status": a["status"], "severity": a["severity"],
                "subject": "%s/%s" % (a["subject_type"], a["subject_id"]),
                "summary": a["summary"], "event_time": iso(a["event_time"])}
        got = {k: l.get(k) for k in want}
        if got != want:
            problems["JSON lines = Avro records"].append("%s: line %r, record %r" % (l["alert_id"], got, want))
        elif isinstance(l["observed"], str):
            # a duration, as a person reads it
            if (l["observed"], l["threshold"]) != (duration(a["observed"]), duration(a["threshold"])):
                problems["JSON lines = Avro records"].append(
                    "%s: line %r/%r, record %r/%r" % (l["alert_id"], l["observed"], l["threshold"],
                                                      a["observed"], a["threshold"]))
        elif abs(l["observed"] - a["observed"]) > 1e-3 * max(1, abs(a["observed"])):
            problems["JSON lines = Avro records"].append("%s: line %r, record %r" % (l["alert_id"], got, want))

    # ---- lifecycle per fingerprint, in the order they were produced ---------
    per_fp = collections.defaultdict(list)
    for a in sorted(alerts, key=lambda a: (a["_partition"], a["_offset"])):
        per_fp[a["fingerprint"]].append(a)
    for fp, seq in per_fp.items():
        firing, sev, resolved_at, last_t = False, -1, None, None
        for a in seq:
            s = SEV[a["severity"]]
            bad = None
            if last_t is not None and a["event_time"] < last_t:
                bad = "event time went back to %s" % iso(a["event_time"])
            elif a["status"] == "FIRING":
                if firing and s <= sev:
                    bad = "FIRING %s again without escalating" % a["severity"]
                elif not firing and resolved_at is not None and a["event_time"] < resolved_at + COOLDOWN:
                    bad = "FIRING at %s within the cooldown after RESOLVED at %s" % (
                        iso(a["event_time"]), iso(resolved_at))
                firing, sev = True, max(sev, s)
            else:
                if not firing:
                    bad = "RESOLVED without an episode"
                firing, sev, resolved_at = False, -1, a["event_time"]
            if bad:
                problems["lifecycle"].append("%s: %s" % (fp, bad))
            last_t = a["event_time"]

    # ---- the labelled cases fire what they must, and only after their onset
    firings = collections.defaultdict(list)     # (rule, subject_id) -> FIRING alerts
    for a in alerts:
        if a["status"] == "FIRING":
            firings[(a["rule"], a["subject_id"])].append(a)
    for acct, (scen, onset) in sorted(labels.items()):
        for rule, sevs in EXPECTED.get(scen, {}).items():
            f = sorted(firings.get((rule, acct), []), key=lambda a: a["event_time"])
            if not f:
                problems["labelled case fires its rule"].append(
                    "%s %s (onset %s): no %s FIRING" % (scen, acct, iso(onset), rule))
            elif f[0]["severity"] not in sevs:
                problems["labelled case fires its rule"].append(
                    "%s %s: %s first FIRING is %s, expected %s" % (scen, acct, rule, f[0]["severity"], "/".join(sorted(sevs))))
        for a in alerts:
            if a["subject_id"] != acct or a["subject_type"] != "ACCOUNT":
                continue
            if a["category"] == "CHURN" and scen in ("steady", "dominant"):
                problems["no churn alert for steady (and dominant) accounts"].append(
                    "%s %s: %s %s %s at %s: %s" % (scen, acct, a["rule"], a["status"], a["severity"],
                                                   iso(a["event_time"]), a["summary"]))
            if a["category"] == "CHURN" and onset is not None and a["event_time"] < onset:
                problems["nothing fires before the onset"].append(
                    "%s %s (onset %s): %s %s at %s" % (scen, acct, iso(onset), a["rule"], a["status"], iso(a["event_time"])))

    # ---- dependency rules against the recomputed figures --------------------
    ref = dependency_reference(orders_path, start_ms, days)
    dominant = [a for a, (s, _) in labels.items() if s == "dominant"]
    cases = [("dependency.account_share", a) for a in labels] + \
            [("dependency.vendor_share", v) for (r, v) in ref if r == "dependency.vendor_share"] + \
            [("dependency.account_hhi", "accounts"), ("dependency.vendor_hhi", "vendors")]
    dep_expect = []
    for rule, subj in cases:
        value = ref.get((rule, subj), 0.0)
        ok = expected_dependency(rule, value)
        f = sorted(firings.get((rule, subj), []), key=lambda a: a["event_time"])
        top = max((a["severity"] for a in f), key=SEV.get, default=None)
        if ok:
            dep_expect.append((rule, subj, value, "/".join(sorted(s for s in ok if s)), top or "-"))
        if top not in ok and not (top is None and not ok):
            need = "/".join(sorted(s for s in ok if s)) or "no alert"
            problems["dependency rule fires for its subject"].append(
                "%s %s (highest value %.4g): fired %s, expected %s" % (rule, subj, value, top or "nothing", need))
        for a in f:
            if a["event_time"] < start_ms + DEP_MIN_HISTORY_D * DAY:
                problems["dependency rules wait for 30 days of history"].append(
                    "%s %s FIRING at %s" % (rule, subj, iso(a["event_time"])))
    for (rule, subj), fs in firings.items():
        if rule == "dependency.vendor_share" and subj != "vendor-01":
            problems["no dependency alert for other vendors"].append("%s %s" % (rule, subj))
        if rule == "dependency.account_share" and subj not in dominant:
            problems["no account_share alert for other accounts"].append("%s %s" % (rule, subj))

    # ---- what fired ----------------------------------------------------------
    cnt = collections.Counter()
    subjects = collections.defaultdict(set)
    for a in alerts:
        scen = labels[a["subject_id"]][0] if a["subject_type"] == "ACCOUNT" and a["subject_id"] in labels \
            else a["subject_type"].lower()
        k = (a["rule"], a["status"], a["severity"], scen)
        cnt[k] += 1
        subjects[k].add(a["subject_id"])
    pop = collections.Counter(s for s, _ in labels.values())
    print("population: %s" % ", ".join("%d %s" % (n, s) for s, n in sorted(pop.items())))
    print("%-26s %-9s %-9s %-10s %6s %9s" % ("rule", "status", "severity", "scenario", "alerts", "subjects"))
    for k in sorted(cnt):
        print("%-26s %-9s %-9s %-10s %6d %9d" % (k + (cnt[k], len(subjects[k]))))
    print("labelled cases: %s" % "; ".join(
        "%s %s %d/%d" % (scen, rule, sum(1 for a, (s, _) in labels.items() if s == scen and firings.get((rule, a))),
                         pop[scen]) for scen in sorted(EXPECTED) for rule in sorted(EXPECTED[scen])))
    for rule, subj, value, want, top in dep_expect:
        print("dependency: %s %s highest %.4g (recomputed), expected %s, fired %s" % (rule, subj, value, want, top))

    if problems:
        for check, msgs in problems.items():
            print("FAIL [%s]: %d problem(s)" % (check, len(msgs)), file=sys.stderr)
            for m in msgs[:40]:
                print("  " + m, file=sys.stderr)
            if len(msgs) > 40:
                print("  ... and %d more" % (len(msgs) - 40), file=sys.stderr)
        sys.exit(1)
    print("%d alerts, %d JSON lines: every check passed" % (len(alerts), len(lines)))


if __name__ == "__main__":
    main()
