/**
 * IPC end to end: SEND / RECV / ACK between real agent processes through a real kernel, with
 * the supervisor restarting receivers: order per sender, ack and redelivery across a kill -9,
 * a mailbox that outlives its child's incarnations, backpressure, and the errors.
 */
import { Effect, Result } from "effect"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { Connection } from "../../src/client/Connection.ts"
import { Op } from "../../src/protocol/Op.ts"
import { decodeTree, defineTree, supervisor, type AgentOptions, agent } from "../../src/supervision/Tree.ts"
import { startKernel, type TestKernel } from "../support/kernel.ts"
import * as Cleanups from "../support/cleanups.ts"
import * as Until from "../support/until.ts"
import * as Machine from "../support/machine.ts"

const ipcAgent = Path.join(import.meta.dirname, "agents", "ipc-agent.ts")
const cleanups = Cleanups.perTest()

const setup = async (options: Parameters<typeof startKernel>[0] = {}): Promise<{ k: TestKernel; c: Connection }> => {
  // Not about isolation: on the plain launcher where agents cannot be sandboxed here.
  const k = await startKernel(options, [], undefined, Machine.launcher)
  cleanups.push(() => k.stop())
  const c = await Connection.connect({ path: k.socketPath })
  cleanups.push(() => c.close())
  await c.calls.hello("tester")
  return { k, c }
}

/** Boots a one-level tree of ipc agents under the test kernel's init. */
const bootTree = async (k: TestKernel, children: ReadonlyArray<[string, Omit<AgentOptions, "run">]>) => {
  const decoded = decodeTree(defineTree(supervisor("ipc", {
    intensity: { maxRestarts: 10, withinMs: 60_000 },
    children: children.map(([name, options]) => agent(name, { run: ipcAgent, sandbox: { memory: "256M" }, ...options }))
  })))
  if (Result.isFailure(decoded)) throw new Error(decoded.failure.message)
  await Effect.runPromise(k.supervision.boot(decoded.success, import.meta.dirname))
}

const lines = (k: TestKernel, name: string, prefix: string) =>
  k.output(name).map((o) => o.line).filter((l) => l.startsWith(prefix))

/** Every `GOT {...}` line a child printed, across its incarnations. */
const gotten = (seen: Array<{ msgId: number; payload: unknown; redelivered: boolean; from: string }>, k: TestKernel, name: string) => {
  for (const line of lines(k, name, "GOT ")) {
    const got = JSON.parse(line.slice(4))
    if (!seen.some((s) => s.msgId === got.msgId && s.redelivered === got.redelivered)) seen.push(got)
  }
  return seen
}

const until = <A>(f: () => A | undefined, what: string, timeoutMs = 20_000): Promise<A> => Until.until(what, f, { timeoutMs })

const codeOf = (p: Promise<unknown>) => p.then(() => "ok", (e: { code?: string }) => e.code ?? String(e))

describe(`IPC (agents launched by the ${Machine.launcher} launcher)`, () => {
  it("SEND to an unknown name is ENOENT; RECV and ACK need a named connection; a bad ACK is ENOENT", async () => {
    const { k, c } = await setup()
    expect(await codeOf(c.call(Op.SEND, { to: "nobody", payload: 1 }))).toBe("ENOENT")
    expect(await codeOf(c.call(Op.SEND, { payload: 1 }))).toBe("EINVAL")
    const anonymous = await Connection.connect({ path: k.socketPath })
    cleanups.push(() => anonymous.close())
    expect(await codeOf(anonymous.call(Op.RECV, {}))).toBe("EINVAL")
    expect(await codeOf(anonymous.call(Op.ACK, { msgId: 1 }))).toBe("EINVAL")
    expect(await codeOf(c.call(Op.RECV, { timeoutMs: 0 }))).toBe("ETIMEDOUT")
    expect(await codeOf(c.call(Op.ACK, { msgId: 12345 }))).toBe("ENOENT")
  })

  it("a client named at HELLO has a mailbox while connected: agents answer it; gone with it", async () => {
    const { k, c } = await setup()
    await bootTree(k, [["talker", { args: ["send", "tester", "3"], restart: "transient" }]])
    const got = [await c.calls.recv(10_000), await c.calls.recv(10_000), await c.calls.recv(10_000)]
    expect(got.map((m) => [m.from, (m.payload as { seq: number }).seq])).toEqual([["talker", 1], ["talker", 2], ["talker", 3]])
    for (const m of got) await c.calls.ack(m.msgId)
    const other = await Connection.connect({ path: k.socketPath })
    await other.calls.hello("other")
    expect(await codeOf(c.calls.send("other", "hi"))).toBe("ok")
    await other.close()
    await until(() => (k.sessions().length === 1 ? true : undefined), "the other client's session to end")
    expect(await codeOf(c.calls.send("other", "hi again"))).toBe("ENOENT")
  })

  it("keeps each sender's order, delivers every message once, and reports its sender", async () => {
    const { k, c } = await setup()
    await bootTree(k, [
      ["sink", { args: ["tally", "900"], restart: "transient" }],
      ["alice", { args: ["send", "sink", "300"], restart: "transient" }],
      ["bob", { args: ["send", "sink", "300"], restart: "transient" }]
    ])
    // The test client pipelines its own 300 as well.
    await Promise.all(Array.from({ length: 300 }, (_, i) => c.calls.send("sink", { seq: i + 1, from: "tester" })))
    const tally = await until(() => lines(k, "sink", "TALLY ")[0], "the sink's tally")
    const { seqs, redelivered } = JSON.parse(tally.slice(6)) as { seqs: Record<string, Array<number>>; redelivered: number }
    expect(Object.keys(seqs).sort()).toEqual(["alice", "bob", "tester"])
    for (const sender of ["alice", "bob", "tester"]) expect(seqs[sender]).toEqual(Array.from({ length: 300 }, (_, i) => i + 1))
    expect(redelivered).toBe(0)
    expect(await c.call(Op.WAIT, { name: "sink", timeoutMs: 20_000 })).toMatchObject({ reason: "exited", code: 0 })
  })

  it("a message received but not acked when its receiver is killed -9 goes to the next incarnation, redelivered; the mailbox survives the restart", async () => {
    const { k, c } = await setup()
    await bootTree(k, [["worker", { args: ["consume", "0", "hold-first"], backoff: { initialMs: 1000, maxMs: 1000, jitter: 0 } }]])
    const first = await c.calls.send("worker", "job-1")
    await until(() => (lines(k, "worker", "HOLDING").length > 0 ? true : undefined), "the worker holding job-1")
    const pid = k.agents.list().find((a) => a.name === "worker" && a.status === "running")!.pid!
    process.kill(pid, "SIGKILL")
    // While it is down (a 1 s backoff), its mailbox takes more.
    await until(() => (k.agents.list().some((a) => a.name === "worker" && a.status === "exited") ? true : undefined), "the worker's end")
    const second = await c.calls.send("worker", "job-2")
    const seen: Array<{ msgId: number; payload: unknown; redelivered: boolean; from: string }> = []
    await until(() => (gotten(seen, k, "worker").length >= 3 ? true : undefined), "job-1 again and job-2")
    expect(seen.map((m) => [m.msgId, m.payload, m.redelivered])).toEqual([
      [first.msgId, "job-1", false],
      [first.msgId, "job-1", true],
      [second.msgId, "job-2", false]
    ])
    await until(() => (k.router.stats().find((s) => s.name === "worker")?.unacked === 0 ? true : undefined), "both acked")
  })

  it("a full mailbox makes SEND wait, or fail with EAGAIN when nowait; a slow consumer bounds what the kernel holds", async () => {
    const { k, c } = await setup()
    await bootTree(k, [
      ["idler", { args: ["idle"], mailbox: { maxMessages: 3 } }],
      ["slow", { args: ["consume", "10"], mailbox: { maxMessages: 8, maxBytes: 64 * 1024 } }]
    ])
    for (let i = 0; i < 3; i++) await c.calls.send("idler", i, true)
    expect(await codeOf(c.calls.send("idler", 3, true))).toBe("EAGAIN")
    let waited = false
    const blocked = c.calls.send("idler", 3).then(() => (waited = true))
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(waited).toBe(false)
    expect(k.router.stats().find((s) => s.name === "idler")).toMatchObject({ depth: 3, blockedSenders: 1 })
    void blocked.catch(() => {})

    // 200 SENDs of 1 KiB at once to a consumer taking 10 ms each: the kernel never holds more
    // than the mailbox's bound; the rest wait at their senders.
    let peak = 0
    const sampler = setInterval(() => {
      const s = k.router.stats().find((m) => m.name === "slow")
      if (s !== undefined) peak = Math.max(peak, s.depth + s.unacked)
    }, 5)
    cleanups.push(() => clearInterval(sampler))
    const payload = new Uint8Array(1024)
    await Promise.all(Array.from({ length: 200 }, () => c.calls.send("slow", payload)))
    const seen: Array<{ msgId: number; payload: unknown; redelivered: boolean; from: string }> = []
    await until(() => (gotten(seen, k, "slow").length >= 200 ? true : undefined), "200 messages at the slow consumer", 30_000)
    expect(peak).toBeGreaterThan(0)
    expect(peak).toBeLessThanOrEqual(8)
  })

  it("a payload that cannot be delivered in one frame is E2BIG", async () => {
    const maxFrame = 64 * 1024
    const { k, c } = await setup({ maxFrame })
    await bootTree(k, [["idler", { args: ["idle"] }]])
    // It fits the SEND frame, not a RECV reply around it.
    expect(await codeOf(c.calls.send("idler", new Uint8Array(maxFrame - 40)))).toBe("E2BIG")
    expect(await codeOf(c.calls.send("idler", new Uint8Array(1024)))).toBe("ok")
  })

  it("SEND to a temporary child that has ended is ENOENT, and a sender waiting on its full mailbox is told so", async () => {
    const { k, c } = await setup()
    await bootTree(k, [["once", { args: ["idle"], restart: "temporary", mailbox: { maxMessages: 1 } }]])
    await c.calls.send("once", "fills it")
    const waiting = codeOf(c.calls.send("once", "waits"))
    await new Promise((resolve) => setTimeout(resolve, 100))
    const pid = k.agents.list().find((a) => a.name === "once")!.pid!
    process.kill(pid, "SIGKILL")
    expect(await waiting).toBe("ENOENT")
    expect(await codeOf(c.calls.send("once", "late"))).toBe("ENOENT")
  })
})
