/**
 * RECV (0x21): `{timeoutMs?}` → `{msgId, from, payload, redelivered}`: the next message of the
 * calling agent's mailbox, waiting for one (ETIMEDOUT after `timeoutMs`; `0` only looks). What
 * it takes must be ACKed: a message still unacked when the connection ends goes to the next
 * incarnation, `redelivered: true`. An agent's mailbox is its name's; a client's, the name it
 * gave at HELLO.
 */
import { Effect } from "effect"
import { Router } from "../../ipc/Router.ts"
import { Op } from "../../protocol/Op.ts"
import { RecvArgs } from "../../protocol/Syscalls.ts"
import * as KernelError from "../../process/KernelError.ts"
import * as Syscall from "../Syscall.ts"
import type { Caller } from "../Syscall.ts"

const decode = Syscall.decodeArgs(RecvArgs)

/**
 * `{}` or `{timeoutMs: n}` with n a safe integer ≥ 0, accepted without the schema; anything else
 * goes through it, which decides and words the error as before. Returns `null` for no timeout.
 */
const wellFormed = (args: unknown): number | null | undefined => {
  if (typeof args !== "object" || args === null || Object.getPrototypeOf(args) !== Object.prototype) return undefined
  if (!Object.hasOwn(args, "timeoutMs")) return null
  const timeoutMs = (args as { readonly timeoutMs: unknown }).timeoutMs
  // -0 is left to the schema, as is every other odd value.
  return typeof timeoutMs === "number" && Number.isSafeInteger(timeoutMs) && timeoutMs >= 0 && !Object.is(timeoutMs, -0) ? timeoutMs : undefined
}

const recv = (caller: Caller, timeoutMs: number | undefined) => {
  const name = caller.agent?.name ?? caller.name
  if (name === undefined) {
    return Effect.fail(new KernelError.InvalidArgument({ message: "recv: this connection has no mailbox: say HELLO with a name first" }))
  }
  return Router.use((router) => router.recv(name, caller.sessionId, caller.onClose, timeoutMs))
}

/** @category syscalls */
export const Recv = Syscall.make(Op.RECV, (args, caller) => {
  // Plain combinators rather than Effect.gen: RECV is a third of every routed message.
  const valid = wellFormed(args)
  return valid === undefined
    ? Effect.flatMap(decode(args), ({ timeoutMs }) => recv(caller, timeoutMs))
    : recv(caller, valid === null ? undefined : valid)
})
