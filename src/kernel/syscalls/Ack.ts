/**
 * ACK (0x22): `{msgId}` → `{}`. The calling agent is done with a message it received on this
 * connection; it will not be delivered again. ENOENT for any other id.
 */
import { Effect } from "effect"
import { Router } from "../../ipc/Router.ts"
import { Op } from "../../protocol/Op.ts"
import { AckArgs } from "../../protocol/Syscalls.ts"
import * as KernelError from "../../process/KernelError.ts"
import * as Syscall from "../Syscall.ts"
import type { Caller } from "../Syscall.ts"

const decode = Syscall.decodeArgs(AckArgs)

/** `{msgId: n}` with n a safe integer ≥ 1, accepted without the schema; anything else goes through it. */
const wellFormed = (args: unknown): number | undefined => {
  if (typeof args !== "object" || args === null || Object.getPrototypeOf(args) !== Object.prototype) return undefined
  const msgId = (args as { readonly msgId?: unknown }).msgId
  return typeof msgId === "number" && Number.isSafeInteger(msgId) && msgId >= 1 ? msgId : undefined
}

const ack = (caller: Caller, msgId: number) => {
  const name = caller.agent?.name ?? caller.name
  if (name === undefined) {
    return Effect.fail(new KernelError.InvalidArgument({ message: "ack: this connection has no mailbox: say HELLO with a name first" }))
  }
  return Router.use((router) => Effect.as(router.ack(name, caller.sessionId, msgId), {}))
}

/** @category syscalls */
export const Ack = Syscall.make(Op.ACK, (args, caller) => {
  // Plain combinators rather than Effect.gen: ACK is a third of every routed message.
  const valid = wellFormed(args)
  return valid === undefined ? Effect.flatMap(decode(args), ({ msgId }) => ack(caller, msgId)) : ack(caller, valid)
})
