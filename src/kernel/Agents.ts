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
import * as ExitReason from "../sandbox/ExitReason.ts"
import { Launcher, type Launched } from "../sandbox/Launcher.ts"
import * as LaunchSpec from "../sandbox/LaunchSpec.ts"
import type { Ended } from "../sandbox/LaunchStatus.ts"
import { UidRange } from "../sandbox/UidRange.ts"
import { AgentLogs, type LogEntry } from "../observe/AgentLogs.ts"
import * as AgentSpec from "./AgentSpec.ts"
import * as Capabilities from "./Capabilities.ts"
import { Events } from "./Events.ts"
import type { Kernel } from "./Kernel.ts"
import { KernelConfig } from "./KernelConfig.ts"
import * as KernelError from "./KernelError.ts"
import * as PeerCredentials from "./PeerCredentials.ts"
import { Sessions } from "./Sessions.ts"

/** An agent's state as LIST shows it. @category models */
export type Status = "starting" | "running" | "stopping" | "exited" | "failed"


/** One agent of the process table. @category models */
export interface Agent {
  readonly id: string
  readonly name: string
  readonly spec: AgentSpec.SpawnArgs
  readonly parent: string | null
  status: Status
  pid: number | null
  uid: number | null
  restarts: number
  startedAt: number
  endedAt: number | null
  reason: ExitReason.ExitReason | null
  final: Ended | null
  launched: Launched | null
  requestedSignal: number | undefined
  /** When it last sent HEARTBEAT (the watchdog's input). */
  lastHeartbeat: number | null
  readonly ended: Deferred.Deferred<ExitReason.ExitReason>
}

/** A LIST row. @category models */
export const row = (agent: Agent, now: number) => {
  const stats = agent.launched !== null && agent.status !== "exited" && agent.status !== "failed"
    ? Cgroups.read(agent.launched.cgroups)
    : undefined
  return {
    id: agent.id,
    name: agent.name,
    pid: agent.pid,
    status: agent.status,
    restarts: agent.restarts,
    parent: agent.parent,
    uptimeMs: agent.endedAt === null ? now - agent.startedAt : agent.endedAt - agent.startedAt,
    memoryBytes: stats?.memoryBytes ?? null,
    // Its cgroup's memory.max (null when unlimited, or once it has ended): `agentos top`'s MEM/LIMIT.
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
    Effect.Effect<Agent, KernelError.KernelError, Kernel>
  readonly find: (target: string) => Effect.Effect<Agent, KernelError.NotFound>
  /** The newest agent of a name (its current or last incarnation), at once. */
  readonly byName: (name: string) => Agent | undefined
  /** A line an agent produced: into its name's log (AgentLogs), which publishes it on Events' output stream. */
  readonly output: (agent: Agent, stream: LogEntry["stream"], line: string, time: number) => void
  readonly kill: (target: string, signal?: number) => Effect.Effect<Agent, KernelError.KernelError>
  readonly wait: (target: string, timeoutMs?: number) => Effect.Effect<ExitReason.ExitReason, KernelError.KernelError>
  readonly list: () => ReadonlyArray<Agent>
}>()("agentos/kernel/Agents") {
  /** @category layers */
  static readonly layer = Layer.effect(Agents, Effect.gen(function* () {
    const config = yield* KernelConfig
    const launcher = yield* Launcher
    const sessions = yield* Sessions
    const events = yield* Events
    const logs = yield* AgentLogs
    const uids = new UidRange(config.uidRange.first, config.uidRange.last)
    const table = new Map<string, Agent>()
    // An agent keeps its uid across restarts (its work directory's files stay its own), as a
    // systemd unit keeps its DynamicUser while the name is in use.
    const uidOfName = new Map<string, number>()
    let nextId = 1
    const asRoot = (process.getuid?.() ?? 0) === 0
    Cgroups.removeStale(config.kernelId)
    // Registered before the agents' scope, so it runs after every agent has stopped: the
    // kernel's own cgroup parents (agentos/<kernel-id>) go last.
    yield* Effect.addFinalizer(() => Effect.sync(() => Cgroups.removeStale(config.kernelId)))
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

    const workdirFor = (name: string, uid: number | null) => {
      // The agent binds its workdir from inside its user namespace, as its own uid: every
      // directory above it must be traversable (0711: others may pass, not list).
      const kernelDir = Path.join(config.stateDir, config.kernelId)
      Fs.mkdirSync(kernelDir, { recursive: true, mode: 0o711 })
      for (let dir = kernelDir; dir !== Path.dirname(dir) && dir.startsWith(config.stateDir); dir = Path.dirname(dir)) {
        Fs.chmodSync(dir, Fs.statSync(dir).mode | 0o111)
      }
      const dir = Path.join(kernelDir, name)
      Fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
      if (uid !== null) Fs.chownSync(dir, uid, uid)
      return dir
    }

    const toLaunchSpec = (agent: Agent, resolved: AgentSpec.Resolved, workdir: string): LaunchSpec.LaunchSpec => {
      const sandbox = agent.spec.sandbox ?? {}
      const isolate = sandbox.isolate !== false
      const socketDir = Path.dirname(config.socketPath)
      const readOnly = [...new Set([...resolved.readOnly, ...(sandbox.readOnly ?? [])])]
      const readWrite = sandbox.readWrite ?? []
      // A granted path must not reveal the kernel's socket: hide its directory under a tmpfs.
      const covers = (p: string) => socketDir === p || socketDir.startsWith(`${p}/`)
      const tmpfs = [...readOnly, ...readWrite].some(covers) ? [socketDir] : []
      const memory = sandbox.memory === undefined ? undefined : AgentSpec.parseSize(sandbox.memory)
      const tmpSize = sandbox.tmpSize === undefined ? undefined : AgentSpec.parseSize(sandbox.tmpSize)
      return {
        argv: resolved.argv,
        env: {
          PATH: "/usr/local/bin:/usr/bin:/bin",
          HOME: workdir,
          LANG: "C.UTF-8",
          ...agent.spec.env,
          AGENTOS_FD: "3",
          AGENTOS_NAME: agent.name,
          AGENTOS_ID: agent.id,
          AGENTOS_KERNEL: config.kernelId
        },
        cwd: agent.spec.cwd ?? workdir,
        hostname: agent.name,
        ...(agent.uid === null ? {} : { uid: agent.uid, gid: agent.uid }),
        ...(isolate ? { cgroup: `agentos/${config.kernelId}/${agent.name}-${agent.id}` } : {}),
        ...(memory === undefined ? {} : { memoryMax: memory }),
        ...(sandbox.cpu === undefined ? {} : { cpuMax: { quotaUs: Math.max(1000, Math.round(sandbox.cpu * 100_000)), periodUs: 100_000 } }),
        ...(sandbox.pids === undefined ? {} : { pidsMax: sandbox.pids }),
        namespaces: isolate ? LaunchSpec.allNamespaces : [],
        readOnly,
        readWrite,
        workdir,
        tmpfs,
        ...(tmpSize === undefined ? {} : { tmpSizeBytes: tmpSize }),
        network: sandbox.network ?? "none",
        seccomp: sandbox.seccomp ?? "default",
        rlimits: { core: 0, ...(sandbox.maxOpenFiles === undefined ? {} : { nofile: sandbox.maxOpenFiles }) },
        ...(sandbox.killTimeoutMs === undefined ? {} : { killTimeoutMs: sandbox.killTimeoutMs })
      }
    }

    /** What happens when an incarnation ends: classify, record, publish, release. */
    const onEnded = (agent: Agent, scope: Scope.Closeable, ended: Ended) =>
      Effect.gen(function* () {
        const reason = ExitReason.fromEnded(ended, agent.requestedSignal)
        agent.status = "exited"
        agent.reason = reason
        agent.final = ended
        agent.endedAt = yield* Clock.currentTimeMillis
        if (agent.uid !== null) uids.release(agent.uid)
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
        yield* Deferred.succeed(agent.ended, reason)
        yield* Scope.close(scope, Exit.void)
      })

    // Returns AgentLogs' verdict: 0 when kept, else when the name's rate limit takes lines again.
    const output = (agent: Agent, stream: LogEntry["stream"], line: string, time: number) =>
      logs.append({ time, name: agent.name, id: agent.id, incarnation: agent.restarts, stream, line })

    const spawn = (args: AgentSpec.SpawnArgs, options: SpawnOptions = {}) =>
      Effect.gen(function* () {
        const existing = byName(args.name)
        if (existing !== undefined && (existing.status === "starting" || existing.status === "running" || existing.status === "stopping")) {
          return yield* new KernelError.AlreadyExists({ message: `spawn ${args.name}: an agent of that name is ${existing.status} (${existing.id})` })
        }
        const resolved = AgentSpec.resolveRun(args.run, args.args ?? [], args.cwd ?? options.baseDir ?? process.cwd())
        if (typeof resolved === "string") return yield* new KernelError.NotFound({ message: `spawn ${args.name}: ${resolved}` })
        const uid = asRoot ? uids.allocate(uidOfName.get(args.name)) ?? null : null
        if (uid !== null) uidOfName.set(args.name, uid)
        if (asRoot && uid === null) {
          return yield* new KernelError.TryAgain({ message: `spawn ${args.name}: every uid of ${config.uidRange.first}–${config.uidRange.last} is in use` })
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
          restarts: options.restarts ?? 0,
          startedAt: yield* Clock.currentTimeMillis,
          endedAt: null,
          reason: null,
          final: null,
          launched: null,
          requestedSignal: undefined,
          lastHeartbeat: null,
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
            if (uid !== null) uids.release(uid)
            yield* events.publish({ type: "agentos.agent.failed", id: agent.id, name: agent.name, step, message, time: agent.endedAt })
            yield* Deferred.succeed(agent.ended, agent.reason)
            yield* Scope.close(scope, Exit.void)
          })

        const launched = yield* Effect.gen(function* () {
          const workdir = yield* Effect.try({
            try: () => workdirFor(agent.name, uid),
            catch: (e) => new KernelError.Busy({ message: `spawn ${args.name}: creating its work directory: ${(e as Error).message}` })
          })
          const spec = toLaunchSpec(agent, resolved, workdir)
          const [kernelEnd, agentEnd] = PeerCredentials.socketPair()
          // The agent's fd 3 lives in the launcher from here on; our copy closes either way.
          yield* Effect.addFinalizer(() => Effect.sync(() => PeerCredentials.closeFd(agentEnd)).pipe(Effect.ignore))
          const socket = new Net.Socket({ fd: kernelEnd, readable: true, writable: true })
          yield* Scope.addFinalizer(scope, Effect.sync(() => socket.destroy()))
          yield* sessions.serve({
            socket,
            // SO_PEERCRED names the pair's creator; the identity is who the kernel gave it to.
            peer: { pid: 0, uid: uid ?? process.getuid?.() ?? 0, gid: uid ?? process.getgid?.() ?? 0 },
            kind: "agent",
            authorized: true,
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
        launched.onOutput((stream, line) => {
          const now = Date.now()
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

    const kill = (target: string, signal?: number) =>
      Effect.gen(function* () {
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

    const wait = (target: string, timeoutMs?: number) =>
      Effect.gen(function* () {
        const agent = yield* find(target)
        const result = timeoutMs === undefined
          ? Option.some(yield* Deferred.await(agent.ended))
          : yield* Deferred.await(agent.ended).pipe(Effect.timeoutOption(`${timeoutMs} millis`))
        if (Option.isNone(result)) {
          return yield* new KernelError.TimedOut({ message: `wait ${agent.name}: still ${agent.status} after ${timeoutMs} ms` })
        }
        return result.value
      })

    return Agents.of({ spawn, find, byName, output, kill, wait, list: () => [...table.values()] })
  }))
}
