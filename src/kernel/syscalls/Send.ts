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

const decode = Syscall.decodeArgs(Schema.Struct({
  to: Schema.String.check(Schema.isMinLength(1)),
  payload: Schema.Unknown,
  nowait: Schema.optionalKey(Schema.Boolean)
}))

/** @category syscalls */
export const Send = Syscall.make(Op.SEND, (args, caller) =>
  Effect.gen(function* () {
    const { to, payload, nowait } = yield* decode(args)
    const from = caller.agent?.name ?? caller.name ?? `client-${caller.sessionId}`
    return yield* (yield* Router).send(from, to, payload, nowait === true)
  }))
