/**
 * Every live connection to the kernel, and the scope their request fibers run in. The socket
 * server hands it accepted connections; SPAWN hands it the kernel's end of an agent's fd 3. At
 * shutdown it stops reading requests, lets in-flight replies finish (bounded), then closes
 * every connection.
 */
import { Context, Deferred, Effect, Exit, FiberSet, Layer, Queue, Scope } from "effect"
import { AgentConnections } from "../process/AgentConnections.ts"
import { KernelConfig } from "../process/KernelConfig.ts"
import type * as KernelError from "../process/KernelError.ts"
import * as Session from "./Session.ts"

/** The kernel's connections. @category services */
export class Sessions extends Context.Service<Sessions, {
  /** Live sessions, for pushes and shutdown. */
  readonly all: () => ReadonlyArray<Session.Session>
  /** Serves a connection until it closes, with the kernel bound to the sessions (waiting for it until then). */
  readonly serve: (accepted: Omit<Session.Accepted, "sessionId" | "scope">) => Effect.Effect<Session.Session>
  /** The kernel whose dispatch table serves every connection: given once, when it is built. */
  readonly bind: (kernel: Session.Dispatcher) => Effect.Effect<void>
}>()("agentos/kernel/Sessions") {
  /**
   * The process table's AgentConnections, served as sessions of kind `agent` (authorized: the
   * kernel made the socket for the agent it names). @category layers
   */
  static readonly agentConnections = Layer.effect(AgentConnections, Effect.gen(function* () {
    const sessions = yield* Sessions
    return AgentConnections.of({
      serve: ({ socket, peer, agent }) => Effect.asVoid(sessions.serve({ socket, peer, kind: "agent", authorized: true, agent }))
    })
  }))

  /** @category layers */
  static readonly layer = Layer.effect(Sessions, Effect.gen(function* () {
    const config = yield* KernelConfig
    const bound = yield* Deferred.make<Session.Dispatcher>()
    const live = new Set<Session.Session>()
    let nextSessionId = 1
    // Request fibers live in per-session scopes under this one, closed after the drain below.
    const scope = yield* Scope.fork(yield* Scope.Scope, "parallel")
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        yield* Effect.forEach([...live], (s) => Effect.promise(() => s.drain(config.shutdownGraceMs)), { concurrency: "unbounded", discard: true })
        yield* Effect.forEach([...live], (s) => Effect.promise(() => s.close()), { concurrency: "unbounded", discard: true })
      })
    )
    // A closed socket's session scope, closed by a fiber of the kernel's (each on its own, so
    // one slow to end does not hold another's): the socket's 'close' callback only queues it.
    const ended = yield* Queue.unbounded<Scope.Closeable>()
    yield* Queue.take(ended).pipe(
      Effect.flatMap((sessionScope) => Effect.forkIn(Scope.close(sessionScope, Exit.void), scope)),
      Effect.forever,
      Effect.forkIn(scope)
    )
    return Sessions.of({
      all: () => [...live],
      bind: (kernel) => Effect.asVoid(Deferred.succeed(bound, kernel)),
      serve: (accepted) =>
        Effect.gen(function* () {
          const kernel = yield* Deferred.await(bound)
          const sessionScope = yield* Scope.fork(scope, "parallel")
          const run: Session.Run = yield* FiberSet.makeRuntime<never, unknown, KernelError.KernelError>().pipe(
            Scope.provide(sessionScope)
          )
          const session = new Session.Session({ ...accepted, sessionId: nextSessionId++, scope: sessionScope }, kernel, run)
          live.add(session)
          const socket = accepted.socket
          // Errors (ECONNRESET, EPIPE) end the connection; 'close' follows.
          socket.on("error", () => {})
          const closed = () => {
            live.delete(session)
            Queue.offerUnsafe(ended, sessionScope)
          }
          if (socket.destroyed) closed()
          else socket.once("close", closed)
          return session
        })
    })
  }))
}
