"""healthy: a well-behaved agent that proves it stays responsive next to the hogs.

Every interval it heartbeats (a NOOP instead when this kernel has no HEARTBEAT yet) and
prints the round trip. `python3 healthy.py [--seconds S] [--interval-ms MS]`.
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
    parser.add_argument("--seconds", type=float, default=0, help="how long to run (0: until killed)")
    parser.add_argument("--interval-ms", type=int, default=500, help="time between beats")
    options = parser.parse_args(argv[1:])
    beats = 0
    try:
        with AgentOSClient(name="healthy") as kernel:
            print("healthy: %s up" % (kernel.info or {}).get("agent", {}).get("name"), flush=True)
            use_heartbeat = True
            start = time.monotonic()
            while options.seconds <= 0 or time.monotonic() - start < options.seconds:
                sent = time.monotonic()
                if use_heartbeat:
                    try:
                        kernel.heartbeat(timeout=5)
                    except AgentOSError as e:
                        if e.code != "ENOSYS":
                            raise
                        print("healthy: HEARTBEAT is not implemented by this kernel yet (ENOSYS); beating with NOOP")
                        use_heartbeat = False
                if not use_heartbeat:
                    kernel.noop(beats, timeout=5)
                beats += 1
                print("healthy: alive, beat %d, round trip %.2f ms" % (beats, (time.monotonic() - sent) * 1000), flush=True)
                time.sleep(options.interval_ms / 1000)
    except AgentOSError as e:
        print("healthy: %s" % e, file=sys.stderr)
        return 1
    print("healthy: done after %d beats" % beats)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
