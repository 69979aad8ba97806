/**
 * Backoff between a child's restarts, like Akka's `restartWithBackoff` and systemd's
 * `RestartSteps`/`RestartMaxDelaySec`: the wait grows exponentially from `initialMs` up to
 * `maxMs`, spread by a random jitter so that children failing together do not restart in step,
 * and starts over once a run lasted `resetAfterMs`. Off by default, per child.
 */

/** A child's backoff as declared. @category models */
export interface BackoffSpec {
  /** The wait before the first restart of a streak. */
  readonly initialMs: number
  /** The longest wait. */
  readonly maxMs: number
  /** Growth per attempt; default 2. */
  readonly factor?: number
  /** Spread, 0..1: the wait is scaled by a random factor in [1 - jitter, 1 + jitter]; default 0.2. */
  readonly jitter?: number
  /** A run at least this long ends the streak (the next restart waits `initialMs`); default `maxMs * 2`. */
  readonly resetAfterMs?: number
}

/** A backoff with every field filled. @category models */
export interface Resolved {
  readonly initialMs: number
  readonly maxMs: number
  readonly factor: number
  readonly jitter: number
  readonly resetAfterMs: number
}

/** What `backoff: true` means: 500 ms doubling up to 30 s, ±20%, reset after a minute's run. @category models */
export const defaults: Resolved = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.2, resetAfterMs: 60_000 }

/** Fills the optional fields. @category constructors */
export const resolve = (spec: BackoffSpec): Resolved => ({
  initialMs: spec.initialMs,
  maxMs: spec.maxMs,
  factor: spec.factor ?? 2,
  jitter: spec.jitter ?? 0.2,
  resetAfterMs: spec.resetAfterMs ?? spec.maxMs * 2
})

const clamp01 = (x: number): number => (Number.isNaN(x) ? 0 : Math.min(1, Math.max(0, x)))

/**
 * The wait before restart number `attempt` (0-based) of a streak:
 * `min(maxMs, initialMs * factor^attempt)`, scaled by `1 + jitter * (2 * random - 1)`, then
 * capped at `maxMs`; whole milliseconds, never negative. `random` (0..1) is passed in so the
 * caller decides where randomness comes from (Effect's `Random`, a seed in tests).
 *
 * @category constructors
 */
export const delay = (spec: BackoffSpec, attempt: number, random: number): number => {
  const { factor, initialMs, jitter, maxMs } = resolve(spec)
  if (!(initialMs > 0) || !(maxMs > 0)) return 0
  // factor^attempt overflows to Infinity for large attempts; min() then gives maxMs.
  const base = Math.min(maxMs, initialMs * Math.pow(Math.max(1, factor), Math.max(0, attempt)))
  const scaled = base * (1 + clamp01(jitter) * (2 * clamp01(random) - 1))
  return Math.max(0, Math.round(Math.min(maxMs, scaled)))
}

/**
 * The attempt number the restart after a child's death uses, given `attempt`, the one it would
 * use next in the current streak (how many restarts the streak has had: 0 for a child never
 * restarted), and how long the run that just ended lasted: 0 if it lasted `resetAfterMs` or
 * more (the streak is over), else `attempt`. The caller waits `delay(spec, result, random)`
 * and then keeps `result + 1` for the child's next death, as Akka's BackoffSupervisor keeps
 * its restart count.
 *
 * @category constructors
 */
export const nextAttempt = (spec: BackoffSpec, attempt: number, ranForMs: number): number =>
  ranForMs >= resolve(spec).resetAfterMs ? 0 : Math.max(0, attempt)
