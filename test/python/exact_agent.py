"""Messages arrive exactly as sent: Python clients SEND values JavaScript cannot tell apart
(1.0 from 1, undefined in a map) through a real kernel and check what RECV and NOOP give back,
type for type and byte for byte. Prints one JSON object for sdk.test.ts. Connects through
AGENTOS_SOCKET.

    exact_agent.py pair                 two Python clients: every value A sends, B receives
    exact_agent.py send <to>            sends every value to <to>; prints their encodings
    exact_agent.py recv <ready-to> <n>  tells <ready-to> it is ready, receives n messages,
                                        prints what each decoded to
"""
from __future__ import annotations

import json
import random
import sys
from typing import Any, Dict, List

import support
from agentos import UNDEFINED, AgentOSClient, CBORSimple, CBORTag, cbor_encode

# What a kernel that decodes and encodes again would change (measured before: 1.0 came back 1,
# and undefined as a map value went missing).
EXACT: List[Any] = [
    {"price": 1.0},
    0.0, 1.0, 65504.0, 100000.0, -4.0, 3.4028234663852886e38, 1.0e300,
    -0.0, float("nan"), float("inf"), float("-inf"), 1.5, 5.960464477539063e-8,
    [1, 1.0, -1, -1.0],
    {"a": UNDEFINED, "b": [UNDEFINED, None]}, UNDEFINED,
    CBORTag(1, 1363896240.0), CBORTag(0, "2013-03-21T20:04:00Z"), CBORTag(2 ** 64 - 1, [1.0]),
    2 ** 64, -(2 ** 64) - 1, 2 ** 200, 2 ** 53, 2 ** 64 - 1,
    CBORSimple(0), CBORSimple(19), CBORSimple(32), CBORSimple(255), True, False, None,
    {1.0: "float key", 2: "int key"}, {"nested": {"deeper": [{"x": 2.0}]}},
]


def random_exact(rng: random.Random) -> Any:
    """A random value with floats that hold integers mixed in, which only a kernel that carries
    payloads as bytes gives back as floats."""
    return {"v": support.random_value(rng), "f": float(rng.randint(-2 ** 20, 2 ** 20)), "l": [float(rng.randint(0, 9))]}


def values() -> List[Any]:
    rng = random.Random(20261202)
    return EXACT + [random_exact(rng) for _ in range(100)]


def pair() -> Dict[str, Any]:
    sent = values()
    mismatched: List[int] = []
    echo_mismatched: List[int] = []
    with AgentOSClient(name="py-exact-a", timeout=20) as a, AgentOSClient(name="py-exact-b", timeout=20) as b:
        for i, value in enumerate(sent):
            a.send("py-exact-b", value)
            got = b.recv(timeout_ms=5000)
            b.ack(got["msgId"])
            if not (support.same(got["payload"], value) and cbor_encode(got["payload"]) == cbor_encode(value)):
                mismatched.append(i)
            if not support.same(a.noop(value), value):
                echo_mismatched.append(i)
    return {"count": len(sent), "mismatched": mismatched, "echoMismatched": echo_mismatched}


def send(to: str) -> Dict[str, Any]:
    sent = EXACT
    with AgentOSClient(name="py-exact-sender", timeout=20) as a:
        for value in sent:
            a.send(to, value)
    return {"hex": [cbor_encode(v).hex() for v in sent]}


def describe(value: Any) -> Any:
    """What a value decoded to, kinds included, as JSON."""
    if isinstance(value, float):
        return {"float": repr(value)}
    if value is UNDEFINED:
        return {"undefined": True}
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return {"int": str(value)}
    if isinstance(value, CBORTag):
        return {"tag": value.tag, "value": describe(value.value)}
    if isinstance(value, CBORSimple):
        return {"simple": value.value}
    if isinstance(value, (list, tuple)):
        return [describe(v) for v in value]
    if isinstance(value, dict):
        return {"map": [[describe(k), describe(v)] for k, v in value.items()]}
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    return value


def recv(ready_to: str, n: int) -> Dict[str, Any]:
    got: List[Any] = []
    with AgentOSClient(name="py-exact-recv", timeout=20) as b:
        b.send(ready_to, "ready")
        for _ in range(n):
            message = b.recv(timeout_ms=15000)
            b.ack(message["msgId"])
            got.append(describe(message["payload"]))
    return {"got": got}


def main(argv: List[str]) -> int:
    mode = argv[1]
    if mode == "pair":
        out = pair()
    elif mode == "send":
        out = send(argv[2])
    else:
        out = recv(argv[2], int(argv[3]))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
