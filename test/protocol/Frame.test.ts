/**
 * The frame codec: `encode` writes a 4-byte big-endian length and one CBOR map; `FrameDecoder`
 * must yield the same items whatever way the bytes are cut into reads, stop for good at the
 * first bad frame (with the right reason, delivering nothing after it), decide an oversized
 * frame from its header alone, and never hold more than maxFrame + 4 bytes.
 */
import { describe, expect, it } from "vitest"
import * as Cbor from "../../src/protocol/Cbor.ts"
import * as Frame from "../../src/protocol/Frame.ts"
import { Op } from "../../src/protocol/Op.ts"
import { prng } from "../support/prng.ts"

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------


// An integer in [lo, hi].
const between = (rng: () => number, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1))

const randomBytes = (rng: () => number, n: number): Uint8Array => {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = Math.floor(rng() * 256)
  return out
}

const header = (length: number): Uint8Array => {
  const h = Buffer.alloc(Frame.HEADER_BYTES)
  h.writeUInt32BE(length, 0)
  return h
}

// A frame with any body at all, valid or not.
const rawFrame = (body: Uint8Array): Uint8Array => Buffer.concat([header(body.length), body])

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => Buffer.concat(parts)

const bodyOf = (frame: Uint8Array): Uint8Array => frame.subarray(Frame.HEADER_BYTES)

// A structural equality that compares byte strings with memcmp: the every-split-point test
// checks a 70 KiB item some 70 000 times, which expect().toEqual cannot do in time.
const equal = (a: unknown, b: unknown): boolean => {
  if (Object.is(a, b)) return true
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b)
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equal(x, b[i]))
  if (a instanceof Map && b instanceof Map) {
    // Decoding keeps key order, so entries are compared pairwise (keys may be objects).
    const eb = [...b]
    return a.size === b.size && [...a].every(([k, v], i) => equal(k, eb[i]?.[0]) && equal(v, eb[i]?.[1]))
  }
  // Plain objects, CborTag and CborSimple: the same prototype and equal own properties in order.
  if (
    typeof a === "object" && a !== null && typeof b === "object" && b !== null &&
    !Array.isArray(a) && !(a instanceof Map) && !(a instanceof Uint8Array) &&
    Object.getPrototypeOf(a) === Object.getPrototypeOf(b)
  ) {
    const ka = Object.keys(a)
    const kb = Object.keys(b)
    return ka.length === kb.length && ka.every((k, i) =>
      k === kb[i] && equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
    )
  }
  return false
}

const sameItems = (items: ReadonlyArray<unknown>, expected: ReadonlyArray<unknown>): boolean =>
  items.length === expected.length && items.every((item, i) => equal(item, expected[i]))

interface Run {
  readonly items: Array<Frame.FrameItem>
  readonly error: Frame.FrameError | undefined
  readonly maxBuffered: number
}

/**
 * Feeds chunks to a fresh decoder. Once a push returns an error, every later push must return
 * the same error and deliver nothing; a violation throws, naming the chunk.
 */
const run = (chunks: Iterable<Uint8Array>, maxFrame?: number): Run => {
  const decoder = new Frame.FrameDecoder(maxFrame)
  const items: Array<Frame.FrameItem> = []
  let error: Frame.FrameError | undefined
  let maxBuffered = 0
  let index = 0
  for (const chunk of chunks) {
    const before = items.length
    const result = decoder.push(chunk, (item) => items.push(item))
    if (error !== undefined) {
      if (result === undefined || result.reason !== error.reason || result.message !== error.message) {
        throw new Error(`chunk ${index}: after ${error.reason}, push returned ${JSON.stringify(result)}`)
      }
      if (items.length !== before) throw new Error(`chunk ${index}: an item was delivered after ${error.reason}`)
    }
    error = result
    maxBuffered = Math.max(maxBuffered, decoder.bufferedBytes)
    index++
  }
  return { items, error, maxBuffered }
}

function* splitAt(bytes: Uint8Array, at: number): Generator<Uint8Array> {
  yield bytes.subarray(0, at)
  yield bytes.subarray(at)
}

function* bytewise(bytes: Uint8Array): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length; i++) yield bytes.subarray(i, i + 1)
}

function* chunksOf(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size)
}

// Chunk sizes drawn from three scales, so reads split headers, bodies and several frames at once.
const randomChunks = (bytes: Uint8Array, rng: () => number): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  let at = 0
  while (at < bytes.length) {
    const scale = rng()
    const size = scale < 1 / 3 ? between(rng, 1, 4) : scale < 2 / 3 ? between(rng, 1, 200) : between(rng, 1, 100_000)
    out.push(bytes.subarray(at, at + size))
    at += size
  }
  return out
}

const patterned = (n: number): Uint8Array => {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = (i * 31 + 7) & 0xff
  return out
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const tinyValue = { id: 1, op: Op.NOOP }
const emptyValue = {}
const mediumValue = { id: 2, op: Op.SEND, args: { to: "worker", payload: "x".repeat(70) } }
const largeValue = { id: 3, op: Op.NOOP, args: { blob: patterned(70 * 1024), tail: "end" } }
const mapKeyedValue = new Map<unknown, unknown>([[1, 2]])

const streamValues: ReadonlyArray<object> = [tinyValue, mediumValue, largeValue, emptyValue, mapKeyedValue, tinyValue]
const streamFrames = streamValues.map((value) => Frame.encode(value))
const stream = concat(streamFrames)

// A frame whose body is exactly `size` bytes: {b: h'…'} with the byte string sized to fit.
const frameOfBodySize = (size: number): Uint8Array => {
  // map head 1 + key "b" 2 + byte-string head (2 below 256 bytes, 3 below 65536).
  const overhead = 3 + (size - 5 < 256 ? 2 : 3)
  const frame = Frame.encode({ b: patterned(size - overhead) }, Number.MAX_SAFE_INTEGER)
  if (frame.length !== size + Frame.HEADER_BYTES) throw new Error(`fixture: body is ${frame.length - 4}, not ${size}`)
  return frame
}

// ---------------------------------------------------------------------------------------------
// encode
// ---------------------------------------------------------------------------------------------

describe("Frame.encode", () => {
  const cases: ReadonlyArray<readonly [string, object]> = [
    ["an empty map", emptyValue],
    ["a small request", tinyValue],
    ["a ~100-byte request", mediumValue],
    ["a ~70 KiB request", largeValue],
    ["a Map with a non-text key", mapKeyedValue]
  ]

  it.each(cases)("writes a 4-byte big-endian body length, then the CBOR of %s", (_, value) => {
    const frame = Frame.encode(value)
    const body = bodyOf(frame)
    expect(frame.length).toBeGreaterThan(Frame.HEADER_BYTES)
    expect(frame.readUInt32BE(0)).toBe(body.length)
    expect(Buffer.from(body).equals(Buffer.from(Cbor.encode(value)))).toBe(true)
    expect(Cbor.decode(body)).toEqual(value)
  })

  it("writes the header bytes most significant first", () => {
    const frame = Frame.encode(largeValue)
    const n = frame.length - 4
    expect(n).toBeGreaterThan(0xffff)
    expect([...frame.subarray(0, 4)]).toEqual([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff])
    expect([...Frame.encode(emptyValue)]).toEqual([0, 0, 0, 1, 0xa0])
  })

  it("the fixture sizes are what the streaming tests claim", () => {
    const [tiny, medium, large] = streamFrames.map(bodyOf)
    expect(tiny!.length).toBeLessThan(16)
    expect(medium!.length).toBeGreaterThanOrEqual(80)
    expect(medium!.length).toBeLessThanOrEqual(120)
    expect(large!.length).toBeGreaterThan(70 * 1024)
  })

  it("accepts a body of exactly maxFrame bytes and throws a RangeError for one byte more", () => {
    expect(frameOfBodySize(1024).length).toBe(1028)
    expect(Frame.encode({ b: patterned(1018) }, 1024).readUInt32BE(0)).toBe(1024)
    expect(() => Frame.encode({ b: patterned(1019) }, 1024)).toThrow(RangeError)
  })

  it("throws a RangeError for a body over the default 16 MiB limit", () => {
    expect(() => Frame.encode({ b: new Uint8Array(Frame.DEFAULT_MAX_FRAME) })).toThrow(RangeError)
  })
})

// ---------------------------------------------------------------------------------------------
// Streaming
// ---------------------------------------------------------------------------------------------

describe("FrameDecoder streaming", () => {
  it("decodes a stream pushed whole", () => {
    const result = run([stream])
    expect(result.error).toBeUndefined()
    expect(result.items).toEqual(streamValues)
    expect(result.maxBuffered).toBe(0)
  })

  it("the stream comparison notices a one-byte difference in the 70 KiB item", () => {
    const blob = patterned(70 * 1024)
    blob[50_000] = blob[50_000]! ^ 1
    const altered = streamValues.map((v) => (v === largeValue ? { ...largeValue, args: { ...largeValue.args, blob } } : v))
    expect(sameItems(altered, streamValues)).toBe(false)
    expect(sameItems(streamValues.slice(1), streamValues)).toBe(false)
    expect(sameItems([...streamValues], streamValues)).toBe(true)
  })

  it("decodes the same items for every single split point", { timeout: 60_000 }, () => {
    const bad: Array<number> = []
    for (let at = 0; at <= stream.length; at++) {
      const result = run(splitAt(stream, at))
      if (result.error !== undefined || !sameItems(result.items, streamValues)) bad.push(at)
    }
    expect(bad).toEqual([])
  })

  it("decodes the same items fed one byte per push", () => {
    const result = run(bytewise(stream))
    expect(result.error).toBeUndefined()
    expect(result.items).toEqual(streamValues)
  })

  it("decodes the same items for seeded random chunkings", () => {
    const rng = prng(0x5eed)
    const bad: Array<number> = []
    for (let trial = 0; trial < 300; trial++) {
      const result = run(randomChunks(stream, rng))
      if (result.error !== undefined || !sameItems(result.items, streamValues)) bad.push(trial)
    }
    expect(bad).toEqual([])
  })

  it("ignores empty pushes anywhere", () => {
    const empty = new Uint8Array(0)
    const chunks = [empty, stream.subarray(0, 2), empty, stream.subarray(2, 30), empty, stream.subarray(30), empty]
    const result = run(chunks)
    expect(result.error).toBeUndefined()
    expect(sameItems(result.items, streamValues)).toBe(true)
  })

  it("delivers a map with non-text keys as a Map: rejecting it is Message's job", () => {
    const result = run([Frame.encode(mapKeyedValue)])
    expect(result.error).toBeUndefined()
    expect(result.items).toHaveLength(1)
    expect(result.items[0]).toBeInstanceOf(Map)
    expect(result.items[0]).toEqual(mapKeyedValue)
  })

  it("accepts a frame of exactly maxFrame bytes", () => {
    const frame = frameOfBodySize(1024)
    for (const chunks of [[frame], [...bytewise(frame)]]) {
      const result = run(chunks, 1024)
      expect(result.error).toBeUndefined()
      expect(result.items).toHaveLength(1)
    }
  })
})

// ---------------------------------------------------------------------------------------------
// Rejections
// ---------------------------------------------------------------------------------------------

describe("FrameDecoder rejections", () => {
  const MAX = 1024
  const before = Frame.encode({ id: 1, op: Op.NOOP })
  const after = Frame.encode({ id: 2, op: Op.NOOP })
  const e = (hex: string): Uint8Array => Buffer.from(hex.replaceAll(" ", ""), "hex")
  const enc = (v: unknown): Uint8Array => Cbor.encode(v)

  // Each bad frame sits between two good ones: the first must come out, the second never.
  const cases: ReadonlyArray<readonly [string, Frame.FrameErrorReason, Uint8Array]> = [
    ["length 0", "EmptyFrame", header(0)],
    ["length maxFrame + 1 (header only)", "FrameTooLarge", header(MAX + 1)],
    ["length maxFrame + 1 (with its body)", "FrameTooLarge", frameOfBodySize(MAX + 1)],
    ["length 2^32 - 1", "FrameTooLarge", header(0xffff_ffff)],
    ["a trailing byte after the map", "NotCbor", rawFrame(concat([enc({ a: 1 }), e("00")]))],
    ["two maps in one frame", "NotCbor", rawFrame(concat([enc({ a: 1 }), enc({ b: 2 })]))],
    ["a truncated map", "NotCbor", rawFrame(enc({ a: "hello" }).subarray(0, 6))],
    ["a map missing its last value", "NotCbor", rawFrame(e("a2 6161 01 6162"))],
    ["an unterminated indefinite map", "NotCbor", rawFrame(e("bf 6161 01"))],
    ["a lone break code", "NotCbor", rawFrame(e("ff"))],
    ["reserved additional information", "NotCbor", rawFrame(e("1c"))],
    ["a key that is not UTF-8", "NotCbor", rawFrame(e("a1 62c328 01"))],
    ["a duplicate key", "NotCbor", rawFrame(e("a2 6161 01 6161 02"))],
    ["an array", "NotAMap", rawFrame(enc([1, 2]))],
    ["an empty array", "NotAMap", rawFrame(enc([]))],
    ["an unsigned integer", "NotAMap", rawFrame(enc(5))],
    ["a negative integer", "NotAMap", rawFrame(enc(-500))],
    ["a float", "NotAMap", rawFrame(enc(1.5))],
    ["a bignum", "NotAMap", rawFrame(enc(2n ** 70n))],
    ["a text string", "NotAMap", rawFrame(enc("{}"))],
    ["null", "NotAMap", rawFrame(enc(null))],
    ["undefined", "NotAMap", rawFrame(e("f7"))],
    ["true", "NotAMap", rawFrame(enc(true))],
    ["a byte string", "NotAMap", rawFrame(enc(new Uint8Array([0xa0])))],
    ["a tagged map", "NotAMap", rawFrame(enc(new Cbor.CborTag(1, {})))],
    ["a simple value", "NotAMap", rawFrame(enc(new Cbor.CborSimple(0)))]
  ]

  it.each(cases)("%s → %s, whole, byte by byte and at every split", (_, reason, bad) => {
    const bytes = concat([before, bad, after])
    const chunkings: Array<Iterable<Uint8Array>> = [[bytes], bytewise(bytes), chunksOf(bytes, 7)]
    for (let at = 0; at <= bytes.length; at++) chunkings.push(splitAt(bytes, at))
    for (const chunks of chunkings) {
      const result = run(chunks, MAX)
      expect(result.error?.reason).toBe(reason)
      expect(result.error?.message).toMatch(/\S/)
      expect(result.items).toEqual([{ id: 1, op: Op.NOOP }])
    }
  })

  it.each(cases)("%s → %s: later pushes return the same error and deliver nothing", (_, reason, bad) => {
    const decoder = new Frame.FrameDecoder(MAX)
    const items: Array<Frame.FrameItem> = []
    const first = decoder.push(concat([bad, after]), (item) => items.push(item))
    expect(first?.reason).toBe(reason)
    for (const chunk of [after, Frame.encode({}), header(0), new Uint8Array(0)]) {
      expect(decoder.push(chunk, (item) => items.push(item))).toEqual(first)
    }
    expect(items).toEqual([])
  })

  it("decides FrameTooLarge from the 4 header bytes alone, before any body", () => {
    const decoder = new Frame.FrameDecoder(MAX)
    const items: Array<Frame.FrameItem> = []
    expect(decoder.push(header(MAX + 1), (item) => items.push(item))?.reason).toBe("FrameTooLarge")
    expect(items).toEqual([])
    expect(decoder.bufferedBytes).toBe(0)
  })

  it("decides FrameTooLarge on the fourth header byte when the header comes byte by byte", () => {
    const decoder = new Frame.FrameDecoder(MAX)
    const h = header(MAX + 1)
    const results = [...bytewise(h)].map((b) => decoder.push(b, () => undefined))
    expect(results.slice(0, 3)).toEqual([undefined, undefined, undefined])
    expect(results[3]?.reason).toBe("FrameTooLarge")
  })

  it("decides FrameTooLarge with the default limit from a header claiming 16 MiB + 1", () => {
    const decoder = new Frame.FrameDecoder()
    expect(decoder.maxFrame).toBe(Frame.DEFAULT_MAX_FRAME)
    expect(decoder.push(header(Frame.DEFAULT_MAX_FRAME + 1), () => undefined)?.reason).toBe("FrameTooLarge")
  })

  it("does not wait for a body before rejecting a length of 0", () => {
    const decoder = new Frame.FrameDecoder(MAX)
    expect(decoder.push(header(0), () => undefined)?.reason).toBe("EmptyFrame")
  })
})

// ---------------------------------------------------------------------------------------------
// Memory bound
// ---------------------------------------------------------------------------------------------

describe("FrameDecoder memory bound", () => {
  const MAX = 1024
  const big = frameOfBodySize(MAX)
  const small = Frame.encode({ id: 9, op: Op.HEARTBEAT })
  const bytes = concat([big, small, big, big, small])
  const values = [big, small, big, big, small].map((frame) => Cbor.decode(bodyOf(frame)))

  it.each([1, 2, 3, 5, 7, 64, 1000, 1027, 1028, 1029, 4096])(
    "holds at most maxFrame + 4 bytes fed in %i-byte chunks, and decodes the frames after",
    (size) => {
      const decoder = new Frame.FrameDecoder(MAX)
      const items: Array<Frame.FrameItem> = []
      let maxBuffered = 0
      for (const chunk of chunksOf(bytes, size)) {
        expect(decoder.push(chunk, (item) => items.push(item))).toBeUndefined()
        maxBuffered = Math.max(maxBuffered, decoder.bufferedBytes)
      }
      expect(maxBuffered).toBeLessThanOrEqual(MAX + Frame.HEADER_BYTES)
      expect(decoder.bufferedBytes).toBe(0)
      expect(sameItems(items, values)).toBe(true)
    }
  )

  it("holds nothing between frames and something inside one", () => {
    const decoder = new Frame.FrameDecoder(MAX)
    expect(decoder.bufferedBytes).toBe(0)
    decoder.push(big.subarray(0, 2), () => undefined)
    expect(decoder.bufferedBytes).toBeGreaterThan(0)
    decoder.push(big.subarray(2, 600), () => undefined)
    expect(decoder.bufferedBytes).toBeGreaterThan(0)
    expect(decoder.bufferedBytes).toBeLessThanOrEqual(600)
    decoder.push(big.subarray(600), () => undefined)
    expect(decoder.bufferedBytes).toBe(0)
  })
})

// ---------------------------------------------------------------------------------------------
// Random bytes
// ---------------------------------------------------------------------------------------------

describe("FrameDecoder on random bytes", () => {
  const MAX = 64
  const reasons: ReadonlySet<string> = new Set<Frame.FrameErrorReason>([
    "EmptyFrame",
    "FrameTooLarge",
    "NotCbor",
    "NotAMap"
  ])

  const randomValue = (rng: () => number, depth: number): unknown => {
    const pick = between(rng, 0, depth > 2 ? 4 : 7)
    switch (pick) {
      case 0:
        return between(rng, -1000, 100_000)
      case 1:
        return "k".repeat(between(rng, 0, 5))
      case 2:
        return randomBytes(rng, between(rng, 0, 4))
      case 3:
        return rng() < 0.5 ? null : rng() < 0.5
      case 4:
        return rng() * 10
      case 5:
        return Array.from({ length: between(rng, 0, 3) }, () => randomValue(rng, depth + 1))
      case 6:
        return new Map([[between(rng, 0, 9), randomValue(rng, depth + 1)]])
      default:
        return Object.fromEntries(Array.from({ length: between(rng, 0, 3) }, (_, i) => [`f${i}`, randomValue(rng, depth + 1)]))
    }
  }

  // A stream of 1..4 segments: raw noise, a header with a small (maybe bad) length and noise,
  // a valid frame, or a valid frame with one byte changed.
  const randomStream = (rng: () => number): Uint8Array => {
    const segments: Array<Uint8Array> = []
    const count = between(rng, 1, 4)
    for (let i = 0; i < count; i++) {
      const kind = between(rng, 0, 3)
      if (kind === 0) {
        segments.push(randomBytes(rng, between(rng, 0, 40)))
      } else if (kind === 1) {
        const length = between(rng, 0, MAX + 8)
        segments.push(header(length), randomBytes(rng, between(rng, 0, length)))
      } else {
        const value = Object.fromEntries([["v", randomValue(rng, 0)]])
        const frame = Buffer.from(Frame.encode(value, Number.MAX_SAFE_INTEGER))
        if (kind === 3) frame[between(rng, 0, frame.length - 1)] = Math.floor(rng() * 256)
        segments.push(frame)
      }
    }
    return concat(segments)
  }

  it("never throws out of push(): each stream decodes or ends in one of the four reasons, whatever the chunking", () => {
    const rng = prng(0xc0ffee)
    const seen = new Map<string, number>()
    let delivered = 0
    for (let trial = 0; trial < 4000; trial++) {
      const bytes = randomStream(rng)
      const chunks = randomChunks(bytes, () => rng() * rng())
      let whole: Run
      let chunked: Run
      try {
        whole = run([bytes], MAX)
        chunked = run(chunks, MAX)
      } catch (e) {
        throw new Error(`trial ${trial}, stream ${Buffer.from(bytes).toString("hex")}, chunks ${chunks.map((c) => c.length).join(",")}: ${String(e)}`)
      }
      for (const r of [whole, chunked]) {
        if (r.error !== undefined && !reasons.has(r.error.reason)) throw new Error(`unknown reason ${r.error.reason}`)
        for (const item of r.items) {
          if (!(item instanceof Map) && Object.getPrototypeOf(item) !== Object.prototype) {
            throw new Error(`trial ${trial}: delivered a non-map ${String(item)}`)
          }
        }
        if (r.maxBuffered > MAX + Frame.HEADER_BYTES) throw new Error(`trial ${trial}: held ${r.maxBuffered} bytes`)
      }
      // The chunking must not change the outcome.
      expect(chunked.error?.reason, `trial ${trial}`).toBe(whole.error?.reason)
      expect(sameItems(chunked.items, whole.items), `trial ${trial}`).toBe(true)
      const outcome = whole.error?.reason ?? "ok"
      seen.set(outcome, (seen.get(outcome) ?? 0) + 1)
      delivered += whole.items.length
    }
    // The generator reaches every outcome, so the property above says something about each.
    expect([...seen.keys()].sort()).toEqual(["EmptyFrame", "FrameTooLarge", "NotAMap", "NotCbor", "ok"])
    expect(delivered).toBeGreaterThan(100)
  })
})

describe("Frame guards", () => {
  it("encode refuses a value that is not a map", () => {
    for (const v of [[1, 2], new Uint8Array(3)]) expect(() => Frame.encode(v)).toThrow(TypeError)
  })

  it("a decoder needs a real max frame", () => {
    for (const bad of [Number.NaN, 0, -1, 1.5, 2 ** 32]) expect(() => new Frame.FrameDecoder(bad)).toThrow(RangeError)
  })

  it("a consumer that throws ends the stream instead of silently losing frames", () => {
    const d = new Frame.FrameDecoder()
    const two = Buffer.concat([Frame.encode({ a: 1 }), Frame.encode({ b: 2 })])
    expect(() => d.push(two, () => { throw new Error("boom") })).toThrow("boom")
    expect(d.push(Frame.encode({ c: 3 }), () => {})).toBeDefined()
  })
})
