/**
 * ACK (0x22): `{msgId}` → `{}`. The calling agent is done with a message it received on this
 * connection; it will not be delivered again. ENOENT for any other id.
 */
import { Effect, Schema } from "effect"
import { Router } from "../../ipc/Router.ts"
import { Op } from "../../protocol/Op.ts"
import * as KernelError from "../KernelError.ts"
import * as Syscall from "../Syscall.ts"

const decode = Syscall.decodeArgs(Schema.Struct({
  msgId: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))
}))

/** @category syscalls */
export const Ack = Syscall.make(Op.ACK, (args, caller) =>
  Effect.gen(function* () {
    const { msgId } = yield* decode(args)
    const name = caller.agent?.name ?? caller.name
    if (name === undefined) {
      return yield* new KernelError.InvalidArgument({ message: "ack: this connection has no mailbox: say HELLO with a name first" })
    }
    yield* (yield* Router).ack(name, caller.sessionId, msgId)
    return {}
  }))
