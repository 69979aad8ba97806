/**
 * Lifecycle events: one closed union of `agentos.*` events, published by the kernel as agents
 * start and end. SUBSCRIBE, logs and `agentos top` all read this one stream.
 */
import { Context, Effect, Layer, PubSub } from "effect"

/** An agent started. @category models */
export interface AgentStarted {
  readonly type: "agentos.agent.started"
  readonly id: string
  readonly name: string
  readonly pid: number
  readonly time: number
}

/** An agent ended; `reason` as WAIT reports it. @category models */
export interface AgentExited {
  readonly type: "agentos.agent.exited"
  readonly id: string
  readonly name: string
  readonly pid: number
  readonly reason: string
  readonly code: number | null
  readonly signal: string | null
  readonly description: string
  readonly time: number
}

/** An agent failed to start. @category models */
export interface AgentFailed {
  readonly type: "agentos.agent.failed"
  readonly id: string
  readonly name: string
  readonly step: string
  readonly message: string
  readonly time: number
}

/** Every lifecycle event. @category models */
export type LifecycleEvent = AgentStarted | AgentExited | AgentFailed

/** The kernel's event bus. @category services */
export class Events extends Context.Service<Events, {
  readonly publish: (event: LifecycleEvent) => Effect.Effect<void>
  readonly pubsub: PubSub.PubSub<LifecycleEvent>
}>()("agentos/kernel/Events") {
  /** @category layers */
  static readonly layer = Layer.effect(Events, Effect.gen(function* () {
    const pubsub = yield* PubSub.unbounded<LifecycleEvent>()
    return Events.of({ pubsub, publish: (event) => PubSub.publish(pubsub, event).pipe(Effect.asVoid) })
  }))
}
