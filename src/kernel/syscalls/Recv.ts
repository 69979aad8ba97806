/**
 * RECV (0x21): `{timeoutMs?}` → `{msgId, from, payload, redelivered}`: the next message of the
 * calling agent's mailbox, waiting for one (ETIMEDOUT after `timeoutMs`; `0` only looks). What
 * it takes must be ACKed: a message still unacked when the connection ends goes to the next
 * incarnation, `redelivered: true`. Only agents have mailboxes.
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
    if (caller.agent === undefined) {
      return yield* new KernelError.InvalidArgument({ message: "recv: only an agent has a mailbox (call it on the fd 3 the kernel gave the agent)" })
    }
    return yield* (yield* Router).recv(caller.agent.name, caller.sessionId, caller.onClose, timeoutMs)
  }))
