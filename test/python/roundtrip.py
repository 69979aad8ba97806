"""Random values across the two codecs, driven by sdk.test.ts.

    roundtrip.py generate SEED COUNT   Python encodes COUNT random values: one hex line each
    roundtrip.py verify SEED COUNT     reads the kernel codec's re-encodings (hex lines) and checks
                                       each is byte-identical and decodes to the same value
    roundtrip.py reencode              decodes each hex line on stdin and encodes it again
"""
from __future__ import annotations

import json
import sys

import support
from agentos import CBORDecodeError, cbor_decode, cbor_encode


def main(argv: list) -> int:
    command = argv[1]
    if command == "generate":
        for value in support.random_values(int(argv[2]), int(argv[3])):
            print(cbor_encode(value).hex())
        return 0
    if command == "verify":
        values = support.random_values(int(argv[2]), int(argv[3]))
        lines = sys.stdin.read().split()
        problems = []
        if len(lines) != len(values):
            problems.append("expected %d lines, got %d" % (len(values), len(lines)))
        for i, (value, line) in enumerate(zip(values, lines)):
            mine = cbor_encode(value).hex()
            if line != mine:
                problems.append("value %d: bytes differ: python %s, kernel %s" % (i, mine[:200], line[:200]))
                continue
            back = cbor_decode(bytes.fromhex(line))
            if not support.same(back, value):
                problems.append("value %d: decodes to %r, not %r" % (i, back, value))
        print(json.dumps({"checked": len(lines), "problems": problems[:10]}))
        return 1 if problems else 0
    if command == "reencode":
        for line in sys.stdin.read().split():
            try:
                print(cbor_encode(cbor_decode(bytes.fromhex(line))).hex())
            except CBORDecodeError as e:
                print("ERROR %s %s" % (e.reason, str(e).replace(" ", "_")))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
