/**
 * The agent SDK (`agentos/agent`): `connect()` from inside an agent reaches the kernel over the
 * already-connected fd 3 the kernel gave it (`AGENTOS_FD`); from outside, over the kernel's
 * socket path. It says HELLO, then offers every syscall as a Promise method. Syscalls the
 * kernel does not have yet reject with ENOSYS.
 */
import * as SocketPath from "../kernel/SocketPath.ts"
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
    connection
  }
}
