/**
 * Backoff: exponential growth capped at maxMs, jitter within ±jitter of the base and never above
 * maxMs, and the attempt count reset by a long enough run.
 */
import { describe, expect, it } from "vitest"
import * as Backoff from "../../src/supervision/Backoff.ts"
import type { BackoffSpec } from "../../src/supervision/Backoff.ts"

const spec: BackoffSpec = { initialMs: 100, maxMs: 5000 }
const noJitter: BackoffSpec = { ...spec, jitter: 0 }

describe("Backoff.resolve", () => {
  it("fills factor 2, jitter 0.2, resetAfterMs maxMs * 2", () => {
    expect(Backoff.resolve(spec)).toEqual({ initialMs: 100, maxMs: 5000, factor: 2, jitter: 0.2, resetAfterMs: 10_000 })
  })

  it("keeps what is given", () => {
    expect(Backoff.resolve({ initialMs: 1, maxMs: 2, factor: 3, jitter: 0, resetAfterMs: 7 }))
      .toEqual({ initialMs: 1, maxMs: 2, factor: 3, jitter: 0, resetAfterMs: 7 })
  })

  it("backoff: true means 500 ms doubling to 30 s", () => {
    expect(Backoff.defaults).toEqual({ initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.2, resetAfterMs: 60_000 })
  })
})

describe("Backoff.delay", () => {
  it("grows by factor per attempt and stops at maxMs", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((attempt) => Backoff.delay(noJitter, attempt, 0.5)))
      .toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000])
  })

  it("uses the factor given", () => {
    expect([0, 1, 2, 3].map((attempt) => Backoff.delay({ ...noJitter, factor: 3 }, attempt, 0.5))).toEqual([100, 300, 900, 2700])
  })

  const jittered: ReadonlyArray<readonly [name: string, attempt: number, random: number, expected: number]> = [
    ["random 0.5 is the base", 2, 0.5, 400],
    ["random 0 is base × (1 - jitter)", 2, 0, 320],
    ["random 1 is base × (1 + jitter)", 2, 1, 480],
    ["random 0 at the cap goes under it", 10, 0, 4000],
    ["random 1 at the cap stays at it", 10, 1, 5000]
  ]
  for (const [name, attempt, random, expected] of jittered) {
    it(name, () => {
      expect(Backoff.delay(spec, attempt, random)).toBe(expected)
    })
  }

  it("stays within [base × (1 - jitter), min(maxMs, base × (1 + jitter))] for any random", () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const base = Math.min(5000, 100 * 2 ** attempt)
      for (let i = 0; i <= 100; i++) {
        const d = Backoff.delay(spec, attempt, i / 100)
        expect(d).toBeGreaterThanOrEqual(Math.floor(base * 0.8))
        expect(d).toBeLessThanOrEqual(Math.min(5000, Math.ceil(base * 1.2)))
      }
    }
  })

  it("does not overflow for huge attempts", () => {
    expect(Backoff.delay(noJitter, 10_000, 0.5)).toBe(5000)
  })

  it("is 0 for initialMs 0, and whole milliseconds otherwise", () => {
    expect(Backoff.delay({ initialMs: 0, maxMs: 1000 }, 3, 0.7)).toBe(0)
    expect(Number.isInteger(Backoff.delay({ initialMs: 3, maxMs: 1000, factor: 1.5 }, 3, 0.37))).toBe(true)
  })

  it("clamps random and jitter into 0..1", () => {
    expect(Backoff.delay(spec, 0, 7)).toBe(120)
    expect(Backoff.delay(spec, 0, -1)).toBe(80)
    expect(Backoff.delay({ ...spec, jitter: 5 }, 0, 0)).toBe(0)
  })
})

describe("Backoff.nextAttempt", () => {
  const cases: ReadonlyArray<readonly [name: string, attempt: number, ranForMs: number, expected: number]> = [
    ["a quick death keeps the streak", 3, 50, 3],
    ["a run just short of resetAfterMs keeps it", 3, 9_999, 3],
    ["a run of resetAfterMs ends it", 3, 10_000, 0],
    ["a longer run ends it", 3, 60_000, 0],
    ["a fresh child starts at 0", 0, 10, 0]
  ]
  for (const [name, attempt, ranForMs, expected] of cases) {
    it(name, () => {
      expect(Backoff.nextAttempt(spec, attempt, ranForMs)).toBe(expected)
    })
  }

  it("drives a crash loop: waits grow while the child dies fast, and start over after a long run", () => {
    let attempt = 0
    const waits: Array<number> = []
    for (const ranForMs of [10, 10, 10, 10, 20_000, 10, 10]) {
      const current = Backoff.nextAttempt(noJitter, attempt, ranForMs)
      waits.push(Backoff.delay(noJitter, current, 0.5))
      attempt = current + 1
    }
    expect(waits).toEqual([100, 200, 400, 800, 100, 200, 400])
  })
})
