/**
 * RECV (0x21): `{timeoutMs?}` → `{msgId, from, payload, redelivered}`: the next message of the
 * calling agent's mailbox, waiting for one (ETIMEDOUT after `timeoutMs`; `0` only looks). What
 * it takes must be ACKed: a message still unacked when the connection ends goes to the next
 * incarnation, `redelivered: true`. An agent's mailbox is its name's; a client's, the name it
 * gave at HELLO.
 */
import { Effect, Schema } from "effect"
import { Router } from "../../ipc/Router.ts"
import { Op } from "../../protocol/Op.ts"
import * as KernelError from "../KernelError.ts"
import * as Syscall from "../Syscall.ts"

const decode = Syscall.decodeArgs(Schema.Struct({
  timeoutMs: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)))
}))

/** @category syscalls */
export const Recv = Syscall.make(Op.RECV, (args, caller) =>
  Effect.gen(function* () {
    const { timeoutMs } = yield* decode(args)
    const name = caller.agent?.name ?? caller.name
    if (name === undefined) {
      return yield* new KernelError.InvalidArgument({ message: "recv: this connection has no mailbox: say HELLO with a name first" })
    }
    return yield* (yield* Router).recv(name, caller.sessionId, caller.onClose, timeoutMs)
  }))
