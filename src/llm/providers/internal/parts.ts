/**
 * A provider's answer in neutral form, and its translation into effect/ai's encoded response
 * parts: one completion becomes metadata, text and finish parts; a stream of deltas becomes
 * metadata, text-start, text-delta…, text-end and a finish part carrying the last usage seen.
 */
import { Stream } from "effect"
import type { Response } from "effect/ai"

/** Token counts as a provider reports them. */
export interface UsageCounts {
  readonly inputTokens?: number | undefined
  readonly outputTokens?: number | undefined
  /** Of the input, read from the provider's cache. */
  readonly cachedTokens?: number | undefined
  /** Of the output, spent on reasoning ("thoughts"). */
  readonly reasoningTokens?: number | undefined
}

/** One whole completion. */
export interface Completion {
  readonly text: string
  readonly finishReason: Response.FinishReason
  readonly usage: UsageCounts
  readonly modelId?: string | undefined
  readonly id?: string | undefined
}

/** What one streamed event adds. */
export interface Delta {
  readonly text?: string | undefined
  readonly finishReason?: Response.FinishReason | undefined
  readonly usage?: UsageCounts | undefined
  readonly modelId?: string | undefined
  readonly id?: string | undefined
}

const usageEncoded = (usage: UsageCounts): Response.FinishPartEncoded["usage"] => ({
  inputTokens: {
    total: usage.inputTokens,
    uncached: usage.inputTokens === undefined ? undefined : usage.inputTokens - (usage.cachedTokens ?? 0),
    cacheRead: usage.cachedTokens
  },
  outputTokens: {
    total: usage.outputTokens,
    text: usage.outputTokens === undefined ? undefined : usage.outputTokens - (usage.reasoningTokens ?? 0),
    reasoning: usage.reasoningTokens
  }
})

/** A completion as effect/ai's encoded parts. */
export const toParts = (completion: Completion): Array<Response.PartEncoded> => [
  { type: "response-metadata", modelId: completion.modelId, id: completion.id },
  { type: "text", text: completion.text },
  { type: "finish", reason: completion.finishReason, usage: usageEncoded(completion.usage) }
]

interface StreamState {
  started: boolean
  metadata: boolean
  finishReason: Response.FinishReason
  usage: UsageCounts
}

/**
 * Deltas as effect/ai's encoded stream parts; the finish part comes when the deltas end. The
 * metadata part names the model of the first delta, or `modelId` when it names none.
 */
export const toStreamParts = <E, R>(deltas: Stream.Stream<Delta, E, R>, modelId: string): Stream.Stream<Response.StreamPartEncoded, E, R> =>
  deltas.pipe(
    Stream.mapAccum(
      (): StreamState => ({ started: false, metadata: false, finishReason: "unknown", usage: {} }),
      (state, delta): readonly [StreamState, ReadonlyArray<Response.StreamPartEncoded>] => {
        const out: Array<Response.StreamPartEncoded> = []
        if (!state.metadata) {
          state.metadata = true
          out.push({ type: "response-metadata", modelId: delta.modelId ?? modelId, id: delta.id })
        }
        if (delta.text !== undefined && delta.text !== "") {
          if (!state.started) {
            state.started = true
            out.push({ type: "text-start", id: "0" })
          }
          out.push({ type: "text-delta", id: "0", delta: delta.text })
        }
        if (delta.finishReason !== undefined) state.finishReason = delta.finishReason
        if (delta.usage !== undefined) state.usage = delta.usage
        return [state, out]
      },
      {
        onHalt: (state): ReadonlyArray<Response.StreamPartEncoded> => [
          ...(state.started ? [{ type: "text-end" as const, id: "0" }] : []),
          { type: "finish", reason: state.finishReason, usage: usageEncoded(state.usage) }
        ]
      }
    )
  )
