/**
 * The frame codec: a 4-byte unsigned big-endian length N (1 ≤ N ≤ max frame), then N bytes
 * holding exactly one CBOR data item, a map. `FrameDecoder` is the streaming half: it accepts
 * bytes as they arrive (frames split across reads, several frames in one read) and never holds
 * more than the max frame plus the 4 header bytes of a connection.
 */
import * as Cbor from "./Cbor.ts"

/** The default largest frame body, in bytes (16 MiB). @category models */
export const DEFAULT_MAX_FRAME = 16 * 1024 * 1024

/** Bytes of the length header. @category models */
export const HEADER_BYTES = 4

/** Why a byte stream stopped being a valid frame stream; every one is answered with EPROTO. @category errors */
export type FrameErrorReason = "EmptyFrame" | "FrameTooLarge" | "NotCbor" | "NotAMap"

/** A fatal decoding error: the connection it came from must be closed. @category errors */
export interface FrameError {
  readonly reason: FrameErrorReason
  readonly message: string
}

/** A decoded frame body: a CBOR map, as a plain object (text keys) or a Map (other keys). @category models */
export type FrameItem = Record<string, unknown> | Map<unknown, unknown>

/** Encodes one value as a frame; throws a RangeError when its body is over `maxFrame`. @category constructors */
export const encode = (value: object, maxFrame: number = DEFAULT_MAX_FRAME): Buffer => {
  if (!isMap(value)) throw new TypeError("encoding frame: a frame body must be a map (a plain object or a Map)")
  const frame = Cbor.encodeWithHeader(value, HEADER_BYTES)
  const length = frame.length - HEADER_BYTES
  if (length > maxFrame) {
    throw new RangeError(`encoding frame: body of ${length} bytes is over the ${maxFrame}-byte limit`)
  }
  frame.writeUInt32BE(length, 0)
  return frame
}

const isMap = (item: unknown): item is FrameItem =>
  item instanceof Map ||
  (typeof item === "object" && item !== null && Object.getPrototypeOf(item) === Object.prototype)

/**
 * A streaming frame decoder for one connection. Feed it every chunk read; it calls `onItem` for
 * each complete frame and returns a FrameError (and stops for good) at the first bad one.
 * @category constructors
 */
export class FrameDecoder {
  readonly maxFrame: number
  private readonly header = Buffer.alloc(HEADER_BYTES)
  private headerFill = 0
  // Body of the frame being received; parts are copies, so a small partial frame never pins
  // a large read buffer.
  private bodyLength = 0
  private bodyParts: Array<Buffer> = []
  private bodyFill = 0
  private failed: FrameError | undefined
  private readonly keep: Cbor.Keep | undefined
  private readonly views: boolean

  /**
   * `keep`: entries of each frame's map to leave as Cbor.Raw (the kernel: a request's args);
   * with `views`, views onto the frame, for a consumer done with them once the frame is handled.
   */
  constructor(maxFrame: number = DEFAULT_MAX_FRAME, keep?: Cbor.Keep, views = false) {
    if (!Number.isSafeInteger(maxFrame) || maxFrame < 1 || maxFrame > 0xffffffff) {
      throw new RangeError(`max frame must be an integer from 1 to 2^32-1, got ${maxFrame}`)
    }
    this.maxFrame = maxFrame
    this.keep = keep
    this.views = views
  }

  /** Bytes held for an incomplete frame (at most maxFrame + 4). */
  get bufferedBytes(): number {
    return this.headerFill + this.bodyFill
  }

  /** Feeds bytes; returns the fatal error when the stream broke (now or earlier). */
  push(chunk: Uint8Array, onItem: (item: FrameItem) => void): FrameError | undefined {
    if (this.failed !== undefined) return this.failed
    const end = chunk.length
    let offset = 0
    while (offset < end) {
      if (this.bodyLength === 0) {
        // Reading a header: the fast path takes all 4 bytes from this chunk.
        let length: number
        if (this.headerFill === 0 && end - offset >= HEADER_BYTES) {
          length = ((chunk[offset]! << 24) >>> 0) + (chunk[offset + 1]! << 16) + (chunk[offset + 2]! << 8) +
            chunk[offset + 3]!
          offset += HEADER_BYTES
        } else {
          while (this.headerFill < HEADER_BYTES && offset < end) this.header[this.headerFill++] = chunk[offset++]!
          if (this.headerFill < HEADER_BYTES) return undefined
          this.headerFill = 0
          length = this.header.readUInt32BE(0)
        }
        // Decided from the header alone, before any of the body is held.
        if (length === 0) return this.fail("EmptyFrame", "frame length is 0")
        if (length > this.maxFrame) {
          return this.fail("FrameTooLarge", `frame length ${length} is over the ${this.maxFrame}-byte limit`)
        }
        if (end - offset >= length) {
          const error = this.deliver(chunk.subarray(offset, offset + length), onItem)
          if (error !== undefined) return error
          offset += length
          continue
        }
        this.bodyLength = length
      }
      const take = Math.min(this.bodyLength - this.bodyFill, end - offset)
      this.bodyParts.push(Buffer.from(chunk.subarray(offset, offset + take)))
      this.bodyFill += take
      offset += take
      if (this.bodyFill === this.bodyLength) {
        const body = this.bodyParts.length === 1 ? this.bodyParts[0]! : Buffer.concat(this.bodyParts, this.bodyFill)
        this.bodyParts = []
        this.bodyFill = 0
        this.bodyLength = 0
        const error = this.deliver(body, onItem)
        if (error !== undefined) return error
      }
    }
    return undefined
  }

  private deliver(body: Uint8Array, onItem: (item: FrameItem) => void): FrameError | undefined {
    let item: unknown
    try {
      item = Cbor.decode(body, this.keep, this.views)
    } catch (e) {
      return this.fail("NotCbor", `frame body is not one CBOR data item: ${e instanceof Error ? e.message : String(e)}`)
    }
    if (!isMap(item)) return this.fail("NotAMap", `frame body is a CBOR ${kindOf(item)}, not a map`)
    try {
      onItem(item)
    } catch (e) {
      // The rest of the chunk is lost with the exception: the stream cannot go on.
      this.fail("NotCbor", `frame consumer failed: ${e instanceof Error ? e.message : String(e)}`)
      throw e
    }
    return undefined
  }

  private fail(reason: FrameErrorReason, message: string): FrameError {
    this.failed = { reason, message }
    this.bodyParts = []
    this.bodyFill = 0
    return this.failed
  }
}

const kindOf = (item: unknown): string => {
  if (item === null) return "null"
  if (Array.isArray(item)) return "array"
  if (item instanceof Uint8Array) return "byte string"
  if (item instanceof Cbor.CborTag) return "tag"
  if (item instanceof Cbor.CborSimple) return "simple value"
  switch (typeof item) {
    case "string":
      return "text string"
    case "number":
    case "bigint":
      return "number"
    case "boolean":
      return "boolean"
    default:
      return "item of another kind"
  }
}
