/**
 * The kernel service: its identity and the syscall table. `dispatch` routes one request to its
 * syscall; a number without a handler answers ENOSYS, naming it. The socket server and every
 * session share this one dispatch table.
 */
import { Context, Effect, Layer } from "effect"
import type * as Cbor from "../protocol/Cbor.ts"
import * as Message from "../protocol/Message.ts"
import type { Request } from "../protocol/Message.ts"
import * as Op from "../protocol/Op.ts"
import { KernelMetrics } from "../metrics/KernelMetrics.ts"
import * as Telemetry from "../metrics/Telemetry.ts"
import { KernelConfig, type Settings } from "../process/KernelConfig.ts"
import { Sessions } from "./Sessions.ts"
import * as KernelError from "../process/KernelError.ts"
import { keepOf, readArgs, type Call, type Caller, type Services, type Syscall } from "./Syscall.ts"
import { Child } from "./syscalls/Child.ts"
import { Hello } from "./syscalls/Hello.ts"
import { List } from "./syscalls/List.ts"
import { Heartbeat } from "./syscalls/Heartbeat.ts"
import { Kill } from "./syscalls/Kill.ts"
import { Log } from "./syscalls/Log.ts"
import { Logs } from "./syscalls/Logs.ts"
import { Metrics } from "./syscalls/Metrics.ts"
import { Noop } from "./syscalls/Noop.ts"
import { Spawn } from "./syscalls/Spawn.ts"
import { Stat } from "./syscalls/Stat.ts"
import { Subscribe } from "./syscalls/Subscribe.ts"
import { Think } from "./syscalls/Think.ts"
import { Tree } from "./syscalls/Tree.ts"
import { Wait } from "./syscalls/Wait.ts"
import { Send } from "./syscalls/Send.ts"
import { Recv } from "./syscalls/Recv.ts"
import { Ack } from "./syscalls/Ack.ts"

/**
 * The syscalls this kernel implements. Every other number answers ENOSYS. A constant: no module
 * a syscall imports imports this one back (test/architecture/imports.test.ts keeps it so).
 * @category models
 */
export const syscalls: ReadonlyArray<Syscall> = [Noop, Think, Hello, List, Spawn, Kill, Wait, Stat, Log, Heartbeat, Tree, Subscribe, Child, Send, Recv, Ack, Logs, Metrics]

/** Builds the dispatch table over the kernel's config. */
const make = (table: ReadonlyArray<Syscall>) =>
  Effect.gen(function* () {
    const settings = yield* KernelConfig
    const context = yield* Effect.context<Services>()
    const handlers = new Map<number, Syscall>(table.map((s) => [s.op, s]))
    // Args are decoded in the frame's pass, in their syscall's form; an unknown op's are kept whole.
    const keeps = new Map(table.map((s) => [s.op as number, keepOf(s.args)]))
    const requestKeep = Message.requestKeep((op) => keeps.get(op) ?? true)
    // The kernel's services over the calling fiber's own context, merged once per distinct
    // context (a session's fibers share one) instead of once per request: IPC's hot path.
    const merged = new WeakMap<Context.Context<never>, Context.Context<Services>>()
    const withServices = (current: Context.Context<never>): Context.Context<Services> => {
      let services = merged.get(current)
      if (services === undefined) {
        services = Context.merge(current, context)
        merged.set(current, services)
      }
      return services
    }
    const metrics = yield* KernelMetrics
    // Read once: without an OTLP exporter, dispatch is exactly what it was (no span, no wrapper).
    const exporting = yield* Telemetry.Exporting
    const answer = (request: Request, caller: Caller, call: Call): Effect.Effect<unknown, KernelError.KernelError> => {
      if (caller.agent !== undefined && !caller.agent.caps.has(request.op)) {
        return Effect.fail(new KernelError.PermissionDenied({
          message: `agent ${caller.agent.name} may not call ${Op.describe(request.op)}: not in its caps`
        }))
      }
      const syscall = handlers.get(request.op)
      if (syscall === undefined) {
        const message = Op.nameOf(request.op) === undefined
          ? `unknown syscall ${Op.describe(request.op)}`
          : `syscall ${Op.describe(request.op)} is not implemented by this kernel yet`
        return Effect.fail(new KernelError.NotImplemented({ message }))
      }
      const args = readArgs(request.args, syscall.args)
      if (args instanceof KernelError.InvalidArgument) return Effect.fail(args)
      return Effect.updateContext(syscall.handle(args, caller, call), withServices)
    }
    // The span runs in the kernel's context too: that is where the exporting tracer is.
    const dispatch = exporting === undefined
      ? answer
      : (request: Request, caller: Caller, call: Call) =>
        Effect.updateContext(Telemetry.syscallSpan(request, caller)(answer(request, caller, call)), withServices)
    const kernel = Kernel.of({ settings, dispatch, requestKeep, answered: metrics.countReply })
    // Every connection, the agents' included, is served by this kernel's table from now on.
    yield* (yield* Sessions).bind(kernel)
    return kernel
  })

/** The kernel service. @category services */
export class Kernel extends Context.Service<Kernel, {
  /** The settings it runs with (id, limits, socket path). */
  readonly settings: Settings
  /** Runs one request's syscall for a caller. */
  readonly dispatch: (request: Request, caller: Caller, call: Call) => Effect.Effect<unknown, KernelError.KernelError>
  /** How a connection decodes request frames: each request's args in its syscall's form. */
  readonly requestKeep: Cbor.Keep
  /** Records one answered request, by syscall number and result (`ok` or its error code), for the metrics. */
  readonly answered: (op: number, code: string) => void
}>()("agentos/kernel/Kernel") {
  /** The kernel, built over its config. @category layers */
  static readonly layer = Layer.effect(Kernel, make(syscalls))

  /**
   * A kernel with more syscalls than the standard table (tests add slow or failing ones at
   * numbers the table leaves free). @category layers
   */
  static readonly layerWith = (extra: ReadonlyArray<Syscall>) =>
    Layer.effect(Kernel, make([...syscalls, ...extra]))
}
