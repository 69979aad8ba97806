/**
 * One connection to the kernel. Its bytes go through a FrameDecoder; each request runs as its
 * own fiber, so requests on a connection are served concurrently and replies leave in the
 * order they finish. Replies written in one tick go out in one write. A connection that does
 * not read its replies stops being read (backpressure), so it cannot grow the kernel's memory;
 * one whose bytes break the protocol gets an EPROTO push and is closed. Nothing a session does
 * touches another.
 */
import { Cause, Effect, Exit, type Fiber, type Scope } from "effect"
import type * as Net from "node:net"
import * as Frame from "../protocol/Frame.ts"
import * as Message from "../protocol/Message.ts"
import * as Op from "../protocol/Op.ts"
import type * as Cbor from "../protocol/Cbor.ts"
import type { Call, Caller } from "../process/Caller.ts"
import * as KernelError from "../process/KernelError.ts"
import type { PeerCredentials } from "../sandbox/PeerCredentials.ts"
import type { AgentIdentity } from "../process/AgentConnections.ts"

/** Stop reading a connection whose unread replies exceed this many bytes. */
const WRITE_HIGH_WATER = 4 * 1024 * 1024

/** What the server knows of a new connection. @category models */
export interface Accepted {
  readonly sessionId: number
  /** The connection's scope (Caller.scope): Sessions closes it when the socket closes. */
  readonly scope: Scope.Scope
  readonly socket: Net.Socket
  readonly peer: PeerCredentials
  readonly kind: "client" | "agent"
  /** Whether the peer may use the kernel at all (its uid is allowed, it runs in no sandbox). */
  readonly authorized: boolean
  /** Why not, when not: what every request is answered with (EPERM). */
  readonly refusal?: string
  /** For an agent's fd 3: which agent it is and what it may call. */
  readonly agent?: AgentIdentity
}

export type { AgentIdentity } from "../process/AgentConnections.ts"

/**
 * What a session needs of the kernel that serves it: its limits, how to decode requests, and
 * its dispatch table (the Kernel service is one). @category models
 */
export interface Dispatcher {
  readonly settings: { readonly maxFrame: number; readonly maxInFlight: number; readonly maxPushBacklog: number }
  /** Runs one request's syscall for a caller. */
  readonly dispatch: (request: Message.Request, caller: Caller, call: Call) => Effect.Effect<unknown, KernelError.KernelError>
  /** How request frames are decoded: each request's args in its syscall's form. */
  readonly requestKeep: Cbor.Keep
  /** Records one answered request, by syscall number and result code. */
  readonly answered: (op: number, code: string) => void
}

/** Runs a request's effect as a fiber of the session. */
export type Run = (effect: Effect.Effect<unknown, KernelError.KernelError>) => Fiber.Fiber<unknown, KernelError.KernelError>

/** A live connection; `serve` drives it. @category models */
export class Session implements Caller {
  readonly sessionId: number
  readonly peer: PeerCredentials
  readonly kind: "client" | "agent"
  readonly agent: AgentIdentity | undefined
  readonly scope: Scope.Scope
  name: string | undefined = undefined
  readonly setName = (name: string): void => {
    this.name = name
  }

  private readonly socket: Net.Socket
  private readonly authorized: boolean
  private readonly refusal: string | undefined
  private readonly decoder: Frame.FrameDecoder
  private readonly maxFrame: number
  private readonly maxInFlight: number
  private readonly maxPushBacklog: number
  private readonly dispatch: Dispatcher["dispatch"]
  private readonly answered: Dispatcher["answered"]
  private readonly run: Run
  private readonly inFlight = new Set<number>()
  private corked = false
  private draining = false
  private readPaused = false
  private onIdle: (() => void) | undefined

  constructor(accepted: Accepted, kernel: Dispatcher, run: Run) {
    this.sessionId = accepted.sessionId
    this.peer = accepted.peer
    this.kind = accepted.kind
    this.agent = accepted.agent
    this.scope = accepted.scope
    if (accepted.agent !== undefined) this.name = accepted.agent.name
    this.socket = accepted.socket
    this.authorized = accepted.authorized
    this.refusal = accepted.refusal
    this.maxFrame = kernel.settings.maxFrame
    this.maxInFlight = kernel.settings.maxInFlight
    this.maxPushBacklog = kernel.settings.maxPushBacklog
    this.decoder = new Frame.FrameDecoder(this.maxFrame, kernel.requestKeep, true)
    this.dispatch = kernel.dispatch
    this.answered = kernel.answered
    this.run = run
    this.socket.on("data", this.onData)
    this.socket.on("drain", this.onDrain)
  }

  /** Requests not yet answered. */
  get pending(): number {
    return this.inFlight.size
  }

  /** Sends a kernel-initiated event to this connection. */
  readonly push = (push: Message.Push): void => {
    if (this.socket.destroyed) return
    // Replies are bounded by the requests a peer makes; pushes are not. A peer that lets them
    // pile up unread is cut off, as Redis does with a pubsub client past its output limit.
    if (this.socket.writableLength > this.maxPushBacklog) {
      this.socket.destroy()
      return
    }
    this.write(push)
  }

  /** Runs `f` once the connection has closed. */
  readonly onClose = (f: () => void): void => {
    if (this.socket.destroyed) f()
    else this.socket.once("close", f)
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.draining) return
    const error = this.decoder.push(chunk, this.onItem)
    if (error !== undefined) this.protocolError(error.message)
  }

  private readonly onDrain = (): void => {
    if (this.readPaused && !this.draining) {
      this.readPaused = false
      this.socket.resume()
    }
  }

  private readonly onItem = (item: Frame.FrameItem): void => {
    if (this.draining) return
    const request = Message.parseRequest(item)
    if ("_tag" in request) return this.write(Message.failure(request.id, "EINVAL", request.message))
    const id = request.id
    if (!this.authorized) {
      this.answered(request.op, "EPERM")
      return this.write(Message.failure(
        id,
        "EPERM",
        this.refusal ?? `uid ${this.peer.uid} may not use this kernel (it serves uid ${process.getuid?.()} and its allow-list)`
      ))
    }
    if (this.inFlight.has(id)) {
      this.answered(request.op, "EINVAL")
      return this.write(Message.failure(id, "EINVAL", `request id ${id} is already in flight on this connection`))
    }
    if (this.inFlight.size >= this.maxInFlight) {
      this.answered(request.op, "EAGAIN")
      return this.write(Message.failure(id, "EAGAIN", `${this.maxInFlight} requests already in flight on this connection`))
    }
    this.inFlight.add(id)
    let afterReply: Array<() => void> | undefined
    const call = {
      id,
      chunk: (more: unknown) => this.inFlight.has(id) && this.write({ id, more }),
      afterReply: (f: () => void) => void (afterReply ??= []).push(f)
    }
    const fiber = this.run(this.dispatch(request, this, call))
    // Only the op is kept past dispatch: the request's args are views onto the frame read.
    const op = request.op
    fiber.addObserver((exit) => {
      this.complete(id, op, exit)
      if (afterReply !== undefined) for (const f of afterReply) f()
    })
  }

  private complete(id: number, op: number, exit: Exit.Exit<unknown, KernelError.KernelError>): void {
    this.inFlight.delete(id)
    if (Exit.isSuccess(exit)) {
      this.answered(op, "ok")
      this.write(Message.ok(id, exit.value))
    } else {
      const failure = exit.cause.reasons.find(Cause.isFailReason)
      if (failure !== undefined) {
        const code = KernelError.code(failure.error)
        this.answered(op, code)
        this.write(Message.failure(id, code, failure.error.message))
      } else if (!Cause.hasInterruptsOnly(exit.cause)) {
        this.answered(op, "EIO")
        // A defect is a kernel bug: the caller still gets an answer, and the kernel logs it.
        this.write(Message.failure(id, "EIO", `kernel error in ${Op.describe(op)}: ${Cause.pretty(exit.cause).split("\n")[0]}`))
        Effect.runFork(Effect.logError(`session ${this.sessionId}: ${Op.describe(op)} died`, exit.cause))
      }
    }
    if (this.inFlight.size === 0 && this.onIdle !== undefined) this.onIdle()
  }

  private write(message: object): void {
    if (this.socket.destroyed || !this.socket.writable) return
    let frame: Buffer
    try {
      frame = Frame.encode(message, this.maxFrame)
    } catch (e) {
      const id = (message as { id?: unknown }).id
      const reason = e instanceof RangeError ? "E2BIG" : "EIO"
      frame = Frame.encode(Message.failure(
        Message.isUint(id) ? id : undefined,
        reason,
        `encoding reply: ${e instanceof Error ? e.message : String(e)}`
      ))
    }
    // Every reply of one tick leaves in one writev.
    if (!this.corked) {
      this.corked = true
      this.socket.cork()
      process.nextTick(this.uncork)
    }
    if (!this.socket.write(frame) && !this.readPaused) {
      this.readPaused = true
      this.socket.pause()
    }
  }

  private readonly uncork = (): void => {
    this.corked = false
    this.socket.uncork()
    if (this.socket.writableLength > WRITE_HIGH_WATER && !this.readPaused) {
      this.readPaused = true
      this.socket.pause()
    }
  }

  private protocolError(message: string): void {
    this.write(Message.protocolErrorPush(message))
    void this.close()
  }

  /** Ends the connection after what is already written; resolves once it is closed. */
  close(): Promise<void> {
    this.draining = true
    if (this.socket.destroyed) return Promise.resolve()
    return new Promise((resolve) => {
      this.socket.once("close", () => resolve())
      this.socket.end()
      // A peer that does not read its last replies is cut off.
      setTimeout(() => this.socket.destroy(), 500).unref()
    })
  }

  /** Stops reading requests and resolves once every in-flight reply is written, or at the deadline. */
  drain(graceMs: number): Promise<void> {
    this.draining = true
    this.socket.pause()
    if (this.inFlight.size === 0) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, graceMs)
      timer.unref()
      this.onIdle = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }
}
