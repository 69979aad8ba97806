"""hello_agent: the smallest AgentOS agent in Python.

Says HELLO, has the kernel echo a NOOP, lists the agents it can see, then logs a line and
sends a heartbeat (each reported as unavailable when this kernel answers ENOSYS).
Run it spawned by the kernel, or from outside: `python3 hello_agent.py [name]`.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from agentos import AgentOSClient, AgentOSError  # noqa: E402


def main(argv: list) -> int:
    name = argv[1] if len(argv) > 1 else "hello"
    try:
        with AgentOSClient(name=name) as kernel:
            info = kernel.info or {}
            me, k = info.get("agent", {}), info.get("kernel", {})
            print("hello: I am %s (session %s, %s) on kernel %s, version %s" % (
                me.get("name"), me.get("session"), me.get("kind"), k.get("id"), k.get("version")))
            echoed = kernel.noop({"hello": "world", "n": 1})
            print("hello: NOOP echoed %r" % (echoed,))
            rows = kernel.list_agents()
            print("hello: LIST shows %d agent(s)" % len(rows))
            for row in rows:
                print("hello:   %s %s pid=%s %s" % (row.get("id"), row.get("name"), row.get("pid"), row.get("status")))
            for what, call in (("LOG", lambda: kernel.log("info", "hello from a Python agent", {"agent": name})),
                               ("HEARTBEAT", kernel.heartbeat)):
                try:
                    call()
                    print("hello: %s ok" % what)
                except AgentOSError as e:
                    if e.code != "ENOSYS":
                        raise
                    print("hello: %s is not implemented by this kernel yet (ENOSYS)" % what)
    except AgentOSError as e:
        print("hello: %s" % e, file=sys.stderr)
        return 1
    print("hello: done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
