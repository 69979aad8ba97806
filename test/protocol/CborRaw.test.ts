/**
 * Cbor.Raw, Cbor.Invalid and decode's `keep`: what lets the kernel carry a payload as the bytes
 * its sender wrote. The check behind a Raw must agree with `decode` exactly (the same items
 * accepted, the same reason for every refusal), or a payload accepted at SEND could fail at its
 * receiver: shown on every shared vector and on mutated ones. An entry that is well-formed but
 * not valid becomes an Invalid and the rest of the item still decodes; one that is not
 * well-formed breaks the whole item, as before.
 */
import { describe, expect, it } from "vitest"
import * as Cbor from "../../src/protocol/Cbor.ts"
import { bytesOf, hexOf, vectors, wellFormedButInvalid } from "../support/cborVectors.ts"
import { prng } from "../support/prng.ts"

/** "ok", or the CborError reason; anything else thrown fails the test. */
const outcome = (f: () => unknown): string => {
  try {
    f()
    return "ok"
  } catch (e) {
    if (!(e instanceof Cbor.CborError)) throw e
    return e.reason
  }
}

// {"args": <item>} and {"args": <item>, "z": 1} around an item's bytes.
const ARGS_KEY = "6461726773"
const inArgs = (hex: string): Uint8Array => bytesOf(`a1${ARGS_KEY}${hex}`)
const inArgsThenZ = (hex: string): Uint8Array => bytesOf(`a2${ARGS_KEY}${hex}617a01`)

describe("Raw: exactly the items decode accepts", () => {
  for (const v of vectors) {
    it(`${v.name}`, () => {
      const bytes = bytesOf(v.hex)
      expect(outcome(() => new Cbor.Raw(bytes))).toBe(outcome(() => Cbor.decode(bytes)))
      if (v.error !== undefined) return
      const raw = new Cbor.Raw(bytes)
      expect(hexOf(raw.bytes)).toBe(v.hex)
      // Written out verbatim, alone and inside other items.
      expect(hexOf(Cbor.encode(raw))).toBe(v.hex)
      if (raw.depth + 2 <= Cbor.MAX_DEPTH) expect(hexOf(Cbor.encode([raw, { raw }]))).toBe(`82${v.hex}a163726177${v.hex}`)
      else expect(() => Cbor.encode([raw, { raw }])).toThrow(expect.objectContaining({ reason: "TooDeep" }))
    })
  }

  it("agrees with decode on 20,000 mutated items, reason for reason", () => {
    const random = prng(0x5eed_c0de)
    const seeds = vectors.filter((v) => v.error === undefined && v.hex.length > 0).map((v) => bytesOf(v.hex))
    let refused = 0
    for (let i = 0; i < 20_000; i++) {
      const seed = seeds[Math.floor(random() * seeds.length)]!
      const bytes = Array.from(seed)
      const edits = 1 + Math.floor(random() * 3)
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(random() * (bytes.length + 1))
        const what = random()
        if (what < 0.4 && bytes.length > 0) bytes[Math.min(at, bytes.length - 1)] = Math.floor(random() * 256)
        else if (what < 0.7) bytes.splice(at, 0, Math.floor(random() * 256))
        else bytes.splice(at, 1)
      }
      const mutated = Uint8Array.from(bytes)
      const decoded = outcome(() => Cbor.decode(mutated))
      expect(outcome(() => new Cbor.Raw(mutated)), hexOf(mutated)).toBe(decoded)
      if (decoded !== "ok") refused++
      // Kept as args: a Raw when it decodes, else an Invalid with decode's reason, or the whole item refused.
      let args: unknown
      const whole = outcome(() => (args = (Cbor.decode(inArgs(hexOf(mutated)), { args: true }) as { args: unknown }).args))
      if (decoded === "ok" && new Cbor.Raw(mutated).depth >= Cbor.MAX_DEPTH) {
        // Valid alone, one level too deep as an entry of a map.
        expect((args as Cbor.Invalid).error.reason).toBe("TooDeep")
      } else if (decoded === "ok") {
        expect(args).toBeInstanceOf(Cbor.Raw)
        expect(hexOf((args as Cbor.Raw).bytes)).toBe(hexOf(mutated))
      } else if (whole === "ok") {
        expect(args, hexOf(mutated)).toBeInstanceOf(Cbor.Invalid)
        expect((args as Cbor.Invalid).error.reason).toBe(decoded)
      }
      // Kept as args to build ({}): decode's value, or an Invalid with decode's reason, or the whole refused.
      let built: unknown
      const wholeBuilt = outcome(() => (built = (Cbor.decode(inArgs(hexOf(mutated)), { args: {} }) as { args: unknown }).args))
      expect(wholeBuilt).toBe(whole)
      if (wholeBuilt === "ok") {
        if (built instanceof Cbor.Invalid) expect(built.error.reason).toBe((args as Cbor.Invalid).error.reason)
        else expect(built).toEqual(Cbor.decode(mutated))
      }
    }
    // The mutations reach both sides of the line.
    expect(refused).toBeGreaterThan(2_000)
    expect(refused).toBeLessThan(19_000)
  })

  it("copies the bytes it is given, and its depth counts its levels of arrays, maps and tags", () => {
    const source = bytesOf("8301820203820405")
    const raw = new Cbor.Raw(source)
    source[1] = 0x09
    expect(hexOf(raw.bytes)).toBe("8301820203820405")
    expect(raw.depth).toBe(2)
    expect(new Cbor.Raw(bytesOf("01")).depth).toBe(0)
    expect(new Cbor.Raw(bytesOf("c1a1616181c000")).depth).toBe(4) // tag, map, array, tag
    expect(new Cbor.Raw(bytesOf("c249010000000000000000")).depth).toBe(1) // a bignum
  })

  it("is refused where it would nest deeper than MAX_DEPTH", () => {
    const deepest = new Cbor.Raw(bytesOf(`${"81".repeat(Cbor.MAX_DEPTH - 1)}00`))
    expect(deepest.depth).toBe(Cbor.MAX_DEPTH - 1)
    expect(Cbor.encode([deepest]).length).toBe(Cbor.MAX_DEPTH + 1)
    expect(() => Cbor.encode([[deepest]])).toThrow(expect.objectContaining({ reason: "TooDeep" }))
  })

  it("Raw.encode is what encode writes, refused when that would not decode", () => {
    expect(hexOf(Cbor.Raw.encode({ a: [1.5, -0] }).bytes)).toBe(hexOf(Cbor.encode({ a: [1.5, -0] })))
    expect(() => Cbor.Raw.encode(new Map<unknown, unknown>([[1, "a"], [1n, "b"]]))).toThrow(expect.objectContaining({ reason: "Malformed" }))
    expect(() => Cbor.Raw.encode(() => 1)).toThrow(TypeError)
  })
})

describe("decode with keep", () => {
  it("leaves the named entry as its bytes (a copy) and builds the rest", () => {
    const frame = Buffer.from(Cbor.encode({ id: 7, op: 32, args: { to: "b", payload: [1, "x"] } }))
    const item = Cbor.decode(frame, { args: true }) as { id: number; op: number; args: Cbor.Raw }
    expect(item.id).toBe(7)
    expect(item.op).toBe(32)
    expect(item.args).toBeInstanceOf(Cbor.Raw)
    expect(Cbor.decode(item.args.bytes)).toEqual({ to: "b", payload: [1, "x"] })
    expect(item.args.bytes.buffer).not.toBe(frame.buffer)
  })

  it("kept copies stay intact while many more are made (they share slabs), and views are spans of the input", () => {
    const held: Array<readonly [string, Cbor.Raw]> = []
    for (let i = 0; i < 5_000; i++) {
      const payload = i % 7 === 0 ? "x".repeat(2_000 + i) : { i, s: "y".repeat(i % 300) }
      const item = Cbor.decode(Cbor.encode({ args: payload }), { args: true }) as { args: Cbor.Raw }
      held.push([hexOf(Cbor.encode(payload)), item.args])
    }
    for (const [hex, raw] of held) expect(hexOf(raw.bytes)).toBe(hex)
    const frame = Cbor.encode({ args: [1, 2] })
    const view = (Cbor.decode(frame, { args: true }, true) as { args: Cbor.Raw }).args
    expect(view.source).toBe(frame)
    expect(hexOf(view.bytes)).toBe("820102")
    expect(view.length).toBe(3)
    // Deeper kept entries (a SEND payload, which a mailbox keeps) are copies even then.
    const send = Buffer.from(Cbor.encode({ args: { to: "b", payload: [1, 2] } }))
    const payload = (Cbor.decode(send, { args: { payload: true } }, true) as { args: { payload: Cbor.Raw } }).args.payload
    expect(payload.source.buffer).not.toBe(send.buffer)
    expect(hexOf(payload.bytes)).toBe("820102")
  })

  it("applies a nested keep inside a map value, and only to own keys", () => {
    const item = Cbor.decode(Cbor.encode({ args: { to: "b", payload: { p: 1 } }, constructor: 1 }), { args: { payload: true } }) as {
      args: { to: string; payload: Cbor.Raw }
      constructor: number
    }
    expect(item.args.to).toBe("b")
    expect(hexOf(item.args.payload.bytes)).toBe(hexOf(Cbor.encode({ p: 1 })))
    expect(item.constructor).toBe(1)
    // A nested keep over a value that is not a map builds it.
    expect(Cbor.decode(Cbor.encode({ args: [1] }), { args: { payload: true } })).toEqual({ args: [1] })
    // Kept entries in an indefinite-length map.
    const indefinite = Cbor.decode(bytesOf(`bf${ARGS_KEY}f93c00ff`), { args: true }) as { args: Cbor.Raw }
    expect(hexOf(indefinite.args.bytes)).toBe("f93c00")
  })

  it("a function entry decides from the entries before it; a nested keep that fails is an Invalid too", () => {
    const keep: Cbor.Keep = { args: (before) => (before.op === 1 ? true : { payload: true }) }
    const raw = Cbor.decode(Cbor.encode({ op: 1, args: { a: 1.5 } }), keep) as { args: Cbor.Raw }
    expect(raw.args).toBeInstanceOf(Cbor.Raw)
    const built = Cbor.decode(Cbor.encode({ op: 2, args: { to: "b", payload: [1] } }), keep) as { args: { to: string; payload: Cbor.Raw } }
    expect(built.args.to).toBe("b")
    expect(hexOf(built.args.payload.bytes)).toBe("8101")
    // {op: 2, args: {to: <bad UTF-8>}, z: 1}: the args an Invalid, the rest decoded.
    const bad = Cbor.decode(bytesOf(`a3626f7002${ARGS_KEY}a162746f61ff617a01`), keep) as { args: unknown; z: number }
    expect((bad.args as Cbor.Invalid).error.reason).toBe("InvalidUtf8")
    expect(bad.z).toBe(1)
    // A bad payload under a nested keep is an Invalid inside args, which still decode.
    const badPayload = Cbor.decode(bytesOf(`a2626f7002${ARGS_KEY}a262746f6161677061796c6f616461ff`), keep) as { args: { to: string; payload: unknown } }
    expect((badPayload.args.payload as Cbor.Invalid).error.reason).toBe("InvalidUtf8")
  })

  describe("an entry that is well-formed but not valid is an Invalid; the rest still decodes", () => {
    for (const v of vectors.filter(wellFormedButInvalid)) {
      it(`${v.name}`, () => {
        const item = Cbor.decode(inArgsThenZ(v.hex), { args: true }) as { args: unknown; z: number }
        expect(item.args).toBeInstanceOf(Cbor.Invalid)
        expect((item.args as Cbor.Invalid).error.reason).toBe(v.error)
        expect(item.z).toBe(1)
      })
    }

    it("nesting 300 deep (over MAX_DEPTH) is an Invalid; 70,000 deep breaks the item", () => {
      const item = Cbor.decode(inArgsThenZ(`${"81".repeat(300)}00`), { args: true }) as { args: unknown; z: number }
      expect((item.args as Cbor.Invalid).error.reason).toBe("TooDeep")
      expect(item.z).toBe(1)
      const indefinite = Cbor.decode(inArgsThenZ(`${"9f".repeat(300)}${"ff".repeat(300)}`), { args: true }) as { args: unknown }
      expect((indefinite.args as Cbor.Invalid).error.reason).toBe("TooDeep")
      expect(outcome(() => Cbor.decode(inArgs(`${"81".repeat(70_000)}00`), { args: true }))).toBe("TooDeep")
    })
  })

  describe("an entry that is not well-formed breaks the whole item, as decode does", () => {
    const broken = vectors.filter((v) => v.error !== undefined && !wellFormedButInvalid(v) && v.error !== "TrailingBytes")
    it("covers truncation, reserved values, stray breaks and bad chunks", () => {
      expect(broken.length).toBeGreaterThan(30)
    })
    for (const v of broken) {
      it(`${v.name}`, () => {
        expect(outcome(() => Cbor.decode(inArgs(v.hex), { args: true }))).not.toBe("ok")
      })
    }
    it("an indefinite-length map that ends after a key", () => {
      expect(outcome(() => Cbor.decode(inArgsThenZ("bf6161ff"), { args: true }))).toBe("Malformed")
    })
  })
})
