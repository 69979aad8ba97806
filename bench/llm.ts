/**
 * What the LLM scheduler costs and what it buys, against the local TestServer run as its own
 * process (so it does not share the benchmark's event loop) and reached over real HTTP by the
 * Gemini provider:
 *
 * 1. overhead: p50 latency a request gains by going through the scheduler rather than to the
 *    provider directly (sequential requests, alternated one by one), over HTTP and in process;
 * 2. under backlog (agents of very different request sizes keeping many requests waiting, the
 *    server at a fixed capacity equal to maxInFlight): upstream utilisation (goal ≥ 95%) and
 *    Jain's fairness index over the equal-weight agents' tokens (goal ≥ 0.99), for VTC and for
 *    a plain FIFO queue (the AIOS-style baseline), side by side;
 * 3. weighted shares (1:2:4) under the same backlog.
 *
 * `node bench/llm.ts [--quick] [--json]` (or BENCH_QUICK=1, BENCH_JSON=1).
 */
import { Context, Effect, Exit, Fiber, Layer, Redacted, Scope } from "effect"
import { LanguageModel } from "effect/ai"
import { FetchHttpClient } from "effect/http"
import * as ChildProcess from "node:child_process"
import * as Os from "node:os"
import { fileURLToPath } from "node:url"
import * as LlmRequest from "../src/llm/LlmRequest.ts"
import * as Gemini from "../src/llm/providers/Gemini.ts"
import * as Offline from "../src/llm/providers/Offline.ts"
import { LlmScheduler, type Config } from "../src/llm/Scheduler.ts"
import type * as TestServer from "../src/llm/TestServer.ts"

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

const flag = (name: string, env: string): boolean =>
  process.argv.includes(`--${name}`) || (process.env[env] !== undefined && process.env[env] !== "" && process.env[env] !== "0")
const quick = flag("quick", "BENCH_QUICK")
const json = flag("json", "BENCH_JSON")

const SIZES = quick
  ? { overheadRequests: 500, warmup: 100, warmupMs: 1_000, windowMs: 4_000 }
  : { overheadRequests: 3_000, warmup: 300, warmupMs: 2_000, windowMs: 12_000 }

/** The upstream of the backlog runs: 8 generations at once, 20 ms to the first token, 400 tokens/s each. */
const CAPACITY = 8
const LATENCY_MS = 20
const TOKENS_PER_SECOND = 400
/** Equal-weight agents and the output length of each one's requests. */
const AGENTS = [
  { name: "terse", maxTokens: 16 },
  { name: "chatty", maxTokens: 64 },
  { name: "verbose", maxTokens: 128 },
  { name: "essayist", maxTokens: 256 }
] as const
/** Requests each agent keeps waiting or running: a backlog far above capacity. */
const OUTSTANDING = 16

const GOAL_UTILISATION = 0.95
const GOAL_JAIN = 0.99

const root = fileURLToPath(new URL("..", import.meta.url))

// ---------------------------------------------------------------------------------------------
// The test server as a child process
// ---------------------------------------------------------------------------------------------

interface Upstream {
  readonly url: string
  readonly stats: () => Promise<TestServer.Stats>
  readonly reset: () => Promise<void>
  readonly stop: () => Promise<void>
}

const startUpstream = (args: ReadonlyArray<string>): Promise<Upstream> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.spawn(process.execPath, ["src/llm/TestServer.ts", "--port", "0", ...args], {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"]
    })
    let out = ""
    child.once("error", reject)
    child.once("exit", (code) => reject(new Error(`test server exited (${code}) before it was ready: ${out}`)))
    child.stdout.setEncoding("utf8").on("data", (text: string) => {
      out += text
      const match = /Gemini at (http:\/\/\S+),/.exec(out)
      if (match === null) return
      child.removeAllListeners("exit")
      const url = match[1]!
      resolve({
        url,
        stats: async () => (await (await fetch(`${url}/_stats`)).json()) as TestServer.Stats,
        reset: async () => {
          await fetch(`${url}/_reset`, { method: "POST" })
        },
        stop: () =>
          new Promise((done) => {
            if (child.exitCode !== null) return done()
            child.once("exit", () => done())
            child.kill("SIGTERM")
          })
      })
    })
  })

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const percentile = (values: ReadonlyArray<number>, q: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN
}

/** Jain's fairness index: 1 when every x is equal, 1/n when one takes everything. */
const jain = (xs: ReadonlyArray<number>): number => {
  const sum = xs.reduce((a, b) => a + b, 0)
  const squares = xs.reduce((a, b) => a + b * b, 0)
  return squares === 0 ? 1 : (sum * sum) / (xs.length * squares)
}

const geminiOver = (upstream: Upstream): Layer.Layer<LanguageModel.LanguageModel> =>
  Gemini.layer({ apiKey: Redacted.make("bench"), baseUrl: upstream.url }).pipe(Layer.provide(FetchHttpClient.layer))

/** A model and a scheduler over it, for the life of a scope. */
const build = async (model: Layer.Layer<LanguageModel.LanguageModel>, config: Partial<Config>) => {
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(Layer.merge(model, LlmScheduler.layer(config).pipe(Layer.provide(model))), scope))
  return {
    model: Context.get(context, LanguageModel.LanguageModel),
    scheduler: Context.get(context, LlmScheduler),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const prompt = (i: number) => `request ${i}: summarise the state of the worker pool`

const log = (line = ""): void => {
  if (!json) process.stdout.write(`${line}\n`)
}

const table = (rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)))
  return rows.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ")).join("\n")
}

// ---------------------------------------------------------------------------------------------
// 1. Overhead
// ---------------------------------------------------------------------------------------------

interface Overhead {
  readonly directP50Ms: number
  readonly scheduledP50Ms: number
  /** p50 of (scheduled − direct) over adjacent pairs. */
  readonly addedP50Ms: number
  readonly directP99Ms: number
  readonly scheduledP99Ms: number
}

const overhead = async (model: Layer.Layer<LanguageModel.LanguageModel>): Promise<Overhead> => {
  const built = await build(model, { maxInFlight: CAPACITY })
  const request = (i: number) => LlmRequest.fromPrompt(prompt(i), { maxTokens: 16 })
  const direct = (i: number) =>
    built.model.generateText({ prompt: LlmRequest.toPrompt(request(i)) }).pipe(
      Effect.provideService(LlmRequest.GenerationOptions, { maxTokens: 16 }),
      Effect.asVoid
    )
  const scheduled = (i: number) => built.scheduler.submit("bench", request(i)).pipe(Effect.asVoid)
  const time = (effect: Effect.Effect<void, unknown>) =>
    Effect.gen(function* () {
      const start = performance.now()
      yield* effect
      return performance.now() - start
    })
  const result = await Effect.runPromise(Effect.gen(function* () {
    for (let i = 0; i < SIZES.warmup; i++) {
      yield* direct(i)
      yield* scheduled(i)
    }
    const d: Array<number> = []
    const s: Array<number> = []
    const added: Array<number> = []
    for (let i = 0; i < SIZES.overheadRequests; i++) {
      // Alternate which goes first, so neither always runs on a warmer connection.
      let a: number
      let b: number
      if (i % 2 === 0) {
        a = yield* time(direct(i))
        b = yield* time(scheduled(i))
      } else {
        b = yield* time(scheduled(i))
        a = yield* time(direct(i))
      }
      d.push(a)
      s.push(b)
      added.push(b - a)
    }
    return {
      directP50Ms: percentile(d, 0.5),
      scheduledP50Ms: percentile(s, 0.5),
      addedP50Ms: percentile(added, 0.5),
      directP99Ms: percentile(d, 0.99),
      scheduledP99Ms: percentile(s, 0.99)
    }
  }))
  await built.close()
  return result
}

// ---------------------------------------------------------------------------------------------
// 2 and 3. Backlog
// ---------------------------------------------------------------------------------------------

interface Backlog {
  readonly policy: "vtc" | "fifo"
  readonly utilisation: number
  readonly jain: number
  readonly tokensPerSecond: number
  readonly agents: ReadonlyArray<{ readonly name: string; readonly weight: number; readonly tokens: number; readonly share: number; readonly requests: number; readonly queueP50Ms: number | null }>
}

const backlog = async (
  policy: "vtc" | "fifo",
  agents: ReadonlyArray<{ readonly name: string; readonly maxTokens: number; readonly weight?: number }>
): Promise<Backlog> => {
  const upstream = await startUpstream([
    "--capacity", String(CAPACITY),
    "--latency-ms", String(LATENCY_MS),
    "--tps", String(TOKENS_PER_SECOND),
    "--output-tokens", "max"
  ])
  const built = await build(geminiOver(upstream), { maxInFlight: CAPACITY, policy })
  const s = built.scheduler
  const result = await Effect.runPromise(Effect.gen(function* () {
    for (const a of agents) if (a.weight !== undefined) yield* s.configureAgent(a.name, { weight: a.weight })
    const workers = yield* Effect.forEach(agents, (a) =>
      Effect.forkChild(Effect.forEach(
        Array.from({ length: OUTSTANDING }, (_, i) => i),
        (i) => Effect.forever(s.submit(a.name, LlmRequest.fromPrompt(prompt(i), { maxTokens: a.maxTokens })).pipe(Effect.ignore)),
        { concurrency: "unbounded", discard: true }
      )))
    yield* Effect.sleep(SIZES.warmupMs)
    const before = yield* s.stats
    yield* Effect.promise(() => upstream.reset())
    yield* Effect.sleep(SIZES.windowMs)
    const after = yield* s.stats
    const server = yield* Effect.promise(() => upstream.stats())
    yield* Effect.forEach(workers, Fiber.interrupt)
    const tokensOf = (snapshot: typeof before, name: string) => {
      const a = snapshot.agents.find((x) => x.agent === name)
      return a === undefined ? { tokens: 0, requests: 0 } : { tokens: a.inputTokens + a.outputTokens, requests: a.completed }
    }
    const rows = agents.map((a) => {
      const b = tokensOf(before, a.name)
      const e = tokensOf(after, a.name)
      return {
        name: a.name,
        weight: a.weight ?? 1,
        tokens: e.tokens - b.tokens,
        requests: e.requests - b.requests,
        queueP50Ms: after.agents.find((x) => x.agent === a.name)?.queueWaitMs.p50 ?? null
      }
    })
    const total = rows.reduce((x, r) => x + r.tokens, 0)
    return {
      policy,
      utilisation: server.busySlotMs / (CAPACITY * server.elapsedMs),
      // Jain's index over tokens per unit of weight: 1 when each agent got its weighted share.
      jain: jain(rows.map((r) => r.tokens / r.weight)),
      tokensPerSecond: total / (SIZES.windowMs / 1000),
      agents: rows.map((r) => ({ ...r, share: r.tokens / total }))
    }
  }))
  await built.close()
  await upstream.stop()
  return result
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

const main = async () => {
  const machine = {
    node: process.version,
    cpu: Os.cpus()[0]?.model.trim() ?? "unknown",
    cores: Os.availableParallelism(),
    loadavg: Os.loadavg().map((l) => Number(l.toFixed(2)))
  }
  log(`llm${quick ? " (quick)" : ""}: node ${machine.node}, ${machine.cpu}, ${machine.cores} cores, load ${machine.loadavg.join(" ")}`)

  // 1. Overhead: an instant upstream, so the figures are the path itself.
  const instant = await startUpstream(["--output-tokens", "16"])
  const http = await overhead(geminiOver(instant))
  await instant.stop()
  const inProcess = await overhead(Offline.layer({ outputTokens: 16 }))

  // 2. Backlog, equal weights, VTC then FIFO.
  const vtc = await backlog("vtc", AGENTS)
  const fifo = await backlog("fifo", AGENTS)
  // 3. Weighted shares.
  const weighted = await backlog("vtc", [
    { name: "w1", maxTokens: 64, weight: 1 },
    { name: "w2", maxTokens: 64, weight: 2 },
    { name: "w4", maxTokens: 64, weight: 4 }
  ])

  if (json) {
    process.stdout.write(`${JSON.stringify({
      machine,
      sizes: SIZES,
      upstream: { capacity: CAPACITY, latencyMs: LATENCY_MS, tokensPerSecond: TOKENS_PER_SECOND, outstandingPerAgent: OUTSTANDING },
      overhead: { http, inProcess },
      backlog: { vtc, fifo },
      weighted,
      goals: {
        utilisation: { min: GOAL_UTILISATION, met: vtc.utilisation >= GOAL_UTILISATION },
        jain: { min: GOAL_JAIN, met: vtc.jain >= GOAL_JAIN }
      }
    }, null, 2)}\n`)
    return
  }

  const ms = (n: number) => `${n.toFixed(3)} ms`
  log()
  log("Scheduler overhead (sequential requests, 16 output tokens, instant upstream)")
  log(table([
    ["path", "direct p50", "scheduled p50", "added p50", "direct p99", "scheduled p99"],
    ["Gemini over HTTP", ms(http.directP50Ms), ms(http.scheduledP50Ms), ms(http.addedP50Ms), ms(http.directP99Ms), ms(http.scheduledP99Ms)],
    ["offline, in process", ms(inProcess.directP50Ms), ms(inProcess.scheduledP50Ms), ms(inProcess.addedP50Ms), ms(inProcess.directP99Ms), ms(inProcess.scheduledP99Ms)]
  ]))
  log()
  log(`Backlog: ${AGENTS.length} equal-weight agents × ${OUTSTANDING} outstanding, outputs ${AGENTS.map((a) => a.maxTokens).join("/")} tokens; ` +
    `upstream capacity ${CAPACITY}, ${LATENCY_MS} ms + ${TOKENS_PER_SECOND} tokens/s; ${SIZES.windowMs / 1000} s window`)
  const met = (ok: boolean) => (ok ? "met" : "MISSED")
  log(table([
    ["metric", "VTC", "FIFO (AIOS-style)", "goal", "VTC met?"],
    ["upstream utilisation", `${(vtc.utilisation * 100).toFixed(1)}%`, `${(fifo.utilisation * 100).toFixed(1)}%`, `≥ ${GOAL_UTILISATION * 100}%`, met(vtc.utilisation >= GOAL_UTILISATION)],
    ["Jain's index (tokens)", vtc.jain.toFixed(4), fifo.jain.toFixed(4), `≥ ${GOAL_JAIN}`, met(vtc.jain >= GOAL_JAIN)],
    ["tokens/s served", Math.round(vtc.tokensPerSecond).toString(), Math.round(fifo.tokensPerSecond).toString(), "-", "-"],
    ...AGENTS.map((a, i) => [
      `  ${a.name} (${a.maxTokens} out): tokens`,
      `${vtc.agents[i]!.tokens} (${(vtc.agents[i]!.share * 100).toFixed(1)}%)`,
      `${fifo.agents[i]!.tokens} (${(fifo.agents[i]!.share * 100).toFixed(1)}%)`,
      "25.0%",
      "-"
    ])
  ]))
  log()
  log("Weighted shares (VTC, weights 1:2:4, 64-token outputs)")
  log(table([
    ["agent", "weight", "tokens", "share", "target"],
    ...weighted.agents.map((a) => [a.name, String(a.weight), String(a.tokens), `${(a.share * 100).toFixed(1)}%`, `${((a.weight / 7) * 100).toFixed(1)}%`])
  ]))
  log(`utilisation ${(weighted.utilisation * 100).toFixed(1)}%, Jain over tokens/weight ${weighted.jain.toFixed(4)}`)
}

await main()
