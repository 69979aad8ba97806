/**
 * `agentos metrics`: every kernel metric in Prometheus's text exposition format, from METRICS;
 * what the observer serves at /metrics. docs/metrics.md lists them.
 */
import { Console, Effect } from "effect"
import { Command } from "effect/cli"
import { Client } from "../client/Client.ts"
import { Op } from "../protocol/Op.ts"
import * as Shared from "./shared.ts"

/** The kernel's metrics, as text, through METRICS `{}`. @category constructors */
export const fetchMetrics = Effect.gen(function* () {
  const answer = (yield* (yield* Client).call(Op.METRICS, {})) as { readonly text: string }
  return answer.text
})

export const metrics = Command.make("metrics", {
  socket: Shared.socket,
  verbose: Shared.verbose
}, ({ socket }) =>
  Effect.gen(function* () {
    // The text ends with its own newline; Console.log adds one.
    yield* Console.log((yield* fetchMetrics).trimEnd())
  }).pipe(Effect.provide(Shared.clientLayer(socket)))).pipe(
    Command.withDescription("Print the kernel's metrics in Prometheus text format (agents, restarts, syscalls, LLM, mailboxes)")
  )
