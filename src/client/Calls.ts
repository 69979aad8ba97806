/**
 * The typed syscalls, declared once as data: each entry turns its arguments into an op and an
 * args map and names its result type. The Promise client and the Effect client are both built
 * from this table, so a syscall is added here and nowhere else.
 */
import * as Op from "../protocol/Op.ts"
import type * as Results from "../protocol/Results.ts"
import type * as Rows from "../protocol/Rows.ts"
import type * as Syscalls from "../protocol/Syscalls.ts"
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

/** Fields left undefined, as optional keys (they never travel as CBOR undefined). */
type Compact<T> =
  & { readonly [K in keyof T as undefined extends T[K] ? never : K]: T[K] }
  & { readonly [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined> }

/** Omits undefined fields, so optional args never travel as CBOR undefined. */
const compact = <T extends Record<string, unknown>>(fields: T): Compact<T> =>
  Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Compact<T>

type Args<S extends keyof typeof Syscalls> = (typeof Syscalls)[S] extends { readonly Type: infer T } ? T : never

/**
 * Every typed syscall. The args each builds are checked against the schema the kernel decodes
 * them with (protocol/Syscalls.ts, `satisfies`), and each names its answer's type
 * (protocol/Results.ts, protocol/Rows.ts). @category constructors
 */
export const calls = {
  hello: (name?: string) =>
    spec<HelloResult>(Op.Op.HELLO, compact({ version: PROTOCOL_VERSION, name }) satisfies Args<"HelloArgs">),
  noop: <A>(value?: A) => spec<A>(Op.Op.NOOP, value),
  list: () => spec<ReadonlyArray<Rows.ListRow>>(Op.Op.LIST, {}),
  think: (args: Args<"ThinkArgs">) => spec<Results.ThinkResult>(Op.Op.THINK, args),
  spawn: (args: Args<"SpawnArgs">) => spec<Results.SpawnResult>(Op.Op.SPAWN, args),
  kill: (target: string, signal?: string | number) =>
    spec<Results.KillResult>(Op.Op.KILL, compact({ name: target, signal }) satisfies Args<"KillArgs">),
  wait: (target: string, timeoutMs?: number) =>
    spec<Results.WaitResult>(Op.Op.WAIT, compact({ name: target, timeoutMs }) satisfies Args<"WaitArgs">),
  stat: (target: string) => spec<Record<string, unknown>>(Op.Op.STAT, { name: target } satisfies Args<"StatArgs">),
  send: (to: string, payload: unknown, nowait?: boolean) =>
    spec<Results.SendResult>(Op.Op.SEND, { to, payload, ...(nowait === undefined ? {} : { nowait }) } satisfies Args<"SendArgs">),
  recv: (timeoutMs?: number) => spec<Results.RecvResult>(Op.Op.RECV, compact({ timeoutMs }) satisfies Args<"RecvArgs">),
  ack: (msgId: number) => spec<Results.Empty>(Op.Op.ACK, { msgId } satisfies Args<"AckArgs">),
  log: (level: Args<"LogArgs">["level"], msg: string, fields?: Record<string, unknown>) =>
    spec<Results.Empty>(Op.Op.LOG, compact({ level, msg, fields }) satisfies Args<"LogArgs">),
  heartbeat: () => spec<Results.Empty>(Op.Op.HEARTBEAT, {}),
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
