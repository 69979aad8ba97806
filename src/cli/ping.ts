/** `agentos ping`: HELLO + NOOP round trips to the kernel, printing each. */
import { Console, Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { ping as runPing } from "../client/Ping.ts"
import * as Shared from "./shared.ts"

export const ping = Command.make("ping", {
  socket: Shared.socket,
  verbose: Shared.verbose,
  count: Flag.Int("count").pipe(Flag.withAlias("c"), Flag.withDescription("NOOP round trips to time"), Flag.withDefault(1))
}, ({ socket, count }) =>
  Effect.gen(function* () {
    const { hello, rttMs } = yield* runPing(Math.max(1, count))
    yield* Console.log(`kernel ${hello.kernel.id} (agentos ${hello.kernel.version}, pid ${hello.kernel.pid}) at ${Shared.socketPath(socket)}`)
    for (const [i, ms] of rttMs.entries()) yield* Console.log(`NOOP seq=${i} rtt=${ms.toFixed(3)} ms`)
  }).pipe(Effect.provide(Shared.clientLayer(socket)))).pipe(Command.withDescription("Check the kernel answers: HELLO, then timed NOOPs"))
