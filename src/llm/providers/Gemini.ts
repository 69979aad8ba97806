/**
 * Google Gemini as an effect/ai LanguageModel, over its REST wire format: `generateContent`
 * and `streamGenerateContent?alt=sse`, either on the Generative Language API with an API key
 * (sent as the `x-goog-api-key` header, kept Redacted, never logged) or on Vertex AI with
 * application-default credentials from google-auth-library. Usage comes from
 * `usageMetadata`; HTTP statuses become AiError reasons (providers/internal/http.ts), which
 * the scheduler retries or maps to protocol codes.
 */
import { Effect, Layer, Redacted, Stream } from "effect"
import { AiError, LanguageModel, type Response } from "effect/ai"
import { HttpClient } from "effect/http"
import { GoogleAuth } from "google-auth-library"
import * as Fs from "node:fs"
import * as LlmRequest from "../LlmRequest.ts"
import * as Http from "./internal/http.ts"
import * as Parts from "./internal/parts.ts"

/** The default model when neither the request nor the config names one. @category models */
export const DEFAULT_MODEL = "gemini-2.5-flash"

/** The Generative Language API's default address. @category models */
export const DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"

/** Gemini through the Generative Language API and an API key. @category models */
export interface Options {
  readonly apiKey: Redacted.Redacted<string>
  /** Default https://generativelanguage.googleapis.com. */
  readonly baseUrl?: string | undefined
  /** Default v1beta. */
  readonly apiVersion?: string | undefined
  readonly model?: string | undefined
}

/** Gemini through Vertex AI and application-default credentials. @category models */
export interface VertexOptions {
  readonly project: string
  /** A region (`us-central1`) or `global`. */
  readonly location: string
  /** Default https://{location}-aiplatform.googleapis.com (https://aiplatform.googleapis.com for global). */
  readonly baseUrl?: string | undefined
  readonly model?: string | undefined
  /** An OAuth access token; default: google-auth-library's application-default credentials. */
  readonly accessToken?: (() => Promise<string>) | undefined
}

// ---------------------------------------------------------------------------------------------
// Wire format
// ---------------------------------------------------------------------------------------------

/** A `generateContent` request body. @category models */
export interface GenerateContentRequest {
  readonly contents: ReadonlyArray<{ readonly role: "user" | "model"; readonly parts: ReadonlyArray<{ readonly text: string }> }>
  readonly systemInstruction?: { readonly parts: ReadonlyArray<{ readonly text: string }> }
  readonly generationConfig?: { readonly maxOutputTokens?: number }
}

/** The fields of a `GenerateContentResponse` this provider reads. @category models */
export interface GenerateContentResponse {
  readonly candidates?: ReadonlyArray<{
    readonly content?: { readonly parts?: ReadonlyArray<{ readonly text?: string; readonly thought?: boolean }> }
    readonly finishReason?: string
  }>
  readonly promptFeedback?: { readonly blockReason?: string }
  readonly usageMetadata?: {
    readonly promptTokenCount?: number
    readonly candidatesTokenCount?: number
    readonly thoughtsTokenCount?: number
    readonly cachedContentTokenCount?: number
    readonly totalTokenCount?: number
  }
  readonly modelVersion?: string
  readonly responseId?: string
}

/**
 * A conversation as a `generateContent` body: system messages become the
 * `systemInstruction`, `assistant` is Gemini's `model` role, `maxTokens` its
 * `maxOutputTokens`. @category constructors
 */
export const toRequest = (messages: ReadonlyArray<LlmRequest.TextMessage>, maxTokens: number | undefined): GenerateContentRequest => {
  const system = messages.filter((m) => m.role === "system").map((m) => ({ text: m.content }))
  const contents = messages
    .filter((m) => m.role !== "system")
    .map((m) => ({ role: m.role === "assistant" ? ("model" as const) : ("user" as const), parts: [{ text: m.content }] }))
  return {
    contents,
    ...(system.length === 0 ? {} : { systemInstruction: { parts: system } }),
    ...(maxTokens === undefined ? {} : { generationConfig: { maxOutputTokens: maxTokens } })
  }
}

/** Gemini's finish reasons in effect/ai's words. @category constructors */
export const finishReason = (reason: string | undefined): Response.FinishReason | undefined => {
  switch (reason) {
    case undefined:
    case "FINISH_REASON_UNSPECIFIED":
      return undefined
    case "STOP":
      return "stop"
    case "MAX_TOKENS":
      return "length"
    case "SAFETY":
    case "RECITATION":
    case "BLOCKLIST":
    case "PROHIBITED_CONTENT":
    case "SPII":
    case "IMAGE_SAFETY":
      return "content-filter"
    case "MALFORMED_FUNCTION_CALL":
      return "error"
    default:
      return "other"
  }
}

/** One response (or one streamed chunk of it) in neutral form. @category constructors */
export const fromResponse = (response: GenerateContentResponse): Parts.Delta => {
  const candidate = response.candidates?.[0]
  const text = (candidate?.content?.parts ?? []).flatMap((p) => (p.thought === true || p.text === undefined ? [] : [p.text])).join("")
  const usage = response.usageMetadata
  const blocked = response.promptFeedback?.blockReason !== undefined ? "content-filter" as const : undefined
  return {
    text,
    finishReason: finishReason(candidate?.finishReason) ?? blocked,
    usage: usage === undefined ? undefined : {
      inputTokens: usage.promptTokenCount,
      outputTokens: (usage.candidatesTokenCount ?? 0) + (usage.thoughtsTokenCount ?? 0),
      cachedTokens: usage.cachedContentTokenCount,
      reasoningTokens: usage.thoughtsTokenCount
    },
    modelId: response.modelVersion,
    id: response.responseId
  }
}

// ---------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------

/** Where and how to send one request: URLs and headers, built per request (tokens expire). */
interface Endpoint {
  readonly module: string
  readonly defaultModel: string
  readonly url: (model: string, method: "generateContent" | "streamGenerateContent") => string
  readonly headers: Effect.Effect<Record<string, string>, AiError.AiError>
}

const modelName = (model: string) => (model.startsWith("models/") ? model.slice("models/".length) : model)

const makeWith = (endpoint: Endpoint) =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    const prepare = (method: "generateContent" | "streamGenerateContent", prompt: LanguageModel.ProviderOptions["prompt"]) =>
      Effect.gen(function* () {
        const generation = yield* LlmRequest.GenerationOptions
        const model = modelName(generation.model ?? endpoint.defaultModel)
        const site = { module: endpoint.module, method }
        const url = endpoint.url(model, method)
        const headers = yield* endpoint.headers
        const body = toRequest(LlmRequest.textMessages(prompt), generation.maxTokens)
        return { model, site, url, headers, body }
      })
    return yield* LanguageModel.make({
      generateText: (options) =>
        Effect.gen(function* () {
          const { model, site, url, headers, body } = yield* prepare("generateContent", options.prompt)
          const response = yield* Http.postJson(client, site, url, headers, body)
          const json = (yield* Http.readJson(site, url, response)) as GenerateContentResponse
          const delta = fromResponse(json)
          return Parts.toParts({
            text: delta.text ?? "",
            finishReason: delta.finishReason ?? "unknown",
            usage: delta.usage ?? {},
            modelId: delta.modelId ?? model,
            id: delta.id
          })
        }),
      streamText: (options) =>
        Stream.unwrap(Effect.gen(function* () {
          const { model, site, url, headers, body } = yield* prepare("streamGenerateContent", options.prompt)
          const response = yield* Http.postJson(client, site, url, headers, body)
          const deltas = Http.events(site, url, response).pipe(
            Stream.mapEffect((data) => Http.parseEvent(site, data)),
            Stream.map((json) => fromResponse(json as GenerateContentResponse))
          )
          return Parts.toStreamParts(deltas, model)
        }))
    })
  })

/** Gemini on the Generative Language API. @category constructors */
export const make = (options: Options): Effect.Effect<LanguageModel.LanguageModel, never, HttpClient.HttpClient> => {
  const base = (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, "")
  const version = options.apiVersion ?? "v1beta"
  return makeWith({
    module: "Gemini",
    defaultModel: options.model ?? DEFAULT_MODEL,
    url: (model, method) =>
      `${base}/${version}/models/${encodeURIComponent(model)}:${method}${method === "streamGenerateContent" ? "?alt=sse" : ""}`,
    headers: Effect.sync(() => ({ "x-goog-api-key": Redacted.value(options.apiKey) }))
  })
}

/** The OAuth scope Vertex AI needs. */
const CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"

/** An access token from application-default credentials (google-auth-library caches and refreshes it). */
const adcToken = (): (() => Promise<string>) => {
  let auth: GoogleAuth | undefined
  return async () => {
    auth ??= new GoogleAuth({ scopes: [CLOUD_PLATFORM_SCOPE] })
    const token = await auth.getAccessToken()
    if (token === null || token === undefined || token === "") throw new Error("application-default credentials gave no access token")
    return token
  }
}

/**
 * Where application-default credentials were looked for (google-auth-library's order), each
 * with what was found, and what to set: the words a user needs when Vertex AI gets no token.
 */
const adcProblem = (cause: unknown): string => {
  const env = process.env.GOOGLE_APPLICATION_CREDENTIALS
  const home = process.env.HOME ?? ""
  const gcloud = `${process.env.CLOUDSDK_CONFIG ?? `${home}/.config/gcloud`}/application_default_credentials.json`
  const exists = (path: string) => {
    try {
      return Fs.statSync(path).isFile()
    } catch {
      return false
    }
  }
  const tried = [
    `GOOGLE_APPLICATION_CREDENTIALS (${env === undefined ? "not set" : exists(env) ? `${env}: present` : `${env}: no such file`})`,
    `gcloud's ${gcloud} (${exists(gcloud) ? "present" : "missing"})`,
    "the Compute Engine metadata server"
  ]
  return `Vertex AI got no access token from application-default credentials (${cause instanceof Error ? cause.message : String(cause)}); ` +
    `tried ${tried.join(", ")}. Set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, run ` +
    "`gcloud auth application-default login`, or use Gemini's API instead with GEMINI_API_KEY"
}

/** Gemini on Vertex AI. @category constructors */
export const makeVertex = (options: VertexOptions): Effect.Effect<LanguageModel.LanguageModel, never, HttpClient.HttpClient> => {
  const base = (options.baseUrl ?? (options.location === "global"
    ? "https://aiplatform.googleapis.com"
    : `https://${options.location}-aiplatform.googleapis.com`)).replace(/\/+$/, "")
  const token = options.accessToken ?? adcToken()
  const prefix = `${base}/v1/projects/${encodeURIComponent(options.project)}/locations/${encodeURIComponent(options.location)}/publishers/google/models`
  return makeWith({
    module: "VertexGemini",
    defaultModel: options.model ?? DEFAULT_MODEL,
    url: (model, method) => `${prefix}/${encodeURIComponent(model)}:${method}${method === "streamGenerateContent" ? "?alt=sse" : ""}`,
    headers: Effect.tryPromise({
      try: () => token(),
      catch: (e) =>
        AiError.make({
          module: "VertexGemini",
          method: "credentials",
          reason: new AiError.AuthenticationError({
            kind: "MissingKey",
            description: adcProblem(e)
          })
        })
    }).pipe(Effect.map((t) => ({ authorization: `Bearer ${t}` })))
  })
}

/** Gemini (API key) as the LanguageModel layer. @category layers */
export const layer = (options: Options): Layer.Layer<LanguageModel.LanguageModel, never, HttpClient.HttpClient> =>
  Layer.effect(LanguageModel.LanguageModel, make(options))

/** Gemini on Vertex AI as the LanguageModel layer. @category layers */
export const layerVertex = (options: VertexOptions): Layer.Layer<LanguageModel.LanguageModel, never, HttpClient.HttpClient> =>
  Layer.effect(LanguageModel.LanguageModel, makeVertex(options))
