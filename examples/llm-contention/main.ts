/**
 * LLM contention: ten agents, real processes spawned through the kernel in their sandboxes, hit
 * THINK at the same moment. The LLM upstream takes 2 requests at a time: the project's local
 * test server speaking Gemini's REST wire format over HTTP, answering 503 past that (or, with
 * --offline, the offline model). The kernel's scheduler queues them, holds three agents to their own limits (6
 * requests/min, 600 tokens/min, a 600-token budget), shares the rest by weight (VTC, fair by
 * tokens served) and cancels what the agents leave behind when they exit. At the end: the
 * kernel's table and Jain's fairness index, each verdict decided by what was measured; exit 1
 * when one does not hold.
 *
 *   npx node examples/llm-contention/main.ts [--offline] [--window-ms 12000]
 *
 * While it runs, `npx agentos llm --watch --socket <the socket it prints>` shows the scheduler live.
 */
import { Context, Effect, Exit, Layer, Redacted, Scope } from "effect"
import { FetchHttpClient } from "effect/http"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Connection } from "../../src/client/Connection.ts"
import * as Daemon from "../../src/app/Daemon.ts"
import type * as LlmStats from "../../src/llm/LlmStats.ts"
import * as Gemini from "../../src/llm/providers/Gemini.ts"
import * as Provider from "../../src/llm/Provider.ts"
import * as Offline from "../../src/llm/providers/Offline.ts"
import { LlmScheduler } from "../../src/llm/Scheduler.ts"
import * as TestServer from "../../src/llm/TestServer.ts"
import { Op } from "../../src/protocol/Op.ts"
import * as Report from "./report.ts"
import { AgentLogs } from "../../src/logs/AgentLogs.ts"

const CAPACITY = 2
/** The upstream's pace: 25 ms to the first token, then 1000 tokens/s per request. */
const LATENCY_MS = 25
const TOKENS_PER_SECOND = 1000
/** THINKs each agent keeps outstanding. */
const OUTSTANDING = 3

const option = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const offline = process.argv.includes("--offline")
const windowMs = Number(option("window-ms") ?? 12_000)
if (!(Number.isInteger(windowMs) && windowMs >= 2_000)) throw new Error(`--window-ms: expected an integer ≥ 2000, got ${option("window-ms")}`)

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))
const thinker = Path.join(import.meta.dirname, "agents", "thinker.ts")

const main = async (): Promise<number> => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "agentos-llm-contention-"))
  // Agents reach their work directories below it as their own uid: let them pass (not list).
  Fs.chmodSync(dir, 0o711)
  const socketPath = Path.join(dir, "kernel.sock")
  const server = offline ? undefined : await TestServer.start({
      capacity: CAPACITY,
      // Past its capacity it refuses, as a hosted API does: a request the kernel should have held back shows.
      overCapacity: 503,
      latencyMs: LATENCY_MS,
      tokensPerSecond: TOKENS_PER_SECOND
    })
  const model = server === undefined
    ? Offline.layer({ latencyMs: LATENCY_MS, tokensPerSecond: TOKENS_PER_SECOND })
    : Gemini.layer({ apiKey: Redacted.make("demo-key"), baseUrl: server.url }).pipe(Layer.provide(FetchHttpClient.layer))
  // The kernel sends upstream no more than the upstream can take: everything else waits in
  // the kernel, where the fair queue decides who goes next.
  const llm = LlmScheduler.layer({ maxInFlight: CAPACITY }).pipe(Layer.provide(model))
  const scope = Effect.runSync(Scope.make())
  try {
    const context = await Effect.runPromise(Layer.buildWithScope(Daemon.layer({ socketPath, stateDir: Path.join(dir, "state") }, [], llm), scope))
    const logs = Context.get(context, AgentLogs)
    const client = await Connection.connect({ path: socketPath })
    await client.calls.hello("llm-contention")
    const upstreamText = server === undefined
      ? `the offline model, ${CAPACITY} requests at a time`
      : `Gemini's wire format over HTTP to the local test server at ${server.url}, capacity ${CAPACITY}`
    console.log(`kernel on ${socketPath}; LLM: ${upstreamText}; ${LATENCY_MS} ms + ${TOKENS_PER_SECOND} tokens/s per request`)
    console.log(`watch it live: npx agentos llm --watch --socket ${socketPath}`)
    console.log(`the answers: ${Provider.offlineHint}`)
    console.log()

    // Ten node processes start on a small machine in a few seconds: agree on a start after that.
    const startAt = Date.now() + 4_000
    for (const c of Report.cast) {
      await client.calls.spawn({
        name: c.name,
        run: thinker,
        args: [String(startAt), String(windowMs), String(c.maxTokens), String(OUTSTANDING), ...(c.stream === true ? ["stream"] : [])],
        restart: "temporary",
        sandbox: { memory: "256M" },
        llm: {
          weight: c.weight,
          ...(c.rpm === undefined ? {} : { rpm: c.rpm }),
          ...(c.tpm === undefined ? {} : { tpm: c.tpm }),
          ...(c.budget === undefined ? {} : { budget: c.budget })
        }
      })
    }
    const said = (name: string) => logs.tail(name, { n: Number.MAX_SAFE_INTEGER }).map((o) => o.line)
    await sleep(startAt - Date.now())
    const late = Report.cast.filter((c) => !said(c.name).some((l) => l.endsWith("ready") || l.includes(": ready,")))
    console.log(late.length === 0
      ? `${Report.cast.length} agents ready; all THINK at once for ${windowMs / 1000} s, ${OUTSTANDING} requests outstanding each`
      : `${late.map((c) => c.name).join(", ")} not ready at the start (the machine is slow): they start late`)
    server?.resetStats()
    await sleep(windowMs - 50)
    const upstream = server?.stats()

    for (const c of Report.cast) await client.calls.wait(c.name, 30_000)
    const stat = (await client.call(Op.STAT, {})) as { readonly llm: LlmStats.Snapshot }
    const results = new Map<string, Report.AgentResult>()
    for (const c of Report.cast) {
      const line = said(c.name).findLast((l) => l.startsWith("RESULT "))
      if (line !== undefined) results.set(c.name, JSON.parse(line.slice("RESULT ".length)) as Report.AgentResult)
      for (const l of said(c.name)) if (!l.startsWith("RESULT ") && !l.endsWith("ready") && !l.includes(": ready,")) console.log(`  ${c.name.padEnd(11)}| ${l}`)
    }
    await client.close()

    const evidence: Report.Evidence = {
      llm: stat.llm,
      results,
      windowMs,
      upstream: upstream === undefined
        ? undefined
        : {
          capacity: CAPACITY,
          answered: upstream.answered,
          refused: upstream.refused,
          maxActive: upstream.maxActive,
          busySlotMs: upstream.busySlotMs,
          elapsedMs: upstream.elapsedMs
        }
    }
    console.log()
    console.log(Report.table(evidence))
    console.log()
    const verdicts = Report.verdicts(evidence)
    for (const v of verdicts) console.log(`${v.ok ? "✓" : "✗"} ${v.line}`)
    const missing = Report.cast.filter((c) => !results.has(c.name))
    if (missing.length > 0) console.log(`✗ no RESULT from ${missing.map((c) => c.name).join(", ")}`)
    return verdicts.every((v) => v.ok) && missing.length === 0 ? 0 : 1
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await server?.close()
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

process.exitCode = await main()
