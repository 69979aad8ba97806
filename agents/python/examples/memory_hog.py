"""memory_hog: a misbehaving agent that allocates memory until it is stopped.

Under a cgroup memory limit the kernel's OOM killer ends it, and nothing else suffers; under the
launcher's watchdog (no cgroup) the watchdog kills it, or its data limit refuses an allocation
first and it says MemoryError, which the kernel reports as an OOM (`oom: rlimit`).
Outside a sandbox it stops at --max-mb (default 1024) so it cannot take a machine down.
`python3 memory_hog.py [--step-mb N] [--max-mb N] [--interval-ms MS]`
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from agentos import AgentOSClient, AgentOSError  # noqa: E402


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step-mb", type=int, default=10, help="MiB allocated per step")
    parser.add_argument("--max-mb", type=int, default=1024, help="stop allocating here (a safety cap)")
    parser.add_argument("--interval-ms", type=int, default=50, help="pause between steps")
    options = parser.parse_args(argv[1:])
    hoard = []
    try:
        with AgentOSClient(name="memory-hog") as kernel:
            print("memory_hog: %s allocating %d MiB at a time" % ((kernel.info or {}).get("agent", {}).get("name"), options.step_mb), flush=True)
            while len(hoard) * options.step_mb < options.max_mb:
                # Filled, not just reserved: every page is touched, so it counts against the cgroup.
                hoard.append(bytearray(b"\x01") * (options.step_mb * 1024 * 1024))
                print("memory_hog: holding %d MiB" % (len(hoard) * options.step_mb), flush=True)
                time.sleep(options.interval_ms / 1000)
            print("memory_hog: reached the %d MiB cap without being stopped" % options.max_mb)
    except MemoryError:
        print("memory_hog: MemoryError: out of memory at %d MiB" % (len(hoard) * options.step_mb), file=sys.stderr)
        return 1
    except AgentOSError as e:
        print("memory_hog: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
