/**
 * Agents end to end: a real kernel, the real launcher, real namespaces and cgroups. SPAWN,
 * LIST, WAIT, KILL and STAT over the protocol; the agent's own view through its fd 3; caps;
 * bad specs; cgroups and processes gone afterwards. The cases about the syscalls rather than
 * the sandbox run on the plain launcher where agents cannot be sandboxed here (Machine.launcher);
 * those about the sandbox need the native one.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { Connection } from "../../src/client/Connection.ts"
import { Op } from "../../src/protocol/Op.ts"
import * as Os from "node:os"
import { processAlive, removeTree, startKernel, type TestKernel } from "../support/kernel.ts"
import * as Cleanups from "../support/cleanups.ts"
import * as Machine from "../support/machine.ts"
import { until } from "../support/until.ts"

const probe = Path.join(import.meta.dirname, "agents", "probe.ts")
const cleanups = Cleanups.perTest()
const setup = async (launcher: Machine.TestLauncher = Machine.launcher): Promise<{ k: TestKernel; c: Connection }> => {
  const k = await startKernel({}, [], undefined, launcher)
  cleanups.push(() => k.stop())
  const c = await Connection.connect({ path: k.socketPath })
  cleanups.push(() => c.close())
  return { k, c }
}
/** Why a case about the sandbox does not run here. */
const needsSandbox = Machine.canSandbox ? "" : ` (skipped: about the sandbox, on the native launcher, which cannot sandbox here: ${Machine.cannotSandboxBecause})`

const codeOf = (p: Promise<unknown>) => p.then(() => "ok", (e: { code?: string }) => e.code ?? String(e))
const reportOf = async (k: TestKernel, name: string, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const line = k.output(name).find((o) => o.line.startsWith("REPORT "))
    if (line !== undefined) return JSON.parse(line.line.slice(7))
    if (Date.now() > deadline) throw new Error(`no report from ${name}: ${JSON.stringify(k.output(name))}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe("SPAWN / WAIT / LIST", () => {
  it("runs a command in its sandbox, lists it, and reports its exit", async () => {
    const { k, c } = await setup()
    const spawned = (await c.call(Op.SPAWN, { name: "echoer", run: "sh", args: ["-c", "echo hello from $AGENTOS_NAME; exit 3"] })) as {
      id: string; name: string; pid: number; status: string
    }
    expect(spawned).toMatchObject({ name: "echoer", status: "running" })
    expect(spawned.pid).toBeGreaterThan(0)
    const wait = await c.call(Op.WAIT, { name: "echoer", timeoutMs: 20_000 })
    expect(wait).toMatchObject({ code: 3, signal: null, reason: "exited" })
    const rows = (await c.calls.list()) as ReadonlyArray<Record<string, unknown>>
    expect(rows.find((r) => r.name === "echoer")).toMatchObject({ id: spawned.id, status: "exited", restarts: 0 })
    expect(k.output("echoer").map((o) => o.line)).toContain("hello from echoer")
  })

  it.skipIf(!Machine.canSandbox)(`a TypeScript agent reaches the kernel over fd 3 with its own identity and default caps, from its own PID namespace${needsSandbox}`, async () => {
    const { k, c } = await setup("native")
    await c.call(Op.SPAWN, { name: "probe", run: probe, args: [k.socketPath, "exit"] })
    const report = await reportOf(k, "probe")
    expect(report.hello).toMatchObject({ kind: "agent", name: "probe" })
    expect(report.env).toMatchObject({ name: "probe", fd: "3" })
    expect(report.noop).toEqual({ ok: true, value: { from: "probe" } })
    expect(report.list.ok).toBe(true)
    expect(report.spawn).toEqual({ ok: false, code: "EPERM" })
    expect(report.kill).toEqual({ ok: false, code: "EPERM" })
    expect(report.log.ok).toBe(true)
    expect(report.heartbeat.ok).toBe(true)
    // The kernel's socket is not reachable by path from inside.
    expect(report.kernelSocketVisible).toBe(false)
    // In its own PID namespace, under its own host uid.
    expect(report.pid).toBe(2)
    expect(await c.call(Op.WAIT, { name: "probe", timeoutMs: 20_000 })).toMatchObject({ code: 0, reason: "exited" })
    const logged = k.output("probe").find((o) => o.stream === "log")
    expect(logged?.line).toContain("probe says hi")
  })

  it("an agent granted SPAWN may spawn; its child names it as parent", async () => {
    const { k, c } = await setup()
    await c.call(Op.SPAWN, { name: "parent", run: probe, args: ["exit"], caps: ["SPAWN", "KILL"] })
    const report = await reportOf(k, "parent")
    expect(report.spawn.ok).toBe(true)
    expect(report.kill).toEqual({ ok: false, code: "ENOENT" })
    const rows = (await c.calls.list()) as ReadonlyArray<Record<string, unknown>>
    expect(rows.find((r) => r.name === "parent-child")).toMatchObject({ parent: "parent" })
  })

  it("bad specs: EINVAL naming every field, EEXIST for a live name, ENOENT for a missing program", async () => {
    const { c } = await setup()
    const bad = await c.call(Op.SPAWN, { name: "bad name", run: "", sandbox: { memory: "lots", cpu: -1 }, caps: ["FLY"] }).catch((e: Error) => e)
    expect(bad).toMatchObject({ code: "EINVAL" })
    for (const field of ["name", "run", "sandbox.memory", "sandbox.cpu", "caps[0]"]) {
      expect((bad as Error).message).toContain(field.replace("[0]", ""))
    }
    await c.call(Op.SPAWN, { name: "sleeper", run: "sleep", args: ["30"] })
    expect(await codeOf(c.call(Op.SPAWN, { name: "sleeper", run: "sleep", args: ["1"] }))).toBe("EEXIST")
    expect(await codeOf(c.call(Op.SPAWN, { name: "ghost", run: "/nonexistent/program" }))).toBe("ENOENT")
    expect(await codeOf(c.call(Op.SPAWN, { name: "ghost2", run: "no-such-command-anywhere" }))).toBe("ENOENT")
    expect(await codeOf(c.call(Op.WAIT, { name: "nobody" }))).toBe("ENOENT")
    expect(await codeOf(c.call(Op.WAIT, {}))).toBe("EINVAL")
    expect(await codeOf(c.call(Op.WAIT, { name: "sleeper", timeoutMs: 50 }))).toBe("ETIMEDOUT")
  })
})

describe("KILL / STAT", () => {
  it("SIGTERM stops an agent (killed on request); SIGKILL too; the sandbox is gone after", async () => {
    const { c } = await setup()
    const a = (await c.call(Op.SPAWN, { name: "a", run: "sleep", args: ["60"] })) as { pid: number }
    const stat = (await c.call(Op.STAT, { name: "a" })) as { cgroups: Record<string, string>; pids: { current: number } }
    // Without root or a delegated cgroup there is none (nor ever on the plain launcher); the
    // sandbox is its processes alone.
    expect(Object.keys(stat.cgroups).length > 0).toBe(Machine.hasCgroups && !Machine.plain)
    for (const dir of Object.values(stat.cgroups)) expect(Fs.existsSync(dir)).toBe(true)
    expect(await c.call(Op.KILL, { name: "a" })).toEqual({ killed: true })
    expect(await c.call(Op.WAIT, { name: "a", timeoutMs: 20_000 })).toMatchObject({ reason: "killed_on_request", signal: "SIGTERM" })
    expect(processAlive(a.pid)).toBe(false)
    for (const dir of Object.values(stat.cgroups)) expect(Fs.existsSync(dir)).toBe(false)

    await c.call(Op.SPAWN, { name: "b", run: "sleep", args: ["60"] })
    await c.call(Op.KILL, { name: "b", signal: "SIGKILL" })
    expect(await c.call(Op.WAIT, { name: "b", timeoutMs: 20_000 })).toMatchObject({ reason: "killed_on_request", signal: "SIGKILL" })
    expect(await codeOf(c.call(Op.KILL, { name: "b" }))).toBe("ENOENT")
    expect(await codeOf(c.call(Op.KILL, { name: "b", signal: "SIGNOPE" }))).toBe("EINVAL")
  })

  it("an agent that ignores SIGTERM is SIGKILLed at its deadline", async () => {
    const { c } = await setup()
    await c.call(Op.SPAWN, {
      name: "stubborn",
      run: "sh",
      args: ["-c", "trap '' TERM; echo ready; while :; do sleep 1; done"],
      sandbox: { killTimeoutMs: 300 }
    })
    await new Promise((resolve) => setTimeout(resolve, 300))
    await c.call(Op.KILL, { name: "stubborn" })
    expect(await c.call(Op.WAIT, { name: "stubborn", timeoutMs: 20_000 })).toMatchObject({ reason: "killed_on_request", signal: "SIGKILL" })
  })

  it("STAT reads the live cgroup (or the launcher's figures where it holds the limits), then keeps the final figures", async () => {
    const { c } = await setup()
    await c.call(Op.SPAWN, { name: "s", run: "sh", args: ["-c", "sleep 60"], sandbox: { memory: "64M", pids: 10 } })
    type Live = { status: string; memory: { currentBytes: number | null; limitBytes: number }; pids: { current: number | null; limit: number } }
    // A cgroup has its figures at once; the launcher reports its first look once the agent runs.
    const live = await until("s's live figures", async () => {
      const stat = (await c.call(Op.STAT, { name: "s" })) as Live
      return stat.memory.currentBytes !== null && stat.pids.current !== null ? stat : undefined
    }, { timeoutMs: 10_000 })
    expect(live.status).toBe("running")
    expect(live.memory.currentBytes).toBeGreaterThan(0)
    expect(live.memory.limitBytes).toBe(64 * 1024 * 1024)
    expect(live.pids.limit).toBe(10)
    // The sandbox's init and the agent; on the plain launcher (no PID namespace) the agent alone.
    expect(live.pids.current).toBeGreaterThanOrEqual(Machine.plain ? 1 : 2)
    await c.call(Op.KILL, { name: "s", signal: 9 })
    await c.call(Op.WAIT, { name: "s" })
    const final = (await c.call(Op.STAT, { name: "s" })) as { status: string; memory: { peakBytes: number }; exit: { reason: string } }
    expect(final.status).toBe("exited")
    expect(final.memory.peakBytes).toBeGreaterThan(0)
    expect(final.exit.reason).toBe("killed_on_request")
  })
})

describe("containment this machine cannot give", () => {
  // This machine as it would be with neither user namespaces nor Landlock: the probe says so.
  const unconfined = { ...Machine.machine, probe: { ...Machine.machine.probe, userns: false, usernsError: "refused", landlock: 0 }, root: false }
  it.skipIf(!Machine.canSandbox)(`a sandboxed agent is refused with ENOTSUP naming what is missing and how to get it; --isolation=weak runs it; an unisolated one always runs${needsSandbox}`, async () => {
    const strict = await startKernel({}, [], unconfined)
    cleanups.push(() => strict.stop())
    const c = await Connection.connect({ path: strict.socketPath })
    cleanups.push(() => c.close())
    const refused = await c.call(Op.SPAWN, { name: "boxed", run: "true" }).then(() => undefined, (e: { code: string; message: string }) => e)
    expect(refused?.code).toBe("ENOTSUP")
    expect(refused?.message).toMatch(/^spawn boxed: its sandbox would miss filesystem \(no mount namespace and no Landlock; needs user namespaces or Landlock .*\), signals and ptrace .*--isolation=weak/)
    await c.call(Op.SPAWN, { name: "tool", run: "true", sandbox: { isolate: false } })
    expect(await c.call(Op.WAIT, { name: "tool", timeoutMs: 20_000 })).toMatchObject({ reason: "exited", code: 0 })

    const weak = await startKernel({ isolation: "weak" }, [], unconfined)
    cleanups.push(() => weak.stop())
    const w = await Connection.connect({ path: weak.socketPath })
    cleanups.push(() => w.close())
    await w.call(Op.SPAWN, { name: "boxed", run: "true", sandbox: { memory: "64M" } })
    expect(await w.call(Op.WAIT, { name: "boxed", timeoutMs: 20_000 })).toMatchObject({ reason: "exited", code: 0 })
    // Its limits still hold, by the launcher; what was missing was said at start instead.
    expect(((await w.call(Op.STAT, { name: "boxed" })) as { isolation: { memory: string; namespaces: Array<string>; landlock: number } }).isolation)
      .toMatchObject({ namespaces: [], landlock: 0, memory: Machine.cgroupHolds("memory") ? "cgroup" : "watchdog" })
  })
})

describe("the root kernel's uid range", () => {
  const taken = Fs.existsSync("/etc/subuid") ? Fs.readFileSync("/etc/subuid", "utf8").split("\n").filter(Boolean)[0] : undefined
  it.runIf(Machine.isRoot && taken !== undefined)(`a configured range that overlaps a user's /etc/subuid range is refused at start, naming it${Machine.isRoot ? "" : " (skipped: only a root kernel hands out its own uids)"}`, async () => {
    const [owner, first, count] = taken!.split(":")
    const failed = await startKernel({ uidRange: { first: Number(first), last: Number(first) + Number(count) - 1 } }).then(
      async (k) => {
        await k.stop()
        return undefined
      },
      (e: Error) => e
    )
    expect(String(failed)).toMatch(new RegExp(`overlaps ${owner}'s subordinate ids`))
  })
})

describe("a private state directory", () => {
  it.skipIf(!Machine.canSandbox)(`agents start with $AGENTOS_STATE_DIR a 0700 directory (as \`mktemp -d\` makes), which stays 0700: their workdirs are bound in before they take their ids${needsSandbox}`, async () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "agentos-private-"))
    cleanups.push(() => removeTree(dir))
    Fs.chmodSync(dir, 0o700)
    const k = await startKernel({ stateDir: dir })
    cleanups.push(() => k.stop())
    const c = await Connection.connect({ path: k.socketPath })
    cleanups.push(() => c.close())
    await c.call(Op.SPAWN, { name: "private", run: "sh", args: ["-c", "echo kept > $HOME/file && cat $HOME/file"] })
    expect(await c.call(Op.WAIT, { name: "private", timeoutMs: 20_000 })).toMatchObject({ reason: "exited", code: 0 })
    expect(k.output("private").map((o) => o.line)).toContain("kept")
    expect(Fs.statSync(dir).mode & 0o777).toBe(0o700)
  })
})

describe("default limits for agents that name none", () => {
  const bomb = Path.join(import.meta.dirname, "..", "adversarial", "agents", "fork-bomb.ts")
  it("an agent naming no limit gets 512 processes, as systemd's DefaultTasksMax", async () => {
    const { c } = await setup()
    await c.call(Op.SPAWN, { name: "plain", run: "sleep", args: ["60"] })
    const stat = await until("plain's live figures", async () => {
      const s = (await c.call(Op.STAT, { name: "plain" })) as { pids: { limit: number | null } }
      return s.pids.limit !== null ? s : undefined
    }, { timeoutMs: 10_000 })
    expect(stat.pids.limit).toBe(512)
  })

  it("the kernel's defaults hold a fork bomb that names no limit; a spec's own limit overrides them", async () => {
    const k = await startKernel({ agentDefaults: { pids: 24, memoryBytes: 256 * 1024 * 1024 } }, [], undefined, Machine.launcher)
    cleanups.push(() => k.stop())
    const c = await Connection.connect({ path: k.socketPath })
    cleanups.push(() => c.close())
    await c.call(Op.SPAWN, { name: "bomb", run: bomb })
    const counts = await reportOf(k, "bomb") as { started: number; refused: number }
    expect(counts.refused).toBeGreaterThan(0)
    expect(counts.started).toBeLessThan(24)
    await c.call(Op.KILL, { name: "bomb", signal: "SIGKILL" })
    await c.call(Op.WAIT, { name: "bomb", timeoutMs: 20_000 })
    await c.call(Op.SPAWN, { name: "roomy", run: bomb, sandbox: { pids: 64 } })
    const more = await reportOf(k, "roomy") as { started: number; refused: number }
    expect(more.started).toBeGreaterThan(24)
    await c.call(Op.KILL, { name: "roomy", signal: "SIGKILL" })
  })
})

describe("kernel shutdown", () => {
  it("stops every agent and leaves no process or cgroup behind", async () => {
    const k = await startKernel({}, [], undefined, Machine.launcher)
    const c = await Connection.connect({ path: k.socketPath })
    const pids: Array<number> = []
    const cgroups: Array<string> = []
    for (const name of ["x", "y", "z"]) {
      pids.push(((await c.call(Op.SPAWN, { name, run: "sleep", args: ["60"] })) as { pid: number }).pid)
      cgroups.push(...Object.values(((await c.call(Op.STAT, { name })) as { cgroups: Record<string, string> }).cgroups))
    }
    await c.close()
    await k.stop()
    for (const pid of pids) expect(processAlive(pid)).toBe(false)
    for (const dir of cgroups) expect(Fs.existsSync(dir)).toBe(false)
  })
})
