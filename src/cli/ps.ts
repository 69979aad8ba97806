/**
 * `agentos ps`: the supervision tree (TREE) with each child's state, joined with the process
 * table (LIST) for pids, uptime and memory; agents spawned outside the tree follow. `--json`
 * prints LIST's rows.
 */
import { Console, Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { Client } from "../client/Client.ts"
import type { ListRow, TreeNode } from "../protocol/Rows.ts"
import * as Units from "../text/Units.ts"
import * as Shared from "./shared.ts"

const header = ["NAME", "KIND", "STATE", "PID", "RESTARTS", "UPTIME", "MEMORY", "REASON"]

/** Aligned columns; the last one runs free. */
const render = (rows: ReadonlyArray<ReadonlyArray<string>>): ReadonlyArray<string> => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  return [header, ...rows].map((cells) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd())
}

const agentCells = (name: string, kind: string, state: string, row: ListRow | undefined, restarts: number, reason: string | null): Array<string> => [
  name,
  kind,
  state,
  row?.pid == null ? "-" : String(row.pid),
  String(restarts),
  row === undefined ? "-" : Units.duration(row.uptimeMs),
  row === undefined ? "-" : Units.bytes(row.memoryBytes),
  reason !== null && state !== "running" ? reason : ""
]

/**
 * Renders the tree, leaves indented under their supervisor, each agent with its LIST row (its
 * current incarnation), then the agents not in the tree. @category constructors
 */
export const formatPs = (tree: TreeNode | null, rows: ReadonlyArray<ListRow>): string => {
  const byName = new Map(rows.map((r) => [r.name, r]))
  const shown = new Set<string>()
  const lines: Array<Array<string>> = []
  const walk = (node: TreeNode, depth: number) => {
    const row = node.kind === "agent" ? byName.get(node.name) : undefined
    if (row !== undefined) shown.add(row.name)
    lines.push(agentCells(`${"  ".repeat(depth)}${node.name}`, node.kind, node.state, row, node.restarts, node.reason))
    for (const child of node.children ?? []) walk(child, depth + 1)
  }
  if (tree !== null) walk(tree, 0)
  const outside = rows.filter((r) => !shown.has(r.name))
  for (const r of outside) lines.push(agentCells(r.name, "agent", r.status, r, r.restarts, r.reason))
  return render(lines).join("\n") + (tree === null && rows.length === 0 ? "\n(no agents)" : "")
}

export const ps = Command.make("ps", {
  socket: Shared.socket,
  verbose: Shared.verbose,
  json: Flag.Boolean("json").pipe(Flag.withDescription("print LIST's answer as JSON"), Flag.withDefault(false))
}, ({ socket, json }) =>
  Effect.gen(function* () {
    const client = yield* Client
    const rows = yield* client.list()
    if (json) return yield* Console.log(JSON.stringify(rows, null, 2))
    const tree = yield* client.tree()
    yield* Console.log(formatPs(tree, rows))
  }).pipe(Effect.provide(Shared.clientLayer(socket)))).pipe(Command.withDescription("Show the supervision tree and the kernel's agents: state, pid, restarts, uptime, memory"))
