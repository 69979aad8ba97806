/**
 * The kernel's CBOR codec against the vectors it shares with the Python SDK (test/vectors/cbor.json,
 * RFC 8949 Appendix A included): every vector decodes to its value or is refused with its reason,
 * and every one marked `encode` encodes to exactly its bytes. sdk.test.ts runs the same file
 * through the Python codec, so the two agree byte for byte.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import * as Cbor from "../../src/protocol/Cbor.ts"
import { bytesOf, hexOf } from "../support/cborVectors.ts"

/** A value as the vector file writes it: JSON, with tagged objects for what JSON cannot hold. */
type Rep =
  | null
  | boolean
  | number
  | string
  | ReadonlyArray<Rep>
  | { readonly int: string }
  | { readonly float: string }
  | { readonly bytes: string }
  | { readonly map: ReadonlyArray<readonly [Rep, Rep]> }
  | { readonly tag: number | string; readonly value: Rep }
  | { readonly simple: number }
  | { readonly undefined: true }

interface Vector {
  readonly name: string
  readonly hex: string
  readonly value?: Rep
  readonly encode?: boolean
  readonly error?: Cbor.CborErrorReason
}

const vectors: ReadonlyArray<Vector> = JSON.parse(
  Fs.readFileSync(Path.resolve(import.meta.dirname, "../vectors/cbor.json"), "utf8")
)

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

const floatOf = (s: string): number => (s === "nan" ? NaN : s === "inf" ? Infinity : s === "-inf" ? -Infinity : Number(s))

/** The JS value a representation stands for, as Cbor.decode would return it. */
export const fromRep = (rep: Rep): unknown => {
  if (rep === null || typeof rep === "boolean" || typeof rep === "number" || typeof rep === "string") return rep
  if (Array.isArray(rep)) return rep.map(fromRep)
  const tagged = rep as Exclude<Rep, null | boolean | number | string | ReadonlyArray<Rep>>
  if ("int" in tagged) {
    const n = BigInt(tagged.int)
    return n >= -MAX_SAFE && n <= MAX_SAFE ? Number(n) : n
  }
  if ("float" in tagged) return floatOf(tagged.float)
  if ("bytes" in tagged) return Uint8Array.from(Buffer.from(tagged.bytes, "hex"))
  if ("map" in tagged) {
    const pairs = tagged.map.map(([k, v]) => [fromRep(k), fromRep(v)] as const)
    // Text keys only: a plain object (fromEntries makes `__proto__` an own property), else a Map.
    return pairs.every(([k]) => typeof k === "string") ? Object.fromEntries(pairs) : new Map(pairs)
  }
  if ("tag" in tagged) {
    const tag = typeof tagged.tag === "string" ? BigInt(tagged.tag) : tagged.tag
    return new Cbor.CborTag(tag, fromRep(tagged.value))
  }
  if ("simple" in tagged) return new Cbor.CborSimple(tagged.simple)
  return undefined
}

/**
 * Whether a representation holds a float whose value is a safe integer (1.0, -4.0): a JS number
 * cannot be told from the integer, so Cbor.encode rightly writes it as one.
 */
const holdsIntegralFloat = (rep: Rep): boolean => {
  if (rep === null || typeof rep !== "object") return false
  if (Array.isArray(rep)) return rep.some(holdsIntegralFloat)
  const tagged = rep as Exclude<Rep, null | boolean | number | string | ReadonlyArray<Rep>>
  if ("float" in tagged) {
    const v = floatOf(tagged.float)
    return Number.isSafeInteger(v) && !Object.is(v, -0)
  }
  if ("map" in tagged) return tagged.map.some(([k, v]) => holdsIntegralFloat(k) || holdsIntegralFloat(v))
  if ("tag" in tagged) return holdsIntegralFloat(tagged.value)
  return false
}


describe("the shared CBOR vectors (test/vectors/cbor.json) through the kernel's codec", () => {
  it("holds the RFC 8949 Appendix A examples, valid items and refusals, with unique names", () => {
    expect(vectors.filter((v) => v.name.startsWith("RFC 8949 A: "))).toHaveLength(81)
    expect(vectors.filter((v) => v.error !== undefined).length).toBeGreaterThan(50)
    expect(new Set(vectors.map((v) => v.name)).size).toBe(vectors.length)
  })

  describe("decoding", () => {
    for (const v of vectors.filter((v) => v.error === undefined)) {
      it(`${v.name}: ${v.hex.length > 40 ? `${v.hex.slice(0, 40)}…` : v.hex}`, () => {
        const expected = fromRep(v.value!)
        // A bignum (tag 2/3) always decodes to a bigint, even one a number could hold.
        const bignum = /^c[23]/.test(v.hex) && typeof expected === "number"
        expect(Cbor.decode(bytesOf(v.hex))).toEqual(bignum ? BigInt(expected) : expected)
      })
    }
  })

  describe("refusing", () => {
    for (const v of vectors.filter((v) => v.error !== undefined)) {
      it(`${v.name} (${v.error})`, () => {
        let caught: unknown
        try {
          Cbor.decode(bytesOf(v.hex))
        } catch (e) {
          caught = e
        }
        expect(caught).toBeInstanceOf(Cbor.CborError)
        expect((caught as Cbor.CborError).reason).toBe(v.error)
      })
    }
  })

  describe("encoding", () => {
    const marked = vectors.filter((v) => v.encode === true)
    const exact = marked.filter((v) => !holdsIntegralFloat(v.value!))

    for (const v of exact) {
      it(`${v.name} encodes to ${v.hex.length > 40 ? `${v.hex.slice(0, 40)}…` : v.hex}`, () => {
        expect(hexOf(Cbor.encode(fromRep(v.value!)))).toBe(v.hex)
      })
    }

    it("leaves out only the integral floats, which a JS number holds as integers", () => {
      const skipped = marked.filter((v) => holdsIntegralFloat(v.value!)).map((v) => v.name)
      expect(skipped).toEqual([
        "RFC 8949 A: 0.0",
        "RFC 8949 A: 1.0",
        "RFC 8949 A: 65504.0",
        "RFC 8949 A: 100000.0",
        "RFC 8949 A: -4.0",
        "float 65505 is single"
      ])
      for (const name of skipped) {
        const v = marked.find((m) => m.name === name)!
        const n = fromRep(v.value!) as number
        expect(hexOf(Cbor.encode(n))).toBe(hexOf(Cbor.encode(Cbor.decode(bytesOf(v.hex)))))
      }
    })

    it("re-encodes every decodable vector to the bytes of its marked twin (decode ∘ encode is stable)", () => {
      for (const v of vectors.filter((v) => v.error === undefined)) {
        const once = Cbor.encode(Cbor.decode(bytesOf(v.hex)))
        expect(hexOf(Cbor.encode(Cbor.decode(once))), v.name).toBe(hexOf(once))
      }
    })
  })
})
