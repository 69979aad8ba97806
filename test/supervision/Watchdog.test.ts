/**
 * Watchdog: silence counted from the last heartbeat, or from the start before the first one;
 * nextCheckIn is the time left until it could expire.
 */
import { describe, expect, it } from "vitest"
import * as Watchdog from "../../src/supervision/Watchdog.ts"

describe("Watchdog.expired", () => {
  const cases: ReadonlyArray<readonly [name: string, last: number | null, started: number, now: number, watchdogMs: number, expired: boolean]> = [
    ["no heartbeat yet, within the period from the start", null, 1000, 1999, 1000, false],
    ["no heartbeat yet, a full period after the start", null, 1000, 2000, 1000, true],
    ["a recent heartbeat", 5000, 1000, 5500, 1000, false],
    ["a heartbeat a full period ago", 5000, 1000, 6000, 1000, true],
    ["a heartbeat from before this run does not count", 500, 1000, 1999, 1000, false],
    ["…and the silence is counted from the start", 500, 1000, 2000, 1000, true],
    ["watchdog 0 is off", null, 0, 1_000_000, 0, false],
    ["a negative watchdog is off", null, 0, 1_000_000, -5, false],
    ["an infinite watchdog is off", null, 0, 1_000_000, Infinity, false]
  ]
  for (const [name, last, started, now, watchdogMs, expired] of cases) {
    it(name, () => {
      expect(Watchdog.expired(last, started, now, watchdogMs)).toBe(expired)
    })
  }
})

describe("Watchdog.nextCheckIn", () => {
  const cases: ReadonlyArray<readonly [name: string, last: number | null, started: number, now: number, watchdogMs: number, ms: number]> = [
    ["right after the start", null, 1000, 1000, 3000, 3000],
    ["midway", null, 1000, 2500, 3000, 1500],
    ["after a heartbeat", 4000, 1000, 4500, 3000, 2500],
    ["already expired", 4000, 1000, 9000, 3000, 0],
    ["off", null, 0, 0, 0, Infinity]
  ]
  for (const [name, last, started, now, watchdogMs, ms] of cases) {
    it(name, () => {
      expect(Watchdog.nextCheckIn(last, started, now, watchdogMs)).toBe(ms)
    })
  }

  it("agrees with expired: not expired before the check, expired at it", () => {
    const wait = Watchdog.nextCheckIn(1200, 1000, 1700, 1000)
    expect(Watchdog.expired(1200, 1000, 1700 + wait - 1, 1000)).toBe(false)
    expect(Watchdog.expired(1200, 1000, 1700 + wait, 1000)).toBe(true)
  })
})
