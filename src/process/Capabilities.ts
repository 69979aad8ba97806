/**
 * What an agent may call. A connection from the CLI (the kernel's own uid, or an allowed one)
 * may call everything; an agent's fd 3 carries the capabilities of its spec: by default HELLO,
 * NOOP, THINK, SEND, RECV, ACK, LOG, HEARTBEAT and LIST, and whatever its `caps` grant on top.
 */
import * as Op from "../protocol/Op.ts"

/** Syscalls every agent may make. @category models */
export const defaults: ReadonlyArray<Op.OpName> = ["HELLO", "NOOP", "THINK", "SEND", "RECV", "ACK", "LOG", "HEARTBEAT", "LIST"]

/** A set of syscall numbers a connection may make. @category models */
export type Capabilities = ReadonlySet<number>

/** An agent's capabilities: the defaults plus its grants (syscall names). @category constructors */
export const grant = (names: ReadonlyArray<Op.OpName>): Capabilities =>
  new Set([...defaults, ...names].map((name) => Op.Op[name]))

/** Whether a grant list names only syscalls; returns the unknown names. @category guards */
export const unknownNames = (names: ReadonlyArray<string>): ReadonlyArray<string> =>
  names.filter((name) => !(name in Op.Op))
