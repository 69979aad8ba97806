"""worker_agent: takes tasks from its mailbox, answers each sender, and ACKs.

A task is a map: {"task": "sum", "numbers": [...]}, {"task": "upper", "text": "..."} or
{"task": "think", "prompt": "..."}; "stop" ends the worker. It heartbeats while idle. When
RECV answers ENOSYS (no IPC in this kernel yet) it says so and exits 0.

    python3 worker_agent.py [--max N] [--idle-ms MS] [--exit-when-idle]
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from agentos import AgentOSClient, AgentOSError  # noqa: E402


def handle(kernel: AgentOSClient, payload: Any) -> Any:
    """The result of one task, or {"error": ...}."""
    if not isinstance(payload, dict):
        return {"error": "expected a task map, got %r" % (payload,)}
    task = payload.get("task")
    if task == "sum":
        numbers = payload.get("numbers", [])
        if not all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in numbers):
            return {"error": "sum: numbers must be numbers"}
        return {"sum": sum(numbers)}
    if task == "upper":
        return {"text": str(payload.get("text", "")).upper()}
    if task == "think":
        answer = kernel.think(str(payload.get("prompt", "")))
        return {"error": answer["error"]} if answer["error"] else {"content": answer["content"], "tokens": answer["tokens"]}
    return {"error": "unknown task %r" % (task,)}


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=0, help="tasks to handle before exiting (0: no limit)")
    parser.add_argument("--idle-ms", type=int, default=5000, help="RECV timeout; a heartbeat goes out after each")
    parser.add_argument("--exit-when-idle", action="store_true", help="exit when RECV times out")
    options = parser.parse_args(argv[1:])
    handled = 0
    try:
        with AgentOSClient(name="worker") as kernel:
            me = (kernel.info or {}).get("agent", {}).get("name")
            print("worker: %s ready" % me, flush=True)
            while options.max == 0 or handled < options.max:
                try:
                    message = kernel.recv(timeout_ms=options.idle_ms)
                except AgentOSError as e:
                    if e.code == "ENOSYS":
                        print("worker: RECV is not implemented by this kernel yet (ENOSYS); no task can reach me, exiting")
                        return 0
                    if e.code != "ETIMEDOUT":
                        raise
                    try:
                        kernel.heartbeat()
                    except AgentOSError as h:
                        if h.code != "ENOSYS":
                            raise
                    if options.exit_when_idle:
                        print("worker: idle for %d ms, exiting" % options.idle_ms)
                        break
                    continue
                payload, sender, msg_id = message.get("payload"), message.get("from"), message.get("msgId")
                if payload == "stop":
                    kernel.ack(msg_id)
                    print("worker: told to stop by %s" % sender)
                    break
                result = handle(kernel, payload)
                kernel.send(sender, {"inReplyTo": msg_id, "result": result})
                kernel.ack(msg_id)
                handled += 1
                print("worker: task %s from %s -> %r" % (msg_id, sender, result), flush=True)
    except AgentOSError as e:
        print("worker: %s" % e, file=sys.stderr)
        return 1
    print("worker: handled %d task(s)" % handled)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
