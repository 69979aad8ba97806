/**
 * LOG (0x40): `{level, msg, fields?}` → `{}`. An agent's structured log record, kept with its
 * output lines; from a client, it goes to the kernel's own log.
 */
import { Clock, Effect } from "effect"
import { Op } from "../../protocol/Op.ts"
import { LogArgs } from "../../protocol/Syscalls.ts"
import { Agents } from "../../process/Agents.ts"
import * as Syscall from "../Syscall.ts"

const decode = Syscall.decodeArgs(LogArgs)

/** @category syscalls */
export const Log = Syscall.make(Op.LOG, (args, caller) =>
  Effect.gen(function* () {
    const { level, msg, fields } = yield* decode(args)
    const line = `${level}: ${msg}${fields === undefined ? "" : ` ${JSON.stringify(fields)}`}`
    if (caller.agent === undefined) {
      yield* Effect.logInfo(`[${caller.name ?? `session ${caller.sessionId}`}] ${line}`)
      return {}
    }
    const agents = yield* Agents
    const agent = yield* agents.find(caller.agent.id).pipe(Effect.option)
    if (agent._tag === "Some") agents.output(agent.value, "log", line, yield* Clock.currentTimeMillis)
    return {}
  }))
