/**
 * The Effect client: typed calls as Effects over a real kernel, failures as tagged errors,
 * interruption abandoning a call, pushes as a Stream.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Stream } from "effect"
import { Client } from "../../src/client/Client.ts"
import * as Syscall from "../../src/kernel/Syscall.ts"
import { Op } from "../../src/protocol/Op.ts"
import { startKernel } from "../support/kernel.ts"

const GATE = 0x7d
const gate = Effect.runSync(Deferred.make<void>())
const extra: ReadonlyArray<Syscall.Syscall> = [
  Syscall.make(GATE as never, () => Deferred.await(gate).pipe(Effect.as("opened")))
]

const withKernel = <A, E>(body: Effect.Effect<A, E, Client>) =>
  Effect.acquireRelease(Effect.promise(() => startKernel({}, extra)), (k) => Effect.promise(() => k.stop())).pipe(
    Effect.flatMap((k) => body.pipe(Effect.provide(Layer.fresh(Client.layer({ path: k.socketPath }))))),
    Effect.scoped
  )

describe("Client", () => {
  it.live("typed calls succeed with the kernel's results", () =>
    withKernel(Effect.gen(function* () {
      const client = yield* Client
      const hello = yield* client.hello("effect-client")
      assert.strictEqual(hello.agent.name, "effect-client")
      assert.deepStrictEqual(yield* client.noop({ deep: [1, 2] }), { deep: [1, 2] })
      assert.deepStrictEqual(yield* client.list(), [])
    })))

  it.live("a kernel error is a KernelCallError with its code", () =>
    withKernel(Effect.gen(function* () {
      const client = yield* Client
      const error = yield* client.call(Op.SEND, { to: "nobody", payload: 1 }).pipe(Effect.flip)
      assert.strictEqual(error._tag, "KernelCallError")
      assert.strictEqual(error._tag === "KernelCallError" ? error.code : "", "ENOENT")
    })))

  it.live("interrupting a call abandons it; the connection stays usable", () =>
    withKernel(Effect.gen(function* () {
      const client = yield* Client
      const fiber = yield* Effect.forkChild(client.call(GATE))
      yield* Effect.sleep("20 millis")
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(client.connection.inFlight, 0)
      assert.strictEqual(yield* client.noop("still here"), "still here")
    })))

  it.live("pushes arrive on the pushes stream", () =>
    Effect.acquireRelease(Effect.promise(() => startKernel({}, extra)), (k) => Effect.promise(() => k.stop())).pipe(
      Effect.flatMap((k) =>
        Effect.gen(function* () {
          const client = yield* Client
          const collected = yield* Effect.forkChild(client.pushes.pipe(Stream.take(2), Stream.runCollect))
          yield* client.noop()
          yield* Effect.sleep("20 millis")
          for (const s of k.sessions()) s.push({ ev: "a", data: 1 })
          for (const s of k.sessions()) s.push({ ev: "b", data: 2 })
          const pushes = yield* Fiber.join(collected)
          assert.deepStrictEqual(pushes.map((p) => p.ev), ["a", "b"])
        }).pipe(Effect.provide(Layer.fresh(Client.layer({ path: k.socketPath }))))
      ),
      Effect.scoped
    ))
})
