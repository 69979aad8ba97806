/**
 * Any OpenAI-compatible `/chat/completions` server (llama.cpp's server, vLLM, Ollama, OpenAI
 * itself) as an effect/ai LanguageModel, streaming (`stream: true`, server-sent events ending
 * in `[DONE]`, usage asked for with `stream_options.include_usage`) and not. The base URL
 * includes the version path, as OpenAI's own SDKs take it: `http://localhost:8080/v1`.
 */
import { Effect, Layer, Redacted, Stream } from "effect"
import { LanguageModel, type Response } from "effect/ai"
import { HttpClient } from "effect/http"
import * as LlmRequest from "../LlmRequest.ts"
import * as Http from "./internal/http.ts"
import * as Parts from "./internal/parts.ts"

/** An OpenAI-compatible server. @category models */
export interface Options {
  /** e.g. `http://127.0.0.1:8080/v1` (llama.cpp), `http://127.0.0.1:11434/v1` (Ollama). */
  readonly baseUrl: string
  /** Sent as a bearer token when given; local servers usually need none. */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** The model when the request names none (default "default", which llama.cpp ignores). */
  readonly model?: string | undefined
}

// ---------------------------------------------------------------------------------------------
// Wire format
// ---------------------------------------------------------------------------------------------

/** A `/chat/completions` request body. @category models */
export interface ChatCompletionRequest {
  readonly model: string
  readonly messages: ReadonlyArray<{ readonly role: "system" | "user" | "assistant"; readonly content: string }>
  readonly max_tokens?: number
  readonly stream: boolean
  readonly stream_options?: { readonly include_usage: boolean }
}

interface OpenAiUsage {
  readonly prompt_tokens?: number
  readonly completion_tokens?: number
  readonly prompt_tokens_details?: { readonly cached_tokens?: number } | null
  readonly completion_tokens_details?: { readonly reasoning_tokens?: number } | null
}

/** The fields of a `chat.completion` this provider reads. @category models */
export interface ChatCompletion {
  readonly id?: string
  readonly model?: string
  readonly choices?: ReadonlyArray<{ readonly message?: { readonly content?: string | null }; readonly finish_reason?: string | null }>
  readonly usage?: OpenAiUsage | null
}

/** The fields of a `chat.completion.chunk` this provider reads. @category models */
export interface ChatCompletionChunk {
  readonly id?: string
  readonly model?: string
  readonly choices?: ReadonlyArray<{ readonly delta?: { readonly content?: string | null }; readonly finish_reason?: string | null }>
  readonly usage?: OpenAiUsage | null
}

/** A conversation as a `/chat/completions` body. @category constructors */
export const toRequest = (
  messages: ReadonlyArray<LlmRequest.TextMessage>,
  model: string,
  maxTokens: number | undefined,
  stream: boolean
): ChatCompletionRequest => ({
  model,
  messages: messages.map((m) => ({ role: m.role, content: m.content })),
  ...(maxTokens === undefined ? {} : { max_tokens: maxTokens }),
  stream,
  ...(stream ? { stream_options: { include_usage: true } } : {})
})

/** OpenAI's finish reasons in effect/ai's words. @category constructors */
export const finishReason = (reason: string | null | undefined): Response.FinishReason | undefined => {
  switch (reason) {
    case null:
    case undefined:
      return undefined
    case "stop":
      return "stop"
    case "length":
      return "length"
    case "content_filter":
      return "content-filter"
    case "tool_calls":
    case "function_call":
      return "tool-calls"
    default:
      return "other"
  }
}

const usageOf = (usage: OpenAiUsage | null | undefined): Parts.UsageCounts | undefined =>
  usage === null || usage === undefined ? undefined : {
    inputTokens: usage.prompt_tokens,
    outputTokens: usage.completion_tokens,
    cachedTokens: usage.prompt_tokens_details?.cached_tokens,
    reasoningTokens: usage.completion_tokens_details?.reasoning_tokens
  }

/** A completion in neutral form. @category constructors */
export const fromCompletion = (completion: ChatCompletion): Parts.Delta => {
  const choice = completion.choices?.[0]
  return {
    text: choice?.message?.content ?? "",
    finishReason: finishReason(choice?.finish_reason),
    usage: usageOf(completion.usage),
    modelId: completion.model,
    id: completion.id
  }
}

/** One streamed chunk in neutral form. @category constructors */
export const fromChunk = (chunk: ChatCompletionChunk): Parts.Delta => {
  const choice = chunk.choices?.[0]
  return {
    text: choice?.delta?.content ?? undefined,
    finishReason: finishReason(choice?.finish_reason),
    usage: usageOf(chunk.usage),
    modelId: chunk.model,
    id: chunk.id
  }
}

// ---------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------

/** An OpenAI-compatible server as a LanguageModel. @category constructors */
export const make = (options: Options): Effect.Effect<LanguageModel.LanguageModel, never, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    const url = `${options.baseUrl.replace(/\/+$/, "")}/chat/completions`
    const headers = (): Record<string, string> =>
      options.apiKey === undefined ? {} : { authorization: `Bearer ${Redacted.value(options.apiKey)}` }
    const prepare = (prompt: LanguageModel.ProviderOptions["prompt"], stream: boolean) =>
      Effect.gen(function* () {
        const generation = yield* LlmRequest.GenerationOptions
        const model = generation.model ?? options.model ?? "default"
        return { model, body: toRequest(LlmRequest.textMessages(prompt), model, generation.maxTokens, stream) }
      })
    return yield* LanguageModel.make({
      generateText: (provider) =>
        Effect.gen(function* () {
          const site = { module: "OpenAi", method: "chat.completions" }
          const { model, body } = yield* prepare(provider.prompt, false)
          const response = yield* Http.postJson(client, site, url, headers(), body)
          const delta = fromCompletion((yield* Http.readJson(site, url, response)) as ChatCompletion)
          return Parts.toParts({
            text: delta.text ?? "",
            finishReason: delta.finishReason ?? "unknown",
            usage: delta.usage ?? {},
            modelId: delta.modelId ?? model,
            id: delta.id
          })
        }),
      streamText: (provider) =>
        Stream.unwrap(Effect.gen(function* () {
          const site = { module: "OpenAi", method: "chat.completions.stream" }
          const { model, body } = yield* prepare(provider.prompt, true)
          const response = yield* Http.postJson(client, site, url, headers(), body)
          const deltas = Http.events(site, url, response).pipe(
            Stream.takeWhile((data) => data.trim() !== "[DONE]"),
            Stream.mapEffect((data) => Http.parseEvent(site, data)),
            Stream.map((json) => fromChunk(json as ChatCompletionChunk))
          )
          return Parts.toStreamParts(deltas, model)
        }))
    })
  })

/** An OpenAI-compatible server as the LanguageModel layer. @category layers */
export const layer = (options: Options): Layer.Layer<LanguageModel.LanguageModel, never, HttpClient.HttpClient> =>
  Layer.effect(LanguageModel.LanguageModel, make(options))
