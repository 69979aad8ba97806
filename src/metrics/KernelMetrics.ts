/**
 * The kernel's metrics, as Prometheus's text exposition (`/metrics`, METRICS, `agentos
 * metrics`): agents by state, restarts, exits by reason, escalations, spawn latency, syscalls by
 * op and code, the LLM per agent, mailboxes and routed messages (docs/metrics.md). Counters of
 * lifecycle events follow Events.pubsub in a fiber of the layer's scope; figures that already
 * live elsewhere (the process table, the mailboxes, the LLM scheduler) are read when collected.
 * Every series is an Effect metric in the kernel's registry, so the OTLP exporter (Telemetry)
 * sends the same ones.
 */
import { Clock, Context, Effect, Layer, Metric, PubSub } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { Router } from "../ipc/Router.ts"
import { Agents, type Status } from "../process/Agents.ts"
import { Events, type LifecycleEvent } from "../process/Events.ts"
import { LlmScheduler } from "../llm/Scheduler.ts"
import * as Op from "../protocol/Op.ts"
import * as Telemetry from "./Telemetry.ts"

// ---------------------------------------------------------------------------------------------
// The metrics
// ---------------------------------------------------------------------------------------------

const agents = Metric.gauge("agentos_agents", {
  description: "Agents of the process table by state, as LIST shows them (one row per name: its newest incarnation)"
})
const restarts = Metric.counter("agentos_child_restarts_total", {
  description: "Restarts a supervisor made of a child, by the child's path (agentos.child.restarting)",
  incremental: true
})
const exits = Metric.counter("agentos_agent_exits_total", {
  description: "Agent incarnations that ended, by reason as WAIT reports it (failed_to_start included)",
  incremental: true
})
const escalations = Metric.counter("agentos_supervisor_escalations_total", {
  description: "Times a supervisor went past its restart intensity and escalated to its parent, by supervisor path",
  incremental: true
})
const spawnSeconds = Metric.histogram("agentos_agent_spawn_duration_seconds", {
  description: "From SPAWN's start to the agent running in its sandbox (agentos.agent.started)",
  boundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
})
const syscalls = Metric.counter("agentos_syscalls_total", {
  description: "Requests answered, by syscall (op) and result code (ok, or the error code of the reply)",
  incremental: true
})
const llmRequests = Metric.counter("agentos_llm_requests_total", {
  description: "THINK requests submitted to the LLM scheduler, by agent (its scheduler key)",
  incremental: true
})
const llmErrors = Metric.counter("agentos_llm_errors_total", {
  description: "THINK requests that failed upstream (after retries) or timed out, by agent",
  incremental: true
})
const llmInputTokens = Metric.counter("agentos_llm_input_tokens_total", {
  description: "Prompt tokens of answered THINK requests, by agent",
  incremental: true
})
const llmOutputTokens = Metric.counter("agentos_llm_output_tokens_total", {
  description: "Completion tokens of answered THINK requests, by agent",
  incremental: true
})
const llmQueued = Metric.gauge("agentos_llm_queued", {
  description: "THINK requests waiting in the scheduler's queue, by agent"
})
const llmQueueWaitP50 = Metric.gauge("agentos_llm_queue_wait_p50_ms", {
  description: "Median wait from submission to an upstream slot over the agent's last 1024 requests, in ms"
})
const llmQueueWaitP99 = Metric.gauge("agentos_llm_queue_wait_p99_ms", {
  description: "99th percentile wait from submission to an upstream slot over the agent's last 1024 requests, in ms"
})
const mailboxDepth = Metric.gauge("agentos_mailbox_depth", {
  description: "Messages waiting in a mailbox, by its name (an agent's, or a named client's)"
})
const mailboxInFlight = Metric.gauge("agentos_mailbox_in_flight", {
  description: "Messages received from a mailbox and not yet acked, by its name"
})
const routed = Metric.counter("agentos_messages_routed_total", {
  description: "Messages SEND put in a mailbox (a redelivery after a crash is not counted again)",
  incremental: true
})

/** Every state LIST shows, so each has a series (0 when no agent is in it). */
const states: ReadonlyArray<Status> = ["starting", "running", "stopping", "exited", "failed"]

const noop = () => {}

/** A counter's state as Effect's registry holds it. */
const count = (n: number): Metric.CounterState<number> => ({ count: n, incremental: true })

// ---------------------------------------------------------------------------------------------
// Series read from live state
// ---------------------------------------------------------------------------------------------

/**
 * Series whose values live elsewhere: each collect sets the ones that exist now, and one not set
 * again is removed (an agent's LLM figures once the scheduler forgets it, a dropped mailbox).
 */
class Sampled {
  private readonly series = new Map<string, { state: unknown; fresh: boolean; readonly registration: Metric.Registration }>()
  private readonly context: Context.Context<never>

  constructor(context: Context.Context<never>) {
    this.context = context
  }

  set<S>(metric: Metric.Metric<never, S>, attributes: Readonly<Record<string, string>>, state: S): void {
    const key = `${metric.id}\u0000${JSON.stringify(attributes)}`
    const found = this.series.get(key)
    if (found !== undefined) {
      found.state = state
      found.fresh = true
      return
    }
    const entry: { state: unknown; fresh: boolean } = { state, fresh: true }
    const registration = Metric.registerUnsafe(Metric.withAttributes(metric, attributes), this.context, {
      get: () => entry.state as S,
      update: noop,
      modify: noop
    })
    this.series.set(key, Object.assign(entry, { registration }))
  }

  /** Removes the series not set since the last sweep. */
  sweep(): void {
    for (const [key, entry] of this.series) {
      if (entry.fresh) {
        entry.fresh = false
      } else {
        entry.registration.remove()
        this.series.delete(key)
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------------

/** The kernel's metrics. @category services */
export class KernelMetrics extends Context.Service<KernelMetrics, {
  /** Every kernel metric in Prometheus's text exposition format (version 0.0.4), read now. */
  readonly render: Effect.Effect<string>
  /** Brings the series read from live state up to date (render does it first). */
  readonly collect: Effect.Effect<void>
  /**
   * Counts one answered request by syscall and result (`ok` or the reply's error code).
   * Synchronous and allocation-free once a pair has been seen: it runs on IPC's hot path.
   */
  readonly countReply: (op: number, code: string) => void
}>()("agentos/metrics/KernelMetrics") {
  /**
   * The metrics of the kernel's agents, router and LLM scheduler, in the registry of the
   * context (Telemetry gives each kernel its own). @category layers
   */
  static readonly layer = Layer.effect(KernelMetrics, Effect.gen(function* () {
    const registry = yield* Metric.MetricRegistry
    const context = Context.make(Metric.MetricRegistry, registry)
    const table = yield* Agents
    const router = yield* Router
    const scheduler = yield* LlmScheduler
    const events = yield* Events

    // -- syscalls: plain counters on the hot path, read by the registry ----------------------
    // Effect's Metric.update costs about 0.5 µs a call here against 11 ns for a counter in a
    // Map (docs/metrics.md): three of them per routed message (SEND, RECV, ACK) are too many.
    const replies = new Map<string, Map<string, { n: number }>>()
    const countReply = (op: number, code: string): void => {
      // Unknown numbers share one label: a client cannot grow the series without bound.
      const name = Op.nameOf(op) ?? "unknown"
      let byCode = replies.get(name)
      if (byCode === undefined) {
        byCode = new Map()
        replies.set(name, byCode)
      }
      const counter = byCode.get(code)
      if (counter !== undefined) {
        counter.n++
        return
      }
      const fresh = { n: 1 }
      byCode.set(code, fresh)
      Metric.registerUnsafe(Metric.withAttributes(syscalls, { op: name, code }), context, {
        get: () => count(fresh.n),
        update: noop,
        modify: noop
      })
    }

    // -- lifecycle events ---------------------------------------------------------------------
    const onEvent = (event: LifecycleEvent): Effect.Effect<void> => {
      switch (event.type) {
        case "agentos.agent.started":
          return Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Metric.update(spawnSeconds, Math.max(0, now - event.time) / 1000))
        case "agentos.agent.exited":
          return Metric.update(Metric.withAttributes(exits, { reason: event.reason }), 1)
        case "agentos.agent.failed":
          return Metric.update(Metric.withAttributes(exits, { reason: "failed_to_start" }), 1)
        case "agentos.child.restarting":
          return Metric.update(Metric.withAttributes(restarts, { child: event.offender }), 1)
        case "agentos.supervisor.escalated":
          return Metric.update(Metric.withAttributes(escalations, { supervisor: event.supervisor }), 1)
        default:
          return Effect.void
      }
    }
    // Subscribed before the layer is up, so no event of the kernel's life is missed.
    const subscription = yield* PubSub.subscribe(events.pubsub)
    yield* Effect.forkScoped(Effect.forever(PubSub.take(subscription).pipe(Effect.flatMap(onEvent))).pipe(
      Effect.provideService(Metric.MetricRegistry, registry)
    ))

    // -- figures read from live state ---------------------------------------------------------
    const sampled = new Sampled(context)
    const collect = Effect.flatMap(scheduler.stats, (llm) =>
      // One synchronous block: concurrent collects cannot interleave their sweeps.
      Effect.sync(() => {
        const byState = new Map<Status, number>(states.map((s) => [s, 0]))
        for (const agent of table.list()) byState.set(agent.status, (byState.get(agent.status) ?? 0) + 1)
        for (const state of states) sampled.set(agents, { state }, { value: byState.get(state) ?? 0 })
        for (const mailbox of router.stats()) {
          sampled.set(mailboxDepth, { agent: mailbox.name }, { value: mailbox.depth })
          sampled.set(mailboxInFlight, { agent: mailbox.name }, { value: mailbox.unacked })
        }
        sampled.set(routed, {}, count(router.routed()))
        for (const a of llm.agents) {
          const agent = { agent: a.agent }
          sampled.set(llmRequests, agent, count(a.requests))
          sampled.set(llmErrors, agent, count(a.errors))
          sampled.set(llmInputTokens, agent, count(a.inputTokens))
          sampled.set(llmOutputTokens, agent, count(a.outputTokens))
          sampled.set(llmQueued, agent, { value: a.queued })
          if (a.queueWaitMs.p50 !== null) sampled.set(llmQueueWaitP50, agent, { value: a.queueWaitMs.p50 })
          if (a.queueWaitMs.p99 !== null) sampled.set(llmQueueWaitP99, agent, { value: a.queueWaitMs.p99 })
        }
        sampled.sweep()
      }))
    yield* collect

    // The OTLP exporter snapshots the registry on its own schedule: keep what it reads at most
    // half an interval old, and current for its last flush (this layer closes before it).
    const exporting = yield* Telemetry.Exporting
    if (exporting !== undefined) {
      yield* Effect.forkScoped(Effect.forever(Effect.sleep(Math.max(500, exporting.metricsIntervalMs / 2)).pipe(Effect.andThen(collect))))
      yield* Effect.addFinalizer(() => collect)
    }

    return KernelMetrics.of({
      render: Effect.map(collect, () => PrometheusMetrics.formatUnsafe(context)),
      collect,
      countReply
    })
  }))
}
