#!/usr/bin/env python3
"""make_corpus.py - writes the fuzz target's seed corpus (tests/fuzz/corpus/).

Confluent-framed Avro records, encoded by hand (no Avro library): valid
records of each type with optional fields set and null, records of the extra
writer schemas fuzz_decode.c adds (ids 11-13), and poison. The files are
committed; run this again only to change them: make_corpus.py [OUT_DIR]
"""
import os
import struct
import sys


def long_(v):
    u = (v << 1) ^ (v >> 63)
    u &= (1 << 64) - 1
    out = bytearray()
    while u & ~0x7F:
        out.append((u & 0x7F) | 0x80)
        u >>= 7
    out.append(u)
    return bytes(out)


def str_(s):
    b = s.encode("utf-8")
    return long_(len(b)) + b


def frame(schema_id, body):
    return b"\x00" + struct.pack(">I", schema_id) + body


def order(pl="hardware", kind=0, sid=1):
    return frame(sid, str_("ord-0001") + str_("acct-Z\u00fcrich-42") + str_("vendor-\u65e5")
                 + (long_(1) + str_(pl) if pl is not None else long_(0))
                 + long_(kind) + long_(129900) + str_("EUR") + long_(1700000000000))


def support(csat=4, sentiment=-0.5):
    return frame(2, str_("sup-0001") + str_("acct-7") + str_("T-9001") + long_(4) + long_(2)
                 + (long_(1) + long_(csat) if csat is not None else long_(0))
                 + (long_(1) + struct.pack("<f", sentiment) if sentiment is not None
                    else long_(0))
                 + long_(1700000100000))


def alert(baseline=12.25):
    return frame(3, str_("al-0001") + str_("churn.order_drop/ACCOUNT/acct-7")
                 + str_("churn.order_drop") + long_(0) + long_(0) + str_("acct-7")
                 + long_(0) + long_(2) + struct.pack("<d", 0.1) + struct.pack("<d", 0.5)
                 + (long_(1) + struct.pack("<d", baseline) if baseline is not None
                    else long_(0))
                 + long_(2592000000) + long_(1700000300000) + long_(1700000300456)
                 + str_("orders") + long_(3) + long_(9876543210)
                 + str_("acct-7: orders down\n(30d)") + b"\x01")


def order_v2():
    # tags: one positive block, one negative block (count, byte size), end.
    item = str_("promo") + long_(2) + long_(7) + long_(-1) + long_(0)
    tags = long_(1) + item + long_(-1) + long_(len(item)) + item + long_(0)
    return frame(11, str_("v2-e1") + str_("v2-a1") + str_("v2-v1") + long_(1) + str_("gadgets")
                 + long_(1) + str_("mobile") + long_(250) + str_("GBP")
                 + long_(1700000000777) + tags)


def support_v2(agent=True):
    body = str_("s12") + str_("a12") + str_("t12") + long_(4) + long_(3) + long_(1) + long_(5)
    if agent:
        # Agent: fixed(4), bytes, boolean, ["double","float","string"] branch 2.
        body += long_(1) + b"ag01" + long_(3) + b"\x00\xff\x10" + b"\x01" + long_(2) + str_("hi")
    else:
        body += long_(0)
    return frame(12, body + long_(1700000000012))


def order_promoted(kind=1):
    return frame(13, long_(1700000) + long_(kind) + str_("r13") + str_("a13") + str_("v13")
                 + str_("pl13") + long_(13) + str_("CHF"))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(out, exist_ok=True)
    good = order()
    seeds = {
        "order.bin": good,
        "order_null.bin": order(pl=None, kind=2),
        "support.bin": support(),
        "support_null.bin": support(csat=None, sentiment=None),
        "alert.bin": alert(),
        "alert_null.bin": alert(baseline=None),
        "order_v2.bin": order_v2(),
        "support_v2.bin": support_v2(),
        "support_v2_null.bin": support_v2(agent=False),
        "order_promoted.bin": order_promoted(),
        "poison_too_short.bin": b"\x00\x00\x00\x00",
        "poison_bad_magic.bin": b"\x01" + good[1:],
        "poison_unknown_id.bin": frame(999, good[5:]),
        "poison_huge_length.bin": frame(1, long_(1 << 62) + b"ab"),
        "poison_enum.bin": order(kind=3),
        "poison_union.bin": frame(1, str_("e") + str_("a") + str_("v") + long_(2)),
        "poison_trailing.bin": good + b"xyz",
        "poison_truncated.bin": good[:-3],
        "poison_utf8.bin": frame(1, long_(2) + b"\xc3\x28"),
        "poison_map_count.bin": frame(11, str_("e") + str_("a") + str_("v") + long_(0)
                                      + long_(0) + str_("") + long_(0) + str_("EUR")
                                      + long_(0) + long_(1 << 40)),
        "poison_chargeback.bin": order_promoted(kind=2),
    }
    for name, data in sorted(seeds.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
