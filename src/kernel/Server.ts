/**
 * The kernel's socket server: listens on a Unix socket (directory 0700, socket 0600), learns
 * each peer's pid/uid/gid with SO_PEERCRED and hands each connection to Sessions.
 * A stale socket file from a dead kernel is replaced; a live kernel on the path makes this one
 * fail at once. Closing the server's scope stops accepting and removes the socket file (only if
 * it is still this kernel's).
 */
import { Context, Data, Effect, Layer, Queue } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import { Agents } from "../process/Agents.ts"
import { Kernel } from "./Kernel.ts"
import { KernelConfig } from "../process/KernelConfig.ts"
import * as PeerCredentials from "../sandbox/PeerCredentials.ts"
import { Sessions } from "./Sessions.ts"
import * as SocketPath from "../protocol/SocketPath.ts"

/** The server could not start listening. @category errors */
export class ListenError extends Data.TaggedError("ListenError")<{ readonly message: string }> {}

/** The listening socket. @category services */
export class Server extends Context.Service<Server, {
  /** The path it listens on. */
  readonly socketPath: string
}>()("agentos/kernel/Server") {
  /** Listens on the configured path for the life of the layer. @category layers */
  static readonly layer = Layer.effect(Server, Effect.gen(function* () {
    const config = yield* KernelConfig
    // Not used here, but waited for: the server listens only once the kernel that will serve
    // its connections is built.
    yield* Kernel
    const sessions = yield* Sessions
    const agents = yield* Agents
    const path = config.socketPath
    const allowed = new Set<number>([process.getuid?.() ?? 0, 0, ...config.allowUids])
    // No process of the kernel's uid may read or write its memory through /proc: an agent that
    // shares the uid (no user namespace) would otherwise own the kernel.
    PeerCredentials.setDumpable(false)
    const accept = (socket: Net.Socket): Effect.Effect<void> => {
      const peer = peerOf(socket)
      // A peer gone before we asked: nothing to serve.
      if (peer === undefined) return Effect.sync(() => void socket.destroy())
      // A peer inside a sandbox the kernel made is refused whatever its uid: an agent talks over
      // its fd 3, and one that shares the kernel's uid must not pass for the kernel's own CLI.
      const inside = peer.pid > 0 ? agents.sandboxOf(peer.pid) : undefined
      const refusal = inside !== undefined
        ? `pid ${peer.pid} runs inside the sandbox of agent ${inside.name} (${inside.id}): agents talk to the kernel over their fd 3 only`
        : allowed.has(peer.uid) ? undefined : `uid ${peer.uid} may not use this kernel (it serves uid ${process.getuid?.()} and its allow-list)`
      return Effect.asVoid(sessions.serve({ socket, peer, kind: "client", authorized: refusal === undefined, ...(refusal === undefined ? {} : { refusal }) }))
    }
    // The server's connection callback only queues the socket; one fiber of the layer's serves
    // them in order of arrival (serving one is wiring it up, not waiting for it to end).
    const connections = yield* Queue.unbounded<Net.Socket>()
    yield* Queue.take(connections).pipe(Effect.flatMap(accept), Effect.forever, Effect.forkScoped)
    yield* Effect.acquireRelease(
      listen(path, (socket) => void Queue.offerUnsafe(connections, socket)),
      (server) => close(server, path)
    )
    return Server.of({ socketPath: path })
  }))
}

/** Replaces a stale socket file, refuses a live one, then listens with a private mode. */
const listen = (path: string, onConnection: (socket: Net.Socket) => void) =>
  Effect.gen(function* () {
    const dirProblem = SocketPath.prepareDirectory(path)
    if (dirProblem !== undefined) return yield* new ListenError({ message: dirProblem })
    yield* clearStale(path)
    return yield* Effect.callback<Net.Server, ListenError>((resume) => {
      const server = Net.createServer({ pauseOnConnect: false }, onConnection)
      server.once("error", (e) => {
        const code = (e as NodeJS.ErrnoException).code
        resume(Effect.fail(new ListenError({
          message: code === "EADDRINUSE"
            ? `listening on ${path}: another kernel took the path while this one started`
            : `listening on ${path}: ${SocketPath.errnoMessage(e)}`
        })))
      })
      // bind(2) creates the socket file with the umask's mode: make it 0600 from the start.
      const umask = process.umask(0o177)
      try {
        server.listen(path, () => {
          server.removeAllListeners("error")
          server.on("error", () => {})
          Fs.chmodSync(path, 0o600)
          resume(Effect.succeed(server))
        })
      } finally {
        process.umask(umask)
      }
    })
  })

/** The peer's credentials, or undefined when it is already gone. */
const peerOf = (socket: Net.Socket): PeerCredentials.PeerCredentials | undefined => {
  try {
    return PeerCredentials.peerCredentials(socket)
  } catch {
    return undefined
  }
}

/** What is at the path, or undefined when nothing is. */
const lstatOf = (path: string): Fs.Stats | undefined => Fs.lstatSync(path, { throwIfNoEntry: false })

/** A socket file nobody listens on is stale; anything else at the path is left alone. */
const clearStale = (path: string) =>
  Effect.gen(function* () {
    const stat = lstatOf(path)
    if (stat === undefined) return
    if (!stat.isSocket()) {
      return yield* new ListenError({ message: `${path} exists and is not a socket; refusing to replace it` })
    }
    const live = yield* Effect.callback<number | undefined, ListenError>((resume) => {
      const probe = Net.connect({ path })
      probe.once("connect", () => {
        const pid = peerOf(probe)?.pid ?? -1
        probe.destroy()
        resume(Effect.succeed(pid))
      })
      probe.once("error", (e) => {
        const code = (e as NodeJS.ErrnoException).code
        if (code === "ECONNREFUSED" || code === "ENOENT") resume(Effect.succeed(undefined))
        else resume(Effect.fail(new ListenError({ message: `checking ${path} for a live kernel: ${SocketPath.errnoMessage(e)}` })))
      })
      return Effect.sync(() => probe.destroy())
    })
    if (live !== undefined) {
      return yield* new ListenError({
        message: `a kernel is already listening on ${path}${live > 0 ? ` (pid ${live})` : ""}`
      })
    }
    Fs.rmSync(path, { force: true })
  })

/** Stops accepting and removes the socket file; Sessions drains the connections after. */
const close = (server: Net.Server, path: string) =>
  Effect.sync(() => {
    let inode: number | undefined
    try {
      inode = Fs.statSync(path).ino
    } catch {}
    // close() stops accepting at once; its callback (all connections gone) is not waited for.
    server.close()
    // Never remove a file another kernel made since.
    try {
      if (inode !== undefined && Fs.statSync(path).ino === inode) Fs.rmSync(path, { force: true })
    } catch {}
  })
