/**
 * The LLM scheduler inside the real kernel: THINK in the kernel's own syscall table, agents
 * spawned through the real launcher whose SPAWN `llm` options reach the scheduler, an agent
 * killed with requests queued and in flight (dropped and aborted upstream, over HTTP against
 * the local TestServer), STAT's `llm` figures, and `agentos llm` against a kernel process.
 * Everything is decided by counts, never by time.
 */
import { Context, Effect, Exit, Layer, Redacted, Scope } from "effect"
import { FetchHttpClient } from "effect/http"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { Connection } from "../../src/client/Connection.ts"
import type * as LlmStats from "../../src/llm/LlmStats.ts"
import * as Gemini from "../../src/llm/providers/Gemini.ts"
import { LlmScheduler } from "../../src/llm/Scheduler.ts"
import * as TestServer from "../../src/llm/TestServer.ts"
import { Op } from "../../src/protocol/Op.ts"
import * as Cli from "../support/cli.ts"
import { daemonLayer, startKernel, tempDir } from "../support/kernel.ts"
import * as Machine from "../support/machine.ts"
import * as Cleanups from "../support/cleanups.ts"
import * as Until from "../support/until.ts"
import { AgentLogs } from "../../src/logs/AgentLogs.ts"

const thinker = Path.join(import.meta.dirname, "agents", "thinker.ts")
const cleanups = Cleanups.perTest()

/** A kernel (the real Daemon layer) whose scheduler is `llm`, and a client named "tester". */
const kernelWith = async (llm: Layer.Layer<LlmScheduler>) => {
  const dir = tempDir()
  cleanups.push(() => dir.remove())
  const socketPath = Path.join(dir.path, "kernel.sock")
  const scope = Effect.runSync(Scope.make())
  cleanups.push(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  const context = await Effect.runPromise(
    // Not about isolation: on the plain launcher where agents cannot be sandboxed here.
    Layer.buildWithScope(daemonLayer({ socketPath, stateDir: Path.join(dir.path, "state") }, [], Machine.launcher, llm), scope)
  )
  const c = await Connection.connect({ path: socketPath })
  cleanups.push(() => c.close())
  await c.calls.hello("tester")
  return { c, output: (name: string) => Context.get(context, AgentLogs).tail(name, { n: Number.MAX_SAFE_INTEGER }), socketPath }
}

const llmOf = async (c: Connection, name: string) => ((await c.call(Op.STAT, { name })) as { llm: LlmStats.AgentSnapshot | null }).llm
const kernelLlm = async (c: Connection) => ((await c.call(Op.STAT, {})) as { llm: LlmStats.Snapshot }).llm

const until = (what: string, cond: () => boolean | Promise<boolean>) =>
  Until.until(what, async () => (await cond()) || undefined, { timeoutMs: 20_000, intervalMs: 20 })

describe("the kernel's LLM", () => {
  it("answers THINK from the kernel's own table (the offline model without a key), and STAT {} shows it", async () => {
    const k = await startKernel()
    cleanups.push(() => k.stop())
    const c = await Connection.connect({ path: k.socketPath })
    cleanups.push(() => c.close())
    await c.calls.hello("asker")
    const answer = await c.calls.think({ prompt: "hello kernel", maxTokens: 6 })
    expect(answer).toMatchObject({ model: "offline", usage: { outputTokens: 6 } })
    const llm = await kernelLlm(c)
    expect(llm.agents.map((a) => [a.agent, a.completed, a.outputTokens])).toEqual([["asker", 1, 6]])
    expect([llm.policy, llm.completed, llm.inFlight, llm.queued]).toEqual(["vtc", 1, 0, 0])
  })

  it("applies a spawned agent's llm options (weight, rpm, tpm, budget) before its first THINK", async () => {
    const k = await kernelWith(LlmScheduler.layerOffline({ maxInFlight: 2 }))
    await k.c.calls.spawn({ name: "weighted", run: thinker, args: ["3", "5"], llm: { weight: 3, rpm: 100, tpm: 9000, budget: 5000 } })
    await k.c.calls.wait("weighted", 30_000)
    const report = k.output("weighted").find((o) => o.line.startsWith("REPORT "))
    expect(JSON.parse(report!.line.slice(7))).toEqual([1, 2, 3].map(() => ({ ok: true, outputTokens: 5 })))
    const llm = await llmOf(k.c, "weighted")
    expect(llm).toMatchObject({ weight: 3, completed: 3, outputTokens: 15, limits: { rpm: 100, tpm: 9000, budget: 5000 } })
    expect(llm!.limits.budgetLeft).toBe(5000 - llm!.inputTokens - llm!.outputTokens)
    // An agent without llm options shares at weight 1, unlimited; STAT says null until it thinks.
    await k.c.calls.spawn({ name: "plain", run: "sh", args: ["-c", "exit 0"] })
    await k.c.calls.wait("plain", 30_000)
    expect(await llmOf(k.c, "plain")).toBeNull()
  })

  it("refuses a spawned agent's THINK past its budget with ERATE", async () => {
    const k = await kernelWith(LlmScheduler.layerOffline())
    await k.c.calls.spawn({ name: "broke", run: thinker, args: ["1", "5"], llm: { budget: 0 } })
    await k.c.calls.wait("broke", 30_000)
    const report = k.output("broke").find((o) => o.line.startsWith("REPORT "))
    expect(JSON.parse(report!.line.slice(7))).toEqual([{ ok: false, code: "ERATE" }])
    expect(await llmOf(k.c, "broke")).toMatchObject({ completed: 0, rateLimited: 1 })
  })

  it("keeps what an agent spent of its budget across a restart with the same spec; a new spec starts afresh", async () => {
    const k = await kernelWith(LlmScheduler.layerOffline())
    const run = async (budget: number) => {
      await k.c.calls.spawn({ name: "saver", run: thinker, args: ["1", "5"], llm: { budget } })
      await k.c.calls.wait("saver", 30_000)
      const llm = (await llmOf(k.c, "saver"))!
      return { spent: llm.inputTokens + llm.outputTokens, left: llm.limits.budgetLeft, completed: llm.completed }
    }
    const first = await run(60)
    const second = await run(60)
    expect([first.completed, second.completed]).toEqual([1, 2])
    expect(first.left).toBe(60 - first.spent)
    expect(second.left).toBe(60 - second.spent)
    const third = await run(200)
    expect(third.left).toBe(200 - (third.spent - second.spent))
  })

  it("rejects invalid llm options at SPAWN, naming each", async () => {
    const k = await kernelWith(LlmScheduler.layerOffline())
    const error = await k.c.calls.spawn({ name: "bad", run: thinker, llm: { weight: 0, rpm: 1.5 } }).catch((e: { code: string; message: string }) => e)
    expect(error).toMatchObject({ code: "EINVAL" })
    expect((error as { message: string }).message).toMatch(/llm\.weight: .*; llm\.rpm: /)
  })

  it("cancels the requests of an agent that dies: queued ones dropped, the running one aborted upstream", async () => {
    const server = await TestServer.start({ latencyMs: 600_000 })
    cleanups.push(() => server.close())
    const k = await kernelWith(LlmScheduler.layer({ maxInFlight: 1 }).pipe(
      Layer.provide(Gemini.layer({ apiKey: Redacted.make("k"), baseUrl: server.url })),
      Layer.provide(FetchHttpClient.layer)
    ))
    await k.c.calls.spawn({ name: "doomed", run: thinker, args: ["3", "5"] })
    await until("one running upstream and two queued", async () => {
      const llm = await llmOf(k.c, "doomed")
      return server.stats().active === 1 && llm?.inFlight === 1 && llm.queued === 2
    })
    // Another caller waits behind the dead agent's running request.
    const other = k.c.calls.think({ prompt: "my turn?", maxTokens: 3 })
    await until("the tester queued", async () => (await llmOf(k.c, "doomed")) !== null && (await kernelLlm(k.c)).queued === 3)
    await k.c.calls.kill("doomed", "SIGKILL")
    await k.c.calls.wait("doomed", 30_000)
    await until("the upstream request aborted", () => server.stats().aborted === 1)
    await until("the tester's request upstream", () => server.stats().received === 2)
    const doomed = await llmOf(k.c, "doomed")
    expect(doomed).toMatchObject({ requests: 3, completed: 0, cancelled: 3, inFlight: 0, queued: 0, errors: 0 })
    // Nothing of the dead agent ever reached the upstream again: the second request is the tester's.
    const bodies = server.requests.map((r) => JSON.stringify(r.body))
    expect(bodies[0]).toMatch(/doomed asks question/)
    expect(bodies[1]).toMatch(/my turn\?/)
    server.configure({ latencyMs: 0 })
    void other.catch(() => undefined)
  })

  it("`agentos llm` prints each caller's requests, tokens, queue wait, latency, throttled and errors", async () => {
    const dir = tempDir()
    cleanups.push(() => dir.remove())
    const { socket } = await Cli.startKernel(dir.path, cleanups)
    const empty = await Cli.run(["llm", "--socket", socket])
    expect(empty.code).toBe(0)
    expect(empty.stdout).toMatch(/no LLM requests yet: vtc, 8 in flight at most/)
    const c = await Connection.connect({ path: socket })
    cleanups.push(() => c.close())
    await c.calls.hello("planner")
    await c.calls.think({ prompt: "one", maxTokens: 4 })
    await c.calls.think({ prompt: "two", maxTokens: 4 })
    const table = await Cli.run(["llm", "--socket", socket])
    expect(table.code).toBe(0)
    const lines = table.stdout.trim().split("\n")
    expect(lines[0]).toMatch(/^Agent\s+Weight\s+Requests\s+Tokens \(in\/out\)\s+Queue p50\/p99\s+Latency p50\/p99\s+Throttled\s+Errors$/)
    expect(lines[1]).toMatch(/^planner\s+1\s+2\/2\s+\d+ \(\d+\/8\)\s+[\d.]+ms\/[\d.]+ms\s+[\d.]+ms\/[\d.]+ms\s+0\s+0$/)
    expect(lines.at(-1)).toMatch(/^vtc · 0\/8 in flight · 0 queued · 2 answered · \d+ tokens$/)
    const json = await Cli.run(["llm", "--json", "--socket", socket])
    const snapshot = JSON.parse(json.stdout) as LlmStats.Snapshot
    expect(snapshot.agents.map((a) => [a.agent, a.requests, a.outputTokens])).toEqual([["planner", 2, 8]])
  })
})
