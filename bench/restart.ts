/**
 * What supervision costs per restart, and what a big tree costs the kernel. Three figures:
 *
 * 1. Crash-to-restarted latency, p50/p99: a tiny agent is SIGKILLed (the "crash"; t0 is the
 *    kill) and its replacement's HELLO reaches the kernel (t1). Side by side in one run,
 *    interleaved round by round, for the same program with the same fd 3:
 *      plain     child_process.spawn, respawned on 'exit'; t1 = its first bytes on fd 3
 *      launcher  NodeLauncher.spawn (all namespaces, cgroup, seccomp), respawned on `ended`, no
 *                supervisor; t1 = its first bytes on fd 3
 *      supervised  an agent of a one_for_one tree under PID 1 in a real in-process kernel;
 *                t1 = the kernel dispatching its HELLO
 *    supervised − launcher is the supervisor's (and kernel's) own cost; launcher − plain is the
 *    sandbox's. Each restart is also cut into steps: kill → end known (a plain child's 'exit', a
 *    launcher's `ended` record), end known → replacement spawned, spawned → HELLO. The goal is
 *    judged on the supervisor's own step (end known → spawned, supervised − launcher-only), which
 *    the launch's own variance does not blur; end-to-end differences are printed beside it, and
 *    called noise when a path's p50 moves more than the goal between rounds. Two tiny agents:
 *    `node` (bench/support/tinyAgent.ts, the agent SDK's connect(): the honest default, but
 *    ~250 ms of startup, most of it loading `effect` for the SDK) and `sh` (printf of a raw HELLO
 *    frame to fd 3, then `exec sleep`: ~1 ms of startup, so the overhead is not lost in noise).
 * 2. Sustained restarts per second: several children crash-looping at once (killed as soon as
 *    their HELLO arrives), per path.
 * 3. A tree of 1,000 tiny `sh` agents (10 supervisors × 100; a Node agent costs ~40 MB, 1,000
 *    of them would not fit): boot time (boot call returned, every HELLO in), kernel RSS, shutdown
 *    time, and whether everything is gone afterwards (processes, cgroups).
 *
 * Goals (issue 4): at most 2 ms of supervisor overhead per restart over the plain loop (p50),
 * and 1,000 agents booted and shut down cleanly with kernel RSS under 300 MB (peak). Needs root.
 *
 *   npm run bench:restart [-- --quick] [-- --json] [-- --agent node|sh] [-- --agents N]   (BENCH_QUICK=1, BENCH_JSON=1)
 *                         [-- --only tree|loops] [-- --paths plain,launcher,supervised]
 */
import { Context, Effect, Exit, Layer, Result, Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { createRequire, syncBuiltinESMExports } from "node:module"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { Agents } from "../src/process/Agents.ts"
import * as AgentSpec from "../src/process/AgentSpec.ts"
import * as Daemon from "../src/app/Daemon.ts"
import * as PeerCredentials from "../src/sandbox/PeerCredentials.ts"
import * as Syscall from "../src/kernel/Syscall.ts"
import { Hello } from "../src/kernel/syscalls/Hello.ts"
import * as Frame from "../src/protocol/Frame.ts"
import { Op } from "../src/protocol/Op.ts"
import * as Cgroups from "../src/sandbox/Cgroups.ts"
import { Launcher, type Launched } from "../src/sandbox/Launcher.ts"
import * as LaunchSpec from "../src/sandbox/LaunchSpec.ts"
import * as NodeLauncher from "../src/sandbox/NodeLauncher.ts"
import { Supervision } from "../src/supervision/Supervision.ts"
import { agent, decodeTree, supervisor, type ChildSpec } from "../src/supervision/Tree.ts"
import { PROTOCOL_VERSION } from "../src/protocol/Version.ts"
import * as Report from "./support/report.ts"
import { flag } from "./support/servers.ts"

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

const option = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? undefined : process.argv[i + 1]
}

const quick = flag("quick", "BENCH_QUICK")
const only = option("only")
const json = flag("json", "BENCH_JSON")
type Kind = "node" | "sh"
const kinds: ReadonlyArray<Kind> = option("agent") === "node" ? ["node"] : option("agent") === "sh" ? ["sh"] : ["node", "sh"]
const sizes = {
  /** Latency samples per path and agent kind, spread over `rounds` interleaved rounds. */
  samples: quick ? 20 : 100,
  rounds: quick ? 2 : 4,
  /** Restarts before measuring, per round. */
  warmup: 2,
  /** Pause between an agent's HELLO and its kill, so each sample starts from a quiet machine. */
  settleMs: 20,
  /** Crash-looping children at once, and how long each path's loop runs. */
  concurrent: 4,
  sustainedMs: quick ? 2_000 : 5_000,
  /** Agents in the big tree, in supervisors of `perGroup`. */
  agents: Number(option("agents") ?? (quick ? 200 : 1000)),
  perGroup: 100
}

const GOAL_OVERHEAD_MS = 2
const GOAL_RSS_BYTES = 300 * 1024 * 1024

const root = fileURLToPath(new URL("..", import.meta.url))
const tinyNode = Path.join(root, "bench", "support", "tinyAgent.ts")
const hrnow = () => process.hrtime.bigint()
const msSince = (t0: bigint, t1: bigint) => Number(t1 - t0) / 1e6
const log = (line: string) => {
  if (!json) console.log(line)
}
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

if ((process.getuid?.() ?? 0) !== 0) {
  console.error("restart: needs root (agents get their own uid and cgroup)")
  process.exit(1)
}

// The sh agent writes this frame to fd 3 with printf: the HELLO the SDK would send.
const helloFrame = Frame.encode({ id: 1, op: Op.HELLO, args: { version: PROTOCOL_VERSION } })
const shScript = `printf '${[...helloFrame].map((b) => `\\${b.toString(8).padStart(3, "0")}`).join("")}' >&3; exec sleep infinity`

/** What runs, as a tree's agent and as a host argv. */
const program = (kind: Kind) =>
  kind === "node"
    ? { run: tinyNode, args: [] as Array<string>, sandbox: { memory: "256M", pids: 64 } }
    : { run: "sh", args: ["-c", shScript], sandbox: { memory: "16M", pids: 8 } }

const resolved = (kind: Kind) => {
  const p = program(kind)
  const r = AgentSpec.resolveRun(p.run, p.args, root)
  if (typeof r === "string") throw new Error(r)
  return r
}

// ---------------------------------------------------------------------------------------------
// A kernel in this process, with HELLO observed at dispatch
// ---------------------------------------------------------------------------------------------

/** Who waits for which agent's next HELLO. */
const helloWaiters = new Map<string, (at: bigint) => void>()
let hellos = 0
const HelloProbe = Syscall.make(Op.HELLO, (args, caller, call) => {
  const at = hrnow()
  hellos++
  const name = caller.agent?.name
  if (name !== undefined) {
    const waiter = helloWaiters.get(name)
    if (waiter !== undefined) {
      helloWaiters.delete(name)
      waiter(at)
    }
  }
  return Hello.handle(args, caller, call)
})
const nextHello = (name: string) => new Promise<bigint>((resolve) => helloWaiters.set(name, resolve))

// ---------------------------------------------------------------------------------------------
// The restart path's steps: when the parent learns of the end, when the replacement is spawned
// ---------------------------------------------------------------------------------------------

/**
 * Every spawn (plain children and launchers alike) and every end as the parent learns it: a
 * plain child's 'exit', a launcher's `ended` status record. child_process.spawn is wrapped (the
 * kernel's NodeLauncher calls it through the module namespace, which syncBuiltinESMExports
 * updates), costing each path the same few µs. With them a restart splits into kill → end known
 * (the sandbox's teardown), end known → replacement spawned (the supervisor's and kernel's own
 * work: the figure the goal is about), spawned → HELLO (launch and agent startup).
 */
const trace = { ends: [] as Array<bigint>, spawns: [] as Array<bigint> }
const childProcessCjs = createRequire(import.meta.url)("node:child_process") as typeof ChildProcess
const realSpawn = childProcessCjs.spawn
childProcessCjs.spawn = function (this: unknown, ...args: Parameters<typeof realSpawn>) {
  trace.spawns.push(hrnow())
  const child = (realSpawn as (...a: Parameters<typeof realSpawn>) => ChildProcess.ChildProcess).apply(this, args)
  // A launcher's fd 5 is its status pipe. Listened to before NodeLauncher's own reader sets
  // the encoding, so this listener sees the same chunks.
  const status = (child.stdio as ReadonlyArray<unknown>)[5] as NodeJS.ReadableStream | null | undefined
  if (args[0] === NodeLauncher.launcherPath && status != null) {
    status.on("data", (chunk: Buffer | string) => {
      if (/(^|\n)ended /.test(String(chunk))) trace.ends.push(hrnow())
    })
  }
  return child
} as typeof realSpawn
syncBuiltinESMExports()

/** One restart: total and its three steps, in ms. */
interface Sample {
  readonly total: number
  readonly killToEnd: number
  readonly endToSpawn: number
  readonly spawnToHello: number
}

const sampleOf = (t0: bigint, hello: bigint): Sample => {
  const end = trace.ends.find((t) => t >= t0) ?? t0
  const spawn = trace.spawns.find((t) => t >= end) ?? end
  return { total: msSince(t0, hello), killToEnd: msSince(t0, end), endToSpawn: msSince(end, spawn), spawnToHello: msSince(spawn, hello) }
}

interface BenchKernel {
  readonly kernelId: string
  readonly agents: Agents["Service"]
  readonly supervision: Supervision["Service"]
  readonly close: () => Promise<void>
}

const startKernel = async (dir: string, name: string): Promise<BenchKernel> => {
  const scope = Effect.runSync(Scope.make())
  const kernelId = `kb${process.pid.toString(36)}${name}`
  const context = await Effect.runPromise(Layer.buildWithScope(
    Daemon.layer({ socketPath: Path.join(dir, `${name}.sock`), stateDir: Path.join(dir, "state"), kernelId }, [HelloProbe]),
    scope
  ))
  return {
    kernelId,
    agents: Context.get(context, Agents),
    supervision: Context.get(context, Supervision),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const initCall = <A>(kernel: BenchKernel, f: Parameters<NonNullable<ReturnType<Supervision["Service"]["find"]>>["call"]>[0]) => {
  const init = kernel.supervision.find("init")
  if (init === undefined) throw new Error("the kernel's init is not running")
  return Effect.runPromise(init.call(f)) as Promise<A>
}

const bootTree = async (kernel: BenchKernel, name: string, children: ReadonlyArray<ChildSpec>) => {
  const decoded = decodeTree(supervisor(name, { intensity: { maxRestarts: 1_000_000, withinMs: 1000 }, children }))
  if (Result.isFailure(decoded)) throw new Error(decoded.failure.message)
  await Effect.runPromise(kernel.supervision.boot(decoded.success, root))
}

const stopTree = async (kernel: BenchKernel, name: string) => {
  await initCall(kernel, (actor) => actor.terminateChild(name))
  await initCall(kernel, (actor) => actor.deleteChild(name))
}

// ---------------------------------------------------------------------------------------------
// Three respawn loops with one interface
// ---------------------------------------------------------------------------------------------

type Path_ = "plain" | "launcher" | "supervised"
const paths: ReadonlyArray<Path_> = (["plain", "launcher", "supervised"] as const).filter((p) => option("paths")?.split(",").includes(p) ?? true)

/** One crash-looping child: `crash` kills the current incarnation and times its replacement's HELLO. */
interface Loop {
  readonly crash: () => Promise<Sample>
}
interface Group {
  readonly loops: ReadonlyArray<Loop>
  readonly stop: () => Promise<void>
}

const killNow = (pid: number) => {
  try {
    process.kill(pid, "SIGKILL")
  } catch {}
}

/** The plain loop: child_process.spawn of the same program, fd 3 a socketpair, respawned on exit. */
const plainGroup = async (kind: Kind, n: number, workdir: string): Promise<Group> => {
  const argv = resolved(kind).argv
  const make = (i: number) => {
    let child: ChildProcess.ChildProcess | undefined
    let waiter: ((at: bigint) => void) | undefined
    let stopped = false
    let onStopped: (() => void) | undefined
    const spawnOne = () => {
      const [kernelEnd, agentEnd] = PeerCredentials.socketPair()
      const c = ChildProcess.spawn(argv[0]!, argv.slice(1), {
        stdio: ["ignore", "pipe", "pipe", agentEnd],
        cwd: workdir,
        env: { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: workdir, LANG: "C.UTF-8", AGENTOS_FD: "3", AGENTOS_NAME: `plain-${i}` }
      })
      PeerCredentials.closeFd(agentEnd)
      c.stdout!.resume()
      c.stderr!.resume()
      const socket = new Net.Socket({ fd: kernelEnd, readable: true, writable: true })
      socket.on("error", () => {})
      socket.once("data", () => {
        const at = hrnow()
        const w = waiter
        waiter = undefined
        w?.(at)
      })
      c.once("exit", () => {
        trace.ends.push(hrnow())
        socket.destroy()
        if (stopped) onStopped?.()
        else spawnOne()
      })
      child = c
    }
    const first = new Promise<bigint>((resolve) => (waiter = resolve))
    spawnOne()
    return {
      ready: first,
      loop: {
        crash: async () => {
          const hello = new Promise<bigint>((resolve) => (waiter = resolve))
          trace.ends.length = 0
          trace.spawns.length = 0
          const t0 = hrnow()
          killNow(child!.pid!)
          return sampleOf(t0, await hello)
        }
      } satisfies Loop,
      stop: () =>
        new Promise<void>((resolve) => {
          stopped = true
          onStopped = resolve
          if (child!.exitCode !== null || child!.signalCode !== null) resolve()
          else killNow(child!.pid!)
        })
    }
  }
  const members = Array.from({ length: n }, (_, i) => make(i))
  await Promise.all(members.map((m) => m.ready))
  return { loops: members.map((m) => m.loop), stop: async () => void (await Promise.all(members.map((m) => m.stop()))) }
}

/** The launcher-only loop: NodeLauncher.spawn with an agent's LaunchSpec, respawned on `ended`; no kernel, no supervisor. */
let launcherUid = 170000
const launcherGroup = async (kind: Kind, n: number, dir: string, cgroupParent: string): Promise<Group> => {
  const r = resolved(kind)
  const sandbox = program(kind).sandbox
  const make = (i: number) => {
    const uid = launcherUid++
    // As Agents' work directories: the agent passes through the parent as its own uid.
    Fs.mkdirSync(Path.join(dir, "launcher"), { recursive: true, mode: 0o711 })
    const workdir = Path.join(dir, "launcher", `l${uid}`)
    Fs.mkdirSync(workdir, { mode: 0o700 })
    Fs.chownSync(workdir, uid, uid)
    let count = 0
    // What Agents.toLaunchSpec builds for this agent.
    const spec = (): LaunchSpec.LaunchSpec => LaunchSpec.make(r.argv, {
      env: { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: workdir, LANG: "C.UTF-8", AGENTOS_FD: "3", AGENTOS_NAME: `launcher-${i}` },
      cwd: workdir,
      hostname: `launcher-${i}`,
      uid,
      gid: uid,
      cgroup: `${cgroupParent}/l${uid}-${count++}`,
      memoryMax: AgentSpec.parseSize(sandbox.memory)!,
      pidsMax: sandbox.pids,
      readOnly: r.readOnly,
      workdir
    })
    let current: Launched | undefined
    let waiter: ((at: bigint) => void) | undefined
    let stopped = false
    let onStopped: (() => void) | undefined
    let failWaiter: ((e: unknown) => void) | undefined
    const spawnOne = async () => {
      const [kernelEnd, agentEnd] = PeerCredentials.socketPair()
      const socket = new Net.Socket({ fd: kernelEnd, readable: true, writable: true })
      socket.on("error", () => {})
      socket.once("data", () => {
        const at = hrnow()
        const w = waiter
        waiter = undefined
        w?.(at)
      })
      const scope = Effect.runSync(Scope.make())
      const launched = await Effect.runPromise(
        Effect.gen(function* () {
          const { spawn } = yield* Launcher
          return yield* spawn(spec(), agentEnd)
        }).pipe(Scope.provide(scope), Effect.provide(NodeLauncher.layer), Effect.ensuring(Effect.sync(() => PeerCredentials.closeFd(agentEnd))))
      )
      current = launched
      void Effect.runPromise(launched.ended).then(async () => {
        // Respawn first: the old launcher's exit (its cgroup removal) is off the restart path.
        if (!stopped) void spawnOne().catch((e) => failWaiter?.(e))
        await Effect.runPromise(Scope.close(scope, Exit.void))
        socket.destroy()
        if (stopped) onStopped?.()
      })
    }
    const first = new Promise<bigint>((resolve, reject) => {
      waiter = resolve
      failWaiter = reject
    })
    void spawnOne().catch((e) => failWaiter?.(e))
    return {
      ready: first,
      loop: {
        crash: async () => {
          // The HELLO can come before `started` has been handed back: wait for the pid.
          while (current === undefined) await sleep(1)
          const hello = new Promise<bigint>((resolve, reject) => {
            waiter = resolve
            failWaiter = reject
          })
          const pid = current.pid
          current = undefined
          trace.ends.length = 0
          trace.spawns.length = 0
          const t0 = hrnow()
          killNow(pid)
          return sampleOf(t0, await hello)
        }
      } satisfies Loop,
      stop: async () => {
        while (current === undefined) await sleep(1)
        await new Promise<void>((resolve) => {
          stopped = true
          onStopped = resolve
          killNow(current!.pid)
        })
      }
    }
  }
  const members = Array.from({ length: n }, (_, i) => make(i))
  await Promise.all(members.map((m) => m.ready))
  return { loops: members.map((m) => m.loop), stop: async () => void (await Promise.all(members.map((m) => m.stop()))) }
}

/** The supervised loop: n agents of a one_for_one tree under PID 1; the kernel restarts them. */
let treeCount = 0
const supervisedGroup = async (kernel: BenchKernel, kind: Kind, n: number): Promise<Group> => {
  const tree = `t${treeCount++}`
  const names = Array.from({ length: n }, (_, i) => `${tree}-${kind}-${i}`)
  const p = program(kind)
  const ready = names.map(nextHello)
  await bootTree(kernel, tree, names.map((name) => agent(name, { run: p.run, args: p.args, sandbox: p.sandbox })))
  await Promise.all(ready)
  const pidOf = async (name: string) => {
    for (;;) {
      const found = kernel.agents.list().find((a) => a.name === name && a.status === "running" && a.pid !== null)
      if (found !== undefined) return found.pid!
      await sleep(1)
    }
  }
  return {
    loops: names.map((name): Loop => ({
      crash: async () => {
        const pid = await pidOf(name)
        const hello = nextHello(name)
        trace.ends.length = 0
        trace.spawns.length = 0
        const t0 = hrnow()
        killNow(pid)
        return sampleOf(t0, await hello)
      }
    })),
    stop: () => stopTree(kernel, tree)
  }
}

// ---------------------------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------------------------

const quantile = (xs: ReadonlyArray<number>, q: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(s.length * q))] ?? Number.NaN
}
const stats = (xs: ReadonlyArray<number>) => ({
  n: xs.length,
  p50: quantile(xs, 0.5),
  p99: quantile(xs, 0.99),
  mean: xs.reduce((a, b) => a + b, 0) / xs.length,
  min: xs.length === 0 ? Number.NaN : Math.min(...xs)
})
const f2 = (n: number) => n.toFixed(2).padStart(8)
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`

const makeGroup = (path: Path_, kernel: BenchKernel, kind: Kind, n: number, dir: string) =>
  path === "plain"
    ? plainGroup(kind, n, Path.join(dir, "plain"))
    : path === "launcher"
      ? launcherGroup(kind, n, dir, `agentos/${kernel.kernelId}-lo`)
      : supervisedGroup(kernel, kind, n)

const latency = async (kernel: BenchKernel, kind: Kind, dir: string) => {
  const samples: Record<Path_, Array<Sample>> = { plain: [], launcher: [], supervised: [] }
  const roundP50s: Record<Path_, Array<number>> = { plain: [], launcher: [], supervised: [] }
  const perRound = Math.ceil(sizes.samples / sizes.rounds)
  for (let round = 0; round < sizes.rounds; round++) {
    for (const path of paths) {
      const group = await makeGroup(path, kernel, kind, 1, dir)
      const loop = group.loops[0]!
      const taken: Array<Sample> = []
      for (let i = 0; i < sizes.warmup + perRound; i++) {
        await sleep(sizes.settleMs)
        const sample = await loop.crash()
        if (i >= sizes.warmup) taken.push(sample)
      }
      await group.stop()
      samples[path].push(...taken)
      roundP50s[path].push(quantile(taken.map((x) => x.total), 0.5))
    }
  }
  // How far one path's p50 moves from round to round: end-to-end differences smaller than this are noise.
  const noise = Math.max(0, ...paths.map((p) => Math.max(...roundP50s[p]) - Math.min(...roundP50s[p])))
  const of = (path: Path_) => ({
    total: stats(samples[path].map((x) => x.total)),
    killToEnd: stats(samples[path].map((x) => x.killToEnd)),
    endToSpawn: stats(samples[path].map((x) => x.endToSpawn)),
    spawnToHello: stats(samples[path].map((x) => x.spawnToHello))
  })
  return { plain: of("plain"), launcher: of("launcher"), supervised: of("supervised"), roundP50s, noise }
}

const sustained = async (kernel: BenchKernel, kind: Kind, dir: string) => {
  const rates = {} as Record<Path_, number>
  for (const path of paths) {
    const group = await makeGroup(path, kernel, kind, sizes.concurrent, dir)
    let count = 0
    const t0 = hrnow()
    const deadline = Date.now() + sizes.sustainedMs
    await Promise.all(group.loops.map(async (loop) => {
      while (Date.now() < deadline) {
        await loop.crash()
        count++
      }
    }))
    rates[path] = count / (msSince(t0, hrnow()) / 1000)
    await group.stop()
  }
  return rates
}

/** A process's start time (clock ticks since boot), so a recycled pid is not taken for it. */
const startTime = (pid: number): string | undefined => {
  try {
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]
  } catch {
    return undefined
  }
}

/** Directories below agentos/<prefix>* in every hierarchy. */
const cgroupsOf = (prefix: string) =>
  Cgroups.hierarchies().flatMap((h) => {
    const parent = Path.join(h.mountPoint, "agentos")
    let entries: Array<string>
    try {
      entries = Fs.readdirSync(parent).filter((e) => e.startsWith(prefix))
    } catch {
      return []
    }
    const found: Array<string> = []
    const walk = (dir: string) => {
      found.push(dir)
      for (const e of Fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(Path.join(dir, e.name))
    }
    for (const e of entries) walk(Path.join(parent, e))
    return found
  })

const bigTree = async (dir: string) => {
  const rssBefore = process.memoryUsage().rss
  const kernel = await startKernel(dir, "tree")
  const rssKernel = process.memoryUsage().rss
  const groups = Math.ceil(sizes.agents / sizes.perGroup)
  const p = program("sh")
  const names: Array<string> = []
  const children = Array.from({ length: groups }, (_, g) =>
    supervisor(`g${g}`, {
      intensity: { maxRestarts: 10, withinMs: 1000 },
      children: Array.from({ length: Math.min(sizes.perGroup, sizes.agents - g * sizes.perGroup) }, (_, i) => {
        const name = `fleet-${g}-${i}`
        names.push(name)
        return agent(name, { run: p.run, args: p.args, sandbox: p.sandbox })
      })
    }))
  let peakRss = rssKernel
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50)
  // The event loop's worst stall while the tree boots and stops.
  let worstStallMs = 0
  let last = hrnow()
  // Off while the benchmark itself walks /proc and the cgroup tree between the two phases.
  let measuring = true
  const ticker = setInterval(() => {
    const now = hrnow()
    if (measuring) worstStallMs = Math.max(worstStallMs, msSince(last, now) - 10)
    last = now
  }, 10)
  const allHello = Promise.all(names.map(nextHello))
  const t0 = hrnow()
  await bootTree(kernel, "fleet", children)
  const tBooted = hrnow()
  await allHello
  const tHello = hrnow()
  measuring = false
  await sleep(500)
  const running = kernel.agents.list().filter((a) => a.status === "running")
  const rssRunning = process.memoryUsage().rss
  const heapRunning = process.memoryUsage().heapUsed
  const processes = running
    .flatMap((a) => [["agent", a.name, a.pid ?? 0], ["init", a.name, a.launched?.init ?? 0], ["launcher", a.name, a.launched?.launcherPid ?? 0]] as const)
    .filter(([, , pid]) => pid > 0)
    .map(([role, name, pid]) => ({ role, name, pid, start: startTime(pid) }))
  const agentCgroups = cgroupsOf(kernel.kernelId).length
  last = hrnow()
  measuring = true
  const t1 = hrnow()
  await stopTree(kernel, "fleet")
  const tStopped = hrnow()
  await kernel.close()
  const tClosed = hrnow()
  measuring = false
  clearInterval(sampler)
  clearInterval(ticker)
  const exited = kernel.agents.list().filter((a) => a.status === "exited").length
  const left = processes.filter((p) => p.start !== undefined && startTime(p.pid) === p.start)
  for (const p of left) log(`  still alive after shutdown: ${p.role} of ${p.name}, pid ${p.pid}: ${Fs.readFileSync(`/proc/${p.pid}/cmdline`, "utf8").replaceAll("\0", " ")}`)
  // Reported above; ours, so ended here.
  for (const p of left) killNow(p.pid)
  const cgroupsLeft = cgroupsOf(kernel.kernelId)
  return {
    agents: sizes.agents,
    shape: `${groups} supervisor${groups === 1 ? "" : "s"} × ${Math.min(sizes.agents, sizes.perGroup)} sh agents under one root`,
    running: running.length,
    bootMs: msSince(t0, tBooted),
    allHelloMs: msSince(t0, tHello),
    rssBeforeKernel: rssBefore,
    rssIdleKernel: rssKernel,
    rssRunning,
    heapRunning,
    peakRss,
    agentCgroups,
    shutdownMs: msSince(t1, tStopped),
    kernelCloseMs: msSince(tStopped, tClosed),
    exitedAfter: exited,
    processesWatched: processes.length,
    processesLeft: left.length,
    cgroupsLeft: cgroupsLeft.length,
    worstStallMs
  }
}

// ---------------------------------------------------------------------------------------------
// Run
// ---------------------------------------------------------------------------------------------

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "agentos-bench-restart-"))
Fs.chmodSync(dir, 0o711)
Fs.mkdirSync(Path.join(dir, "plain"), { mode: 0o755 })

const main = async () => {
  const machine = { ...Report.machine(), memoryGiB: Math.round(Os.totalmem() / 2 ** 30) }
  log(`restart benchmark (Node ${machine.node}, ${machine.cores}× ${machine.cpu}, ${machine.memoryGiB} GiB, ${machine.os}, load ${machine.loadavg.join(" ")}${quick ? ", --quick" : ""})`)

  // The big tree first, on a fresh kernel in a fresh process: its RSS is the kernel's own.
  let tree: Awaited<ReturnType<typeof bigTree>> | undefined
  if (only !== "loops") {
    log(`\n${sizes.agents}-agent tree: ${sizes.agents} tiny sh agents (printf HELLO >&3; exec sleep), memory 16M, pids 8 each`)
    tree = await bigTree(dir)
    log(`  shape ${tree.shape}; ${tree.running} running, ${tree.agentCgroups} cgroup dirs of this kernel`)
    log(`  boot: supervision.boot returned after ${tree.bootMs.toFixed(0)} ms; every HELLO in after ${tree.allHelloMs.toFixed(0)} ms (${(tree.agents / (tree.allHelloMs / 1000)).toFixed(0)} agents/s)`)
    log(`  kernel RSS: ${mib(tree.rssRunning)} with ${tree.running} agents (peak ${mib(tree.peakRss)}; ${mib(tree.rssIdleKernel)} idle kernel, ${mib(tree.rssBeforeKernel)} before it; heap ${mib(tree.heapRunning)})`)
    log(`  shutdown: tree stopped in ${tree.shutdownMs.toFixed(0)} ms, kernel closed in ${tree.kernelCloseMs.toFixed(0)} ms; ${tree.exitedAfter} exited, ${tree.processesLeft} of ${tree.processesWatched} processes left, ${tree.cgroupsLeft} cgroup dirs left`)
    log(`  worst event-loop stall during boot and shutdown: ${tree.worstStallMs.toFixed(0)} ms`)
  }

  const kernel = await startKernel(dir, "loops")
  const results: Record<string, unknown> = {}
  const verdicts: Array<string> = []
  try {
    for (const kind of only === "tree" ? [] : kinds) {
      log(`\ncrash-to-restarted latency, ${kind} agent (${kind === "node" ? "bench/support/tinyAgent.ts: connect() from agentos/agent" : "sh -c 'printf <HELLO frame> >&3; exec sleep infinity'"}), ${sizes.samples} restarts per path, ${sizes.rounds} interleaved rounds`)
      const lat = await latency(kernel, kind, dir)
      const row = (name: string, s: Awaited<ReturnType<typeof latency>>["plain"]) =>
        log(`  ${name.padEnd(42)} p50 ${f2(s.total.p50)} ms  p99 ${f2(s.total.p99)} ms  mean ${f2(s.total.mean)} ms  min ${f2(s.total.min)} ms`)
      row("plain respawn loop (child_process.spawn)", lat.plain)
      row("launcher-only loop (NodeLauncher.spawn)", lat.launcher)
      row("supervised (kernel, tree under PID 1)", lat.supervised)
      const overPlain = lat.supervised.total.p50 - lat.plain.total.p50
      const sandbox = lat.launcher.total.p50 - lat.plain.total.p50
      const supervisorEndToEnd = lat.supervised.total.p50 - lat.launcher.total.p50
      log(`  end to end, p50: supervised − plain ${overPlain.toFixed(2)} ms = launcher/sandbox ${sandbox.toFixed(2)} ms + supervisor/kernel ${supervisorEndToEnd.toFixed(2)} ms`)
      log(`  round-to-round spread of a path's p50: ${lat.noise.toFixed(2)} ms (${paths.map((p) => `${p} ${lat.roundP50s[p].map((x) => x.toFixed(1)).join("/")}`).join(", ")})`)
      log(`  steps, p50 (p99) ms:                      kill → end known     end known → spawned   spawned → HELLO`)
      for (const path of paths) {
        const s = lat[path]
        const cell = (x: ReturnType<typeof stats>) => `${x.p50.toFixed(2).padStart(8)} (${x.p99.toFixed(2).padStart(6)})`
        log(`    ${path.padEnd(40)} ${cell(s.killToEnd)}    ${cell(s.endToSpawn)}     ${cell(s.spawnToHello)}`)
      }
      // The supervisor's and kernel's own work on the restart path, measured directly: from the
      // moment the kernel learns of the end to the replacement's spawn, over the launcher-only loop's.
      const supervisorOwn = lat.supervised.endToSpawn.p50 - lat.launcher.endToSpawn.p50
      log(`  supervisor/kernel reaction (end known → replacement spawned), supervised − launcher-only, p50: ${supervisorOwn.toFixed(2)} ms`)
      log(`  sustained restarts/s (${sizes.concurrent} children crash-looping, ${sizes.sustainedMs / 1000} s each):`)
      const rates = await sustained(kernel, kind, dir)
      log(`    ${paths.map((p) => `${p} ${rates[p].toFixed(1)}/s`).join("   ")}`)
      results[kind] = { latencyMs: lat, overheadMs: { overPlain, sandbox, supervisorEndToEnd, supervisorReaction: supervisorOwn }, restartsPerSecond: rates }
      // End to end, a p50 difference is only a figure when the paths' own round-to-round spread
      // is below it; the direct measurement of the supervisor's step has no such noise.
      const judged = lat.noise < GOAL_OVERHEAD_MS
      verdicts.push(`supervisor overhead per restart ≤ ${GOAL_OVERHEAD_MS} ms (${kind} agent): supervisor/kernel step ${supervisorOwn.toFixed(2)} ms p50: ${supervisorOwn <= GOAL_OVERHEAD_MS ? "met" : "MISSED"}; ` +
        `end to end supervised − launcher-only ${supervisorEndToEnd.toFixed(2)} ms (${judged ? (supervisorEndToEnd <= GOAL_OVERHEAD_MS ? "met" : "MISSED") : `within noise: p50s move ${lat.noise.toFixed(1)} ms between rounds`}); ` +
        `supervised − plain ${overPlain.toFixed(2)} ms, the sandbox's launch included`)
    }
  } finally {
    await kernel.close()
  }
  if (tree !== undefined) {
    const clean = tree.running === tree.agents && tree.exitedAfter === tree.agents && tree.processesLeft === 0 && tree.cgroupsLeft === 0
    const rssMet = tree.peakRss < GOAL_RSS_BYTES
    verdicts.push(`${tree.agents} agents booted and shut down cleanly: ${clean ? "met" : "MISSED"} (${tree.running} ran, ${tree.exitedAfter} exited, ${tree.processesLeft} processes and ${tree.cgroupsLeft} cgroups left)`)
    verdicts.push(`kernel RSS < 300 MB (read as MiB) with ${tree.agents} agents, peak while booting and stopping: ${mib(tree.peakRss)} (${mb(tree.peakRss)}): ${rssMet ? "met" : "MISSED"}; ` +
      `running: ${mib(tree.rssRunning)} (${mb(tree.rssRunning)}); the kernel's code alone: ${mib(tree.rssBeforeKernel)}`)
  }
  if (json) {
    console.log(JSON.stringify({ machine, sizes, tree, ...results, verdicts, hellos }, null, 2))
  } else {
    log("")
    for (const v of verdicts) log(`goal: ${v}`)
  }
}

try {
  await main()
} catch (e) {
  process.stderr.write(`restart: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`)
  process.exitCode = 1
} finally {
  // The kernels remove their own cgroup parents; the launcher-only loops' parent is ours.
  for (const cgroup of cgroupsOf(`kb${process.pid.toString(36)}`).reverse()) {
    try {
      Fs.rmdirSync(cgroup)
    } catch {}
  }
  Fs.rmSync(dir, { recursive: true, force: true })
}
