/**
 * STAT (0x14): `{name or id}` → the agent's cgroup and accounting figures: memory current, peak
 * and limit; CPU usage and throttled time; processes; OOM kills; its use of the LLM (`llm`:
 * requests, tokens, queue wait and latency, throttled, errors; null before its first THINK).
 * Live while it runs (from its cgroup, or from its launcher for limits no cgroup holds), the
 * launcher's final figures once it has ended. Without
 * a name or id: the kernel's own figures, the LLM scheduler's with every agent's (what
 * `agentos llm` shows).
 */
import { Clock, Effect } from "effect"
import { LlmScheduler } from "../../llm/Scheduler.ts"
import { Op } from "../../protocol/Op.ts"
import { StatArgs } from "../../protocol/Syscalls.ts"
import { KernelConfig } from "../../process/KernelConfig.ts"
import * as ExitReason from "../../sandbox/ExitReason.ts"
import * as Agents from "../../process/Agents.ts"
import * as Syscall from "../Syscall.ts"
import * as Target from "./Target.ts"

const decode = Syscall.decodeArgs(StatArgs)

/** @category syscalls */
export const Stat = Syscall.make(Op.STAT, (args) =>
  Effect.gen(function* () {
    const which = yield* decode(args)
    const llm = yield* LlmScheduler
    if (which.name === undefined && which.id === undefined) {
      return { kernel: { id: (yield* KernelConfig).kernelId }, llm: yield* llm.stats }
    }
    const target = yield* Target.get(which, "stat")
    const agent = yield* (yield* Agents.Agents).find(target)
    const now = yield* Clock.currentTimeMillis
    const live = Agents.live(agent)
    const final = agent.final
    return {
      id: agent.id,
      name: agent.name,
      status: agent.status,
      pid: agent.pid,
      uid: agent.uid,
      uptimeMs: (agent.endedAt ?? now) - agent.startedAt,
      cgroups: agent.launched?.cgroups ?? {},
      isolation: agent.launched?.isolation ?? null,
      memory: {
        currentBytes: live?.memoryBytes ?? null,
        peakBytes: live?.memoryPeakBytes ?? final?.peakBytes ?? null,
        limitBytes: live?.memoryLimitBytes ?? null
      },
      cpu: {
        usageUs: live?.cpuUsageUs ?? final?.cpuUs ?? null,
        throttledUs: live?.cpuThrottledUs ?? final?.throttledUs ?? null,
        nrThrottled: live?.nrThrottled ?? final?.nrThrottled ?? null
      },
      pids: { current: live?.pidsCurrent ?? null, limit: live?.pidsLimit ?? null, limitHits: live?.pidsLimitHits ?? null },
      oomKills: live?.oomKills ?? (final === null ? null : final.oom ? 1 : 0),
      pidsLimitHit: final?.pidsLimit ?? null,
      exit: agent.reason === null ? null : { ...ExitReason.toWaitResult(agent.reason), description: ExitReason.describe(agent.reason) },
      llm: (yield* llm.statsFor(agent.name)) ?? null
    }
  }))
