/** HEARTBEAT (0x41): `{}` → `{}`; records that the calling agent is alive (its watchdog's input). */
import { Clock, Effect } from "effect"
import { Op } from "../../protocol/Op.ts"
import { Agents } from "../../process/Agents.ts"
import * as Syscall from "../Syscall.ts"

/** @category syscalls */
export const Heartbeat = Syscall.make(Op.HEARTBEAT, (_args, caller) =>
  Effect.gen(function* () {
    if (caller.agent === undefined) return {}
    const agent = yield* (yield* Agents).find(caller.agent.id).pipe(Effect.option)
    if (agent._tag === "Some") agent.value.lastHeartbeat = yield* Clock.currentTimeMillis
    return {}
  }))
