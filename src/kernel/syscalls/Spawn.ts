/**
 * SPAWN (0x10): starts an agent in its sandbox. `{name, run, args?, env?, cwd?, sandbox?, caps?,
 * restart?, parent?}` → `{id, name, pid, status}`. A bad spec is EINVAL naming every bad field;
 * a live agent of the same name is EEXIST; a missing program ENOENT.
 */
import { Effect } from "effect"
import { Op } from "../../protocol/Op.ts"
import * as AgentSpec from "../AgentSpec.ts"
import { Agents } from "../Agents.ts"
import * as Syscall from "../Syscall.ts"

const decode = Syscall.decodeArgs(AgentSpec.SpawnArgs)

/** @category syscalls */
export const Spawn = Syscall.make(Op.SPAWN, (args, caller) =>
  Effect.gen(function* () {
    const spec = yield* decode(args)
    const agents = yield* Agents
    const agent = yield* agents.spawn(spec, caller.agent === undefined ? {} : { parent: caller.agent.name })
    return { id: agent.id, name: agent.name, pid: agent.pid, status: agent.status }
  }))
