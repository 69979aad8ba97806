/**
 * The kernel client as an Effect service: `Client.layer({ path })` connects for the life of the
 * layer; calls are Effects that fail with KernelCallError or ConnectionError, and interrupting
 * one abandons it. Pushes arrive as a Stream. Built over Connection, like the agent SDK.
 */
import { Context, Effect, Layer, Queue, Stream } from "effect"
import type * as Message from "../protocol/Message.ts"
import * as SocketPath from "../protocol/SocketPath.ts"
import * as Calls from "./Calls.ts"
import type { ConnectionError, KernelCallError } from "./ClientError.ts"
import { Connection, type CallOptions, type Target } from "./Connection.ts"

/** The typed syscalls, as Effects. @category models */
export type EffectCalls = {
  readonly [K in keyof Calls.Calls]: (
    ...args: Parameters<Calls.Calls[K]>
  ) => Effect.Effect<Calls.ResultOf<K>, KernelCallError | ConnectionError>
}

/** Runs one call on a connection as an interruptible Effect. */
const callEffect = (
  connection: Connection,
  op: number,
  args: unknown,
  options: Omit<CallOptions, "signal"> = {}
): Effect.Effect<unknown, KernelCallError | ConnectionError> =>
  Effect.callback((resume) => {
    const abort = new AbortController()
    connection.call(op, args, { ...options, signal: abort.signal }).then(
      (value) => resume(Effect.succeed(value)),
      (error: KernelCallError | ConnectionError) => resume(Effect.fail(error))
    )
    return Effect.sync(() => abort.abort())
  })

/** A connected kernel client. @category services */
export class Client extends Context.Service<Client, EffectCalls & {
  /** Any syscall by number. */
  readonly call: (op: number, args?: unknown, options?: Omit<CallOptions, "signal">) => Effect.Effect<unknown, KernelCallError | ConnectionError>
  /** The kernel's pushes, from subscription on. */
  readonly pushes: Stream.Stream<Message.Push>
  /** The underlying Promise connection. */
  readonly connection: Connection
}>()("agentos/client/Client") {
  /** Connects for the life of the layer; the default target is the kernel's socket path. @category layers */
  static readonly layer = (target: Target = { path: SocketPath.resolve() }) =>
    Layer.effect(Client, make(target))
}

/** Connects and builds the service; the connection closes with the scope. @category constructors */
export const make = Effect.fn("Client.make")(function* (target: Target) {
  const connection = yield* Effect.acquireRelease(
    Effect.tryPromise({ try: () => Connection.connect(target), catch: (e) => e as ConnectionError }),
    (c) => Effect.promise(() => c.close())
  )
  const calls = Calls.bind<EffectCalls>((spec) => callEffect(connection, spec.op, spec.args))
  return Client.of({
    ...calls,
    call: (op, args, options) => callEffect(connection, op, args, options),
    pushes: Stream.callback<Message.Push>((queue) =>
      Effect.acquireRelease(
        Effect.sync(() => connection.onPush((push) => void Queue.offerUnsafe(queue, push))),
        (stop) => Effect.sync(stop)
      )
    ),
    connection
  })
})
