/**
 * SUBSCRIBE (0x31): `{events?: ["agentos.child", ...]}` → `{subscribed: true}`, then a push
 * `{ev, data}` for every lifecycle event whose type starts with one of the prefixes (all when
 * none are given), until the connection closes.
 */
import { Effect, PubSub } from "effect"
import { Op } from "../../protocol/Op.ts"
import { SubscribeArgs } from "../../protocol/Syscalls.ts"
import { Events } from "../../process/Events.ts"
import * as Syscall from "../Syscall.ts"

const decode = Syscall.decodeArgs(SubscribeArgs)

/** @category syscalls */
export const Subscribe = Syscall.make(Op.SUBSCRIBE, (args, caller) =>
  Effect.gen(function* () {
    const { events: prefixes } = yield* decode(args)
    const events = yield* Events
    const wanted = (type: string) => prefixes === undefined || prefixes.length === 0 || prefixes.some((p) => type.startsWith(p))
    // startImmediately: subscribed before the reply leaves, so no later event is missed.
    // In the connection's scope: the subscription ends when the connection closes.
    yield* Effect.scoped(Effect.gen(function* () {
      const queue = yield* PubSub.subscribe(events.pubsub)
      for (;;) {
        const event = yield* PubSub.take(queue)
        if (wanted(event.type)) caller.push({ ev: event.type, data: event })
      }
    })).pipe(Effect.forkIn(caller.scope, { startImmediately: true }))
    return { subscribed: true }
  }))
