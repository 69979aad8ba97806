"""AgentOS agent SDK for Python: one file, standard library only (Python 3.9+).

An agent connects to the AgentOS kernel over the already-connected socket the kernel gave it
as fd 3 (``AGENTOS_FD``), or from outside over the kernel's socket path, and makes syscalls
through :class:`AgentOSClient`. Frames are a 4-byte big-endian length then one CBOR map; the
strict RFC 8949 codec here (:func:`cbor_encode`, :func:`cbor_decode`) writes and accepts
exactly what the kernel's own codec (src/protocol/Cbor.ts) does.

    with AgentOSClient() as kernel:          # connects, says HELLO
        print(kernel.noop({"ping": 1}))
        answer = kernel.think("Say hi")      # {"content", "tokens", "error"}
"""
from __future__ import annotations

import collections
import errno
import math
import os
import selectors
import socket
import struct
import threading
import time
from collections.abc import Mapping
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Set, Tuple, Union

__all__ = [
    "AgentOSClient",
    "AgentOSError",
    "AgentOSConnectionError",
    "connect",
    "socket_path",
    "Op",
    "ERROR_CODES",
    "PROTOCOL_VERSION",
    "MAX_FRAME",
    "MAX_DEPTH",
    "cbor_encode",
    "cbor_decode",
    "encode_frame",
    "CBORError",
    "CBORDecodeError",
    "CBOREncodeError",
    "CBORTag",
    "CBORSimple",
    "FrozenDict",
    "UNDEFINED",
]

#: The protocol version stated at HELLO.
PROTOCOL_VERSION = 1

#: The default largest frame body in bytes (16 MiB); HELLO reports the kernel's.
MAX_FRAME = 16 * 1024 * 1024

#: Deepest nesting of arrays, maps and tags either direction of the codec accepts.
MAX_DEPTH = 256

#: Every error code the kernel answers with (DESIGN.md, "Protocol"; EIO only for kernel bugs).
ERROR_CODES = (
    "EINVAL", "ENOENT", "EPERM", "EEXIST", "EBUSY", "EAGAIN", "ETIMEDOUT", "E2BIG",
    "ENOSYS", "EPROTO", "ERATE", "EDEADLK", "ENOTSUP", "EIO",
)


class Op:
    """The syscall numbers of the AgentOS protocol (the seed's numbers are kept)."""

    NOOP = 0x00
    THINK = 0x01
    HELLO = 0x02
    SPAWN = 0x10
    KILL = 0x11
    LIST = 0x12
    WAIT = 0x13
    STAT = 0x14
    SEND = 0x20
    RECV = 0x21
    ACK = 0x22
    TREE = 0x30
    SUBSCRIBE = 0x31
    CHILD = 0x32
    LOG = 0x40
    HEARTBEAT = 0x41

    @staticmethod
    def describe(op: int) -> str:
        """Renders an op for messages: ``NOOP (0x00)``, or ``0x7f`` for an unknown number."""
        if op < 0:
            return "a request"
        hexa = "0x%02x" % op
        name = _OP_NAMES.get(op)
        return hexa if name is None else "%s (%s)" % (name, hexa)


_OP_NAMES = {v: k for k, v in vars(Op).items() if k.isupper() and isinstance(v, int)}


# =============================================================================================
# CBOR (RFC 8949)
# =============================================================================================


class CBORError(ValueError):
    """A value that cannot be encoded, or bytes that are not exactly one well-formed CBOR item.

    ``reason`` is one of the kernel codec's reasons: ``Truncated``, ``TrailingBytes``,
    ``Malformed``, ``InvalidUtf8``, ``TooDeep``, ``Unsupported``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class CBORDecodeError(CBORError):
    """The only error :func:`cbor_decode` raises."""


class CBOREncodeError(CBORError):
    """Raised by :func:`cbor_encode` for nesting deeper than MAX_DEPTH (cycles included)."""


class CBORTag:
    """A tagged data item (major type 6) other than the bignum tags 2 and 3 (those are ints)."""

    __slots__ = ("tag", "value")

    def __init__(self, tag: int, value: Any) -> None:
        if isinstance(tag, bool) or not isinstance(tag, int) or tag < 0 or tag > _MAX_U64:
            raise ValueError("CBOR tag %r is not an integer in 0..2^64-1" % (tag,))
        if tag in (2, 3):
            raise ValueError("CBOR tag %d is a bignum: use an int" % tag)
        self.tag = tag
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CBORTag) and other.tag == self.tag and other.value == self.value

    def __hash__(self) -> int:
        return hash((CBORTag, self.tag, self.value))

    def __repr__(self) -> str:
        return "CBORTag(%d, %r)" % (self.tag, self.value)


class CBORSimple:
    """A simple value (major type 7) other than false, true, null and undefined: 0..19, 32..255."""

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not (0 <= value <= 19 or 32 <= value <= 255):
            raise ValueError("CBOR simple value %r is not in 0..19 or 32..255" % (value,))
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CBORSimple) and other.value == self.value

    def __hash__(self) -> int:
        return hash((CBORSimple, self.value))

    def __repr__(self) -> str:
        return "CBORSimple(%d)" % self.value


class _Undefined:
    """CBOR's undefined (0xf7), which Python has no value for; use the singleton UNDEFINED."""

    _instance: Optional["_Undefined"] = None

    def __new__(cls) -> "_Undefined":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNDEFINED"


#: CBOR's undefined simple value (0xf7).
UNDEFINED = _Undefined()


class FrozenDict(Mapping):
    """An immutable, hashable mapping: how a CBOR map decodes when it is itself a map key."""

    __slots__ = ("_items", "_hash")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._items: Dict[Any, Any] = dict(*args, **kwargs)
        self._hash: Optional[int] = None

    def __getitem__(self, key: Any) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._items.items()))
        return self._hash

    def __repr__(self) -> str:
        return "FrozenDict(%r)" % (self._items,)


_MAX_U64 = 0xFFFF_FFFF_FFFF_FFFF
_MAX_SAFE = 2 ** 53 - 1
# Decoding limit for bignums, as the kernel's codec has.
_MAX_BIGNUM_BYTES = 64 * 1024
_HALF = struct.Struct(">e")
_SINGLE = struct.Struct(">f")
_DOUBLE = struct.Struct(">d")
_NAN_HALF = b"\xf9\x7e\x00"


def _head(out: bytearray, major: int, n: int) -> None:
    """Appends the head of a data item: major type and argument n (< 2^64), shortest form."""
    m = major << 5
    if n < 24:
        out.append(m | n)
    elif n < 0x100:
        out.append(m | 24)
        out.append(n)
    elif n < 0x1_0000:
        out.append(m | 25)
        out += n.to_bytes(2, "big")
    elif n < 0x1_0000_0000:
        out.append(m | 26)
        out += n.to_bytes(4, "big")
    else:
        out.append(m | 27)
        out += n.to_bytes(8, "big")


def _encode_float(out: bytearray, v: float) -> None:
    """The shortest of half/single/double that holds v exactly (RFC 8949 4.2.2); NaN as 0x7e00."""
    if v != v:
        out += _NAN_HALF
        return
    try:
        half = _HALF.pack(v)
    except OverflowError:
        half = None
    if half is not None and _HALF.unpack(half)[0] == v:
        out.append(0xF9)
        out += half
        return
    try:
        single = _SINGLE.pack(v)
    except OverflowError:
        single = None
    if single is not None and _SINGLE.unpack(single)[0] == v:
        out.append(0xFA)
        out += single
        return
    out.append(0xFB)
    out += _DOUBLE.pack(v)


def _encode_int(out: bytearray, v: int) -> None:
    if v >= 0:
        if v <= _MAX_U64:
            _head(out, 0, v)
            return
        out.append(0xC2)
        magnitude = v
    else:
        magnitude = -1 - v
        if magnitude <= _MAX_U64:
            _head(out, 1, magnitude)
            return
        out.append(0xC3)
    # A bignum: tag 2 or 3 around the big-endian magnitude, no leading zero bytes.
    raw = magnitude.to_bytes((magnitude.bit_length() + 7) // 8, "big")
    _head(out, 2, len(raw))
    out += raw


def _encode_text(out: bytearray, s: str) -> None:
    try:
        raw = s.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates have no UTF-8 form: written as U+FFFD, as the kernel's codec does.
        raw = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in s).encode("utf-8")
    _head(out, 3, len(raw))
    out += raw


def _too_deep() -> CBOREncodeError:
    return CBOREncodeError("TooDeep", "encoding CBOR: nesting is deeper than %d (or the value is cyclic)" % MAX_DEPTH)


def _encode(out: bytearray, v: Any, depth: int) -> None:
    t = type(v)
    if t is str:
        _encode_text(out, v)
    elif t is int:
        _encode_int(out, v)
    elif v is None:
        out.append(0xF6)
    elif v is True:
        out.append(0xF5)
    elif v is False:
        out.append(0xF4)
    elif t is float:
        _encode_float(out, v)
    elif t is dict or isinstance(v, Mapping):
        if depth >= MAX_DEPTH:
            raise _too_deep()
        _head(out, 5, len(v))
        for key, item in v.items():
            _encode(out, key, depth + 1)
            _encode(out, item, depth + 1)
    elif t is list or t is tuple or isinstance(v, (list, tuple)):
        if depth >= MAX_DEPTH:
            raise _too_deep()
        _head(out, 4, len(v))
        for item in v:
            _encode(out, item, depth + 1)
    elif isinstance(v, (bytes, bytearray, memoryview)):
        raw = bytes(v)
        _head(out, 2, len(raw))
        out += raw
    elif isinstance(v, int):  # int subclasses (IntEnum); bool was handled above
        _encode_int(out, int(v))
    elif isinstance(v, float):
        _encode_float(out, float(v))
    elif isinstance(v, str):
        _encode_text(out, str(v))
    elif t is CBORTag:
        if depth >= MAX_DEPTH:
            raise _too_deep()
        _head(out, 6, v.tag)
        _encode(out, v.value, depth + 1)
    elif t is CBORSimple:
        if v.value < 24:
            out.append(0xE0 | v.value)
        else:
            out.append(0xF8)
            out.append(v.value)
    elif v is UNDEFINED:
        out.append(0xF7)
    else:
        raise TypeError("encoding CBOR: cannot encode a %s" % type(v).__name__)


def cbor_encode(value: Any) -> bytes:
    """Encodes value as one CBOR data item in preferred serialization.

    int → major 0/1 within 64 bits, else bignum tags 2/3; float → the shortest exact
    half/single/double (NaN as f97e00); str → text (lone surrogates as U+FFFD); bytes,
    bytearray, memoryview → byte string; list, tuple → array; dict, any Mapping → map in
    iteration order; None, True, False, UNDEFINED; CBORTag, CBORSimple as such.

    Raises TypeError for any other value, CBOREncodeError (TooDeep) for nesting over MAX_DEPTH.
    """
    out = bytearray()
    _encode(out, value, 0)
    return bytes(out)


class _Decoder:
    """One decode: the bytes, the position, and the item reader."""

    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.end = len(data)

    def fail(self, reason: str, what: str) -> CBORDecodeError:
        return CBORDecodeError(reason, "decoding CBOR at byte %d: %s" % (self.pos, what))

    def truncated(self, what: str) -> CBORDecodeError:
        return self.fail("Truncated", "%s runs past the end (%d bytes)" % (what, self.end))

    def arg(self, ai: int) -> int:
        if ai < 24:
            return ai
        size = 1 << (ai - 24)
        p = self.pos
        if p + size > self.end:
            raise self.truncated("a %d-byte argument" % size)
        self.pos = p + size
        if size == 1:
            return self.data[p]
        return int.from_bytes(self.data[p:p + size], "big")

    def take(self, n: int, what: str) -> bytes:
        if n > self.end - self.pos:
            raise self.truncated("a %s of %d bytes" % (what, n))
        p = self.pos
        self.pos = p + n
        return self.data[p:p + n]

    def text(self, n: int) -> str:
        raw = self.take(n, "text string")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.pos -= n
            raise self.fail("InvalidUtf8", "a text string of %d bytes is not valid UTF-8" % n) from None

    def chunks(self, major: int) -> Union[bytes, str]:
        # Each chunk must be a definite string of the same major type; each text chunk valid
        # UTF-8 on its own (chunks split only at code points).
        parts: List[Any] = []
        while True:
            if self.pos >= self.end:
                raise self.truncated("an indefinite-length string")
            ib = self.data[self.pos]
            if ib == 0xFF:
                self.pos += 1
                break
            ai = ib & 31
            if ib >> 5 != major or ai >= 28:
                raise self.fail(
                    "Malformed",
                    "a chunk of an indefinite-length %s string is not a definite one" % ("byte" if major == 2 else "text"),
                )
            self.pos += 1
            n = self.arg(ai)
            parts.append(self.take(n, "byte string") if major == 2 else self.text(n))
        return b"".join(parts) if major == 2 else "".join(parts)

    def array(self, n: int, depth: int) -> List[Any]:
        if depth >= MAX_DEPTH:
            raise self.fail("TooDeep", "nesting is deeper than %d" % MAX_DEPTH)
        # Every item is at least one byte: checked before anything is allocated.
        if n > self.end - self.pos:
            raise self.truncated("an array of %d items" % n)
        # A loop, not a comprehension: one Python frame fewer per level of nesting.
        out: List[Any] = []
        for _ in range(n):
            out.append(self.item(depth + 1))
        return out

    def indefinite_array(self, depth: int) -> List[Any]:
        if depth >= MAX_DEPTH:
            raise self.fail("TooDeep", "nesting is deeper than %d" % MAX_DEPTH)
        out: List[Any] = []
        while True:
            if self.pos >= self.end:
                raise self.truncated("an indefinite-length array")
            if self.data[self.pos] == 0xFF:
                self.pos += 1
                return out
            out.append(self.item(depth + 1))

    def map(self, n: int, depth: int) -> Dict[Any, Any]:
        """A map; n is the number of pairs, or -1 for an indefinite-length map."""
        if depth >= MAX_DEPTH:
            raise self.fail("TooDeep", "nesting is deeper than %d" % MAX_DEPTH)
        if n > (self.end - self.pos) / 2:
            raise self.truncated("a map of %d pairs" % n)
        out: Dict[Any, Any] = {}
        seen: Set[Any] = set()
        i = 0
        while n < 0 or i < n:
            if self.pos >= self.end:
                raise self.truncated("an indefinite-length map" if n < 0 else "a map key")
            if n < 0 and self.data[self.pos] == 0xFF:
                self.pos += 1
                break
            at = self.pos
            key = self.item(depth + 1)
            value = self.item(depth + 1)
            i += 1
            if type(key) is str:
                if key in out:
                    self.pos = at
                    raise self.fail("Malformed", "duplicate map key %s" % _quote(key))
                out[key] = value
                continue
            key = _freeze(key)
            identity = _key_identity(key)
            if identity is not None and identity in seen:
                self.pos = at
                raise self.fail("Malformed", "duplicate map key %r" % (key,))
            if key in out:
                # Distinct keys to the kernel (1 and true, h'01' twice) that a dict cannot hold.
                self.pos = at
                raise self.fail("Unsupported", "map key %r equals an earlier key in Python" % (key,))
            if identity is not None:
                seen.add(identity)
            out[key] = value
        return out

    def tag(self, ai: int, depth: int) -> Any:
        n = self.arg(ai)
        if depth >= MAX_DEPTH:
            raise self.fail("TooDeep", "nesting is deeper than %d" % MAX_DEPTH)
        if n == 2 or n == 3:
            at = self.pos
            content = self.item(depth + 1)
            if not isinstance(content, bytes):
                self.pos = at
                raise self.fail("Malformed", "bignum tag %d holds something other than a byte string" % n)
            if len(content) > _MAX_BIGNUM_BYTES:
                self.pos = at
                raise self.fail(
                    "Unsupported", "a bignum of %d bytes is over the %d-byte limit" % (len(content), _MAX_BIGNUM_BYTES)
                )
            magnitude = int.from_bytes(content, "big")
            return magnitude if n == 2 else -1 - magnitude
        return CBORTag(n, self.item(depth + 1))

    def simple(self, ai: int) -> Any:
        if ai < 20:
            return CBORSimple(ai)
        if ai == 20:
            return False
        if ai == 21:
            return True
        if ai == 22:
            return None
        if ai == 23:
            return UNDEFINED
        if ai == 24:
            if self.pos >= self.end:
                raise self.truncated("a simple value")
            v = self.data[self.pos]
            if v < 32:
                raise self.fail("Malformed", "simple value %d must be encoded in one byte" % v)
            self.pos += 1
            return CBORSimple(v)
        size = 1 << (ai - 24)  # 2, 4 or 8
        name = {2: "a half float", 4: "a single float", 8: "a double float"}[size]
        if self.pos + size > self.end:
            raise self.truncated(name)
        p = self.pos
        self.pos = p + size
        fmt = _HALF if size == 2 else _SINGLE if size == 4 else _DOUBLE
        return fmt.unpack_from(self.data, p)[0]

    def item(self, depth: int) -> Any:
        if self.pos >= self.end:
            raise self.truncated("a data item")
        ib = self.data[self.pos]
        self.pos += 1
        major = ib >> 5
        ai = ib & 31
        if ai >= 28:
            if ai != 31:
                self.pos -= 1
                raise self.fail("Malformed", "reserved additional information %d" % ai)
            if major == 2 or major == 3:
                return self.chunks(major)
            if major == 4:
                return self.indefinite_array(depth)
            if major == 5:
                return self.map(-1, depth)
            self.pos -= 1
            if major == 7:
                raise self.fail("Malformed", "a break code outside an indefinite-length item")
            raise self.fail("Malformed", "major type %d cannot have an indefinite length" % major)
        if major == 0:
            return self.arg(ai)
        if major == 1:
            return -1 - self.arg(ai)
        if major == 2:
            return self.take(self.arg(ai), "byte string")
        if major == 3:
            return self.text(self.arg(ai))
        if major == 4:
            return self.array(self.arg(ai), depth)
        if major == 5:
            return self.map(self.arg(ai), depth)
        if major == 6:
            return self.tag(ai, depth)
        return self.simple(ai)


def _quote(s: str) -> str:
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


def _freeze(v: Any) -> Any:
    """A hashable equivalent of a decoded value, for use as a map key."""
    if type(v) is list:
        return tuple(_freeze(x) for x in v)
    if type(v) is dict:
        return FrozenDict((k, _freeze(x)) for k, x in v.items())
    if type(v) is CBORTag:
        return CBORTag(v.tag, _freeze(v.value))
    return v


def _key_identity(key: Any) -> Any:
    """What makes two non-text keys duplicates for the kernel's codec (JS SameValueZero on the
    decoded values), or None for keys it never takes for duplicates (byte strings, arrays, maps,
    tags and simple values decode to objects there, compared by identity)."""
    t = type(key)
    if t is bool:
        return ("bool", key)
    if t is int:
        return ("number", key) if -_MAX_SAFE <= key <= _MAX_SAFE else ("bigint", key)
    if t is float:
        if key != key:
            return ("nan",)
        # A float holding a safe integer is that number in JS (and -0.0 is 0).
        if math.isfinite(key) and key == int(key) and abs(key) <= _MAX_SAFE:
            return ("number", int(key))
        return ("float", key)
    if key is None or key is UNDEFINED:
        return (repr(key),)
    return None


def cbor_decode(data: Union[bytes, bytearray, memoryview]) -> Any:
    """Decodes bytes holding exactly one well-formed CBOR data item.

    Integers (any size, bignum tags 2/3 included) are int; floats float; byte strings bytes;
    text str; arrays list; maps dict (a key that is an array or a map becomes a tuple or a
    FrozenDict); other tags CBORTag; undefined UNDEFINED; other simple values CBORSimple.
    Indefinite-length items are accepted.

    Raises CBORDecodeError, and nothing else, for truncation, trailing bytes, reserved values,
    invalid UTF-8, duplicate keys, nesting over MAX_DEPTH and keys a dict cannot hold apart.
    """
    decoder = _Decoder(bytes(data))
    try:
        value = decoder.item(0)
    except RecursionError:
        raise decoder.fail("TooDeep", "nesting is too deep for this Python's recursion limit") from None
    if decoder.pos != decoder.end:
        raise decoder.fail("TrailingBytes", "%d bytes follow the data item" % (decoder.end - decoder.pos))
    return value


def encode_frame(message: Mapping, max_frame: int = MAX_FRAME) -> bytes:
    """One frame: the 4-byte big-endian length of the CBOR body, then the body.

    Raises CBORError when the body is over max_frame (reason Unsupported), TypeError for a
    message that is not a mapping or holds what CBOR cannot carry.
    """
    if not isinstance(message, Mapping):
        raise TypeError("encoding frame: a frame body must be a map")
    out = bytearray(4)
    _encode(out, message, 0)
    length = len(out) - 4
    if length > max_frame:
        raise CBOREncodeError("Unsupported", "encoding frame: body of %d bytes is over the %d-byte limit" % (length, max_frame))
    out[0:4] = length.to_bytes(4, "big")
    return bytes(out)


# =============================================================================================
# The client
# =============================================================================================


class AgentOSError(Exception):
    """A syscall that failed: ``code`` is the kernel's error code (``ENOSYS``, ``EINVAL``, …).

    ``op`` is the syscall number when the error answers one. Timeouts on the client side are
    ``ETIMEDOUT``; a request that cannot be encoded ``EINVAL``, or ``E2BIG`` when too large.
    """

    def __init__(self, code: str, message: str, op: Optional[int] = None) -> None:
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.message = message
        self.op = op


class AgentOSConnectionError(AgentOSError, ConnectionError):
    """The connection to the kernel could not be made or is gone.

    ``code`` is the errno name (``ENOENT``, ``ECONNREFUSED``, ``EBADF``, …), ``ECONNRESET``
    when the kernel closed the connection (``EPROTO`` when it said why first), ``ENOTCONN``
    after :meth:`AgentOSClient.close`.
    """


def socket_path(env: Optional[Mapping] = None, uid: Optional[int] = None) -> str:
    """The kernel's socket path: ``$AGENTOS_SOCKET``, else ``$XDG_RUNTIME_DIR/agentos/kernel.sock``,
    else ``/tmp/agentos-<uid>/kernel.sock``."""
    env = os.environ if env is None else env
    explicit = env.get("AGENTOS_SOCKET")
    if explicit:
        return os.path.abspath(explicit)
    runtime_dir = env.get("XDG_RUNTIME_DIR")
    if runtime_dir:
        return os.path.join(runtime_dir, "agentos", "kernel.sock")
    return os.path.join("/tmp", "agentos-%d" % (os.getuid() if uid is None else uid), "kernel.sock")


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


_ABSENT: Any = _Absent()
_DEFAULT: Any = _Absent()

PushHandler = Callable[[Dict[str, Any]], None]
ChunkHandler = Callable[[Any], None]


class _Pending:
    __slots__ = ("op", "on_chunk")

    def __init__(self, op: int, on_chunk: Optional[ChunkHandler]) -> None:
        self.op = op
        self.on_chunk = on_chunk


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _fields(**fields: Any) -> Dict[str, Any]:
    """Args map without the fields left as None, keys in the protocol's camelCase."""
    return {_camel(k): v for k, v in fields.items() if v is not None}


def _describe_connect_error(e: OSError) -> Tuple[str, str]:
    code = errno.errorcode.get(e.errno or 0, "ECONNREFUSED")
    if code == "ENOENT":
        return code, "no kernel socket there (is `agentos kernel` running?)"
    if code == "ECONNREFUSED":
        return code, "nothing is listening (a stale socket file from a kernel that died?)"
    if code == "EACCES":
        return code, "permission denied"
    return code, e.strerror or str(e)


class AgentOSClient:
    """A connection to the AgentOS kernel, with one method per syscall.

    Where it connects: ``fd`` if given; else ``path`` if given; else the inherited fd named
    by ``$AGENTOS_FD`` (fd 3, set when the kernel spawned this agent); else
    :func:`socket_path`. Methods connect on first use; as a context manager it connects,
    says HELLO and closes on exit.

    Requests carry ids and replies may arrive in any order: each caller waits for its own
    (safe across threads), kernel pushes ``{ev, data}`` go to ``on_push`` or, without one, to
    :attr:`pushes`. Every call takes ``timeout`` in seconds (default: the client's), after
    which it raises ``AgentOSError("ETIMEDOUT")`` and a late reply is dropped. Failures raise
    :class:`AgentOSError` with the kernel's ``code``, except :meth:`think`.

    Gotcha: the inherited fd is one connection and the client owns it (closing the client
    closes fd 3), so an agent makes one client and shares it, threads included.
    """

    def __init__(
        self,
        path: Optional[str] = None,
        *,
        fd: Optional[int] = None,
        name: Optional[str] = None,
        timeout: Optional[float] = 30.0,
        on_push: Optional[PushHandler] = None,
        max_frame: int = MAX_FRAME,
    ) -> None:
        self.path = path
        self.fd = fd
        self.name = name
        self.timeout = timeout
        self.on_push = on_push
        self.max_frame = max_frame
        #: Pushes received while no ``on_push`` handler was set, oldest first (the last 1024).
        self.pushes: Deque[Dict[str, Any]] = collections.deque(maxlen=1024)
        #: What the kernel answered at HELLO (``agent``, ``kernel``, ``limits``), once said.
        self.info: Optional[Dict[str, Any]] = None
        self._sock: Optional[socket.socket] = None
        self._selector: Optional[selectors.BaseSelector] = None
        self._cond = threading.Condition(threading.RLock())
        self._send_lock = threading.Lock()
        self._reading = False
        self._buf = bytearray()
        self._next_id = 0
        self._pending: Dict[int, _Pending] = {}
        self._replies: Dict[int, Tuple[int, Dict[str, Any]]] = {}
        self._error: Optional[AgentOSConnectionError] = None
        self._last_error_push: Optional[Dict[str, Any]] = None

    # ---- connection ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the connection is open and usable."""
        return self._sock is not None and self._error is None

    def connect(self) -> "AgentOSClient":
        """Opens the connection (once); raises AgentOSConnectionError when it cannot."""
        with self._cond:
            if self._sock is not None:
                if self._error is not None:
                    raise self._error
                return self
            fd = self.fd
            env_fd = os.environ.get("AGENTOS_FD", "")
            if fd is None and self.path is None and env_fd.isdigit():
                fd = int(env_fd)
            if fd is not None:
                try:
                    sock = socket.socket(fileno=fd)
                except OSError as e:
                    code = errno.errorcode.get(e.errno or 0, "EBADF")
                    raise AgentOSConnectionError(code, "using inherited kernel fd %d: %s" % (fd, e.strerror or e)) from None
            else:
                target = self.path if self.path is not None else socket_path()
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.connect(target)
                except OSError as e:
                    sock.close()
                    code, why = _describe_connect_error(e)
                    raise AgentOSConnectionError(code, "connecting to the kernel at %s: %s" % (target, why)) from None
            sock.setblocking(True)
            self._sock = sock
            self._selector = selectors.DefaultSelector()
            self._selector.register(sock, selectors.EVENT_READ)
            self._error = None
            return self

    def close(self) -> None:
        """Closes the connection; calls waiting on it raise AgentOSConnectionError (ENOTCONN)."""
        with self._cond:
            sock, selector = self._sock, self._selector
            if sock is None:
                return
            if self._error is None:
                self._error = AgentOSConnectionError("ENOTCONN", "the connection to the kernel was closed by this client")
            self._pending.clear()
            self._cond.notify_all()
        # Shut down first: a thread blocked reading wakes to EOF rather than on a closed fd.
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if selector is not None:
            selector.close()
        sock.close()

    def __enter__(self) -> "AgentOSClient":
        self.connect()
        if self.info is None:
            try:
                self.hello()
            except BaseException:
                self.close()
                raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- requests --------------------------------------------------------------------------

    def submit(self, op: int, args: Any = _ABSENT, *, on_chunk: Optional[ChunkHandler] = None) -> int:
        """Sends a request without waiting; returns its id for :meth:`collect`.

        ``on_chunk`` receives each partial result (``more``) sent before the reply.
        """
        self.connect()
        with self._cond:
            if self._error is not None:
                raise self._error
            request_id = self._next_id
            while True:
                request_id = 1 if request_id >= _MAX_SAFE else request_id + 1
                if request_id not in self._pending and request_id not in self._replies:
                    break
            self._next_id = request_id
            message: Dict[str, Any] = {"id": request_id, "op": op}
            if args is not _ABSENT:
                message["args"] = args
            try:
                frame = encode_frame(message, self.max_frame)
            except CBORError as e:
                code = "E2BIG" if e.reason == "Unsupported" else "EINVAL"
                raise AgentOSError(code, "%s: %s" % (Op.describe(op), e), op) from None
            except (TypeError, ValueError) as e:
                raise AgentOSError("EINVAL", "%s: %s" % (Op.describe(op), e), op) from None
            self._pending[request_id] = _Pending(op, on_chunk)
        try:
            with self._send_lock:
                assert self._sock is not None
                self._sock.sendall(frame)
        except OSError as e:
            self._fail(AgentOSConnectionError("ECONNRESET", "sending to the kernel: %s" % (e.strerror or e)))
            assert self._error is not None
            raise self._error from None
        return request_id

    def collect(self, request_id: int, timeout: Optional[float] = _DEFAULT) -> Any:
        """Waits for the reply to a submitted request and returns its result.

        Raises AgentOSError with the kernel's code, ``ETIMEDOUT`` after ``timeout`` seconds
        (the late reply is then dropped), AgentOSConnectionError when the connection goes.
        """
        if timeout is _DEFAULT:
            timeout = self.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            pending = self._pending.get(request_id)
            if pending is None and request_id not in self._replies:
                raise KeyError("no request %d is waiting for its reply" % request_id)
            try:
                self._until(lambda: request_id in self._replies, deadline)
            except _TimedOut:
                pending = self._pending.pop(request_id, None)
                op = pending.op if pending is not None else -1
                raise AgentOSError("ETIMEDOUT", "%s: no reply within %g s" % (Op.describe(op), timeout), op) from None
            except AgentOSConnectionError:
                self._pending.pop(request_id, None)
                raise
            op, reply = self._replies.pop(request_id)
        if reply.get("ok") is True:
            return reply.get("res")
        err = reply.get("err")
        code = str(err.get("code", "EIO")) if isinstance(err, dict) else "EIO"
        msg = str(err.get("msg", "")) if isinstance(err, dict) else "malformed error reply"
        raise AgentOSError(code, msg, op)

    def call(
        self,
        op: int,
        args: Any = _ABSENT,
        *,
        timeout: Optional[float] = _DEFAULT,
        on_chunk: Optional[ChunkHandler] = None,
    ) -> Any:
        """Makes any syscall by number and returns its result (None when the kernel sent none)."""
        return self.collect(self.submit(op, args, on_chunk=on_chunk), timeout)

    def next_push(self, timeout: Optional[float] = _DEFAULT) -> Optional[Dict[str, Any]]:
        """The oldest queued push ``{ev, data}``, reading until one arrives; None after timeout."""
        if timeout is _DEFAULT:
            timeout = self.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        self.connect()
        with self._cond:
            try:
                self._until(lambda: len(self.pushes) > 0, deadline)
            except _TimedOut:
                return None
            return self.pushes.popleft()

    # ---- syscalls --------------------------------------------------------------------------

    def hello(self, name: Optional[str] = None, *, timeout: Optional[float] = _DEFAULT) -> Dict[str, Any]:
        """HELLO: states the protocol version (and a name); returns ``{agent, kernel, limits}``.

        The name defaults to the client's, then ``$AGENTOS_NAME``; a spawned agent's name is
        the one the kernel gave it whatever it says.
        """
        name = name or self.name or os.environ.get("AGENTOS_NAME") or None
        info = self.call(Op.HELLO, _fields(version=PROTOCOL_VERSION, name=name), timeout=timeout)
        self.info = info
        limits = info.get("limits") if isinstance(info, dict) else None
        if isinstance(limits, dict) and isinstance(limits.get("maxFrame"), int):
            self.max_frame = limits["maxFrame"]
        return info

    def noop(self, value: Any = _ABSENT, *, timeout: Optional[float] = _DEFAULT) -> Any:
        """NOOP: the kernel echoes value back exactly (None when called without one)."""
        return self.call(Op.NOOP, value, timeout=timeout)

    def think(
        self,
        prompt: Optional[str] = None,
        *,
        messages: Optional[List[Any]] = None,
        model: Optional[str] = None,
        max_tokens: Optional[int] = None,
        timeout: Optional[float] = None,
        on_chunk: Optional[ChunkHandler] = None,
        **extra: Any,
    ) -> Dict[str, Any]:
        """THINK: asks the kernel's shared LLM. Returns ``{"content", "tokens", "error",
        "model", "usage"}``.

        Never raises for a failed call (the seed's behaviour): on any kernel error, ENOSYS
        included, ``error`` holds ``"CODE: message"``, ``content`` is ``""`` and ``tokens`` 0.
        Without ``timeout`` it waits as long as the kernel's scheduler takes. Other keyword
        arguments go into the request in camelCase (``stream=True`` with ``on_chunk``).
        """
        args = _fields(prompt=prompt, messages=messages, model=model, max_tokens=max_tokens, **extra)
        try:
            res = self.call(Op.THINK, args, timeout=timeout, on_chunk=on_chunk)
        except AgentOSError as e:
            return {"content": "", "tokens": 0, "error": "%s: %s" % (e.code, e.message), "model": None, "usage": None}
        res = res if isinstance(res, dict) else {"content": res}
        content = res.get("content")
        usage = res.get("usage")
        return {
            "content": content if isinstance(content, str) else ("" if content is None else str(content)),
            "tokens": _token_count(usage, res.get("tokens")),
            "error": None,
            "model": res.get("model"),
            "usage": usage,
        }

    def spawn(
        self,
        name: str,
        run: Optional[str] = None,
        args: Optional[List[str]] = None,
        *,
        env: Optional[Dict[str, str]] = None,
        sandbox: Optional[Dict[str, Any]] = None,
        caps: Optional[List[str]] = None,
        script: Optional[str] = None,
        sandboxed: Optional[bool] = None,
        network: Optional[bool] = None,
        limits: Optional[Dict[str, int]] = None,
        timeout: Optional[float] = _DEFAULT,
        **extra: Any,
    ) -> Dict[str, Any]:
        """SPAWN: starts an agent; returns ``{id, name, pid, status}``.

        ``run`` is a program or script (``.py`` runs with python3, ``.ts``/``.js`` with the
        kernel's Node), best given as an absolute path; ``caps`` names extra syscalls it may
        make (``["SPAWN", "KILL"]``). ``cwd``, ``restart``, ``parent`` go as keywords.

        The C++ kernel's SDK spelling works unchanged: ``script=`` for ``run``,
        ``sandboxed=False`` for ``sandbox={"isolate": False}``, ``network=`` True (the host's)
        or False (none), ``limits={"memory": bytes, "max_pids": n, "cpu_quota": µs per 100 ms}``
        (README.md has the mapping). Both spellings of one thing are EINVAL.
        """
        fields = _fields(
            name=name, run=run, script=script, args=args, env=env, sandbox=sandbox, caps=caps,
            sandboxed=sandboxed, network=network, limits=limits, **extra
        )
        return self.call(Op.SPAWN, fields, timeout=timeout)

    def kill(self, name: str, signal: Union[str, int, None] = None, *, timeout: Optional[float] = _DEFAULT) -> Dict[str, Any]:
        """KILL: signals an agent (by name or id; SIGTERM by default); returns ``{killed}``."""
        return self.call(Op.KILL, _fields(name=name, signal=signal), timeout=timeout)

    def list_agents(self, *, timeout: Optional[float] = _DEFAULT) -> List[Dict[str, Any]]:
        """LIST: every agent of the process table, one row ``{id, name, pid, status, restarts, …}`` each."""
        rows = self.call(Op.LIST, {}, timeout=timeout)
        return list(rows) if isinstance(rows, list) else []

    def wait(self, name: str, timeout_ms: Optional[int] = None, *, timeout: Optional[float] = _DEFAULT) -> Dict[str, Any]:
        """WAIT: blocks until an agent has ended; returns ``{code, signal, reason, …}``.

        ``timeout_ms`` is the kernel's deadline (ETIMEDOUT past it); the client waits that long
        plus its own timeout, or without limit when neither is given.
        """
        if timeout is _DEFAULT:
            timeout = None if timeout_ms is None or self.timeout is None else timeout_ms / 1000 + self.timeout
        return self.call(Op.WAIT, _fields(name=name, timeout_ms=timeout_ms), timeout=timeout)

    def stat(self, name: str, *, timeout: Optional[float] = _DEFAULT) -> Dict[str, Any]:
        """STAT: an agent's cgroup and accounting figures (memory, cpu, pids, exit)."""
        return self.call(Op.STAT, {"name": name}, timeout=timeout)

    def send(self, to: str, payload: Any, nowait: bool = False, *, timeout: Optional[float] = _DEFAULT) -> Dict[str, Any]:
        """SEND: puts payload in ``to``'s mailbox; returns ``{msgId}``.

        When the mailbox is full it waits, or with ``nowait`` fails with EAGAIN.
        """
        # The payload is sent whatever it is, None included (_fields would leave None out).
        args: Dict[str, Any] = {"to": to, "payload": payload}
        if nowait:
            args["nowait"] = True
        return self.call(Op.SEND, args, timeout=timeout)

    def recv(self, timeout_ms: Optional[int] = None, *, timeout: Optional[float] = _DEFAULT) -> Dict[str, Any]:
        """RECV: takes the next message, ``{msgId, from, payload}``; ACK it once handled.

        Raises AgentOSError ETIMEDOUT when ``timeout_ms`` passes with no message.
        """
        if timeout is _DEFAULT:
            timeout = None if timeout_ms is None or self.timeout is None else timeout_ms / 1000 + self.timeout
        return self.call(Op.RECV, _fields(timeout_ms=timeout_ms), timeout=timeout)

    def ack(self, msg_id: int, *, timeout: Optional[float] = _DEFAULT) -> Dict[str, Any]:
        """ACK: marks a received message handled (unacked ones are redelivered after a crash)."""
        return self.call(Op.ACK, {"msgId": msg_id}, timeout=timeout)

    def log(
        self, level: str, msg: str, fields: Optional[Dict[str, Any]] = None, *, timeout: Optional[float] = _DEFAULT
    ) -> Dict[str, Any]:
        """LOG: a structured log line in the kernel's log (level ``debug|info|warn|error``)."""
        return self.call(Op.LOG, _fields(level=level, msg=msg, fields=fields), timeout=timeout)

    def heartbeat(self, *, timeout: Optional[float] = _DEFAULT) -> Dict[str, Any]:
        """HEARTBEAT: tells the agent's watchdog it is alive."""
        return self.call(Op.HEARTBEAT, {}, timeout=timeout)

    def tree(self, *, timeout: Optional[float] = _DEFAULT) -> Any:
        """TREE: the supervision tree with each child's state."""
        return self.call(Op.TREE, {}, timeout=timeout)

    # ---- reading ---------------------------------------------------------------------------

    def _until(self, done: Callable[[], bool], deadline: Optional[float]) -> None:
        """Reads frames until done() (called with the lock held); one thread reads at a time,
        the others wait for what it files. Raises _TimedOut or the connection's error."""
        while not done():
            if self._error is not None:
                raise self._error
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise _TimedOut()
            if self._reading:
                self._cond.wait(remaining)
                continue
            self._reading = True
            items: List[Any] = []
            failure: Optional[AgentOSConnectionError] = None
            self._cond.release()
            try:
                items = self._read(remaining)
            except AgentOSConnectionError as e:
                failure = e
            finally:
                self._cond.acquire()
                self._reading = False
            callbacks: List[Callable[[], None]] = []
            for item in items:
                self._file(item, callbacks)
            if callbacks:
                # Handlers run without the lock, so they may make calls themselves.
                self._cond.release()
                try:
                    for callback in callbacks:
                        callback()
                finally:
                    self._cond.acquire()
            if failure is not None:
                self._fail(failure)
            self._cond.notify_all()

    def _read(self, timeout: Optional[float]) -> List[Any]:
        """Waits up to timeout for bytes; returns the frames completed by them (maybe none)."""
        sock, selector = self._sock, self._selector
        if sock is None or selector is None:
            raise AgentOSConnectionError("ENOTCONN", "not connected to the kernel")
        try:
            if not selector.select(timeout):
                return []
            data = sock.recv(256 * 1024)
        except (OSError, ValueError) as e:
            if self._error is not None:
                raise self._error from None
            raise AgentOSConnectionError("ECONNRESET", "connection to the kernel failed: %s" % e) from None
        if not data:
            push = self._last_error_push
            if push is not None:
                data_ = push.get("data")
                code = str(data_.get("code", "EPROTO")) if isinstance(data_, dict) else "EPROTO"
                msg = str(data_.get("msg", "")) if isinstance(data_, dict) else str(data_)
                raise AgentOSConnectionError(code, "the kernel closed the connection: %s" % msg)
            raise AgentOSConnectionError("ECONNRESET", "connection to the kernel closed")
        self._buf += data
        items: List[Any] = []
        buf = self._buf
        offset = 0
        while len(buf) - offset >= 4:
            length = int.from_bytes(buf[offset:offset + 4], "big")
            if length == 0 or length > self.max_frame:
                raise AgentOSConnectionError(
                    "EPROTO", "kernel sent an invalid frame: length %d (limit %d)" % (length, self.max_frame)
                )
            if len(buf) - offset - 4 < length:
                break
            body = bytes(buf[offset + 4:offset + 4 + length])
            offset += 4 + length
            try:
                item = cbor_decode(body)
            except CBORDecodeError as e:
                raise AgentOSConnectionError("EPROTO", "kernel sent an invalid frame: %s" % e) from None
            if not isinstance(item, dict):
                raise AgentOSConnectionError("EPROTO", "kernel sent a frame that is not a map")
            items.append(item)
        del buf[:offset]
        return items

    def _file(self, item: Dict[str, Any], callbacks: List[Callable[[], None]]) -> None:
        """Puts one frame from the kernel where it belongs (lock held)."""
        ev = item.get("ev")
        if isinstance(ev, str):
            push = {"ev": ev, "data": item.get("data")}
            if ev == "error":
                self._last_error_push = push
            handler = self.on_push
            if handler is not None:
                callbacks.append(lambda: handler(push))
            else:
                self.pushes.append(push)
            return
        request_id = item.get("id")
        valid_id = type(request_id) is int and request_id >= 0
        if "ok" in item:
            if not valid_id:
                # An error the kernel could not tie to a request: ours was malformed.
                err = item.get("err")
                msg = err.get("msg", "") if isinstance(err, dict) else ""
                code = err.get("code", "EPROTO") if isinstance(err, dict) else "EPROTO"
                self._fail(AgentOSConnectionError(str(code), "kernel rejected a request: %s" % msg))
                return
            # A reply nobody waits for any more (timed out, or a duplicate) is dropped.
            pending = self._pending.pop(request_id, None)
            if pending is not None:
                self._replies[request_id] = (pending.op, item)
            return
        if valid_id and "more" in item:
            pending = self._pending.get(request_id)
            if pending is not None and pending.on_chunk is not None:
                on_chunk, more = pending.on_chunk, item["more"]
                callbacks.append(lambda: on_chunk(more))

    def _fail(self, error: AgentOSConnectionError) -> None:
        with self._cond:
            if self._error is None:
                self._error = error
            self._pending.clear()
            self._cond.notify_all()
            sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _TimedOut(Exception):
    pass


def _token_count(usage: Any, tokens: Any) -> int:
    """Tokens a THINK used, from whatever shape its usage has."""
    if type(tokens) is int:
        return tokens
    if type(usage) is int:
        return usage
    if isinstance(usage, dict):
        total = usage.get("totalTokens", usage.get("total_tokens"))
        if type(total) is int:
            return total
        parts = [usage.get(k) for k in ("inputTokens", "outputTokens", "input_tokens", "output_tokens")]
        return sum(p for p in parts if type(p) is int)
    return 0


def connect(path: Optional[str] = None, *, name: Optional[str] = None, timeout: Optional[float] = 30.0) -> AgentOSClient:
    """Connects (fd 3 inside an agent, else the socket path) and says HELLO; returns the client."""
    client = AgentOSClient(path, name=name, timeout=timeout)
    return client.__enter__()
