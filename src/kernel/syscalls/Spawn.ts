/**
 * SPAWN (0x10): starts an agent in its sandbox. `{name, run, args?, env?, cwd?, sandbox?, caps?,
 * restart?, parent?}` → `{id, name, pid, status}`. The C++ kernel's spelling is taken too
 * (`script`, `sandboxed`, `network: bool`, `limits: {memory, max_pids, cpu_quota}`:
 * AgentSpec.fromRequest); both spellings of one thing are EINVAL. A bad spec is EINVAL naming
 * every bad field; a live agent of the same name is EEXIST; a missing program ENOENT; a sandbox
 * this machine cannot give ENOTSUP.
 */
import { Effect } from "effect"
import { Op } from "../../protocol/Op.ts"
import type { SpawnResult } from "../../protocol/Results.ts"
import * as AgentSpec from "../../process/AgentSpec.ts"
import { Agents } from "../../process/Agents.ts"
import * as KernelError from "../../process/KernelError.ts"
import * as Syscall from "../Syscall.ts"

const decodeRequest = Syscall.decodeArgs(AgentSpec.SpawnRequest)
const decode = (args: unknown) =>
  decodeRequest(args).pipe(Effect.flatMap((request) => {
    const spec = AgentSpec.fromRequest(request)
    return Array.isArray(spec)
      ? Effect.fail(new KernelError.InvalidArgument({ message: `invalid args: ${spec.join("; ")}` }))
      : Effect.succeed(spec as AgentSpec.SpawnArgs)
  }))

/** @category syscalls */
export const Spawn = Syscall.make(Op.SPAWN, (args, caller) =>
  Effect.gen(function* () {
    const spec = yield* decode(args)
    const agents = yield* Agents
    const agent = yield* agents.spawn(spec, caller.agent === undefined ? {} : { parent: caller.agent.name })
    return { id: agent.id, name: agent.name, pid: agent.pid, status: agent.status } satisfies SpawnResult
  }))
