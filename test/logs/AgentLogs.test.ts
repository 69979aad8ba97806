/**
 * AgentLogs and its parts, in this process: the ring's two bounds, the rate limit's window and
 * its marker, `since`/`n`, and the files on a real disk (rotation, the write queue's bound, a
 * file the disk refuses). Each case builds the service over its own temporary log directory
 * and closes it (which flushes the files) before looking at them; time is the TestClock's.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Logger, PubSub, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { type AgentOutput, Events } from "../../src/process/Events.ts"
import { DEFAULT_LOG_LIMITS, KernelConfig, type LogLimits } from "../../src/process/KernelConfig.ts"
import { AgentLogs } from "../../src/logs/AgentLogs.ts"
import { droppedMarker, format, type LogLine } from "../../src/protocol/LogEntry.ts"
import * as LogFile from "../../src/logs/LogFile.ts"
import { LogRateLimit } from "../../src/logs/LogRateLimit.ts"
import { LogRing } from "../../src/logs/LogRing.ts"
import { tempDir } from "../support/kernel.ts"

/** A line of agent `name` at `time`. */
const line = (name: string, time: number, text: string, extra: Partial<LogLine> = {}): LogLine =>
  ({ time, name, id: "a1", incarnation: 0, stream: "stdout", line: text, ...extra })

/**
 * Runs `body` with an AgentLogs over a fresh log directory and the given bounds, then closes it
 * (flushing its files) and runs `after` on the directory; warnings it logged are collected.
 */
const withLogs = <A>(
  limits: Partial<LogLimits>,
  body: (logs: AgentLogs["Service"], published: () => Effect.Effect<ReadonlyArray<AgentOutput>>) => Effect.Effect<A>,
  after: (logDir: string, result: A, warnings: ReadonlyArray<string>) => void = () => {}
) =>
  Effect.gen(function* () {
    // Removed however the case ends, a failed assertion included.
    const dir = yield* Effect.acquireRelease(Effect.sync(() => tempDir("agentos-logs-test-")), (d) => Effect.sync(d.remove))
    const logDir = Path.join(dir.path, "logs")
    const warnings: Array<string> = []
    const collect = Logger.layer([Logger.make(({ message }) => {
      warnings.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
    })])
    const layer = AgentLogs.layer.pipe(
      Layer.provideMerge(Layer.merge(KernelConfig.layer({ stateDir: dir.path, logDir, logs: { ...DEFAULT_LOG_LIMITS, ...limits } }), Events.layer)),
      Layer.provide(collect)
    )
    const scope = yield* Scope.make()
    const result = yield* Effect.gen(function* () {
      const context = yield* Layer.buildWithScope(layer, scope)
      const subscription = yield* PubSub.subscribe(Context.get(context, Events).output).pipe(Scope.provide(scope))
      const published = () => PubSub.takeAll(subscription)
      return yield* body(Context.get(context, AgentLogs), published)
    }).pipe(Effect.ensuring(Scope.close(scope, Exit.void)), Effect.provide(collect))
    after(logDir, result, warnings)
    return result
  })

describe("LogRing", () => {
  const sized = (time: number, bytes: number) => ({ time, bytes })

  it("keeps the newest lines, at most maxLines of them", () => {
    const ring = new LogRing<{ time: number; bytes: number }>(3, 1000)
    for (let t = 1; t <= 10; t++) ring.push(sized(t, 1))
    expect(ring.tail().map((e) => e.time)).toEqual([8, 9, 10])
    expect(ring.lines).toBe(3)
  })

  it("keeps at most maxBytes, dropping the oldest lines first", () => {
    const ring = new LogRing<{ time: number; bytes: number }>(100, 100)
    for (let t = 1; t <= 10; t++) ring.push(sized(t, 30))
    expect(ring.tail().map((e) => e.time)).toEqual([8, 9, 10])
    expect(ring.bytes).toBe(90)
  })

  it("keeps a line bigger than maxBytes alone rather than dropping the line just added", () => {
    const ring = new LogRing<{ time: number; bytes: number }>(100, 100)
    ring.push(sized(1, 10))
    ring.push(sized(2, 500))
    expect(ring.tail().map((e) => e.time)).toEqual([2])
  })

  it("tail: the newest n at or after since, oldest first", () => {
    const ring = new LogRing<{ time: number; bytes: number }>(100, 10_000)
    for (let t = 1; t <= 20; t++) ring.push(sized(t * 10, 1))
    expect(ring.tail(3).map((e) => e.time)).toEqual([180, 190, 200])
    expect(ring.tail(undefined, 175).map((e) => e.time)).toEqual([180, 190, 200])
    expect(ring.tail(2, 50).map((e) => e.time)).toEqual([190, 200])
    expect(ring.tail(100, 50).length).toBe(16)
    expect(ring.tail(5, 1000)).toEqual([])
  })
})

describe("LogRateLimit", () => {
  it("keeps burstLines per window, counts the rest, and reports them when the window rolls", () => {
    const limit = new LogRateLimit({ intervalMs: 1000, burstLines: 3, burstBytes: 1_000_000 })
    const kept = []
    for (let t = 0; t < 10; t++) {
      expect(limit.roll(t)).toBe(0)
      kept.push(limit.admit(1))
    }
    expect(kept).toEqual([true, true, true, false, false, false, false, false, false, false])
    expect(limit.dropped).toBe(7)
    expect(limit.windowEnd).toBe(1000)
    expect(limit.roll(999)).toBe(0)
    expect(limit.roll(1000)).toBe(7)
    expect(limit.admit(1)).toBe(true)
    expect(limit.dropped).toBe(7)
  })

  it("keeps burstBytes per window; the first line of a window always fits", () => {
    const limit = new LogRateLimit({ intervalMs: 1000, burstLines: 1000, burstBytes: 100 })
    limit.roll(0)
    expect([limit.admit(500), limit.admit(1)]).toEqual([true, false])
    limit.roll(1000)
    expect([limit.admit(60), limit.admit(40), limit.admit(1)]).toEqual([true, true, false])
  })
})

describe("AgentLogs", () => {
  it.effect("rings are per name, across incarnations, bounded by lines; seq numbers each name's lines", () =>
    withLogs({ ringLines: 5 }, (logs) =>
      Effect.sync(() => {
        for (let i = 1; i <= 6; i++) logs.append(line("w", i, `first ${i}`, { id: "a1", incarnation: 0 }))
        for (let i = 1; i <= 3; i++) logs.append(line("w", 10 + i, `second ${i}`, { id: "a2", incarnation: 1 }))
        logs.append(line("other", 20, "hello"))
        const tail = logs.tail("w")
        expect(tail.map((e) => `${e.seq} #${e.incarnation} ${e.line}`)).toEqual([
          "5 #0 first 5", "6 #0 first 6", "7 #1 second 1", "8 #1 second 2", "9 #1 second 3"
        ])
        expect(tail[0]).toEqual({ seq: 5, time: 5, name: "w", id: "a1", incarnation: 0, stream: "stdout", line: "first 5" })
        expect(logs.tail("other").map((e) => [e.seq, e.line])).toEqual([[1, "hello"]])
        expect(logs.known("w") && logs.known("other")).toBe(true)
        expect(logs.known("nobody")).toBe(false)
        expect(logs.tail("nobody")).toEqual([])
      })))

  it.effect("rings are bounded by bytes (UTF-8)", () =>
    withLogs({ ringLines: 1000, ringBytes: 100 }, (logs) =>
      Effect.sync(() => {
        for (let i = 0; i < 10; i++) logs.append(line("w", i, `${i}`.repeat(30)))
        expect(logs.tail("w").map((e) => e.line[0])).toEqual(["7", "8", "9"])
        // "é" is two bytes: 50 of them are 100 bytes, the whole ring.
        logs.append(line("w", 20, "é".repeat(50)))
        expect(logs.tail("w").map((e) => e.line.length)).toEqual([50])
      })))

  it.effect("a line past MAX_LINE is cut", () =>
    withLogs({}, (logs) =>
      Effect.sync(() => {
        logs.append(line("w", 0, "x".repeat(200_000), { stream: "log" }))
        expect(logs.tail("w")[0]!.line.length).toBe(64 * 1024)
      })))

  it.effect("tail: n and since", () =>
    withLogs({}, (logs) =>
      Effect.sync(() => {
        for (let i = 1; i <= 50; i++) logs.append(line("w", i * 100, `line ${i}`))
        expect(logs.tail("w", { n: 2 }).map((e) => e.line)).toEqual(["line 49", "line 50"])
        expect(logs.tail("w", { since: 4800 }).map((e) => e.line)).toEqual(["line 48", "line 49", "line 50"])
        expect(logs.tail("w", { since: 4750, n: 1 }).map((e) => e.line)).toEqual(["line 50"])
        expect(logs.tail("w", { since: 999_999 })).toEqual([])
      })))

  it.effect("the rate limit drops and counts lines past the burst, then a marker says how many, in the ring, the stream and the file", () =>
    withLogs({ rateIntervalMs: 1000, rateBurstLines: 3 }, (logs, published) =>
      Effect.gen(function* () {
        const verdicts = []
        for (let i = 0; i < 10; i++) verdicts.push(logs.append(line("w", i, `flood ${i}`)))
        // Kept lines answer 0; dropped ones when the window ends.
        expect(verdicts).toEqual([0, 0, 0, 1000, 1000, 1000, 1000, 1000, 1000, 1000])
        expect(logs.dropped("w")).toBe(7)
        logs.append(line("w", 1500, "calm again"))
        const tail = logs.tail("w").map((e) => `${e.seq} ${e.stream} ${e.line}`)
        expect(tail).toEqual(["1 stdout flood 0", "2 stdout flood 1", "3 stdout flood 2", `4 log ${droppedMarker(7)}`, "5 stdout calm again"])
        expect((yield* published()).map((o) => o.line)).toEqual(["flood 0", "flood 1", "flood 2", droppedMarker(7), "calm again"])
        expect(logs.dropped("w")).toBe(7)
      }), (logDir) => {
        const file = Fs.readFileSync(Path.join(logDir, "w.log"), "utf8")
        expect(file.split("\n").filter((l) => l !== "").map((l) => l.split(" ").slice(1).join(" "))).toEqual([
          "w#0 flood 0", "w#0 flood 1", "w#0 flood 2", `w#0 (log) ${droppedMarker(7)}`, "w#0 calm again"
        ])
      }))

  it.effect("a flood that stops is still told: the marker comes when its window ends, with no line after it", () =>
    withLogs({ rateIntervalMs: 1000, rateBurstLines: 2 }, (logs, published) =>
      Effect.gen(function* () {
        for (let i = 0; i < 5; i++) logs.append(line("w", 0, `flood ${i}`))
        yield* TestClock.adjust("999 millis")
        expect(logs.tail("w").map((e) => e.line)).toEqual(["flood 0", "flood 1"])
        yield* TestClock.adjust("1 millis")
        // The marker fiber runs once its sleep ends.
        for (let i = 0; i < 20 && logs.tail("w").length < 3; i++) yield* Effect.yieldNow
        expect(logs.tail("w").map((e) => e.line)).toEqual(["flood 0", "flood 1", droppedMarker(3)])
        expect((yield* published()).map((o) => o.line).at(-1)).toBe(droppedMarker(3))
        // Counted once: a later line in a fresh window gets no second marker.
        logs.append(line("w", 5000, "later"))
        expect(logs.tail("w").map((e) => e.line).slice(-2)).toEqual([droppedMarker(3), "later"])
      })))

  it.effect("files rotate by size: name.log, name.log.1 … name.log.N, the oldest removed, each within the size", () =>
    withLogs({ fileMaxBytes: 300, files: 2, ringLines: 1000 }, (logs) =>
      Effect.sync(() => {
        for (let i = 0; i < 40; i++) logs.append(line("w", i, `line ${String(i).padStart(2, "0")} ${"x".repeat(20)}`))
      }), (logDir) => {
        const names = Fs.readdirSync(logDir).sort()
        expect(names).toEqual(["w.log", "w.log.1", "w.log.2"])
        const lineBytes = Buffer.byteLength(`${format({ seq: 1, time: 0, name: "w", id: "a1", incarnation: 0, stream: "stdout", line: `line 00 ${"x".repeat(20)}` })}\n`)
        for (const name of names) {
          const size = Fs.statSync(Path.join(logDir, name)).size
          expect(size).toBeLessThanOrEqual(300)
          if (name !== "w.log") expect(size).toBeGreaterThan(300 - lineBytes)
          expect(Fs.statSync(Path.join(logDir, name)).mode & 0o777).toBe(0o600)
        }
        expect(Fs.statSync(logDir).mode & 0o777).toBe(0o700)
        // Oldest first: .2, .1, then the live file; together the newest lines, in order, the oldest gone.
        const text = ["w.log.2", "w.log.1", "w.log"].map((n) => Fs.readFileSync(Path.join(logDir, n), "utf8")).join("")
        const numbers = text.split("\n").filter((l) => l !== "").map((l) => Number(/ line (\d+) /.exec(l)![1]))
        expect(numbers.at(-1)).toBe(39)
        expect(numbers).toEqual(numbers.map((_, i) => 40 - numbers.length + i))
        expect(numbers[0]).toBeGreaterThan(0)
      }))

  it.effect("files: 0 keeps no rotated file", () =>
    withLogs({ fileMaxBytes: 200, files: 0 }, (logs) =>
      Effect.sync(() => {
        for (let i = 0; i < 20; i++) logs.append(line("w", i, `line ${i} ${"y".repeat(30)}`))
      }), (logDir) => {
        expect(Fs.readdirSync(logDir)).toEqual(["w.log"])
        expect(Fs.statSync(Path.join(logDir, "w.log")).size).toBeLessThanOrEqual(200)
      }))

  it.effect("a file the disk refuses is reported once, counted, and costs nothing else: the ring keeps the lines", () =>
    withLogs({}, (logs) =>
      Effect.gen(function* () {
        // The log file's path is a directory: every append fails with EISDIR.
        const path = logs.filePath("w")!
        Fs.mkdirSync(path)
        for (let i = 0; i < 5; i++) {
          logs.append(line("w", i, `line ${i}`))
          // Each line its own batch: the writer gets (and fails) several times.
          yield* TestClock.withLive(Effect.sleep("20 millis"))
        }
        expect(logs.tail("w").length).toBe(5)
        return logs
      }), (_logDir, logs, warnings) => {
        expect(logs.droppedFromFile("w")).toBe(5)
        expect(logs.dropped("w")).toBe(0)
        const reported = warnings.filter((w) => w.includes("w.log") && w.includes("EISDIR"))
        expect(reported.length).toBe(1)
      }))
})

describe("LogFile", () => {
  it("its queue is bounded in bytes: past it lines are dropped and counted, and the next batch says so first", () => {
    const file = new LogFile.LogFile("w", { dir: "/nonexistent", maxBytes: 1000, files: 1, pendingBytes: 100 })
    const accepted = Array.from({ length: 10 }, (_, i) => file.enqueue(`${String(i).repeat(29)}\n`))
    expect(accepted).toEqual([true, true, true, false, false, false, false, false, false, false])
    expect(file.dropped).toBe(7)
    const batch = file.take(0, (count) => `missed ${count}\n`)
    expect(batch.map((q) => q.text.trim().slice(0, 9))).toEqual(["missed 7", "0".repeat(9), "1".repeat(9), "2".repeat(9)])
    // Taken: the queue is empty again and takes lines.
    expect(file.enqueue("again\n")).toBe(true)
    assert.strictEqual(file.take(0, () => "none\n").length, 1)
  })

  it.effect("flush writes a batch across rotations and records the size", () =>
    Effect.gen(function* () {
      const dir = yield* Effect.acquireRelease(Effect.sync(() => tempDir("agentos-logfile-test-")), (d) => Effect.sync(d.remove))
      const file = new LogFile.LogFile("w", { dir: dir.path, maxBytes: 25, files: 1, pendingBytes: 1000 })
      for (const text of ["aaaaaaaaa\n", "bbbbbbbbb\n", "ccccccccc\n", "ddddddddd\n", "eeeeeeeee\n"]) file.enqueue(text)
      yield* LogFile.flush(file, file.take(0, () => ""))
      // 25 bytes hold two 10-byte lines: a b, rotate, c d, rotate (a b overwritten, one file kept), e.
      expect(Fs.readFileSync(Path.join(dir.path, "w.log"), "utf8")).toBe("eeeeeeeee\n")
      expect(Fs.readFileSync(Path.join(dir.path, "w.log.1"), "utf8")).toBe("ccccccccc\nddddddddd\n")
      expect(Fs.existsSync(Path.join(dir.path, "w.log.2"))).toBe(false)
      expect(file.size).toBe(10)
    }))
})
