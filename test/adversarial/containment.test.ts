/**
 * The containment catalogue (docs/isolation.md), asserted from inside real sandboxes of a real
 * `agentos kernel`, in every situation this run can make: as the current user (root in CI: the
 * full sandbox), and, when root, as an ordinary user in A (user namespaces), B (a delegated
 * cgroup) and C (user namespaces refused: Landlock and seccomp). Each property is probed by an
 * agent that tries to break it; the kernel's figures (WAIT, STAT) say how it was stopped, and
 * the mechanism the kernel reported must be the one docs/isolation.md names for the situation.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Connection } from "../../src/client/Connection.ts"
import { Op } from "../../src/protocol/Op.ts"
import * as Situations from "../support/situations.ts"
import { until } from "../support/until.ts"

const MiB = 1024 * 1024

interface Stat {
  readonly uid: number | null
  readonly pid: number | null
  readonly isolation: { readonly memory: string; readonly cpu: string; readonly pids: string; readonly landlock: number; readonly idmap: string; readonly namespaces: ReadonlyArray<string> } | null
  readonly memory: { readonly peakBytes: number | null }
  readonly cpu: { readonly throttledUs: number | null; readonly usageUs: number | null }
  readonly pids: { readonly limitHits: number | null; readonly current: number | null }
}
interface Exit {
  readonly reason: string
  readonly code: number | null
  readonly signal: string | null
  readonly source?: string
}

const situations: ReadonlyArray<Situations.Situation> = ["current", "A", "B", "C"]

describe.each(situations.map((s) => ({
  situation: s,
  title: Situations.available(s) ? s : `${s} (skipped: needs root to make the test user, its cgroup and its namespaces)`
})))("containment in situation $title", ({ situation }) => {
  const skip = !Situations.available(situation)
  let kernel: Situations.Running
  let c: Connection
  let kernelPid: number
  let secret: string
  const agentsDir = () => Path.join(kernel.root, "test", "adversarial", "agents")

  beforeAll(async () => {
    if (skip) return
    kernel = await Situations.run(situation, ["kernel"])
    await kernel.waitFor(/listening on/)
    kernelPid = Number(/\(pid (\d+)\)/.exec(kernel.stdout())![1])
    c = await Connection.connect({ path: kernel.socketPath })
    // A secret of the kernel's user, under its home: for the test user a real ~/.ssh key; for the
    // current user (whose real home is not ours to write) the same shape below the run's dir.
    const user = situation === "current" ? undefined : Situations.testUser()
    const home = user?.home ?? Path.join(kernel.dir, "home")
    secret = Path.join(home, ".ssh", "id_test")
    Fs.mkdirSync(Path.dirname(secret), { recursive: true, mode: 0o700 })
    Fs.writeFileSync(secret, "-----BEGIN TEST KEY-----\n", { mode: 0o600 })
    if (user !== undefined) for (const p of [home, Path.dirname(secret), secret]) Fs.chownSync(p, kernel.uid, user.gid)
  }, 60_000)

  afterAll(async () => {
    if (skip) return
    await c?.close()
    await kernel?.stop()
    if (situation !== "current") Fs.rmSync(Path.dirname(secret), { recursive: true, force: true })
  }, 60_000)

  const spawn = (name: string, run: string, args: ReadonlyArray<string>, sandbox: Record<string, unknown>) =>
    c.call(Op.SPAWN, { name, run: Path.join(agentsDir(), run), args, sandbox, restart: "temporary" }) as Promise<{ pid: number }>
  const wait = (name: string) => c.call(Op.WAIT, { name, timeoutMs: 60_000 }) as Promise<Exit>
  const stat = (name: string) => c.call(Op.STAT, { name }) as Promise<Stat>
  const report = (name: string) =>
    until(`${name}'s REPORT`, async () => {
      const { lines } = (await c.call(Op.LOGS, { name, n: 10_000 })) as { lines: ReadonlyArray<{ line: string }> }
      const line = lines.find((l) => l.line.startsWith("REPORT "))
      return line === undefined ? undefined : JSON.parse(line.line.slice(7)) as Record<string, unknown>
    }, { timeoutMs: 60_000 })
  // The mechanism docs/isolation.md names for the memory limit in this situation.
  const memoryBy = () => (situation === "current" ? (process.getuid?.() === 0 ? "cgroup" : undefined) : situation === "B" ? "cgroup" : "watchdog")

  it.skipIf(skip)("the mechanisms are the situation's: identity, namespaces or Landlock, and who holds each limit", async () => {
    await spawn("mechanisms", "cpu-hog.ts", [], { memory: "64M", cpu: 0.5, pids: 64 })
    const s = await stat("mechanisms")
    const expected = memoryBy()
    if (expected !== undefined) expect(s.isolation?.memory).toBe(expected)
    const status = Fs.readFileSync(`/proc/${s.pid}/status`, "utf8")
    const hostUid = Number(/^Uid:\s+(\d+)/m.exec(status)![1])
    if (situation === "C") {
      expect(s.isolation).toMatchObject({ namespaces: [], landlock: expect.any(Number) })
      expect(s.isolation!.landlock).toBeGreaterThanOrEqual(1)
      expect(hostUid).toBe(kernel.uid)
    } else {
      expect(s.isolation?.namespaces).toEqual(["pid", "mount", "net", "uts", "ipc", "user"])
      if (situation !== "current" || process.getuid?.() === 0) {
        // A uid of its own: the kernel's range as root, the user's /etc/subuid range without.
        expect(hostUid).not.toBe(kernel.uid)
        expect(s.uid).toBe(hostUid)
      }
    }
    await wait("mechanisms")
  })

  it.skipIf(skip)("a fork bomb stops at its process limit while another process of the kernel's user can still fork", async () => {
    await spawn("fork-bomb", "fork-bomb.ts", [], { pids: 32, memory: "256M" })
    const counts = await report("fork-bomb") as { started: number; refused: number }
    expect(counts.refused).toBeGreaterThan(0)
    expect(counts.started).toBeLessThan(32)
    const s = await until("the limit to be seen", async () => {
      const st = await stat("fork-bomb")
      return (st.pids.limitHits ?? 0) > 0 ? st : undefined
    }, { timeoutMs: 10_000 })
    expect(s.pids.limitHits).toBeGreaterThan(0)
    // Meanwhile the same user forks freely: the bomb's limit is its own.
    const drop = situation === "current" ? [] : ["setpriv", `--reuid=${kernel.uid}`, `--regid=${kernel.uid}`, "--clear-groups"]
    const argv = [...drop, "/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do /bin/true & done; wait && echo forked"]
    const other = ChildProcess.spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8" })
    expect(other.stdout.trim(), other.stderr).toBe("forked")
    await c.call(Op.KILL, { name: "fork-bomb", signal: "SIGKILL" })
    await wait("fork-bomb")
  })

  it.skipIf(skip)("a hog of Workers is stopped as out of memory, however it ends", async () => {
    await spawn("worker-hog", "worker-hog.ts", [], { memory: "128M" })
    const workers = await wait("worker-hog")
    // The cgroup's OOM killer, the watchdog, or V8 refused a reservation under RLIMIT_DATA and
    // trapped (its "# Fatal process out of memory", SIGTRAP): out of memory all the same.
    expect(workers.reason).toBe("oom")
    if (workers.source === "rlimit") expect(["SIGTRAP", "SIGABRT"]).toContain(workers.signal)
  })

  it.skipIf(skip)("memory hogs are stopped with their reason: V8 heap, Buffers, Python bytearrays, memfd", async () => {
    await spawn("heap-hog", "heap-hog.ts", [], { memory: "128M" })
    await spawn("buffer-hog", "buffer-hog.ts", [], { memory: "128M" })
    await spawn("py-hog", "hog.py", [], { memory: "64M" })
    await spawn("memfd-hog", "memfd-hog.py", [], { memory: "64M" })
    const by = (await stat("buffer-hog")).isolation!.memory
    const heap = await wait("heap-hog")
    const buffer = await wait("buffer-hog")
    const py = await wait("py-hog")
    const memfd = await wait("memfd-hog")
    if (by === "cgroup") {
      expect(heap).toMatchObject({ reason: "oom", source: "cgroup" })
      expect(buffer).toMatchObject({ reason: "oom", source: "cgroup" })
      expect(py).toMatchObject({ reason: "oom", source: "cgroup" })
      // A memfd's pages are charged to the cgroup: the kernel's OOM killer ends it too.
      expect(memfd).toMatchObject({ reason: "oom", source: "cgroup" })
    } else {
      expect(by).toBe("watchdog")
      // V8's own heap limit (3/4 of the limit) or the watchdog, whichever sees it first; or,
      // when V8 grows its young generation first, RLIMIT_DATA refusing that commit.
      expect(heap.reason).toBe("oom")
      expect(["heap", "watchdog", "rlimit"]).toContain(heap.source)
      // The watchdog's SIGKILL, or RLIMIT_DATA refusing the next Buffer first (Node's "Array buffer allocation failed").
      expect(buffer.reason).toBe("oom")
      if (buffer.source === "watchdog") expect(buffer.signal).toBe("SIGKILL")
      else expect(buffer.source).toBe("rlimit")
      // The watchdog, or RLIMIT_DATA first: Python's MemoryError, an OOM of source rlimit.
      expect(py.reason).toBe("oom")
      expect(["watchdog", "rlimit"]).toContain(py.source)
      if (py.source === "rlimit") expect(await report("py-hog")).toHaveProperty("memoryError")
      // No process's memory counts a memfd's: it is refused.
      expect(await report("memfd-hog")).toEqual({ memfd: "refused", errno: "EPERM" })
    }
    // The host never gave any of them much more than its limit (Pss: private memory within
    // RLIMIT_DATA, plus the runtime's own file-backed pages).
    for (const [name, limit] of [["heap-hog", 128], ["buffer-hog", 128], ["py-hog", 64]] as const) {
      const peak = (await stat(name)).memory.peakBytes ?? 0
      expect(peak, name).toBeLessThan(limit * MiB * 1.1 + 8 * MiB)
    }
  })

  it.skipIf(skip)("a CPU hog is throttled near its share, its throttled time reported", async () => {
    await spawn("cpu-hog", "cpu-hog.ts", [], { cpu: 0.2 })
    const got = await report("cpu-hog") as { wallMs: number; cpuMs: number }
    await wait("cpu-hog")
    const s = await stat("cpu-hog")
    expect(s.cpu.throttledUs).toBeGreaterThan(0)
    // Its share is 20% of a CPU; unthrottled it would have had all of one for its 2 s.
    expect(got.cpuMs / got.wallMs).toBeLessThan(0.5)
  })

  it.skipIf(skip)("homes, secrets, the kernel's socket, memory, environment and signals are out of reach; so are io_uring, netlink and packet sockets", async () => {
    await spawn("snoop", "snoop.py", [String(kernelPid), kernel.socketPath, secret], { memory: "64M" })
    const seen = await report("snoop")
    await wait("snoop")
    for (const [what, result] of Object.entries(seen)) expect(result, what).toMatch(/^denied: /)
    expect(seen["io_uring"]).toBe("denied: ENOSYS")
    expect(seen["netlink socket"]).toBe("denied: EPERM")
    expect(seen["packet socket"]).toBe("denied: EPERM")
  })

  it.skipIf(skip)("a process inside a sandbox that reaches the kernel's socket is refused whatever its uid", async () => {
    // Unisolated (a trusted tool): no namespace hides the socket, and as the kernel's own uid
    // (without root) only the kernel's check of its pid stops it.
    await spawn("peer", "peer.py", [kernel.socketPath], { isolate: false })
    const seen = await report("peer") as { hello: string; code?: string; message?: string }
    await wait("peer")
    expect(seen.hello).toBe("refused")
    if (seen.code === "EPERM") expect(seen.message).toMatch(/inside the sandbox of agent peer/)
    // As root the agent's own uid cannot even walk to the socket.
    else expect(process.getuid?.() === 0 && situation === "current" && seen.code === "EACCES").toBe(true)
  })

  it.skipIf(skip)("sandbox.namespaces: false contains it by Landlock and seccomp, as in situation C", async () => {
    await spawn("snoop-c", "snoop.py", [String(kernelPid), kernel.socketPath, secret], { memory: "64M", namespaces: false })
    const seen = await report("snoop-c")
    await wait("snoop-c")
    expect((await stat("snoop-c")).isolation).toMatchObject({ namespaces: [] })
    for (const [what, result] of Object.entries(seen)) expect(result, what).toMatch(/^denied: /)
  })
})
