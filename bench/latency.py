#!/usr/bin/env python3
"""latency.py - the latency mode of bench/pipeline.sh: produces order and
support events at a steady rate while `riskwatch run` consumes them, reads the
alerts topic, and prints one JSON line with the percentiles of the time from
producing the triggering event to the alert's arrival.

Most events are PLACED orders of a pool of steady accounts, which fire
nothing. Every 50th event is a SURVEY with csat 1 for an account that had
none: an account's second such survey fires churn.low_satisfaction (mean
CSAT <= 2.5 over >= 2 answers). The alert names the record that triggered it
(source_topic, source_partition, source_offset); its produce time is the
record's Kafka timestamp, set when produce() is called. A warm-up of the same
mix (3 s by default) goes first and is not measured.

The alert's own Kafka timestamp (riskwatch sets none: its client stamps the
alert when riskwatch hands it over) splits each latency in two: produce to
riskwatch emitting the alert, and emitting to this reader receiving it (the
broker, the fetch, and this process's own scheduling). Both are printed
beside the whole.
"""
import argparse
import io
import json
import math
import os
import sys
import threading
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from fastavro import parse_schema, schemaless_reader, schemaless_writer

SURVEY_EVERY = 50


def load(schemas_dir, name):
    with open(os.path.join(schemas_dir, name), encoding="utf-8") as f:
        return parse_schema(json.load(f))


def framed(schema_id, schema, record):
    buf = io.BytesIO()
    buf.write(b"\0" + schema_id.to_bytes(4, "big"))
    schemaless_writer(buf, schema, record)
    return buf.getvalue()


def percentile(sorted_vals, q):
    if not sorted_vals:
        return None
    # nearest rank
    return sorted_vals[max(0, math.ceil(q * len(sorted_vals)) - 1)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--orders", required=True)
    ap.add_argument("--support", required=True)
    ap.add_argument("--alerts", required=True)
    ap.add_argument("--schemas", required=True)
    ap.add_argument("--rate", type=int, required=True, help="events per second")
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--accounts", type=int, default=2000, help="steady accounts")
    ap.add_argument("--dump", help="write 'produce_ms latency_ms' of every matched alert to this file")
    ap.add_argument("--warmup", type=float, default=3, help="seconds produced before measuring")
    ap.add_argument("--drain", type=float, default=15, help="seconds to wait for the last alerts after producing")
    args = ap.parse_args()

    order_s = load(args.schemas, "OrderEvent.avsc")
    support_s = load(args.schemas, "SupportEvent.avsc")
    alert_s = load(args.schemas, "RiskAlert.avsc")

    # (arrival ms, source topic, partition, offset, rule, status, subject, alert's timestamp ms)
    arrivals = []
    stop = threading.Event()

    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": "lat-" + uuid.uuid4().hex,
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "fetch.wait.max.ms": 10})
    meta = consumer.list_topics(args.alerts, timeout=10).topics[args.alerts]
    consumer.assign([TopicPartition(args.alerts, p, 0) for p in meta.partitions])

    def read_alerts():
        while not stop.is_set():
            m = consumer.poll(0.05)
            if m is None or m.error() is not None:
                continue
            now = time.time() * 1000
            a = schemaless_reader(io.BytesIO(m.value()[5:]), alert_s)
            arrivals.append((now, a["source_topic"], a["source_partition"], a["source_offset"],
                             a["rule"], a["status"], a["subject_id"], m.timestamp()[1]))

    reader = threading.Thread(target=read_alerts, daemon=True)
    reader.start()

    produced = {}  # (topic, partition, offset) -> produce time (ms), support events only
    failures = []

    def delivered(err, msg):
        if err is not None:
            failures.append(str(err))
        elif msg.topic() == args.support:
            produced[(msg.topic(), msg.partition(), msg.offset())] = msg.timestamp()[1]

    producer = Producer({"bootstrap.servers": args.bootstrap})
    run = uuid.uuid4().hex[:8]
    surveys = 0

    def produce(total, phase):
        """Produce total events at args.rate; returns the seconds it took."""
        nonlocal surveys
        sent = surveys = 0
        t0 = time.monotonic()
        while sent < total:
            due = min(total, int(args.rate * (time.monotonic() - t0)) + 1)
            while sent < due:
                now_ms = int(time.time() * 1000)
                if sent % SURVEY_EVERY == SURVEY_EVERY - 1:
                    acct = f"sad-{run}-{phase}-{surveys // 2}"
                    rec = {"event_id": f"{run}-{phase}-s{surveys}", "account_id": acct,
                           "ticket_id": f"t-{acct}", "kind": "SURVEY", "severity": "NORMAL",
                           "csat": 1, "sentiment": None, "occurred_at": now_ms}
                    producer.produce(args.support, framed(2, support_s, rec), key=acct,
                                     on_delivery=delivered)
                    surveys += 1
                else:
                    acct = f"acct-{sent % args.accounts}"
                    rec = {"event_id": f"{run}-{phase}-{sent}", "account_id": acct,
                           "vendor_id": f"v-{sent % 37}", "product_line": None, "kind": "PLACED",
                           "amount_minor": 1000 + sent % 9000, "currency": "EUR",
                           "occurred_at": now_ms}
                    producer.produce(args.orders, framed(1, order_s, rec), key=acct,
                                     on_delivery=delivered)
                sent += 1
            producer.poll(0)
            if sent < total:
                time.sleep(0.001)  # then catch up to the schedule in one burst
        return time.monotonic() - t0

    # Warm-up, the same mix, not measured: connections, metadata, every steady
    # account's first state, the first support records of each partition.
    produce(int(args.rate * args.warmup), "w")
    sent = int(args.rate * args.seconds)
    elapsed = produce(sent, "m")
    producer.flush(30)
    expected = surveys // 2
    measured = f"sad-{run}-m-"

    def fired():
        return [a for a in arrivals if a[4] == "churn.low_satisfaction" and a[5] == "FIRING"
                and a[6].startswith(measured)]

    deadline = time.monotonic() + args.drain
    while len(fired()) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    reader.join()
    consumer.close()

    lat, emit, dump = [], [], []
    for now, topic, part, off, _, _, _, ts in fired():
        t = produced.get((topic, part, off))
        if t is not None:
            lat.append(now - t)
            emit.append(ts - t)
            dump.append((t, now - t, ts - t))
    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as f:
            f.write("# produce_ms latency_ms emit_ms (emit: to the alert's timestamp)\n")
            f.writelines(f"{t} {d:.1f} {e}\n" for t, d, e in sorted(dump))
    lat.sort()
    emit.sort()
    json.dump({"rate": args.rate, "achieved_rate": round(sent / elapsed),
               "produced": sent, "delivery_failures": len(failures),
               "alerts_expected": expected, "alerts": len(arrivals), "warmup_s": args.warmup, "matched": len(lat),
               "p50_ms": percentile(lat, 0.50), "p99_ms": percentile(lat, 0.99),
               "max_ms": lat[-1] if lat else None,
               "emit_p50_ms": percentile(emit, 0.50), "emit_p99_ms": percentile(emit, 0.99)},
              sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
