/**
 * SEND (0x20): `{to, payload, nowait?}` → `{msgId}`. Puts any CBOR payload in the mailbox of
 * the child named `to`; when it is full, waits for room, or fails with EAGAIN when `nowait`.
 * ENOENT for a name nobody will answer to; E2BIG for a payload that could not be delivered in
 * one frame.
 */
import { Effect, Schema } from "effect"
import { Router } from "../../ipc/Router.ts"
import { Op } from "../../protocol/Op.ts"
import * as Syscall from "../Syscall.ts"

interface Args {
  readonly to: string
  readonly payload: unknown
  readonly nowait?: boolean
}

const decode = Syscall.decodeArgs(Schema.Struct({
  to: Schema.String.check(Schema.isMinLength(1)),
  payload: Schema.Unknown,
  nowait: Schema.optionalKey(Schema.Boolean)
}))

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

/** @category syscalls */
export const Send = Syscall.make(Op.SEND, (args, caller) => {
  // Plain combinators rather than Effect.gen: SEND is a third of every routed message.
  const send = ({ to, payload, nowait }: Args) => {
    const from = caller.agent?.name ?? caller.name ?? `client-${caller.sessionId}`
    return Router.use((router) => router.send(from, to, payload, nowait === true))
  }
  const valid = wellFormed(args)
  return valid === undefined ? Effect.flatMap(decode(args), send) : send(valid)
})
