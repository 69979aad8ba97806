/**
 * `agentos llm`: the kernel's LLM scheduler, one row per agent (and per named client): requests,
 * tokens in/out, queue wait and latency p50/p99, throttled, errors; from STAT without a target
 * (the kernel's own figures). `--json` prints STAT's `llm` figures; `--watch` redraws every
 * second until interrupted.
 */
import { Console, Effect, Schedule } from "effect"
import { Command, Flag } from "effect/cli"
import { Client } from "../client/Client.ts"
import * as LlmStats from "../llm/LlmStats.ts"
import { Op } from "../protocol/Op.ts"
import * as Shared from "./shared.ts"

/** The scheduler's figures from a kernel, through STAT `{}`. @category constructors */
export const fetchStats = Effect.gen(function* () {
  const answer = (yield* (yield* Client).call(Op.STAT, {})) as { readonly llm: LlmStats.Snapshot }
  return answer.llm
})

/** The table `agentos llm` prints, or a line saying no agent has thought yet. @category constructors */
export const formatLlm = (snapshot: LlmStats.Snapshot): string =>
  snapshot.agents.length === 0
    ? `(no LLM requests yet: ${snapshot.policy}, ${snapshot.maxInFlight} in flight at most)`
    : LlmStats.table(snapshot)

export const llm = Command.make("llm", {
  socket: Shared.socket,
  verbose: Shared.verbose,
  json: Flag.Boolean("json").pipe(Flag.withDescription("print the scheduler's figures (STAT's llm) as JSON"), Flag.withDefault(false)),
  watch: Flag.Boolean("watch").pipe(Flag.withDescription("redraw the table every second until interrupted"), Flag.withDefault(false))
}, ({ socket, json, watch }) =>
  Effect.gen(function* () {
    const once = Effect.gen(function* () {
      const snapshot = yield* fetchStats
      if (json) return yield* Console.log(JSON.stringify(snapshot, null, 2))
      // Clear the screen between frames when watching, as top and watch(1) do.
      if (watch) yield* Console.log("\x1b[H\x1b[2J" + formatLlm(snapshot))
      else yield* Console.log(formatLlm(snapshot))
    })
    if (!watch) return yield* once
    return yield* once.pipe(Effect.repeat(Schedule.spaced("1 second")), Effect.asVoid)
  }).pipe(Effect.provide(Shared.clientLayer(socket)))).pipe(
    Command.withDescription("Show the LLM scheduler per agent: requests, tokens in/out, queue wait and latency p50/p99, throttled, errors")
  )
