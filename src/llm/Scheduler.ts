/**
 * The LLM scheduler, one per kernel in front of the provider (an effect/ai LanguageModel).
 * Each request waits in a work-conserving fair queue (virtual token counters, weighted per
 * agent) for one of `maxInFlight` upstream slots and for its agent's and the kernel's token
 * buckets; upstream 429/5xx are retried honouring Retry-After; a request whose caller goes
 * away or whose agent is cancelled is dropped while queued and aborted while in flight; every
 * agent's requests, tokens, waits, latencies, throttling and errors are recorded for STAT.
 */
import { Cause, Clock, Context, Deferred, Effect, Layer, Queue, Result, Scope, Stream } from "effect"
import { LanguageModel, type AiError } from "effect/ai"
import { LlmError, classify, fromAiError } from "./LlmError.ts"
import * as LlmRequest from "./LlmRequest.ts"
import * as LlmStats from "./LlmStats.ts"
import * as Provider from "./Provider.ts"
import * as Offline from "./providers/Offline.ts"
import * as RateLimit from "./RateLimit.ts"
import * as Tokens from "./Tokens.ts"
import { VirtualTokenCounter, type Policy } from "./VirtualTokenCounter.ts"

// ---------------------------------------------------------------------------------------------
// Types and defaults
// ---------------------------------------------------------------------------------------------

/** How the scheduler runs. @category models */
export interface Config {
  /** Upstream requests at once (default 8). */
  readonly maxInFlight: number
  /** `vtc` (fair by tokens, the default) or `fifo` (arrival order, the baseline). */
  readonly policy: Policy
  /** Kernel-wide requests per minute, tokens per minute (default: unlimited). */
  readonly rpm: number | undefined
  readonly tpm: number | undefined
  /** One upstream attempt's deadline (default 120 s): past it, ETIMEDOUT. */
  readonly requestTimeoutMs: number
  /** Upstream retries of 429/5xx/network errors (default 4). */
  readonly maxRetries: number
  /** Backoff without Retry-After: base × 2^attempt, capped at retryMaxMs (defaults 500 ms, 30 s). */
  readonly retryBaseMs: number
  /** Also the longest Retry-After waited for; a longer one fails at once with ERATE and that retry-after. */
  readonly retryMaxMs: number
  /** A request that would wait longer than this for its agent's own limits fails at once with ERATE (default 60 s). */
  readonly maxThrottleWaitMs: number
  /** What a token costs in the fair share: input and output (defaults 1 and 1: tokens served). */
  readonly inputWeight: number
  readonly outputWeight: number
  /** Output tokens assumed for an agent's request until its own average is known (default 64). */
  readonly defaultOutputEstimate: number
}

/** The defaults. @category models */
export const defaults: Config = {
  maxInFlight: 8,
  policy: "vtc",
  rpm: undefined,
  tpm: undefined,
  requestTimeoutMs: 120_000,
  maxRetries: 4,
  retryBaseMs: 500,
  retryMaxMs: 30_000,
  maxThrottleWaitMs: 60_000,
  inputWeight: 1,
  outputWeight: 1,
  defaultOutputEstimate: 64
}

/** One agent's share and limits (SPAWN sets them from the agent's spec). @category models */
export interface AgentLimits {
  /** Share of the LLM relative to other agents (default 1). */
  readonly weight?: number | undefined
  /** Requests per minute. */
  readonly rpm?: number | undefined
  /** Tokens (in + out) per minute. */
  readonly tpm?: number | undefined
  /** Total tokens the agent may use; past it, ERATE. */
  readonly budget?: number | undefined
  /** When set, the budget refills evenly over this window (so ERATE carries a retry-after). */
  readonly budgetWindowMs?: number | undefined
}

/** Options of one submission. @category models */
export interface SubmitOptions {
  /** Streams the answer and calls this with each piece of text as it arrives. */
  readonly onDelta?: ((text: string) => void) | undefined
}

/** What `stream` emits: text as it arrives, then the whole result. @category models */
export type StreamEvent =
  | { readonly type: "delta"; readonly text: string }
  | { readonly type: "done"; readonly result: LlmRequest.LlmResult }

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

interface AgentState {
  readonly key: string
  limits: AgentLimits
  buckets: RateLimit.Limits
  budget: RateLimit.Bucket | undefined
  /** Running average of its output tokens: the estimate charged at dispatch. */
  outputEstimate: number | undefined
  inFlight: number
  /** Its requests queued or running. */
  readonly entries: Set<Entry>
  readonly stats: LlmStats.AgentStats
}

interface Entry {
  readonly agent: AgentState
  readonly request: LlmRequest.LlmRequest
  readonly submittedAt: number
  readonly inputEstimate: number
  readonly outputEstimate: number
  /** Completed when the request gets its slot; failed when it is cancelled while queued. */
  readonly grant: Deferred.Deferred<void, LlmError>
  /** Failed when it is cancelled while running. */
  readonly cancel: Deferred.Deferred<never, LlmError>
  state: "queued" | "running" | "done"
  throttled: boolean
}

type Outcome =
  | { readonly _tag: "Answered"; readonly usage: LlmRequest.Usage }
  | { readonly _tag: "Failed" }
  | { readonly _tag: "Cancelled" }

const cancelled = (key: string) => new LlmError({ reason: "Cancelled", message: `think for ${key}: cancelled` })

const validateLimits = (key: string, limits: AgentLimits): LlmError | undefined => {
  const problems: Array<string> = []
  const positive = (name: string, v: number | undefined) => {
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) problems.push(`${name}: must be a positive number, got ${v}`)
  }
  positive("weight", limits.weight)
  positive("rpm", limits.rpm)
  positive("tpm", limits.tpm)
  positive("budgetWindowMs", limits.budgetWindowMs)
  if (limits.budget !== undefined && !(Number.isFinite(limits.budget) && limits.budget >= 0)) {
    problems.push(`budget: must be a number of tokens ≥ 0, got ${limits.budget}`)
  }
  return problems.length === 0
    ? undefined
    : new LlmError({ reason: "InvalidRequest", message: `llm limits of ${key}: ${problems.join("; ")}` })
}

// ---------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------

/**
 * The kernel's LLM scheduler.
 *
 * **Details** The caller's own fiber runs its request once granted a slot, so cancellation is
 * plain interruption (the HTTP request is aborted with it) and streamed text reaches the
 * caller without a hop. All bookkeeping happens in synchronous blocks, which keeps it
 * consistent between fibers.
 * @category services
 */
export class LlmScheduler extends Context.Service<LlmScheduler, {
  readonly config: Config
  /** Queues a request for an agent and answers it; with `onDelta`, the answer is streamed to it. */
  readonly submit: (agent: string, request: LlmRequest.LlmRequest, options?: SubmitOptions) => Effect.Effect<LlmRequest.LlmResult, LlmError>
  /** The same request as a stream: text deltas, then the result. */
  readonly stream: (agent: string, request: LlmRequest.LlmRequest) => Stream.Stream<StreamEvent, LlmError>
  /** Sets an agent's weight and limits (replacing earlier ones); its buckets start full. */
  readonly configureAgent: (agent: string, limits: AgentLimits) => Effect.Effect<void, LlmError>
  /** Cancels every request of an agent: queued ones are dropped, running ones aborted. Returns how many. */
  readonly cancelAgent: (agent: string) => Effect.Effect<number>
  /** Cancels an agent's requests and forgets its limits, counters and figures. */
  readonly forgetAgent: (agent: string) => Effect.Effect<void>
  readonly stats: Effect.Effect<LlmStats.Snapshot>
  readonly statsFor: (agent: string) => Effect.Effect<LlmStats.AgentSnapshot | undefined>
}>()("agentos/llm/LlmScheduler") {
  /** The scheduler over the LanguageModel in context. @category layers */
  static readonly layer = (config: Partial<Config> = {}): Layer.Layer<LlmScheduler, never, LanguageModel.LanguageModel> =>
    Layer.effect(LlmScheduler, make(config))

  /**
   * The scheduler the environment describes (configFromEnv) over the provider it names
   * (Provider.fromEnv: Gemini with a key, Vertex AI, an OpenAI-compatible server, else the
   * offline model); `config` overrides both. This is the kernel's default. @category layers
   */
  static readonly layerFromEnv = (
    config: Partial<Config> = {},
    env: Readonly<Record<string, string | undefined>> = process.env
  ): Layer.Layer<LlmScheduler, Provider.ProviderConfigError> =>
    Layer.unwrap(Effect.map(configFromEnv(env), (fromEnv) =>
      LlmScheduler.layer({ ...fromEnv, ...config }).pipe(Layer.provide(Provider.layerFromEnv(env)))))

  /** The scheduler over the offline model. @category layers */
  static readonly layerOffline = (config: Partial<Config> = {}, offline: Offline.Options = {}): Layer.Layer<LlmScheduler> =>
    LlmScheduler.layer(config).pipe(Layer.provide(Offline.layer(offline)))
}

/**
 * Scheduler settings from the environment, every problem named at once:
 * `AGENTOS_LLM_MAX_IN_FLIGHT` (upstream requests at once), `AGENTOS_LLM_RPM` and
 * `AGENTOS_LLM_TPM` (kernel-wide limits), `AGENTOS_LLM_POLICY` (`vtc` or `fifo`).
 * @category constructors
 */
export const configFromEnv = (env: Readonly<Record<string, string | undefined>> = process.env): Effect.Effect<Partial<Config>, Provider.ProviderConfigError> =>
  Effect.suspend(() => {
    const problems: Array<string> = []
    const positiveInt = (name: string): number | undefined => {
      const text = env[name]?.trim()
      if (text === undefined || text === "") return undefined
      const n = Number(text)
      if (Number.isSafeInteger(n) && n >= 1) return n
      problems.push(`${name}: expected an integer ≥ 1, got ${JSON.stringify(text)}`)
      return undefined
    }
    const maxInFlight = positiveInt("AGENTOS_LLM_MAX_IN_FLIGHT")
    const rpm = positiveInt("AGENTOS_LLM_RPM")
    const tpm = positiveInt("AGENTOS_LLM_TPM")
    const policyText = env.AGENTOS_LLM_POLICY?.trim().toLowerCase()
    const policy = policyText === undefined || policyText === "" ? undefined : policyText
    if (policy !== undefined && policy !== "vtc" && policy !== "fifo") {
      problems.push(`AGENTOS_LLM_POLICY: expected vtc or fifo, got ${JSON.stringify(policy)}`)
    }
    if (problems.length > 0) return Effect.fail(new Provider.ProviderConfigError({ message: problems.join("; ") }))
    return Effect.succeed<Partial<Config>>({
      ...(maxInFlight === undefined ? {} : { maxInFlight }),
      ...(rpm === undefined ? {} : { rpm }),
      ...(tpm === undefined ? {} : { tpm }),
      ...(policy === "vtc" || policy === "fifo" ? { policy } : {})
    })
  })

/** Builds a scheduler over the LanguageModel in context; its timers live in the Scope. @category constructors */
export const make = (options: Partial<Config> = {}): Effect.Effect<LlmScheduler["Service"], never, LanguageModel.LanguageModel | Scope.Scope> =>
  Effect.gen(function* () {
    const config: Config = { ...defaults, ...options }
    if (!(Number.isInteger(config.maxInFlight) && config.maxInFlight >= 1)) {
      return yield* Effect.die(new RangeError(`llm scheduler: maxInFlight must be an integer ≥ 1, got ${config.maxInFlight}`))
    }
    const model = yield* LanguageModel.LanguageModel
    const scope = yield* Scope.Scope
    const startedAt = yield* Clock.currentTimeMillis

    const queue = new VirtualTokenCounter<Entry>({ policy: config.policy })
    const agents = new Map<string, AgentState>()
    let global: RateLimit.Limits = {
      requests: config.rpm === undefined ? undefined : RateLimit.perMinute(config.rpm, startedAt),
      tokens: config.tpm === undefined ? undefined : RateLimit.perMinute(config.tpm, startedAt)
    }
    let inFlight = 0
    let timerAt: number | undefined
    const totals = { requests: 0, completed: 0, inputTokens: 0, outputTokens: 0 }

    const agentState = (key: string): AgentState => {
      let agent = agents.get(key)
      if (agent === undefined) {
        agent = {
          key,
          limits: {},
          buckets: {},
          budget: undefined,
          outputEstimate: undefined,
          inFlight: 0,
          entries: new Set(),
          stats: new LlmStats.AgentStats()
        }
        agents.set(key, agent)
      }
      return agent
    }

    const cost = (input: number, output: number) => config.inputWeight * input + config.outputWeight * output

    // -- dispatch ------------------------------------------------------------------------------

    /** How long an entry must still wait for its agent's and the kernel's buckets. */
    const limitWait = (entry: Entry, now: number) => {
      const tokens = entry.inputEstimate + entry.outputEstimate
      return Math.max(RateLimit.limitsWaitMs(entry.agent.buckets, 1, tokens, now), RateLimit.limitsWaitMs(global, 1, tokens, now))
    }

    const dispatch = (entry: Entry, now: number) => {
      const agent = entry.agent
      const tokens = entry.inputEstimate + entry.outputEstimate
      entry.state = "running"
      inFlight++
      agent.inFlight++
      agent.buckets = RateLimit.limitsTake(agent.buckets, tokens, now)
      global = RateLimit.limitsTake(global, tokens, now)
      // Charged at the estimate now, corrected when the usage is known (VTC with length prediction).
      queue.charge(agent.key, cost(entry.inputEstimate, entry.outputEstimate))
      agent.stats.queueWaitMs.add(now - entry.submittedAt)
      Deferred.doneUnsafe(entry.grant, Effect.void)
    }

    /** Grants every slot it can; returns when to look again if only rate limits hold work back. */
    const decide = (now: number): number | undefined => {
      let wake = Number.POSITIVE_INFINITY
      while (inFlight < config.maxInFlight && queue.size > 0) {
        wake = Number.POSITIVE_INFINITY
        const next = queue.dequeue((key) => {
          const head = queue.head(key)!
          const wait = limitWait(head, now)
          if (wait === 0) return true
          if (!head.throttled) {
            head.throttled = true
            head.agent.stats.throttled++
          }
          wake = Math.min(wake, wait)
          return false
        })
        if (next === undefined) return Number.isFinite(wake) ? now + wake : undefined
        dispatch(next.item, now)
      }
      return undefined
    }

    const pump: Effect.Effect<void> = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const wakeAt = decide(now)
      if (wakeAt === undefined || (timerAt !== undefined && timerAt <= wakeAt)) return Effect.void
      timerAt = wakeAt
      return Effect.sleep(wakeAt - now).pipe(
        Effect.andThen(Effect.suspend(() => {
          if (timerAt === wakeAt) timerAt = undefined
          return pump
        })),
        // Forked from submit's uninterruptible region: the timer itself must stay interruptible.
        Effect.interruptible,
        Effect.forkIn(scope),
        Effect.asVoid
      )
    })

    // -- completion ----------------------------------------------------------------------------

    const finish = (entry: Entry, outcome: Outcome, now: number) => {
      const agent = entry.agent
      agent.entries.delete(entry)
      if (entry.state === "queued") {
        queue.remove(agent.key, entry)
        entry.state = "done"
        agent.stats.cancelled++
        return
      }
      if (entry.state !== "running") return
      entry.state = "done"
      inFlight--
      agent.inFlight--
      const estimated = entry.inputEstimate + entry.outputEstimate
      const estimatedCost = cost(entry.inputEstimate, entry.outputEstimate)
      switch (outcome._tag) {
        case "Answered": {
          const { inputTokens, outputTokens } = outcome.usage
          queue.charge(agent.key, cost(inputTokens, outputTokens) - estimatedCost)
          const delta = inputTokens + outputTokens - estimated
          agent.buckets = RateLimit.limitsCorrect(agent.buckets, delta)
          global = RateLimit.limitsCorrect(global, delta)
          if (agent.budget !== undefined) agent.budget = RateLimit.take(agent.budget, inputTokens + outputTokens, now)
          agent.outputEstimate = agent.outputEstimate === undefined ? outputTokens : 0.8 * agent.outputEstimate + 0.2 * outputTokens
          agent.stats.completed++
          agent.stats.inputTokens += inputTokens
          agent.stats.outputTokens += outputTokens
          agent.stats.latencyMs.add(now - entry.submittedAt)
          totals.completed++
          totals.inputTokens += inputTokens
          totals.outputTokens += outputTokens
          break
        }
        case "Failed":
        case "Cancelled": {
          // Nothing was served: the fair share and the token limits get their estimate back.
          queue.charge(agent.key, -estimatedCost)
          agent.buckets = RateLimit.limitsCorrect(agent.buckets, -estimated)
          global = RateLimit.limitsCorrect(global, -estimated)
          if (outcome._tag === "Failed") agent.stats.errors++
          else agent.stats.cancelled++
          break
        }
      }
    }

    const finishing = (entry: Entry, outcome: Outcome) =>
      Clock.currentTimeMillis.pipe(
        Effect.flatMap((now) => Effect.sync(() => finish(entry, outcome, now))),
        Effect.andThen(pump)
      )

    // -- upstream ------------------------------------------------------------------------------

    /** One upstream attempt: the answer, streamed to `onDelta` when given. */
    const attempt = (entry: Entry, onDelta: ((text: string) => void) | undefined, emitted: () => void) => {
      const prompt = LlmRequest.toPrompt(entry.request)
      const fallbackModel = entry.request.model ?? "unknown"
      const call: Effect.Effect<LlmRequest.LlmResult, AiError.AiError> = onDelta === undefined
        ? Effect.map(model.generateText({ prompt }), (response) => {
          const metadata = response.content.find((p) => p.type === "response-metadata")
          return {
            content: response.text,
            usage: {
              inputTokens: response.usage.inputTokens.total ?? entry.inputEstimate,
              outputTokens: response.usage.outputTokens.total ?? Tokens.estimate(response.text)
            },
            model: metadata?.modelId ?? fallbackModel
          }
        })
        : model.streamText({ prompt }).pipe(
          Stream.runFold(
            () => ({ text: "", input: undefined as number | undefined, output: undefined as number | undefined, model: fallbackModel }),
            (acc, part) => {
              switch (part.type) {
                case "text-delta":
                  if (part.delta !== "") {
                    emitted()
                    onDelta(part.delta)
                    acc.text += part.delta
                  }
                  break
                case "response-metadata":
                  if (part.modelId !== undefined) acc.model = part.modelId
                  break
                case "finish":
                  acc.input = part.usage.inputTokens.total
                  acc.output = part.usage.outputTokens.total
                  break
              }
              return acc
            }
          ),
          Effect.map((acc) => ({
            content: acc.text,
            usage: { inputTokens: acc.input ?? entry.inputEstimate, outputTokens: acc.output ?? Tokens.estimate(acc.text) },
            model: acc.model
          }))
        )
      return call.pipe(
        Effect.provideService(LlmRequest.GenerationOptions, { model: entry.request.model, maxTokens: entry.request.maxTokens }),
        Effect.timeout(config.requestTimeoutMs)
      )
    }

    /** Runs a granted request upstream, retrying 429/5xx with backoff honouring Retry-After. */
    const upstream = (entry: Entry, onDelta: ((text: string) => void) | undefined) =>
      Effect.gen(function* () {
        const what = `think for ${entry.agent.key}`
        let emitted = false
        for (let retry = 0; ; retry++) {
          const result = yield* Effect.result(attempt(entry, onDelta, () => {
            emitted = true
          }))
          if (Result.isSuccess(result)) return result.success
          const error = result.failure
          if (Cause.isTimeoutError(error)) {
            return yield* new LlmError({ reason: "TimedOut", message: `${what}: no answer from the model within ${config.requestTimeoutMs} ms` })
          }
          const disposition = classify(error)
          if (disposition._tag === "Fail") return yield* fromAiError(error, disposition.reason, what)
          const delay = disposition.retryAfterMs ?? Math.min(config.retryMaxMs, config.retryBaseMs * 2 ** retry)
          // Text already streamed to the caller cannot be taken back: no retry then.
          if (emitted) return yield* fromAiError(error, "Unavailable", `${what} (the stream broke after text was sent)`)
          if (retry >= config.maxRetries || delay > config.retryMaxMs) {
            return yield* fromAiError(error, disposition.reason, `${what} (after ${retry} ${retry === 1 ? "retry" : "retries"})`, delay)
          }
          entry.agent.stats.retries++
          yield* Effect.sleep(delay)
        }
      })

    // -- the API -------------------------------------------------------------------------------

    /**
     * Admission: the agent's budget, and how long its own limits would hold this request. The
     * budget is charged when a request's usage is known, so what its queued and running
     * requests are estimated to use is held back from it: an agent with many requests at once
     * overshoots its budget by one request's estimation error at most, not by its concurrency.
     */
    const admit = (agent: AgentState, tokens: number, now: number): LlmError | undefined => {
      if (agent.budget !== undefined) {
        let reserved = 0
        for (const e of agent.entries) if (e.state !== "done") reserved += e.inputEstimate + e.outputEstimate
        const wait = RateLimit.backlogMs(agent.budget, 1 + reserved, now)
        if (wait > 0) {
          agent.stats.rateLimited++
          return new LlmError({
            reason: "BudgetExhausted",
            message: `think for ${agent.key}: its budget of ${agent.limits.budget} tokens is spent` +
              (reserved > 0 ? ` (about ${reserved} of it by requests still queued or running)` : "") +
              (Number.isFinite(wait) ? `; it refills in ${wait} ms` : ""),
            ...(Number.isFinite(wait) ? { retryAfterMs: wait } : {})
          })
        }
      }
      let queuedRequests = 1
      let queuedTokens = tokens
      for (const e of agent.entries) {
        if (e.state !== "queued") continue
        queuedRequests++
        queuedTokens += e.inputEstimate + e.outputEstimate
      }
      const wait = RateLimit.limitsBacklogMs(agent.buckets, queuedRequests, queuedTokens, now)
      if (wait > config.maxThrottleWaitMs) {
        agent.stats.rateLimited++
        return new LlmError({
          reason: "RateLimited",
          message: `think for ${agent.key}: over its limits (${agent.limits.rpm ?? "∞"} requests/min, ${agent.limits.tpm ?? "∞"} tokens/min)` +
            (Number.isFinite(wait) ? `; retry in ${wait} ms` : ""),
          ...(Number.isFinite(wait) ? { retryAfterMs: wait } : {})
        })
      }
      return undefined
    }

    const submit = Effect.fn("LlmScheduler.submit")(function* (key: string, request: LlmRequest.LlmRequest, options: SubmitOptions = {}) {
      return yield* Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const agent = agentState(key)
          agent.stats.requests++
          totals.requests++
          const inputEstimate = Tokens.estimateMessages(request.messages)
          const outputEstimate = Math.round(Math.min(
            request.maxTokens ?? Number.POSITIVE_INFINITY,
            agent.outputEstimate ?? config.defaultOutputEstimate
          ))
          const refused = admit(agent, inputEstimate + outputEstimate, now)
          if (refused !== undefined) return yield* refused
          const entry: Entry = {
            agent,
            request,
            submittedAt: now,
            inputEstimate,
            outputEstimate,
            grant: Deferred.makeUnsafe<void, LlmError>(),
            cancel: Deferred.makeUnsafe<never, LlmError>(),
            state: "queued",
            throttled: false
          }
          agent.entries.add(entry)
          queue.enqueue(key, entry)
          yield* pump
          // Its own span, so a trace shows the fair queue's wait apart from the upstream call.
          yield* restore(Deferred.await(entry.grant)).pipe(
            Effect.withSpan("LlmScheduler.queueWait", { attributes: { "agentos.agent": key } }, { captureStackTrace: false }),
            Effect.onInterrupt(() => finishing(entry, { _tag: "Cancelled" }))
          )
          return yield* restore(upstream(entry, options.onDelta).pipe(Effect.raceFirst(Deferred.await(entry.cancel)))).pipe(
            Effect.onExit((exit) =>
              finishing(entry, exit._tag === "Success"
                ? { _tag: "Answered", usage: exit.value.usage }
                : Cause.hasInterruptsOnly(exit.cause) || exit.cause.reasons.some((r) => Cause.isFailReason(r) && r.error.reason === "Cancelled")
                ? { _tag: "Cancelled" }
                : { _tag: "Failed" })
            )
          )
        })
      )
    })

    // The callback's queue is unbounded (Stream.callback's default), so offerUnsafe never drops
    // text; an answer is bounded by its maxTokens anyway.
    const stream = (key: string, request: LlmRequest.LlmRequest): Stream.Stream<StreamEvent, LlmError> =>
      Stream.callback<StreamEvent, LlmError>((out) =>
        submit(key, request, { onDelta: (text) => Queue.offerUnsafe(out, { type: "delta", text }) }).pipe(
          Effect.flatMap((result) => Queue.offer(out, { type: "done", result })),
          Effect.andThen(Queue.end(out)),
          Effect.catch((error) => Queue.fail(out, error))
        ))

    const configureAgent = Effect.fn("LlmScheduler.configureAgent")(function* (key: string, limits: AgentLimits) {
      const invalid = validateLimits(key, limits)
      if (invalid !== undefined) return yield* invalid
      const now = yield* Clock.currentTimeMillis
      const agent = agentState(key)
      agent.limits = limits
      queue.setWeight(key, limits.weight ?? 1)
      agent.buckets = {
        requests: limits.rpm === undefined ? undefined : RateLimit.perMinute(limits.rpm, now),
        tokens: limits.tpm === undefined ? undefined : RateLimit.perMinute(limits.tpm, now)
      }
      agent.budget = limits.budget === undefined
        ? undefined
        : RateLimit.make(limits.budget, limits.budgetWindowMs === undefined ? 0 : limits.budget / limits.budgetWindowMs, now)
      yield* pump
    })

    const cancelAgent = Effect.fn("LlmScheduler.cancelAgent")(function* (key: string) {
      const agent = agents.get(key)
      if (agent === undefined) return 0
      const entries = [...agent.entries]
      // Queued ones first: a running one's fiber may finish as soon as it is told, and the
      // slot it frees must not go to another request of the same agent.
      const queued = entries.filter((e) => e.state === "queued")
      for (const entry of queued) finish(entry, { _tag: "Cancelled" }, 0)
      for (const entry of queued) Deferred.doneUnsafe(entry.grant, Effect.fail(cancelled(key)))
      for (const entry of entries) {
        // The request's own fiber sees this, is interrupted upstream, and finishes it.
        if (entry.state === "running") Deferred.doneUnsafe(entry.cancel, Effect.fail(cancelled(key)))
      }
      yield* pump
      return entries.length
    })

    const forgetAgent = Effect.fn("LlmScheduler.forgetAgent")(function* (key: string) {
      yield* cancelAgent(key)
      agents.delete(key)
      queue.forget(key)
    })

    const snapshotOf = (agent: AgentState, now: number): LlmStats.AgentSnapshot => {
      let queued = 0
      for (const e of agent.entries) if (e.state === "queued") queued++
      return {
        agent: agent.key,
        weight: queue.weight(agent.key),
        requests: agent.stats.requests,
        completed: agent.stats.completed,
        inFlight: agent.inFlight,
        queued,
        inputTokens: agent.stats.inputTokens,
        outputTokens: agent.stats.outputTokens,
        queueWaitMs: LlmStats.quantiles(agent.stats.queueWaitMs),
        latencyMs: LlmStats.quantiles(agent.stats.latencyMs),
        throttled: agent.stats.throttled,
        rateLimited: agent.stats.rateLimited,
        errors: agent.stats.errors,
        cancelled: agent.stats.cancelled,
        retries: agent.stats.retries,
        virtualTokens: queue.counter(agent.key),
        limits: {
          rpm: agent.limits.rpm ?? null,
          tpm: agent.limits.tpm ?? null,
          budget: agent.limits.budget ?? null,
          budgetLeft: agent.budget === undefined ? null : Math.max(0, Math.floor(RateLimit.refill(agent.budget, now).tokens))
        }
      }
    }

    const stats = Effect.map(Clock.currentTimeMillis, (now): LlmStats.Snapshot => ({
      policy: config.policy,
      maxInFlight: config.maxInFlight,
      inFlight,
      queued: queue.size,
      ...totals,
      agents: [...agents.values()].sort((a, b) => a.key.localeCompare(b.key)).map((a) => snapshotOf(a, now))
    }))

    const statsFor = (key: string) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const agent = agents.get(key)
        return agent === undefined ? undefined : snapshotOf(agent, now)
      })

    return LlmScheduler.of({ config, submit, stream, configureAgent, cancelAgent, forgetAgent, stats, statsFor })
  })
