/**
 * The kernel's agents: the process table and the operations on it. SPAWN resolves an agent's
 * spec into a LaunchSpec, gives it a uid from the range, a private work directory and fd 3 (a
 * socketpair whose kernel end is served like any connection, carrying the agent's identity and
 * caps), and launches it; its end is classified, published and kept for WAIT and STAT. Each
 * incarnation's resources live in its own scope; the kernel's shutdown stops them all.
 */
import { Clock, Context, Deferred, Effect, Exit, Layer, Option, Scope } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import * as Cgroups from "../sandbox/Cgroups.ts"
import * as DataLimit from "../sandbox/DataLimit.ts"
import * as ExitReason from "../sandbox/ExitReason.ts"
import * as Isolation from "../sandbox/Isolation.ts"
import { Launcher, type Launched } from "../sandbox/Launcher.ts"
import * as LaunchSpec from "../sandbox/LaunchSpec.ts"
import type { LogEntry } from "../protocol/LogEntry.ts"
import type * as Rows from "../protocol/Rows.ts"
import type { Ended } from "../sandbox/LaunchStatus.ts"
import { chooseRange, parseSubordinate, UidRange } from "../sandbox/UidRange.ts"
import { AgentConnections } from "./AgentConnections.ts"
import { AgentOutput } from "./AgentOutput.ts"
import * as AgentSpec from "./AgentSpec.ts"
import { isAlive, type Status } from "./AgentStatus.ts"
import * as Capabilities from "./Capabilities.ts"
import { Events } from "./Events.ts"
import { type AgentDefaults, KernelConfig } from "./KernelConfig.ts"
import * as KernelError from "./KernelError.ts"
import * as PeerCredentials from "../sandbox/PeerCredentials.ts"

/** Lines a runtime writes when an allocation under its data limit (RLIMIT_DATA) fails. */
const OUT_OF_DATA = /\bMemoryError\b|Array buffer allocation failed|RangeError: Failed to allocate memory|ERR_MEMORY_ALLOCATION_FAILED|# Fatal process out of memory|Allocation failed - process out of memory/

export type { Status } from "./AgentStatus.ts"


/** One agent of the process table. @category models */
export interface Agent {
  readonly id: string
  readonly name: string
  readonly spec: AgentSpec.SpawnArgs
  readonly parent: string | null
  status: Status
  pid: number | null
  uid: number | null
  gid: number | null
  restarts: number
  startedAt: number
  endedAt: number | null
  reason: ExitReason.ExitReason | null
  final: Ended | null
  launched: Launched | null
  requestedSignal: number | undefined
  /** When it last sent HEARTBEAT (the watchdog's input). */
  lastHeartbeat: number | null
  /** Its limits: its spec's, else the kernel's defaults for agents that name none. */
  readonly limits: Limits
  /**
   * What this incarnation said on stderr of a refused allocation, under the launcher's memory
   * watchdog (which sets V8's heap limit and RLIMIT_DATA from its memory limit).
   */
  outOfMemory: "heap" | "rlimit" | undefined
  readonly ended: Deferred.Deferred<ExitReason.ExitReason>
}

/** An agent's effective limits. @category models */
export interface Limits {
  readonly memoryBytes: number | undefined
  readonly cpu: number | undefined
  readonly pids: number | undefined
}

/** Its spec's limits, else the kernel's defaults for agents that name none. @category constructors */
export const limitsOf = (spec: AgentSpec.SpawnArgs, defaults: AgentDefaults): Limits => {
  const memory = spec.sandbox?.memory
  return {
    memoryBytes: memory === undefined ? defaults.memoryBytes : AgentSpec.parseSize(memory),
    cpu: spec.sandbox?.cpu ?? defaults.cpu,
    pids: spec.sandbox?.pids ?? defaults.pids
  }
}

/**
 * An agent's live figures while it runs: its cgroups', and for what no cgroup holds, what its
 * launcher reports (`usage` records: the watchdog's memory, CPU and tasks) and its spec's limits.
 * @category constructors
 */
export const live = (agent: Agent): Cgroups.Stats | undefined => {
  const launched = agent.launched
  if (launched === null || agent.final !== null || agent.status === "exited" || agent.status === "failed") return undefined
  const c = Cgroups.read(launched.cgroups)
  const usage = launched.usage()
  // Neither a cgroup nor the watchdog: the agent's own process, as ps shows it.
  const own = c.memoryBytes === null || c.cpuUsageUs === null ? processFigures(launched.pid) : undefined
  const byWatchdog = launched.isolation.memory === "watchdog"
  const limit = agent.limits.memoryBytes
  return {
    memoryBytes: c.memoryBytes ?? (byWatchdog ? usage?.memoryBytes ?? null : own?.rssBytes ?? null),
    memoryPeakBytes: c.memoryPeakBytes,
    memoryLimitBytes: c.memoryLimitBytes ?? (byWatchdog ? limit ?? null : null),
    cpuUsageUs: c.cpuUsageUs ?? usage?.cpuUs ?? own?.cpuUs ?? null,
    cpuThrottledUs: c.cpuThrottledUs ?? (launched.isolation.cpu === "throttle" ? usage?.throttledUs ?? 0 : null),
    nrThrottled: c.nrThrottled ?? (launched.isolation.cpu === "throttle" ? usage?.nrThrottled ?? 0 : null),
    pidsCurrent: c.pidsCurrent ?? (launched.isolation.pids === "rlimit" ? usage?.tasks ?? null : null),
    pidsLimit: c.pidsLimit ?? (launched.isolation.pids === "rlimit" ? agent.limits.pids ?? null : null),
    // Without a cgroup nothing counts the refused forks: that the limit was reached is all there is.
    pidsLimitHits: c.pidsLimitHits ?? (launched.isolation.pids === "rlimit" ? (usage?.pidsLimit === true ? 1 : 0) : null),
    oomKills: c.oomKills
  }
}

/** An agent's LIST row, without its mailbox (the router's; kernel/syscalls/List.ts adds it). @category constructors */
export const row = (agent: Agent, now: number): Rows.AgentRow => {
  const stats = live(agent)
  return {
    id: agent.id,
    name: agent.name,
    pid: agent.pid,
    status: agent.status,
    restarts: agent.restarts,
    parent: agent.parent,
    uptimeMs: agent.endedAt === null ? now - agent.startedAt : agent.endedAt - agent.startedAt,
    memoryBytes: stats?.memoryBytes ?? null,
    // Its memory limit (null when unlimited, or once it has ended): `agentos top`'s MEM/LIMIT.
    memoryLimitBytes: stats?.memoryLimitBytes ?? null,
    cpuUs: stats?.cpuUsageUs ?? agent.final?.cpuUs ?? null,
    reason: agent.reason === null ? null : ExitReason.describe(agent.reason)
  }
}

/** How an agent is spawned, beyond its spec. @category models */
export interface SpawnOptions {
  /** The supervisor (path) or agent (name) it belongs to. */
  readonly parent?: string
  /** Where a relative `run` is found (a tree file's directory). */
  readonly baseDir?: string
  /** Its supervisor's restart count, shown by LIST. */
  readonly restarts?: number
}

/** The process table and its operations. @category services */
export class Agents extends Context.Service<Agents, {
  readonly spawn: (args: AgentSpec.SpawnArgs, options?: SpawnOptions) =>
    Effect.Effect<Agent, KernelError.KernelError>
  readonly find: (target: string) => Effect.Effect<Agent, KernelError.NotFound>
  /** The newest agent of a name (its current or last incarnation), at once. */
  readonly byName: (name: string) => Agent | undefined
  /** A line an agent produced: into its name's log (AgentOutput, which logs/AgentLogs implements and publishes on Events' output stream). */
  readonly output: (agent: Agent, stream: LogEntry["stream"], line: string, time: number) => void
  readonly kill: (target: string, signal?: number) => Effect.Effect<Agent, KernelError.KernelError>
  readonly wait: (target: string, timeoutMs?: number) => Effect.Effect<ExitReason.ExitReason, KernelError.KernelError>
  readonly list: () => ReadonlyArray<Agent>
  /** What this machine gives agents (learnt at start), for boot and doctor. */
  readonly isolation: Isolation.Machine
  /** The live agent whose sandbox `pid` runs in (a descendant of its launcher), if any. */
  readonly sandboxOf: (pid: number) => Agent | undefined
}>()("agentos/process/Agents") {
  /** @category layers */
  static readonly layer = Layer.effect(Agents, Effect.gen(function* () {
    const config = yield* KernelConfig
    const launcher = yield* Launcher
    const connections = yield* AgentConnections
    const events = yield* Events
    const logs = yield* AgentOutput
    const machine = yield* Isolation.Isolation
    // Whose ids the launcher needs is this process's fact; what to contain agents with, the machine's.
    const asRoot = (process.getuid?.() ?? 0) === 0
    // Agents' own host ids: as root, the kernel's range, checked against every user's
    // subordinate ids; without root, the user's own /etc/subuid range when it can be mapped.
    const range = asRoot ? chooseRootRange(config) : "problem" in machine.subordinate ? undefined : subordinatePool(machine.subordinate)
    if (typeof range === "string") return yield* new KernelError.InvalidArgument({ message: range, field: "uidRange" })
    const uids = range === undefined ? undefined : new UidRange(range.first, range.last)
    const gidOf = (uid: number) => asRoot || "problem" in machine.subordinate ? uid : machine.subordinate.gids.first + (uid - machine.subordinate.uids.first)
    const table = new Map<string, Agent>()
    // An agent keeps its uid across restarts (its work directory's files stay its own), as a
    // systemd unit keeps its DynamicUser while the name is in use.
    const uidOfName = new Map<string, number>()
    let nextId = 1
    const cgroupRoots = machine.cgroups.kind === "delegated" ? machine.cgroups.roots : undefined
    Cgroups.removeStale(config.kernelId, { roots: cgroupRoots })
    // Registered before the agents' scope, so it runs after every agent has stopped: the
    // kernel's own cgroup parents (agentos/<kernel-id>) go last.
    yield* Effect.addFinalizer(() => Effect.sync(() => Cgroups.removeStale(config.kernelId, { roots: cgroupRoots })))
    // Incarnations stop in parallel at shutdown; each one's scope stops its sandbox.
    const agentsScope = yield* Scope.fork(yield* Scope.Scope, "parallel")

    // The newest agent of each name: SEND looks names up on every message.
    const named = new Map<string, Agent>()
    const byName = (name: string) => named.get(name)
    const find = (target: string) =>
      Effect.suspend(() => {
        const agent = table.get(target) ?? byName(target)
        return agent === undefined
          ? Effect.fail(new KernelError.NotFound({ message: `no agent named or numbered ${JSON.stringify(target)}` }))
          : Effect.succeed(agent)
      })

    const workdirFor = (name: string, uid: number | null, walksRealPath: boolean) => {
      // In namespaces the launcher binds the workdir before the sandbox takes the agent's
      // identity, so the state directory may stay private (0700). Without them (Landlock, or
      // unisolated) an agent of another uid walks the real path: every directory from the state
      // directory down must then let others pass (0711: pass, not list).
      const kernelDir = Path.join(config.stateDir, config.kernelId)
      Fs.mkdirSync(kernelDir, { recursive: true, mode: 0o711 })
      if (walksRealPath && uid !== null && uid !== process.getuid?.()) {
        for (let dir = kernelDir; dir !== Path.dirname(dir) && dir.startsWith(config.stateDir); dir = Path.dirname(dir)) {
          Fs.chmodSync(dir, Fs.statSync(dir).mode | 0o111)
        }
      }
      const dir = Path.join(kernelDir, name)
      Fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
      // As root the kernel gives it to the agent's uid; without root the launcher does, from
      // inside the agent's user namespace (a subordinate uid is not the user's to chown to).
      if (uid !== null && asRoot) Fs.chownSync(dir, uid, uid)
      return dir
    }

    // What a Node runtime holds before it runs (DataLimit): measured once, when first needed.
    // (Its stderr, when an allocation under that data limit fails: OUT_OF_DATA.)
    let nodeBaseline: DataLimit.Baseline | undefined
    const nodeData = () => (nodeBaseline ??= DataLimit.measureNode(process.execPath))
    const nodePath = Fs.realpathSync(process.execPath)

    const modeOf = (sandbox: AgentSpec.Sandbox): Isolation.Mode | "none" =>
      sandbox.isolate === false ? "none" : sandbox.namespaces === false ? "landlock" : Isolation.defaultMode(machine)

    const toLaunchSpec = (agent: Agent, resolved: AgentSpec.Resolved, workdir: string): LaunchSpec.LaunchSpec => {
      const sandbox = agent.spec.sandbox ?? {}
      const mode = modeOf(sandbox)
      const namespaces = mode === "namespaces"
      // An unisolated agent (a trusted tool): no namespaces and no Landlock, still its cgroup.
      const contained = Isolation.containment(machine, mode === "none" ? "unisolated" : mode, `${config.kernelId}/${agent.name}-${agent.id}`)
      const landlock = contained.landlock === true
      const socketDir = Path.dirname(config.socketPath)
      const readOnly = [...new Set([...resolved.readOnly, ...(sandbox.readOnly ?? [])])]
      const readWrite = sandbox.readWrite ?? []
      // A granted path must not reveal the kernel's socket: hide its directory under a tmpfs.
      const covers = (p: string) => socketDir === p || socketDir.startsWith(`${p}/`)
      const tmpfs = namespaces && [...readOnly, ...readWrite].some(covers) ? [socketDir] : []
      // Inside a mount namespace the workdir is at a neutral path, not under a home.
      const under = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`)
      const neutral = namespaces && ![...readOnly, ...readWrite].some((p) => under(p, AGENT_DIR) || under(AGENT_DIR, p))
      const inside = neutral ? AGENT_DIR : workdir
      const { memoryBytes: memory, cpu, pids } = agent.limits
      const tmpSize = sandbox.tmpSize === undefined ? undefined : AgentSpec.parseSize(sandbox.tmpSize)
      const cgroup = contained.cgroup !== undefined
      // Without a memory cgroup the launcher's watchdog holds the limit, with RLIMIT_DATA as the
      // backstop against a burst between two looks (DataLimit) and, for Node, V8's heap limit at
      // 3/4 of it, so a heap hog ends with V8's own "heap out of memory" rather than a failed mmap.
      const watchdog = memory !== undefined && !(cgroup && machine.cgroups.controllers.includes("memory"))
      const isNode = resolved.argv[0] === nodePath
      const argv = watchdog && isNode
        ? [resolved.argv[0]!, `--max-old-space-size=${Math.max(16, Math.floor((memory * 0.75) / (1024 * 1024)))}`, ...resolved.argv.slice(1)]
        : resolved.argv
      const data = watchdog ? DataLimit.forLimit(memory, isNode ? nodeData() : DataLimit.none) : undefined
      return {
        argv,
        env: {
          PATH: "/usr/local/bin:/usr/bin:/bin",
          HOME: inside,
          LANG: "C.UTF-8",
          // Landlock leaves the host's /tmp out of reach: temporary files go to the workdir.
          ...(landlock ? { TMPDIR: workdir } : {}),
          ...agent.spec.env,
          AGENTOS_FD: "3",
          AGENTOS_NAME: agent.name,
          AGENTOS_ID: agent.id,
          AGENTOS_KERNEL: config.kernelId
        },
        cwd: agent.spec.cwd ?? inside,
        hostname: agent.name,
        ...(agent.uid === null ? {} : { uid: agent.uid, gid: agent.gid ?? agent.uid }),
        ...(contained.cgroup === undefined ? {} : { cgroup: contained.cgroup }),
        ...(contained.cgroupRoots === undefined ? {} : { cgroupRoots: contained.cgroupRoots }),
        ...(memory === undefined ? {} : { memoryMax: memory }),
        ...(cpu === undefined ? {} : { cpuMax: { quotaUs: Math.max(1000, Math.round(cpu * 100_000)), periodUs: 100_000 } }),
        ...(pids === undefined ? {} : { pidsMax: pids }),
        namespaces: contained.namespaces,
        readOnly,
        readWrite,
        workdir,
        ...(neutral ? { workdirAt: AGENT_DIR } : {}),
        tmpfs,
        ...(tmpSize === undefined ? {} : { tmpSizeBytes: tmpSize }),
        // An unisolated agent (a trusted tool) has the host's network unless its spec says otherwise.
        network: sandbox.network ?? (mode === "none" ? "host" : "none"),
        seccomp: sandbox.seccomp ?? "default",
        ...(landlock ? { landlock } : {}),
        rlimits: {
          core: 0,
          ...(sandbox.maxOpenFiles === undefined ? {} : { nofile: sandbox.maxOpenFiles }),
          ...(data === undefined ? {} : { data })
        },
        ...(sandbox.killTimeoutMs === undefined ? {} : { killTimeoutMs: sandbox.killTimeoutMs })
      }
    }

    /**
     * Refuses a sandboxed agent whose sandbox would miss a property here, naming it and what
     * would give it, unless the kernel runs with `isolation: weak`.
     */
    const refusal = (args: AgentSpec.SpawnArgs): KernelError.NotSupported | undefined => {
      const mode = modeOf(args.sandbox ?? {})
      if (mode === "none" || config.isolation === "weak") return undefined
      const gaps = Isolation.missing(machine, mode)
      if (gaps.length === 0) return undefined
      return new KernelError.NotSupported({
        message: `spawn ${args.name}: its sandbox would miss ${gaps.map((g) => `${g.name} (${g.mechanism}; ${g.note ?? ""})`).join(", ")} on this machine; ` +
          "start the kernel with --isolation=weak to run sandboxed agents without it"
      })
    }

    // Launchers of live incarnations: a peer whose ancestry reaches one runs inside a sandbox.
    const launchers = new Map<number, Agent>()
    const sandboxOf = (pid: number): Agent | undefined => {
      for (let p = pid, hops = 0; p > 1 && hops < 4096; hops++) {
        const agent = launchers.get(p)
        if (agent !== undefined) return agent
        const parent = parentOf(p)
        if (parent === undefined) return undefined
        p = parent
      }
      return undefined
    }

    /** What happens when an incarnation ends: classify, record, publish, release. */
    const onEnded = (agent: Agent, scope: Scope.Closeable, ended: Ended) =>
      Effect.gen(function* () {
        const reason = ExitReason.fromEnded(ended, agent.requestedSignal, agent.outOfMemory)
        if (agent.launched !== null) launchers.delete(agent.launched.launcherPid)
        agent.status = "exited"
        agent.reason = reason
        agent.final = ended
        agent.endedAt = yield* Clock.currentTimeMillis
        if (agent.uid !== null) uids?.release(agent.uid)
        const wait = ExitReason.toWaitResult(reason)
        yield* events.publish({
          type: "agentos.agent.exited",
          id: agent.id,
          name: agent.name,
          pid: agent.pid ?? 0,
          reason: wait.reason,
          code: wait.code,
          signal: wait.signal,
          description: ExitReason.describe(reason),
          time: agent.endedAt
        })
        // WAIT answers once the sandbox is gone: the launcher has removed its cgroups and exited.
        yield* Scope.close(scope, Exit.void)
        yield* Deferred.succeed(agent.ended, reason)
      })

    // Returns the log's verdict: 0 when kept, else when the name's rate limit takes lines again.
    const output = (agent: Agent, stream: LogEntry["stream"], line: string, time: number) =>
      logs.append({ time, name: agent.name, id: agent.id, incarnation: agent.restarts, stream, line })

    const spawn = Effect.fn("Agents.spawn")(function* (args: AgentSpec.SpawnArgs, options: SpawnOptions = {}) {
      const existing = byName(args.name)
      if (existing !== undefined && isAlive(existing.status)) {
        return yield* new KernelError.AlreadyExists({ message: `spawn ${args.name}: an agent of that name is ${existing.status} (${existing.id})` })
      }
      const resolved = AgentSpec.resolveRun(args.run, args.args ?? [], args.cwd ?? options.baseDir ?? process.cwd())
      if (typeof resolved === "string") return yield* new KernelError.NotFound({ message: `spawn ${args.name}: ${resolved}` })
      const refused = refusal(args)
      if (refused !== undefined) return yield* refused
      // A host uid of its own: as root always; without root from the user's subordinate
      // range, for an agent in namespaces (without them it can only be the kernel's own).
      const ownIds = uids !== undefined && (asRoot || modeOf(args.sandbox ?? {}) === "namespaces")
      const uid = ownIds ? uids.allocate(uidOfName.get(args.name)) ?? null : null
      if (uid !== null) uidOfName.set(args.name, uid)
      if (ownIds && uid === null) {
        return yield* new KernelError.TryAgain({ message: `spawn ${args.name}: every uid of ${uids.first}–${uids.last} is in use` })
      }
      if (existing !== undefined) table.delete(existing.id)
      const agent: Agent = {
        id: `a${nextId++}`,
        name: args.name,
        spec: args,
        parent: options.parent ?? args.parent ?? null,
        status: "starting",
        pid: null,
        uid,
        gid: uid === null ? null : gidOf(uid),
        limits: limitsOf(args, config.agentDefaults),
        restarts: options.restarts ?? 0,
        startedAt: yield* Clock.currentTimeMillis,
        endedAt: null,
        reason: null,
        final: null,
        launched: null,
        requestedSignal: undefined,
        lastHeartbeat: null,
        outOfMemory: undefined,
        ended: yield* Deferred.make<ExitReason.ExitReason>()
      }
      table.set(agent.id, agent)
      named.set(agent.name, agent)
      const scope = yield* Scope.fork(agentsScope, "sequential")
      const failed = (step: string, message: string) =>
        Effect.gen(function* () {
          agent.status = "failed"
          agent.reason = { _tag: "failed_to_start", step, message }
          agent.endedAt = yield* Clock.currentTimeMillis
          if (uid !== null) uids?.release(uid)
          yield* events.publish({ type: "agentos.agent.failed", id: agent.id, name: agent.name, step, message, time: agent.endedAt })
          yield* Deferred.succeed(agent.ended, agent.reason)
          yield* Scope.close(scope, Exit.void)
        })

      const launched = yield* Effect.gen(function* () {
        const workdir = yield* Effect.try({
          try: () => workdirFor(agent.name, uid, modeOf(args.sandbox ?? {}) !== "namespaces"),
          catch: (e) => new KernelError.Busy({ message: `spawn ${args.name}: creating its work directory: ${(e as Error).message}` })
        })
        const spec = toLaunchSpec(agent, resolved, workdir)
        const [kernelEnd, agentEnd] = PeerCredentials.socketPair()
        // The agent's fd 3 lives in the launcher from here on; our copy closes either way.
        yield* Effect.addFinalizer(() => Effect.sync(() => PeerCredentials.closeFd(agentEnd)).pipe(Effect.ignore))
        const socket = new Net.Socket({ fd: kernelEnd, readable: true, writable: true })
        yield* Scope.addFinalizer(scope, Effect.sync(() => socket.destroy()))
        yield* connections.serve({
          socket,
          // SO_PEERCRED names the pair's creator; the identity is who the kernel gave it to.
          peer: { pid: 0, uid: uid ?? process.getuid?.() ?? 0, gid: agent.gid ?? process.getgid?.() ?? 0 },
          agent: { id: agent.id, name: agent.name, caps: Capabilities.grant(args.caps ?? []) }
        })
        return yield* launcher.spawn(spec, agentEnd).pipe(Scope.provide(scope))
      }).pipe(
        Effect.scoped,
        Effect.tapError((e) => failed(e._tag === "SpawnError" ? e.step ?? "launch" : "spawn", e.message))
      )

      agent.launched = launched
      agent.pid = launched.pid
      agent.status = "running"
      launchers.set(launched.launcherPid, agent)
      // The spawning fiber's clock, read from the launcher's callbacks (a TestClock reaches them).
      const clock = yield* Clock.Clock
      launched.onOutput((stream, line) => {
        const now = clock.currentTimeMillisUnsafe()
        if (stream === "stderr" && launched.isolation.memory === "watchdog") {
          // V8 at the heap limit it was given; V8 saying "heap out of memory" for a commit the
          // data limit refused ("Committing semi space failed") is the data limit's.
          if (line.includes("JavaScript heap out of memory")) agent.outOfMemory = /heap limit|CALL_AND_RETRY_LAST/.test(line) ? "heap" : "rlimit"
          // Python's MemoryError; Node's refused ArrayBuffer or Buffer; V8 itself refused
          // memory outside its heap ("# Fatal process out of memory: …", then SIGTRAP).
          else if (OUT_OF_DATA.test(line)) agent.outOfMemory ??= "rlimit"
        }
        const resumeAt = output(agent, stream, line, now)
        // Past its rate limit, the kernel stops reading the agent's pipes until the window
        // ends rather than reading (and dropping) as fast as it writes: a `yes` flood would
        // otherwise keep a core of the kernel splitting lines only to count them, and every
        // other client would wait behind it (bench/logs.ts measures both). The agent blocks on
        // a full pipe, which harms only itself; it is still killable, and its LOG and IPC are
        // not on these pipes.
        if (resumeAt > 0 && config.logs.pauseFlooding) launched.pauseOutput(resumeAt - now)
      })
      yield* events.publish({ type: "agentos.agent.started", id: agent.id, name: agent.name, pid: launched.pid, time: agent.startedAt })
      yield* launched.ended.pipe(
        Effect.flatMap((ended) => onEnded(agent, scope, ended)),
        Effect.forkIn(agentsScope)
      )
      return agent
    })

    const kill = Effect.fn("Agents.kill")(function* (target: string, signal?: number) {
      const agent = yield* find(target)
      const launched = agent.launched
      if (launched === null || (agent.status !== "running" && agent.status !== "stopping")) {
        return yield* new KernelError.NotFound({ message: `kill ${agent.name}: it is not running (${agent.status})` })
      }
      const sig = signal ?? 15
      // The first request is what was asked for: a SIGKILL that follows a SIGTERM at its
      // deadline does not turn an asked-for stop into a kill.
      agent.requestedSignal ??= sig
      if (sig === 15) {
        agent.status = "stopping"
        launched.stop()
      } else if (sig === 9) {
        agent.status = "stopping"
        launched.kill()
      } else {
        launched.signal(sig)
      }
      return agent
    })

    const wait = Effect.fn("Agents.wait")(function* (target: string, timeoutMs?: number) {
      const agent = yield* find(target)
      const result = timeoutMs === undefined
        ? Option.some(yield* Deferred.await(agent.ended))
        : yield* Deferred.await(agent.ended).pipe(Effect.timeoutOption(`${timeoutMs} millis`))
      if (Option.isNone(result)) {
        return yield* new KernelError.TimedOut({ message: `wait ${agent.name}: still ${agent.status} after ${timeoutMs} ms` })
      }
      return result.value
    })

    return Agents.of({ spawn, find, byName, output, kill, wait, list: () => [...table.values()], isolation: machine, sandboxOf })
  }))
}

/** Where an agent's workdir appears inside a mount namespace: a neutral path, nothing of a home in it. */
export const AGENT_DIR = "/agent"

/** A process's resident bytes and CPU time (its own and its waited-for children's), from /proc. */
const processFigures = (pid: number): { readonly rssBytes: number; readonly cpuUs: number } | undefined => {
  try {
    const rss = /^VmRSS:\s+(\d+) kB/m.exec(Fs.readFileSync(`/proc/${pid}/status`, "utf8"))
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    // utime stime cutime cstime: fields 14-17, in clock ticks (USER_HZ, 100 on Linux).
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0)
    return { rssBytes: Number(rss?.[1] ?? 0) * 1024, cpuUs: ticks * 10_000 }
  } catch {
    return undefined
  }
}

/** The parent of a process, from /proc/<pid>/stat (readable for every process). */
const parentOf = (pid: number): number | undefined => {
  try {
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
    return Number.isSafeInteger(ppid) ? ppid : undefined
  } catch {
    return undefined
  }
}

/** The root kernel's agents' uid range, clear of every user's subordinate ids; or why none. */
const chooseRootRange = (config: { readonly uidRange: { readonly first: number; readonly last: number }; readonly uidRangeExplicit: boolean }) => {
  const read = (path: string) => {
    try {
      return Fs.readFileSync(path, "utf8")
    } catch {
      return ""
    }
  }
  const taken = [...parseSubordinate(read("/etc/subuid")), ...parseSubordinate(read("/etc/subgid"))]
  return chooseRange(config.uidRange, taken, config.uidRangeExplicit)
}

/** The uids of the user's subordinate range usable for agents (as many as it has gids for). */
const subordinatePool = (ids: Isolation.SubordinateIds) => ({
  first: ids.uids.first,
  last: ids.uids.first + Math.min(ids.uids.count, ids.gids.count) - 1
})
