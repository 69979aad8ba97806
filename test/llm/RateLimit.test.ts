/** Token buckets with time passed in: refill, waits, overdraft, corrections. Exact numbers. */
import { describe, expect, it } from "vitest"
import * as RateLimit from "../../src/llm/RateLimit.ts"

describe("RateLimit", () => {
  it("starts full and refills evenly over a minute", () => {
    let b = RateLimit.perMinute(60, 0) // one per second
    expect(b.tokens).toBe(60)
    b = RateLimit.take(b, 60, 0)
    expect(b.tokens).toBe(0)
    expect(RateLimit.refill(b, 1_000).tokens).toBeCloseTo(1, 10)
    expect(RateLimit.refill(b, 120_000).tokens).toBe(60) // never above capacity
  })

  it("says how long until an amount can be taken", () => {
    const b = RateLimit.take(RateLimit.perMinute(60, 0), 60, 0)
    expect(RateLimit.waitMs(b, 1, 0)).toBe(1_000)
    expect(RateLimit.waitMs(b, 1, 400)).toBe(600)
    expect(RateLimit.waitMs(b, 3, 0)).toBe(3_000)
    expect(RateLimit.waitMs(b, 1, 1_000)).toBe(0)
  })

  it("lets a request larger than the bucket go once it is full, driving it negative", () => {
    let b = RateLimit.perMinute(1_000, 0)
    expect(RateLimit.waitMs(b, 5_000, 0)).toBe(0)
    b = RateLimit.take(b, 5_000, 0)
    expect(b.tokens).toBe(-4_000)
    expect(RateLimit.waitMs(b, 10, 0)).toBe(Math.ceil(4_010 / (1_000 / 60_000)))
  })

  it("measures a backlog beyond the capacity", () => {
    const b = RateLimit.perMinute(60, 0)
    expect(RateLimit.backlogMs(b, 60, 0)).toBe(0)
    expect(RateLimit.backlogMs(b, 90, 0)).toBe(30_000)
  })

  it("never refills a bucket without a rate", () => {
    const b = RateLimit.take(RateLimit.make(100, 0, 0), 100, 0)
    expect(RateLimit.waitMs(b, 1, 1e12)).toBe(Number.POSITIVE_INFINITY)
    expect(RateLimit.backlogMs(b, 1, 1e12)).toBe(Number.POSITIVE_INFINITY)
  })

  it("corrects an estimate both ways, never above capacity", () => {
    let limits: RateLimit.Limits = { requests: RateLimit.perMinute(10, 0), tokens: RateLimit.perMinute(1_000, 0) }
    limits = RateLimit.limitsTake(limits, 300, 0)
    expect([limits.requests!.tokens, limits.tokens!.tokens]).toEqual([9, 700])
    expect(RateLimit.limitsCorrect(limits, 50).tokens!.tokens).toBe(650) // used more than estimated
    expect(RateLimit.limitsCorrect(limits, -400).tokens!.tokens).toBe(1_000) // refund, capped
    expect(RateLimit.limitsWaitMs(limits, 1, 800, 0)).toBe(Math.ceil(100 / (1_000 / 60_000)))
    expect(RateLimit.limitsWaitMs({}, 1, 1e9, 0)).toBe(0)
  })
})
