/**
 * The syscall numbers of the AgentOS protocol (DESIGN.md, "Protocol"). A request's `op` is one
 * of these; the seed's numbers are kept, so old clients keep working. Names follow the table.
 */

/** Every syscall, by name. @category models */
export const Op = {
  NOOP: 0x00,
  THINK: 0x01,
  HELLO: 0x02,
  SPAWN: 0x10,
  KILL: 0x11,
  LIST: 0x12,
  WAIT: 0x13,
  STAT: 0x14,
  SEND: 0x20,
  RECV: 0x21,
  ACK: 0x22,
  TREE: 0x30,
  SUBSCRIBE: 0x31,
  CHILD: 0x32,
  LOG: 0x40,
  HEARTBEAT: 0x41,
  // Beyond DESIGN.md's table (docs/protocol.md): reading the kernel's records.
  LOGS: 0x42,
  METRICS: 0x43
} as const

/** A syscall's name. @category models */
export type OpName = keyof typeof Op

/** A syscall's number. @category models */
export type OpNumber = (typeof Op)[OpName]

const names = new Map<number, OpName>(Object.entries(Op).map(([name, op]) => [op, name as OpName]))

/** The name of a syscall number, or undefined for a number outside the table. @category guards */
export const nameOf = (op: number): OpName | undefined => names.get(op)

/** Renders an op for messages: `NOOP (0x00)`, or `0x7f` for an unknown number. */
export const describe = (op: number): string => {
  const hex = `0x${op.toString(16).padStart(2, "0")}`
  const name = names.get(op)
  return name === undefined ? hex : `${name} (${hex})`
}
