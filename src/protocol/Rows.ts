/**
 * What LIST and TREE answer, one row or node at a time: an agent of the process table as LIST
 * shows it, and a node of the supervision tree as TREE shows it. The kernel builds them
 * (process/Agents.ts's `row`, the supervisors' `tree()`); the clients and the views (`agentos
 * ps`, `tree`, `top`, the observer) read them. One shape on both sides of the socket.
 */
import { Schema } from "effect"

// ---------------------------------------------------------------------------------------------
// LIST
// ---------------------------------------------------------------------------------------------

/** An agent's state as LIST shows it (process/AgentStatus.ts says which are alive). @category models */
export const Status = Schema.Literals(["starting", "running", "stopping", "exited", "failed"])

/** An agent's state as LIST shows it. @category models */
export type Status = typeof Status.Type

/** A mailbox's figures as LIST shows them: messages waiting, and received but not yet acked. @category models */
export const MailboxFigures = Schema.Struct({
  depth: Schema.Number,
  inFlight: Schema.Number
})

/** A mailbox's figures. @category models */
export type MailboxFigures = typeof MailboxFigures.Type

/**
 * One agent of the process table as the kernel reports it (Agents.row): LIST's row without its
 * mailbox, which the observer reads too.
 * @category models
 */
export const AgentRow = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  pid: Schema.NullOr(Schema.Number),
  status: Status,
  /** Its supervisor's restart count when this incarnation started. */
  restarts: Schema.Number,
  /** The supervisor (path) or agent (name) it belongs to. */
  parent: Schema.NullOr(Schema.String),
  /** Since it started; until it ended, once it has. */
  uptimeMs: Schema.Number,
  memoryBytes: Schema.NullOr(Schema.Number),
  /** Its memory limit (memory.max, or the watchdog's); null when unlimited, or once it has ended. */
  memoryLimitBytes: Schema.NullOr(Schema.Number),
  /** CPU time used, µs: live while it runs, its last figure once it has ended. */
  cpuUs: Schema.NullOr(Schema.Number),
  /** How it ended (ExitReason.describe); null while it has not. */
  reason: Schema.NullOr(Schema.String)
})

/** One agent of the process table. @category models */
export type AgentRow = typeof AgentRow.Type

/** One row of LIST: the agent, and its mailbox (null before anything is sent to it or received by it). @category models */
export const ListRow = Schema.Struct({
  ...AgentRow.fields,
  mailbox: Schema.NullOr(MailboxFigures)
})

/** One row of LIST. @category models */
export type ListRow = typeof ListRow.Type

// ---------------------------------------------------------------------------------------------
// TREE
// ---------------------------------------------------------------------------------------------

/** How a supervisor restarts its children (OTP's strategies). @category models */
export type Strategy = "one_for_one" | "one_for_all" | "rest_for_one" | "simple_one_for_one"

/** Every strategy, in OTP's order. @category models */
export const strategies: ReadonlyArray<Strategy> = ["one_for_one", "one_for_all", "rest_for_one", "simple_one_for_one"]

/** When a child that ended is restarted: always, only after an abnormal end, never. @category models */
export type RestartType = "permanent" | "transient" | "temporary"

/** Every restart type. @category models */
export const restartTypes: ReadonlyArray<RestartType> = ["permanent", "transient", "temporary"]

/** A node of TREE's answer. @category models */
export interface TreeNode {
  readonly name: string
  readonly path: string
  readonly kind: "supervisor" | "agent" | "service"
  readonly state: string
  readonly pid: number | null
  readonly restarts: number
  readonly reason: string | null
  /** Its restart type as a child (absent for a tree's root): a `temporary` one cannot come back once terminated. */
  readonly restart?: RestartType
  readonly strategy?: Strategy
  readonly children?: ReadonlyArray<TreeNode>
}

/** The first node of a tree, depth first, that `matches`; undefined when none does. @category constructors */
export const findNode = (node: TreeNode | null, matches: (node: TreeNode) => boolean): TreeNode | undefined => {
  if (node === null) return undefined
  if (matches(node)) return node
  for (const child of node.children ?? []) {
    const found = findNode(child, matches)
    if (found !== undefined) return found
  }
  return undefined
}
