/**
 * A connection to the kernel, in plain Promise form: connect to a socket path or adopt an
 * inherited fd (an agent's fd 3), then `call(op, args)` with id correlation, pipelining,
 * per-call timeouts and cancellation; pushes go to listeners. The Effect client and the agent
 * SDK are thin layers over this one implementation.
 */
import * as Net from "node:net"
import * as Frame from "../protocol/Frame.ts"
import * as Message from "../protocol/Message.ts"
import * as Op from "../protocol/Op.ts"
import * as Calls from "./Calls.ts"
import { ConnectionError, KernelCallError } from "./ClientError.ts"

/** Where to connect. @category models */
export type Target = { readonly path: string } | { readonly fd: number }

/** Options of one call. @category models */
export interface CallOptions {
  /** Fail with ETIMEDOUT if no reply arrives within this many ms. */
  readonly timeoutMs?: number
  /** Receives each chunk sent before the reply (streaming syscalls). */
  readonly onChunk?: (more: unknown) => void
  /** Abandons the call: its promise rejects and a late reply is dropped. */
  readonly signal?: AbortSignal
}

/** The typed syscalls, returning Promises. @category models */
export type PromiseCalls = {
  readonly [K in keyof Calls.Calls]: (...args: Parameters<Calls.Calls[K]>) => Promise<Calls.ResultOf<K>>
}

interface Pending {
  readonly op: number
  readonly resolve: (value: unknown) => void
  readonly reject: (error: Error) => void
  readonly onChunk: ((more: unknown) => void) | undefined
  readonly cleanup: () => void
}

/** A live connection to the kernel. @category models */
export class Connection {
  private readonly socket: Net.Socket
  private readonly decoder: Frame.FrameDecoder
  private readonly pending = new Map<number, Pending>()
  private readonly pushListeners = new Set<(push: Message.Push) => void>()
  private nextId = 1
  private corked = false
  private closedError: ConnectionError | undefined
  /** Resolves when the connection has closed, for whatever reason. */
  readonly closed: Promise<ConnectionError | undefined>
  /** The typed syscalls over this connection. */
  readonly calls: PromiseCalls

  private constructor(socket: Net.Socket, maxFrame: number) {
    this.socket = socket
    this.decoder = new Frame.FrameDecoder(maxFrame)
    this.calls = Calls.bind<PromiseCalls>((spec) => this.call(spec.op, spec.args))
    socket.on("data", (chunk: Buffer) => {
      const error = this.decoder.push(chunk, this.onItem)
      if (error !== undefined) this.fail(`kernel sent an invalid frame: ${error.message}`)
    })
    this.closed = new Promise((resolve) => {
      socket.on("error", (e) => this.fail(`connection to the kernel failed: ${(e as NodeJS.ErrnoException).code ?? e.message}`))
      socket.on("close", () => {
        this.fail("connection to the kernel closed")
        resolve(this.closedError)
      })
    })
  }

  /** Connects to a kernel socket path, or wraps an inherited connected fd. @category constructors */
  static connect(target: Target, options: { readonly maxFrame?: number } = {}): Promise<Connection> {
    const maxFrame = options.maxFrame ?? Frame.DEFAULT_MAX_FRAME
    return new Promise((resolve, reject) => {
      if ("fd" in target) {
        let socket: Net.Socket
        try {
          socket = new Net.Socket({ fd: target.fd, readable: true, writable: true })
        } catch (e) {
          return reject(new ConnectionError({ message: `using inherited kernel fd ${target.fd}: ${(e as Error).message}` }))
        }
        return resolve(new Connection(socket, maxFrame))
      }
      const socket = Net.connect({ path: target.path })
      const onError = (e: NodeJS.ErrnoException) =>
        reject(new ConnectionError({ message: `connecting to the kernel at ${target.path}: ${describeConnectError(e)}` }))
      socket.once("error", onError)
      socket.once("connect", () => {
        socket.off("error", onError)
        resolve(new Connection(socket, maxFrame))
      })
    })
  }

  /** Sends a request and resolves with its result, or rejects with KernelCallError / ConnectionError. */
  call(op: number, args?: unknown, options: CallOptions = {}): Promise<unknown> {
    if (this.closedError !== undefined) return Promise.reject(this.closedError)
    const id = this.allocateId()
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const onAbort = () => {
        this.pending.get(id)?.cleanup()
        this.pending.delete(id)
        reject(new KernelCallError({ code: "ECANCELED", message: `${Op.describe(op)} call abandoned`, op }))
      }
      const cleanup = () => {
        if (timer !== undefined) clearTimeout(timer)
        options.signal?.removeEventListener("abort", onAbort)
      }
      if (options.signal?.aborted) return onAbort()
      this.pending.set(id, { op, resolve, reject, onChunk: options.onChunk, cleanup })
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.pending.delete(id)
          cleanup()
          reject(new KernelCallError({ code: "ETIMEDOUT", message: `${Op.describe(op)}: no reply within ${options.timeoutMs} ms`, op }))
        }, options.timeoutMs)
      }
      options.signal?.addEventListener("abort", onAbort, { once: true })
      let frame: Buffer
      try {
        frame = Frame.encode(args === undefined ? { id, op } : { id, op, args })
      } catch (e) {
        this.pending.delete(id)
        cleanup()
        const tooBig = e instanceof RangeError
        return reject(new KernelCallError({ code: tooBig ? "E2BIG" : "EINVAL", message: `${Op.describe(op)}: ${(e as Error).message}`, op }))
      }
      this.send(frame)
    })
  }

  /** Listens to the kernel's pushes; returns the function that stops listening. */
  onPush(listener: (push: Message.Push) => void): () => void {
    this.pushListeners.add(listener)
    return () => void this.pushListeners.delete(listener)
  }

  /** Closes the connection; pending calls reject with ConnectionError. */
  close(): Promise<void> {
    this.socket.end()
    const timer = setTimeout(() => this.socket.destroy(), 1000)
    timer.unref()
    return this.closed.then(() => clearTimeout(timer))
  }

  /** Calls still waiting for their reply. */
  get inFlight(): number {
    return this.pending.size
  }

  private allocateId(): number {
    // Ids are unique among calls in flight; skip any still pending after a wrap.
    do {
      this.nextId = this.nextId >= Number.MAX_SAFE_INTEGER ? 1 : this.nextId + 1
    } while (this.pending.has(this.nextId))
    return this.nextId
  }

  private send(frame: Buffer): void {
    if (!this.corked) {
      this.corked = true
      this.socket.cork()
      process.nextTick(() => {
        this.corked = false
        this.socket.uncork()
      })
    }
    this.socket.write(frame)
  }

  private readonly onItem = (item: Frame.FrameItem): void => {
    const incoming = Message.classify(item)
    switch (incoming._tag) {
      case "Reply": {
        const reply = incoming.reply
        if (reply.id === undefined) {
          // An error the kernel could not tie to a request: our request was malformed.
          if (!reply.ok) this.fail(`kernel rejected a request: ${reply.err.code} ${reply.err.msg}`)
          return
        }
        const pending = this.pending.get(reply.id)
        if (pending === undefined) return
        this.pending.delete(reply.id)
        pending.cleanup()
        if (reply.ok) pending.resolve(reply.res)
        else pending.reject(new KernelCallError({ code: reply.err.code, message: reply.err.msg, op: pending.op }))
        return
      }
      case "Chunk": {
        this.pending.get(incoming.chunk.id)?.onChunk?.(incoming.chunk.more)
        return
      }
      case "Push": {
        for (const listener of this.pushListeners) listener(incoming.push)
        return
      }
      case "Unknown":
        return
    }
  }

  private fail(message: string): void {
    if (this.closedError === undefined) this.closedError = new ConnectionError({ message })
    const error = this.closedError
    for (const [, pending] of this.pending) {
      pending.cleanup()
      pending.reject(error)
    }
    this.pending.clear()
    this.socket.destroy()
  }
}

const describeConnectError = (e: NodeJS.ErrnoException): string => {
  switch (e.code) {
    case "ENOENT":
      return "no kernel socket there (is `agentos kernel` running?)"
    case "ECONNREFUSED":
      return "nothing is listening (a stale socket file from a kernel that died?)"
    case "EACCES":
      return "permission denied"
    default:
      return e.code ?? e.message
  }
}
