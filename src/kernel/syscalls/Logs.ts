/**
 * LOGS (0x42): `{name, n?, since?, follow?}` → `{lines: [LogEntry], dropped, droppedFromFile}`:
 * an agent name's newest lines as the kernel keeps them in memory (AgentLogs), across its
 * incarnations, oldest first: at most `n` (default 100, at most 10,000), none before `since`
 * (ms since the epoch). `dropped` counts the name's lines the rate limit dropped. With `follow:
 * true`, every later line of the name arrives as a push `{ev: "agentos.agent.output", data:
 * LogEntry}` until the connection closes. A name with neither an agent nor kept lines → ENOENT.
 * Beyond DESIGN.md's table (docs/protocol.md); not in an agent's default caps.
 */
import { Deferred, Effect, PubSub } from "effect"
import { AgentLogs } from "../../logs/AgentLogs.ts"
import type { LogEntry } from "../../protocol/LogEntry.ts"
import { Op } from "../../protocol/Op.ts"
import { LogsArgs, MAX_LOG_LINES } from "../../protocol/Syscalls.ts"
import { Agents } from "../../process/Agents.ts"
import { Events } from "../../process/Events.ts"
import * as KernelError from "../../process/KernelError.ts"
import * as Syscall from "../Syscall.ts"

/** Lines returned when `n` is not given. @category models */
export const DEFAULT_LINES = 100

/** The most lines one LOGS returns. @category models */
export const MAX_LINES = MAX_LOG_LINES

const decode = Syscall.decodeArgs(LogsArgs)

/** @category syscalls */
export const Logs = Syscall.make(Op.LOGS, (args, caller, call) =>
  Effect.gen(function* () {
    const { name, n, since, follow } = yield* decode(args)
    const logs = yield* AgentLogs
    if (!logs.known(name) && (yield* Agents).byName(name) === undefined) {
      return yield* new KernelError.NotFound({ message: `no agent named ${JSON.stringify(name)}` })
    }
    // Lines numbered up to this one are in the reply (or filtered out of it on purpose); a
    // follower pushes only later ones. Set once the backlog is read, below.
    let newestSeq = Number.POSITIVE_INFINITY
    if (follow === true) {
      const events = yield* Events
      const replied = yield* Deferred.make<void>()
      call.afterReply(() => void Deferred.doneUnsafe(replied, Effect.void))
      // Subscribed before the backlog is read (startImmediately), so a line appended in between
      // is in both and skipped here by its number: nothing missed, nothing twice.
      yield* Effect.scoped(Effect.gen(function* () {
        const queue = yield* PubSub.subscribe(events.output)
        // Pushes leave after the reply: the session says when it has written it.
        yield* Deferred.await(replied)
        for (;;) {
          const { type, ...entry } = yield* PubSub.take(queue)
          if (entry.name === name && entry.seq > newestSeq) caller.push({ ev: type, data: entry satisfies LogEntry })
        }
      })).pipe(Effect.forkIn(caller.scope, { startImmediately: true }))
    }
    const lines = logs.tail(name, { n: n ?? DEFAULT_LINES, since })
    newestSeq = logs.tail(name, { n: 1 })[0]?.seq ?? 0
    return { lines, dropped: logs.dropped(name), droppedFromFile: logs.droppedFromFile(name) }
  }))
