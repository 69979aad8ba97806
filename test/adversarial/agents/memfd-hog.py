"""A memfd hog: memory in a memfd, which no process's resident set counts, 4 MiB at a time."""
import errno
import json
import os

try:
    fd = os.memfd_create("hog")
except OSError as e:
    print("REPORT " + json.dumps({"memfd": "refused", "errno": errno.errorcode.get(e.errno, e.errno)}), flush=True)
    raise SystemExit(0)
chunk = b"\x01" * (4 * 1024 * 1024)
written = 0
while True:
    os.write(fd, chunk)
    written += 4
    if written % 64 == 0:
        print("memfd-hog: %d MiB" % written, flush=True)
