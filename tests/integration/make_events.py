#!/usr/bin/python3
"""make_events.py - writes contract events as Confluent-framed Avro, one file
per record, with Debian's python3-avro (an Avro implementation riskwatch does
not share code with).

usage: make_events.py SCHEMAS_DIR OUT_DIR < events.jsonl
Each input line is a JSON object: {"type": "order"|"support"|"alert", ...fields}.
Enum fields are symbols; optional fields may be omitted (null).
Writes OUT_DIR/NNNN.bin in input order.
"""
import datetime
import io
import json
import os
import struct
import sys

import avro.io
import avro.schema

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
IDS = {"order": (1, "OrderEvent.avsc"), "support": (2, "SupportEvent.avsc"),
       "alert": (3, "RiskAlert.avsc")}


def main():
    schemas_dir, out_dir = sys.argv[1], sys.argv[2]
    schemas = {}
    for kind, (sid, name) in IDS.items():
        with open(os.path.join(schemas_dir, name)) as f:
            schemas[kind] = (sid, avro.schema.parse(f.read()))
    os.makedirs(out_dir, exist_ok=True)
    for n, line in enumerate(l for l in sys.stdin if l.strip()):
        rec = json.loads(line)
        kind = rec.pop("type")
        sid, schema = schemas[kind]
        for field in schema.fields:
            rec.setdefault(field.name, None)
            if getattr(field.type, "logical_type", None) == "timestamp-millis":
                # python3-avro takes datetimes for timestamp-millis.
                rec[field.name] = EPOCH + datetime.timedelta(milliseconds=rec[field.name])
        buf = io.BytesIO()
        buf.write(b"\x00" + struct.pack(">I", sid))
        avro.io.DatumWriter(schema).write(rec, avro.io.BinaryEncoder(buf))
        with open(os.path.join(out_dir, "%04d.bin" % n), "wb") as f:
            f.write(buf.getvalue())


if __name__ == "__main__":
    main()
