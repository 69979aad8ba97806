import { Effect, Layer, Redacted, Stream } from "effect"
import { LanguageModel } from "effect/ai"
import { FetchHttpClient } from "effect/http"
import * as Gemini from "./src/llm/providers/Gemini.ts"
import * as OpenAi from "./src/llm/providers/OpenAi.ts"
import * as TestServer from "./src/llm/TestServer.ts"
import * as LlmRequest from "./src/llm/LlmRequest.ts"
const server = await TestServer.start({ apiKey: "k1", tokensPerSecond: 500, latencyMs: 5 })
const run = (layer: Layer.Layer<LanguageModel.LanguageModel, never, any>) => Effect.gen(function* () {
  const r = yield* LanguageModel.generateText({ prompt: [{ role: "system", content: "be brief" }, { role: "user", content: "hello there" }] })
  console.log(JSON.stringify(r.text), r.usage.inputTokens.total, r.usage.outputTokens.total, r.finishReason, (r.content[0] as any).modelId)
  const parts = yield* Stream.runCollect(LanguageModel.streamText({ prompt: "hello there" }))
  console.log(parts.map(p => p.type + (p.type === "text-delta" ? JSON.stringify(p.delta) : "") + (p.type === "finish" ? JSON.stringify(p.usage) + p.reason: "")).join(","))
}).pipe(Effect.provideService(LlmRequest.GenerationOptions, { maxTokens: 6 }), Effect.provide(layer), Effect.provide(FetchHttpClient.layer))
await Effect.runPromise(run(Gemini.layer({ apiKey: Redacted.make("k1"), baseUrl: server.url })))
await Effect.runPromise(run(OpenAi.layer({ apiKey: Redacted.make("k1"), baseUrl: server.openAiBaseUrl })))
await Effect.runPromise(run(Gemini.layerVertex({ project: "p", location: "us-central1", baseUrl: server.url, accessToken: async () => "k1" })))
const e = await Effect.runPromise(Effect.flip(run(Gemini.layer({ apiKey: Redacted.make("bad"), baseUrl: server.url }))))
console.log(e.reason._tag, e.message)
server.inject({ status: 429, retryAfterSeconds: 2 })
const e2 = await Effect.runPromise(Effect.flip(run(Gemini.layer({ apiKey: Redacted.make("k1"), baseUrl: server.url }))))
console.log(e2.reason._tag, e2.message, e2.retryAfter)
console.log(server.stats(), server.requests.map(r => r.path))
await server.close()
