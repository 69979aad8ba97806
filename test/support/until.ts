/**
 * Test support: waiting for something a real process or socket will do, by polling. The answer
 * is what `check` returns once it is not undefined; past the deadline the test fails naming what
 * it waited for (and, with `seen`, what it saw last). Never a timing assertion: the deadline only
 * stops a test that would otherwise hang.
 */

/** How long and how often. */
export interface Options {
  readonly timeoutMs?: number
  readonly intervalMs?: number
  /** What to show when the deadline passes (a screen, a log). */
  readonly seen?: () => string
}

/** Polls `check` until it returns a value. */
export const until = async <A>(what: string, check: () => A | undefined | Promise<A | undefined>, options: Options = {}): Promise<A> => {
  const timeoutMs = options.timeoutMs ?? 30_000
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what} (${timeoutMs} ms)${options.seen === undefined ? "" : `; last seen:\n${options.seen()}`}`)
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 25))
  }
}
