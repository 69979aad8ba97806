/**
 * Restart intensity, after supervisor.erl's add_restart/1: a supervisor keeps the times of its
 * recent restarts; more than `maxRestarts` of them within `withinMs` means restarting is not
 * helping, so it terminates its children and escalates to its parent.
 */

/** At most `maxRestarts` restarts within `withinMs` milliseconds. @category models */
export interface Limits {
  readonly maxRestarts: number
  readonly withinMs: number
}

/** OTP's defaults: intensity 1, period 5 s. @category models */
export const defaults: Limits = { maxRestarts: 1, withinMs: 5000 }

/**
 * What `add` answers: the history to keep, and whether the new restart goes over the limit.
 *
 * @category models
 */
export type Outcome =
  | { readonly _tag: "Ok"; readonly history: ReadonlyArray<number> }
  | { readonly _tag: "Exceeded"; readonly history: ReadonlyArray<number> }

/**
 * Records a restart at `now` (ms, from a monotonic clock) in `history` (restart times, oldest
 * first). Restarts older than the window are forgotten; the new one is appended;
 * `Exceeded` when the window then holds more than `maxRestarts` (so `maxRestarts: 0` escalates
 * at the first restart).
 *
 * **Details**
 *
 * The window is closed at both ends, as in OTP (a restart is kept while
 * `t >= now - withinMs`): with 1 in 5000 ms, restarts at 0 and 5000 exceed, at 0 and 5001 do
 * not. OTP counts whole seconds; this counts milliseconds.
 *
 * @category constructors
 */
export const add = (history: ReadonlyArray<number>, now: number, limits: Limits): Outcome => {
  const threshold = now - limits.withinMs
  const kept = [...history.filter((t) => t >= threshold), now]
  return kept.length <= limits.maxRestarts ? { _tag: "Ok", history: kept } : { _tag: "Exceeded", history: kept }
}
