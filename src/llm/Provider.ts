/**
 * Which model the kernel thinks with: a provider config, read from the environment or given
 * in code, and the effect/ai LanguageModel layer it makes. Gemini when a key is set (API key,
 * or Vertex AI with application-default credentials), an OpenAI-compatible server when its
 * base URL is set, and otherwise the offline model, so a kernel without keys still answers.
 * `describe` names the choice for logs; no key ever appears in it.
 */
import { Data, Effect, Layer, Redacted } from "effect"
import type { LanguageModel } from "effect/ai"
import { FetchHttpClient } from "effect/http"
import * as Gemini from "./providers/Gemini.ts"
import * as Offline from "./providers/Offline.ts"
import * as OpenAi from "./providers/OpenAi.ts"

/** A provider and its settings. @category models */
export type ProviderConfig =
  | { readonly kind: "offline"; readonly options?: Offline.Options | undefined }
  | ({ readonly kind: "gemini" } & Gemini.Options)
  | ({ readonly kind: "vertex" } & Gemini.VertexOptions)
  | ({ readonly kind: "openai" } & OpenAi.Options)

/** The environment names a provider but not what it needs. @category errors */
export class ProviderConfigError extends Data.TaggedError("ProviderConfigError")<{ readonly message: string }> {}

type Env = Readonly<Record<string, string | undefined>>

const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v.trim() === "" ? undefined : v.trim())

/**
 * The provider the environment asks for:
 * - `AGENTOS_LLM_PROVIDER` = `offline | gemini | vertex | openai` chooses explicitly; otherwise
 *   `GEMINI_API_KEY` or `GOOGLE_API_KEY` → gemini, `GOOGLE_GENAI_USE_VERTEXAI=true` → vertex,
 *   `OPENAI_BASE_URL` → openai, else offline;
 * - `AGENTOS_LLM_MODEL` names the default model, `AGENTOS_LLM_BASE_URL` the server;
 * - vertex reads `GOOGLE_CLOUD_PROJECT` and `GOOGLE_CLOUD_LOCATION` (default us-central1);
 * - openai reads `OPENAI_BASE_URL` and, if set, `OPENAI_API_KEY`.
 * @category constructors
 */
export const fromEnv = (env: Env = process.env): Effect.Effect<ProviderConfig, ProviderConfigError> =>
  Effect.suspend(() => {
    const model = nonEmpty(env.AGENTOS_LLM_MODEL)
    const baseUrl = nonEmpty(env.AGENTOS_LLM_BASE_URL)
    const geminiKey = nonEmpty(env.GEMINI_API_KEY) ?? nonEmpty(env.GOOGLE_API_KEY)
    const explicit = nonEmpty(env.AGENTOS_LLM_PROVIDER)?.toLowerCase()
    const kind = explicit ?? (geminiKey !== undefined
      ? "gemini"
      : env.GOOGLE_GENAI_USE_VERTEXAI?.toLowerCase() === "true"
      ? "vertex"
      : nonEmpty(env.OPENAI_BASE_URL) !== undefined
      ? "openai"
      : "offline")
    const fail = (message: string) => Effect.fail(new ProviderConfigError({ message }))
    switch (kind) {
      case "offline":
        return Effect.succeed<ProviderConfig>({ kind: "offline", options: model === undefined ? {} : { model } })
      case "gemini":
        if (geminiKey === undefined) return fail("AGENTOS_LLM_PROVIDER=gemini needs GEMINI_API_KEY or GOOGLE_API_KEY")
        return Effect.succeed<ProviderConfig>({ kind: "gemini", apiKey: Redacted.make(geminiKey), baseUrl, model })
      case "vertex": {
        const project = nonEmpty(env.GOOGLE_CLOUD_PROJECT)
        if (project === undefined) return fail("the vertex provider needs GOOGLE_CLOUD_PROJECT")
        return Effect.succeed<ProviderConfig>({
          kind: "vertex",
          project,
          location: nonEmpty(env.GOOGLE_CLOUD_LOCATION) ?? "us-central1",
          baseUrl,
          model
        })
      }
      case "openai": {
        const url = nonEmpty(env.OPENAI_BASE_URL) ?? baseUrl
        if (url === undefined) return fail("AGENTOS_LLM_PROVIDER=openai needs OPENAI_BASE_URL (or AGENTOS_LLM_BASE_URL)")
        const key = nonEmpty(env.OPENAI_API_KEY)
        return Effect.succeed<ProviderConfig>({
          kind: "openai",
          baseUrl: url,
          apiKey: key === undefined ? undefined : Redacted.make(key),
          model
        })
      }
      default:
        return fail(`AGENTOS_LLM_PROVIDER=${explicit}: expected offline, gemini, vertex or openai`)
    }
  })

/** One line naming the provider, for logs: never a key. @category constructors */
/**
 * What the offline model is, once, for a person reading its answers, and how to get a real one.
 * @category constructors
 */
export const offlineHint =
  "the offline model answers with deterministic words (\"offline model: N words about …\"), not thoughts; for a real model set " +
  "GEMINI_API_KEY (Gemini), or GOOGLE_GENAI_USE_VERTEXAI=true with GOOGLE_CLOUD_PROJECT and application-default credentials (Vertex AI), " +
  "or OPENAI_BASE_URL=http://127.0.0.1:8080/v1 for a local OpenAI-compatible server (llama.cpp, Ollama, vLLM)"

export const describe = (config: ProviderConfig): string => {
  switch (config.kind) {
    case "offline":
      return `offline model (${config.options?.model ?? "offline"})`
    case "gemini":
      return `Gemini ${config.model ?? Gemini.DEFAULT_MODEL} at ${config.baseUrl ?? Gemini.DEFAULT_BASE_URL} (API key)`
    case "vertex":
      return `Gemini ${config.model ?? Gemini.DEFAULT_MODEL} on Vertex AI (${config.project}, ${config.location})`
    case "openai":
      return `OpenAI-compatible ${config.model ?? "default"} at ${config.baseUrl}${config.apiKey === undefined ? "" : " (API key)"}`
  }
}

/** The LanguageModel of a provider config (HTTP providers over fetch). @category layers */
export const layer = (config: ProviderConfig): Layer.Layer<LanguageModel.LanguageModel> => {
  switch (config.kind) {
    case "offline":
      return Offline.layer(config.options)
    case "gemini":
      return Gemini.layer(config).pipe(Layer.provide(FetchHttpClient.layer))
    case "vertex":
      return Gemini.layerVertex(config).pipe(Layer.provide(FetchHttpClient.layer))
    case "openai":
      return OpenAi.layer(config).pipe(Layer.provide(FetchHttpClient.layer))
  }
}

/** The LanguageModel the environment asks for (see `fromEnv`). @category layers */
export const layerFromEnv = (env: Env = process.env): Layer.Layer<LanguageModel.LanguageModel, ProviderConfigError> =>
  Layer.unwrap(Effect.map(fromEnv(env), layer))
