/**
 * The Promise client against a real kernel: id correlation under pipelining, timeouts,
 * abandoning a call, pushes, the connection closing under pending calls, and an inherited fd
 * (the way an agent reaches the kernel).
 */
import { Deferred, Effect } from "effect"
import * as Net from "node:net"
import { describe, expect, it } from "vitest"
import { ConnectionError, KernelCallError } from "../../src/client/ClientError.ts"
import { Connection } from "../../src/client/Connection.ts"
import * as PeerCredentials from "../../src/sandbox/PeerCredentials.ts"
import * as Syscall from "../../src/kernel/Syscall.ts"
import { Op } from "../../src/protocol/Op.ts"
import { RawConnection, startKernel, type TestKernel } from "../support/kernel.ts"
import * as Cleanups from "../support/cleanups.ts"

const GATE = 0x7d
let gate = Effect.runSync(Deferred.make<void>())
const extra: ReadonlyArray<Syscall.Syscall> = [
  Syscall.make(GATE as never, () => Deferred.await(gate).pipe(Effect.as("opened")))
]

const cleanups = Cleanups.perTest()
const kernel = async (): Promise<TestKernel> => {
  const k = await startKernel({}, extra)
  cleanups.push(() => k.stop())
  return k
}
const connect = async (k: TestKernel) => {
  const c = await Connection.connect({ path: k.socketPath })
  cleanups.push(() => c.close())
  return c
}

describe("Connection", () => {
  it("correlates 10,000 pipelined calls by id", async () => {
    const c = await connect(await kernel())
    const n = 10_000
    const results = await Promise.all(Array.from({ length: n }, (_, i) => c.call(Op.NOOP, { i })))
    expect(results).toEqual(Array.from({ length: n }, (_, i) => ({ i })))
    expect(c.inFlight).toBe(0)
  })

  it("typed calls: hello, noop, list", async () => {
    const c = await connect(await kernel())
    expect((await c.calls.hello("typed")).agent.name).toBe("typed")
    expect(await c.calls.noop([1, "two"])).toEqual([1, "two"])
    expect(await c.calls.list()).toEqual([])
  })

  it("errors carry the kernel's code and message", async () => {
    const c = await connect(await kernel())
    const error = await c.call(0x7f).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(KernelCallError)
    expect(error).toBeInstanceOf(Error)
    expect(error).toMatchObject({ code: "ENOSYS", op: 0x7f })
    expect((error as Error).message).toMatch(/unknown syscall 0x7f/)
  })

  it("a per-call timeout rejects with ETIMEDOUT and a late reply is dropped", async () => {
    gate = Effect.runSync(Deferred.make<void>())
    const c = await connect(await kernel())
    await expect(c.call(GATE, undefined, { timeoutMs: 50 })).rejects.toMatchObject({ code: "ETIMEDOUT" })
    Effect.runSync(Deferred.succeed(gate, undefined))
    expect(await c.call(Op.NOOP, "after")).toBe("after")
    expect(c.inFlight).toBe(0)
  })

  it("an aborted call rejects with ECANCELED", async () => {
    gate = Effect.runSync(Deferred.make<void>())
    const c = await connect(await kernel())
    const abort = new AbortController()
    const pending = c.call(GATE, undefined, { signal: abort.signal })
    abort.abort()
    await expect(pending).rejects.toMatchObject({ code: "ECANCELED" })
    Effect.runSync(Deferred.succeed(gate, undefined))
  })

  it("pending calls reject with ConnectionError when the kernel goes away", async () => {
    gate = Effect.runSync(Deferred.make<void>())
    const k = await startKernel({ shutdownGraceMs: 50 }, extra)
    const c = await Connection.connect({ path: k.socketPath })
    const pending = c.call(GATE).catch((e: unknown) => e)
    await new Promise((resolve) => setTimeout(resolve, 20))
    await k.stop()
    expect(await pending).toBeInstanceOf(ConnectionError)
    await expect(c.call(Op.NOOP)).rejects.toBeInstanceOf(ConnectionError)
  })

  it("connecting where no kernel listens fails with a clear ConnectionError", async () => {
    await expect(Connection.connect({ path: "/nonexistent/agentos.sock" })).rejects.toMatchObject({
      _tag: "ConnectionError",
      message: expect.stringContaining("/nonexistent/agentos.sock")
    })
  })

  it("receives the kernel's pushes", async () => {
    const k = await kernel()
    const c = await connect(k)
    const pushes: Array<unknown> = []
    c.onPush((p) => pushes.push(p))
    await c.call(Op.NOOP)
    for (const session of k.sessions()) session.push({ ev: "test.event", data: { n: 1 } })
    await c.call(Op.NOOP)
    expect(pushes).toEqual([{ ev: "test.event", data: { n: 1 } }])
  })

  it("works over an inherited, already-connected fd that the kernel adopted", async () => {
    const k = await kernel()
    const [kernelEnd, agentEnd] = PeerCredentials.socketPair()
    const socket = new Net.Socket({ fd: kernelEnd, readable: true, writable: true })
    await k.adopt(socket, { pid: process.pid, uid: 100000, gid: 100000 })
    const c = await Connection.connect({ fd: agentEnd })
    cleanups.push(() => c.close())
    const hello = await c.calls.hello()
    expect(hello.agent).toMatchObject({ kind: "agent", uid: 100000 })
    expect(await c.calls.noop("via fd")).toBe("via fd")
  })

  it("survives a kernel reply it cannot place (an unknown id)", async () => {
    const k = await kernel()
    const r = await RawConnection.open(k.socketPath)
    cleanups.push(() => r.close())
    const c = await connect(k)
    expect(await c.call(Op.NOOP, 1)).toBe(1)
  })
})
