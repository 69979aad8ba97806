"""The Python CBOR codec: every shared vector decodes to its value (or is refused with its
reason), those marked `encode` encode to exactly their bytes, and the Python-only edges
(dict keys, lone surrogates, unencodable values, frames) behave as documented."""
from __future__ import annotations

import random
import unittest

import support
from agentos import (
    MAX_DEPTH,
    UNDEFINED,
    CBORDecodeError,
    CBOREncodeError,
    CBORSimple,
    CBORTag,
    FrozenDict,
    cbor_decode,
    cbor_encode,
    encode_frame,
)


class Vectors(unittest.TestCase):
    def test_every_vector_decodes_to_its_value_or_is_refused_with_its_reason(self) -> None:
        vectors = support.load_vectors()
        self.assertGreater(len(vectors), 200)
        for v in vectors:
            with self.subTest(v["name"]):
                data = bytes.fromhex(v["hex"])
                if "error" in v:
                    with self.assertRaises(CBORDecodeError) as caught:
                        cbor_decode(data)
                    self.assertEqual(caught.exception.reason, v["error"], str(caught.exception))
                else:
                    decoded = cbor_decode(data)
                    expected = support.from_rep(v["value"])
                    self.assertTrue(support.same(decoded, expected), "%r != %r" % (decoded, expected))

    def test_vectors_marked_encode_encode_to_exactly_their_bytes(self) -> None:
        encoded = 0
        for v in support.load_vectors():
            if v.get("encode"):
                with self.subTest(v["name"]):
                    self.assertEqual(cbor_encode(support.from_rep(v["value"])).hex(), v["hex"])
                    encoded += 1
        self.assertGreater(encoded, 100)

    def test_every_rfc_8949_appendix_a_example_is_a_vector(self) -> None:
        rfc = [v for v in support.load_vectors() if v["name"].startswith("RFC 8949 A: ")]
        self.assertEqual(len(rfc), 81)


class Decoding(unittest.TestCase):
    def test_keys_a_dict_cannot_hold_apart_are_unsupported_not_duplicates(self) -> None:
        # 1 and true, or two equal byte strings: distinct keys to the kernel's codec.
        for hexa in ("a201f5f502", "a2410101410102", "a28001 8002".replace(" ", "")):
            with self.subTest(hexa):
                with self.assertRaises(CBORDecodeError) as caught:
                    cbor_decode(bytes.fromhex(hexa))
                self.assertEqual(caught.exception.reason, "Unsupported")

    def test_array_and_map_keys_decode_hashable_and_encode_back(self) -> None:
        data = bytes.fromhex("a2820102 61 61 a16162f5 02".replace(" ", ""))
        value = cbor_decode(data)
        self.assertEqual(value, {(1, 2): "a", FrozenDict({"b": True}): 2})
        self.assertEqual(cbor_encode(value), data)

    def test_the_error_names_the_byte_where_decoding_stopped(self) -> None:
        with self.assertRaises(CBORDecodeError) as caught:
            cbor_decode(bytes.fromhex("82 01 1c".replace(" ", "")))
        self.assertIn("at byte 2", str(caught.exception))

    def test_any_bytes_like_input_is_accepted(self) -> None:
        self.assertEqual(cbor_decode(bytearray(b"\x83\x01\x02\x03")), [1, 2, 3])
        self.assertEqual(cbor_decode(memoryview(b"\x61a")), "a")

    def test_random_garbage_only_ever_raises_cbor_decode_error(self) -> None:
        rng = random.Random(7)
        for _ in range(3000):
            data = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 24)))
            try:
                cbor_decode(data)
            except CBORDecodeError:
                pass

    def test_every_truncation_of_a_valid_item_is_truncated(self) -> None:
        data = cbor_encode({"a": [1, 2.5, "xyz", b"\x00" * 30, {"b": None}], "c": CBORTag(1, 2 ** 70)})
        for cut in range(len(data)):
            with self.assertRaises(CBORDecodeError) as caught:
                cbor_decode(data[:cut])
            self.assertEqual(caught.exception.reason, "Truncated")


class Encoding(unittest.TestCase):
    def test_random_values_round_trip_exactly(self) -> None:
        for value in support.random_values(seed=1, count=400):
            data = cbor_encode(value)
            self.assertTrue(support.same(cbor_decode(data), value), repr(value))
            self.assertEqual(cbor_encode(cbor_decode(data)), data)

    def test_lone_surrogates_are_written_as_the_replacement_character(self) -> None:
        self.assertEqual(cbor_encode("a\ud800b"), cbor_encode("a\ufffdb"))

    def test_tuples_encode_as_arrays_and_int_subclasses_as_ints(self) -> None:
        import enum

        class Color(enum.IntEnum):
            RED = 1

        self.assertEqual(cbor_encode((1, Color.RED)), bytes.fromhex("820101"))

    def test_values_cbor_cannot_carry_raise_type_error(self) -> None:
        for value in (object(), {1, 2}, 1j, [lambda: None]):
            with self.subTest(type(value).__name__):
                with self.assertRaises(TypeError):
                    cbor_encode(value)

    def test_nesting_beyond_the_limit_and_cycles_raise_too_deep(self) -> None:
        deep: list = []
        for _ in range(MAX_DEPTH - 1):
            deep = [deep]
        self.assertEqual(len(cbor_encode(deep)), MAX_DEPTH)
        with self.assertRaises(CBOREncodeError) as caught:
            cbor_encode([deep])
        self.assertEqual(caught.exception.reason, "TooDeep")
        cycle: list = []
        cycle.append(cycle)
        with self.assertRaises(CBOREncodeError):
            cbor_encode(cycle)

    def test_tag_and_simple_values_are_checked(self) -> None:
        for bad in (2, 3, -1, 2 ** 64):
            with self.assertRaises(ValueError):
                CBORTag(bad, 0)
        for bad in (20, 23, 31, 256, -1):
            with self.assertRaises(ValueError):
                CBORSimple(bad)
        self.assertEqual(cbor_encode(UNDEFINED), b"\xf7")


class Frames(unittest.TestCase):
    def test_a_frame_is_a_big_endian_length_then_the_map(self) -> None:
        frame = encode_frame({"id": 1, "op": 0})
        self.assertEqual(frame.hex(), "00000009" + "a262696401626f7000")

    def test_a_frame_over_the_limit_is_refused(self) -> None:
        with self.assertRaises(CBOREncodeError):
            encode_frame({"x": b"\x00" * 100}, max_frame=50)

    def test_a_frame_body_must_be_a_map(self) -> None:
        with self.assertRaises(TypeError):
            encode_frame([1, 2])  # type: ignore[arg-type]


if __name__ == "__main__":
    unittest.main()
