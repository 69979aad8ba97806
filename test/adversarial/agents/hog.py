"""A Python bytearray hog: 4 MiB filled at a time until it is stopped; reports a MemoryError."""
import json
import sys

keep = []
try:
    while True:
        keep.append(bytearray(b"\x01") * (4 * 1024 * 1024))
except MemoryError:
    print("REPORT " + json.dumps({"memoryError": len(keep) * 4}), flush=True)
    print("hog: MemoryError at %d MiB" % (len(keep) * 4), file=sys.stderr, flush=True)
    sys.exit(1)
