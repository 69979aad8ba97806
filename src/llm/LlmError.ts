/**
 * How a THINK can fail, as the scheduler reports it: one error with a tagged `reason`, each of
 * which the THINK syscall turns into one KernelError (and so one protocol code). Upstream
 * failures arrive as effect/ai `AiError`s and are classified here once, for every provider.
 */
import { Data, Duration } from "effect"
import { AiError } from "effect/ai"

/**
 * Why a request failed.
 * - `InvalidRequest`: the provider rejected the request (HTTP 400) → EINVAL
 * - `Denied`: the provider refused the credentials (401/403) → EPERM
 * - `RateLimited`: upstream 429 after every retry, or the agent's own limits → ERATE
 * - `BudgetExhausted`: the agent spent its token budget → ERATE
 * - `Unavailable`: upstream 5xx or unreachable after every retry → EAGAIN
 * - `TimedOut`: no answer within the request timeout → ETIMEDOUT
 * - `Cancelled`: the agent was cancelled (it died) while the request waited or ran → EAGAIN
 * @category models
 */
export type Reason = "InvalidRequest" | "Denied" | "RateLimited" | "BudgetExhausted" | "Unavailable" | "TimedOut" | "Cancelled"

/** A failed LLM request. @category errors */
export class LlmError extends Data.TaggedError("LlmError")<{
  readonly reason: Reason
  readonly message: string
  /** For `RateLimited` and `BudgetExhausted`: when the same request may succeed. */
  readonly retryAfterMs?: number
}> {}

/** What the scheduler does with an upstream failure. @category models */
export type Disposition =
  | { readonly _tag: "Retry"; readonly reason: "RateLimited" | "Unavailable"; readonly retryAfterMs: number | undefined }
  | { readonly _tag: "Fail"; readonly reason: Reason }

/**
 * Classifies an upstream error: 429 and quota errors are retried (honouring their retry-after),
 * 5xx and network errors are retried, everything else fails at once.
 */
export const classify = (error: AiError.AiError): Disposition => {
  const reason = error.reason
  const retryAfter = error.retryAfter
  const retryAfterMs = retryAfter === undefined ? undefined : Duration.toMillis(retryAfter)
  switch (reason._tag) {
    case "RateLimitError":
    case "QuotaExhaustedError":
      return { _tag: "Retry", reason: "RateLimited", retryAfterMs }
    case "InternalProviderError":
    case "NetworkError":
      return { _tag: "Retry", reason: "Unavailable", retryAfterMs }
    case "AuthenticationError":
      return { _tag: "Fail", reason: "Denied" }
    case "InvalidRequestError":
    case "ContentPolicyError":
    case "InvalidUserInputError":
      return { _tag: "Fail", reason: "InvalidRequest" }
    default:
      return { _tag: "Fail", reason: "Unavailable" }
  }
}

/** An upstream error as an LlmError of the given reason, naming the provider's words. @category constructors */
export const fromAiError = (error: AiError.AiError, reason: Reason, context: string, retryAfterMs?: number): LlmError =>
  new LlmError({
    reason,
    // A credential failure's own words first: effect's generic "MissingKey: No API key
    // provided…" would send a Vertex AI user looking for a key it does not use.
    message: `${context}: ${error.reason._tag === "AuthenticationError" && error.reason.description !== undefined ? error.reason.description : error.message}`,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs })
  })
