#!/usr/bin/env python3
"""python_pipeline.py - the comparator of bench/pipeline.sh: the same input
stage written the way a Python service would be, to put riskwatch's events/s
beside it.

Consumes the orders and support topics as one consumer group (confluent-kafka,
batched consume()), decodes the Confluent-framed Avro values (fastavro's
schemaless_reader over the schemas in schemas/*.avsc, the 5-byte header
skipped; Debian's avro package when fastavro is missing), and keeps daily
per-account buckets in Redis with redis-py pipelines:

  one pipeline per batch:  SET ns:seen:EVENT_ID 1 NX EX horizon   (dedup)
  one pipeline per batch:  HINCRBY ns:d:ACCOUNT:DAY FIELD N ...   (new events)
                           EXPIRE ns:d:ACCOUNT:DAY retention      (per bucket)

then commits the batch's offsets synchronously. It detects nothing: this is
the floor under what a Python rule engine on the same design would cost.

Exits when every assigned partition has reached its end (like `riskwatch run
-e`) and prints one JSON line of counts to stdout.
"""
import argparse
import io
import json
import os
import struct
import sys
import time

import redis
from confluent_kafka import Consumer, KafkaError

try:
    from fastavro import parse_schema, schemaless_reader

    DECODER = "fastavro"
except ImportError:  # Debian 12 does not package fastavro
    import avro.io
    import avro.schema

    DECODER = "avro"

ORDER_FIELDS = {"PLACED": ("po", "ps"), "CANCELLED": ("co", None),
                "REFUNDED": ("ro", "rs")}
TICKET_KINDS = ("OPENED", "REOPENED")


def load_readers(schemas_dir):
    """schema id -> function(bytes after the 5-byte header) -> dict."""
    readers = {}
    for sid, name in ((1, "OrderEvent.avsc"), (2, "SupportEvent.avsc")):
        with open(os.path.join(schemas_dir, name), encoding="utf-8") as f:
            text = f.read()
        if DECODER == "fastavro":
            schema = parse_schema(json.loads(text))
            readers[sid] = (lambda s: lambda b: schemaless_reader(io.BytesIO(b), s))(schema)
        else:
            reader = avro.io.DatumReader(avro.schema.parse(text))
            readers[sid] = (lambda r: lambda b: r.read(avro.io.BinaryDecoder(io.BytesIO(b))))(reader)
    return readers


def bucket_updates(topic_kind, ev):
    """(field, increment) pairs of one event on its day bucket."""
    if topic_kind == 1:
        count_field, sum_field = ORDER_FIELDS[ev["kind"]]
        out = [(count_field, 1)]
        if sum_field:
            out.append((sum_field, ev["amount_minor"]))
        return out
    out = []
    if ev["kind"] in TICKET_KINDS:
        out.append(("tk", 1))
        if ev["severity"] == "URGENT" or ev["kind"] == "ESCALATED":
            out.append(("tu", 1))
    if ev["csat"] is not None:
        out += [("cs", ev["csat"]), ("cn", 1)]
    if ev["sentiment"] is not None:
        out += [("ss", round(ev["sentiment"] * 1000)), ("sn", 1)]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topics", required=True, help="comma-separated input topics")
    ap.add_argument("--group", required=True)
    ap.add_argument("--redis-url", required=True)
    ap.add_argument("--namespace", default="py")
    ap.add_argument("--schemas", required=True, help="directory of the .avsc files")
    ap.add_argument("--batch", type=int, default=500, help="records per consume() (default 500)")
    ap.add_argument("--horizon", type=int, default=7 * 86400, help="dedup TTL in seconds")
    ap.add_argument("--retention-days", type=int, default=120)
    args = ap.parse_args()

    readers = load_readers(args.schemas)
    r = redis.Redis.from_url(args.redis_url)
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
    })
    topics = args.topics.split(",")
    kinds = {}
    assigned, at_eof = set(), set()

    def on_assign(c, parts):
        for p in parts:
            assigned.add((p.topic, p.partition))

    def on_revoke(c, parts):
        for p in parts:
            assigned.discard((p.topic, p.partition))
            at_eof.discard((p.topic, p.partition))

    consumer.subscribe(topics, on_assign=on_assign, on_revoke=on_revoke)
    consumed = applied = duplicates = errors = round_trips = batches = 0
    accounts = set()
    retention = args.retention_days * 86400
    t0 = time.monotonic()
    while not assigned or at_eof != assigned:
        msgs = consumer.consume(num_messages=args.batch, timeout=0.1)
        events = []
        for m in msgs:
            err = m.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    at_eof.add((m.topic(), m.partition()))
                    continue
                raise SystemExit(f"python_pipeline: {err}")
            at_eof.discard((m.topic(), m.partition()))
            consumed += 1
            v = m.value()
            if v is None or len(v) < 5 or v[0] != 0:
                errors += 1
                continue
            (sid,) = struct.unpack(">I", v[1:5])
            reader = readers.get(sid)
            if reader is None:
                errors += 1
                continue
            events.append((sid, reader(v[5:])))
        if not events:
            continue
        batches += 1
        pipe = r.pipeline(transaction=False)
        for _, ev in events:
            pipe.set(f"{args.namespace}:seen:{ev['event_id']}", 1, nx=True, ex=args.horizon)
        fresh = pipe.execute()
        round_trips += 1
        pipe = r.pipeline(transaction=False)
        touched = set()
        for (sid, ev), new in zip(events, fresh):
            if not new:
                duplicates += 1
                continue
            # occurred_at is timestamp-millis: both decoders give a UTC datetime.
            key = f"{args.namespace}:d:{ev['account_id']}:{ev['occurred_at'].date().isoformat()}"
            for field, n in bucket_updates(sid, ev):
                pipe.hincrby(key, field, n)
            touched.add(key)
            accounts.add(ev["account_id"])
            applied += 1
        for key in touched:
            pipe.expire(key, retention)
        if touched:
            pipe.execute()
            round_trips += 1
        consumer.commit(asynchronous=False)
    elapsed = time.monotonic() - t0
    consumer.close()
    json.dump({"consumed": consumed, "applied": applied, "duplicates": duplicates,
               "errors": errors, "batches": batches, "redis_round_trips": round_trips,
               "accounts": len(accounts), "decoder": DECODER,
               "seconds": round(elapsed, 3)}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
