/**
 * The scheduler on a deterministic upstream of fixed capacity (the offline model under
 * TestClock: 50 ms to the first token, 10 ms a token, `maxInFlight` slots), measured in
 * tokens served and in orderings, never in wall time: equal and weighted shares within 5%, an
 * agent that idles and comes back neither starved nor bursting, a rate-limited agent that
 * cannot starve the others, budgets, cancellation, Retry-After, retries and timeouts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Layer, Stream } from "effect"
import { AiError, LanguageModel, type Response } from "effect/ai"
import { TestClock } from "effect/testing"
import type { LlmError } from "../../src/llm/LlmError.ts"
import * as LlmRequest from "../../src/llm/LlmRequest.ts"
import * as Offline from "../../src/llm/providers/Offline.ts"
import * as Scheduler from "../../src/llm/Scheduler.ts"

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/** The offline model as an upstream whose output length is the request's maxTokens. */
const upstream = Offline.make({ latencyMs: 50, tokensPerSecond: 100, outputTokens: (r) => r.maxTokens ?? 32 })

const schedulerOver = (model: Effect.Effect<LanguageModel.LanguageModel>, config: Partial<Scheduler.Config> = {}) =>
  Scheduler.make(config).pipe(Effect.provideServiceEffect(LanguageModel.LanguageModel, model))

const request = (maxTokens: number, prompt = "x".repeat(40)) => LlmRequest.fromPrompt(prompt, { maxTokens })

/** Keeps `outstanding` requests of an agent always waiting or running (a backlogged agent). */
const backlog = (s: Scheduler.LlmScheduler["Service"], agent: string, maxTokens: number, outstanding = 4) =>
  Effect.forkChild(Effect.forEach(
    Array.from({ length: outstanding }, (_, i) => i),
    () => Effect.forever(s.submit(agent, request(maxTokens)).pipe(Effect.ignore)),
    { concurrency: "unbounded", discard: true }
  ))

/** Advances virtual time in small steps so every fiber runs at its own instant. */
const advance = (ms: number, step = 50) =>
  Effect.gen(function* () {
    for (let t = 0; t < ms; t += step) yield* TestClock.adjust(Math.min(step, ms - t))
  })

const served = (s: Scheduler.LlmScheduler["Service"], agent: string) =>
  Effect.map(s.statsFor(agent), (a) => (a === undefined ? 0 : a.inputTokens + a.outputTokens))

const servedAll = (s: Scheduler.LlmScheduler["Service"], agents: ReadonlyArray<string>) =>
  Effect.forEach(agents, (a) => served(s, a))

const within = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.isAtMost(Math.abs(actual - expected) / expected, tolerance, `${what}: ${actual} vs expected ${expected}`)

/** A model whose every call runs `call(n)` (n counts calls from 1). */
const fakeModel = (call: (n: number) => Effect.Effect<Array<Response.PartEncoded>, AiError.AiError>) =>
  Effect.suspend(() => {
    let n = 0
    return LanguageModel.make({
      generateText: () => Effect.suspend(() => call(++n)),
      streamText: () => Stream.fromEffect(Effect.suspend(() => call(++n))).pipe(Stream.flatMap(() => Stream.empty))
    })
  })

const answer = (text: string): Array<Response.PartEncoded> => [
  { type: "text", text },
  { type: "finish", reason: "stop", usage: { inputTokens: { total: 5 }, outputTokens: { total: 7 } } }
]

const aiError = (reason: AiError.AiErrorReason) => AiError.make({ module: "Fake", method: "generateText", reason })

const failure = <A>(exit: Exit.Exit<A, LlmError>): LlmError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  assert.isDefined(error)
  return (error as { error: LlmError }).error
}

// ---------------------------------------------------------------------------------------------
// Fairness
// ---------------------------------------------------------------------------------------------

describe("LlmScheduler fairness", () => {
  it.effect("gives equal-weight backlogged agents tokens within 5% of each other, whatever their request sizes", () =>
    Effect.gen(function* () {
      const s = yield* schedulerOver(upstream, { maxInFlight: 4 })
      yield* backlog(s, "small", 10)
      yield* backlog(s, "medium", 50)
      yield* backlog(s, "large", 200)
      yield* advance(300_000)
      const tokens = yield* servedAll(s, ["small", "medium", "large"])
      const mean = tokens.reduce((a, b) => a + b, 0) / 3
      for (const t of tokens) within(t, mean, 0.05, "tokens served")
    }))

  it.effect("gives weights 1:2:4 shares within 5% of 1/7, 2/7 and 4/7", () =>
    Effect.gen(function* () {
      const s = yield* schedulerOver(upstream, { maxInFlight: 4 })
      yield* s.configureAgent("w1", { weight: 1 })
      yield* s.configureAgent("w2", { weight: 2 })
      yield* s.configureAgent("w4", { weight: 4 })
      yield* backlog(s, "w1", 120)
      yield* backlog(s, "w2", 30)
      yield* backlog(s, "w4", 60)
      yield* advance(300_000)
      const tokens = yield* servedAll(s, ["w1", "w2", "w4"])
      const total = tokens.reduce((a, b) => a + b, 0)
      within(tokens[0]! / total, 1 / 7, 0.05, "share of weight 1")
      within(tokens[1]! / total, 2 / 7, 0.05, "share of weight 2")
      within(tokens[2]! / total, 4 / 7, 0.05, "share of weight 4")
    }))

  it.effect("the FIFO baseline is not fair by tokens on the same workload (the test can tell)", () =>
    Effect.gen(function* () {
      const s = yield* schedulerOver(upstream, { maxInFlight: 4, policy: "fifo" })
      yield* backlog(s, "small", 10)
      yield* backlog(s, "large", 200)
      yield* advance(120_000)
      const [small, large] = yield* servedAll(s, ["small", "large"])
      assert.isAbove(large! / small!, 3)
    }))

  it.effect("serves an agent that idled and came back at once, but without a burst past VTC's bound", () =>
    Effect.gen(function* () {
      const s = yield* schedulerOver(upstream, { maxInFlight: 4 })
      yield* backlog(s, "a", 50)
      yield* backlog(s, "b", 50)
      yield* advance(60_000)
      const before = yield* servedAll(s, ["a", "b", "c"])
      assert.strictEqual(before[2], 0)
      yield* backlog(s, "c", 50)
      yield* advance(3_000)
      const soon = yield* servedAll(s, ["a", "b", "c"])
      // Not starved: c is answered within the first few seconds of coming back…
      const cSoon = soon[2]! - before[2]!
      assert.isAbove(cSoon, 0)
      // …and gets no burst for the minute it did not ask: at most one request per slot (and one
      // request's estimate) ahead of a, VTC's bound, instead of all four slots until it caught up.
      const oneRequest = 14 + 50
      assert.isAtMost(cSoon - (soon[0]! - before[0]!), 5 * oneRequest)
      yield* advance(120_000)
      const after = yield* servedAll(s, ["a", "b", "c"])
      const delta = after.map((t, i) => t - soon[i]!)
      const mean = delta.reduce((x, y) => x + y, 0) / 3
      for (const d of delta) within(d, mean, 0.05, "tokens after c came back")
    }))

  it.effect("keeps a rate-limited agent to its rate without starving the others or idling the upstream", () =>
    Effect.gen(function* () {
      const s = yield* schedulerOver(upstream, { maxInFlight: 4, maxThrottleWaitMs: Number.POSITIVE_INFINITY })
      yield* s.configureAgent("limited", { rpm: 12 })
      yield* backlog(s, "limited", 50, 8)
      yield* backlog(s, "a", 50)
      yield* backlog(s, "b", 50)
      yield* advance(120_000)
      const stats = yield* s.stats
      const by = (name: string) => stats.agents.find((a) => a.agent === name)!
      // A full bucket (12) and two minutes of refill (24): no more.
      assert.isAtMost(by("limited").completed + by("limited").inFlight, 36)
      assert.isAbove(by("limited").throttled, 0)
      within(by("a").outputTokens, by("b").outputTokens, 0.05, "a against b")
      // Work-conserving: 4 slots × 120 s of 550 ms requests is 872 requests; the others filled
      // every slot the limited agent could not use.
      const completed = by("limited").completed + by("a").completed + by("b").completed
      assert.isAtLeast(completed, Math.floor(0.95 * (4 * 120_000) / 550))
    }))
})

// ---------------------------------------------------------------------------------------------
// Limits and budgets
// ---------------------------------------------------------------------------------------------

describe("LlmScheduler limits", () => {
  it.effect("refuses with ERATE and a retry-after a request its agent's limits would hold too long", () =>
    Effect.gen(function* () {
      const s = yield* schedulerOver(upstream, { maxInFlight: 4 })
      yield* s.configureAgent("slow", { rpm: 1 })
      const first = yield* Effect.forkChild(s.submit("slow", request(5)))
      const second = yield* Effect.forkChild(s.submit("slow", request(5)))
      yield* TestClock.adjust(1)
      // The bucket held one request; the second waits a minute for the next; a third, 1 ms
      // later, would wait two minutes less that millisecond.
      const third = failure(yield* Effect.exit(s.submit("slow", request(5))))
      assert.strictEqual(third.reason, "RateLimited")
      assert.strictEqual(third.retryAfterMs, 120_000 - 1)
      yield* advance(61_000, 1_000)
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(first)))
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(second)))
      const stats = (yield* s.statsFor("slow"))!
      assert.deepStrictEqual([stats.completed, stats.throttled, stats.rateLimited], [2, 1, 1])
    }))

  it.effect("holds everyone to the kernel-wide requests/min", () =>
    Effect.gen(function* () {
      const s = yield* schedulerOver(upstream, { maxInFlight: 8, rpm: 6 })
      const fibers = yield* Effect.forEach(["a", "b", "c", "d", "e", "f", "g", "h"], (k) => Effect.forkChild(s.submit(k, request(5))))
      yield* advance(1_000)
      assert.strictEqual((yield* s.stats).completed, 6)
      yield* advance(20_000, 1_000) // two more refill in 20 s
      assert.strictEqual((yield* s.stats).completed, 8)
      yield* Effect.forEach(fibers, Fiber.join)
    }))

  it.effect("refuses an agent past its budget; a windowed budget says when it refills", () =>
    Effect.gen(function* () {
      const s = yield* schedulerOver(upstream)
      // Each request: 14 input tokens (40 chars + framing) and 20 output tokens.
      yield* s.configureAgent("once", { budget: 60 })
      yield* s.configureAgent("windowed", { budget: 60, budgetWindowMs: 60_000 })
      for (const agent of ["once", "windowed"]) {
        for (let i = 0; i < 2; i++) {
          const fiber = yield* Effect.forkChild(s.submit(agent, request(20)))
          yield* advance(1_000)
          assert.isTrue(Exit.isSuccess(yield* Fiber.await(fiber)))
        }
      }
      const once = failure(yield* Effect.exit(s.submit("once", request(20))))
      assert.strictEqual(once.reason, "BudgetExhausted")
      assert.isUndefined(once.retryAfterMs)
      const windowed = failure(yield* Effect.exit(s.submit("windowed", request(20))))
      assert.strictEqual(windowed.reason, "BudgetExhausted")
      // 68 spent of 60, refilling at 1 token/s: one token is back after 9 s, plus the time that passed.
      assert.isAtMost(windowed.retryAfterMs!, 9_000)
      assert.isAbove(windowed.retryAfterMs!, 6_000)
      const stats = (yield* s.statsFor("windowed"))!
      assert.deepStrictEqual([stats.inputTokens + stats.outputTokens, stats.rateLimited, stats.limits.budgetLeft], [68, 1, 0])
    }))

  it.effect("holds back what running requests will spend of a budget: concurrency does not overshoot it", () =>
    Effect.gen(function* () {
      const s = yield* schedulerOver(upstream, { maxInFlight: 8 })
      // Each request is estimated at 14 input + 20 output tokens, and uses exactly that.
      yield* s.configureAgent("eager", { budget: 100 })
      const fibers = yield* Effect.forEach([1, 2, 3, 4, 5], () => Effect.forkChild(Effect.exit(s.submit("eager", request(20)))))
      yield* advance(2_000)
      const exits = yield* Effect.forEach(fibers, Fiber.join)
      const refused = exits.filter(Exit.isFailure).map((e) => failure(e).reason)
      // 34, 68 and 102 tokens committed: the fourth would need 103 of 100.
      assert.deepStrictEqual([exits.filter(Exit.isSuccess).length, refused], [3, ["BudgetExhausted", "BudgetExhausted"]])
      const stats = (yield* s.statsFor("eager"))!
      assert.deepStrictEqual([stats.inputTokens + stats.outputTokens, stats.rateLimited, stats.limits.budgetLeft], [102, 2, 0])
    }))

  it.effect("reads the kernel-wide settings from the environment, naming every bad one", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* Scheduler.configFromEnv({}), {})
      assert.deepStrictEqual(
        yield* Scheduler.configFromEnv({ AGENTOS_LLM_MAX_IN_FLIGHT: "2", AGENTOS_LLM_RPM: "60", AGENTOS_LLM_TPM: "1000", AGENTOS_LLM_POLICY: "FIFO" }),
        { maxInFlight: 2, rpm: 60, tpm: 1000, policy: "fifo" }
      )
      const error = yield* Effect.flip(Scheduler.configFromEnv({ AGENTOS_LLM_MAX_IN_FLIGHT: "0", AGENTOS_LLM_POLICY: "lifo" }))
      assert.strictEqual(error.message, 'AGENTOS_LLM_MAX_IN_FLIGHT: expected an integer ≥ 1, got "0"; AGENTOS_LLM_POLICY: expected vtc or fifo, got "lifo"')
      const s = yield* Scheduler.make((yield* Scheduler.configFromEnv({ AGENTOS_LLM_MAX_IN_FLIGHT: "3" }))).pipe(
        Effect.provideServiceEffect(LanguageModel.LanguageModel, upstream)
      )
      assert.strictEqual((yield* s.stats).maxInFlight, 3)
    }))

  it.effect("rejects invalid limits", () =>
    Effect.gen(function* () {
      const s = yield* schedulerOver(upstream)
      const error = yield* Effect.flip(s.configureAgent("x", { weight: 0, rpm: -1 }))
      assert.strictEqual(error.reason, "InvalidRequest")
      assert.match(error.message, /weight: must be a positive number, got 0; rpm: must be a positive number, got -1/)
    }))
})

// ---------------------------------------------------------------------------------------------
// Concurrency, cancellation, streaming
// ---------------------------------------------------------------------------------------------

describe("LlmScheduler slots and cancellation", () => {
  it.effect("never has more than maxInFlight requests upstream, and fills every free slot", () =>
    Effect.gen(function* () {
      let running = 0
      let peak = 0
      const model = fakeModel(() =>
        Effect.sync(() => {
          peak = Math.max(peak, ++running)
        }).pipe(Effect.andThen(Effect.sleep(100)), Effect.ensuring(Effect.sync(() => running--)), Effect.as(answer("ok"))))
      const s = yield* schedulerOver(model, { maxInFlight: 3 })
      const fibers = yield* Effect.forEach(Array.from({ length: 10 }, (_, i) => i), (i) => Effect.forkChild(s.submit(`agent-${i % 3}`, request(5))))
      yield* TestClock.adjust(1)
      assert.strictEqual((yield* s.stats).inFlight, 3)
      yield* advance(400)
      yield* Effect.forEach(fibers, Fiber.join)
      assert.strictEqual(peak, 3)
      assert.strictEqual((yield* s.stats).completed, 10)
    }))

  it.effect("cancels a dead agent's requests: queued ones dropped, running ones aborted upstream", () =>
    Effect.gen(function* () {
      let started = 0
      let aborted = 0
      const model = fakeModel(() =>
        Effect.sync(() => started++).pipe(Effect.andThen(Effect.never), Effect.onInterrupt(() => Effect.sync(() => aborted++))))
      const s = yield* schedulerOver(model, { maxInFlight: 2 })
      const dead = yield* Effect.forEach([1, 2, 3, 4, 5], () => Effect.forkChild(s.submit("dead", request(5))))
      yield* TestClock.adjust(1)
      const other = yield* Effect.forkChild(s.submit("other", request(5)))
      yield* TestClock.adjust(1)
      assert.strictEqual(started, 2)
      assert.strictEqual(yield* s.cancelAgent("dead"), 5)
      yield* TestClock.adjust(1)
      for (const fiber of dead) assert.strictEqual(failure(yield* Fiber.await(fiber)).reason, "Cancelled")
      assert.strictEqual(aborted, 2)
      // The freed slot went to the other agent; nothing of the dead one ever starts again.
      assert.strictEqual(started, 3)
      const stats = yield* s.stats
      assert.strictEqual(stats.inFlight, 1)
      assert.strictEqual(stats.queued, 0)
      assert.strictEqual(stats.agents.find((a) => a.agent === "dead")!.cancelled, 5)
      yield* Fiber.interrupt(other)
    }))

  it.effect("forgets an agent: its requests, limits and figures", () =>
    Effect.gen(function* () {
      const s = yield* schedulerOver(upstream)
      yield* s.configureAgent("gone", { weight: 4, rpm: 1 })
      const fiber = yield* Effect.forkChild(s.submit("gone", request(5)))
      yield* TestClock.adjust(1)
      yield* s.forgetAgent("gone")
      assert.strictEqual(failure(yield* Fiber.await(fiber)).reason, "Cancelled")
      assert.isUndefined(yield* s.statsFor("gone"))
      // Back under the same name: weight 1 and no limits again.
      const again = yield* Effect.forkChild(Effect.all([s.submit("gone", request(5)), s.submit("gone", request(5))], { concurrency: 2 }))
      yield* TestClock.adjust(1_000)
      yield* Fiber.join(again)
      const stats = (yield* s.statsFor("gone"))!
      assert.deepStrictEqual([stats.weight, stats.completed, stats.throttled], [1, 2, 0])
    }))

  it.effect("drops a queued request and aborts a running one when its caller goes away", () =>
    Effect.gen(function* () {
      let aborted = 0
      const model = fakeModel(() => Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => aborted++))))
      const s = yield* schedulerOver(model, { maxInFlight: 1 })
      const running = yield* Effect.forkChild(s.submit("a", request(5)))
      const queued = yield* Effect.forkChild(s.submit("a", request(5)))
      yield* TestClock.adjust(1)
      assert.deepStrictEqual([(yield* s.stats).inFlight, (yield* s.stats).queued], [1, 1])
      yield* Fiber.interrupt(queued)
      assert.deepStrictEqual([(yield* s.stats).inFlight, (yield* s.stats).queued, aborted], [1, 0, 0])
      yield* Fiber.interrupt(running)
      assert.deepStrictEqual([(yield* s.stats).inFlight, aborted], [0, 1])
      assert.strictEqual((yield* s.statsFor("a"))!.cancelled, 2)
    }))

  it.effect("streams text as it arrives, then the whole answer", () =>
    Effect.gen(function* () {
      const s = yield* schedulerOver(upstream)
      const deltas: Array<string> = []
      const fiber = yield* Effect.forkChild(s.submit("a", request(6), { onDelta: (t) => deltas.push(t) }))
      yield* TestClock.adjust(50 + 10 * 3)
      assert.strictEqual(deltas.length, 3) // three tokens so far, the answer not yet done
      yield* TestClock.adjust(30)
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(deltas.join(""), result.content)
      assert.deepStrictEqual(result.usage, { inputTokens: 14, outputTokens: 6 })
      assert.strictEqual(result.model, "offline")

      const events = yield* Effect.forkChild(Stream.runCollect(s.stream("b", request(4))))
      yield* TestClock.adjust(200)
      const collected = yield* Fiber.join(events)
      assert.deepStrictEqual(collected.map((e) => e.type), ["delta", "delta", "delta", "delta", "done"])
      const done = collected.at(-1)!
      assert.strictEqual(done.type === "done" ? done.result.content : "", collected.flatMap((e) => (e.type === "delta" ? [e.text] : [])).join(""))
    }))

  it.effect("passes the request's model and maxTokens to the provider", () =>
    Effect.gen(function* () {
      const s = yield* schedulerOver(upstream)
      const fiber = yield* Effect.forkChild(s.submit("a", { messages: [{ role: "user", content: "hi" }], model: "tiny", maxTokens: 3 }))
      yield* TestClock.adjust(1_000)
      const result = yield* Fiber.join(fiber)
      assert.deepStrictEqual([result.model, result.usage.outputTokens], ["tiny", 3])
    }))
})

// ---------------------------------------------------------------------------------------------
// Upstream failures
// ---------------------------------------------------------------------------------------------

describe("LlmScheduler upstream failures", () => {
  it.effect("honours Retry-After on a 429, then answers", () =>
    Effect.gen(function* () {
      let calls = 0
      const model = fakeModel((n) =>
        Effect.sync(() => calls++).pipe(Effect.andThen(n === 1
          ? Effect.fail(aiError(new AiError.RateLimitError({ retryAfter: Duration.seconds(5) })))
          : Effect.succeed(answer("after the wait")))))
      const s = yield* schedulerOver(model)
      const fiber = yield* Effect.forkChild(s.submit("a", request(5)))
      yield* TestClock.adjust(4_999)
      assert.strictEqual(calls, 1)
      yield* TestClock.adjust(1)
      assert.strictEqual(calls, 2)
      assert.strictEqual((yield* Fiber.join(fiber)).content, "after the wait")
      assert.strictEqual((yield* s.statsFor("a"))!.retries, 1)
    }))

  it.effect("gives up on 429s after maxRetries with ERATE carrying the last retry-after", () =>
    Effect.gen(function* () {
      const model = fakeModel(() => Effect.fail(aiError(new AiError.RateLimitError({ retryAfter: Duration.seconds(2) }))))
      const s = yield* schedulerOver(model, { maxRetries: 2 })
      const fiber = yield* Effect.forkChild(s.submit("a", request(5)))
      yield* advance(4_000, 1_000)
      const error = failure(yield* Fiber.await(fiber))
      assert.strictEqual(error.reason, "RateLimited")
      assert.strictEqual(error.retryAfterMs, 2_000)
      assert.match(error.message, /after 2 retries/)
    }))

  it.effect("fails at once with ERATE when Retry-After is longer than it will wait", () =>
    Effect.gen(function* () {
      const model = fakeModel(() => Effect.fail(aiError(new AiError.RateLimitError({ retryAfter: Duration.minutes(5) }))))
      const s = yield* schedulerOver(model, { retryMaxMs: 30_000 })
      const error = failure(yield* Effect.exit(s.submit("a", request(5))))
      assert.deepStrictEqual([error.reason, error.retryAfterMs], ["RateLimited", 300_000])
    }))

  it.effect("retries 5xx with exponential backoff, then EAGAIN", () =>
    Effect.gen(function* () {
      let calls = 0
      const model = fakeModel(() =>
        Effect.sync(() => calls++).pipe(Effect.andThen(Effect.fail(aiError(new AiError.InternalProviderError({ description: "HTTP 503" }))))))
      const s = yield* schedulerOver(model, { maxRetries: 3, retryBaseMs: 100 })
      const fiber = yield* Effect.forkChild(s.submit("a", request(5)))
      yield* TestClock.adjust(100 + 200 - 1)
      assert.strictEqual(calls, 2)
      yield* TestClock.adjust(1 + 400)
      const error = failure(yield* Fiber.await(fiber))
      assert.deepStrictEqual([calls, error.reason], [4, "Unavailable"])
      assert.deepStrictEqual([(yield* s.statsFor("a"))!.errors, (yield* s.stats).inFlight], [1, 0])
    }))

  it.effect("does not retry a 400 or a 401", () =>
    Effect.gen(function* () {
      let calls = 0
      const model = fakeModel((n) =>
        Effect.sync(() => calls++).pipe(Effect.andThen(Effect.fail(aiError(n === 1
          ? new AiError.InvalidRequestError({ description: "bad" })
          : new AiError.AuthenticationError({ kind: "InvalidKey" }))))))
      const s = yield* schedulerOver(model)
      assert.strictEqual(failure(yield* Effect.exit(s.submit("a", request(5)))).reason, "InvalidRequest")
      assert.strictEqual(failure(yield* Effect.exit(s.submit("a", request(5)))).reason, "Denied")
      assert.strictEqual(calls, 2)
    }))

  it.effect("times out an upstream that does not answer, and frees its slot", () =>
    Effect.gen(function* () {
      const model = fakeModel(() => Effect.never)
      const s = yield* schedulerOver(model, { requestTimeoutMs: 1_000, maxInFlight: 1 })
      const fiber = yield* Effect.forkChild(s.submit("a", request(5)))
      yield* TestClock.adjust(1_000)
      assert.strictEqual(failure(yield* Fiber.await(fiber)).reason, "TimedOut")
      assert.strictEqual((yield* s.stats).inFlight, 0)
    }))

  it.effect("builds over the provider the environment names", () =>
    Effect.gen(function* () {
      const s = yield* Scheduler.LlmScheduler
      const result = yield* s.submit("a", LlmRequest.fromPrompt("hello"))
      assert.strictEqual(result.model, "env-model")
    }).pipe(Effect.provide(Layer.fresh(Scheduler.LlmScheduler.layerFromEnv({}, { AGENTOS_LLM_MODEL: "env-model" })))))

  it.effect("builds over the offline layer", () =>
    Effect.gen(function* () {
      const s = yield* Scheduler.LlmScheduler
      const result = yield* s.submit("a", LlmRequest.fromPrompt("hello"))
      assert.strictEqual(result.usage.outputTokens, 32)
    }).pipe(Effect.provide(Layer.fresh(Scheduler.LlmScheduler.layerOffline()))))
})
