/**
 * Token arithmetic shared by the offline model, the local test server and the scheduler's
 * admission estimates. Real providers report exact counts in their usage; this is the
 * deterministic approximation used where no provider has counted yet (about four characters a
 * token, the rule of thumb OpenAI and Google both publish for English).
 */
import type { TextMessage } from "./LlmRequest.ts"

/** Characters per token of the estimate. */
const CHARS_PER_TOKEN = 4

/** An estimate of how many tokens a text is: ceil(chars / 4), at least 1 for non-empty text. @category constructors */
export const estimate = (text: string): number => (text.length === 0 ? 0 : Math.ceil(text.length / CHARS_PER_TOKEN))

/** An estimate of a conversation's input tokens: each message's text plus 4 tokens of framing. @category constructors */
export const estimateMessages = (messages: ReadonlyArray<TextMessage>): number =>
  messages.reduce((sum, m) => sum + estimate(m.content) + 4, 0)
