/**
 * `agentos logs NAME`: an agent's newest lines from the kernel (LOGS), across its incarnations,
 * one per line as `time name#incarnation (stream) line`; `--json` prints each as a JSON object
 * (JSON Lines). `-n` bounds how many (default 100), `--since` how old (`30s`, `5m`, `1h`, `2d`
 * ago, or an ISO time). `-f` keeps printing new lines until SIGINT (exit 0). An unknown agent
 * is an error (exit 1); a bad `--since` or `-n` a usage error (exit 2).
 */
import { Console, Effect, Option, Queue } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { Client } from "../client/Client.ts"
import { ConnectionError } from "../client/ClientError.ts"
import { format, type LogEntry } from "../protocol/LogEntry.ts"
import { Op } from "../protocol/Op.ts"
import * as Shared from "./shared.ts"

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * `--since` as ms since the epoch: a duration ago (`30s`, `5m`, `1.5h`, `2d`, `500ms`) or an ISO
 * time (`2025-06-01`, `2025-06-01T10:00:00Z`); undefined when it is neither. @category constructors
 */
export const parseSince = (text: string, now: number): number | undefined => {
  const ago = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim())
  if (ago !== null) return now - Number(ago[1]) * UNITS[ago[2]!]!
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return undefined
  const time = Date.parse(text)
  return Number.isNaN(time) ? undefined : time
}

/** What LOGS answers. @category models */
export interface LogsAnswer {
  readonly lines: ReadonlyArray<LogEntry>
  readonly dropped: number
  readonly droppedFromFile: number
}

export const logs = Command.make("logs", {
  name: Argument.String("name").pipe(Argument.withDescription("the agent's name")),
  socket: Shared.socket,
  verbose: Shared.verbose,
  follow: Flag.Boolean("follow").pipe(
    Flag.withAlias("f"),
    Flag.withDescription("keep printing new lines as the agent writes them, until interrupted"),
    Flag.withDefault(false)
  ),
  since: Flag.String("since").pipe(
    Flag.withDescription("only lines from this long ago (30s, 5m, 1h, 2d) or since this ISO time"),
    Flag.filterMap(
      (text) => Option.fromNullishOr(parseSince(text, Date.now())),
      () => "a duration (30s, 5m, 1h, 2d) or an ISO time (2025-06-01T10:00:00Z)"
    ),
    Flag.optional
  ),
  lines: Flag.Int("lines").pipe(
    Flag.withAlias("n"),
    Flag.withDescription("how many of the newest lines (default 100, at most 10000)"),
    Flag.filterMap(
      (n) => (n >= 1 && n <= 10_000 ? Option.some(n) : Option.none()),
      () => "a number of lines from 1 to 10000"
    ),
    Flag.withDefault(100)
  ),
  json: Flag.Boolean("json").pipe(Flag.withDescription("one JSON object per line (JSON Lines)"), Flag.withDefault(false))
}, ({ name, socket, follow, since, lines, json }) =>
  Effect.gen(function* () {
    const client = yield* Client
    const print = (entry: LogEntry) => Console.log(json ? JSON.stringify(entry) : format(entry))
    // Pushes are queued from before the call: the kernel sends them only after its reply, and
    // they are printed only after the backlog.
    const pushed = yield* Queue.unbounded<LogEntry>()
    if (follow) {
      const stop = client.connection.onPush((push) => {
        if (push.ev === "agentos.agent.output") Queue.offerUnsafe(pushed, push.data as LogEntry)
      })
      yield* Effect.addFinalizer(() => Effect.sync(stop))
    }
    const answer = (yield* client.call(Op.LOGS, {
      name,
      n: lines,
      ...Option.match(since, { onNone: () => ({}), onSome: (time) => ({ since: time }) }),
      ...(follow ? { follow: true } : {})
    })) as LogsAnswer
    for (const entry of answer.lines) yield* print(entry)
    if (!follow) return
    const closed = Effect.promise(() => client.connection.closed).pipe(
      Effect.flatMap(() => Effect.fail(new ConnectionError({ message: "connection to the kernel closed" })))
    )
    return yield* Effect.raceFirst(Effect.forever(Effect.flatMap(Queue.take(pushed), print)), closed)
  }).pipe(Effect.scoped, Effect.provide(Shared.clientLayer(socket)))).pipe(
  Command.withDescription("Show an agent's log lines (across restarts); -f to follow")
)
