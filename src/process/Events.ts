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

/**
 * A supervisor's report about one of its children, with OTP's fields: the supervisor, the
 * context (what it was doing), the reason, the offender (the child's path).
 * @category models
 */
export interface SupervisorReport {
  readonly type:
    | "agentos.child.started"
    | "agentos.child.exited"
    | "agentos.child.restarting"
    | "agentos.child.stopped"
    | "agentos.child.start_failed"
    | "agentos.supervisor.escalated"
  readonly supervisor: string
  readonly context: "start" | "child_terminated" | "restart" | "shutdown" | "start_error" | "reached_max_restart_intensity"
  readonly offender: string
  readonly kind: "agent" | "supervisor" | "service"
  readonly reason: string | null
  readonly pid: number | null
  readonly restarts: number
  readonly delayMs?: number
  readonly time: number
}

/** Every lifecycle event. @category models */
export type LifecycleEvent = AgentStarted | AgentExited | AgentFailed | SupervisorReport

/**
 * A line an agent produced (stdout, stderr, or a LOG record), with its incarnation (restart
 * count) and its number in its name's log (AgentLogs' `seq`). Not a lifecycle event: it has its
 * own bounded stream, so a flooding agent can neither grow the kernel nor crowd lifecycle events
 * out of SUBSCRIBE.
 * @category models
 */
export interface AgentOutput {
  readonly type: "agentos.agent.output"
  readonly seq: number
  readonly id: string
  readonly name: string
  readonly incarnation: number
  readonly stream: "stdout" | "stderr" | "log"
  readonly line: string
  readonly time: number
}

/** Lines buffered for a reader that lags behind; past it a reader misses lines, never blocks the kernel. */
const OUTPUT_BUFFER = 8192

/** The kernel's event bus. @category services */
export class Events extends Context.Service<Events, {
  readonly publish: (event: LifecycleEvent) => Effect.Effect<void>
  readonly pubsub: PubSub.PubSub<LifecycleEvent>
  /** Publishes an output line at once, from any callback; dropped when readers lag too far. */
  readonly publishOutput: (output: AgentOutput) => void
  readonly output: PubSub.PubSub<AgentOutput>
}>()("agentos/process/Events") {
  /** @category layers */
  static readonly layer = Layer.effect(Events, Effect.gen(function* () {
    const pubsub = yield* PubSub.unbounded<LifecycleEvent>()
    const output = yield* PubSub.dropping<AgentOutput>(OUTPUT_BUFFER)
    return Events.of({
      pubsub,
      publish: (event) => PubSub.publish(pubsub, event).pipe(Effect.asVoid),
      output,
      publishOutput: (line) => void PubSub.publishUnsafe(output, line)
    })
  }))
}
