/**
 * THINK end to end: a real kernel on a Unix socket (startKernel) with the THINK syscall over a
 * scheduler, called through the Promise client. The offline model, then the Gemini provider
 * against the local TestServer over HTTP: answers, streamed chunks before the reply, argument
 * errors, the caller's agent key, ERATE, upstream retries, and a closed connection cancelling
 * its request upstream. Nothing asserts on time.
 */
import { Context, Effect, Exit, Layer, Redacted, Scope } from "effect"
import * as Capabilities from "../../src/process/Capabilities.ts"
import type { Caller } from "../../src/kernel/Syscall.ts"
import { FetchHttpClient } from "effect/http"
import { describe, expect, it } from "vitest"
import { Connection } from "../../src/client/Connection.ts"
import * as Think from "../../src/kernel/syscalls/Think.ts"
import * as Gemini from "../../src/llm/providers/Gemini.ts"
import * as Offline from "../../src/llm/providers/Offline.ts"
import { type Config, LlmScheduler } from "../../src/llm/Scheduler.ts"
import * as TestServer from "../../src/llm/TestServer.ts"
import { Op } from "../../src/protocol/Op.ts"
import { startKernel } from "../support/kernel.ts"
import * as Cleanups from "../support/cleanups.ts"

const cleanups = Cleanups.perTest()

/** A scheduler built from a layer, kept until the test ends. */
const scheduler = async (layer: Layer.Layer<LlmScheduler>) => {
  const scope = Effect.runSync(Scope.make())
  cleanups.push(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  return Context.get(await Effect.runPromise(Layer.buildWithScope(layer, scope)), LlmScheduler)
}

/** A kernel with THINK over the scheduler, and a client connection to it. */
const kernelWith = async (s: LlmScheduler["Service"]) => {
  const kernel = await startKernel({}, [Think.make(s)])
  cleanups.push(() => kernel.stop())
  const connect = async () => {
    const c = await Connection.connect({ path: kernel.socketPath })
    cleanups.push(() => c.close())
    return c
  }
  return { kernel, connect }
}

const offline = (config: Partial<Config> = {}) =>
  scheduler(LlmScheduler.layerOffline(config, { latencyMs: 5, tokensPerSecond: 2_000 }))

const overGemini = async (server: TestServer.TestServer, config: Partial<Config> = {}) =>
  scheduler(LlmScheduler.layer(config).pipe(
    Layer.provide(Gemini.layer({ apiKey: Redacted.make("k"), baseUrl: server.url })),
    Layer.provide(FetchHttpClient.layer)
  ))

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10))
  expect(cond()).toBe(true)
}

describe("THINK", () => {
  it("answers a prompt through the scheduler", async () => {
    const s = await offline()
    const c = await (await kernelWith(s)).connect()
    const result = await c.call(Op.THINK, { prompt: "plan the restart", maxTokens: 5 })
    const expected = Offline.answer({ messages: [{ role: "user", content: "plan the restart" }], maxTokens: 5 })
    expect(result).toEqual({
      content: expected.tokens.join(""),
      usage: { inputTokens: expected.usage.inputTokens, outputTokens: 5 },
      model: "offline"
    })
  })

  it("takes messages and a model", async () => {
    const s = await offline()
    const c = await (await kernelWith(s)).connect()
    const messages = [{ role: "system", content: "be brief" }, { role: "user", content: "status?" }] as const
    const result = (await c.call(Op.THINK, { messages, model: "offline-small" })) as { model: string; content: string }
    expect(result.model).toBe("offline-small")
    expect(result.content).toBe(Offline.answer({ messages: [...messages] }).tokens.join(""))
  })

  it("streams chunks {delta} before the reply when stream is true", async () => {
    const s = await offline()
    const c = await (await kernelWith(s)).connect()
    const chunks: Array<unknown> = []
    const result = (await c.call(Op.THINK, { prompt: "stream it", maxTokens: 12, stream: true }, { onChunk: (m) => chunks.push(m) })) as {
      content: string
    }
    expect(chunks).toHaveLength(12)
    expect(chunks.every((m) => typeof (m as Think.ThinkChunk).delta === "string")).toBe(true)
    expect(chunks.map((m) => (m as Think.ThinkChunk).delta).join("")).toBe(result.content)
  })

  it("answers EINVAL for bad args, naming what is wrong", async () => {
    const s = await offline()
    const c = await (await kernelWith(s)).connect()
    const error = (args: unknown) => c.call(Op.THINK, args).then(() => undefined, (e: { code: string; message: string }) => e)
    expect(await error({})).toMatchObject({ code: "EINVAL", message: "think: exactly one of prompt or messages is required" })
    expect(await error({ prompt: "a", messages: [{ role: "user", content: "b" }] })).toMatchObject({ code: "EINVAL" })
    expect(await error({ messages: [{ role: "system", content: "b" }] })).toMatchObject({ code: "EINVAL", message: expect.stringMatching(/user message/) })
    expect(await error({ prompt: "a", maxTokens: 0 })).toMatchObject({ code: "EINVAL", message: expect.stringMatching(/maxTokens/) })
    expect(await error({ messages: [{ role: "robot", content: "b" }] })).toMatchObject({ code: "EINVAL", message: expect.stringMatching(/messages/) })
  })

  it("shares the LLM under the caller's name, or its session", async () => {
    const s = await offline()
    const k = await kernelWith(s)
    const named = await k.connect()
    await named.call(Op.HELLO, { version: 1, name: "planner" })
    await named.call(Op.THINK, { prompt: "one" })
    await named.call(Op.THINK, { prompt: "two" })
    const anonymous = await k.connect()
    await anonymous.call(Op.THINK, { prompt: "three" })
    const stats = await Effect.runPromise(s.stats)
    expect(stats.agents.map((a) => [a.agent.replace(/^session-\d+$/, "session-N"), a.completed])).toEqual([
      ["planner", 2],
      ["session-N", 1]
    ])
    // An anonymous session's share goes with its connection; a named one stays.
    anonymous.close()
    named.close()
    let agents: ReadonlyArray<string> = []
    await until(() => {
      void Effect.runPromise(s.stats).then((now) => (agents = now.agents.map((a) => a.agent)))
      return agents.length === 1
    })
    expect(agents).toEqual(["planner"])
  })

  it("answers ERATE when the caller's budget is spent", async () => {
    const s = await offline()
    const k = await kernelWith(s)
    await Effect.runPromise(s.configureAgent("broke", { budget: 0 }))
    const c = await k.connect()
    await c.call(Op.HELLO, { version: 1, name: "broke" })
    await expect(c.call(Op.THINK, { prompt: "anything" })).rejects.toMatchObject({
      code: "ERATE",
      message: "think for broke: its budget of 0 tokens is spent"
    })
  })

  it("streams from Gemini over HTTP through the kernel", async () => {
    const server = await TestServer.start({ tokensPerSecond: 500 })
    cleanups.push(() => server.close())
    const c = await (await kernelWith(await overGemini(server))).connect()
    const chunks: Array<string> = []
    const result = (await c.call(Op.THINK, { prompt: "hello gemini", maxTokens: 10, stream: true }, {
      onChunk: (m) => chunks.push((m as Think.ThinkChunk).delta)
    })) as { content: string; model: string; usage: { outputTokens: number } }
    expect(chunks.join("")).toBe(result.content)
    expect(result.content).toBe(Offline.answer({ messages: [{ role: "user", content: "hello gemini" }], maxTokens: 10 }).tokens.join(""))
    expect([result.model, result.usage.outputTokens]).toEqual(["gemini-2.5-flash", 10])
    expect(server.requests[0]!.path).toMatch(/:streamGenerateContent\?alt=sse$/)
  })

  it("retries an upstream 429 (honouring retry-after) and a 503 before answering", async () => {
    const server = await TestServer.start({ inject: [{ status: 429, retryAfterMs: 20 }, { status: 503 }] })
    cleanups.push(() => server.close())
    const s = await overGemini(server, { retryBaseMs: 10 })
    const c = await (await kernelWith(s)).connect()
    await c.call(Op.HELLO, { version: 1, name: "persistent" })
    const result = (await c.call(Op.THINK, { prompt: "eventually" })) as { content: string }
    expect(result.content.length).toBeGreaterThan(0)
    expect(server.requests.map((r) => r.status)).toEqual([429, 503, 200])
    const stats = await Effect.runPromise(s.statsFor("persistent"))
    expect([stats!.retries, stats!.completed, stats!.errors]).toEqual([2, 1, 0])
  })

  it("maps an upstream 400 to EINVAL and an exhausted 429 to ERATE", async () => {
    const server = await TestServer.start({ inject: [{ status: 400, message: "no such model" }, { status: 429, times: 2, retryAfterSeconds: 1 }] })
    cleanups.push(() => server.close())
    const c = await (await kernelWith(await overGemini(server, { maxRetries: 1, retryMaxMs: 500 }))).connect()
    await expect(c.call(Op.THINK, { prompt: "x" })).rejects.toMatchObject({ code: "EINVAL", message: expect.stringMatching(/no such model/) })
    // Retry-After of 1 s is past retryMaxMs: ERATE at once, without waiting.
    await expect(c.call(Op.THINK, { prompt: "x" })).rejects.toMatchObject({ code: "ERATE" })
  })

  it("cancels a request upstream when its connection closes", async () => {
    const server = await TestServer.start({ latencyMs: 60_000 })
    cleanups.push(() => server.close())
    const s = await overGemini(server)
    const k = await kernelWith(s)
    const c = await k.connect()
    await c.call(Op.HELLO, { version: 1, name: "leaver" })
    void c.call(Op.THINK, { prompt: "never mind" }).catch(() => undefined)
    await until(() => server.stats().active === 1)
    c.close()
    await until(() => server.stats().aborted === 1)
    const stats = await Effect.runPromise(s.statsFor("leaver"))
    expect([stats!.cancelled, stats!.inFlight]).toEqual([1, 0])
  })

  it("runs over the LlmScheduler in context too, under an agent's own name", async () => {
    const caller: Caller = {
      sessionId: 7,
      peer: { pid: 1, uid: 1, gid: 1 },
      kind: "agent",
      agent: { id: "a3", name: "researcher", caps: Capabilities.grant([]) },
      name: "researcher",
      setName: () => {},
      push: () => {},
      onClose: () => {},
      scope: Scope.makeUnsafe()
    }
    const chunks: Array<unknown> = []
    const program = Effect.gen(function* () {
      const result = yield* Think.Think.handle({ prompt: "hi", maxTokens: 3, stream: true }, caller, { id: 1, chunk: (m) => chunks.push(m), afterReply: () => {} })
      const s = yield* LlmScheduler
      return { result, stats: yield* s.statsFor("researcher") }
    }).pipe(Effect.provide(LlmScheduler.layerOffline()))
    const { result, stats } = await Effect.runPromise(program)
    expect(chunks).toHaveLength(3)
    expect((result as { usage: { outputTokens: number } }).usage.outputTokens).toBe(3)
    expect(stats?.completed).toBe(1)
    expect(Think.agentKey({ ...caller, agent: undefined, name: undefined })).toBe("session-7")
  })
})
