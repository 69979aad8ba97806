/**
 * The Gemini (Generative Language and Vertex AI) and OpenAI-compatible providers against the
 * local TestServer over real HTTP on 127.0.0.1: the request bodies and headers they send, the
 * answers, usage and models they read back, streaming included, the AiError reason each HTTP
 * status becomes (with Retry-After), that no key appears in an error, and that interrupting a
 * request aborts it on the server. Nothing asserts on time.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Redacted, Stream, Tracer } from "effect"
import { type AiError, LanguageModel, type Response } from "effect/ai"
import { FetchHttpClient, Headers, HttpClient } from "effect/http"
import * as LlmRequest from "../../src/llm/LlmRequest.ts"
import * as LlmError from "../../src/llm/LlmError.ts"
import * as Gemini from "../../src/llm/providers/Gemini.ts"
import * as Http from "../../src/llm/providers/internal/http.ts"
import * as Offline from "../../src/llm/providers/Offline.ts"
import * as OpenAi from "../../src/llm/providers/OpenAi.ts"
import * as TestServer from "../../src/llm/TestServer.ts"

const KEY = "test-key-0123456789"

const conversation: Array<LlmRequest.TextMessage> = [
  { role: "system", content: "You are terse." },
  { role: "user", content: "What is a supervisor?" },
  { role: "assistant", content: "A process that restarts others." },
  { role: "user", content: "And a cgroup?" }
]

/** What the server answers to the conversation, capped at `max` tokens. */
const expected = (max: number) => Offline.answer({ messages: conversation, maxTokens: max }).tokens.join("")

const generate = (layer: Layer.Layer<LanguageModel.LanguageModel, never, never>, maxTokens = 5) =>
  LanguageModel.generateText({ prompt: LlmRequest.toPrompt({ messages: conversation }) }).pipe(
    Effect.provideService(LlmRequest.GenerationOptions, { maxTokens }),
    Effect.provide(layer)
  )

const streamParts = (layer: Layer.Layer<LanguageModel.LanguageModel, never, never>, maxTokens = 8) =>
  LanguageModel.streamText({ prompt: LlmRequest.toPrompt({ messages: conversation }) }).pipe(
    Stream.runCollect,
    Effect.provideService(LlmRequest.GenerationOptions, { maxTokens }),
    Effect.provide(layer)
  )

const gemini = (server: TestServer.TestServer, key = KEY) =>
  Gemini.layer({ apiKey: Redacted.make(key), baseUrl: server.url }).pipe(Layer.provide(FetchHttpClient.layer))

const vertex = (server: TestServer.TestServer, token: () => Promise<string> = async () => KEY) =>
  Gemini.layerVertex({ project: "my-proj", location: "europe-west4", baseUrl: server.url, accessToken: token }).pipe(
    Layer.provide(FetchHttpClient.layer)
  )

/** `key: null` sends no key at all. */
const openai = (server: TestServer.TestServer, key: string | null = KEY) =>
  OpenAi.layer({ baseUrl: server.openAiBaseUrl, apiKey: key === null ? undefined : Redacted.make(key), model: "llama-3" }).pipe(
    Layer.provide(FetchHttpClient.layer)
  )

const textOf = (parts: ReadonlyArray<Response.StreamPart<{}>>) =>
  parts.flatMap((p) => (p.type === "text-delta" ? [p.delta] : [])).join("")

const finishOf = (parts: ReadonlyArray<Response.StreamPart<{}>>) => parts.find((p): p is Response.FinishPart => p.type === "finish")!

/** Polls until `cond` holds (real time; the test asserts on the state, not on how long it took). */
const until = (cond: () => boolean) =>
  Effect.gen(function* () {
    for (let i = 0; i < 500 && !cond(); i++) yield* Effect.sleep(10)
    assert.isTrue(cond())
  })

describe("Gemini provider", () => {
  it.live("maps a conversation onto generateContent and reads text, usage and model back", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.scoped({ apiKey: KEY })
      const response = yield* generate(gemini(server), 5)
      const sent = server.requests[0]!
      assert.strictEqual(sent.path, "/v1beta/models/gemini-2.5-flash:generateContent")
      assert.strictEqual(sent.headers["x-goog-api-key"], KEY)
      assert.isUndefined(sent.headers.authorization)
      assert.deepStrictEqual(sent.body, {
        contents: [
          { role: "user", parts: [{ text: "What is a supervisor?" }] },
          { role: "model", parts: [{ text: "A process that restarts others." }] },
          { role: "user", parts: [{ text: "And a cgroup?" }] }
        ],
        systemInstruction: { parts: [{ text: "You are terse." }] },
        generationConfig: { maxOutputTokens: 5 }
      })
      assert.strictEqual(response.text, expected(5))
      assert.strictEqual(response.finishReason, "length")
      assert.deepStrictEqual([response.usage.inputTokens.total, response.usage.outputTokens.total], [
        Offline.answer({ messages: conversation }).usage.inputTokens,
        5
      ])
      const metadata = response.content.find((p) => p.type === "response-metadata")
      assert.strictEqual(metadata?.modelId, "gemini-2.5-flash")
    }))

  it.live("streams streamGenerateContent over SSE: deltas, then usage from the last usageMetadata", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.scoped({ apiKey: KEY, tokensPerSecond: 400 })
      const parts = yield* streamParts(gemini(server), 8)
      assert.strictEqual(server.requests[0]!.path, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
      assert.strictEqual(textOf(parts), expected(8))
      assert.strictEqual(parts[0]!.type, "response-metadata")
      assert.deepStrictEqual(parts.map((p) => p.type).filter((t) => t !== "text-delta"), ["response-metadata", "text-start", "text-end", "finish"])
      const finish = finishOf(parts)
      assert.deepStrictEqual([finish.reason, finish.usage.outputTokens.total], ["length", 8])
    }))

  it.live("uses the request's model and an unversioned base URL", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.scoped()
      const layer = Gemini.layer({ apiKey: Redacted.make(KEY), baseUrl: `${server.url}/`, model: "gemini-2.0-pro" }).pipe(Layer.provide(FetchHttpClient.layer))
      yield* generate(layer)
      yield* LanguageModel.generateText({ prompt: "hi" }).pipe(
        Effect.provideService(LlmRequest.GenerationOptions, { model: "models/gemini-lite" }),
        Effect.provide(layer)
      )
      assert.deepStrictEqual(server.requests.map((r) => r.path), [
        "/v1beta/models/gemini-2.0-pro:generateContent",
        "/v1beta/models/gemini-lite:generateContent"
      ])
    }))

  it.live("maps 400, 401, 403, 429 (with Retry-After) and 503 to AiError reasons, never showing the key", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.scoped({ apiKey: KEY })
      const reason = (layer: Layer.Layer<LanguageModel.LanguageModel>) =>
        Effect.flip(generate(layer)).pipe(Effect.map((e: AiError.AiError) => e))
      server.inject({ status: 400, message: "contents are malformed" })
      const bad = yield* reason(gemini(server))
      assert.strictEqual(bad.reason._tag, "InvalidRequestError")
      assert.match(bad.message, /HTTP 400: contents are malformed/)
      const missing = yield* reason(Gemini.layer({ apiKey: Redacted.make(""), baseUrl: server.url }).pipe(Layer.provide(FetchHttpClient.layer)))
      assert.strictEqual(missing.reason._tag, "AuthenticationError")
      const wrong = yield* reason(gemini(server, "wrong-secret-key"))
      assert.deepStrictEqual([wrong.reason._tag, wrong.reason._tag === "AuthenticationError" && wrong.reason.kind], ["AuthenticationError", "InsufficientPermissions"])
      assert.notInclude(`${wrong.message} ${JSON.stringify(wrong)}`, "wrong-secret-key")
      server.inject({ status: 429, retryAfterSeconds: 2 })
      const limited = yield* reason(gemini(server))
      assert.strictEqual(limited.reason._tag, "RateLimitError")
      assert.deepStrictEqual(limited.retryAfter && limited.retryAfter.toJSON(), { _id: "Duration", _tag: "Millis", millis: 2_000 })
      server.inject({ status: 503 })
      assert.strictEqual((yield* reason(gemini(server))).reason._tag, "InternalProviderError")
    }))

  it.live("keeps the key out of the HTTP client's trace spans", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.scoped({ apiKey: KEY })
      const spans: Array<Tracer.NativeSpan> = []
      const tracer = Tracer.make({
        span(options) {
          const span = new Tracer.NativeSpan(options)
          spans.push(span)
          return span
        }
      })
      // Header attributes are off by default; a deployment that turns them on must not leak the key.
      const traced = <A, E>(effect: Effect.Effect<A, E>) =>
        effect.pipe(Effect.provideService(Tracer.Tracer, tracer), Effect.provideService(HttpClient.TracerHeaderFilter, () => true))
      yield* traced(generate(gemini(server)))
      yield* traced(generate(vertex(server)))
      const attributes = spans.flatMap((s) => [...s.attributes.entries()]).map(([k, v]) => `${k}=${String(v)}`)
      assert.include(attributes, "http.request.header.x-goog-api-key=<redacted>")
      assert.include(attributes, "http.request.header.authorization=<redacted>")
      assert.notInclude(attributes.join("\n"), KEY)
    }))

  it.live("talks to Vertex AI's path with a bearer token from the credentials", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.scoped({ apiKey: KEY })
      const response = yield* generate(vertex(server), 3)
      const parts = yield* streamParts(vertex(server), 3)
      const prefix = "/v1/projects/my-proj/locations/europe-west4/publishers/google/models/gemini-2.5-flash"
      assert.deepStrictEqual(server.requests.map((r) => r.path), [`${prefix}:generateContent`, `${prefix}:streamGenerateContent?alt=sse`])
      assert.strictEqual(server.requests[0]!.headers.authorization, `Bearer ${KEY}`)
      assert.isUndefined(server.requests[0]!.headers["x-goog-api-key"])
      assert.strictEqual(response.text, expected(3))
      assert.strictEqual(textOf(parts), expected(3))
      const noCredentials = yield* Effect.flip(generate(vertex(server, () => Promise.reject(new Error("no ADC found")))))
      assert.deepStrictEqual(
        [noCredentials.reason._tag, noCredentials.reason._tag === "AuthenticationError" && noCredentials.reason.kind],
        ["AuthenticationError", "MissingKey"]
      )
      assert.match(noCredentials.message, /no ADC found/)
      // What a user reads from THINK: where credentials were looked for and what to set, not
      // effect's "MissingKey: No API key provided" (Vertex AI takes no key).
      const told = LlmError.fromAiError(noCredentials, "Denied", "think").message
      assert.match(told, /^think: Vertex AI got no access token from application-default credentials \(no ADC found\); tried GOOGLE_APPLICATION_CREDENTIALS \(.*\), gcloud's .*application_default_credentials\.json \((present|missing)\), the Compute Engine metadata server\. Set GOOGLE_APPLICATION_CREDENTIALS/)
      assert.notMatch(told, /No API key provided/)
    }))

  it.live("aborts the HTTP request when the caller is interrupted", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.scoped({ latencyMs: 30_000 })
      const fiber = yield* Effect.forkChild(generate(gemini(server)))
      yield* until(() => server.stats().active === 1)
      yield* Fiber.interrupt(fiber)
      yield* until(() => server.stats().aborted === 1)
      assert.strictEqual(server.requests[0]!.outcome, "aborted")
    }))
})

describe("OpenAI-compatible provider", () => {
  it.live("maps a conversation onto /v1/chat/completions and reads the completion back", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.scoped({ apiKey: KEY })
      const response = yield* generate(openai(server), 4)
      const sent = server.requests[0]!
      assert.strictEqual(sent.path, "/v1/chat/completions")
      assert.strictEqual(sent.headers.authorization, `Bearer ${KEY}`)
      assert.deepStrictEqual(sent.body, { model: "llama-3", messages: conversation, max_tokens: 4, stream: false })
      assert.strictEqual(response.text, expected(4))
      assert.deepStrictEqual([response.finishReason, response.usage.outputTokens.total], ["length", 4])
      assert.strictEqual(response.content.find((p) => p.type === "response-metadata")?.modelId, "llama-3")
    }))

  it.live("streams chat.completion.chunk events to [DONE], with usage from include_usage", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.scoped({ tokensPerSecond: 400 })
      const parts = yield* streamParts(openai(server, null), 6)
      const sent = server.requests[0]!
      assert.isUndefined(sent.headers.authorization)
      assert.deepStrictEqual(sent.body, { model: "llama-3", messages: conversation, max_tokens: 6, stream: true, stream_options: { include_usage: true } })
      assert.strictEqual(textOf(parts), expected(6))
      const finish = finishOf(parts)
      assert.deepStrictEqual([finish.reason, finish.usage.inputTokens.total, finish.usage.outputTokens.total], [
        "length",
        Offline.answer({ messages: conversation }).usage.inputTokens,
        6
      ])
    }))

  it.live("maps 429 with retry-after-ms, 401 and 500", () =>
    Effect.gen(function* () {
      const server = yield* TestServer.scoped({ apiKey: KEY })
      server.inject({ status: 429, retryAfterMs: 250 })
      const limited = yield* Effect.flip(generate(openai(server)))
      assert.strictEqual(limited.reason._tag, "RateLimitError")
      assert.deepStrictEqual(limited.retryAfter?.toJSON(), { _id: "Duration", _tag: "Millis", millis: 250 })
      assert.strictEqual((yield* Effect.flip(generate(openai(server, null)))).reason._tag, "AuthenticationError")
      server.inject({ status: 500 })
      assert.strictEqual((yield* Effect.flip(generate(openai(server)))).reason._tag, "InternalProviderError")
    }))
})

describe("provider HTTP helpers", () => {
  it("reads Retry-After as seconds, as a date, as retry-after-ms, and as Gemini's RetryInfo", () => {
    const h = (record: Record<string, string>) => Headers.fromInput(record)
    assert.strictEqual(Http.retryAfterMs(h({ "retry-after": "3" }), undefined, 0), 3_000)
    assert.strictEqual(Http.retryAfterMs(h({ "retry-after-ms": "150", "retry-after": "3" }), undefined, 0), 150)
    const now = Date.parse("2025-01-01T00:00:00Z")
    assert.strictEqual(Http.retryAfterMs(h({ "retry-after": "Wed, 01 Jan 2025 00:00:10 GMT" }), undefined, now), 10_000)
    const body = { error: { details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "1.5s" }] } }
    assert.strictEqual(Http.retryAfterMs(h({}), body, 0), 1_500)
    assert.isUndefined(Http.retryAfterMs(h({}), undefined, 0))
  })

  it.effect("splits SSE bodies into data payloads, however the bytes are cut", () =>
    Effect.gen(function* () {
      const text = "data: {\"a\":1}\n\n: comment\ndata: line one\ndata: line two\n\nevent: x\r\ndata: [DONE]\r\n\r\n"
      const bytes = new TextEncoder().encode(text)
      for (const cut of [1, 3, 7, bytes.length]) {
        const chunks: Array<Uint8Array> = []
        for (let i = 0; i < bytes.length; i += cut) chunks.push(bytes.slice(i, i + cut))
        const events = yield* Stream.runCollect(Http.sseData(Stream.fromIterable(chunks)))
        assert.deepStrictEqual(events, ["{\"a\":1}", "line one\nline two", "[DONE]"])
      }
    }))
})
