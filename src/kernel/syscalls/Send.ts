/**
 * SEND (0x20): `{to, payload, nowait?}` → `{msgId}`. Puts any CBOR payload in the mailbox of
 * the child named `to`; when it is full, waits for room, or fails with EAGAIN when `nowait`.
 * The payload is carried as the bytes its sender wrote (a Cbor.Raw, checked to be one valid
 * item at SEND), so its receiver reads exactly what was sent, in any language. ENOENT for a
 * name nobody will answer to; E2BIG for a payload that could not be delivered in one frame;
 * EINVAL for one that is not valid CBOR or nests too deep for a RECV reply.
 */
import { Effect } from "effect"
import { Router } from "../../ipc/Router.ts"
import * as Cbor from "../../protocol/Cbor.ts"
import { Op } from "../../protocol/Op.ts"
import { SendArgs } from "../../protocol/Syscalls.ts"
import * as KernelError from "../../process/KernelError.ts"
import * as Syscall from "../Syscall.ts"

interface Args {
  readonly to: string
  readonly payload: unknown
  readonly nowait?: boolean
}

const decode = Syscall.decodeArgs(SendArgs)

/**
 * The args of nearly every SEND, accepted without the schema; anything else (a missing or odd
 * field) goes through it, which decides and words the error as before. IPC's hot path: this
 * accepts nothing the schema would refuse.
 */
const wellFormed = (args: unknown): Args | undefined => {
  if (typeof args !== "object" || args === null || Object.getPrototypeOf(args) !== Object.prototype) return undefined
  const record = args as Record<string, unknown>
  const to = record.to
  if (typeof to !== "string" || to.length < 1 || !Object.hasOwn(record, "payload")) return undefined
  if (Object.hasOwn(record, "nowait") && typeof record.nowait !== "boolean") return undefined
  return record as unknown as Args
}

/** Levels a RECV reply puts around the payload: its map and `res`. */
const REPLY_DEPTH = 2

/** The payload as bytes: off the wire it already is; a value from inside the kernel is encoded. */
const rawOf = (payload: unknown): Cbor.Raw | KernelError.InvalidArgument => {
  if (payload instanceof Cbor.Invalid) return new KernelError.InvalidArgument({ message: `send: invalid payload: ${payload.error.message}` })
  let raw: Cbor.Raw
  try {
    raw = payload instanceof Cbor.Raw ? payload : Cbor.Raw.encode(payload)
  } catch (e) {
    return new KernelError.InvalidArgument({ message: `send: the payload is not CBOR: ${e instanceof Error ? e.message : String(e)}` })
  }
  if (raw.depth + REPLY_DEPTH > Cbor.MAX_DEPTH) {
    return new KernelError.InvalidArgument({
      message: `send: the payload nests ${raw.depth} levels; a RECV reply can carry at most ${Cbor.MAX_DEPTH - REPLY_DEPTH}`
    })
  }
  return raw
}

/** @category syscalls */
export const Send = Syscall.make(Op.SEND, (args, caller) => {
  // Plain combinators rather than Effect.gen: SEND is a third of every routed message.
  const send = ({ to, payload, nowait }: Args) => {
    const raw = rawOf(payload)
    if (raw instanceof KernelError.InvalidArgument) return Effect.fail(raw)
    const from = caller.agent?.name ?? caller.name ?? `client-${caller.sessionId}`
    return Router.use((router) => router.send(from, to, raw, nowait === true))
  }
  const valid = wellFormed(args)
  return valid === undefined ? Effect.flatMap(decode(args), send) : send(valid)
}, { payload: true })
