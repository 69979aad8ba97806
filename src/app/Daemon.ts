/**
 * The kernel as a running daemon: its config, the kernel service and the socket server, composed
 * into one layer. `run` keeps it up until interrupted (SIGINT/SIGTERM under the CLI), then the
 * layer's finalizers shut it down in order: stop accepting, drain in-flight replies, close
 * connections, remove the socket file.
 */
import { Effect, Layer } from "effect"
import type { Launcher } from "../sandbox/Launcher.ts"
import * as NodeLauncher from "../sandbox/NodeLauncher.ts"
import * as Isolation from "../sandbox/Isolation.ts"
import { AgentLogs } from "../logs/AgentLogs.ts"
import { KernelMetrics } from "../metrics/KernelMetrics.ts"
import * as Telemetry from "../metrics/Telemetry.ts"
import { Agents } from "../process/Agents.ts"
import { Events } from "../process/Events.ts"
import type { ProviderConfigError } from "../llm/Provider.ts"
import { LlmScheduler } from "../llm/Scheduler.ts"
import { Kernel } from "../kernel/Kernel.ts"
import { KernelConfig, type Settings } from "../process/KernelConfig.ts"
import * as Init from "../supervision/Init.ts"
import { Supervision } from "../supervision/Supervision.ts"
import { Router } from "../ipc/Router.ts"
import { Server } from "../kernel/Server.ts"
import { Sessions } from "../kernel/Sessions.ts"
import type { Syscall } from "../kernel/Syscall.ts"

/**
 * The whole kernel: config, LLM scheduler, syscall table, socket server. The scheduler is the
 * one the environment describes (LlmScheduler.layerFromEnv: the offline model without a key)
 * unless `llm` gives one; agents are started by the native launcher (NodeLauncher) unless
 * `launcher` gives another (ProcessLauncher.layer, with `isolation` its `machine()`). @category layers
 */
export const layer = (
  options: Partial<Settings> = {},
  extraSyscalls: ReadonlyArray<Syscall> = [],
  llm: Layer.Layer<LlmScheduler, ProviderConfigError> = LlmScheduler.layerFromEnv(),
  // What this machine gives agents is learnt once, before the first agent; a machine described
  // by value (a test of another situation's decisions) may stand in for the probe.
  isolation: Layer.Layer<Isolation.Isolation> = Isolation.Isolation.layer(NodeLauncher.launcherPath, { subordinateIds: options.subordinateIds ?? true }),
  launcher: Layer.Layer<Launcher> = NodeLauncher.layer
) => {
  // The scheduler outlives the sessions: their THINKs are interrupted before it goes. Telemetry
  // (the kernel's metric registry; the OTLP exporters when OTEL_EXPORTER_OTLP_ENDPOINT is set)
  // outlives everything above it, so its last flush sees the whole life of the kernel.
  const config = Telemetry.layerFromEnv().pipe(Layer.provideMerge(Layer.merge(KernelConfig.layer(options), llm)))
  // Built in this order, torn down in reverse: the server stops accepting first, then the
  // agents are stopped, then the sessions drain, then the rest goes.
  // The process table serves agents' connections as sessions (AgentConnections), bound to the kernel once it is built.
  const sessions = Sessions.agentConnections.pipe(Layer.provideMerge(Sessions.layer), Layer.provideMerge(config))
  // Agents' logs come before the agents (every line they print goes through them) and close
  // after them, flushing their files once the agents have stopped.
  const logs = AgentLogs.layer.pipe(Layer.provideMerge(Layer.merge(sessions, Events.layer)))
  const agents = Agents.layer.pipe(Layer.provideMerge(Layer.mergeAll(logs, launcher, isolation)))
  const supervision = Supervision.layer.pipe(Layer.provideMerge(agents))
  const router = Router.layer.pipe(Layer.provideMerge(supervision))
  const metrics = KernelMetrics.layer.pipe(Layer.provideMerge(router))
  const kernel = Kernel.layerWith(extraSyscalls).pipe(Layer.provideMerge(metrics))
  // PID 1 starts once the kernel can spawn; it is stopped (its tree leaves first) before the
  // agents' last-resort cleanup, and after the server stops accepting.
  const init = Layer.effectDiscard(Effect.gen(function* () {
    const config = yield* KernelConfig
    yield* (yield* Supervision).startInit(Init.init(config.kernelId))
  })).pipe(Layer.provideMerge(kernel))
  return Server.layer.pipe(Layer.provideMerge(init))
}

/**
 * Runs a kernel until interrupted. `onReady` sees the settings and what this machine gives
 * agents once the socket is listening.
 * @category lifecycle
 */
export const run = (
  options: Partial<Settings> = {},
  onReady: (settings: Settings, isolation: Isolation.Machine) => Effect.Effect<void> = () => Effect.void
) =>
  Effect.gen(function* () {
    const config = yield* KernelConfig
    yield* onReady(config, (yield* Agents).isolation)
    return yield* Effect.never
  }).pipe(Effect.provide(layer(options)))
