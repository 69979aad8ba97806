/**
 * `ping`: HELLO, then NOOPs one at a time, timing each round trip; what `agentos ping` prints
 * and tests call directly.
 */
import { Clock, Effect } from "effect"
import type { HelloResult } from "./Calls.ts"
import { Client } from "./Client.ts"

/** What a ping measured. @category models */
export interface PingResult {
  readonly hello: HelloResult
  /** Round trip of each NOOP, in ms. */
  readonly rttMs: ReadonlyArray<number>
}

/** Says HELLO, then times `count` NOOP round trips. @category constructors */
export const ping = Effect.fn("ping")(function* (count: number = 1) {
  const client = yield* Client
  const hello = yield* client.hello("agentos-ping")
  const rttMs: Array<number> = []
  for (let i = 0; i < count; i++) {
    const start = yield* Clock.currentTimeNanos
    const echoed = yield* client.noop({ seq: i })
    const end = yield* Clock.currentTimeNanos
    if ((echoed as { seq?: unknown })?.seq !== i) {
      return yield* Effect.die(new Error(`NOOP echoed ${JSON.stringify(echoed)} instead of {seq: ${i}}`))
    }
    rttMs.push(Number(end - start) / 1e6)
  }
  return { hello, rttMs } satisfies PingResult
})
