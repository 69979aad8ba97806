/**
 * Every live connection to the kernel, and the scope their request fibers run in. The socket
 * server hands it accepted connections; SPAWN hands it the kernel's end of an agent's fd 3. At
 * shutdown it stops reading requests, lets in-flight replies finish (bounded), then closes
 * every connection.
 */
import { Context, Effect, Exit, FiberSet, Layer, Scope } from "effect"
import { Kernel } from "./Kernel.ts"
import { KernelConfig } from "./KernelConfig.ts"
import type * as KernelError from "./KernelError.ts"
import * as Session from "./Session.ts"

/** The kernel's connections. @category services */
export class Sessions extends Context.Service<Sessions, {
  /** Live sessions, for pushes and shutdown. */
  readonly all: () => ReadonlyArray<Session.Session>
  /** Serves a connection until it closes. */
  readonly serve: (accepted: Omit<Session.Accepted, "sessionId">) => Effect.Effect<Session.Session, never, Kernel>
}>()("agentos/kernel/Sessions") {
  /** @category layers */
  static readonly layer = Layer.effect(Sessions, Effect.gen(function* () {
    const config = yield* KernelConfig
    const live = new Set<Session.Session>()
    let nextSessionId = 1
    // Request fibers live in per-session scopes under this one, closed after the drain below.
    const scope = yield* Scope.fork(yield* Scope.Scope, "parallel")
    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        await Promise.all([...live].map((s) => s.drain(config.shutdownGraceMs)))
        await Promise.all([...live].map((s) => s.close()))
      })
    )
    return Sessions.of({
      all: () => [...live],
      serve: (accepted) =>
        Effect.gen(function* () {
          const kernel = yield* Kernel
          const sessionScope = yield* Scope.fork(scope, "parallel")
          const run: Session.Run = yield* FiberSet.makeRuntime<never, unknown, KernelError.KernelError>().pipe(
            Scope.provide(sessionScope)
          )
          const session = new Session.Session({ ...accepted, sessionId: nextSessionId++ }, kernel, run)
          live.add(session)
          const socket = accepted.socket
          // Errors (ECONNRESET, EPIPE) end the connection; 'close' follows.
          socket.on("error", () => {})
          const closed = () => {
            live.delete(session)
            Effect.runFork(Scope.close(sessionScope, Exit.void))
          }
          if (socket.destroyed) closed()
          else socket.once("close", closed)
          return session
        })
    })
  }))
}
