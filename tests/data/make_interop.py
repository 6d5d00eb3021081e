#!/usr/bin/python3
"""make_interop.py - writes Confluent-framed Avro records with the reference
Python implementation (Debian's python3-avro) into tests/data/*.bin, so the
codec's unit tests decode bytes that riskwatch did not write.

Run from anywhere:  /usr/bin/python3 tests/data/make_interop.py
The values below are mirrored in tests/unit/test_codec.c (test_interop_*);
change both together.
"""
import datetime
import io
import os
import struct

import avro.io
import avro.schema

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = os.path.join(HERE, "..", "..", "schemas")
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def ts(ms):
    """timestamp-millis fields take an aware datetime in python3-avro."""
    return EPOCH + datetime.timedelta(milliseconds=ms)


def frame(schema_file, schema_id, datum):
    with open(os.path.join(SCHEMAS, schema_file)) as f:
        schema = avro.schema.parse(f.read())
    buf = io.BytesIO()
    buf.write(b"\x00" + struct.pack(">I", schema_id))
    avro.io.DatumWriter(schema).write(datum, avro.io.BinaryEncoder(buf))
    return buf.getvalue()


RECORDS = {
    "order_v1.bin": ("OrderEvent.avsc", 1, {
        "event_id": "py-order-0001",
        "account_id": "acct-Z\u00fcrich-42",
        "vendor_id": "vendor-\u65e5\u672c",
        "product_line": "hardware \"pro\"\\tools",
        "kind": "REFUNDED",
        "amount_minor": 123456789012,
        "currency": "EUR",
        "occurred_at": ts(1700000000123),
    }),
    "order_v1_null.bin": ("OrderEvent.avsc", 1, {
        "event_id": "py-order-0002",
        "account_id": "acct-7",
        "vendor_id": "vendor-1",
        "product_line": None,
        "kind": "CANCELLED",
        "amount_minor": 0,
        "currency": "USD",
        "occurred_at": ts(-86400000),
    }),
    "support_v1.bin": ("SupportEvent.avsc", 2, {
        "event_id": "py-support-0001",
        "account_id": "acct-Z\u00fcrich-42",
        "ticket_id": "T-9001",
        "kind": "SURVEY",
        "severity": "URGENT",
        "csat": 2,
        "sentiment": -0.75,
        "occurred_at": ts(1700000100000),
    }),
    "support_v1_null.bin": ("SupportEvent.avsc", 2, {
        "event_id": "py-support-0002",
        "account_id": "acct-7",
        "ticket_id": "",
        "kind": "ESCALATED",
        "severity": "LOW",
        "csat": None,
        "sentiment": None,
        "occurred_at": ts(1700000200000),
    }),
    "alert_v1.bin": ("RiskAlert.avsc", 3, {
        "alert_id": "py-alert-0001",
        "fingerprint": "churn.order_drop/ACCOUNT/acct-7",
        "rule": "churn.order_drop",
        "category": "CHURN",
        "subject_type": "ACCOUNT",
        "subject_id": "acct-7",
        "status": "FIRING",
        "severity": "CRITICAL",
        "observed": 0.1,
        "threshold": 0.5,
        "baseline": 12.25,
        "window_ms": 2592000000,
        "event_time": ts(1700000300000),
        "emitted_at": ts(1700000300456),
        "source_topic": "orders",
        "source_partition": 3,
        "source_offset": 9876543210,
        "summary": "acct-7: orders down to 10% of baseline\n(30d)",
        "replay": True,
    }),
    "alert_v1_null.bin": ("RiskAlert.avsc", 3, {
        "alert_id": "py-alert-0002",
        "fingerprint": "dependency.vendor_hhi/PORTFOLIO/vendors",
        "rule": "dependency.vendor_hhi",
        "category": "DEPENDENCY",
        "subject_type": "PORTFOLIO",
        "subject_id": "vendors",
        "status": "RESOLVED",
        "severity": "INFO",
        "observed": 1500.0,
        "threshold": 1800.0,
        "baseline": None,
        "window_ms": 7776000000,
        "event_time": ts(1700003600000),
        "emitted_at": ts(1700003600001),
        "source_topic": "",
        "source_partition": -1,
        "source_offset": -1,
        "summary": "vendor concentration back to normal",
        "replay": False,
    }),
}


def main():
    for name, (schema_file, schema_id, datum) in sorted(RECORDS.items()):
        data = frame(schema_file, schema_id, datum)
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
        print("%-20s %3d bytes  %s" % (name, len(data), data.hex()))


if __name__ == "__main__":
    main()
