/**
 * The local LLM test server itself: its capacity (a FIFO wait past it, or 429/503), injected
 * errors (how many, after how many), auth, unknown routes and bad bodies, and its counters.
 * Requests go over real HTTP with fetch; nothing asserts on time.
 */
import { afterEach, describe, expect, it } from "vitest"
import * as TestServer from "../../src/llm/TestServer.ts"

const servers: Array<TestServer.TestServer> = []
afterEach(async () => {
  while (servers.length > 0) await servers.pop()!.close()
})
const start = async (options: TestServer.Options = {}) => {
  const server = await TestServer.start(options)
  servers.push(server)
  return server
}

const chat = (server: TestServer.TestServer, body: unknown = { model: "m", messages: [{ role: "user", content: "hi" }] }, headers: Record<string, string> = {}) =>
  fetch(`${server.openAiBaseUrl}/chat/completions`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) })

describe("TestServer", () => {
  it("generates at most `capacity` answers at once and queues the rest in order", async () => {
    const server = await start({ capacity: 2, latencyMs: 30 })
    const responses = await Promise.all(Array.from({ length: 6 }, () => chat(server)))
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200])
    const stats = server.stats()
    expect([stats.received, stats.answered, stats.maxActive, stats.active, stats.queued]).toEqual([6, 6, 2, 0, 0])
    expect(stats.busySlotMs).toBeGreaterThan(0)
    expect(stats.outputTokens).toBe(6 * 32)
  })

  it("refuses past capacity with the configured status", async () => {
    const server = await start({ capacity: 1, latencyMs: 60_000, overCapacity: 503 })
    const abort = new AbortController()
    const first = fetch(`${server.openAiBaseUrl}/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ messages: [{ role: "user", content: "hi" }] }),
      signal: abort.signal
    }).catch(() => undefined)
    while (server.stats().active === 0) await new Promise((r) => setTimeout(r, 5))
    const second = await chat(server)
    expect(second.status).toBe(503)
    expect(second.headers.get("retry-after")).toBe("1")
    abort.abort()
    await first
    while (server.stats().aborted === 0) await new Promise((r) => setTimeout(r, 5))
    expect([server.stats().refused, server.stats().active]).toEqual([1, 0])
  })

  it("injects errors after and for as many requests as told, in each API's error format", async () => {
    const server = await start({ inject: [{ status: 429, after: 1, times: 2, retryAfterSeconds: 7 }] })
    const statuses: Array<number> = []
    for (let i = 0; i < 4; i++) {
      const r = await chat(server)
      statuses.push(r.status)
      if (r.status === 429) {
        expect(r.headers.get("retry-after")).toBe("7")
        expect(await r.json()).toEqual({ error: { message: "injected 429", type: "rate_limit_error", code: null } })
      } else {
        await r.arrayBuffer()
      }
    }
    expect(statuses).toEqual([200, 429, 429, 200])
    server.inject({ status: 503, api: "gemini" })
    expect((await chat(server)).status).toBe(200) // only Gemini requests get it
    const gemini = await fetch(`${server.url}/v1beta/models/g:generateContent`, {
      method: "POST",
      body: JSON.stringify({ contents: [{ parts: [{ text: "hi" }] }] })
    })
    expect(gemini.status).toBe(503)
    expect(await gemini.json()).toEqual({ error: { code: 503, message: "injected 503", status: "UNAVAILABLE" } })
  })

  it("checks the key when it has one: 401 without, 403 wrong, 200 right", async () => {
    const server = await start({ apiKey: "s3cret" })
    expect((await chat(server)).status).toBe(401)
    expect((await chat(server, undefined, { authorization: "Bearer nope" })).status).toBe(403)
    expect((await chat(server, undefined, { authorization: "Bearer s3cret" })).status).toBe(200)
    const viaQuery = await fetch(`${server.url}/v1beta/models/g:generateContent?key=s3cret`, {
      method: "POST",
      body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }] })
    })
    expect(viaQuery.status).toBe(200)
  })

  it("answers 404 for unknown routes and 400 for invalid bodies, naming the field", async () => {
    const server = await start()
    expect((await fetch(`${server.url}/v2/nothing`, { method: "POST", body: "{}" })).status).toBe(404)
    const bad = await chat(server, { messages: [] })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: { message: string } }).error.message).toBe("messages: must be a non-empty array")
    const badMax = await chat(server, { messages: [{ role: "user", content: "x" }], max_tokens: 0 })
    expect(badMax.status).toBe(400)
    expect(server.requests.map((r) => r.outcome)).toEqual(["refused", "refused"])
  })

  it("answers the same words as the offline model, and resets its counters", async () => {
    const server = await start({ outputTokens: 3 })
    const body = (await (await chat(server)).json()) as { choices: Array<{ message: { content: string } }>; usage: { completion_tokens: number } }
    expect(body.choices[0]!.message.content.split(" ")).toHaveLength(3)
    expect(body.usage.completion_tokens).toBe(3)
    server.resetStats()
    expect([server.stats().received, server.requests.length]).toEqual([0, 0])
  })
})
