/**
 * What `agentos top` shows, as a pure function of what the kernel answered: the supervision
 * tree (TREE) joined with the process table (LIST) and the LLM scheduler's figures (STAT {}),
 * sorted without breaking the tree (siblings under their parent), cut to the terminal, the
 * selected row highlighted and scrolled into view; and what a key asks the kernel to do to the
 * selected row. The command (src/cli/top.ts) fetches, reads keys and acts; what it shows and
 * sends is decided here, so tests check frames and plans without a terminal.
 */
import type * as LlmStats from "../llm/LlmStats.ts"
import { Op } from "../protocol/Op.ts"
import type { ListRow, RestartType, TreeNode } from "../protocol/Rows.ts"
import { isAlive } from "../process/AgentStatus.ts"
import { isActive } from "../supervision/machines/TreeState.ts"
import { restartPlan } from "../supervision/SupervisorState.ts"
import * as Units from "../text/Units.ts"

// ---------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------

/** What rows are ordered by, siblings among siblings: start order (`tree`) or a figure. @category models */
export type SortKey = "tree" | "cpu" | "memory" | "restarts" | "name"

/** The order `s` cycles through. @category models */
export const sortKeys: ReadonlyArray<SortKey> = ["tree", "cpu", "memory", "restarts", "name"]

/** The sort key after `key`, as `s` steps. @category constructors */
export const nextSortKey = (key: SortKey): SortKey => sortKeys[(sortKeys.indexOf(key) + 1) % sortKeys.length]!

/** What the kernel answered at one moment: TREE, LIST, STAT {} (kernel id, LLM figures). @category models */
export interface Snapshot {
  /** When it was taken (ms), for CPU % against the previous sample. */
  readonly time: number
  readonly kernelId: string | null
  readonly tree: TreeNode | null
  readonly rows: ReadonlyArray<ListRow>
  readonly llm: LlmStats.Snapshot | null
}

/** Each agent's CPU time at a moment (by agent id: a restart is a new id), for the next CPU %. @category models */
export interface Sample {
  readonly time: number
  readonly cpuUs: ReadonlyMap<string, number>
}

/** What a row can be acted on as. @category models */
export type Target =
  /** A child of a supervisor: CHILD on its supervisor. */
  | {
    readonly _tag: "Child"
    readonly supervisor: string
    readonly name: string
    readonly path: string
    /** It has a process, or one to come: terminate before restart (OTP's restart_child). */
    readonly active: boolean
    /** A child of a simple_one_for_one supervisor: terminated, never restarted, by request. */
    readonly dynamic: boolean
    /** Its restart type: a temporary child's spec goes when it is terminated, so it cannot be restarted. */
    readonly restart: RestartType
  }
  /** An agent outside the tree: KILL. */
  | { readonly _tag: "Agent"; readonly name: string; readonly live: boolean }
  /** The root of the tree (init): nothing above it to ask. */
  | { readonly _tag: "Root"; readonly path: string }

/** One row of the table. @category models */
export interface Entry {
  /** Stable across frames and sort orders: the tree path, or `agent:NAME` outside the tree. */
  readonly key: string
  readonly depth: number
  /** Outside the supervision tree (a flat list after it). */
  readonly outside: boolean
  /** The cells, NAME already indented by depth. */
  readonly cells: ReadonlyArray<string>
  readonly target: Target
}

/** How the frame is drawn. @category models */
export interface View {
  /** Terminal columns; Infinity for no cut (a pipe). */
  readonly width: number
  /** Terminal rows, for the screen; ignored by `plain`. */
  readonly height: number
  readonly sort: SortKey
  /** The selected row's key; null for the first row. */
  readonly selected: string | null
  /** The first body row shown last frame (scrolling moves only as far as the selection needs). */
  readonly scroll: number
  /** The status line: a confirmation question, or the result of the last action. */
  readonly status: string
  /**
   * `screen`: exactly `height` lines, selection in inverse video, status and key lines;
   * `plain`: every row, no escape codes, no selection (`--once`, or stdout not a terminal).
   */
  readonly mode: "screen" | "plain"
}

/** A drawn frame, and what the command needs to move and act on the selection. @category models */
export interface Frame {
  readonly lines: ReadonlyArray<string>
  readonly entries: ReadonlyArray<Entry>
  /** The selected row's key after this frame (the first row when the old one went away). */
  readonly selected: string | null
  readonly scroll: number
}

// ---------------------------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------------------------


const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null)

/** The CPU sample of a snapshot, for the next frame. @category constructors */
export const sample = (snapshot: Snapshot): Sample => {
  const cpuUs = new Map<string, number>()
  for (const row of snapshot.rows) {
    const cpu = num(row.cpuUs)
    if (cpu !== null) cpuUs.set(row.id, cpu)
  }
  return { time: snapshot.time, cpuUs }
}

/**
 * An agent's CPU %: CPU time used between the previous sample and now over the wall time
 * between them (100 = one core). Without a previous sample of this incarnation (the first
 * frame, or it restarted since), the average over its life, as ps(1)'s %CPU; null when it has
 * no figure or no process.
 * @category constructors
 */
export const cpuPercent = (row: ListRow, previous: Sample | null, now: number): number | null => {
  const cpu = num(row.cpuUs)
  if (cpu === null || !isAlive(row.status)) return null
  const before = previous?.cpuUs.get(row.id)
  if (previous !== null && before !== undefined && now > previous.time) return Units.cpuPercentOf(cpu - before, now - previous.time)
  const uptime = num(row.uptimeMs)
  return uptime === null ? null : Units.cpuPercentOf(cpu, uptime)
}

/** `used/limit`, `max` for no limit (cgroup's word for it). */
const memoryCell = (row: ListRow): string => {
  const used = num(row.memoryBytes)
  if (used === null) return "-"
  return `${Units.bytes(used)}/${row.memoryLimitBytes === null ? "max" : Units.bytes(row.memoryLimitBytes)}`
}

/** A LIST row's mailbox, when it has one: `depth/inFlight` (waiting / received, not yet acked). */
const mailboxCell = (row: ListRow | undefined): string => {
  const mailbox = row?.mailbox
  return mailbox == null ? "-" : `${mailbox.depth}/${mailbox.inFlight}`
}

// ---------------------------------------------------------------------------------------------
// Rows, sorted within the tree
// ---------------------------------------------------------------------------------------------

const columns = ["NAME", "KIND", "STATE", "PID", "RESTARTS", "UPTIME", "CPU%", "MEM/LIMIT", "LLM-TOKENS", "LLM-Q", "MAILBOX"] as const
/** Numbers read right-aligned. */
const rightAligned = new Set<string>(["PID", "RESTARTS", "UPTIME", "CPU%", "MEM/LIMIT", "LLM-TOKENS", "LLM-Q", "MAILBOX"])
const sortColumn: Record<SortKey, string | null> = { tree: null, cpu: "CPU%", memory: "MEM/LIMIT", restarts: "RESTARTS", name: "NAME" }

/** A row with its figures for sorting, and (in the tree) its children. */
interface Item {
  readonly entry: Entry
  readonly name: string
  /** The row's own figures, summed over its subtree: a busy branch sorts before a quiet one. */
  cpu: number | null
  memory: number | null
  restarts: number
  readonly children: Array<Item>
}

const add = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : a + b)

const compare = (key: SortKey) => (a: Item, b: Item): number => {
  // Descending, a missing figure last; Array.prototype.sort is stable, so ties keep start order.
  const desc = (x: number | null, y: number | null) => (y ?? -1) - (x ?? -1)
  switch (key) {
    case "tree":
      return 0
    case "name":
      return a.name.localeCompare(b.name)
    case "cpu":
      return desc(a.cpu, b.cpu)
    case "memory":
      return desc(a.memory, b.memory)
    case "restarts":
      return b.restarts - a.restarts
  }
}

const flatten = (items: ReadonlyArray<Item>, key: SortKey, into: Array<Entry>): Array<Entry> => {
  for (const item of [...items].sort(compare(key))) {
    into.push(item.entry)
    flatten(item.children, key, into)
  }
  return into
}

/**
 * The rows of a snapshot in display order: the tree depth first, each agent joined with its
 * LIST row (by name, which the kernel keeps unique) and its LLM figures, siblings sorted among
 * themselves; then the agents outside the tree, sorted the same way.
 * @category constructors
 */
export const entries = (snapshot: Snapshot, previous: Sample | null, sort: SortKey): ReadonlyArray<Entry> => {
  const byName = new Map(snapshot.rows.map((r) => [r.name, r]))
  const llmByName = new Map((snapshot.llm?.agents ?? []).map((a) => [a.agent, a]))
  const shown = new Set<string>()

  const agentFigures = (row: ListRow | undefined, name: string) => {
    const llm = llmByName.get(name)
    const isLive = row !== undefined && isAlive(row.status)
    const cpu = row === undefined ? null : cpuPercent(row, previous, snapshot.time)
    const memory = isLive ? num(row.memoryBytes) : null
    return {
      cpu,
      memory,
      cells: [
        isLive ? Units.duration(row.uptimeMs) : "-",
        Units.percent(cpu),
        isLive ? memoryCell(row) : "-",
        llm === undefined ? "-" : String(llm.inputTokens + llm.outputTokens),
        llm === undefined ? "-" : `${llm.queued}/${llm.inFlight}`,
        mailboxCell(row)
      ]
    }
  }

  const visit = (node: TreeNode, parent: TreeNode | null, depth: number): Item => {
    const row = node.kind === "agent" ? byName.get(node.name) : undefined
    if (row !== undefined) shown.add(row.name)
    const figures = node.kind === "agent"
      ? agentFigures(row, node.name)
      : { cpu: null, memory: null, cells: ["-", "-", "-", "-", "-", "-"] }
    const target: Target = parent === null
      ? { _tag: "Root", path: node.path }
      : {
        _tag: "Child",
        supervisor: parent.path,
        name: node.name,
        path: node.path,
        active: isActive(node.state),
        dynamic: parent.strategy === "simple_one_for_one",
        restart: node.restart ?? "permanent"
      }
    const item: Item = {
      entry: {
        key: node.path,
        depth,
        outside: false,
        cells: [`${"  ".repeat(depth)}${node.name}`, node.kind, node.state, node.pid === null ? "-" : String(node.pid), String(node.restarts), ...figures.cells],
        target
      },
      name: node.name,
      cpu: figures.cpu,
      memory: figures.memory,
      restarts: node.restarts,
      children: (node.children ?? []).map((child) => visit(child, node, depth + 1))
    }
    for (const child of item.children) {
      item.cpu = add(item.cpu, child.cpu)
      item.memory = add(item.memory, child.memory)
      item.restarts += child.restarts
    }
    return item
  }

  const tree = snapshot.tree === null ? [] : [visit(snapshot.tree, null, 0)]
  const outside = snapshot.rows.filter((row) => !shown.has(row.name)).map((row): Item => {
    const figures = agentFigures(row, row.name)
    return {
      entry: {
        key: `agent:${row.name}`,
        depth: 0,
        outside: true,
        cells: [row.name, "agent", row.status, row.pid === null || !isAlive(row.status) ? "-" : String(row.pid), String(row.restarts), ...figures.cells],
        target: { _tag: "Agent", name: row.name, live: isAlive(row.status) }
      },
      name: row.name,
      cpu: figures.cpu,
      memory: figures.memory,
      restarts: row.restarts,
      children: []
    }
  })
  return [...flatten(tree, sort, []), ...flatten(outside, sort, [])]
}

// ---------------------------------------------------------------------------------------------
// The frame
// ---------------------------------------------------------------------------------------------

const INVERSE = "\x1b[7m"
const BOLD = "\x1b[1m"
const RESET = "\x1b[0m"

/** Lines above the body (summary, column titles) and below it (status, keys) on the screen. */
const CHROME_LINES = 4

/** How many table rows the screen has room for at a terminal height. @category constructors */
export const bodyHeight = (height: number): number => Math.max(1, height - CHROME_LINES)

/** The kernel totals: agents running of all, restarts, the LLM queue. */
const summary = (snapshot: Snapshot, restarts: number): string => {
  const running = snapshot.rows.filter((r) => r.status === "running").length
  const llm = snapshot.llm
  return [
    "agentos top",
    `kernel ${snapshot.kernelId ?? "-"}`,
    `agents ${running}/${snapshot.rows.length} running`,
    `restarts ${restarts}`,
    llm === null
      ? "LLM -"
      : `LLM ${llm.queued} queued, ${llm.inFlight} in flight, ${llm.inputTokens + llm.outputTokens} tokens`
  ].join("   ")
}

const totalRestarts = (snapshot: Snapshot, entries: ReadonlyArray<Entry>): number => {
  let total = 0
  const visit = (node: TreeNode) => {
    total += node.restarts
    for (const child of node.children ?? []) visit(child)
  }
  if (snapshot.tree !== null) visit(snapshot.tree)
  const outside = new Set(entries.flatMap((e) => (e.target._tag === "Agent" ? [e.target.name] : [])))
  for (const row of snapshot.rows) if (outside.has(row.name)) total += row.restarts
  return total
}

const cut = (line: string, width: number): string => (Number.isFinite(width) ? line.slice(0, Math.max(0, width)) : line)

/** The key of the row `delta` rows from the selected one, kept within the rows. @category constructors */
export const move = (rows: ReadonlyArray<Entry>, selected: string | null, delta: number): string | null => {
  if (rows.length === 0) return null
  const at = Math.max(0, rows.findIndex((e) => e.key === selected))
  return rows[Math.min(rows.length - 1, Math.max(0, at + delta))]!.key
}

/**
 * One frame: the kernel totals, the column titles (the sort column marked `*`), the rows
 * (agents outside the tree after a separator), then on the screen the status line and the keys.
 * Every line is cut to the width; on the screen the body scrolls just enough to keep the
 * selection in view.
 * @category constructors
 */
export const frame = (snapshot: Snapshot, previous: Sample | null, view: View): Frame => {
  const rows = entries(snapshot, previous, view.sort)
  const screen = view.mode === "screen"
  const titles = columns.map((c) => (c === sortColumn[view.sort] ? `${c}*` : c))
  // Room for the `*` under every sortable title, so columns do not shift when the sort changes.
  const widths = columns.map((c, i) =>
    Math.max(c.length + (Object.values(sortColumn).includes(c) ? 1 : 0), ...rows.map((r) => r.cells[i]!.length))
  )
  const align = (cells: ReadonlyArray<string>) =>
    cells.map((cell, i) => (rightAligned.has(columns[i]!) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join("  ").trimEnd()

  // The body: one line per row, a separator before the first agent outside the tree.
  const body: Array<{ readonly text: string; readonly row: number | null }> = []
  rows.forEach((entry, i) => {
    if (entry.outside && (i === 0 || !rows[i - 1]!.outside)) body.push({ text: "-- outside the tree --", row: null })
    body.push({ text: align(entry.cells), row: i })
  })
  if (rows.length === 0) body.push({ text: "(no supervision tree, no agents)", row: null })

  const head = [cut(summary(snapshot, totalRestarts(snapshot, rows)), view.width), cut(align(titles), view.width)]
  if (!screen) return { lines: [...head, ...body.map((l) => cut(l.text, view.width))], entries: rows, selected: null, scroll: 0 }

  const selected = rows.length === 0 ? null : rows.some((e) => e.key === view.selected) ? view.selected : rows[0]!.key
  const selectedLine = body.findIndex((l) => l.row !== null && rows[l.row]!.key === selected)
  const room = bodyHeight(view.height)
  let scroll = Math.min(Math.max(0, view.scroll), Math.max(0, body.length - room))
  if (selectedLine !== -1 && selectedLine < scroll) scroll = selectedLine
  if (selectedLine !== -1 && selectedLine >= scroll + room) scroll = selectedLine - room + 1
  // A separator just above the selected first row outside the tree comes into view with it.
  if (selectedLine > 0 && scroll === selectedLine && body[selectedLine - 1]!.row === null) scroll--

  const shown = body.slice(scroll, scroll + room).map((l) => {
    const text = cut(l.text, view.width)
    return l.row !== null && rows[l.row]!.key === selected ? `${INVERSE}${text.padEnd(view.width)}${RESET}` : text
  })
  while (shown.length < room) shown.push("")
  const position = rows.length === 0 ? "" : `   ${rows.findIndex((e) => e.key === selected) + 1}/${rows.length}`
  const keys = `j/k select   s sort: ${view.sort} (c m r n t)   R restart   x stop   q quit${position}`
  const lines = [
    head[0]!,
    `${BOLD}${head[1]!}${RESET}`,
    ...shown,
    cut(view.status, view.width),
    cut(keys, view.width)
  ]
  return { lines: lines.slice(0, Math.max(1, view.height)), entries: rows, selected, scroll }
}

// ---------------------------------------------------------------------------------------------
// Acting on the selection
// ---------------------------------------------------------------------------------------------

/** What a key asks for the selected row. @category models */
export type Action = "restart" | "stop"

/** A syscall to make. @category models */
export interface Call {
  readonly op: number
  readonly args: Readonly<Record<string, unknown>>
}

/** What an action on a row comes to: refused at once, or calls to make once confirmed. @category models */
export type Plan =
  | { readonly _tag: "Refused"; readonly message: string }
  | {
    readonly _tag: "Confirm"
    /** The question the status line asks; only `y` goes on. */
    readonly prompt: string
    /** Made in order; the first error stops them. */
    readonly calls: ReadonlyArray<Call>
    /** What the status line says once they all succeeded. */
    readonly done: string
  }

/**
 * The calls that restart or stop a row. A child of a supervisor goes through its supervisor,
 * as OTP's runtime API: stop is terminate_child; restart is restart_child, after
 * terminate_child when it is active (OTP refuses to restart a running child). An agent outside
 * the tree is stopped with KILL (SIGTERM, then SIGKILL after its grace period); nothing would
 * restart it.
 * A `temporary` child is not restarted: its spec is dropped once it is terminated (OTP's
 * del_child), so a restart would only stop it.
 * @category constructors
 */
export const plan = (target: Target, action: Action): Plan => {
  const confirm = (what: string, calls: ReadonlyArray<Call>): Plan => ({
    _tag: "Confirm",
    prompt: `${action} ${what}? [y/N]`,
    calls,
    done: `${action === "restart" ? "restarted" : "stopped"} ${what}`
  })
  switch (target._tag) {
    case "Root":
      return { _tag: "Refused", message: `${target.path} is the root of the tree: stop the kernel to stop it` }
    case "Agent":
      if (action === "restart") return { _tag: "Refused", message: `${target.name} is not supervised: nothing would restart it (x stops it)` }
      if (!target.live) return { _tag: "Refused", message: `${target.name} has already ended` }
      return confirm(target.name, [{ op: Op.KILL, args: { name: target.name } }])
    case "Child": {
      const child = (which: "terminate" | "restart"): Call => ({ op: Op.CHILD, args: { supervisor: target.supervisor, action: which, name: target.name } })
      if (action === "stop") {
        return target.active ? confirm(target.path, [child("terminate")]) : { _tag: "Refused", message: `${target.path} is not running` }
      }
      // The supervisor's own rule (SupervisorState.restartPlan), made as CHILD calls.
      const restart = restartPlan(target)
      if (restart._tag === "Refused") {
        return {
          _tag: "Refused",
          message: restart.because === "dynamic"
            ? `${target.path} is a dynamic child of a simple_one_for_one supervisor: it can be stopped (x), not restarted`
            : `${target.path} is temporary: once terminated it is gone, so it can be stopped (x), not restarted`
        }
      }
      return confirm(target.path, restart.terminateFirst ? [child("terminate"), child("restart")] : [child("restart")])
    }
  }
}
