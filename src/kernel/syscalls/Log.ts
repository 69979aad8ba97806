/**
 * LOG (0x40): `{level, msg, fields?}` → `{}`. An agent's structured log record, kept with its
 * output lines; from a client, it goes to the kernel's own log.
 */
import { Clock, Effect, Schema } from "effect"
import { Op } from "../../protocol/Op.ts"
import { Agents } from "../../process/Agents.ts"
import * as Syscall from "../Syscall.ts"

const decode = Syscall.decodeArgs(Schema.Struct({
  level: Schema.Literals(["trace", "debug", "info", "warn", "error", "fatal"]),
  msg: Schema.String.check(Schema.isMaxLength(64 * 1024)),
  fields: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown))
}))

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
