/**
 * Supervision end to end: a real kernel, the real launcher, agents as real processes, and the
 * supervision syscalls (TREE, CHILD, SUBSCRIBE) over the real socket. Named after OTP's
 * supervisor_SUITE cases, like test/supervision/Supervisor.test.ts, which covers the bulk with
 * in-kernel children; here are the cases that need processes: the SIGKILL at a shutdown
 * deadline, restarts with new pids, backoff, and restarts that fail to start.
 */
import { Deferred, Effect, Result } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { Connection } from "../../src/client/Connection.ts"
import type { SupervisorReport } from "../../src/process/Events.ts"
import { Op } from "../../src/protocol/Op.ts"
import { findNode, type TreeNode } from "../../src/supervision/Supervisor.ts"
import { agent, decodeTree, supervisor, type SupervisorSpec } from "../../src/supervision/Tree.ts"
import { processAlive, startKernel, type TestKernel, tempDir } from "../support/kernel.ts"
import * as Cleanups from "../support/cleanups.ts"
import * as Machine from "../support/machine.ts"

const cleanups = Cleanups.perTest()

/** A kernel, a connection subscribed to lifecycle events, and the tree booted under init. */
const boot = async (tree: SupervisorSpec) => {
  // Not about isolation: on the plain launcher where agents cannot be sandboxed here.
  const k = await startKernel({}, [], undefined, Machine.launcher)
  cleanups.push(() => k.stop())
  const c = await Connection.connect({ path: k.socketPath })
  cleanups.push(() => c.close())
  const pushes: Array<SupervisorReport> = []
  c.onPush((push) => {
    if (push.ev.startsWith("agentos.child") || push.ev.startsWith("agentos.supervisor")) pushes.push(push.data as SupervisorReport)
  })
  expect(await c.call(Op.SUBSCRIBE, { events: ["agentos.child", "agentos.supervisor"] })).toEqual({ subscribed: true })
  const decoded = decodeTree(tree)
  if (Result.isFailure(decoded)) throw new Error(decoded.failure.message)
  await Effect.runPromise(k.supervision.boot(decoded.success, "/"))
  return { k, c, pushes }
}

/** Waits for the nth push of a type about an offender. */
const push = async (pushes: ReadonlyArray<SupervisorReport>, type: SupervisorReport["type"], offender: string, n = 1, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const found = pushes.filter((p) => p.type === type && p.offender === offender)[n - 1]
    if (found !== undefined) return found
    if (Date.now() > deadline) throw new Error(`no push #${n} ${type} for ${offender}; got ${JSON.stringify(pushes.map((p) => `${p.type} ${p.offender}`))}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** A node of TREE by path. */
const nodeAt = async (c: Connection, path: string): Promise<TreeNode | undefined> =>
  findNode((await c.call(Op.TREE, {})) as TreeNode, (n) => n.path === path)

const codeOf = (p: Promise<unknown>) => p.then(() => "ok", (e: { code?: string }) => e.code ?? String(e))

/** Waits for an agent's output line. */
const outputOf = async (k: TestKernel, name: string, line: string, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs
  while (!k.output(name).some((o) => o.line === line)) {
    if (Date.now() > deadline) throw new Error(`${name} never printed ${line}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** An executable script in a fresh directory, removed after the test. */
const script = (body: string) => {
  const dir = tempDir()
  cleanups.push(dir.remove)
  const file = Path.join(dir.path, "prog")
  Fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 })
  return file
}

describe(`supervision end to end (agents launched by the ${Machine.launcher} launcher)`, () => {
  it("sup_stop_timeout: an agent that ignores SIGTERM is SIGKILLed at its shutdown deadline", async () => {
    const { k, c } = await boot(supervisor("root", {
      children: [agent("stubborn", { run: "sh", args: ["-c", "trap '' TERM; echo ready; while :; do sleep 1; done"], shutdown: 300 })]
    }))
    await outputOf(k, "stubborn", "ready")
    const pid = (await nodeAt(c, "init/root/stubborn"))!.pid!
    // The call's own limit is far past the 300 ms deadline and short of the supervisor's
    // last-resort SIGKILL (the deadline plus 5 s): it fails only if the deadline is not kept.
    expect(await c.call(Op.CHILD, { supervisor: "init/root", action: "terminate", name: "stubborn" }, { timeoutMs: 4000 }))
      .toMatchObject({ state: "exited", reason: "shutdown", pid: null })
    expect(await c.call(Op.WAIT, { name: "stubborn", timeoutMs: 1000 })).toMatchObject({ reason: "killed_on_request", signal: "SIGKILL" })
    expect(processAlive(pid)).toBe(false)
  })

  it("sup_stop_timeout of a supervisor child: past its numeric shutdown, the agents still running below it are SIGKILLed", async () => {
    const stubborn = (name: string) =>
      agent(name, { run: "sh", args: ["-c", "trap '' TERM; echo ready; while :; do sleep 1; done"], shutdown: 10_000 })
    const { k, c } = await boot(supervisor("root", {
      children: [supervisor("inner", { shutdown: 300, children: [stubborn("s1"), stubborn("s2")] })]
    }))
    await outputOf(k, "s1", "ready")
    await outputOf(k, "s2", "ready")
    const pids = [(await nodeAt(c, "init/root/inner/s1"))!.pid!, (await nodeAt(c, "init/root/inner/s2"))!.pid!]
    // Each agent alone would be waited on for 10 s: the call's 6 s limit holds only if the
    // supervisor's 300 ms deadline is kept for the whole subtree.
    expect(await c.call(Op.CHILD, { supervisor: "init/root", action: "terminate", name: "inner" }, { timeoutMs: 6000 }))
      .toMatchObject({ state: "exited", reason: "shutdown" })
    for (const pid of pids) expect(processAlive(pid)).toBe(false)
    expect(await c.call(Op.WAIT, { name: "s1", timeoutMs: 1000 })).toMatchObject({ signal: "SIGKILL" })
  })

  it("transient_kill: a transient agent KILLed with SIGKILL ended abnormally (OTP's `killed`) and is restarted; one stopped with SIGTERM is not", async () => {
    const { c, pushes } = await boot(supervisor("root", {
      children: [
        agent("killed", { run: "sh", args: ["-c", "echo up; while :; do sleep 1; done"], restart: "transient" }),
        agent("stopped", { run: "sh", args: ["-c", "echo up; while :; do sleep 1; done"], restart: "transient" })
      ]
    }))
    await push(pushes, "agentos.child.started", "init/root/killed")
    await push(pushes, "agentos.child.started", "init/root/stopped")
    const killedPid = (await nodeAt(c, "init/root/killed"))!.pid!
    expect(await c.call(Op.KILL, { name: "killed", signal: "SIGKILL" })).toMatchObject({ killed: true })
    await push(pushes, "agentos.child.restarting", "init/root/killed")
    await push(pushes, "agentos.child.started", "init/root/killed", 2)
    const restarted = (await nodeAt(c, "init/root/killed"))!
    expect(restarted).toMatchObject({ state: "running", restarts: 1 })
    expect(restarted.pid).not.toBe(killedPid)

    expect(await c.call(Op.KILL, { name: "stopped", signal: "SIGTERM" })).toMatchObject({ killed: true })
    await push(pushes, "agentos.child.exited", "init/root/stopped")
    expect(await c.call(Op.WAIT, { name: "stopped", timeoutMs: 20_000 })).toMatchObject({ reason: "killed_on_request", signal: "SIGTERM" })
    // The supervisor decides as it learns of the end: a restart would be under way by now.
    const node = await nodeAt(c, "init/root/stopped")
    expect(node).toMatchObject({ state: "exited", restarts: 0 })
    expect(pushes.filter((p) => p.offender === "init/root/stopped" && p.type === "agentos.child.restarting")).toEqual([])
  })

  it("permanent_abnormal: a crashing agent is restarted one_for_one with a new pid; SUBSCRIBE pushes each step", async () => {
    const { c, pushes } = await boot(supervisor("root", {
      intensity: { maxRestarts: 10, withinMs: 60_000 },
      children: [
        agent("steady", { run: "sleep", args: ["60"] }),
        agent("crasher", { run: "sh", args: ["-c", "sleep 0.5; exit 3"] })
      ]
    }))
    const steady = (await nodeAt(c, "init/root/steady"))!.pid
    const first = await push(pushes, "agentos.child.started", "init/root/crasher")
    const exited = await push(pushes, "agentos.child.exited", "init/root/crasher")
    expect(exited).toMatchObject({ supervisor: "init/root", context: "child_terminated", reason: "exited with code 3", kind: "agent" })
    expect(await push(pushes, "agentos.child.restarting", "init/root/crasher")).toMatchObject({ restarts: 1, delayMs: 0 })
    const second = await push(pushes, "agentos.child.started", "init/root/crasher", 2)
    expect(first.pid).toBeGreaterThan(0)
    expect(second.pid).toBeGreaterThan(0)
    expect(second.pid).not.toBe(first.pid)
    // one_for_one: the sibling is untouched.
    expect((await nodeAt(c, "init/root/steady"))!.pid).toBe(steady)
    expect(pushes.filter((p) => p.offender === "init/root/steady").map((p) => p.type)).toEqual(["agentos.child.started"])
  })

  it("TREE and CHILD: start, terminate, restart and delete on a named supervisor, errors as POSIX codes", async () => {
    const { c, pushes } = await boot(supervisor("root", {
      children: [
        agent("steady", { run: "sleep", args: ["60"] }),
        supervisor("pool", { strategy: "simple_one_for_one", children: [agent("worker", { run: "sleep", args: ["60"] })] })
      ]
    }))
    const tree = (await c.call(Op.TREE, {})) as TreeNode
    expect(tree).toMatchObject({ name: "init", kind: "supervisor", state: "running" })
    expect(await nodeAt(c, "init/root")).toMatchObject({ kind: "supervisor", state: "running", strategy: "one_for_one" })
    expect(await nodeAt(c, "init/root/steady")).toMatchObject({ kind: "agent", state: "running", restarts: 0 })
    expect(await nodeAt(c, "init/root/pool")).toMatchObject({ strategy: "simple_one_for_one", children: [] })

    const child = (action: string, fields: Record<string, unknown> = {}) =>
      c.call(Op.CHILD, { supervisor: "init/root", action, ...fields }) as Promise<TreeNode>
    const extra = { name: "extra", run: "sleep", args: ["60"] }
    const started = await child("start", { spec: extra })
    expect(started).toMatchObject({ name: "extra", path: "init/root/extra", state: "running" })
    expect(started.pid).toBeGreaterThan(0)
    expect(await codeOf(child("start", { spec: extra }))).toBe("EEXIST")
    expect(await codeOf(child("terminate", { name: "nope" }))).toBe("ENOENT")
    expect(await child("terminate", { name: "extra" })).toMatchObject({ state: "exited", pid: null })
    expect(processAlive(started.pid!)).toBe(false)
    expect(await codeOf(child("start", { spec: extra }))).toBe("EEXIST")
    const restarted = await child("restart", { name: "extra" })
    expect(restarted).toMatchObject({ state: "running", restarts: 1 })
    expect(restarted.pid).not.toBe(started.pid)
    expect(await codeOf(child("restart", { name: "extra" }))).toBe("EBUSY")
    expect(await codeOf(child("delete", { name: "extra" }))).toBe("EBUSY")
    await child("terminate", { name: "extra" })
    await child("delete", { name: "extra" })
    expect(await nodeAt(c, "init/root/extra")).toBeUndefined()
    expect(await codeOf(child("restart", { name: "extra" }))).toBe("ENOENT")

    // simple_one_for_one: dynamic children from the template; restart and delete are refused.
    const pool = (action: string, fields: Record<string, unknown> = {}) =>
      c.call(Op.CHILD, { supervisor: "init/root/pool", action, ...fields }) as Promise<TreeNode>
    const w1 = await pool("start", { name: "w1", args: ["30"] })
    expect(w1).toMatchObject({ path: "init/root/pool/w1", state: "running" })
    expect(await codeOf(pool("restart", { name: "w1" }))).toBe("EINVAL")
    expect(await codeOf(pool("delete", { name: "w1" }))).toBe("EINVAL")
    await pool("terminate", { name: "w1" })
    expect((await nodeAt(c, "init/root/pool"))!.children).toEqual([])
    // Unnamed children get a free <template>-N, even after a terminate in between.
    const a = await pool("start", { args: ["30"] })
    const b = await pool("start", { args: ["30"] })
    await pool("terminate", { name: a.name })
    const d = await pool("start", { args: ["30"] })
    expect([a.name, b.name, d.name]).toEqual(["worker-1", "worker-2", "worker-3"])
    await pool("terminate", { name: b.name })
    await pool("terminate", { name: d.name })
    expect(await codeOf(c.call(Op.CHILD, { supervisor: "init/nope", action: "terminate", name: "x" }))).toBe("ENOENT")

    // Every step was pushed, with OTP's fields.
    expect(pushes.filter((p) => p.offender === "init/root/extra").map((p) => `${p.type} ${p.context}`)).toEqual([
      "agentos.child.started start",
      "agentos.child.stopped shutdown",
      "agentos.child.started start",
      "agentos.child.stopped shutdown"
    ])
  })

  it("backoff delays a restart: the child waits in `backoff`, then starts again", async () => {
    const { c, pushes } = await boot(supervisor("root", {
      intensity: { maxRestarts: 10, withinMs: 60_000 },
      children: [agent("crasher", { run: "sh", args: ["-c", "exit 1"], backoff: { initialMs: 2000, maxMs: 2000, jitter: 0 } })]
    }))
    const restarting = await push(pushes, "agentos.child.restarting", "init/root/crasher")
    expect(restarting.delayMs).toBe(2000)
    expect(await nodeAt(c, "init/root/crasher")).toMatchObject({ state: "backoff", pid: null, restarts: 1 })
    expect(pushes.filter((p) => p.type === "agentos.child.started" && p.offender === "init/root/crasher")).toHaveLength(1)
    await push(pushes, "agentos.child.started", "init/root/crasher", 2)
  })

  it("hanging_restart_loop: while a restart is pending (backoff), restart_child and delete_child answer EBUSY; terminate_child cancels it", async () => {
    const { c, pushes } = await boot(supervisor("root", {
      intensity: { maxRestarts: 10, withinMs: 60_000 },
      children: [agent("crasher", { run: "sh", args: ["-c", "exit 1"], backoff: { initialMs: 60_000, maxMs: 60_000, jitter: 0 } })]
    }))
    await push(pushes, "agentos.child.restarting", "init/root/crasher")
    const child = (action: string) => c.call(Op.CHILD, { supervisor: "init/root", action, name: "crasher" }) as Promise<TreeNode>
    // OTP: {error, restarting}.
    expect(await codeOf(child("restart"))).toBe("EBUSY")
    expect(await codeOf(child("delete"))).toBe("EBUSY")
    expect(await nodeAt(c, "init/root/crasher")).toMatchObject({ state: "backoff" })
    expect(await child("terminate")).toMatchObject({ state: "exited", reason: "shutdown" })
    expect(await child("delete")).toMatchObject({ name: "crasher" })
    expect(await nodeAt(c, "init/root/crasher")).toBeUndefined()
  })

  it("restart_child that fails to start: the error is returned and the child is left `failed`, ready for a later restart_child", async () => {
    const prog = script("exec sleep 60")
    const { c } = await boot(supervisor("root", { children: [agent("flaky", { run: prog })] }))
    const child = (action: string) => c.call(Op.CHILD, { supervisor: "init/root", action, name: "flaky" }) as Promise<TreeNode>
    await child("terminate")
    const body = Fs.readFileSync(prog)
    Fs.rmSync(prog)
    expect(await codeOf(child("restart"))).toBe("ENOENT")
    expect(await nodeAt(c, "init/root/flaky")).toMatchObject({ state: "failed", pid: null })
    Fs.writeFileSync(prog, body, { mode: 0o755 })
    expect(await child("restart")).toMatchObject({ state: "running" })
  })

  it("one_for_all_other_child_fails_restart: a restarted child is terminated again when a later one fails to start; each try counts, then it escalates", async () => {
    const prog = script("exec sleep 60")
    const { k, c, pushes } = await boot(supervisor("group", {
      strategy: "one_for_all",
      intensity: { maxRestarts: 2, withinMs: 60_000 },
      children: [agent("child1", { run: "sleep", args: ["60"] }), agent("child2", { run: prog })]
    }))
    await push(pushes, "agentos.child.started", "init/group/child2")
    Fs.rmSync(prog)
    // child1 ends (killed: a normal end, but it is permanent): everything restarts, child2 cannot.
    await c.call(Op.KILL, { name: "child1", signal: "SIGKILL" })
    // group escalates to init, which tolerates nothing: the system goes down with the chain.
    const chain = await Effect.runPromise(Deferred.await(k.supervision.failed).pipe(Effect.timeout("20 seconds")))
    expect(chain.split("; last: ").map((c) => c.split(":")[0])).toEqual(["init", "init/group", "init/group/child2"])
    expect(chain).toContain("does not exist")
    await push(pushes, "agentos.supervisor.escalated", "init/group/child2")
    const story = pushes
      .filter((p) => p.offender.startsWith("init/group/") && p.type !== "agentos.child.restarting")
      .map((p) => `${p.type.replace("agentos.", "")} ${p.offender.replace("init/group/", "")}`)
    expect(story).toEqual([
      "child.started child1",
      "child.started child2",
      "child.exited child1",
      "child.stopped child2",
      "child.started child1",
      "child.start_failed child2",
      "child.exited child2",
      "child.stopped child1",
      "child.started child1",
      "child.start_failed child2",
      "child.exited child2",
      "child.stopped child1",
      "supervisor.escalated child2"
    ])
  })
})
