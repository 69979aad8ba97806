"""Drives a real kernel through the Python SDK and prints what happened as one JSON object, for
sdk.test.ts to check. Connects as the SDK decides (AGENTOS_FD, else AGENTOS_SOCKET).

    e2e_agent.py [name]
"""
from __future__ import annotations

import json
import sys
import threading
from typing import Any, Dict, List

import support
from agentos import UNDEFINED, AgentOSClient, AgentOSError, CBORSimple, CBORTag, Op

ECHOES: List[Any] = [
    0, 1, -1, 23, 24, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 64 - 1, -(2 ** 64), 2 ** 70, -(2 ** 70),
    1.5, -0.0, 0.1, float("inf"), float("-inf"), float("nan"), 3.4028234663852886e38,
    "", "héllo wörld 😀", "x" * 70_000, b"", bytes(range(256)),
    None, True, False, UNDEFINED, [], [1, [2, [3, []]]], [UNDEFINED, None],
    {}, {"a": 1, "b": [True, None], "c": {"d": b"\x00"}}, {1: "one", -2: "minus two", b"k": 3, (1, 2): 4},
    {"__proto__": {"polluted": True}}, CBORTag(32, "https://example.com"), CBORTag(2 ** 64 - 1, [1]),
    CBORSimple(0), CBORSimple(255),
]


def outcome(call: Any) -> Dict[str, Any]:
    try:
        return {"ok": True, "res": repr(call())}
    except AgentOSError as e:
        return {"ok": False, "code": e.code, "message": e.message, "connection": type(e).__name__}


def main(argv: List[str]) -> int:
    name = argv[1] if len(argv) > 1 else "py-e2e"
    out: Dict[str, Any] = {}
    with AgentOSClient(name=name, timeout=20) as kernel:
        info = kernel.info or {}
        out["hello"] = {"agent": info.get("agent"), "protocol": info.get("kernel", {}).get("protocol"), "limits": info.get("limits")}
        out["echoes"] = [i for i, v in enumerate(ECHOES) if not support.same(kernel.noop(v), v)]
        out["echoCount"] = len(ECHOES)
        out["noopWithoutArgs"] = repr(kernel.noop())

        # Pipelined: all sent before any is collected, collected last first.
        ids = [kernel.submit(Op.NOOP, {"n": i, "pad": "p" * (i * 37 % 500)}) for i in range(200)]
        results = {i: kernel.collect(i) for i in reversed(ids)}
        out["pipelined"] = all(results[rid]["n"] == n for n, rid in enumerate(ids))

        # Several threads share the connection; replies come back in whatever order.
        failures: List[str] = []

        def worker(t: int) -> None:
            try:
                for i in range(50):
                    value = [t, i, "t%d" % t * (i % 7)]
                    if kernel.noop(value) != value:
                        failures.append("thread %d call %d" % (t, i))
            except Exception as e:  # noqa: BLE001 (reported)
                failures.append(repr(e))

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        out["threads"] = failures

        rows = kernel.list_agents()
        out["list"] = {"type": type(rows).__name__, "rows": rows}
        out["unknownOp"] = outcome(lambda: kernel.call(0x7F, {}))
        out["tree"] = outcome(kernel.tree)
        out["think"] = kernel.think("hello?")
        out["spawnBadArgs"] = outcome(lambda: kernel.spawn("bad name!", ""))
        out["statMissing"] = outcome(lambda: kernel.stat("no-such-agent"))
        out["helloBadVersion"] = outcome(lambda: kernel.call(Op.HELLO, {"version": 99}))
        out["stillAlive"] = kernel.noop("after errors")
    print(json.dumps(out, default=repr))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
