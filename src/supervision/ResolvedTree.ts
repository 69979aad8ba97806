/**
 * A supervision tree after decoding: every node validated and every default filled (strategy,
 * intensity, shutdown, restart type, backoff), so the supervisor actor never guesses. Nodes are
 * named by their path from the root, `root/workers/crasher`, in events, logs and TREE.
 */
import type { Effect } from "effect"
import type { Sandbox } from "../process/AgentSpec.ts"
import type { OpName } from "../protocol/Op.ts"
import type * as Backoff from "./Backoff.ts"
import type * as RestartIntensity from "./RestartIntensity.ts"
import type { RestartType, Strategy } from "./Strategy.ts"

/** A supervisor and its children, in start order. @category models */
export interface ResolvedSupervisor {
  readonly _tag: "supervisor"
  readonly name: string
  readonly strategy: Strategy
  readonly intensity: RestartIntensity.Limits
  /** Its restart type as a child of its own supervisor (unused for the root). */
  readonly restart: RestartType
  /** How long its parent waits for it to stop its children; `infinity` by default, as in OTP. */
  readonly shutdown: "infinity" | number
  readonly children: ReadonlyArray<ResolvedChild>
}

/** An agent's LLM share and limits; null is no limit. @category models */
export interface ResolvedLlm {
  /** Its weight in the fair scheduler (tokens served are divided by it). */
  readonly weight: number
  /** Requests per minute. */
  readonly rpm: number | null
  /** Tokens per minute. */
  readonly tpm: number | null
  /** Tokens over its whole life. */
  readonly budget: number | null
  /** When given, the budget refills evenly over this many ms (absent: it never refills). */
  readonly budgetWindowMs?: number
}

/** An agent: an OS process in a sandbox. @category models */
export interface ResolvedAgent {
  readonly _tag: "agent"
  readonly name: string
  readonly run: string
  readonly args: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  /** Its working directory, or null for the kernel's choice. */
  readonly cwd: string | null
  readonly sandbox: Sandbox
  /** Syscalls granted on top of the defaults. */
  readonly caps: ReadonlyArray<OpName>
  readonly restart: RestartType
  /** `brutal_kill`, or ms between SIGTERM and SIGKILL (5000 by default). */
  readonly shutdown: "brutal_kill" | number
  /** Null: restarted at once. */
  readonly backoff: Backoff.Resolved | null
  /** Null: no watchdog. */
  readonly watchdogMs: number | null
  /** Its mailbox's bounds; what is left out takes ipc/Mailbox.ts's defaults. */
  readonly mailbox: { readonly maxMessages?: number; readonly maxBytes?: number }
  readonly llm: ResolvedLlm
}

/** A service: an Effect run as a fiber inside the kernel. @category models */
export interface ResolvedService {
  readonly _tag: "service"
  readonly name: string
  readonly effect: Effect.Effect<unknown, unknown, never>
  readonly restart: RestartType
  /** `brutal_kill` (interrupt at once), or ms to wait for its finalizers (5000 by default). */
  readonly shutdown: "brutal_kill" | number
}

/** Any child. @category models */
export type ResolvedChild = ResolvedSupervisor | ResolvedAgent | ResolvedService

/** A whole tree: its root supervisor. @category models */
export type ResolvedTree = ResolvedSupervisor

/** One node met by `walk`. @category models */
export interface Visit {
  readonly node: ResolvedChild
  /** `root/workers/crasher`. */
  readonly path: string
  /** The supervisor holding it; null for the root. */
  readonly parent: ResolvedSupervisor | null
  /** 0 for the root. */
  readonly depth: number
}

/** A child's path under its supervisor's path. @category constructors */
export const childPath = (parentPath: string, name: string): string => `${parentPath}/${name}`

/**
 * Every node, depth first in start order (a supervisor before its children): the order a tree
 * starts in; reversed, the order it stops in.
 *
 * @category constructors
 */
export function* walk(tree: ResolvedTree): Generator<Visit> {
  const visit = function* (node: ResolvedChild, path: string, parent: ResolvedSupervisor | null, depth: number): Generator<Visit> {
    yield { node, path, parent, depth }
    if (node._tag === "supervisor") {
      for (const child of node.children) yield* visit(child, childPath(path, child.name), node, depth + 1)
    }
  }
  yield* visit(tree, tree.name, null, 0)
}

/** Every node's path, in `walk` order. @category constructors */
export const paths = (tree: ResolvedTree): ReadonlyArray<string> => Array.from(walk(tree), (visit) => visit.path)

/** The node at a path (`root/workers/crasher`), if any. @category constructors */
export const find = (tree: ResolvedTree, path: string): ResolvedChild | undefined => {
  for (const visit of walk(tree)) if (visit.path === path) return visit.node
  return undefined
}
