/**
 * The CBOR codec: RFC 8949 Appendix A both ways where preferred serialization gives the listed
 * bytes, round trips, agreement with cbor-x's decoder on random values, one minimal example of
 * every error reason, and random or cut inputs that must only ever fail with CborError.
 */
import { Decoder } from "cbor-x"
import { describe, expect, it } from "vitest"
import * as Cbor from "../../src/protocol/Cbor.ts"
import { prng } from "../support/prng.ts"

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex")
const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "hex"))


// The reason decode failed with, or "ok"; anything thrown other than CborError is rethrown.
const decodeReason = (bytes: Uint8Array): Cbor.CborErrorReason | "ok" => {
  try {
    Cbor.decode(bytes)
    return "ok"
  } catch (e) {
    if (e instanceof Cbor.CborError) return e.reason
    throw e
  }
}

// A random value of everything the encoder takes, `depth` levels deep at most.
const randomValue = (rand: () => number, depth: number): unknown => {
  const int = (max: number) => Math.floor(rand() * max)
  const kind = int(depth > 0 ? 14 : 10)
  switch (kind) {
    case 0:
      return int(30) - 5
    case 1: {
      const magnitude = Math.floor(rand() * 2 ** [8, 16, 32, 53][int(4)]!)
      return rand() < 0.5 ? magnitude : -magnitude
    }
    case 2: {
      const pick = int(6)
      if (pick === 0) return [NaN, Infinity, -Infinity, -0, 0.5, 65504.5][int(6)]
      if (pick === 1) return Math.fround((rand() - 0.5) * 1e6)
      if (pick === 2) return (int(2048) - 1024) / 64 // often an exact half float
      return (rand() - 0.5) * 10 ** (int(40) - 20)
    }
    case 3:
      return randomText(rand, int(40))
    case 4:
      return Uint8Array.from({ length: int(40) }, () => int(256))
    case 5:
      return [true, false, null][int(3)]
    case 6: {
      const big = BigInt(Math.floor(rand() * 2 ** 53)) << BigInt(int(80))
      return rand() < 0.5 ? big : -big - 1n
    }
    case 7:
      return [2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 32, -(2 ** 32) - 1, 24, -25, 255, 256][int(8)]
    case 8:
      return randomText(rand, int(4))
    case 9:
      return ""
    case 10:
    case 11:
      return Array.from({ length: int(6) }, () => randomValue(rand, depth - 1))
    default: {
      const record: Record<string, unknown> = {}
      const n = int(6)
      for (let i = 0; i < n; i++) record[randomText(rand, 1 + int(8))] = randomValue(rand, depth - 1)
      return record
    }
  }
}

// Random Unicode text: ASCII, Latin, CJK and astral code points, never a lone surrogate.
const randomText = (rand: () => number, length: number): string => {
  let s = ""
  for (let i = 0; i < length; i++) {
    const range = Math.floor(rand() * 4)
    const cp = range === 0
      ? 0x20 + Math.floor(rand() * 0x5f)
      : range === 1
      ? 0x80 + Math.floor(rand() * 0x700)
      : range === 2
      ? 0xe000 + Math.floor(rand() * 0x1ffe)
      : 0x10000 + Math.floor(rand() * 0x100000)
    s += String.fromCodePoint(cp)
  }
  return s
}

// What a value decodes to: safe bigints become numbers, Buffers plain Uint8Arrays.
const normalise = (value: unknown): unknown => {
  if (typeof value === "bigint") {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value
  }
  if (value instanceof Uint8Array) return new Uint8Array(value)
  if (Array.isArray(value)) return value.map(normalise)
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v)]))
  }
  return value
}

// ---------------------------------------------------------------------------------------------
// RFC 8949 Appendix A
// ---------------------------------------------------------------------------------------------

// Both directions: our preferred serialization gives exactly these bytes.
const bothWays: ReadonlyArray<readonly [string, unknown, string]> = [
  ["0", 0, "00"],
  ["1", 1, "01"],
  ["10", 10, "0a"],
  ["23", 23, "17"],
  ["24", 24, "1818"],
  ["25", 25, "1819"],
  ["100", 100, "1864"],
  ["1000", 1000, "1903e8"],
  ["1000000", 1000000, "1a000f4240"],
  ["1000000000000", 1000000000000, "1b000000e8d4a51000"],
  ["18446744073709551615", 18446744073709551615n, "1bffffffffffffffff"],
  ["18446744073709551616", 18446744073709551616n, "c249010000000000000000"],
  ["-18446744073709551616", -18446744073709551616n, "3bffffffffffffffff"],
  ["-18446744073709551617", -18446744073709551617n, "c349010000000000000000"],
  ["-1", -1, "20"],
  ["-10", -10, "29"],
  ["-100", -100, "3863"],
  ["-1000", -1000, "3903e7"],
  ["-0.0", -0, "f98000"],
  ["1.1", 1.1, "fb3ff199999999999a"],
  ["1.5", 1.5, "f93e00"],
  ["3.4028234663852886e+38", 3.4028234663852886e38, "fa7f7fffff"],
  ["1.0e+300", 1.0e300, "fb7e37e43c8800759c"],
  ["5.960464477539063e-8", 5.960464477539063e-8, "f90001"],
  ["0.00006103515625", 0.00006103515625, "f90400"],
  ["-4.1", -4.1, "fbc010666666666666"],
  ["Infinity", Infinity, "f97c00"],
  ["NaN", NaN, "f97e00"],
  ["-Infinity", -Infinity, "f9fc00"],
  ["false", false, "f4"],
  ["true", true, "f5"],
  ["null", null, "f6"],
  ["undefined", undefined, "f7"],
  ["simple(16)", new Cbor.CborSimple(16), "f0"],
  ["simple(255)", new Cbor.CborSimple(255), "f8ff"],
  ["0(\"2013-03-21T20:04:00Z\")", new Cbor.CborTag(0, "2013-03-21T20:04:00Z"), "c074323031332d30332d32315432303a30343a30305a"],
  ["1(1363896240)", new Cbor.CborTag(1, 1363896240), "c11a514b67b0"],
  ["1(1363896240.5)", new Cbor.CborTag(1, 1363896240.5), "c1fb41d452d9ec200000"],
  ["23(h'01020304')", new Cbor.CborTag(23, fromHex("01020304")), "d74401020304"],
  ["24(h'6449455446')", new Cbor.CborTag(24, fromHex("6449455446")), "d818456449455446"],
  [
    "32(\"http://www.example.com\")",
    new Cbor.CborTag(32, "http://www.example.com"),
    "d82076687474703a2f2f7777772e6578616d706c652e636f6d"
  ],
  ["h''", new Uint8Array(0), "40"],
  ["h'01020304'", fromHex("01020304"), "4401020304"],
  ["\"\"", "", "60"],
  ["\"a\"", "a", "6161"],
  ["\"IETF\"", "IETF", "6449455446"],
  ["\"\\\"\\\\\"", "\"\\", "62225c"],
  ["\"\\u00fc\"", "\u00fc", "62c3bc"],
  ["\"\\u6c34\"", "\u6c34", "63e6b0b4"],
  ["\"\\ud800\\udd51\"", "\ud800\udd51", "64f0908591"],
  ["[]", [], "80"],
  ["[1, 2, 3]", [1, 2, 3], "83010203"],
  ["[1, [2, 3], [4, 5]]", [1, [2, 3], [4, 5]], "8301820203820405"],
  [
    "[1, ..., 25]",
    Array.from({ length: 25 }, (_, i) => i + 1),
    "98190102030405060708090a0b0c0d0e0f101112131415161718181819"
  ],
  ["{}", {}, "a0"],
  ["{1: 2, 3: 4}", new Map([[1, 2], [3, 4]]), "a201020304"],
  ["{\"a\": 1, \"b\": [2, 3]}", { a: 1, b: [2, 3] }, "a26161016162820203"],
  ["[\"a\", {\"b\": \"c\"}]", ["a", { b: "c" }], "826161a161626163"],
  [
    "{\"a\": \"A\", ..., \"e\": \"E\"}",
    { a: "A", b: "B", c: "C", d: "D", e: "E" },
    "a56161614161626142616361436164614461656145"
  ]
]

// Decode only: the listed bytes are not our preferred serialization of the value (integral
// floats are integers here, and indefinite lengths are never written).
const decodeOnly: ReadonlyArray<readonly [string, string, unknown]> = [
  ["0.0", "f90000", 0],
  ["1.0", "f93c00", 1],
  ["65504.0", "f97bff", 65504],
  ["100000.0", "fa47c35000", 100000],
  ["-4.0", "f9c400", -4],
  ["Infinity (single)", "fa7f800000", Infinity],
  ["NaN (single)", "fa7fc00000", NaN],
  ["-Infinity (single)", "faff800000", -Infinity],
  ["Infinity (double)", "fb7ff0000000000000", Infinity],
  ["NaN (double)", "fb7ff8000000000000", NaN],
  ["-Infinity (double)", "fbfff0000000000000", -Infinity],
  ["(_ h'0102', h'030405')", "5f42010243030405ff", fromHex("0102030405")],
  ["(_ \"strea\", \"ming\")", "7f657374726561646d696e67ff", "streaming"],
  ["[_ ]", "9fff", []],
  ["[_ 1, [2, 3], [_ 4, 5]]", "9f018202039f0405ffff", [1, [2, 3], [4, 5]]],
  ["[_ 1, [2, 3], [4, 5]]", "9f01820203820405ff", [1, [2, 3], [4, 5]]],
  ["[1, [2, 3], [_ 4, 5]]", "83018202039f0405ff", [1, [2, 3], [4, 5]]],
  ["[1, [_ 2, 3], [4, 5]]", "83019f0203ff820405", [1, [2, 3], [4, 5]]],
  [
    "[_ 1, ..., 25]",
    "9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff",
    Array.from({ length: 25 }, (_, i) => i + 1)
  ],
  ["{_ \"a\": 1, \"b\": [_ 2, 3]}", "bf61610161629f0203ffff", { a: 1, b: [2, 3] }],
  ["[\"a\", {_ \"b\": \"c\"}]", "826161bf61626163ff", ["a", { b: "c" }]],
  ["{_ \"Fun\": true, \"Amt\": -2}", "bf6346756ef563416d7421ff", { Fun: true, Amt: -2 }],
  ["(_ ) empty byte string", "5fff", new Uint8Array(0)],
  ["(_ ) empty text string", "7fff", ""],
  ["{_ }", "bfff", {}],
  ["non-shortest 0", "1b0000000000000000", 0],
  ["non-shortest \"a\"", "780161", "a"]
]

describe("RFC 8949 Appendix A", () => {
  it.each(bothWays)("encodes %s", (_name, value, bytes) => {
    expect(hex(Cbor.encode(value))).toBe(bytes)
  })

  it.each(bothWays)("decodes %s", (_name, value, bytes) => {
    expect(Cbor.decode(fromHex(bytes))).toEqual(value)
  })

  it.each(decodeOnly)("decodes %s", (_name, bytes, value) => {
    expect(Cbor.decode(fromHex(bytes))).toEqual(value)
  })

  it("decodes integers to numbers when safe, bigints otherwise", () => {
    expect(Cbor.decode(fromHex("1b001fffffffffffff"))).toBe(2 ** 53 - 1)
    expect(Cbor.decode(fromHex("1b0020000000000000"))).toBe(2n ** 53n)
    expect(Cbor.decode(fromHex("3b001ffffffffffffe"))).toBe(-(2 ** 53 - 1))
    expect(Cbor.decode(fromHex("3b001fffffffffffff"))).toBe(-(2n ** 53n))
    expect(Cbor.decode(fromHex("c240"))).toBe(0n)
    expect(Cbor.decode(fromHex("c34101"))).toBe(-2n)
  })

  it("decodes tags 0, 1 and 32 to CborTag, big tag numbers as bigint", () => {
    expect(Cbor.decode(fromHex("c11a514b67b0"))).toBeInstanceOf(Cbor.CborTag)
    expect(Cbor.decode(fromHex("db ffffffffffffffff 00".replaceAll(" ", "")))).toEqual(
      new Cbor.CborTag(0xffff_ffff_ffff_ffffn, 0)
    )
    expect(hex(Cbor.encode(new Cbor.CborTag(0xffff_ffff_ffff_ffffn, 0)))).toBe("dbffffffffffffffff00")
    expect(hex(Cbor.encode(new Cbor.CborTag(32n, 0)))).toBe("d82000")
  })

  it("decodes a map with any non-text key to a Map, keeping every key", () => {
    const decoded = Cbor.decode(fromHex("a3616101016162f5f6")) // {"a": 1, 1: "b", true: null}
    expect(decoded).toEqual(new Map<unknown, unknown>([["a", 1], [1, "b"], [true, null]]))
  })
})

// ---------------------------------------------------------------------------------------------
// Floats
// ---------------------------------------------------------------------------------------------

describe("floats", () => {
  it("decodes every half float as the platform does, and encodes each back in 3 bytes", () => {
    const view = new DataView(new ArrayBuffer(2)) as DataView & { getFloat16(offset: number): number }
    for (let h = 0; h < 0x1_0000; h++) {
      view.setUint16(0, h)
      const expected = view.getFloat16(0)
      const decoded = Cbor.decode(new Uint8Array([0xf9, h >>> 8, h & 0xff]))
      if (!Object.is(decoded, expected)) expect.fail(`f9${h.toString(16)}: ${String(decoded)} !== ${expected}`)
      if (Number.isNaN(expected) || (Number.isInteger(expected) && !Object.is(expected, -0))) continue
      const bytes = Cbor.encode(expected)
      if (hex(bytes) !== `f9${h.toString(16).padStart(4, "0")}`) expect.fail(`${expected} encoded as ${hex(bytes)}`)
    }
  })

  it("writes the shortest exact float", () => {
    const cases: ReadonlyArray<readonly [number, number]> = [
      [0.5, 3],
      [2 ** -24, 3], // smallest half subnormal
      [2 ** -25, 5], // below half range: single
      [65504.5, 5],
      [65520, 3], // an integer: major 0 with a 2-byte argument
      [1 + 2 ** -10, 3],
      [1 + 2 ** -11, 5],
      [1 + 2 ** -23, 5],
      [1 + 2 ** -24, 9],
      [2 ** 53, 5], // not a safe integer: a float, exact as a single
      [2 ** 64, 5],
      [Number.MAX_VALUE, 9],
      [Number.MIN_VALUE, 9]
    ]
    for (const [value, length] of cases) {
      const bytes = Cbor.encode(value)
      expect([value, bytes.length]).toEqual([value, length])
      expect(Cbor.decode(bytes)).toBe(value)
    }
  })

  it("round-trips random doubles and singles bit for bit", () => {
    const rand = prng(7)
    const view = new DataView(new ArrayBuffer(8))
    for (let i = 0; i < 2000; i++) {
      view.setUint32(0, Math.floor(rand() * 2 ** 32))
      view.setUint32(4, Math.floor(rand() * 2 ** 32))
      const value = i % 2 === 0 ? view.getFloat64(0) : view.getFloat32(0)
      const back = Cbor.decode(Cbor.encode(value))
      if (!Object.is(back, value)) expect.fail(`${value} came back as ${String(back)}`)
    }
  })
})

// ---------------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------------

const roundTrips: ReadonlyArray<readonly [string, unknown]> = [
  ["negative ints", [-1, -24, -25, -256, -257, -65536, -65537, -(2 ** 32), -(2 ** 32) - 1]],
  ["positive ints", [23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 3]],
  ["2^53-1", 2 ** 53 - 1],
  ["-(2^53-1)", -(2 ** 53 - 1)],
  ["floats", [0.1, -0.1, 1e-300, -1e300, Math.PI, -0, 3.5]],
  ["bigints beyond 64 bits", [2n ** 64n, -(2n ** 64n) - 1n, 2n ** 200n + 12345n, -(3n ** 100n)]],
  ["unicode text", ["héllo wörld", "日本語のテキスト", "😀👍🏽🇫🇷", "\u{10ffff}\u{1f600}a", "\ufeffBOM kept", "x".repeat(100)]],
  ["text of every length around the fast path", Array.from({ length: 70 }, (_, i) => "abcdefghij".repeat(7).slice(0, i))],
  ["Uint8Array", [new Uint8Array(0), Uint8Array.of(0, 255, 7), new Uint8Array(300).fill(9)]],
  ["nested arrays", [[[[]]], [1, [2, [3, [4]]]]]],
  ["nested maps", { a: { b: { c: { d: "e" } } }, list: [{ x: 1 }, { y: [null, true, false] }] }],
  ["null and booleans", [null, true, false]],
  ["undefined in arrays", [undefined, 1, undefined]],
  ["a Map with mixed keys", new Map<unknown, unknown>([[1, "one"], ["two", 2], [-(3n ** 50n), null], [false, [1]]])],
  ["a long map (16-bit count)", Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`key${i}`, i]))],
  ["a message", { id: 7, op: 0, args: { x: "hello", n: [1, 2, 3] } }]
]

describe("round trips", () => {
  it.each(roundTrips)("%s", (_name, value) => {
    expect(Cbor.decode(Cbor.encode(value))).toEqual(value)
  })

  it("writes ±(2^53-1) as major 0/1 with an 8-byte argument", () => {
    expect(hex(Cbor.encode(2 ** 53 - 1))).toBe("1b001fffffffffffff")
    expect(hex(Cbor.encode(-(2 ** 53 - 1)))).toBe("3b001ffffffffffffe")
    expect(hex(Cbor.encode(2n ** 53n - 1n))).toBe("1b001fffffffffffff")
    expect(hex(Cbor.encode(5n))).toBe("05")
  })

  it("leaves out object keys holding undefined", () => {
    expect(hex(Cbor.encode({ a: undefined, b: 1, c: undefined }))).toBe("a1616201")
    const many: Record<string, unknown> = {}
    for (let i = 0; i < 30; i++) many[`k${i}`] = i < 10 ? undefined : i
    const bytes = Cbor.encode(many)
    expect(bytes[0]).toBe(0xb4) // 20 pairs: the count shrank to one byte
    expect(Cbor.decode(bytes)).toEqual(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i + 10}`, i + 10])))
  })

  it("keeps a __proto__ key as an own property and the prototype unchanged", () => {
    const value = JSON.parse("{\"__proto__\": {\"polluted\": true}, \"a\": 1}") as Record<string, unknown>
    const decoded = Cbor.decode(Cbor.encode(value)) as Record<string, unknown>
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype)
    expect(Object.hasOwn(decoded, "__proto__")).toBe(true)
    expect(Object.keys(decoded)).toEqual(["__proto__", "a"])
    expect(decoded["polluted"]).toBeUndefined()
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined()
    expect(Object.getOwnPropertyDescriptor(decoded, "__proto__")?.value).toEqual({ polluted: true })
  })

  it("encodes Buffers and objects without a prototype", () => {
    expect(hex(Cbor.encode(Buffer.from([1, 2])))).toBe("420102")
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 })
    expect(hex(Cbor.encode(bare))).toBe("a1616101")
  })

  it("writes lone surrogates as U+FFFD", () => {
    expect(Cbor.decode(Cbor.encode("a\ud800b"))).toBe("a\ufffdb")
  })

  it("decodes byte strings to copies that do not pin the input", () => {
    const input = fromHex("4401020304")
    const decoded = Cbor.decode(input) as Uint8Array
    expect(decoded.buffer).not.toBe(input.buffer)
    input[1] = 99
    expect(decoded).toEqual(fromHex("01020304"))
    const long = Cbor.encode(new Uint8Array(100).fill(5))
    expect((Cbor.decode(long) as Uint8Array).buffer.byteLength).toBe(100)
  })
})

// ---------------------------------------------------------------------------------------------
// encodeWithHeader
// ---------------------------------------------------------------------------------------------

describe("encodeWithHeader", () => {
  it("leaves zeroed header bytes in front of the encoding", () => {
    const value = { id: 7, op: 0, args: { x: "hello" } }
    const framed = Cbor.encodeWithHeader(value, 4)
    expect(hex(framed.subarray(0, 4))).toBe("00000000")
    expect(hex(framed.subarray(4))).toBe(hex(Cbor.encode(value)))
    expect(hex(Cbor.encodeWithHeader(1, 0))).toBe("01")
  })

  it("returns buffers later encodes never overwrite, small or large", () => {
    const first = Cbor.encodeWithHeader({ a: "first" }, 4)
    const big = Cbor.encodeWithHeader({ blob: new Uint8Array(3 * 1024 * 1024).fill(1) }, 4)
    const second = Cbor.encodeWithHeader({ b: "second!" }, 4)
    expect(Cbor.decode(first.subarray(4))).toEqual({ a: "first" })
    expect(Cbor.decode(second.subarray(4))).toEqual({ b: "second!" })
    expect((Cbor.decode(big.subarray(4)) as { blob: Uint8Array }).blob.length).toBe(3 * 1024 * 1024)
    const plain = Cbor.encode("x")
    Cbor.encode("y")
    expect(hex(plain)).toBe("6178")
  })

  it("encodes correctly when a getter encodes from inside an encode", () => {
    const inner = { get nested() { return hex(Cbor.encode({ z: [1, 2, 3] })) } }
    expect(Cbor.decode(Cbor.encode({ a: 1, inner, b: 2 }))).toEqual({ a: 1, inner: { nested: "a1617a83010203" }, b: 2 })
  })

  it("throws a RangeError for a negative header", () => {
    expect(() => Cbor.encodeWithHeader(1, -1)).toThrow(RangeError)
  })
})

// ---------------------------------------------------------------------------------------------
// Differential: cbor-x decodes what we write to the same values
// ---------------------------------------------------------------------------------------------

describe("differential against cbor-x", () => {
  it("decodes 500 random values the same", () => {
    const decoder = new Decoder({ mapsAsObjects: true, useRecords: false })
    const rand = prng(2024)
    for (let i = 0; i < 500; i++) {
      const value = randomValue(rand, 3)
      const bytes = Cbor.encode(value)
      const expected = normalise(value)
      expect(normalise(decoder.decode(bytes))).toEqual(expected)
      expect(Cbor.decode(bytes)).toEqual(expected)
    }
  })
})

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

const errors: ReadonlyArray<readonly [string, string, Cbor.CborErrorReason]> = [
  ["empty input", "", "Truncated"],
  ["a missing 1-byte argument", "18", "Truncated"],
  ["a missing 8-byte argument", "1b000000", "Truncated"],
  ["a short text string", "6261", "Truncated"],
  ["a short byte string", "43 0102", "Truncated"],
  ["a missing array item", "8201", "Truncated"],
  ["a missing map value", "a16161", "Truncated"],
  ["an unclosed indefinite array", "9f01", "Truncated"],
  ["an unclosed indefinite string", "5f4101", "Truncated"],
  ["a short double", "fb0000", "Truncated"],
  ["a missing tag content", "c1", "Truncated"],
  ["an array of 2^32-1 items with no content", "9affffffff", "Truncated"],
  ["a map of 2^64-1 pairs with no content", "bbffffffffffffffff", "Truncated"],
  ["a byte string of 2^64-1 bytes", "5bffffffffffffffff", "Truncated"],
  ["a second item", "0102", "TrailingBytes"],
  ["a byte after a map", "a000", "TrailingBytes"],
  ["reserved additional info 28", "1c", "Malformed"],
  ["reserved additional info 29", "3d", "Malformed"],
  ["reserved additional info 30", "fe", "Malformed"],
  ["a break outside an indefinite item", "ff", "Malformed"],
  ["a break inside a definite array", "81ff", "Malformed"],
  ["an indefinite unsigned integer", "1f", "Malformed"],
  ["an indefinite negative integer", "3f", "Malformed"],
  ["an indefinite tag", "df", "Malformed"],
  ["a one-byte simple value below 32", "f810", "Malformed"],
  ["a one-byte simple value of 31", "f81f", "Malformed"],
  ["a text chunk in a byte string", "5f6161ff", "Malformed"],
  ["an indefinite chunk in a text string", "7f7fffff", "Malformed"],
  ["an integer chunk in a text string", "7f01ff", "Malformed"],
  ["a break as a map value", "bf6161ff", "Malformed"],
  ["a duplicate text key", "a2616101616102", "Malformed"],
  ["a duplicate integer key", "a201020103", "Malformed"],
  ["a duplicate __proto__ key", "a2695f5f70726f746f5f5f01695f5f70726f746f5f5f02", "Malformed"],
  ["a bignum tag around an integer", "c201", "Malformed"],
  ["invalid UTF-8", "61ff", "InvalidUtf8"],
  ["an overlong encoding", "62c080", "InvalidUtf8"],
  ["an encoded surrogate", "63eda080", "InvalidUtf8"],
  ["a code point above U+10FFFF", "64f4908080", "InvalidUtf8"],
  ["a truncated sequence", "62e282", "InvalidUtf8"],
  ["a character split across chunks", "7f61c361bcff", "InvalidUtf8"],
  ["invalid UTF-8 in a long string", `7828${"61".repeat(39)}ff`, "InvalidUtf8"],
  ["invalid UTF-8 in a key", "a161ff01", "InvalidUtf8"]
]

describe("errors", () => {
  it.each(errors)("%s is %s", (_name, bytes, reason) => {
    expect(decodeReason(fromHex(bytes.replaceAll(" ", "")))).toBe(reason)
  })

  it("every error is a CborError naming the offset", () => {
    const error = (() => {
      try {
        Cbor.decode(fromHex("826161ff"))
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(Cbor.CborError)
    expect(error).toBeInstanceOf(Error)
    expect((error as Cbor.CborError).reason).toBe("Malformed")
    expect((error as Error).message).toMatch(/^decoding CBOR at byte 3: /)
  })

  it("nesting 10,000 deep is TooDeep, in arrays, maps and tags", () => {
    const deep = (prefix: string, inner: string) => fromHex(prefix.repeat(10_000) + inner)
    expect(decodeReason(deep("81", "00"))).toBe("TooDeep")
    expect(decodeReason(deep("9f", ""))).toBe("TooDeep")
    expect(decodeReason(deep("a161 61".replace(" ", ""), "00"))).toBe("TooDeep")
    expect(decodeReason(deep("c1", "00"))).toBe("TooDeep")
  })

  it("accepts exactly MAX_DEPTH levels of nesting both ways", () => {
    let value: unknown = 0
    for (let i = 0; i < Cbor.MAX_DEPTH; i++) value = [value]
    const bytes = Cbor.encode(value)
    expect(Cbor.decode(bytes)).toEqual(value)
    expect(decodeReason(new Uint8Array([0x81, ...bytes]))).toBe("TooDeep")
    expect(() => Cbor.encode([value])).toThrow(Cbor.CborError)
  })

  it("a bignum over 64 KiB is Unsupported", () => {
    const bytes = new Uint8Array(6 + 65537)
    bytes.set([0xc2, 0x5a, 0x00, 0x01, 0x00, 0x01])
    expect(decodeReason(bytes)).toBe("Unsupported")
  })

  it("refuses what it cannot encode with a TypeError naming the type", () => {
    expect(() => Cbor.encode(() => 1)).toThrow(/function/)
    expect(() => Cbor.encode(Symbol("s"))).toThrow(/symbol/)
    expect(() => Cbor.encode(new Date(0))).toThrow(/Date/)
    expect(() => Cbor.encode({ when: new Set() })).toThrow(/Set/)
    expect(() => Cbor.encode(new Int16Array(2))).toThrow(/Int16Array/)
    expect(() => Cbor.encode(new Date(0))).toThrow(TypeError)
  })

  it("refuses cyclic values with CborError TooDeep", () => {
    const cyclic: Record<string, unknown> = {}
    cyclic["self"] = cyclic
    expect(() => Cbor.encode(cyclic)).toThrow(Cbor.CborError)
    const list: Array<unknown> = []
    list.push(list)
    expect(() => Cbor.encode(list)).toThrow(expect.objectContaining({ reason: "TooDeep" }))
  })

  it("validates tags and simple values when they are made", () => {
    expect(() => new Cbor.CborTag(2, new Uint8Array(1))).toThrow(RangeError)
    expect(() => new Cbor.CborTag(3n, new Uint8Array(1))).toThrow(RangeError)
    expect(() => new Cbor.CborTag(-1, 0)).toThrow(RangeError)
    expect(() => new Cbor.CborTag(2n ** 64n, 0)).toThrow(RangeError)
    expect(() => new Cbor.CborSimple(20)).toThrow(RangeError)
    expect(() => new Cbor.CborSimple(256)).toThrow(RangeError)
    expect(() => new Cbor.CborSimple(1.5)).toThrow(RangeError)
  })
})

// ---------------------------------------------------------------------------------------------
// Hostile input: nothing but CborError, ever
// ---------------------------------------------------------------------------------------------

describe("hostile input", () => {
  // Decoding must fail only with CborError; what decodes must re-encode and decode the same.
  const check = (bytes: Uint8Array): void => {
    const reason = decodeReason(bytes)
    if (reason !== "ok") return
    const value = Cbor.decode(bytes)
    expect(Cbor.decode(Cbor.encode(value))).toEqual(value)
  }

  it("4,000 random byte strings of 0..64 bytes", () => {
    const rand = prng(1)
    // Bytes that start interesting items turn up more often than at random.
    const heads = [0x18, 0x19, 0x1a, 0x1b, 0x5f, 0x7f, 0x9f, 0xbf, 0xff, 0xc2, 0xc3, 0xf9, 0xfa, 0xfb, 0xf8, 0x61, 0xa1, 0x81]
    for (let i = 0; i < 4000; i++) {
      const length = Math.floor(rand() * 65)
      const bytes = new Uint8Array(length)
      for (let j = 0; j < length; j++) {
        bytes[j] = rand() < 0.3 ? heads[Math.floor(rand() * heads.length)]! : Math.floor(rand() * 256)
      }
      check(bytes)
    }
  })

  it("every truncation and a byte flip of 300 valid encodings", () => {
    const rand = prng(99)
    for (let i = 0; i < 300; i++) {
      const bytes = Cbor.encode(randomValue(rand, 3))
      for (let cut = 0; cut < bytes.length; cut++) {
        expect(decodeReason(bytes.subarray(0, cut))).not.toBe("ok")
      }
      const flipped = new Uint8Array(bytes)
      const at = Math.floor(rand() * flipped.length)
      flipped[at] = flipped[at]! ^ (1 << Math.floor(rand() * 8))
      check(flipped)
    }
  })

  it("a huge declared length fails at once", () => {
    const start = performance.now()
    for (const bytes of ["9affffffff", "baffffffff", "5affffffff", "7affffffff", "9bffffffffffffffff", "c25affffffff"]) {
      expect(decodeReason(fromHex(bytes))).toBe("Truncated")
    }
    expect(performance.now() - start).toBeLessThan(100)
  })
})
