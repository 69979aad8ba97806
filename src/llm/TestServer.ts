/**
 * A local LLM server of the project's own, on node:http, speaking the wire formats the real
 * providers speak: Gemini's `generateContent` / `streamGenerateContent?alt=sse` (Generative
 * Language and Vertex AI paths) and OpenAI's `/v1/chat/completions` (streaming and not). It
 * answers with the offline model's words, at a configured latency and tokens per second, with
 * a concurrent capacity (requests past it queue, or are refused with 429/503), and with
 * injected error responses (429 with Retry-After, 503, …). Tests and benchmarks run the real
 * HTTP clients against it on 127.0.0.1; it records what it was sent and how busy it was.
 * It also runs as its own process (see the end of this file).
 */
import { Effect, type Scope } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import type * as LlmRequest from "./LlmRequest.ts"
import * as Offline from "./providers/Offline.ts"

/** Which wire format a request spoke. @category models */
export type Api = "gemini" | "vertex" | "openai"

/** An error response to inject. @category models */
export interface Injection {
  /** The HTTP status to answer with (429, 503, 500, 400, 401, …). */
  readonly status: number
  /** How many requests get it (default 1). */
  readonly times?: number
  /** Let this many matching requests through first (default 0). */
  readonly after?: number
  /** Only for this wire format. */
  readonly api?: Api
  /** Sent as `Retry-After` (seconds; Gemini also gets it as RetryInfo in the body). */
  readonly retryAfterSeconds?: number
  /** Sent as `retry-after-ms`, as OpenAI and vLLM do. */
  readonly retryAfterMs?: number
  readonly message?: string
}

/** How the server behaves. @category models */
export interface Options {
  /** Default 0: any free port. */
  readonly port?: number
  /** Default 127.0.0.1. */
  readonly host?: string
  /** Time to the first token once a request holds a slot, ms (default 0). */
  readonly latencyMs?: number
  /** Output pace of each request; 0 or absent: all at once after the latency. */
  readonly tokensPerSecond?: number
  /** Requests generated at once (default unbounded). */
  readonly capacity?: number
  /** What a request finds when every slot is taken: a FIFO wait (default), or this status. */
  readonly overCapacity?: "queue" | 429 | 503
  /** Output length per request, as the offline model's option (default 32, capped by the request's max). */
  readonly outputTokens?: Offline.Options["outputTokens"]
  /** When set, requests must carry it (x-goog-api-key or ?key= for Gemini, a bearer token otherwise). */
  readonly apiKey?: string
  readonly inject?: ReadonlyArray<Injection>
  /** The model reported when the request names none (OpenAI). */
  readonly model?: string
}

/** One request as the server received it. @category models */
export interface Recorded {
  readonly api: Api
  readonly path: string
  readonly headers: Http.IncomingHttpHeaders
  readonly body: unknown
  readonly stream: boolean
  /** How it ended: answered, refused (an error status), or aborted by the client. */
  outcome: "pending" | "answered" | "refused" | "aborted"
  status: number
}

/** The server's counters. @category models */
export interface Stats {
  readonly received: number
  readonly answered: number
  readonly refused: number
  readonly aborted: number
  readonly active: number
  readonly queued: number
  readonly maxActive: number
  /** Output tokens sent. */
  readonly outputTokens: number
  /** Slot-milliseconds spent generating (the integral of active requests over time). */
  readonly busySlotMs: number
  /** Milliseconds since start or the last `resetStats`. */
  readonly elapsedMs: number
}

/** A running test server. @category models */
export interface TestServer {
  readonly port: number
  /** `http://127.0.0.1:<port>`: the Gemini base URL (and Vertex's). */
  readonly url: string
  /** `http://127.0.0.1:<port>/v1`: the OpenAI-compatible base URL. */
  readonly openAiBaseUrl: string
  /** Every request received, oldest first (the last 10,000). */
  readonly requests: ReadonlyArray<Recorded>
  /** Adds error responses to inject. */
  readonly inject: (injection: Injection) => void
  /** Changes latency, pace, capacity or output length for requests that start from now on. */
  readonly configure: (options: Partial<Pick<Options, "latencyMs" | "tokensPerSecond" | "capacity" | "outputTokens" | "overCapacity">>) => void
  readonly stats: () => Stats
  /** Zeroes the counters and the recorded requests. */
  readonly resetStats: () => void
  readonly close: () => Promise<void>
}

const MAX_RECORDED = 10_000

const geminiStatus: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  429: "RESOURCE_EXHAUSTED",
  500: "INTERNAL",
  503: "UNAVAILABLE"
}

const openAiType = (status: number): string =>
  status === 429 ? "rate_limit_error" : status === 401 || status === 403 ? "authentication_error" : status >= 500 ? "server_error" : "invalid_request_error"

interface Route {
  readonly api: Api
  readonly model: string | undefined
  readonly stream: boolean
}

const GEMINI_PATH = /^\/v1(?:beta|alpha)?\/models\/([^/:]+):(generateContent|streamGenerateContent)$/
const VERTEX_PATH = /^\/v1(?:beta1)?\/projects\/[^/]+\/locations\/[^/]+\/publishers\/google\/models\/([^/:]+):(generateContent|streamGenerateContent)$/

const route = (method: string, path: string): Route | undefined => {
  if (method !== "POST") return undefined
  if (path === "/v1/chat/completions" || path === "/chat/completions") return { api: "openai", model: undefined, stream: false }
  const gemini = GEMINI_PATH.exec(path)
  if (gemini !== null) return { api: "gemini", model: decodeURIComponent(gemini[1]!), stream: gemini[2] === "streamGenerateContent" }
  const vertex = VERTEX_PATH.exec(path)
  if (vertex !== null) return { api: "vertex", model: decodeURIComponent(vertex[1]!), stream: vertex[2] === "streamGenerateContent" }
  return undefined
}

/** The conversation and cap a request body carries, or a reason it is invalid. */
const parseBody = (api: Api, body: unknown): { readonly request: LlmRequest.LlmRequest; readonly stream: boolean; readonly model?: string } | string => {
  if (typeof body !== "object" || body === null) return "request body must be a JSON object"
  const b = body as Record<string, unknown>
  if (api === "openai") {
    if (!Array.isArray(b.messages) || b.messages.length === 0) return "messages: must be a non-empty array"
    const messages: Array<LlmRequest.TextMessage> = []
    for (const [i, m] of (b.messages as Array<unknown>).entries()) {
      const role = (m as { role?: unknown })?.role
      const content = (m as { content?: unknown })?.content
      if (role !== "system" && role !== "user" && role !== "assistant" && role !== "developer") return `messages[${i}].role: unsupported`
      if (typeof content !== "string") return `messages[${i}].content: must be a string`
      messages.push({ role: role === "developer" ? "system" : role, content })
    }
    const max = b.max_completion_tokens ?? b.max_tokens
    if (max !== undefined && (typeof max !== "number" || !Number.isInteger(max) || max < 1)) return "max_tokens: must be a positive integer"
    return {
      request: { messages, maxTokens: max as number | undefined },
      stream: b.stream === true,
      ...(typeof b.model === "string" ? { model: b.model } : {})
    }
  }
  if (!Array.isArray(b.contents) || b.contents.length === 0) return "contents: must be a non-empty array"
  const textOf = (parts: unknown): string | undefined =>
    Array.isArray(parts) && parts.every((p) => typeof (p as { text?: unknown })?.text === "string")
      ? parts.map((p) => (p as { text: string }).text).join("")
      : undefined
  const messages: Array<LlmRequest.TextMessage> = []
  const system = (b.systemInstruction as { parts?: unknown } | undefined)?.parts
  if (system !== undefined) {
    const text = textOf(system)
    if (text === undefined) return "systemInstruction.parts: must be text parts"
    messages.push({ role: "system", content: text })
  }
  for (const [i, c] of (b.contents as Array<unknown>).entries()) {
    const role = (c as { role?: unknown })?.role ?? "user"
    if (role !== "user" && role !== "model") return `contents[${i}].role: must be user or model`
    const text = textOf((c as { parts?: unknown })?.parts)
    if (text === undefined) return `contents[${i}].parts: must be text parts`
    messages.push({ role: role === "model" ? "assistant" : "user", content: text })
  }
  const max = (b.generationConfig as { maxOutputTokens?: unknown } | undefined)?.maxOutputTokens
  if (max !== undefined && (typeof max !== "number" || !Number.isInteger(max) || max < 1)) return "generationConfig.maxOutputTokens: must be a positive integer"
  return { request: { messages, maxTokens: max as number | undefined }, stream: false }
}

/** Starts a server; `close()` stops it. @category constructors */
export const start = (options: Options = {}): Promise<TestServer> => {
  let settings = {
    latencyMs: options.latencyMs ?? 0,
    tokensPerSecond: options.tokensPerSecond ?? 0,
    capacity: options.capacity ?? Number.POSITIVE_INFINITY,
    overCapacity: options.overCapacity ?? ("queue" as const),
    outputTokens: options.outputTokens
  }
  const injections: Array<{ rule: Injection; left: number; skip: number }> = []
  const inject = (rule: Injection) => injections.push({ rule, left: rule.times ?? 1, skip: rule.after ?? 0 })
  for (const rule of options.inject ?? []) inject(rule)

  const requests: Array<Recorded> = []
  const waiting: Array<() => void> = []
  let active = 0
  let counters = { received: 0, answered: 0, refused: 0, aborted: 0, maxActive: 0, outputTokens: 0, busySlotMs: 0 }
  let since = performance.now()
  let lastChange = since
  // The busy integral advances whenever the number of active requests changes.
  const account = () => {
    const now = performance.now()
    counters.busySlotMs += Math.min(active, settings.capacity) * (now - lastChange)
    lastChange = now
  }
  const acquire = (onSlot: () => void): (() => void) => {
    let held = false
    let gone = false
    const grant = () => {
      if (gone) return
      account()
      active++
      held = true
      counters.maxActive = Math.max(counters.maxActive, active)
      onSlot()
    }
    if (active < settings.capacity) grant()
    else waiting.push(grant)
    return () => {
      if (gone) return
      gone = true
      if (!held) {
        const i = waiting.indexOf(grant)
        if (i >= 0) waiting.splice(i, 1)
        return
      }
      account()
      active--
      while (active < settings.capacity && waiting.length > 0) waiting.shift()!()
    }
  }

  const sendError = (res: Http.ServerResponse, api: Api, status: number, message: string, retry?: Injection) => {
    if (res.headersSent || res.destroyed) return
    const headers: Record<string, string> = { "content-type": "application/json" }
    if (retry?.retryAfterSeconds !== undefined) headers["retry-after"] = String(retry.retryAfterSeconds)
    if (retry?.retryAfterMs !== undefined) headers["retry-after-ms"] = String(retry.retryAfterMs)
    const body = api === "openai"
      ? { error: { message, type: openAiType(status), code: null } }
      : {
        error: {
          code: status,
          message,
          status: geminiStatus[status] ?? "UNKNOWN",
          ...(retry?.retryAfterSeconds === undefined ? {} : {
            details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: `${retry.retryAfterSeconds}s` }]
          })
        }
      }
    res.writeHead(status, headers).end(JSON.stringify(body))
  }

  const authorized = (api: Api, req: Http.IncomingMessage, url: URL): 401 | 403 | undefined => {
    if (options.apiKey === undefined) return undefined
    const given = api === "gemini"
      ? (req.headers["x-goog-api-key"] as string | undefined) ?? url.searchParams.get("key") ?? undefined
      : /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1]
    if (given === undefined) return 401
    return given === options.apiKey ? undefined : 403
  }

  const takeInjection = (api: Api): Injection | undefined => {
    for (const entry of injections) {
      if (entry.left <= 0 || (entry.rule.api !== undefined && entry.rule.api !== api)) continue
      if (entry.skip > 0) {
        entry.skip--
        continue
      }
      entry.left--
      return entry.rule
    }
    return undefined
  }

  const serve = (req: Http.IncomingMessage, res: Http.ServerResponse, raw: string) => {
    const url = new URL(req.url ?? "/", "http://localhost")
    // Control endpoints, for a server run as its own process (the benchmark's).
    if (url.pathname === "/_stats" && req.method === "GET") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(stats()))
      return
    }
    if (url.pathname === "/_reset" && req.method === "POST") {
      resetStats()
      res.writeHead(204).end()
      return
    }
    const found = route(req.method ?? "GET", url.pathname)
    if (found === undefined) {
      res.writeHead(404, { "content-type": "application/json" })
      res.end(JSON.stringify({ error: { code: 404, message: `no route for ${req.method} ${url.pathname}`, status: "NOT_FOUND" } }))
      return
    }
    const { api } = found
    let body: unknown
    try {
      body = JSON.parse(raw)
    } catch {
      body = undefined
    }
    counters.received++
    const record: Recorded = { api, path: url.pathname + url.search, headers: req.headers, body, stream: found.stream, outcome: "pending", status: 0 }
    requests.push(record)
    if (requests.length > MAX_RECORDED) requests.shift()
    const refuse = (status: number, message: string, retry?: Injection) => {
      counters.refused++
      record.outcome = "refused"
      record.status = status
      sendError(res, api, status, message, retry)
    }

    const denied = authorized(api, req, url)
    if (denied !== undefined) return refuse(denied, denied === 401 ? "API key missing" : "API key not valid")
    const injected = takeInjection(api)
    if (injected !== undefined) return refuse(injected.status, injected.message ?? `injected ${injected.status}`, injected)
    const parsed = parseBody(api, body)
    if (typeof parsed === "string") return refuse(400, parsed)
    if (settings.overCapacity !== "queue" && active >= settings.capacity) {
      return refuse(settings.overCapacity, `over capacity (${settings.capacity} requests in progress)`, { status: settings.overCapacity, retryAfterSeconds: 1 })
    }

    const stream = api === "openai" ? parsed.stream : found.stream
    const model = found.model ?? parsed.model ?? options.model ?? "test-model"
    const { tokens, usage } = Offline.answer(parsed.request, { outputTokens: settings.outputTokens })
    const id = `test-${counters.received}`
    const { latencyMs, tokensPerSecond } = settings
    const timers = new Set<NodeJS.Timeout>()
    let finished = false
    let release = () => {}
    const finish = () => {
      finished = true
      record.outcome = "answered"
      record.status = 200
      counters.answered++
      release()
    }
    res.on("close", () => {
      if (finished) return
      finished = true
      for (const t of timers) clearTimeout(t)
      record.outcome = "aborted"
      counters.aborted++
      release()
    })
    const later = (ms: number, f: () => void) => {
      const t = setTimeout(() => {
        timers.delete(t)
        f()
      }, ms)
      timers.add(t)
    }
    const finishReason = parsed.request.maxTokens !== undefined && tokens.length >= parsed.request.maxTokens ? "length" : "stop"
    const geminiUsage = { promptTokenCount: usage.inputTokens, candidatesTokenCount: usage.outputTokens, totalTokenCount: usage.inputTokens + usage.outputTokens }
    const openAiUsage = { prompt_tokens: usage.inputTokens, completion_tokens: usage.outputTokens, total_tokens: usage.inputTokens + usage.outputTokens }

    function answerWhole() {
      const perToken = tokensPerSecond > 0 ? 1000 / tokensPerSecond : 0
      later(latencyMs + perToken * tokens.length, () => {
        const text = tokens.join("")
        const out = api === "openai"
          ? {
            id,
            object: "chat.completion",
            created: Math.floor(Date.now() / 1000),
            model,
            choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: finishReason }],
            usage: openAiUsage
          }
          : {
            candidates: [{ content: { role: "model", parts: [{ text }] }, finishReason: finishReason === "length" ? "MAX_TOKENS" : "STOP", index: 0 }],
            usageMetadata: geminiUsage,
            modelVersion: model,
            responseId: id
          }
        counters.outputTokens += tokens.length
        finish()
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(out))
      })
    }

    function streamAnswer() {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" })
      const event = (data: unknown) => res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`)
      const chunk = (text: string, last: boolean) =>
        api === "openai"
          ? {
            id,
            object: "chat.completion.chunk",
            created: Math.floor(Date.now() / 1000),
            model,
            choices: [{ index: 0, delta: { content: text }, finish_reason: last ? finishReason : null }]
          }
          : {
            candidates: [{
              content: { role: "model", parts: [{ text }] },
              index: 0,
              ...(last ? { finishReason: finishReason === "length" ? "MAX_TOKENS" : "STOP" } : {})
            }],
            // Gemini sends usage on every chunk; the last one holds the totals.
            usageMetadata: last ? geminiUsage : { promptTokenCount: usage.inputTokens },
            modelVersion: model,
            responseId: id
          }
      const end = () => {
        if (api === "openai") {
          if (tokens.length === 0) event(chunk("", true))
          event({ id, object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model, choices: [], usage: openAiUsage })
          event("[DONE]")
        } else if (tokens.length === 0) {
          event(chunk("", true))
        }
        finish()
        res.end()
      }
      if (api === "openai") event({ id, object: "chat.completion.chunk", model, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] })
      const perToken = tokensPerSecond > 0 ? 1000 / tokensPerSecond : 0
      let sent = 0
      const startedAt = performance.now() + latencyMs
      // Each tick sends every token due by now, so a fast pace does not need a timer per token.
      const tick = () => {
        const due = perToken === 0 ? tokens.length : Math.min(tokens.length, Math.floor((performance.now() - startedAt) / perToken) + 1)
        if (due > sent) {
          const last = due === tokens.length
          event(chunk(tokens.slice(sent, due).join(""), last))
          counters.outputTokens += due - sent
          sent = due
        }
        if (sent >= tokens.length) return end()
        later(Math.max(1, startedAt + sent * perToken - performance.now()), tick)
      }
      later(latencyMs, tick)
    }

    // Last: a free slot starts the answer at once, which uses everything above.
    release = acquire(() => (stream ? streamAnswer() : answerWhole()))
  }

  const stats = (): Stats => {
    account()
    return { ...counters, active, queued: waiting.length, elapsedMs: performance.now() - since }
  }
  const resetStats = () => {
    account()
    counters = { received: 0, answered: 0, refused: 0, aborted: 0, maxActive: active, outputTokens: 0, busySlotMs: 0 }
    since = performance.now()
    requests.length = 0
  }

  const server = Http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => serve(req, res, Buffer.concat(chunks).toString("utf8")))
    req.on("error", () => res.destroy())
  })
  server.keepAliveTimeout = 60_000

  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      server.off("error", reject)
      const { port } = server.address() as AddressInfo
      const url = `http://${options.host ?? "127.0.0.1"}:${port}`
      resolve({
        port,
        url,
        openAiBaseUrl: `${url}/v1`,
        requests,
        inject,
        configure: (changes) => {
          account()
          settings = { ...settings, ...changes }
          while (active < settings.capacity && waiting.length > 0) waiting.shift()!()
        },
        stats,
        resetStats,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done())
            server.closeAllConnections()
          })
      })
    })
  })
}

/** A server for the life of a Scope. @category constructors */
export const scoped = (options: Options = {}): Effect.Effect<TestServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => start(options)),
    (server) => Effect.promise(() => server.close())
  )

// Run alone: `node src/llm/TestServer.ts --port 8089 --latency-ms 200 --tps 50 --capacity 4
// [--output-tokens 32|max] [--over-capacity queue|429|503]`; `--port 0` takes any free port.
// It prints its URLs on one line; GET /_stats and POST /_reset read and zero its counters.
if (import.meta.main) {
  const value = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`)
    return i >= 0 ? process.argv[i + 1] : undefined
  }
  const number = (name: string): number | undefined => {
    const v = value(name)
    if (v === undefined) return undefined
    const n = Number(v)
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: expected a number ≥ 0, got ${v}`)
    return n
  }
  const output = value("output-tokens")
  const over = value("over-capacity")
  const latencyMs = number("latency-ms")
  const tokensPerSecond = number("tps")
  const capacity = number("capacity")
  const server = await start({
    port: number("port") ?? 8089,
    ...(latencyMs === undefined ? {} : { latencyMs }),
    ...(tokensPerSecond === undefined ? {} : { tokensPerSecond }),
    ...(capacity === undefined ? {} : { capacity }),
    ...(output === undefined ? {} : { outputTokens: output === "max" ? (r: LlmRequest.LlmRequest) => r.maxTokens ?? 32 : Number(output) }),
    ...(over === "429" ? { overCapacity: 429 as const } : over === "503" ? { overCapacity: 503 as const } : {})
  })
  console.log(`llm test server: Gemini at ${server.url}, OpenAI-compatible at ${server.openAiBaseUrl}`)
  const stop = () => void server.close().then(() => process.exit(0))
  process.once("SIGTERM", stop)
  process.once("SIGINT", stop)
}
