/**
 * The four messages of the protocol (DESIGN.md): request (client → kernel), reply and chunk
 * (kernel → client, correlated by the client's `id`), push (kernel-initiated). Every frame body
 * is a CBOR map; these are the shapes of those maps and their validation, kept as plain
 * functions because they run once per message on both sides.
 */
import type * as Cbor from "./Cbor.ts"
import type { ErrorCode } from "./ErrorCode.ts"
import type { FrameItem } from "./Frame.ts"

/**
 * How the kernel decodes a request frame: its args in the form its syscall reads them
 * (`argsOf(op)`), decided as the args are met, in the same pass: built as values, kept as the
 * bytes the client wrote (a Cbor.Raw: NOOP's echo), or built with some entries kept (SEND's
 * payload), so what a syscall passes on goes out exactly as it came in. Args met before the op
 * (a client that writes its keys in another order) are kept whole, for the syscall to read
 * then. Args that are well-formed but not valid are a Cbor.Invalid, EINVAL for that request.
 * The kernel decodes with views: args kept whole are views onto the frame, read at dispatch;
 * what it keeps past dispatch (a SEND's payload, an entry inside args) is a copy.
 * @category constructors
 */
export const requestKeep = (argsOf: (op: number) => true | Cbor.Keep): Cbor.Keep => ({
  args: (before) => (isUint(before.op) ? argsOf(before.op) : true)
})

/**
 * client → kernel. `args` is any CBOR value; each syscall validates its own. Off the wire it is
 * a Cbor.Raw or Cbor.Invalid (requestKeep); from inside the kernel, any value.
 * @category models
 */
export interface Request {
  readonly id: number
  readonly op: number
  readonly args?: unknown
}

/** The error of a failed reply. @category models */
export interface ErrorBody {
  readonly code: ErrorCode
  readonly msg: string
}

/** kernel → client: the one answer to a request. @category models */
export type Reply =
  | { readonly id: number; readonly ok: true; readonly res?: unknown }
  | { readonly id?: number; readonly ok: false; readonly err: ErrorBody }

/** kernel → client: a partial result, zero or more before the reply. @category models */
export interface Chunk {
  readonly id: number
  readonly more: unknown
}

/** kernel → client, unasked: a lifecycle event, or an error about the connection. @category models */
export interface Push {
  readonly ev: string
  readonly data: unknown
}

/** Whether a value is a request id or op: an unsigned integer JS can hold exactly. @category guards */
export const isUint = (value: unknown): value is number =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0

/** A frame body that is not a valid request; answered with EINVAL, with the id when valid. @category models */
export interface BadRequest {
  readonly _tag: "BadRequest"
  readonly id: number | undefined
  readonly message: string
}

const describeValue = (value: unknown): string => {
  if (value === undefined) return "missing"
  if (value === null) return "null"
  if (typeof value === "number") return Number.isInteger(value) ? `${value}` : `the float ${value}`
  if (typeof value === "bigint") return `${value} (too large)`
  if (typeof value === "string") return "a text string"
  return `a ${Array.isArray(value) ? "array" : typeof value}`
}

/** Reads a request from a decoded frame body. @category constructors */
export const parseRequest = (item: FrameItem): Request | BadRequest => {
  if (item instanceof Map) {
    return { _tag: "BadRequest", id: undefined, message: "request map has non-text keys; expected {id, op, args?}" }
  }
  const id = item.id
  const op = item.op
  const idOk = isUint(id)
  if (!idOk || !isUint(op)) {
    const problems = []
    if (!idOk) problems.push(`id: expected an unsigned integer, got ${describeValue(id)}`)
    if (!isUint(op)) problems.push(`op: expected an unsigned integer, got ${describeValue(op)}`)
    return { _tag: "BadRequest", id: idOk ? id : undefined, message: `invalid request: ${problems.join("; ")}` }
  }
  return "args" in item ? { id, op, args: item.args } : { id, op }
}

/** A successful reply; `res` is left out when undefined. @category constructors */
export const ok = (id: number, res?: unknown): Reply => (res === undefined ? { id, ok: true } : { id, ok: true, res })

/** A failed reply; `id` is left out when the request had no valid one. @category constructors */
export const failure = (id: number | undefined, code: ErrorCode, msg: string): Reply =>
  id === undefined ? { ok: false, err: { code, msg } } : { id, ok: false, err: { code, msg } }

/** The push that precedes closing a connection whose bytes broke the protocol. @category constructors */
export const protocolErrorPush = (msg: string): Push => ({ ev: "error", data: { code: "EPROTO", msg } })

/** What a client reads: a reply, a chunk, a push, or something it cannot place. @category models */
export type Incoming =
  | { readonly _tag: "Reply"; readonly reply: Reply }
  | { readonly _tag: "Chunk"; readonly chunk: Chunk }
  | { readonly _tag: "Push"; readonly push: Push }
  | { readonly _tag: "Unknown"; readonly item: FrameItem }

const isErrorBody = (err: unknown): err is ErrorBody =>
  typeof err === "object" && err !== null && typeof (err as { code?: unknown }).code === "string" &&
  typeof (err as { msg?: unknown }).msg === "string"

/** Classifies a frame body received from the kernel. @category constructors */
export const classify = (item: FrameItem): Incoming => {
  if (item instanceof Map) return { _tag: "Unknown", item }
  if (typeof item.ev === "string") return { _tag: "Push", push: { ev: item.ev, data: item.data } }
  if (item.ok === true && isUint(item.id)) {
    return { _tag: "Reply", reply: "res" in item ? { id: item.id, ok: true, res: item.res } : { id: item.id, ok: true } }
  }
  if (item.ok === false && isErrorBody(item.err)) {
    const err = { code: item.err.code as ErrorCode, msg: item.err.msg }
    return { _tag: "Reply", reply: isUint(item.id) ? { id: item.id, ok: false, err } : { ok: false, err } }
  }
  if (isUint(item.id) && "more" in item) return { _tag: "Chunk", chunk: { id: item.id, more: item.more } }
  return { _tag: "Unknown", item }
}
