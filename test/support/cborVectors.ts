/**
 * Test support: the CBOR vectors shared with the Python SDK (test/vectors/cbor.json), and hex
 * both ways.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { CborErrorReason } from "../../src/protocol/Cbor.ts"

/** One vector: its bytes, and the reason decoding refuses them (none when valid). */
export interface CborVector {
  readonly name: string
  readonly hex: string
  readonly error?: CborErrorReason
}

export const vectors: ReadonlyArray<CborVector> = JSON.parse(
  Fs.readFileSync(Path.resolve(import.meta.dirname, "../vectors/cbor.json"), "utf8")
)

export const bytesOf = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, "hex"))
export const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex")

/** Refused vectors that are well-formed but not valid (RFC 8949 §5.3): the other refused ones are not well-formed. */
export const wellFormedButInvalid = (v: CborVector): boolean =>
  v.error === "InvalidUtf8" || v.error === "TooDeep" || /duplicate|bignum of/.test(v.name)
