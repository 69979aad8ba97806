"""Test support for the Python SDK: the vector file's value representation, a strict equality,
and a seeded generator of random CBOR-encodable values (the same kinds the TypeScript side can
hold exactly, so a round trip through it must give back identical bytes)."""
from __future__ import annotations

import json
import math
import os
import random
import struct
import sys
from typing import Any, List

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "agents", "python"))

from agentos import UNDEFINED, CBORSimple, CBORTag, FrozenDict  # noqa: E402

VECTORS = os.path.join(ROOT, "test", "vectors", "cbor.json")
MAX_SAFE = 2 ** 53 - 1


def load_vectors() -> List[dict]:
    with open(VECTORS, encoding="utf-8") as f:
        return json.load(f)


def from_rep(rep: Any) -> Any:
    """The Python value a vector's representation stands for."""
    if rep is None or isinstance(rep, (bool, int, str)):
        return rep
    if isinstance(rep, list):
        return [from_rep(x) for x in rep]
    (kind,) = [k for k in rep if k != "value"] or ["?"]
    if kind == "int":
        return int(rep["int"])
    if kind == "float":
        return float(rep["float"])
    if kind == "bytes":
        return bytes.fromhex(rep["bytes"])
    if kind == "map":
        return {freeze(from_rep(k)): from_rep(v) for k, v in rep["map"]}
    if kind == "tag":
        return CBORTag(int(rep["tag"]), from_rep(rep["value"]))
    if kind == "simple":
        return CBORSimple(rep["simple"])
    if kind == "undefined":
        return UNDEFINED
    raise ValueError("unknown representation %r" % (rep,))


def freeze(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(freeze(x) for x in v)
    if isinstance(v, dict):
        return FrozenDict((k, freeze(x)) for k, x in v.items())
    if isinstance(v, CBORTag):
        return CBORTag(v.tag, freeze(v.value))
    return v


def same(a: Any, b: Any) -> bool:
    """Structural equality that tells int from float from bool, NaN equal to NaN, -0.0 from 0.0,
    lists equal to tuples (map keys decode as tuples), and compares maps in order."""
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None or a is UNDEFINED or b is UNDEFINED:
        return a is b
    if isinstance(a, float) or isinstance(b, float):
        if type(a) is not float or type(b) is not float:
            return False
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, int) or isinstance(b, int):
        return type(a) is int and type(b) is int and a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, (dict, FrozenDict)) and isinstance(b, (dict, FrozenDict)):
        ia, ib = list(a.items()), list(b.items())
        return len(ia) == len(ib) and all(same(ka, kb) and same(va, vb) for (ka, va), (kb, vb) in zip(ia, ib))
    if isinstance(a, CBORTag) and isinstance(b, CBORTag):
        return a.tag == b.tag and same(a.value, b.value)
    if isinstance(a, CBORSimple) and isinstance(b, CBORSimple):
        return a.value == b.value
    if isinstance(a, (bytes, str)) and type(a) is type(b):
        return a == b
    return False


# ---------------------------------------------------------------------------------------------
# Random values
# ---------------------------------------------------------------------------------------------

_TEXT = "abcxyzAZ09 _-.é水😀\u00ff\u07ff\u0800\uffff\U00010000\U0010ffff"
_KEY_START = "abcdefghijklmnopqrstuvwxyzABCXYZé水_$"


def _text(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(_TEXT) for _ in range(n))


def _key(rng: random.Random) -> str:
    # Never an array index ("0", "17"): JS objects put those first, so their order would change.
    if rng.random() < 0.03:
        return "__proto__"
    return rng.choice(_KEY_START) + _text(rng, rng.choice([0, 1, 3, 8, 30]))


def _int(rng: random.Random) -> int:
    bits = rng.choice([4, 5, 8, 9, 16, 17, 32, 33, 52, 53, 54, 63, 64, 65, 100, 300])
    n = rng.getrandbits(bits)
    if rng.random() < 0.2:
        n = [0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, MAX_SAFE, MAX_SAFE + 1, 2 ** 64 - 1, 2 ** 64][rng.randrange(13)]
    return -1 - n if rng.random() < 0.5 else n


def _float(rng: random.Random) -> float:
    """A float the TypeScript codec keeps a float: never one holding a safe integer but -0.0."""
    kind = rng.randrange(6)
    if kind == 0:
        return rng.choice([float("nan"), float("inf"), float("-inf"), -0.0, 0.5, -1.5, 5.960464477539063e-8, 65504.5])
    if kind == 1:  # a half float
        v = struct.unpack(">e", rng.getrandbits(16).to_bytes(2, "big"))[0]
    elif kind == 2:  # a single float
        v = struct.unpack(">f", rng.getrandbits(32).to_bytes(4, "big"))[0]
    else:  # any double
        v = struct.unpack(">d", rng.getrandbits(64).to_bytes(8, "big"))[0]
    if math.isfinite(v) and v == int(v) and abs(v) <= MAX_SAFE and not (v == 0 and math.copysign(1, v) < 0):
        v += 0.5 if abs(v) < 2 ** 40 else 0.0
        if v == int(v) and abs(v) <= MAX_SAFE:
            v = 0.25
    return v


def random_value(rng: random.Random, depth: int = 0) -> Any:
    """One random value; nested containers get rarer with depth."""
    leaf = depth >= 4 or rng.random() < 0.55
    kinds = ["int", "float", "text", "bytes", "const", "tag", "simple"] if leaf else ["list", "map", "keymap", "tag", "list", "map"]
    kind = rng.choice(kinds)
    if kind == "int":
        return _int(rng)
    if kind == "float":
        return _float(rng)
    if kind == "text":
        return _text(rng, rng.choice([0, 1, 5, 23, 24, 100, 300]))
    if kind == "bytes":
        return bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 23, 24, 255, 256, 1000])))
    if kind == "const":
        return rng.choice([None, True, False])
    if kind == "simple":
        return CBORSimple(rng.choice([0, 5, 19, 32, 100, 255]))
    if kind == "tag":
        tag = rng.choice([0, 1, 4, 24, 32, 55799, 65536, 2 ** 32, MAX_SAFE + 1, 2 ** 64 - 1])
        return CBORTag(tag, random_value(rng, depth + 1))
    if kind == "list":
        # undefined only inside arrays: a JS object drops keys whose value is undefined.
        return [UNDEFINED if rng.random() < 0.05 else random_value(rng, depth + 1) for _ in range(rng.choice([0, 1, 3, 24, 30]))]
    if kind == "map":
        return {_key(rng): random_value(rng, depth + 1) for _ in range(rng.choice([0, 1, 4, 20]))}
    # A map with keys of other kinds (a JS Map on the other side).
    out: dict = {}
    for _ in range(rng.choice([1, 3, 8])):
        key_kind = rng.randrange(5)
        if key_kind == 0:
            key: Any = _int(rng)
        elif key_kind == 1:
            key = bytes(rng.getrandbits(8) for _ in range(rng.randrange(4)))
        elif key_kind == 2:
            key = tuple(_int(rng) for _ in range(rng.randrange(3)))
        elif key_kind == 3:
            key = _key(rng)
        else:
            key = _float(rng)
            # Not NaN (never equal to itself) nor -0.0 (a JS Map turns a -0 key into +0, which
            # then encodes as the integer 0).
            if key != key or key == 0:
                key = 1.25
        out[key] = random_value(rng, depth + 1)
    return out


def random_values(seed: int, count: int) -> List[Any]:
    rng = random.Random(seed)
    return [random_value(rng) for _ in range(count)]
