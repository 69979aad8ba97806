/**
 * RestartIntensity.add against supervisor.erl's add_restart: a sliding window closed at both
 * ends, Exceeded when it holds more than maxRestarts, older restarts forgotten. Cases named
 * after supervisor_SUITE where one corresponds.
 */
import { describe, expect, it } from "vitest"
import * as RestartIntensity from "../../src/supervision/RestartIntensity.ts"
import type { Limits } from "../../src/supervision/RestartIntensity.ts"

// Restarts at the given times, in order: the outcome of each, and the final history.
const replay = (times: ReadonlyArray<number>, limits: Limits) => {
  let history: ReadonlyArray<number> = []
  const outcomes: Array<"Ok" | "Exceeded"> = []
  for (const now of times) {
    const outcome = RestartIntensity.add(history, now, limits)
    outcomes.push(outcome._tag)
    history = outcome.history
  }
  return { outcomes, history }
}

describe("RestartIntensity.add", () => {
  it("defaults to OTP's 1 restart in 5 s", () => {
    expect(RestartIntensity.defaults).toEqual({ maxRestarts: 1, withinMs: 5000 })
  })

  const cases: ReadonlyArray<readonly [name: string, limits: Limits, times: ReadonlyArray<number>, outcomes: ReadonlyArray<"Ok" | "Exceeded">]> = [
    // supervisor_SUITE one_for_one / one_for_all: intensity 2 in 3600 s, the third restart escalates.
    ["one_for_one (restart frequency)", { maxRestarts: 2, withinMs: 3_600_000 }, [0, 10, 20], ["Ok", "Ok", "Exceeded"]],
    // supervisor_SUITE multiple_restarts: 1 in 1 s, restarts 2.1 s apart never escalate.
    ["multiple_restarts", { maxRestarts: 1, withinMs: 1000 }, [0, 2100, 4200, 6300], ["Ok", "Ok", "Ok", "Ok"]],
    ["sup_restart_intensity: defaults, two restarts within 5 s escalate", RestartIntensity.defaults, [0, 4999], ["Ok", "Exceeded"]],
    ["sup_restart_intensity: maxRestarts 0 escalates at the first restart", { maxRestarts: 0, withinMs: 5000 }, [0], ["Exceeded"]],
    ["window boundary: a restart exactly withinMs old still counts", RestartIntensity.defaults, [0, 5000], ["Ok", "Exceeded"]],
    ["window boundary: one ms older is forgotten", RestartIntensity.defaults, [0, 5001], ["Ok", "Ok"]],
    ["sliding window: only the last withinMs counts", { maxRestarts: 3, withinMs: 1000 }, [0, 400, 800, 1300, 1700, 1750], [
      "Ok",
      "Ok",
      "Ok",
      "Ok", // 0 forgotten: 400, 800, 1300
      "Ok", // 400 forgotten: 800, 1300, 1700
      "Exceeded" // 800, 1300, 1700, 1750
    ]]
  ]

  for (const [name, limits, times, outcomes] of cases) {
    it(name, () => {
      expect(replay(times, limits).outcomes).toEqual(outcomes)
    })
  }

  it("forgets restarts older than the window and appends the new one, oldest first", () => {
    expect(RestartIntensity.add([100, 2000, 5000], 6000, { maxRestarts: 5, withinMs: 4000 }))
      .toEqual({ _tag: "Ok", history: [2000, 5000, 6000] })
  })

  it("keeps the history when exceeded too", () => {
    expect(RestartIntensity.add([1000], 2000, RestartIntensity.defaults)).toEqual({ _tag: "Exceeded", history: [1000, 2000] })
  })

  it("does not touch the history it is given", () => {
    const history = Object.freeze([1, 2, 3])
    RestartIntensity.add(history, 10, { maxRestarts: 10, withinMs: 5 })
    expect(history).toEqual([1, 2, 3])
  })
})
