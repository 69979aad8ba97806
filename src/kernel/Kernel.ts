/**
 * The kernel service: its identity and the syscall table. `dispatch` routes one request to its
 * syscall; a number without a handler answers ENOSYS, naming it. The socket server and every
 * session share this one dispatch table.
 */
import { Context, Effect, Layer } from "effect"
import type { Request } from "../protocol/Message.ts"
import * as Op from "../protocol/Op.ts"
import { KernelConfig, type Settings } from "./KernelConfig.ts"
import * as KernelError from "./KernelError.ts"
import type { Caller, Syscall } from "./Syscall.ts"
import { Hello } from "./syscalls/Hello.ts"
import { List } from "./syscalls/List.ts"
import { Noop } from "./syscalls/Noop.ts"

/** The syscalls this kernel implements. Every other number answers ENOSYS. @category models */
export const syscalls: ReadonlyArray<Syscall<KernelConfig>> = [Noop, Hello, List]

/** Builds the dispatch table over the kernel's config. */
const make = (table: ReadonlyArray<Syscall<KernelConfig>>) =>
  Effect.gen(function* () {
    const settings = yield* KernelConfig
    const context = yield* Effect.context<KernelConfig>()
    const handlers = new Map<number, Syscall<KernelConfig>["handle"]>(table.map((s) => [s.op, s.handle]))
    const dispatch = (request: Request, caller: Caller): Effect.Effect<unknown, KernelError.KernelError> => {
      const handle = handlers.get(request.op)
      if (handle === undefined) {
        const message = Op.nameOf(request.op) === undefined
          ? `unknown syscall ${Op.describe(request.op)}`
          : `syscall ${Op.describe(request.op)} is not implemented by this kernel yet`
        return Effect.fail(new KernelError.NotImplemented({ message }))
      }
      return Effect.provideContext(handle(request.args, caller), context)
    }
    return Kernel.of({ settings, dispatch })
  })

/** The kernel service. @category services */
export class Kernel extends Context.Service<Kernel, {
  /** The settings it runs with (id, limits, socket path). */
  readonly settings: Settings
  /** Runs one request's syscall for a caller. */
  readonly dispatch: (request: Request, caller: Caller) => Effect.Effect<unknown, KernelError.KernelError>
}>()("agentos/kernel/Kernel") {
  /** The kernel, built over its config. @category layers */
  static readonly layer = Layer.effect(Kernel, make(syscalls))

  /**
   * A kernel with more syscalls than the standard table (tests add slow or failing ones at
   * numbers the table leaves free). @category layers
   */
  static readonly layerWith = (extra: ReadonlyArray<Syscall<KernelConfig>>) =>
    Layer.effect(Kernel, make([...syscalls, ...extra]))
}
