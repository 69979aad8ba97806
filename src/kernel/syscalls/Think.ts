/**
 * THINK (0x01): `{prompt or messages, model?, maxTokens?, stream?}` → `{content, usage:
 * {inputTokens, outputTokens}, model}`. The request goes through the kernel's LLM scheduler
 * under the caller's agent key (its agent name; for a client, its HELLO name or
 * `session-<id>`), so it waits its fair turn and counts against that agent's limits. With
 * `stream: true` the text is sent as chunks `{id, more: {delta}}` as it arrives, then the
 * reply. A caller that goes away cancels its request (dropped if queued, aborted upstream if
 * running): an agent that dies takes its connection, and so its requests, with it. An agent's
 * `llm` options (weight, rpm, tpm, budget) from its spec are applied before its first THINK.
 */
import { Effect, Option, Scope } from "effect"
import type { LlmError } from "../../llm/LlmError.ts"
import type * as LlmRequest from "../../llm/LlmRequest.ts"
import { type AgentLimits, LlmScheduler } from "../../llm/Scheduler.ts"
import { Op } from "../../protocol/Op.ts"
import type { ThinkChunk, ThinkResult } from "../../protocol/Results.ts"
import { ThinkArgs } from "../../protocol/Syscalls.ts"
import type * as AgentSpec from "../../process/AgentSpec.ts"
import { Agents } from "../../process/Agents.ts"
import * as KernelError from "../../process/KernelError.ts"
import * as Syscall from "../Syscall.ts"

const decode = Syscall.decodeArgs(ThinkArgs)

export type { ThinkChunk } from "../../protocol/Results.ts"

/** The key the scheduler shares the LLM by: the agent's name, or the client's. @category constructors */
export const agentKey = (caller: Syscall.Caller): string => caller.agent?.name ?? caller.name ?? `session-${caller.sessionId}`

/** A scheduler failure as the kernel error (and so the protocol code) it is reported with. @category errors */
export const toKernelError = (error: LlmError): KernelError.KernelError => {
  const message = error.message
  switch (error.reason) {
    case "InvalidRequest":
      return new KernelError.InvalidArgument({ message })
    case "Denied":
      return new KernelError.PermissionDenied({ message })
    case "RateLimited":
    case "BudgetExhausted":
      return new KernelError.RateLimited({ message, ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: Math.ceil(error.retryAfterMs) }) })
    case "TimedOut":
      return new KernelError.TimedOut({ message })
    case "Unavailable":
    case "Cancelled":
      return new KernelError.TryAgain({ message })
  }
}

/** An agent spec's `llm` options as the scheduler's limits (null: not set). @category constructors */
export const limitsOf = (llm: AgentSpec.Llm | undefined): AgentLimits => {
  const limits: { -readonly [K in keyof AgentLimits]: AgentLimits[K] } = {}
  if (llm?.weight != null) limits.weight = llm.weight
  if (llm?.rpm != null) limits.rpm = llm.rpm
  if (llm?.tpm != null) limits.tpm = llm.tpm
  if (llm?.budget != null) limits.budget = llm.budget
  if (llm?.budgetWindowMs != null) limits.budgetWindowMs = llm.budgetWindowMs
  return limits
}

/**
 * The THINK handler over a given scheduler. An anonymous client's `session-<id>` share is
 * forgotten when its connection closes, so short CLI connections do not pile up in the table.
 */
const handle = (scheduler: LlmScheduler["Service"]) => {
  const watched = new Set<number>()
  /** The limits last applied per agent name, as JSON. */
  const applied = new Map<string, string>()
  /**
   * Applies the calling agent's `llm` options when they differ from those applied under its
   * name. A restart with the same spec keeps its buckets and what it spent of its budget, so
   * crashing does not buy an agent a fresh budget.
   */
  const applyLimits = (caller: Syscall.Caller) =>
    Effect.gen(function* () {
      if (caller.agent === undefined) return
      // A kernel without a process table (a unit test's) has no specs to read.
      const agents = yield* Effect.serviceOption(Agents)
      if (Option.isNone(agents)) return
      const found = yield* Effect.option(agents.value.find(caller.agent.id))
      if (Option.isNone(found)) return
      const limits = limitsOf(found.value.spec.llm)
      const key = JSON.stringify(limits)
      const name = caller.agent.name
      if (applied.get(name) === key) return
      // Marked before configuring: a second THINK arriving meanwhile must not reset the buckets.
      applied.set(name, key)
      yield* scheduler.configureAgent(name, limits).pipe(
        Effect.tapError(() => Effect.sync(() => applied.delete(name))),
        Effect.mapError(toKernelError)
      )
    })
  const forgetOnClose = (caller: Syscall.Caller, key: string): Effect.Effect<void> => {
    if (key !== `session-${caller.sessionId}` || watched.has(caller.sessionId)) return Effect.void
    watched.add(caller.sessionId)
    return Scope.addFinalizer(caller.scope, Effect.suspend(() => {
      watched.delete(caller.sessionId)
      return scheduler.forgetAgent(key)
    }))
  }
  return (args: unknown, caller: Syscall.Caller, call: Syscall.Call) =>
    Effect.gen(function* () {
      const think = yield* decode(args)
      if ((think.prompt === undefined) === (think.messages === undefined)) {
        return yield* new KernelError.InvalidArgument({ message: "think: exactly one of prompt or messages is required", field: "prompt" })
      }
      if (think.messages !== undefined && !think.messages.some((m) => m.role === "user")) {
        return yield* new KernelError.InvalidArgument({ message: "think: messages must hold at least one user message", field: "messages" })
      }
      const request: LlmRequest.LlmRequest = {
        messages: think.messages ?? [{ role: "user", content: think.prompt! }],
        ...(think.model === undefined ? {} : { model: think.model }),
        ...(think.maxTokens === undefined ? {} : { maxTokens: think.maxTokens })
      }
      const options = think.stream === true ? { onDelta: (delta: string) => call.chunk({ delta } satisfies ThinkChunk) } : {}
      const key = agentKey(caller)
      yield* forgetOnClose(caller, key)
      yield* applyLimits(caller)
      const result = yield* scheduler.submit(key, request, options).pipe(Effect.mapError(toKernelError))
      return {
        content: result.content,
        usage: { inputTokens: result.usage.inputTokens, outputTokens: result.usage.outputTokens },
        model: result.model
      } satisfies ThinkResult
    })
}

/**
 * THINK over a scheduler the kernel holds: `Think.make(scheduler)` goes into the syscall
 * table as it is. @category syscalls
 */
export const make = (scheduler: LlmScheduler["Service"]): Syscall.Syscall<never> => Syscall.make(Op.THINK, handle(scheduler))

const handlers = new WeakMap<LlmScheduler["Service"], ReturnType<typeof handle>>()

/** THINK over the LlmScheduler in context (for a kernel whose Services include it). @category syscalls */
export const Think: Syscall.Syscall<LlmScheduler> = Syscall.make(Op.THINK, (args, caller, call) =>
  LlmScheduler.use((scheduler) => {
    let handler = handlers.get(scheduler)
    if (handler === undefined) {
      handler = handle(scheduler)
      handlers.set(scheduler, handler)
    }
    return handler(args, caller, call)
  }))
