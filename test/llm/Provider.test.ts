/** Choosing the provider from the environment, and naming it without its key. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as Provider from "../../src/llm/Provider.ts"

const from = (env: Record<string, string>) => Provider.fromEnv(env)

describe("Provider", () => {
  it.effect("is the offline model when nothing is configured", () =>
    Effect.gen(function* () {
      const config = yield* from({})
      assert.strictEqual(config.kind, "offline")
      assert.strictEqual(Provider.describe(config), "offline model (offline)")
    }))

  it.effect("is Gemini with GEMINI_API_KEY or GOOGLE_API_KEY, the key kept Redacted and out of descriptions", () =>
    Effect.gen(function* () {
      for (const name of ["GEMINI_API_KEY", "GOOGLE_API_KEY"]) {
        const config = yield* from({ [name]: "AIza-secret", AGENTOS_LLM_MODEL: "gemini-2.5-pro" })
        assert.strictEqual(config.kind, "gemini")
        if (config.kind !== "gemini") continue
        assert.strictEqual(Redacted.value(config.apiKey), "AIza-secret")
        assert.notInclude(String(config.apiKey), "AIza-secret")
        assert.notInclude(JSON.stringify(config), "AIza-secret")
        assert.strictEqual(Provider.describe(config), "Gemini gemini-2.5-pro at https://generativelanguage.googleapis.com (API key)")
      }
    }))

  it.effect("is Vertex AI with GOOGLE_GENAI_USE_VERTEXAI and a project", () =>
    Effect.gen(function* () {
      const config = yield* from({ GOOGLE_GENAI_USE_VERTEXAI: "true", GOOGLE_CLOUD_PROJECT: "p1", GOOGLE_CLOUD_LOCATION: "global" })
      assert.deepStrictEqual(
        config.kind === "vertex" ? [config.project, config.location] : [],
        ["p1", "global"]
      )
      const missing = yield* Effect.flip(from({ AGENTOS_LLM_PROVIDER: "vertex" }))
      assert.match(missing.message, /GOOGLE_CLOUD_PROJECT/)
    }))

  it.effect("is an OpenAI-compatible server with OPENAI_BASE_URL", () =>
    Effect.gen(function* () {
      const config = yield* from({ OPENAI_BASE_URL: "http://127.0.0.1:11434/v1", AGENTOS_LLM_MODEL: "llama3.2" })
      assert.strictEqual(Provider.describe(config), "OpenAI-compatible llama3.2 at http://127.0.0.1:11434/v1")
    }))

  it.effect("follows AGENTOS_LLM_PROVIDER over the keys it finds, and rejects unknown names", () =>
    Effect.gen(function* () {
      assert.strictEqual((yield* from({ AGENTOS_LLM_PROVIDER: "offline", GEMINI_API_KEY: "k" })).kind, "offline")
      const unknown = yield* Effect.flip(from({ AGENTOS_LLM_PROVIDER: "claude" }))
      assert.match(unknown.message, /expected offline, gemini, vertex or openai/)
      const noKey = yield* Effect.flip(from({ AGENTOS_LLM_PROVIDER: "gemini" }))
      assert.match(noKey.message, /GEMINI_API_KEY/)
    }))
})
