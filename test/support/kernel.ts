/**
 * Test support: a real kernel on a real Unix socket in a fresh temp directory, started in this
 * process, and a raw connection that sends arbitrary bytes and collects what comes back.
 * Everything is released by `stop()`, which tests call in a finally/afterEach.
 */
import { Context, Effect, Exit, Layer, Scope } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import type { BootOptions } from "../../src/app/Boot.ts"
import * as Daemon from "../../src/app/Daemon.ts"
import type { Settings } from "../../src/process/KernelConfig.ts"
import { Agents } from "../../src/process/Agents.ts"
import { Router } from "../../src/ipc/Router.ts"
import { Supervision } from "../../src/supervision/Supervision.ts"
import type { PeerCredentials } from "../../src/sandbox/PeerCredentials.ts"
import type { AgentIdentity, Session } from "../../src/kernel/Session.ts"
import { Sessions } from "../../src/kernel/Sessions.ts"
import type { Syscall } from "../../src/kernel/Syscall.ts"
import type { ProviderConfigError } from "../../src/llm/Provider.ts"
import type { LlmScheduler } from "../../src/llm/Scheduler.ts"
import type * as Cbor from "../../src/protocol/Cbor.ts"
import * as Frame from "../../src/protocol/Frame.ts"
import * as Isolation from "../../src/sandbox/Isolation.ts"
import type { Launcher } from "../../src/sandbox/Launcher.ts"
import * as NodeLauncher from "../../src/sandbox/NodeLauncher.ts"
import * as ProcessLauncher from "../../src/sandbox/ProcessLauncher.ts"
import { AgentLogs, type LogEntry } from "../../src/logs/AgentLogs.ts"
import type { TestLauncher } from "./machine.ts"

/** The user's subordinate ids, when agents may have been given some (their workdirs hold their files). */
const subordinate = (() => {
  const ids = Isolation.subordinateIds(Isolation.runProbe(NodeLauncher.launcherPath))
  return "problem" in ids ? undefined : ids
})

/** Removes a directory tree, agents' files of the user's subordinate ids included. */
export const removeTree = (path: string): void => NodeLauncher.removeTree(path, process.getuid?.() === 0 ? undefined : subordinate())

/** A fresh private temp directory; removed by the returned function (agents' files of subordinate ids too). */
export const tempDir = (prefix = "agentos-test-"): { readonly path: string; readonly remove: () => void } => {
  const path = Fs.mkdtempSync(Path.join(Os.tmpdir(), prefix))
  // Agents reach their workdir under it as their own uid: let them pass through (not list).
  Fs.chmodSync(path, 0o711)
  return { path, remove: () => removeTree(path) }
}

/** Whether a process is still there (signal 0 probes without signalling). */
export const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * Daemon.layer's (and Boot.run's) `launcher` and `isolation` for a test launcher: the plain one
 * with the machine it describes (unless another is given); the native one with this machine's
 * probe (undefined: the daemon's own) or the machine given.
 */
export const launching = (
  launcher: TestLauncher,
  machine?: Isolation.Machine
): { readonly layer: Layer.Layer<Launcher>; readonly isolation: Layer.Layer<Isolation.Isolation> } | undefined =>
  launcher === "process"
    ? { layer: ProcessLauncher.layer, isolation: Isolation.Isolation.layerFor(machine ?? ProcessLauncher.machine()) }
    : machine === undefined
    ? undefined
    : { layer: NodeLauncher.layer, isolation: Isolation.Isolation.layerFor(machine) }

/**
 * Daemon.layer for a test kernel whose agents `launcher` starts. On the plain launcher the
 * kernel runs with `isolation: weak` unless `options` says otherwise: its machine cannot
 * sandbox, and a strict kernel would refuse every sandboxed agent.
 */
export const daemonLayer = (
  options: Partial<Settings>,
  extraSyscalls: ReadonlyArray<Syscall> = [],
  launcher: TestLauncher = "native",
  llm?: Layer.Layer<LlmScheduler, ProviderConfigError>,
  machine?: Isolation.Machine
) => {
  const layers = launching(launcher, machine)
  return Daemon.layer({ ...(launcher === "process" ? { isolation: "weak" as const } : {}), ...options }, extraSyscalls, llm, layers?.isolation, layers?.layer)
}

/** Boot.run's (and Boot.boot's) `kernel` and `launcher` options for a test kernel whose agents `launcher` starts, as daemonLayer's. */
export const bootOptions = (launcher: TestLauncher, kernel: Partial<Settings>): Pick<BootOptions, "kernel" | "launcher"> => {
  const layers = launching(launcher)
  return {
    kernel: { ...(launcher === "process" ? { isolation: "weak" as const } : {}), ...kernel },
    ...(layers === undefined ? {} : { launcher: layers })
  }
}

/** A kernel running in this process. */
export interface TestKernel {
  readonly socketPath: string
  /** Which launcher starts its agents. */
  readonly launcher: TestLauncher
  /** The process table. */
  readonly agents: Agents["Service"]
  /** Live sessions. */
  readonly sessions: () => ReadonlyArray<Session>
  /** Serves an already-connected socket as an agent's fd-3 connection. */
  readonly adopt: (socket: Net.Socket, peer: PeerCredentials, agent?: AgentIdentity) => Promise<Session>
  /** An agent's lines (stdout, stderr, LOG records) as its log keeps them, across its incarnations. */
  readonly output: (name: string) => ReadonlyArray<LogEntry>
  /** The mailboxes (IPC). */
  readonly router: Router["Service"]
  /** PID 1 and the trees under it. */
  readonly supervision: Supervision["Service"]
  /** Closes the kernel (graceful shutdown) and removes its directory. */
  readonly stop: () => Promise<void>
}

/** Starts a kernel on a socket in a new temp directory. */
export const startKernel = async (
  options: Partial<Settings> = {},
  extraSyscalls: ReadonlyArray<Syscall> = [],
  /** Another machine's probe, for the kernel's decisions in another situation (the real launcher still runs). */
  machine?: Isolation.Machine,
  /**
   * Which launcher starts its agents: the native one (the default, for tests of isolation), or
   * Machine.launcher for a suite that is not about isolation (daemonLayer).
   */
  launcher: TestLauncher = "native"
): Promise<TestKernel> => {
  const dir = tempDir()
  const socketPath = options.socketPath ?? Path.join(dir.path, "run", "kernel.sock")
  const stateDir = options.stateDir ?? Path.join(dir.path, "state")
  const scope = Effect.runSync(Scope.make())
  try {
    const context = await Effect.runPromise(
      Layer.buildWithScope(daemonLayer({ ...options, socketPath, stateDir }, extraSyscalls, launcher, undefined, machine), scope)
    )
    const sessions = Context.get(context, Sessions)
    return {
      socketPath,
      launcher,
      agents: Context.get(context, Agents),
      output: (name) => Context.get(context, AgentLogs).tail(name, { n: Number.MAX_SAFE_INTEGER }),
      router: Context.get(context, Router),
      supervision: Context.get(context, Supervision),
      sessions: sessions.all,
      adopt: (socket, peer, agent) =>
        Effect.runPromise(sessions.serve({
          socket,
          peer,
          kind: "agent",
          authorized: true,
          ...(agent === undefined ? {} : { agent })
        })),
      stop: async () => {
        await Effect.runPromise(Scope.close(scope, Exit.void))
        dir.remove()
      }
    }
  } catch (e) {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    dir.remove()
    throw e
  }
}

/**
 * A raw connection: write any bytes, read decoded frames (with `keep`, the entries it names as
 * Cbor.Raw, to see the bytes the kernel wrote), see the close.
 */
export class RawConnection {
  readonly socket: Net.Socket
  readonly items: Array<Frame.FrameItem> = []
  closed = false
  private readonly decoder: Frame.FrameDecoder
  private waiters: Array<() => void> = []

  private constructor(socket: Net.Socket, keep: Cbor.Keep | undefined) {
    this.decoder = new Frame.FrameDecoder(Frame.DEFAULT_MAX_FRAME, keep)
    this.socket = socket
    socket.on("data", (chunk: Buffer) => {
      this.decoder.push(chunk, (item) => this.items.push(item))
      this.wake()
    })
    socket.on("error", () => {})
    socket.on("close", () => {
      this.closed = true
      this.wake()
    })
  }

  static open(path: string, keep?: Cbor.Keep): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = Net.connect({ path })
      socket.once("error", reject)
      socket.once("connect", () => {
        socket.off("error", reject)
        resolve(new RawConnection(socket, keep))
      })
    })
  }

  /** Writes raw bytes. */
  write(bytes: Uint8Array): void {
    this.socket.write(bytes)
  }

  /** Writes one request frame. */
  request(message: object): void {
    this.socket.write(Frame.encode(message))
  }

  /** Resolves once `count` items arrived (or the connection closed), with all items so far. */
  async waitForItems(count: number, timeoutMs = 5000): Promise<Array<Frame.FrameItem>> {
    const deadline = Date.now() + timeoutMs
    while (this.items.length < count && !this.closed) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} frames, got ${this.items.length}`)
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve)
        setTimeout(resolve, 50)
      })
    }
    return this.items
  }

  /** Resolves once the kernel closed the connection. */
  async waitForClose(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error("timed out waiting for the kernel to close the connection")
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve)
        setTimeout(resolve, 50)
      })
    }
  }

  close(): void {
    this.socket.destroy()
  }

  private wake(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }
}
