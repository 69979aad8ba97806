"""spawn_test: spawns worker_agent.py, gives it a task, inspects it and waits for its end.

Each step says what the kernel answered; a syscall this kernel does not have yet (ENOSYS)
is reported and skipped, so the run shows exactly how far the kernel goes. Needs SPAWN,
KILL, WAIT and STAT: run it from outside (`python3 spawn_test.py`) or grant those caps.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Callable

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from agentos import AgentOSClient, AgentOSError  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def step(what: str, call: Callable[[], Any]) -> Any:
    """Runs one syscall; None (after saying so) when the kernel does not implement it."""
    try:
        return call()
    except AgentOSError as e:
        if e.code == "ENOSYS":
            print("spawn_test: %s is not available on this kernel yet (%s)" % (what, e))
            return None
        raise


def main(argv: list) -> int:
    name = "py-worker-%d" % os.getpid()
    worker = os.path.join(HERE, "worker_agent.py")
    try:
        with AgentOSClient(name="spawn-test") as kernel:
            spawned = step("SPAWN", lambda: kernel.spawn(name, worker, ["--max", "1", "--idle-ms", "5000", "--exit-when-idle"]))
            if spawned is None:
                print("spawn_test: nothing to test without SPAWN")
                return 0
            print("spawn_test: spawned %s as %s, pid %s, %s" % (name, spawned.get("id"), spawned.get("pid"), spawned.get("status")))
            rows = kernel.list_agents()
            row = next((r for r in rows if r.get("name") == name), None)
            print("spawn_test: LIST shows it %s" % (row.get("status") if row else "missing"))
            sent = step("SEND", lambda: kernel.send(name, {"task": "sum", "numbers": [1, 2, 3]}))
            if sent is not None:
                reply = step("RECV", lambda: kernel.recv(timeout_ms=10_000))
                if reply is not None:
                    print("spawn_test: %s answered %r" % (reply.get("from"), reply.get("payload")))
                    kernel.ack(reply["msgId"])
            stat = step("STAT", lambda: kernel.stat(name))
            if stat is not None:
                print("spawn_test: STAT memory %s, cpu %s, status %s" % (stat.get("memory"), stat.get("cpu"), stat.get("status")))
            # The worker ends by itself after its task (or at once without IPC); KILL only if not.
            try:
                ended = step("WAIT", lambda: kernel.wait(name, timeout_ms=10_000))
            except AgentOSError as e:
                if e.code != "ETIMEDOUT":
                    raise
                print("spawn_test: %s still running after 10 s; stopping it" % name)
                ended = None
                if step("KILL", lambda: kernel.kill(name)) is not None:
                    ended = step("WAIT", lambda: kernel.wait(name, timeout_ms=10_000))
            if ended is not None:
                print("spawn_test: %s ended: %s" % (name, ended.get("description") or ended.get("reason")))
    except AgentOSError as e:
        print("spawn_test: %s" % e, file=sys.stderr)
        return 1
    print("spawn_test: done")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
