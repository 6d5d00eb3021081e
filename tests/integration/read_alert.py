#!/usr/bin/python3
"""read_alert.py - decodes one Confluent-framed RiskAlert with python3-avro and
prints it as JSON, after checking the frame (magic 0x00, schema id 3).

usage: read_alert.py SCHEMAS_DIR FILE
"""
import io
import json
import struct
import sys

import avro.io
import avro.schema


def main():
    with open(sys.argv[1] + "/RiskAlert.avsc") as f:
        schema = avro.schema.parse(f.read())
    data = open(sys.argv[2], "rb").read()
    if len(data) < 5 or data[0] != 0:
        sys.exit("not a Confluent frame: %r" % data[:5])
    (sid,) = struct.unpack(">I", data[1:5])
    if sid != 3:
        sys.exit("schema id %d, expected 3" % sid)
    buf = io.BytesIO(data[5:])
    rec = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(buf))
    if buf.tell() != len(data) - 5:
        sys.exit("%d trailing byte(s)" % (len(data) - 5 - buf.tell()))
    print(json.dumps(rec, sort_keys=True, default=str))


if __name__ == "__main__":
    main()
