"""cpu_hog: a misbehaving agent that burns a whole CPU, for the fault-isolation demo.

Its cgroup's cpu.max should throttle it while healthy.py next to it stays responsive.
`python3 cpu_hog.py [--seconds S]` (0, the default: until it is killed).
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
    parser.add_argument("--seconds", type=float, default=0, help="how long to burn (0: until killed)")
    options = parser.parse_args(argv[1:])
    try:
        with AgentOSClient(name="cpu-hog") as kernel:
            print("cpu_hog: %s burning CPU" % (kernel.info or {}).get("agent", {}).get("name"), flush=True)
            start = last = time.monotonic()
            spins = 0
            while options.seconds <= 0 or time.monotonic() - start < options.seconds:
                for _ in range(100_000):
                    spins += 1
                now = time.monotonic()
                if now - last >= 1.0:
                    print("cpu_hog: %d spins in %.1f s" % (spins, now - start), flush=True)
                    last = now
            print("cpu_hog: done after %d spins in %.1f s" % (spins, time.monotonic() - start))
    except AgentOSError as e:
        print("cpu_hog: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
