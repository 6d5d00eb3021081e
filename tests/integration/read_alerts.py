#!/usr/bin/python3
"""read_alerts.py - decodes every record of an alerts topic with python3-avro,
independently of riskwatch's own decoder, and prints one JSON line per record:
the decoded RiskAlert (timestamps as epoch milliseconds) plus "_partition", "_offset" and "_key".

Input on stdin is kcat's output with -D '' -f '%p:%o:%K:%k%S:%s' (partition,
offset, key length, key, value length, value; lengths make it binary-safe).
Every value must be a Confluent frame (magic 0x00, schema id 3) holding exactly
one RiskAlert; anything else exits non-zero naming the record.

usage: kcat -C ... -D '' -f '%p:%o:%K:%k%S:%s' | read_alerts.py SCHEMAS_DIR
"""
import datetime
import io
import json
import struct
import sys

import avro.io
import avro.schema


EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def fields(data):
    """Yields (partition, offset, key, value) from kcat's length-prefixed output."""
    pos = 0

    def number():
        nonlocal pos
        end = data.index(b":", pos)
        n = int(data[pos:end])
        pos = end + 1
        return n

    def chunk(n):
        nonlocal pos
        if n < 0:
            return None
        b = data[pos:pos + n]
        if len(b) != n:
            sys.exit("truncated kcat output at byte %d" % pos)
        pos += n
        return b

    while pos < len(data):
        p, o = number(), number()
        k = chunk(number())
        v = chunk(number())
        yield p, o, k, v


def main():
    with open(sys.argv[1] + "/RiskAlert.avsc") as f:
        schema = avro.schema.parse(f.read())
    reader = avro.io.DatumReader(schema)
    for p, o, k, v in fields(sys.stdin.buffer.read()):
        where = "partition %d offset %d" % (p, o)
        if v is None or len(v) < 5 or v[0] != 0:
            sys.exit("%s: not a Confluent frame: %r" % (where, (v or b"")[:5]))
        (sid,) = struct.unpack(">I", v[1:5])
        if sid != 3:
            sys.exit("%s: schema id %d, expected 3" % (where, sid))
        buf = io.BytesIO(v[5:])
        rec = reader.read(avro.io.BinaryDecoder(buf))
        if buf.tell() != len(v) - 5:
            sys.exit("%s: %d trailing byte(s)" % (where, len(v) - 5 - buf.tell()))
        for f, x in rec.items():   # timestamp-millis back to milliseconds
            if isinstance(x, datetime.datetime):
                rec[f] = (x - EPOCH) // datetime.timedelta(milliseconds=1)
        rec["_partition"], rec["_offset"] = p, o
        rec["_key"] = None if k is None else k.decode("utf-8")
        print(json.dumps(rec, sort_keys=True))


if __name__ == "__main__":
    main()
