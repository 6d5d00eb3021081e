#!/usr/bin/python3
"""poison.py - writes every kind of bad input riskwatch must dead-letter, and
checks the DLQ afterwards.

usage: poison.py make SCHEMAS_DIR OUT_DIR
         writes OUT_DIR/{orders,support}/<reason>__<case>.bin
       poison.py check CASES_DIR DLQ_DUMP SOURCE_ORDERS SOURCE_SUPPORT
         DLQ_DUMP is `kcat -C -f '%K:%k%S:%s%h\\n'` of the DLQ topic, keyed by
         case name; checks each case's reason, its bytes and its headers.
"""
import datetime
import io
import os
import struct
import sys
import time

import avro.io
import avro.schema

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
T0 = 1772344800000  # 2026-03-01T06:00:00Z


def zz(n):
    """Avro long: zigzag varint."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def frame(sid, body):
    return b"\x00" + struct.pack(">I", sid) + body


def encode(schema, rec):
    buf = io.BytesIO()
    avro.io.DatumWriter(schema).write(rec, avro.io.BinaryEncoder(buf))
    return buf.getvalue()


def order(**kw):
    rec = {"event_id": "p-o", "account_id": "acct-p", "vendor_id": "vendor-p",
           "product_line": None, "kind": "PLACED", "amount_minor": 1000,
           "currency": "EUR", "occurred_at": EPOCH + datetime.timedelta(milliseconds=T0)}
    rec.update(kw)
    return rec


def support(**kw):
    rec = {"event_id": "p-s", "account_id": "acct-p", "ticket_id": "T-1",
           "kind": "SURVEY", "severity": "LOW", "csat": 4, "sentiment": 0.5,
           "occurred_at": EPOCH + datetime.timedelta(milliseconds=T0)}
    rec.update(kw)
    return rec


def make(schemas_dir, out):
    osch = avro.schema.parse(open(os.path.join(schemas_dir, "OrderEvent.avsc")).read())
    ssch = avro.schema.parse(open(os.path.join(schemas_dir, "SupportEvent.avsc")).read())
    good = frame(1, encode(osch, order()))
    future = EPOCH + datetime.timedelta(milliseconds=int(time.time() * 1000) + 10 * 86400000)
    # Hand-made OrderEvent bodies: field by field as the schema orders them.
    head = zz(3) + b"p-o" + zz(6) + b"acct-p" + zz(8) + b"vendor-p"
    tail = zz(1000) + zz(3) + b"EUR" + zz(T0)

    def at(t):  # an OrderEvent at any occurred_at, even one no datetime holds
        return frame(1, head + zz(0) + zz(0) + zz(1000) + zz(3) + b"EUR" + zz(t))
    big = "x" * 100000   # far beyond validate.id.max.bytes (256)
    cases = {
        "orders": {
            "bad_magic__magic_0x01": b"\x01" + good[1:],
            "too_short__four_bytes": good[:4],
            "too_short__empty": b"",
            "unknown_schema__id_4242": frame(4242, good[5:]),
            "unknown_schema__support_id_on_orders": frame(2, encode(ssch, support())),
            "avro_decode__truncated": good[:-3],
            "avro_decode__trailing_garbage": good + b"\x00\x07",
            "avro_decode__string_longer_than_record": frame(1, zz(1 << 40) + b"p-o"),
            "avro_decode__enum_index_7": frame(1, head + zz(0) + zz(7) + tail),
            "avro_decode__union_index_5": frame(1, head + zz(5) + zz(0) + tail),
            "invalid_field__empty_event_id": frame(1, encode(osch, order(event_id=""))),
            "invalid_field__empty_account_id": frame(1, encode(osch, order(account_id=""))),
            "invalid_field__empty_vendor_id": frame(1, encode(osch, order(vendor_id=""))),
            "invalid_field__negative_amount": frame(1, encode(osch, order(amount_minor=-5))),
            "invalid_field__currency_lowercase": frame(1, encode(osch, order(currency="eur"))),
            "invalid_field__currency_four_letters": frame(1, encode(osch, order(currency="EURO"))),
            "invalid_field__occurred_in_the_future": frame(1, encode(osch, order(occurred_at=future))),
            # Bounds: sums that would overflow, times before validate.occurred.min,
            # ids that would make 100 KB keys and alerts.
            "invalid_field__amount_1e17": frame(1, encode(osch, order(amount_minor=10 ** 17))),
            "invalid_field__amount_above_max": frame(1, encode(osch, order(
                amount_minor=10 ** 12 + 1))),
            "invalid_field__occurred_at_0": at(0),
            "invalid_field__occurred_at_negative": at(-86400000),
            "invalid_field__occurred_at_int64_min": at(-(1 << 63)),
            "invalid_field__occurred_at_1999": at(946684799999),
            "invalid_field__account_id_100kb": frame(1, encode(osch, order(account_id=big))),
            "invalid_field__vendor_id_100kb": frame(1, encode(osch, order(vendor_id=big))),
            "invalid_field__event_id_257_bytes": frame(1, encode(osch, order(event_id="e" * 257))),
            "invalid_field__product_line_100kb": frame(1, encode(osch, order(product_line=big))),
            # Produced after a valid record at T0 on the same partition.
            "too_late__150_days_before_the_watermark": frame(1, encode(osch, order(
                event_id="p-late",
                occurred_at=EPOCH + datetime.timedelta(milliseconds=T0 - 150 * 86400000)))),
        },
        "support": {
            "invalid_field__csat_0": frame(2, encode(ssch, support(csat=0))),
            "invalid_field__csat_6": frame(2, encode(ssch, support(csat=6))),
            "invalid_field__sentiment_1.5": frame(2, encode(ssch, support(sentiment=1.5))),
            "invalid_field__empty_account_id": frame(2, encode(ssch, support(account_id=""))),
            "invalid_field__account_id_100kb": frame(2, encode(ssch, support(account_id=big))),
            "invalid_field__ticket_id_100kb": frame(2, encode(ssch, support(ticket_id=big))),
            "invalid_field__occurred_at_0": frame(2, encode(ssch, support(occurred_at=EPOCH))),
            "avro_decode__truncated": frame(2, encode(ssch, support()))[:-2],
        },
    }
    for topic, byname in cases.items():
        os.makedirs(os.path.join(out, topic), exist_ok=True)
        for name, data in byname.items():
            with open(os.path.join(out, topic, name + ".bin"), "wb") as f:
                f.write(data)


def parse_dump(data):
    """'%K:%k%S:%s%h\\n' records -> list of (key, value, headers dict)."""
    recs, i = [], 0
    while i < len(data):
        j = data.index(b":", i)
        klen = int(data[i:j])
        key = data[j + 1:j + 1 + max(klen, 0)]
        i = j + 1 + max(klen, 0)
        j = data.index(b":", i)
        vlen = int(data[i:j])
        value = data[j + 1:j + 1 + max(vlen, 0)]
        i = j + 1 + max(vlen, 0)
        j = data.index(b"\n", i)
        hdrs = {}
        for kv in data[i:j].decode().split(","):
            if "=" in kv:
                k, v = kv.split("=", 1)
                hdrs[k] = v
        i = j + 1
        recs.append((key.decode(), value, hdrs))
    return recs


def check(cases_dir, dump, src_orders, src_support):
    recs = parse_dump(open(dump, "rb").read())
    by_key = {}
    for key, value, hdrs in recs:
        if key in by_key:
            sys.exit("FAIL: %s is in the DLQ twice" % key)
        by_key[key] = (value, hdrs)
    problems, n = [], 0
    for topic, src in (("orders", src_orders), ("support", src_support)):
        for fn in sorted(os.listdir(os.path.join(cases_dir, topic))):
            name = fn[:-4]
            key = topic + "/" + name
            want_reason = name.split("__")[0]
            want = open(os.path.join(cases_dir, topic, fn), "rb").read()
            n += 1
            if key not in by_key:
                problems.append("%s: not in the DLQ" % key)
                continue
            value, hdrs = by_key[key]
            if hdrs.get("rw.error.reason") != want_reason:
                problems.append("%s: reason %r, expected %r (%s)" % (
                    key, hdrs.get("rw.error.reason"), want_reason, hdrs.get("rw.error.message")))
            if value != want:
                problems.append("%s: value is not the original bytes" % key)
            if hdrs.get("rw.source.topic") != src:
                problems.append("%s: rw.source.topic %r" % (key, hdrs.get("rw.source.topic")))
            if not hdrs.get("rw.error.message"):
                problems.append("%s: no rw.error.message" % key)
            if not hdrs.get("rw.source.partition", "").isdigit() or \
               not hdrs.get("rw.source.offset", "").isdigit():
                problems.append("%s: rw.source.partition/offset missing" % key)
            else:
                print("ok: %-45s %-14s %s" % (key, want_reason, hdrs["rw.error.message"]))
    extra = set(by_key) - {t + "/" + f[:-4] for t in ("orders", "support")
                           for f in os.listdir(os.path.join(cases_dir, t))}
    if extra:
        problems.append("unexpected DLQ records: %s" % sorted(extra))
    if problems:
        sys.exit("FAIL:\n  " + "\n  ".join(problems))
    print("ok: %d poison records, each in the DLQ once with its reason and original bytes" % n)


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "check":
        check(*sys.argv[2:6])
    else:
        sys.exit(__doc__)
