/**
 * The kernel's socket server: listens on a Unix socket (directory 0700, socket 0600), learns
 * each peer's pid/uid/gid with SO_PEERCRED and serves each connection as its own session fiber.
 * A stale socket file from a dead kernel is replaced; a live kernel on the path makes this one
 * fail at once. Closing the server's scope stops accepting, lets in-flight replies finish
 * (bounded by the grace period), closes every connection and removes the socket file.
 */
import { Context, Data, Effect, Layer, Scope } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import { Kernel } from "./Kernel.ts"
import { KernelConfig } from "./KernelConfig.ts"
import * as PeerCredentials from "./PeerCredentials.ts"
import * as Session from "./Session.ts"
import * as SocketPath from "./SocketPath.ts"

/** The server could not start listening. @category errors */
export class ListenError extends Data.TaggedError("ListenError")<{ readonly message: string }> {}

/** The running server. @category services */
export class Server extends Context.Service<Server, {
  /** The path it listens on. */
  readonly socketPath: string
  /** Live sessions, for pushes and shutdown. */
  readonly sessions: () => ReadonlyArray<Session.Session>
  /**
   * Serves an already-connected socket as a session of the given kind; an agent's inherited
   * fd 3 arrives this way, authenticated by who the kernel gave it to.
   */
  readonly adopt: (socket: Net.Socket, peer: PeerCredentials.PeerCredentials) => Effect.Effect<Session.Session>
}>()("agentos/kernel/Server") {
  /** Listens on the configured path for the life of the layer. @category layers */
  static readonly layer = Layer.effect(Server, Effect.gen(function* () {
    const config = yield* KernelConfig
    const kernel = yield* Kernel
    // Sessions live in a child scope made before the listener, so it closes after the
    // listener's release has drained them: finalizers run in reverse order of registration.
    const sessionScope = yield* Scope.fork(yield* Scope.Scope, "parallel")
    const path = config.socketPath
    const ownUid = process.getuid?.() ?? 0
    const allowed = new Set<number>([ownUid, 0, ...config.allowUids])
    const sessions = new Set<Session.Session>()
    let nextSessionId = 1

    const register = (session: Session.Session) => {
      sessions.add(session)
      return () => void sessions.delete(session)
    }
    const start = (accepted: Omit<Session.Accepted, "sessionId">) =>
      Session.serve({ ...accepted, sessionId: nextSessionId++ }, register).pipe(
        Effect.scoped,
        Effect.provideService(Kernel, kernel),
        Effect.forkIn(sessionScope, { startImmediately: true })
      )

    const server = yield* Effect.acquireRelease(
      listen(path, (socket) => {
        let peer: PeerCredentials.PeerCredentials
        try {
          peer = PeerCredentials.peerCredentials(socket)
        } catch {
          // A peer gone before we asked: nothing to serve.
          socket.destroy()
          return
        }
        Effect.runFork(start({ socket, peer, kind: "client", authorized: allowed.has(peer.uid) }))
      }),
      (server) => shutdown(server, path, sessions, config.shutdownGraceMs)
    )
    void server

    return Server.of({
      socketPath: path,
      sessions: () => [...sessions],
      adopt: (socket, peer) =>
        Effect.suspend(() => {
          const before = new Set(sessions)
          return start({ socket, peer, kind: "agent", authorized: true }).pipe(
            Effect.map(() => [...sessions].find((s) => !before.has(s))!)
          )
        })
    })
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

/** A socket file nobody listens on is stale; anything else at the path is left alone. */
const clearStale = (path: string) =>
  Effect.gen(function* () {
    let stat: Fs.Stats
    try {
      stat = Fs.lstatSync(path)
    } catch {
      return
    }
    if (!stat.isSocket()) {
      return yield* new ListenError({ message: `${path} exists and is not a socket; refusing to replace it` })
    }
    const live = yield* Effect.callback<number | undefined, ListenError>((resume) => {
      const probe = Net.connect({ path })
      probe.once("connect", () => {
        let pid = -1
        try {
          pid = PeerCredentials.peerCredentials(probe).pid
        } catch {}
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

/** Stop accepting, drain in-flight replies (bounded), close connections, remove the socket file. */
const shutdown = (server: Net.Server, path: string, sessions: Set<Session.Session>, graceMs: number) =>
  Effect.promise(async () => {
    let inode: number | undefined
    try {
      inode = Fs.statSync(path).ino
    } catch {}
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    await Promise.all([...sessions].map((s) => s.drain(graceMs)))
    for (const session of sessions) session.close()
    await closed
    // Node unlinks the path on close; make sure, but never remove a file another kernel made since.
    try {
      if (inode !== undefined && Fs.statSync(path).ino === inode) Fs.rmSync(path, { force: true })
    } catch {}
  })
