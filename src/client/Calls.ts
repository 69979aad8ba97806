/**
 * The typed syscalls, declared once as data: each entry turns its arguments into an op and an
 * args map and names its result type. The Promise client and the Effect client are both built
 * from this table, so a syscall is added here and nowhere else.
 */
import * as Op from "../protocol/Op.ts"
import type * as Results from "../protocol/Results.ts"
import type * as Rows from "../protocol/Rows.ts"
import { PROTOCOL_VERSION } from "../protocol/Version.ts"

/** A request to make, with its result type as a phantom. @category models */
export interface CallSpec<Result> {
  readonly op: Op.OpNumber
  readonly args?: unknown
  readonly _result?: Result
}

const spec = <Result>(op: Op.OpNumber, args?: unknown): CallSpec<Result> =>
  args === undefined ? { op } : { op, args }

/** HELLO's answer: the protocol's (protocol/Results.ts), which kernel/syscalls/Hello.ts builds. @category models */
export type HelloResult = Results.HelloResult

/** One row of LIST: the protocol's (protocol/Rows.ts), which the kernel builds. @category models */
export type AgentInfo = Rows.ListRow

/** Omits undefined fields, so optional args never travel as CBOR undefined. */
const compact = (fields: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined))

/** Every typed syscall. @category constructors */
export const calls = {
  hello: (name?: string) => spec<HelloResult>(Op.Op.HELLO, compact({ version: PROTOCOL_VERSION, name })),
  noop: <A>(value?: A) => spec<A>(Op.Op.NOOP, value),
  list: () => spec<ReadonlyArray<Rows.ListRow>>(Op.Op.LIST, {}),
  think: (args: { readonly prompt?: string; readonly messages?: ReadonlyArray<unknown>; readonly model?: string; readonly maxTokens?: number }) =>
    spec<{ readonly content: string; readonly usage: unknown; readonly model: string }>(Op.Op.THINK, compact(args)),
  spawn: (args: { readonly name: string; readonly run: string; readonly args?: ReadonlyArray<string>; readonly [field: string]: unknown }) =>
    spec<{ readonly id: string; readonly name: string; readonly pid: number; readonly status: string }>(Op.Op.SPAWN, compact(args)),
  kill: (target: string, signal?: string) => spec<{ readonly killed: boolean }>(Op.Op.KILL, compact({ name: target, signal })),
  wait: (target: string, timeoutMs?: number) => spec<Results.WaitResult>(Op.Op.WAIT, compact({ name: target, timeoutMs })),
  stat: (target: string) => spec<Record<string, unknown>>(Op.Op.STAT, { name: target }),
  send: (to: string, payload: unknown, nowait?: boolean) =>
    spec<{ readonly msgId: number }>(Op.Op.SEND, compact({ to, payload, nowait })),
  recv: (timeoutMs?: number) =>
    spec<{ readonly msgId: number; readonly from: string; readonly payload: unknown; readonly redelivered?: boolean }>(
      Op.Op.RECV,
      compact({ timeoutMs })
    ),
  ack: (msgId: number) => spec<Record<string, never>>(Op.Op.ACK, { msgId }),
  log: (level: string, msg: string, fields?: Record<string, unknown>) =>
    spec<Record<string, never>>(Op.Op.LOG, compact({ level, msg, fields })),
  heartbeat: () => spec<Record<string, never>>(Op.Op.HEARTBEAT, {}),
  /** Null when the kernel runs no tree. */
  tree: () => spec<Rows.TreeNode | null>(Op.Op.TREE, {})
} as const

/** The table's type. @category models */
export type Calls = typeof calls

/** The result type of a call in the table. @category models */
export type ResultOf<K extends keyof Calls> = ReturnType<Calls[K]> extends CallSpec<infer R> ? R : never

/** Builds the typed calls over a function that runs one CallSpec. @category constructors */
export const bind = <T>(run: (spec: CallSpec<unknown>) => unknown): T =>
  Object.fromEntries(
    Object.entries(calls).map((
      [name, make]
    ) => [name, (...args: Array<unknown>) => run((make as (...a: Array<unknown>) => CallSpec<unknown>)(...args))])
  ) as T
