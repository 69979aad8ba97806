/**
 * The offline model: deterministic and network-free. Its answer is derived from the
 * conversation (the same prompt always gets the same words), its latency and token counts are
 * configured, and its time comes from Clock, so under TestClock a test decides when it
 * answers. It is the provider when no key is configured, what the demos use, and the fake
 * upstream of the scheduler's tests. The local TestServer answers with the same words.
 */
import { Effect, Layer, Stream } from "effect"
import { LanguageModel, type Response } from "effect/ai"
import * as LlmRequest from "../LlmRequest.ts"
import * as Tokens from "../Tokens.ts"

/** How the offline model behaves. @category models */
export interface Options {
  /** Time to the first token, ms (default 0). */
  readonly latencyMs?: number
  /** Output pace per request; 0 or absent: all at once after the latency. */
  readonly tokensPerSecond?: number
  /** Output length in tokens (default 32), or a function of the request; capped by maxTokens. */
  readonly outputTokens?: number | ((request: LlmRequest.LlmRequest) => number) | undefined
  /** The model name it reports when the request names none (default "offline"). */
  readonly model?: string
}

const VOCABULARY = (
  "the kernel agent answer plan step check result token model queue fair share weight budget " +
  "process supervisor restart message mailbox signal memory limit cgroup sandbox tree child " +
  "worker state ready done next because so then first finally retry wait send receive ok"
).split(" ")

/** FNV-1a over the conversation: the seed of its answer. */
const hash = (messages: ReadonlyArray<LlmRequest.TextMessage>): number => {
  let h = 0x811c9dc5
  for (const m of messages) {
    for (const ch of `${m.role}:${m.content}\n`) {
      h ^= ch.codePointAt(0)!
      h = Math.imul(h, 0x01000193) >>> 0
    }
  }
  return h
}

/** How many tokens the answer to a request has. @category constructors */
export const outputTokensFor = (request: LlmRequest.LlmRequest, outputTokens: Options["outputTokens"] = 32): number => {
  const wanted = typeof outputTokens === "function" ? outputTokens(request) : outputTokens
  const cap = request.maxTokens ?? Number.POSITIVE_INFINITY
  return Math.max(0, Math.floor(Math.min(wanted, cap)))
}

/**
 * The answer to a conversation, as its tokens: `count` of them, saying what they are, then words
 * of the last user message (the vocabulary below when it has none) chosen by a generator seeded
 * with the conversation's hash: "offline model: 32 words about kernel budget …". Joined they are
 * the answer's text; the same conversation always gets the same one.
 * @category constructors
 */
export const answerTokens = (messages: ReadonlyArray<LlmRequest.TextMessage>, count: number): Array<string> => {
  let state = hash(messages) || 1
  const lastUser = [...messages].reverse().find((m) => m.role === "user")?.content ?? ""
  const own = [...new Set(lastUser.toLowerCase().match(/[\p{L}\p{N}]{3,}/gu) ?? [])].slice(0, 16)
  const words = own.length > 0 ? own : VOCABULARY
  const out = ["offline", " model:", ` ${count}`, " words", " about"].slice(0, count)
  while (out.length < count) {
    // xorshift32: cheap, deterministic, good enough to vary the words.
    state ^= state << 13
    state >>>= 0
    state ^= state >>> 17
    state ^= state << 5
    state >>>= 0
    out.push(` ${words[state % words.length]!}`)
  }
  return out
}

/** The whole answer to a request, with its usage. @category constructors */
export const answer = (request: LlmRequest.LlmRequest, options: Options = {}): { readonly tokens: Array<string>; readonly usage: LlmRequest.Usage } => {
  const tokens = answerTokens(request.messages, outputTokensFor(request, options.outputTokens))
  return { tokens, usage: { inputTokens: Tokens.estimateMessages(request.messages), outputTokens: tokens.length } }
}

const usageEncoded = (usage: LlmRequest.Usage) => ({
  inputTokens: { total: usage.inputTokens, uncached: usage.inputTokens },
  outputTokens: { total: usage.outputTokens, text: usage.outputTokens }
})

/** The offline model as an effect/ai LanguageModel. @category constructors */
export const make = (options: Options = {}): Effect.Effect<LanguageModel.LanguageModel> => {
  const latencyMs = options.latencyMs ?? 0
  const perTokenMs = options.tokensPerSecond !== undefined && options.tokensPerSecond > 0 ? 1000 / options.tokensPerSecond : 0
  const requestOf = (prompt: LanguageModel.ProviderOptions["prompt"]) =>
    Effect.gen(function* () {
      const generation = yield* LlmRequest.GenerationOptions
      return {
        messages: LlmRequest.textMessages(prompt),
        model: generation.model ?? options.model ?? "offline",
        maxTokens: generation.maxTokens
      } satisfies LlmRequest.LlmRequest
    })
  const sleep = (ms: number) => (ms > 0 ? Effect.sleep(ms) : Effect.void)
  return LanguageModel.make({
    generateText: (provider) =>
      Effect.gen(function* () {
        const request = yield* requestOf(provider.prompt)
        const { tokens, usage } = answer(request, options)
        yield* sleep(latencyMs + perTokenMs * tokens.length)
        const parts: Array<Response.PartEncoded> = [
          { type: "response-metadata", modelId: request.model },
          { type: "text", text: tokens.join("") },
          { type: "finish", reason: "stop", usage: usageEncoded(usage) }
        ]
        return parts
      }),
    streamText: (provider) =>
      Stream.unwrap(Effect.gen(function* () {
        const request = yield* requestOf(provider.prompt)
        const { tokens, usage } = answer(request, options)
        const head: Array<Response.StreamPartEncoded> = [
          { type: "response-metadata", modelId: request.model },
          { type: "text-start", id: "0" }
        ]
        const tail: Array<Response.StreamPartEncoded> = [
          { type: "text-end", id: "0" },
          { type: "finish", reason: "stop", usage: usageEncoded(usage) }
        ]
        return Stream.fromIterable(head).pipe(
          Stream.concat(Stream.fromEffect(sleep(latencyMs)).pipe(Stream.drain)),
          Stream.concat(Stream.fromIterable(tokens).pipe(
            Stream.mapEffect((delta) => Effect.as(sleep(perTokenMs), { type: "text-delta" as const, id: "0", delta }))
          )),
          Stream.concat(Stream.fromIterable(tail))
        )
      }))
  })
}

/** The offline model as the LanguageModel layer. @category layers */
export const layer = (options: Options = {}): Layer.Layer<LanguageModel.LanguageModel> =>
  Layer.effect(LanguageModel.LanguageModel, make(options))
