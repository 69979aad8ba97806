/**
 * A strict RFC 8949 CBOR codec: every frame body of the kernel protocol goes through it. The
 * encoder writes preferred serialization (shortest integers, lengths and exact floats); the
 * decoder accepts exactly one well-formed data item and throws `CborError` on anything else.
 * Ours rather than cbor-x because that one encodes integers above 2^32 as float64, returns
 * BigInt for safe 8-byte integers, accepts invalid UTF-8 and refuses indefinite-length strings.
 */
import { constants, isUtf8 } from "node:buffer"

/** Deepest nesting of arrays, maps and tags either direction accepts. @category models */
export const MAX_DEPTH = 256

const MAX_U64 = 0xffff_ffff_ffff_ffffn

/** Why a byte string is not exactly one well-formed CBOR data item. @category errors */
export type CborErrorReason = "Truncated" | "TrailingBytes" | "Malformed" | "InvalidUtf8" | "TooDeep" | "Unsupported"

/**
 * The only error `decode` throws; `encode` throws it (reason TooDeep) for nesting over
 * MAX_DEPTH, cycles included.
 * @category errors
 */
export class CborError extends Error {
  readonly reason: CborErrorReason

  constructor(reason: CborErrorReason, message: string) {
    super(message)
    this.name = "CborError"
    this.reason = reason
  }
}

/**
 * A tagged data item (major type 6) other than the bignum tags 2 and 3, which are bigints.
 * Throws a RangeError when `tag` is 2, 3 or not an integer in 0..2^64-1.
 * @category models
 */
export class CborTag {
  readonly tag: number | bigint
  readonly value: unknown

  constructor(tag: number | bigint, value: unknown) {
    if (typeof tag === "bigint" ? tag < 0n || tag > MAX_U64 : !Number.isSafeInteger(tag) || tag < 0) {
      throw new RangeError(`CBOR tag ${String(tag)} is not an integer in 0..2^64-1`)
    }
    if (tag === 2 || tag === 3 || tag === 2n || tag === 3n) {
      throw new RangeError(`CBOR tag ${String(tag)} is a bignum: use a bigint`)
    }
    this.tag = tag
    this.value = value
  }
}

/**
 * A simple value (major type 7) other than false, true, null and undefined: 0..19 or 32..255.
 * Throws a RangeError for any other number.
 * @category models
 */
export class CborSimple {
  readonly value: number

  constructor(value: number) {
    if (!Number.isInteger(value) || value < 0 || value > 255 || (value >= 20 && value < 32)) {
      throw new RangeError(`CBOR simple value ${value} is not in 0..19 or 32..255`)
    }
    this.value = value
  }
}

// Lets the decoder make a Raw from bytes it has just checked, without checking them again.
const CHECKED: unique symbol = Symbol("agentos/protocol/Cbor/checked")

/**
 * One well-formed, valid CBOR data item kept as its bytes: `encode` writes them out verbatim, so
 * a value passed on through a Raw reaches its reader exactly as its writer wrote it (a float
 * with an integral value stays a float, undefined stays undefined, a non-preferred encoding
 * stays what it was). `decode` makes them for the entries its `keep` names; the constructor
 * checks bytes as `decode` would and throws its CborError when they are not one such item.
 * @category models
 */
export class Raw {
  /** Where its bytes are: `source[start, end)` (a kept entry is a span of what was decoded). */
  readonly source: Uint8Array
  readonly start: number
  readonly end: number
  /** Levels of arrays, maps and tags nested in it (0 for a scalar): what placing it deeper costs. */
  readonly depth: number

  constructor(bytes: Uint8Array, depth?: number, checked?: typeof CHECKED, start = 0, end = bytes.length) {
    if (checked === CHECKED && depth !== undefined) {
      this.source = bytes
      this.start = start
      this.end = end
      this.depth = depth
      return
    }
    this.source = Uint8Array.from(bytes)
    this.start = 0
    this.end = this.source.length
    this.depth = checkAll(this.source)
  }

  /** Its bytes (a view, not a copy). */
  get bytes(): Uint8Array {
    return this.start === 0 && this.end === this.source.length ? this.source : this.source.subarray(this.start, this.end)
  }

  /** How many bytes it is. */
  get length(): number {
    return this.end - this.start
  }

  /** The Raw of a value as `encode` writes it; throws as `encode` does, or a CborError when the result would not decode (a Map holding both 1 and 1n). */
  static encode(value: unknown): Raw {
    const bytes = encode(value)
    return new Raw(bytes, checkAll(bytes), CHECKED)
  }

  /**
   * Its value, as `decode` gives it, with `keep` applied; cheaper than `decode(raw.bytes, keep)`
   * since the bytes are known valid: a kept entry is only delimited, not checked again.
   */
  decode(keep?: Keep): unknown {
    return decodeValid(this, keep)
  }
}

/**
 * What `decode` leaves for an entry its `keep` names whose value is well-formed CBOR (its end
 * could be found) but not valid: text that is not UTF-8, a duplicate map key, nesting over
 * MAX_DEPTH, a bignum that is not one. The rest of the item decodes, so the reader can refuse
 * that one entry (a request's args: EINVAL for that request) rather than the whole item.
 * @category models
 */
export class Invalid {
  readonly error: CborError

  constructor(error: CborError) {
    this.error = error
  }
}

/**
 * Which entries of a map `decode` keeps as a Raw rather than building them: `true` keeps the
 * value named by the key; a nested Keep builds the value, applying itself inside when the value
 * is a map (`{}` builds it all). A function decides when the entry is met, from the entries
 * read before it (a request's args by its op, when the op came first). Either way an entry
 * named here that is well-formed but not valid is a Cbor.Invalid, not an error of the whole.
 * @category models
 */
export interface Keep {
  readonly [key: string]: KeepEntry
}

/** What Keep says of one entry. @category models */
export type KeepEntry = true | Keep | ((before: Readonly<Record<string, unknown>>) => true | Keep)

const TWO_32 = 0x1_0000_0000
// Frames go out through the scratch buffer; one that grew past this is dropped after use so a
// single huge message does not keep its memory for the life of the process.
const SCRATCH_BYTES = 8192
const SCRATCH_KEEP_BYTES = 1024 * 1024
// Strings up to this many UTF-16 units are written and read by a JS loop when ASCII; longer
// ones, or non-ASCII, go through the native UTF-8 routines, whose call cost only pays off then.
const ASCII_LOOP_MAX = 32
// Decoding limits below which V8 itself would throw: a bignum is kept far under BigInt's
// 2^30 bits, a text string under the longest string V8 can make.
const MAX_BIGNUM_BYTES = 64 * 1024
const MAX_TEXT_BYTES = constants.MAX_STRING_LENGTH
const MAX_ARRAY_LENGTH = 0xffff_ffff

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

// One growable buffer; `busy` lets a re-entrant encode (a getter that encodes) take its own.
class Encoder {
  buf: Buffer
  view: DataView
  pos = 0
  busy = false

  constructor(size: number) {
    this.buf = Buffer.allocUnsafeSlow(size)
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength)
  }

  grow(need: number): void {
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + need))
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength)
  }

  // The head of a data item: major type and argument n, a safe non-negative integer, shortest form.
  head(major: number, n: number): void {
    if (this.pos + 9 > this.buf.length) this.grow(9)
    const buf = this.buf
    const m = major << 5
    if (n < 24) {
      buf[this.pos++] = m | n
    } else if (n < 0x100) {
      buf[this.pos++] = m | 24
      buf[this.pos++] = n
    } else if (n < 0x1_0000) {
      buf[this.pos++] = m | 25
      buf[this.pos++] = n >>> 8
      buf[this.pos++] = n & 0xff
    } else if (n < TWO_32) {
      buf[this.pos++] = m | 26
      this.view.setUint32(this.pos, n)
      this.pos += 4
    } else {
      buf[this.pos++] = m | 27
      this.view.setUint32(this.pos, Math.floor(n / TWO_32))
      this.view.setUint32(this.pos + 4, n >>> 0)
      this.pos += 8
    }
  }

  // Rewrites the head at `at` written for argument `was` as one for `n`, moving what follows
  // when the shortest form of n is shorter.
  rehead(at: number, major: number, was: number, n: number): void {
    const end = this.pos
    const shift = headSize(was) - headSize(n)
    this.pos = at
    this.head(major, n)
    if (shift > 0) this.buf.copyWithin(this.pos, this.pos + shift, end)
    this.pos = end - shift
  }

  byte(b: number): void {
    if (this.pos >= this.buf.length) this.grow(1)
    this.buf[this.pos++] = b
  }

  write(value: unknown, depth: number): void {
    switch (typeof value) {
      case "number":
        return this.number(value)
      case "string":
        return this.string(value)
      case "boolean":
        return this.byte(value ? 0xf5 : 0xf4)
      case "object":
        return value === null ? this.byte(0xf6) : this.object(value, depth)
      case "undefined":
        return this.byte(0xf7)
      case "bigint":
        return this.bigint(value)
      default:
        throw new TypeError(`encoding CBOR: cannot encode a ${typeof value}`)
    }
  }

  number(v: number): void {
    if (Number.isSafeInteger(v)) {
      if (v > 0) return this.head(0, v)
      if (v < 0) return this.head(1, -1 - v)
      // -0 is not an integer in CBOR: it keeps its sign as a half float.
      if (Object.is(v, -0)) return this.float(v)
      return this.byte(0)
    }
    this.float(v)
  }

  // The shortest float that holds v exactly (RFC 8949 §4.2.2).
  float(v: number): void {
    if (this.pos + 9 > this.buf.length) this.grow(9)
    const buf = this.buf
    if (v !== v) {
      buf[this.pos++] = 0xf9
      buf[this.pos++] = 0x7e
      buf[this.pos++] = 0x00
      return
    }
    if (Math.fround(v) !== v) {
      buf[this.pos++] = 0xfb
      this.view.setFloat64(this.pos, v)
      this.pos += 8
      return
    }
    const half = halfBits(v)
    if (half >= 0) {
      buf[this.pos++] = 0xf9
      buf[this.pos++] = half >>> 8
      buf[this.pos++] = half & 0xff
      return
    }
    buf[this.pos++] = 0xfa
    this.view.setFloat32(this.pos, v)
    this.pos += 4
  }

  bigint(v: bigint): void {
    const negative = v < 0n
    const magnitude = negative ? -1n - v : v
    if (magnitude <= MAX_U64) {
      if (magnitude <= 0x1f_ffff_ffff_ffffn) return this.head(negative ? 1 : 0, Number(magnitude))
      if (this.pos + 9 > this.buf.length) this.grow(9)
      this.buf[this.pos++] = negative ? 0x3b : 0x1b
      this.view.setBigUint64(this.pos, magnitude)
      this.pos += 8
      return
    }
    // A bignum: tag 2 or 3 around the big-endian magnitude, no leading zero bytes.
    const hex = magnitude.toString(16)
    const bytes = Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, "hex")
    this.byte(negative ? 0xc3 : 0xc2)
    this.bytes(bytes)
  }

  string(s: string): void {
    const n = s.length
    if (n <= ASCII_LOOP_MAX) {
      // Optimistic ASCII: the head assumes one byte per unit, undone at the first other unit.
      const start = this.pos
      this.head(3, n)
      if (this.pos + n > this.buf.length) this.grow(n)
      const buf = this.buf
      let p = this.pos
      let i = 0
      for (; i < n; i++) {
        const c = s.charCodeAt(i)
        if (c >= 0x80) break
        buf[p++] = c
      }
      if (i === n) {
        this.pos = p
        return
      }
      this.pos = start
    }
    // Lone surrogates are written as U+FFFD, as Buffer does: they have no UTF-8 form.
    const length = Buffer.byteLength(s, "utf8")
    this.head(3, length)
    if (this.pos + length > this.buf.length) this.grow(length)
    this.pos += this.buf.write(s, this.pos, length, "utf8")
  }

  bytes(b: Uint8Array): void {
    const n = b.length
    this.head(2, n)
    if (this.pos + n > this.buf.length) this.grow(n)
    if (n <= 16) {
      const buf = this.buf
      for (let i = 0; i < n; i++) buf[this.pos + i] = b[i]!
    } else {
      this.buf.set(b, this.pos)
    }
    this.pos += n
  }

  // A Raw's bytes as they are; its own nesting counts from where it is placed.
  raw(v: Raw, depth: number): void {
    if (depth + v.depth > MAX_DEPTH) throw tooDeepToEncode()
    const n = v.end - v.start
    if (this.pos + n > this.buf.length) this.grow(n)
    const source = v.source
    if (n <= 256) {
      const buf = this.buf
      for (let i = 0, p = this.pos, s = v.start; i < n; i++) buf[p + i] = source[s + i]!
    } else {
      this.buf.set(source.subarray(v.start, v.end), this.pos)
    }
    this.pos += n
  }

  object(v: object, depth: number): void {
    const proto: unknown = Object.getPrototypeOf(v)
    if (proto === Object.prototype || proto === null) {
      if (depth >= MAX_DEPTH) throw tooDeepToEncode()
      const record = v as Record<string, unknown>
      const keys = Object.keys(record)
      const at = this.pos
      this.head(5, keys.length)
      // Keys holding undefined are left out, so an absent optional field never goes on the wire.
      let count = 0
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!
        const item = record[key]
        if (item === undefined) continue
        count++
        this.string(key)
        this.write(item, depth + 1)
      }
      if (count !== keys.length) this.rehead(at, 5, keys.length, count)
      return
    }
    if (Array.isArray(v)) {
      if (depth >= MAX_DEPTH) throw tooDeepToEncode()
      const n = v.length
      this.head(4, n)
      for (let i = 0; i < n; i++) this.write(v[i], depth + 1)
      return
    }
    if (v instanceof Uint8Array) return this.bytes(v)
    if (v instanceof Raw) return this.raw(v, depth)
    if (v instanceof Map) {
      if (depth >= MAX_DEPTH) throw tooDeepToEncode()
      this.head(5, v.size)
      for (const [key, item] of v) {
        this.write(key, depth + 1)
        this.write(item, depth + 1)
      }
      return
    }
    if (v instanceof CborTag) {
      if (depth >= MAX_DEPTH) throw tooDeepToEncode()
      const tag = v.tag
      if (typeof tag === "number") {
        this.head(6, tag)
      } else if (tag <= 0x1f_ffff_ffff_ffffn) {
        this.head(6, Number(tag))
      } else {
        this.byte(0xdb)
        if (this.pos + 8 > this.buf.length) this.grow(8)
        this.view.setBigUint64(this.pos, tag)
        this.pos += 8
      }
      return this.write(v.value, depth + 1)
    }
    if (v instanceof CborSimple) {
      return v.value < 24 ? this.byte(0xe0 | v.value) : (this.byte(0xf8), this.byte(v.value))
    }
    throw new TypeError(`encoding CBOR: cannot encode ${describe(v)}`)
  }
}

const headSize = (n: number): number => (n < 24 ? 1 : n < 0x100 ? 2 : n < 0x1_0000 ? 3 : n < TWO_32 ? 5 : 9)

const tooDeepToEncode = (): CborError =>
  new CborError("TooDeep", `encoding CBOR: nesting is deeper than ${MAX_DEPTH} (or the value is cyclic)`)

const describe = (v: object): string => {
  const name: unknown = (v as { constructor?: { name?: unknown } }).constructor?.name
  return typeof name === "string" && name !== "" ? `a ${name}` : "an object with a foreign prototype"
}

const f32 = new DataView(new ArrayBuffer(4))

// The binary16 bits of v when v (already known to be an exact float32, not NaN) is exactly a
// half float, else -1.
const halfBits = (v: number): number => {
  f32.setFloat32(0, v)
  const bits = f32.getUint32(0)
  const sign = (bits >>> 16) & 0x8000
  const exp = (bits >>> 23) & 0xff
  const mant = bits & 0x7f_ffff
  if (exp === 0xff) return sign | 0x7c00 // ±Infinity
  if (exp === 0) return mant === 0 ? sign : -1 // ±0; float32 subnormals are far below half range
  const e = exp - 127
  if (e >= -14 && e <= 15) {
    return (mant & 0x1fff) === 0 ? sign | ((e + 15) << 10) | (mant >>> 13) : -1
  }
  if (e >= -24 && e < -14) {
    // A half subnormal: value = m * 2^-24 with m = significand >> (-e - 1).
    const significand = 0x80_0000 | mant
    const shift = -e - 1
    return (significand & ((1 << shift) - 1)) === 0 ? sign | (significand >>> shift) : -1
  }
  return -1
}

const shared = new Encoder(SCRATCH_BYTES)

// The encoder to use now: the shared one unless a getter is encoding from inside an encode.
const acquire = (): Encoder => {
  const encoder = shared.busy ? new Encoder(256) : shared
  encoder.busy = true
  encoder.pos = 0
  return encoder
}

const release = (encoder: Encoder): void => {
  encoder.busy = false
  if (encoder === shared && encoder.buf.length > SCRATCH_KEEP_BYTES) {
    encoder.buf = Buffer.allocUnsafeSlow(SCRATCH_BYTES)
    encoder.view = new DataView(encoder.buf.buffer, encoder.buf.byteOffset, encoder.buf.byteLength)
  }
}

/**
 * Encodes value as one CBOR data item in preferred serialization.
 *
 * **Details** Safe integers are major types 0/1, other numbers the shortest exact float, bigints
 * 0/1 within 64 bits else bignum tags 2/3, Uint8Array a byte string, arrays arrays, Maps and
 * plain objects maps (object keys holding undefined are left out), CborTag/CborSimple as such.
 *
 * **Gotchas** Lone surrogates in strings are written as U+FFFD.
 *
 * Throws a TypeError for any other value (functions, symbols, Date, Set, …), CborError TooDeep
 * for nesting over MAX_DEPTH.
 * @category constructors
 */
export const encode = (value: unknown): Uint8Array => {
  const encoder = acquire()
  try {
    encoder.write(value, 0)
    const length = encoder.pos
    const buf = encoder.buf
    const out = new Uint8Array(length)
    if (length <= 64) {
      for (let i = 0; i < length; i++) out[i] = buf[i]!
    } else {
      out.set(buf.subarray(0, length))
    }
    return out
  } finally {
    release(encoder)
  }
}

/**
 * Encodes value like `encode`, into a fresh Buffer whose first `headerBytes` bytes are zero and
 * left for the caller (the frame length), so the frame needs no second copy.
 * @category constructors
 */
export const encodeWithHeader = (value: unknown, headerBytes: number): Buffer => {
  if (!Number.isSafeInteger(headerBytes) || headerBytes < 0) {
    throw new RangeError(`encoding CBOR: a header of ${headerBytes} bytes is not a non-negative integer`)
  }
  const encoder = acquire()
  try {
    encoder.write(value, 0)
    const length = encoder.pos
    const buf = encoder.buf
    // allocUnsafe: small frames come from Node's pool; every byte is written below.
    const out = Buffer.allocUnsafe(headerBytes + length)
    for (let i = 0; i < headerBytes; i++) out[i] = 0
    if (length <= 64) {
      for (let i = 0; i < length; i++) out[headerBytes + i] = buf[i]!
    } else {
      buf.copy(out, headerBytes, 0, length)
    }
    return out
  } finally {
    release(encoder)
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

// Decoder state: decode never calls out to user code, so one set of module variables is safe.
const EMPTY = new Uint8Array(0)
let src: Uint8Array = EMPTY
let pos = 0
let end = 0
// What kept entries become: views onto src rather than copies (decode's `views`); and whether
// src is known valid, so they need delimiting only (Raw.decode).
let keepViews = false
let trusted = false
// The two halves of the last 8-byte argument, for integers and tags above 2^53.
let argHi = 0
let argLo = 0

const floatScratch = new ArrayBuffer(8)
const floatBytes = new Uint8Array(floatScratch)
const float32 = new Float32Array(floatScratch, 0, 1)
const float64 = new Float64Array(floatScratch)
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true })

const fail = (reason: CborErrorReason, what: string): CborError =>
  new CborError(reason, `decoding CBOR at byte ${pos}: ${what}`)

const truncated = (what: string): CborError => fail("Truncated", `${what} runs past the end (${end} bytes)`)

// The argument of the head whose additional info is ai (< 28); 8-byte arguments over 2^53 are
// inexact here and exact in argHi/argLo.
const readArg = (ai: number): number => {
  if (ai < 24) return ai
  const b = src
  const p = pos
  switch (ai) {
    case 24:
      if (p + 1 > end) throw truncated("a 1-byte argument")
      pos = p + 1
      return b[p]!
    case 25:
      if (p + 2 > end) throw truncated("a 2-byte argument")
      pos = p + 2
      return (b[p]! << 8) | b[p + 1]!
    case 26:
      if (p + 4 > end) throw truncated("a 4-byte argument")
      pos = p + 4
      return b[p]! * 0x100_0000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!)
    default:
      if (p + 8 > end) throw truncated("an 8-byte argument")
      pos = p + 8
      argHi = b[p]! * 0x100_0000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!)
      argLo = b[p + 4]! * 0x100_0000 + ((b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!)
      return argHi * TWO_32 + argLo
  }
}

const bigArg = (): bigint => (BigInt(argHi) << 32n) | BigInt(argLo)

const readBytes = (n: number): Uint8Array => {
  if (n > end - pos) throw truncated(`a byte string of ${n} bytes`)
  // A copy, never a view: a decoded message must not pin the buffer it was read from.
  const out = new Uint8Array(n)
  const b = src
  const p = pos
  if (n <= 16) {
    for (let i = 0; i < n; i++) out[i] = b[p + i]!
  } else {
    out.set(b.subarray(p, p + n))
  }
  pos = p + n
  return out
}

// bytes[p, p + n), already known to be ASCII, as a string; one fromCharCode call per 8 bytes
// is the fastest way V8 offers for short strings.
const asciiString = (b: Uint8Array, p: number, n: number): string => {
  const fromCharCode = String.fromCharCode
  switch (n) {
    case 0:
      return ""
    case 1:
      return fromCharCode(b[p]!)
    case 2:
      return fromCharCode(b[p]!, b[p + 1]!)
    case 3:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!)
    case 4:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!)
    case 5:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!)
    case 6:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!)
    case 7:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!)
    case 8:
      return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!)
    default:
      return asciiString(b, p, 8) + asciiString(b, p + 8, n - 8)
  }
}

// Whether the n bytes at pos are short ASCII, the common case both readers take a fast path for.
const isShortAscii = (n: number): boolean => {
  if (n > ASCII_LOOP_MAX) return false
  const b = src
  let high = 0
  for (let i = pos; i < pos + n; i++) high |= b[i]!
  return high < 0x80
}

// Throws unless the n bytes at pos, known to be there and not short ASCII, can be a JS string.
const checkLongText = (n: number): void => {
  if (n > MAX_TEXT_BYTES) throw fail("Unsupported", `a text string of ${n} bytes is longer than a JS string can be`)
  if (!isUtf8(src.subarray(pos, pos + n))) throw fail("InvalidUtf8", `a text string of ${n} bytes is not valid UTF-8`)
}

const readText = (n: number): string => {
  if (n > end - pos) throw truncated(`a text string of ${n} bytes`)
  const p = pos
  if (isShortAscii(n)) {
    pos = p + n
    return asciiString(src, p, n)
  }
  checkLongText(n)
  pos = p + n
  return utf8.decode(src.subarray(p, p + n))
}

// Map keys repeat in every frame (id, op, args): short ASCII ones come from a small cache keyed
// by a hash of their bytes, which saves building the string and gives V8 back the same,
// already internalized, property name.
const KEY_CACHE_SIZE = 1024
const keyCache: Array<string> = new Array<string>(KEY_CACHE_SIZE).fill("")

const readKey = (n: number): string => {
  if (n > end - pos) throw truncated(`a text string of ${n} bytes`)
  const b = src
  const p = pos
  let hash = n
  for (let i = 0; i < n; i++) {
    const c = b[p + i]!
    if (c >= 0x80) return readText(n)
    hash = (Math.imul(hash, 31) + c) | 0
  }
  const slot = hash & (KEY_CACHE_SIZE - 1)
  const cached = keyCache[slot]!
  pos = p + n
  if (cached.length === n) {
    let i = 0
    while (i < n && cached.charCodeAt(i) === b[p + i]) i++
    if (i === n) return cached
  }
  const key = asciiString(b, p, n)
  keyCache[slot] = key
  return key
}

// The text keys of the maps being decoded, innermost last: a duplicate is found by comparing
// with the earlier keys of the same map, cheaper than a property lookup for small maps.
const keyStack: Array<string> = []
let keyTop = 0
const KEY_SCAN_MAX = 16

const readTag = (depth: number, ai: number): unknown => {
  const n = readArg(ai)
  if (depth >= MAX_DEPTH) throw fail("TooDeep", `nesting is deeper than ${MAX_DEPTH}`)
  if (n === 2 || n === 3) {
    const at = pos
    const content = item(depth + 1)
    if (!(content instanceof Uint8Array)) {
      pos = at
      throw fail("Malformed", `bignum tag ${n} holds something other than a byte string`)
    }
    if (content.length > MAX_BIGNUM_BYTES) {
      pos = at
      throw fail("Unsupported", `a bignum of ${content.length} bytes is over the ${MAX_BIGNUM_BYTES}-byte limit`)
    }
    const magnitude = bytesToBigInt(content)
    return n === 2 ? magnitude : -1n - magnitude
  }
  const tag = ai === 27 && argHi >= 0x20_0000 ? bigArg() : n
  return new CborTag(tag, item(depth + 1))
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

const bytesToBigInt = (b: Uint8Array): bigint => {
  if (b.length <= 6) {
    let n = 0
    for (let i = 0; i < b.length; i++) n = n * 256 + b[i]!
    return BigInt(n)
  }
  let hex = "0x"
  for (let i = 0; i < b.length; i++) hex += HEX[b[i]!]!
  return BigInt(hex)
}

const readArray = (n: number, depth: number): Array<unknown> => {
  if (depth >= MAX_DEPTH) throw fail("TooDeep", `nesting is deeper than ${MAX_DEPTH}`)
  // Every item is at least one byte: checked before the array is allocated.
  if (n > end - pos) throw truncated(`an array of ${n} items`)
  if (n > MAX_ARRAY_LENGTH) throw fail("Unsupported", `an array of ${n} items is longer than a JS array can be`)
  const out: Array<unknown> = new Array(n)
  for (let i = 0; i < n; i++) out[i] = item(depth + 1)
  return out
}

const readIndefiniteArray = (depth: number): Array<unknown> => {
  if (depth >= MAX_DEPTH) throw fail("TooDeep", `nesting is deeper than ${MAX_DEPTH}`)
  const out: Array<unknown> = []
  for (;;) {
    if (pos >= end) throw truncated("an indefinite-length array")
    if (src[pos] === 0xff) {
      pos++
      return out
    }
    out.push(item(depth + 1))
  }
}

// What mapKey returns at the break code that ends an indefinite-length map.
const END_OF_MAP: unique symbol = Symbol("agentos/protocol/Cbor/endOfMap")
// Where the key mapKey last read began, for the error about a duplicate.
let keyAt = 0

// The next key of a map of n pairs (-1: indefinite) at the given depth, or END_OF_MAP.
const mapKey = (n: number, depth: number): unknown => {
  if (pos >= end) throw truncated(n < 0 ? "an indefinite-length map" : "a map key")
  const ib = src[pos]!
  if (ib === 0xff && n < 0) {
    pos++
    return END_OF_MAP
  }
  keyAt = pos
  if (ib >= 0x60 && ib <= 0x77) {
    // Fast path: a short definite text key.
    pos++
    return readKey(ib - 0x60)
  }
  return item(depth + 1)
}

// Whether a text key is among those of the map being read (keyStack from base), which it joins.
const seenBefore = (base: number, key: string): boolean => {
  for (let k = base; k < keyTop; k++) if (keyStack[k] === key) return true
  keyStack[keyTop++] = key
  return false
}

const duplicateKey = (at: number, key: unknown): CborError => {
  pos = at
  return fail("Malformed", `duplicate map key ${typeof key === "string" ? JSON.stringify(key) : String(key)}`)
}

// A map: a plain object while every key is a text string, a Map from the first other key on.
// n is the number of pairs, or -1 for an indefinite-length map.
const readMap = (n: number, depth: number, keep?: Keep): unknown => {
  if (depth >= MAX_DEPTH) throw fail("TooDeep", `nesting is deeper than ${MAX_DEPTH}`)
  // Every key and value is at least one byte: checked before anything is allocated.
  if (n > (end - pos) / 2) throw truncated(`a map of ${n} pairs`)
  const record: Record<string, unknown> = {}
  let map: Map<unknown, unknown> | undefined
  const base = keyTop
  for (let i = 0; n < 0 || i < n; i++) {
    const key = mapKey(n, depth)
    if (key === END_OF_MAP) break
    const at = keyAt
    // An own entry of keep only (keep.constructor is Object's); the common miss costs one lookup.
    const found = keep === undefined || typeof key !== "string" ? undefined : keep[key]
    const how = found !== undefined && Object.hasOwn(keep!, key as string) ? found : undefined
    const value = how === undefined ? item(depth + 1) : kept(depth + 1, typeof how === "function" ? how(record) : how)
    if (map === undefined && typeof key === "string") {
      if (keyTop - base <= KEY_SCAN_MAX ? seenBefore(base, key) : Object.hasOwn(record, key)) throw duplicateKey(at, key)
      if (key === "__proto__") {
        // An own data property; plain assignment would replace the prototype.
        Object.defineProperty(record, key, { value, writable: true, enumerable: true, configurable: true })
      } else {
        record[key] = value
      }
      continue
    }
    if (map === undefined) map = new Map(Object.entries(record))
    if (map.has(key)) throw duplicateKey(at, key)
    map.set(key, value)
  }
  // Drop this map's keys so a large one is not kept alive after the decode.
  for (let k = base; k < keyTop; k++) keyStack[k] = ""
  keyTop = base
  return map ?? record
}

// The chunks of an indefinite-length string of the given major type (2 bytes, 3 text).
const readChunks = (major: 2 | 3): Uint8Array | string => {
  const chunks: Array<Uint8Array> = []
  const texts: Array<string> = []
  for (;;) {
    if (pos >= end) throw truncated("an indefinite-length string")
    const ib = src[pos]!
    if (ib === 0xff) {
      pos++
      break
    }
    const ai = ib & 31
    if (ib >>> 5 !== major || ai >= 28) {
      throw fail("Malformed", `a chunk of an indefinite-length ${major === 2 ? "byte" : "text"} string is not a definite one`)
    }
    pos++
    const n = readArg(ai)
    // Each text chunk must be valid UTF-8 on its own: chunks split only at code points.
    if (major === 2) chunks.push(readBytes(n))
    else texts.push(readText(n))
  }
  if (major === 3) {
    let length = 0
    for (const t of texts) length += t.length
    if (length > MAX_TEXT_BYTES) throw fail("Unsupported", `a text string of ${length} units is longer than a JS string can be`)
    return texts.join("")
  }
  let total = 0
  for (const c of chunks) total += c.length
  const out = new Uint8Array(total)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

// 2^(e - 25) for each half-float exponent e, so a half costs no Math.pow.
const HALF_SCALE = Array.from({ length: 32 }, (_, e) => 2 ** (e === 0 ? -24 : e - 25))

const readHalf = (): number => {
  if (pos + 2 > end) throw truncated("a half float")
  const h = (src[pos]! << 8) | src[pos + 1]!
  pos += 2
  const exp = (h >>> 10) & 0x1f
  const mant = h & 0x3ff
  let magnitude: number
  if (exp === 31) {
    if (mant !== 0) return NaN
    magnitude = Infinity
  } else {
    // Subnormals (exp 0) have no implicit leading 1 and the scale of exp 1.
    magnitude = (exp === 0 ? mant : 1024 + mant) * HALF_SCALE[exp]!
  }
  return h & 0x8000 ? -magnitude : magnitude
}

// Through a typed-array scratch rather than a DataView over the input, which would cost an
// allocation per decode; CBOR is big-endian, the typed arrays are the platform's order.
const readFloat = (bytes: 4 | 8): number => {
  if (pos + bytes > end) throw truncated(`a ${bytes === 4 ? "single" : "double"} float`)
  const b = src
  const p = pos
  pos = p + bytes
  if (!LITTLE_ENDIAN) {
    for (let i = 0; i < bytes; i++) floatBytes[i] = b[p + i]!
    return bytes === 4 ? float32[0]! : float64[0]!
  }
  if (bytes === 4) {
    floatBytes[0] = b[p + 3]!
    floatBytes[1] = b[p + 2]!
    floatBytes[2] = b[p + 1]!
    floatBytes[3] = b[p]!
    return float32[0]!
  }
  floatBytes[0] = b[p + 7]!
  floatBytes[1] = b[p + 6]!
  floatBytes[2] = b[p + 5]!
  floatBytes[3] = b[p + 4]!
  floatBytes[4] = b[p + 3]!
  floatBytes[5] = b[p + 2]!
  floatBytes[6] = b[p + 1]!
  floatBytes[7] = b[p]!
  return float64[0]!
}

const readSimple = (ai: number): unknown => {
  switch (ai) {
    case 20:
      return false
    case 21:
      return true
    case 22:
      return null
    case 23:
      return undefined
    case 24: {
      if (pos >= end) throw truncated("a simple value")
      const v = src[pos]!
      if (v < 32) throw fail("Malformed", `simple value ${v} must be encoded in one byte`)
      pos++
      return new CborSimple(v)
    }
    case 25:
      return readHalf()
    case 26:
      return readFloat(4)
    case 27:
      return readFloat(8)
    default:
      return new CborSimple(ai)
  }
}

// One data item at the given nesting depth.
const item = (depth: number): unknown => {
  if (pos >= end) throw truncated("a data item")
  const ib = src[pos++]!
  const major = ib >>> 5
  const ai = ib & 31
  if (ai >= 28) {
    if (ai !== 31) {
      pos--
      throw fail("Malformed", `reserved additional information ${ai}`)
    }
    switch (major) {
      case 2:
        return readChunks(2)
      case 3:
        return readChunks(3)
      case 4:
        return readIndefiniteArray(depth)
      case 5:
        return readMap(-1, depth)
      case 7:
        pos--
        throw fail("Malformed", "a break code outside an indefinite-length item")
      default:
        pos--
        throw fail("Malformed", `major type ${major} cannot have an indefinite length`)
    }
  }
  switch (major) {
    case 0: {
      const n = readArg(ai)
      return ai === 27 && argHi >= 0x20_0000 ? bigArg() : n
    }
    case 1: {
      const n = readArg(ai)
      // -1 - n is a safe integer only for n <= 2^53 - 2.
      return ai === 27 && (argHi >= 0x20_0000 || n === Number.MAX_SAFE_INTEGER) ? -1n - bigArg() : -1 - n
    }
    case 2:
      return readBytes(readArg(ai))
    case 3:
      return readText(readArg(ai))
    case 4:
      return readArray(readArg(ai), depth)
    case 5:
      return readMap(readArg(ai), depth)
    case 6:
      return readTag(depth, ai)
    default:
      return readSimple(ai)
  }
}

// ---------------------------------------------------------------------------------------------
// Checking without building: what a Raw is made from
// ---------------------------------------------------------------------------------------------

// Checks one data item at the given depth as `item` reads it (same errors, same limits) without
// building it, map keys aside (a duplicate is found by the keys' values); returns the levels of
// arrays, maps and tags in it.
const check = (depth: number): number => {
  if (pos >= end) throw truncated("a data item")
  const ib = src[pos++]!
  const major = ib >>> 5
  const ai = ib & 31
  if (ai >= 28) {
    if (ai !== 31 || major < 2 || major > 5) {
      pos--
      return item(depth) as never // the error item() gives for it
    }
    if (major === 4) return checkItems(-1, depth)
    if (major === 5) return checkMap(-1, depth)
    checkChunks(major as 2 | 3)
    return 0
  }
  switch (major) {
    case 0:
    case 1:
      readArg(ai)
      return 0
    case 2: {
      const n = readArg(ai)
      if (n > end - pos) throw truncated(`a byte string of ${n} bytes`)
      pos += n
      return 0
    }
    case 3: {
      const n = readArg(ai)
      if (n > end - pos) throw truncated(`a text string of ${n} bytes`)
      if (!isShortAscii(n)) checkLongText(n)
      pos += n
      return 0
    }
    case 4:
      return checkItems(readArg(ai), depth)
    case 5:
      return checkMap(readArg(ai), depth)
    case 6: {
      const at = pos - 1
      const n = readArg(ai)
      if (n === 2 || n === 3) {
        // A bignum is checked by reading it: its content must be a byte string of bounded size.
        pos = at
        item(depth)
        return 1
      }
      if (depth >= MAX_DEPTH) throw fail("TooDeep", `nesting is deeper than ${MAX_DEPTH}`)
      return 1 + check(depth + 1)
    }
    default:
      if (ai >= 24) {
        pos--
        item(depth) // a simple value in two bytes, or a float: read, the simplest check
      }
      return 0
  }
}

// The n items of an array (n -1: up to a break code).
const checkItems = (n: number, depth: number): number => {
  if (depth >= MAX_DEPTH) throw fail("TooDeep", `nesting is deeper than ${MAX_DEPTH}`)
  if (n > end - pos) throw truncated(`an array of ${n} items`)
  let deepest = 0
  for (let i = 0; n < 0 || i < n; i++) {
    if (n < 0) {
      if (pos >= end) throw truncated("an indefinite-length array")
      if (src[pos] === 0xff) {
        pos++
        break
      }
    }
    const d = check(depth + 1)
    if (d > deepest) deepest = d
  }
  return 1 + deepest
}

// Text keys checkMap compares one by one before it builds a Set: it has no object to ask, as
// readMap has, and a scan of a few dozen keys costs less than making a Set.
const CHECK_SCAN_MAX = 64

// A map's n pairs (n -1: up to a break code); its keys are read, to find duplicates as readMap does.
const checkMap = (n: number, depth: number): number => {
  if (depth >= MAX_DEPTH) throw fail("TooDeep", `nesting is deeper than ${MAX_DEPTH}`)
  if (n > (end - pos) / 2) throw truncated(`a map of ${n} pairs`)
  const base = keyTop
  let seen: Set<unknown> | undefined
  let deepest = 0
  for (let i = 0; n < 0 || i < n; i++) {
    const key = mapKey(n, depth)
    if (key === END_OF_MAP) break
    const at = keyAt
    if (typeof key !== "string") {
      // A key that may nest (read, so valid): its levels count too.
      const stop = pos
      pos = at
      const k = check(depth + 1)
      if (k > deepest) deepest = k
      pos = stop
    }
    // The value before the duplicate check, as readMap reads them: the same first error.
    const d = check(depth + 1)
    if (d > deepest) deepest = d
    let duplicate: boolean
    if (seen === undefined && typeof key === "string" && keyTop - base < CHECK_SCAN_MAX) {
      duplicate = seenBefore(base, key)
    } else {
      if (seen === undefined) seen = new Set(keyStack.slice(base, keyTop))
      duplicate = seen.has(key)
      seen.add(key)
    }
    if (duplicate) throw duplicateKey(at, key)
  }
  for (let k = base; k < keyTop; k++) keyStack[k] = ""
  keyTop = base
  return 1 + deepest
}

// The chunks of an indefinite-length string of the given major type, up to its break code;
// text checked to be UTF-8 unless only its shape is asked for (delimit).
const checkChunks = (major: 2 | 3, shapeOnly = false): void => {
  for (;;) {
    if (pos >= end) throw truncated("an indefinite-length string")
    const ib = src[pos]!
    if (ib === 0xff) {
      pos++
      return
    }
    if (ib >>> 5 !== major || (ib & 31) >= 28) {
      throw fail("Malformed", `a chunk of an indefinite-length ${major === 2 ? "byte" : "text"} string is not a definite one`)
    }
    pos++
    const n = readArg(ib & 31)
    if (n > end - pos) throw truncated(`a ${major === 2 ? "byte" : "text"} string of ${n} bytes`)
    if (major === 3 && !shapeOnly && !isShortAscii(n)) checkLongText(n)
    pos += n
  }
}

// Deepest nesting delimit follows before it gives up on an item as beyond use.
const DELIMIT_MAX_DEPTH = 65_536

// What delimit's stack holds besides the items a definite container still expects: an open
// indefinite-length array, map expecting a key (where its break code may come) or a value, or
// a tag whose item is still to come.
const OPEN_ARRAY = -1
const OPEN_MAP_KEY = -2
const OPEN_MAP_VALUE = -3
const OPEN_TAG = -4

// Finds the end of the well-formed item at pos without judging its validity (RFC 8949 §5.3:
// text, duplicate keys, tag contents, depth up to DELIMIT_MAX_DEPTH); throws when it is not
// well-formed. Returns its levels of arrays, maps and tags, as check does. Iterative: the stack
// holds one entry per open array, map or tag.
const delimit = (): number => {
  // Most kept items are one string or one number: no stack for them.
  if (pos < end) {
    const ib = src[pos]!
    const major = ib >>> 5
    const ai = ib & 31
    if (ai < 28 && major !== 4 && major !== 5 && major !== 6 && !(major === 7 && ai === 24)) {
      pos++
      const n = readArg(ai)
      if (major === 2 || major === 3) {
        if (n > end - pos) throw truncated(`a string of ${n} bytes`)
        pos += n
      }
      return 0
    }
  }
  const open: Array<number> = []
  let deepest = 0
  for (;;) {
    if (pos >= end) throw truncated("a data item")
    const ib = src[pos]!
    const top = open.length === 0 ? 0 : open[open.length - 1]!
    if (ib === 0xff && (top === OPEN_ARRAY || top === OPEN_MAP_KEY)) {
      pos++
      open.pop()
    } else {
      const major = ib >>> 5
      const ai = ib & 31
      if (ai === 31 && (major === 2 || major === 3)) {
        pos++
        checkChunks(major, true)
      } else if (ai === 31 && (major === 4 || major === 5)) {
        pos++
        if (open.push(major === 4 ? OPEN_ARRAY : OPEN_MAP_KEY) > DELIMIT_MAX_DEPTH) throw delimitTooDeep()
        if (open.length > deepest) deepest = open.length
        continue
      } else if (ai >= 28 || (major === 7 && ai === 24 && pos + 1 < end && src[pos + 1]! < 32)) {
        item(0) // throws the error item() gives for it
      } else {
        pos++
        const n = readArg(ai)
        if (major === 2 || major === 3) {
          if (n > end - pos) throw truncated(`a string of ${n} bytes`)
          pos += n
        } else if (major === 4 || major === 5 || major === 6) {
          const items = major === 4 ? n : major === 5 ? n * 2 : OPEN_TAG
          if (items > end - pos) throw truncated(`a container of ${items} items`)
          if (items !== 0) {
            if (open.push(items) > DELIMIT_MAX_DEPTH) throw delimitTooDeep()
            if (open.length > deepest) deepest = open.length
            continue
          }
          if (open.length + 1 > deepest) deepest = open.length + 1
        }
      }
    }
    // One item done: count it against the containers it completes.
    for (;;) {
      if (open.length === 0) return deepest
      const left = open[open.length - 1]!
      if (left === OPEN_ARRAY) break
      if (left === OPEN_MAP_KEY || left === OPEN_MAP_VALUE) {
        open[open.length - 1] = left === OPEN_MAP_KEY ? OPEN_MAP_VALUE : OPEN_MAP_KEY
        break
      }
      if (left > 1) {
        open[open.length - 1] = left - 1
        break
      }
      open.pop() // a tag's item, or a container's last
    }
  }
}

const delimitTooDeep = (): CborError => fail("TooDeep", `nesting is deeper than ${DELIMIT_MAX_DEPTH}`)


// Kept copies of up to SLAB_ITEM_MAX bytes share slabs of SLAB_BYTES, as Node's Buffer pool
// does: one allocation per slab rather than per message (a copy over 64 bytes would otherwise
// get a backing store of its own, which costs more than the rest of a SEND's decoding). A slab
// lives while any Raw in it does, so a kept small message holds at most one slab.
const SLAB_BYTES = 8192
const SLAB_ITEM_MAX = 1024
let slab = new Uint8Array(SLAB_BYTES)
let slabUsed = 0

// A Raw of a copy of src[start, pos), with the given nesting.
const copied = (start: number, nesting: number): Raw => {
  const n = pos - start
  let target: Uint8Array
  let at: number
  if (n > SLAB_ITEM_MAX) {
    target = new Uint8Array(n)
    at = 0
  } else {
    if (slabUsed + n > SLAB_BYTES) {
      slab = new Uint8Array(SLAB_BYTES)
      slabUsed = 0
    }
    target = slab
    at = slabUsed
    slabUsed += n
  }
  const b = src
  if (n <= 64) {
    for (let i = 0; i < n; i++) target[at + i] = b[start + i]!
  } else {
    target.set(b.subarray(start, pos), at)
  }
  return new Raw(target, nesting, CHECKED, at, at + n)
}

// The item at pos as keep says: `true`, a Raw of a copy of its bytes (a message must not pin the
// buffer it was read from) or, with keepViews and an entry of the top-level map, of a span of
// src; a Keep, built with it applied. An Invalid when it is well-formed but not valid.
const kept = (depth: number, how: true | Keep): unknown => {
  const start = pos
  const keys = keyTop
  try {
    if (how !== true) return keptInside(how, depth)
    const nesting = trusted ? delimit() : check(depth)
    return keepViews && depth === 1 ? new Raw(src, nesting, CHECKED, start, pos) : copied(start, nesting)
  } catch (e) {
    if (!(e instanceof CborError)) throw e
    for (let k = keys; k < keyTop; k++) keyStack[k] = ""
    keyTop = keys
    pos = start
    delimit()
    return new Invalid(e)
  }
}

// The item at pos built, with `keep` applied inside when it is a map.
const keptInside = (keep: Keep, depth: number): unknown => {
  if (pos >= end) throw truncated("a data item")
  const ib = src[pos]!
  if (ib >>> 5 !== 5 || ((ib & 31) >= 28 && (ib & 31) !== 31)) return item(depth)
  pos++
  return readMap((ib & 31) === 31 ? -1 : readArg(ib & 31), depth, keep)
}

// A Raw's bytes, known to hold one valid item, decoded with keep.
const decodeValid = (raw: Raw, keep: Keep | undefined): unknown => {
  trusted = true
  try {
    return decodeSpan(raw.source, raw.start, raw.end, keep, false)
  } finally {
    trusted = false
  }
}

// The nesting of bytes holding exactly one valid item; throws CborError otherwise.
const checkAll = (bytes: Uint8Array): number => {
  src = bytes
  pos = 0
  end = bytes.length
  keyTop = 0
  try {
    const nesting = check(0)
    if (pos !== end) throw fail("TrailingBytes", `${end - pos} bytes follow the data item`)
    return nesting
  } finally {
    src = EMPTY
    for (let k = 0; k < keyTop; k++) keyStack[k] = ""
    keyTop = 0
  }
}

/**
 * Decodes bytes holding exactly one well-formed CBOR data item.
 *
 * **Details** Integers are numbers when safe, else bigints (and bignum tags 2/3 always bigints);
 * floats are numbers; byte strings are fresh Uint8Array copies; maps whose keys are all text
 * strings are plain objects (`__proto__` an own property), other maps Maps; other tags and
 * simple values are CborTag and CborSimple. Indefinite-length items are accepted.
 *
 * **Gotchas** Duplicate keys are found by their decoded values (so 1 and 1.0 collide in a Map);
 * keys that are arrays or maps are never duplicates of each other.
 *
 * With `keep`, the entries it names of a top-level map are not built: each is a Raw of its bytes,
 * checked as they would be decoded, or an Invalid when they are well-formed but not valid (the
 * rest of the item still decodes). A request's args are kept so, until its syscall reads them.
 * Kept bytes are copies; with `views`, those of the top-level map's own entries are views onto
 * `bytes`, for a caller that is done with them before it is done with `bytes` (a view keeps all
 * of `bytes` in memory), while deeper ones (a SEND's payload, kept in a mailbox) stay copies.
 *
 * Throws CborError, and nothing else, when bytes are not exactly one well-formed item.
 * @category constructors
 */
export const decode = (bytes: Uint8Array, keep?: Keep, views = false): unknown =>
  decodeSpan(bytes, 0, bytes.length, keep, views)

// The one item in bytes[from, to).
const decodeSpan = (bytes: Uint8Array, from: number, to: number, keep: Keep | undefined, views: boolean): unknown => {
  src = bytes
  keepViews = views
  pos = from
  end = to
  keyTop = 0
  try {
    const value = keep === undefined ? item(0) : keptInside(keep, 0)
    if (pos !== end) throw fail("TrailingBytes", `${end - pos} bytes follow the data item`)
    return value
  } finally {
    src = EMPTY
    keepViews = false
    // After a failure, drop the keys of the maps it left open.
    for (let k = 0; k < keyTop; k++) keyStack[k] = ""
    keyTop = 0
  }
}
