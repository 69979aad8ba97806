/**
 * What THINK asks of a model and what it gets back, independent of any provider: a
 * conversation of text messages, an optional model name and output cap; the answer's text,
 * its token usage and the model that produced it. `GenerationOptions` carries the model and
 * cap to the providers, since effect/ai's `generateText` options have no place for them.
 */
import { Context } from "effect"
import type { Prompt } from "effect/ai"

/** One message of a conversation. @category models */
export interface TextMessage {
  readonly role: "system" | "user" | "assistant"
  readonly content: string
}

/** A request for one completion. @category models */
export interface LlmRequest {
  readonly messages: ReadonlyArray<TextMessage>
  /** The provider's model name; the provider's default when absent. */
  readonly model?: string | undefined
  /** The most output tokens to generate. */
  readonly maxTokens?: number | undefined
}

/** Token counts of one completion. @category models */
export interface Usage {
  readonly inputTokens: number
  readonly outputTokens: number
}

/** One completion: THINK's reply. @category models */
export interface LlmResult {
  readonly content: string
  readonly usage: Usage
  readonly model: string
}

/** The model and output cap the current generation asks for; providers read it. @category services */
export const GenerationOptions = Context.Reference<{
  readonly model?: string | undefined
  readonly maxTokens?: number | undefined
}>("agentos/llm/GenerationOptions", { defaultValue: () => ({}) })

/** A request of a single user message. @category constructors */
export const fromPrompt = (prompt: string, options: { readonly model?: string; readonly maxTokens?: number } = {}): LlmRequest => ({
  messages: [{ role: "user", content: prompt }],
  ...options
})

/** The request's conversation in effect/ai's encoded form. @category constructors */
export const toPrompt = (request: LlmRequest): Prompt.RawInput =>
  request.messages.map((m): Prompt.MessageEncoded =>
    m.role === "system" ? { role: "system", content: m.content } : { role: m.role, content: m.content }
  )

/**
 * A Prompt's conversation as text messages, the form every provider's wire format takes. Tool
 * and file parts have no place in THINK and are dropped; reasoning parts are not resent.
 */
export const textMessages = (prompt: Prompt.Prompt): Array<TextMessage> => {
  const out: Array<TextMessage> = []
  for (const message of prompt.content) {
    switch (message.role) {
      case "system":
        out.push({ role: "system", content: message.content })
        break
      case "user":
      case "assistant": {
        const text = message.content.flatMap((part) => (part.type === "text" ? [part.text] : [])).join("")
        out.push({ role: message.role, content: text })
        break
      }
      case "tool":
        break
    }
  }
  return out
}

/** The text of the last user message, or "" when there is none. */
export const lastUserText = (messages: ReadonlyArray<TextMessage>): string =>
  messages.findLast((m) => m.role === "user")?.content ?? ""
