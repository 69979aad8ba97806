/**
 * What the HTTP providers (Gemini, OpenAI-compatible) share: posting a JSON body, turning a
 * non-2xx answer into the AiError reason its status means (with Retry-After read from the
 * header, `retry-after-ms`, or Gemini's RetryInfo), and splitting a server-sent-events body
 * into its `data:` payloads. Credentials travel in headers and never appear in an error.
 */
import { Clock, Duration, Effect, Option, Result, Stream } from "effect"
import { AiError } from "effect/ai"
import { Headers, HttpBody, HttpClient, HttpClientRequest, type HttpClientResponse } from "effect/http"

/** Where a failure happened, for AiError's `module` and `method`. */
export interface Site {
  readonly module: string
  readonly method: string
}

/**
 * Headers that carry credentials. The HTTP client records request headers on its trace spans
 * and redacts only the names in `Headers.CurrentRedactedNames`, which does not know Gemini's.
 */
const SECRET_HEADERS: ReadonlyArray<string> = ["x-goog-api-key", "authorization"]

/** At most this much of an error body is kept in a message. */
const MAX_ERROR_BODY = 500

/**
 * The delay a 429/503 asks for: `retry-after-ms` (OpenAI, vLLM), then `Retry-After` in seconds
 * or as an HTTP date, then Gemini's `RetryInfo.retryDelay` ("1.5s") in the error body.
 */
export const retryAfterMs = (headers: Headers.Headers, body: unknown, now: number): number | undefined => {
  const ms = Option.getOrUndefined(Headers.get(headers, "retry-after-ms"))
  if (ms !== undefined && Number.isFinite(Number(ms)) && Number(ms) >= 0) return Number(ms)
  const header = Option.getOrUndefined(Headers.get(headers, "retry-after"))
  if (header !== undefined) {
    const seconds = Number(header)
    if (header.trim() !== "" && Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
    const parsed = Headers.parseRetryAfter(header)
    if (Result.isSuccess(parsed)) return Duration.toMillis(Headers.retryAfterDelay(parsed.success, now))
  }
  const details = (body as { error?: { details?: ReadonlyArray<{ retryDelay?: unknown }> } } | undefined)?.error?.details
  for (const detail of Array.isArray(details) ? details : []) {
    const delay = typeof detail?.retryDelay === "string" ? /^(\d+(?:\.\d+)?)s$/.exec(detail.retryDelay) : null
    if (delay !== null) return Number(delay[1]) * 1000
  }
  return undefined
}

/** The provider's own words for an error: `error.message` of the JSON body, or the body's start. */
const describeBody = (text: string, json: unknown): string => {
  const error = (json as { error?: unknown } | undefined)?.error
  if (typeof error === "string") return error
  const message = (error as { message?: unknown } | undefined)?.message
  if (typeof message === "string") return message
  return text.slice(0, MAX_ERROR_BODY)
}

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/**
 * The AiError a non-2xx status means: 400/404/422 invalid request, 401 invalid key, 403
 * insufficient permissions, 429 rate limit (with its retry-after), 5xx provider error.
 */
export const statusError = (site: Site, status: number, headers: Headers.Headers, text: string, now: number): AiError.AiError => {
  const json = parseJson(text)
  const description = `HTTP ${status}: ${describeBody(text, json)}`
  const http = { response: { status, headers: {} }, body: text.slice(0, MAX_ERROR_BODY) }
  const retryAfter = retryAfterMs(headers, json, now)
  let reason: AiError.AiErrorReason
  if (status === 429) {
    reason = new AiError.RateLimitError({
      http,
      ...(retryAfter === undefined ? {} : { retryAfter: Duration.millis(retryAfter) })
    })
  } else if (status === 400 || status === 404 || status === 413 || status === 422) {
    reason = new AiError.InvalidRequestError({ description, http })
  } else if (status === 401) {
    reason = new AiError.AuthenticationError({ kind: "InvalidKey", description, http })
  } else if (status === 403) {
    reason = new AiError.AuthenticationError({ kind: "InsufficientPermissions", description, http })
  } else if (status >= 500) {
    reason = new AiError.InternalProviderError({ description, http })
  } else {
    reason = new AiError.UnknownError({ description, http })
  }
  return AiError.make({ module: site.module, method: site.method, reason })
}

/** A transport failure (connection refused, reset, body cut short) as a NetworkError. */
export const transportError = (site: Site, method: string, url: string, description: string): AiError.AiError =>
  AiError.make({
    module: site.module,
    method: site.method,
    reason: new AiError.NetworkError({ reason: "TransportError", method, url, description })
  })

/** A 2xx answer whose body is not what the wire format promises. */
export const invalidResponse = (site: Site, description: string): AiError.AiError =>
  AiError.make({ module: site.module, method: site.method, reason: new AiError.InvalidResponseError({ description }) })

/**
 * POSTs a JSON body and returns the 2xx response with its body unread; any other status
 * fails with the AiError it means, after reading the body for its description.
 */
export const postJson = (
  client: HttpClient.HttpClient,
  site: Site,
  url: string,
  headers: Record<string, string>,
  body: unknown
): Effect.Effect<HttpClientResponse.HttpClientResponse, AiError.AiError> =>
  Effect.gen(function* () {
    const request = HttpClientRequest.post(url, { headers, body: HttpBody.jsonUnsafe(body) })
    const redacted = yield* Headers.CurrentRedactedNames
    const response = yield* client.execute(request).pipe(
      Effect.provideService(Headers.CurrentRedactedNames, [...redacted, ...SECRET_HEADERS]),
      Effect.mapError((e) => transportError(site, "POST", url, e.reason.description ?? e.message))
    )
    if (response.status >= 200 && response.status < 300) return response
    const text = yield* response.text.pipe(Effect.orElseSucceed(() => ""))
    const now = yield* Clock.currentTimeMillis
    return yield* Effect.fail(statusError(site, response.status, response.headers, text, now))
  })

/** Reads a 2xx response's body as JSON. */
export const readJson = (site: Site, url: string, response: HttpClientResponse.HttpClientResponse): Effect.Effect<unknown, AiError.AiError> =>
  response.text.pipe(
    Effect.mapError((e) => transportError(site, "POST", url, e.reason.description ?? e.message)),
    Effect.flatMap((text) => {
      const json = parseJson(text)
      return json === undefined ? Effect.fail(invalidResponse(site, `response is not JSON: ${text.slice(0, 200)}`)) : Effect.succeed(json)
    })
  )

/**
 * The `data:` payloads of a server-sent-events body, one per event (multi-line data joined
 * with "\n", as the SSE spec says); comments and other fields are skipped.
 */
export const sseData = <E, R>(bytes: Stream.Stream<Uint8Array, E, R>): Stream.Stream<string, E, R> =>
  bytes.pipe(
    Stream.decodeText(),
    Stream.splitLines,
    Stream.mapAccum(
      (): Array<string> => [],
      (data, line): readonly [Array<string>, ReadonlyArray<string>] => {
        if (line === "") return data.length === 0 ? [data, []] : [[], [data.join("\n")]]
        if (line.startsWith("data:")) return [[...data, line.slice(line.startsWith("data: ") ? 6 : 5)], []]
        return [data, []]
      },
      { onHalt: (data) => (data.length === 0 ? [] : [data.join("\n")]) }
    )
  )

/** Parses one SSE payload as JSON, failing with InvalidResponseError. */
export const parseEvent = (site: Site, data: string): Effect.Effect<unknown, AiError.AiError> => {
  const json = parseJson(data)
  return json === undefined ? Effect.fail(invalidResponse(site, `stream event is not JSON: ${data.slice(0, 200)}`)) : Effect.succeed(json)
}

/** The response's body as SSE payloads, transport failures as NetworkErrors. */
export const events = (site: Site, url: string, response: HttpClientResponse.HttpClientResponse): Stream.Stream<string, AiError.AiError> =>
  sseData(response.stream).pipe(Stream.mapError((e) => transportError(site, "POST", url, e.reason.description ?? e.message)))
