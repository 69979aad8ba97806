/**
 * The agent SDK (`agentos/agent`): `connect()` from inside an agent reaches the kernel over the
 * already-connected fd 3 the kernel gave it (`AGENTOS_FD`); from outside, over the kernel's
 * socket path. It says HELLO, then offers every syscall as a Promise method. Syscalls the
 * kernel does not have yet reject with ENOSYS.
 */
import * as SocketPath from "../protocol/SocketPath.ts"
import type { HelloResult } from "./Calls.ts"
import { Connection, type PromiseCalls, type Target } from "./Connection.ts"

/** A connected agent: the typed syscalls plus the connection's controls. @category models */
export type Agent = PromiseCalls & {
  /** What the kernel said at HELLO: who this agent is, who the kernel is, the limits. */
  readonly info: HelloResult
  /** Any syscall by number. */
  readonly call: Connection["call"]
  /** Kernel pushes; returns the function that stops listening. */
  readonly onPush: Connection["onPush"]
  /** Closes the connection. */
  readonly close: () => Promise<void>
  /** The underlying connection. */
  readonly connection: Connection
  /**
   * This agent's messages, as an async iterator: each one is ACKed when the loop asks for the
   * next, that is once its handler (the loop's body) has succeeded. A body that throws, or a
   * `break`, leaves the current message unacked: the kernel delivers it again to this agent's
   * next incarnation (call `message.ack()` first to break after handling one). Ends quietly
   * when the connection closes; with `timeoutMs`, also after that long without a message.
   */
  readonly messages: (options?: { readonly timeoutMs?: number }) => AsyncIterableIterator<Message>
}

/** A message from the agent's mailbox. @category models */
export interface Message {
  readonly msgId: number
  readonly from: string
  readonly payload: unknown
  /** Delivered before to an incarnation that ended without acking it. */
  readonly redelivered: boolean
  /** Acknowledges it now (the iterator then does not ack it again). */
  readonly ack: () => Promise<void>
}

/** The iterator behind Agent.messages. */
const messagesOf = (connection: Connection, timeoutMs: number | undefined): AsyncIterableIterator<Message> => {
  let current: { readonly msgId: number; acked: boolean } | undefined
  let done = false
  const finish = (): IteratorResult<Message> => {
    done = true
    return { done: true, value: undefined }
  }
  const iterator: AsyncIterableIterator<Message> = {
    [Symbol.asyncIterator]: () => iterator,
    next: async () => {
      if (done) return { done: true, value: undefined }
      // The previous handler succeeded: its message is done with.
      if (current !== undefined && !current.acked) await connection.calls.ack(current.msgId)
      current = undefined
      let received: Awaited<ReturnType<typeof connection.calls.recv>>
      try {
        received = await connection.calls.recv(timeoutMs)
      } catch (e) {
        const code = (e as { code?: string }).code
        if (code === "ETIMEDOUT" || (e as { _tag?: string })._tag === "ConnectionError") return finish()
        throw e
      }
      const entry = { msgId: received.msgId, acked: false }
      current = entry
      return {
        done: false,
        value: {
          msgId: received.msgId,
          from: received.from,
          payload: received.payload,
          redelivered: received.redelivered === true,
          ack: async () => {
            if (entry.acked) return
            entry.acked = true
            await connection.calls.ack(entry.msgId)
          }
        }
      }
    },
    return: async () => finish()
  }
  return iterator
}

/** Options of connect. @category models */
export interface ConnectOptions {
  /** Kernel socket path; default `$AGENTOS_SOCKET`, `$XDG_RUNTIME_DIR/agentos/kernel.sock`, `/tmp/agentos-<uid>/kernel.sock`. */
  readonly socket?: string
  /** Name to give at HELLO (ignored for spawned agents: the kernel named them). */
  readonly name?: string
}

/** Where an agent's kernel is: fd 3 when spawned by the kernel, else the socket path. */
const targetFor = (options: ConnectOptions): Target => {
  const fd = process.env.AGENTOS_FD
  if (options.socket === undefined && fd !== undefined && /^\d+$/.test(fd)) return { fd: Number(fd) }
  return { path: options.socket ?? SocketPath.resolve() }
}

/** Connects to the kernel and says HELLO. @category constructors */
export const connect = async (options: ConnectOptions = {}): Promise<Agent> => {
  const connection = await Connection.connect(targetFor(options))
  let info: HelloResult
  try {
    info = await connection.calls.hello(options.name ?? process.env.AGENTOS_NAME)
  } catch (e) {
    await connection.close()
    throw e
  }
  return {
    ...connection.calls,
    info,
    call: (op, args, callOptions) => connection.call(op, args, callOptions),
    onPush: (listener) => connection.onPush(listener),
    close: () => connection.close(),
    connection,
    messages: (messageOptions = {}) => messagesOf(connection, messageOptions.timeoutMs)
  }
}
