/**
 * Agents' logs: every line an agent writes to stdout or stderr, and every LOG record, kept per
 * agent NAME (so a crashed incarnation's last lines outlive its restart) in a memory ring
 * bounded by lines and bytes, and in a size-rotated file `<logDir>/<name>.log` written off the
 * event loop. A journald-style rate limit per name comes first: lines past it are dropped and
 * counted, and a marker line says how many once lines are taken again. Kept lines are then
 * published on Events' output stream (`agentos boot`, LOGS with `follow`). docs/logs.md.
 */
import { Clock, Context, Effect, Fiber, Latch, Layer } from "effect"
import * as Fs from "node:fs"
import { AgentOutput } from "../process/AgentOutput.ts"
import { Events } from "../process/Events.ts"
import { KernelConfig } from "../process/KernelConfig.ts"
import * as LogFile from "./LogFile.ts"
import { LogRateLimit } from "./LogRateLimit.ts"
import { droppedMarker, format, type LogEntry, type LogLine, MAX_LINE } from "../protocol/LogEntry.ts"
import { LogRing } from "./LogRing.ts"

export type { LogEntry, LogLine } from "../protocol/LogEntry.ts"

/** A kept line with its size, as the ring counts it. */
interface Kept extends LogEntry {
  readonly bytes: number
}

/** Everything kept for one name. */
interface NameLog {
  readonly name: string
  readonly ring: LogRing<Kept>
  readonly limit: LogRateLimit
  readonly file: LogFile.LogFile | undefined
  seq: number
  /** The newest line's time: the least recently written name is forgotten first. */
  lastTime: number
  /** The incarnation that wrote last, for markers written on no line's behalf. */
  lastId: string
  lastIncarnation: number
}

/** The entry without its size: what leaves the kernel. */
const plain = (k: Kept): LogEntry => ({
  seq: k.seq, time: k.time, name: k.name, id: k.id, incarnation: k.incarnation, stream: k.stream, line: k.line
})

/** Agents' logs. @category services */
export class AgentLogs extends Context.Service<AgentLogs, {
  /**
   * Takes one line (synchronous: called from the launcher's output callbacks and LOG). Returns 0
   * when it was kept; when the rate limit dropped it, the time (ms since the epoch) at which
   * this name's lines are taken again, so a reader may stop reading the agent until then.
   */
  readonly append: (line: LogLine) => number
  /** The newest `n` lines (all kept when undefined) at or after `since`, oldest first, across incarnations. */
  readonly tail: (name: string, options?: { readonly n?: number | undefined; readonly since?: number | undefined }) => ReadonlyArray<LogEntry>
  /** Lines of the name dropped by the rate limit, in all. */
  readonly dropped: (name: string) => number
  /** Lines of the name its file missed (a full write queue, a failing disk); the ring has them. */
  readonly droppedFromFile: (name: string) => number
  /** Whether the name has lines kept in memory. */
  readonly known: (name: string) => boolean
  /** Where the name's log file is, or undefined when files are off (the log directory failed). */
  readonly filePath: (name: string) => string | undefined
}>()("agentos/logs/AgentLogs") {
  /**
   * Over the kernel's config and event bus; flushes the files when it closes. Provides the
   * process table's AgentOutput too, the same `append`. @category layers
   */
  static readonly layer = Layer.effectContext(Effect.gen(function* () {
    const config = yield* KernelConfig
    const events = yield* Events
    const limits = config.logs
    const names = new Map<string, NameLog>()

    // The log directory is the kernel's alone: agents' work dirs are theirs to write, so logs
    // never go there. Created (or tightened) to 0700 here; without it, files are off and the
    // rings still work.
    const filesOn = yield* Effect.try({
      try: () => {
        Fs.mkdirSync(config.logDir, { recursive: true, mode: 0o700 })
        Fs.chmodSync(config.logDir, 0o700)
        return true
      },
      catch: (e) => e as Error
    }).pipe(Effect.catch((e) =>
      Effect.logWarning(`agent logs: creating ${config.logDir}: ${e.message}; logs are kept in memory only`).pipe(Effect.as(false))
    ))
    const fileOptions: LogFile.Options = {
      dir: config.logDir,
      maxBytes: limits.fileMaxBytes,
      files: limits.files,
      pendingBytes: limits.pendingBytes
    }

    // The writer: one fiber drains every file with lines queued, woken by the first line queued.
    const dirty = new Set<LogFile.LogFile>()
    const wake = yield* Latch.make(false)
    let closing = false
    const missedLine = (name: string) => (count: number, time: number) =>
      `${new Date(time).toISOString()} ${name} (log) agentos: ${count} lines not written to this file (the disk was too slow or failed)\n`
    const writer = yield* Effect.forkScoped(Effect.gen(function* () {
      for (;;) {
        yield* wake.await
        wake.closeUnsafe()
        const files = [...dirty]
        dirty.clear()
        for (const file of files) {
          const batch = file.take(yield* Clock.currentTimeMillis, missedLine(file.name))
          yield* LogFile.flush(file, batch).pipe(Effect.catch((error) => {
            if (file.reported.has(error.code)) return Effect.void
            file.reported.add(error.code)
            return Effect.logWarning(`agent logs: ${error.message}; its lines stay in memory, and the file says how many it missed`)
          }))
        }
        if (closing && dirty.size === 0) return
      }
    }))

    const publish = (log: NameLog, entry: Kept) => {
      log.ring.push(entry)
      if (log.file !== undefined && !closing) {
        log.file.enqueue(`${format(entry)}\n`)
        dirty.add(log.file)
        wake.openUnsafe()
      }
      events.publishOutput({ type: "agentos.agent.output", ...plain(entry) })
    }

    const marker = (log: NameLog, count: number, time: number) => {
      const line = droppedMarker(count)
      publish(log, {
        seq: ++log.seq, time, name: log.name, id: log.lastId, incarnation: log.lastIncarnation,
        stream: "log", line, bytes: Buffer.byteLength(line)
      })
    }

    // Markers for names that went quiet while suppressed: one fiber sleeps until the earliest
    // window ends and writes what those windows dropped, so a flood that stops is still told.
    const suppressing = new Set<NameLog>()
    const suppressed = yield* Latch.make(false)
    yield* Effect.forkScoped(Effect.gen(function* () {
      for (;;) {
        yield* suppressed.await
        const now = yield* Clock.currentTimeMillis
        let next = Number.POSITIVE_INFINITY
        for (const log of suppressing) {
          if (log.limit.unreported === 0) suppressing.delete(log)
          else if (now >= log.limit.windowEnd) {
            marker(log, log.limit.roll(now), now)
            suppressing.delete(log)
          } else next = Math.min(next, log.limit.windowEnd)
        }
        if (suppressing.size === 0) suppressed.closeUnsafe()
        else yield* Effect.sleep(Math.max(1, next - now))
      }
    }))

    const logOf = (line: LogLine): NameLog => {
      const existing = names.get(line.name)
      if (existing !== undefined) return existing
      const log: NameLog = {
        name: line.name,
        ring: new LogRing<Kept>(limits.ringLines, limits.ringBytes),
        limit: new LogRateLimit({ intervalMs: limits.rateIntervalMs, burstLines: limits.rateBurstLines, burstBytes: limits.rateBurstBytes }),
        file: filesOn ? new LogFile.LogFile(line.name, fileOptions) : undefined,
        seq: 0,
        lastTime: line.time,
        lastId: line.id,
        lastIncarnation: line.incarnation
      }
      names.set(line.name, log)
      if (names.size > limits.names) {
        // Past the bound, the name written least recently is forgotten (its file stays).
        let oldest: NameLog | undefined
        for (const candidate of names.values()) {
          if (candidate !== log && (oldest === undefined || candidate.lastTime < oldest.lastTime)) oldest = candidate
        }
        if (oldest !== undefined) {
          names.delete(oldest.name)
          suppressing.delete(oldest)
        }
      }
      return log
    }

    const append = (line: LogLine): number => {
      const log = logOf(line)
      log.lastTime = line.time
      log.lastId = line.id
      log.lastIncarnation = line.incarnation
      const missed = log.limit.roll(line.time)
      if (missed > 0) marker(log, missed, line.time)
      const text = line.line.length > MAX_LINE ? line.line.slice(0, MAX_LINE) : line.line
      const bytes = Buffer.byteLength(text)
      if (!log.limit.admit(bytes)) {
        if (log.limit.unreported === 1) {
          suppressing.add(log)
          suppressed.openUnsafe()
        }
        return log.limit.windowEnd
      }
      // A copy: a line sliced out of a bigger chunk would otherwise keep the whole chunk alive,
      // and the ring's byte bound would not bound the memory it holds.
      const copy = Buffer.from(text, "utf8").toString("utf8")
      publish(log, { ...line, line: copy, seq: ++log.seq, bytes })
      return 0
    }

    // At shutdown the writer drains what is queued (bounded: a stuck disk does not hold the
    // kernel's exit up for more than a few seconds), then stops.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        closing = true
        wake.openUnsafe()
        const done = yield* Fiber.await(writer).pipe(Effect.timeoutOption("5 seconds"))
        if (done._tag === "None") yield* Fiber.interrupt(writer)
      })
    )

    const logs = AgentLogs.of({
      append,
      tail: (name, options = {}) => names.get(name)?.ring.tail(options.n, options.since).map(plain) ?? [],
      dropped: (name) => names.get(name)?.limit.dropped ?? 0,
      droppedFromFile: (name) => names.get(name)?.file?.dropped ?? 0,
      known: (name) => names.has(name),
      filePath: (name) => (filesOn ? LogFile.pathOf(config.logDir, name) : undefined)
    })
    return Context.make(AgentLogs, logs).pipe(Context.add(AgentOutput, AgentOutput.of({ append })))
  }))
}
