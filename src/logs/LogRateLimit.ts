/**
 * journald's per-service rate limit, applied to one agent name's lines: in each window of
 * `intervalMs` (RateLimitIntervalSec) at most `burstLines` lines (RateLimitBurst) and
 * `burstBytes` bytes are kept; the rest are dropped and counted. The window is fixed, starting
 * at the first line after the previous one ended, as journald's is. Time is passed in, never
 * read, so the arithmetic is testable without a clock.
 */

/** The limits. @category models */
export interface Limits {
  readonly intervalMs: number
  readonly burstLines: number
  readonly burstBytes: number
}

/** One name's window and counters. @category models */
export class LogRateLimit {
  readonly limits: Limits
  /** When the current window started; -Infinity before the first line. */
  private start = Number.NEGATIVE_INFINITY
  private lines = 0
  private bytes = 0
  /** Lines dropped in the current window, not yet reported. */
  private suppressed = 0
  /** Lines dropped over the name's whole life. */
  private total = 0

  constructor(limits: Limits) {
    this.limits = limits
  }

  /** When the current window ends. */
  get windowEnd(): number {
    return this.start + this.limits.intervalMs
  }

  /** Lines dropped over the name's whole life. */
  get dropped(): number {
    return this.total
  }

  /** Lines dropped in the current window, not yet reported by a marker. */
  get unreported(): number {
    return this.suppressed
  }

  /**
   * Closes the current window if it has ended by `now` and opens the next one there; returns
   * how many lines the closed window dropped (what its marker reports), 0 otherwise.
   */
  roll(now: number): number {
    if (now < this.windowEnd) return 0
    const dropped = this.suppressed
    this.start = now
    this.lines = 0
    this.bytes = 0
    this.suppressed = 0
    return dropped
  }

  /**
   * Whether a line of `bytes` fits in the current window (call `roll` first); a line that does
   * not is counted as dropped. The first line of a window always fits, however big: a line
   * larger than the byte budget would otherwise never be kept.
   */
  admit(bytes: number): boolean {
    const fits = this.lines === 0 ||
      (this.lines < this.limits.burstLines && this.bytes + bytes <= this.limits.burstBytes)
    if (!fits) {
      this.suppressed++
      this.total++
      return false
    }
    this.lines++
    this.bytes += bytes
    return true
  }
}
