/**
 * What the web observer shows, as plain data: the supervision tree, each agent's figures with
 * its recent CPU and memory samples (the sparklines), the LLM scheduler's per-agent shares, and
 * the recent lifecycle events with escalations kept apart so they do not scroll away. The
 * observer samples the process table once a second into a History and builds a Snapshot from
 * it; both are pure, so they are tested without a kernel.
 */
import type { LifecycleEvent, SupervisorReport } from "../process/Events.ts"
import type * as LlmStats from "../llm/LlmStats.ts"
import { isAlive } from "../process/AgentStatus.ts"
import type * as Rows from "../protocol/Rows.ts"
import type { TreeNode } from "../protocol/Rows.ts"
import * as Units from "../text/Units.ts"

/** Samples kept per agent: a minute at one a second. */
export const HISTORY = 60
/** Lifecycle events kept for the page; escalations are kept apart. */
export const RECENT_EVENTS = 100
export const RECENT_ESCALATIONS = 20

/** A row of the process table as the observer shows it: LIST's row (protocol/Rows.ts), its mailbox when it has the figure. @category models */
export type AgentRow = Rows.AgentRow & { readonly mailbox?: Rows.MailboxFigures | null }

/** Recent samples of one agent (oldest first); null where it had no process or no figure. @category models */
export interface Series {
  readonly cpuPercent: ReadonlyArray<number | null>
  readonly memoryBytes: ReadonlyArray<number | null>
}

interface MutableSeries {
  id: string
  cpuUs: number | null
  time: number
  readonly cpuPercent: Array<number | null>
  readonly memoryBytes: Array<number | null>
}

const push = <A>(values: Array<A>, value: A) => {
  values.push(value)
  if (values.length > HISTORY) values.shift()
}

/**
 * Per-agent CPU and memory samples, by agent name (so a restarted agent keeps one line).
 * CPU % is the cgroup's CPU time over the wall time between two samples of the same
 * incarnation: 100 is one core busy.
 * @category models
 */
export class History {
  private readonly series = new Map<string, MutableSeries>()

  /** Adds one sample per agent of `rows`, taken at `now` (ms); forgets agents no longer listed. */
  record(rows: ReadonlyArray<AgentRow>, now: number): void {
    const seen = new Set<string>()
    for (const row of rows) {
      seen.add(row.name)
      let series = this.series.get(row.name)
      if (series === undefined) {
        series = { id: row.id, cpuUs: null, time: now, cpuPercent: [], memoryBytes: [] }
        this.series.set(row.name, series)
      }
      const running = isAlive(row.status)
      const sameIncarnation = series.id === row.id
      const cpu = running && sameIncarnation && series.cpuUs !== null && row.cpuUs !== null
        ? Units.cpuPercentOf(row.cpuUs - series.cpuUs, now - series.time)
        : null
      push(series.cpuPercent, cpu)
      push(series.memoryBytes, running ? row.memoryBytes : null)
      series.id = row.id
      series.cpuUs = running ? row.cpuUs : null
      series.time = now
    }
    for (const name of [...this.series.keys()]) if (!seen.has(name)) this.series.delete(name)
  }

  /** An agent's samples, oldest first (empty when it was never sampled). */
  of(name: string): Series {
    const series = this.series.get(name)
    return series === undefined ? { cpuPercent: [], memoryBytes: [] } : { cpuPercent: [...series.cpuPercent], memoryBytes: [...series.memoryBytes] }
  }
}

/**
 * The lifecycle events the page lists, newest last, and the escalations, kept apart.
 * @category models
 */
export class Recent {
  readonly events: Array<LifecycleEvent> = []
  readonly escalations: Array<SupervisorReport> = []

  add(event: LifecycleEvent): void {
    this.events.push(event)
    if (this.events.length > RECENT_EVENTS) this.events.shift()
    if (event.type === "agentos.supervisor.escalated") {
      this.escalations.push(event)
      if (this.escalations.length > RECENT_ESCALATIONS) this.escalations.shift()
    }
  }
}

/** One agent as the page shows it. @category models */
export interface AgentView {
  readonly name: string
  readonly id: string
  /** Its place in the supervision tree, when a supervisor started it. */
  readonly path: string | null
  readonly pid: number | null
  readonly status: string
  readonly restarts: number
  readonly uptimeMs: number
  /** The latest CPU sample (null until two samples of one incarnation exist). */
  readonly cpuPercent: number | null
  readonly memoryBytes: number | null
  readonly memoryLimitBytes: number | null
  readonly mailbox: { readonly depth: number; readonly inFlight: number } | null
  readonly history: Series
}

/** One agent's part of the LLM. @category models */
export interface LlmShare {
  readonly agent: string
  readonly weight: number
  /** Tokens served to it (input + output). */
  readonly tokens: number
  /** Its fraction (0–1) of all tokens served; 0 when none were. */
  readonly share: number
  readonly queued: number
  readonly inFlight: number
  readonly requests: number
  readonly completed: number
}

/** The LLM scheduler as the page shows it. @category models */
export interface LlmView {
  readonly policy: string
  readonly inFlight: number
  readonly maxInFlight: number
  readonly queued: number
  readonly tokens: number
  /** Most tokens first. */
  readonly agents: ReadonlyArray<LlmShare>
}

/** Everything the page shows at one moment. @category models */
export interface Snapshot {
  readonly time: number
  readonly tree: TreeNode | null
  readonly agents: ReadonlyArray<AgentView>
  readonly llm: LlmView
  readonly events: ReadonlyArray<LifecycleEvent>
  readonly escalations: ReadonlyArray<SupervisorReport>
}

/** The inputs of a snapshot. @category models */
export interface Inputs {
  readonly now: number
  readonly tree: TreeNode | null
  readonly rows: ReadonlyArray<AgentRow>
  readonly llm: LlmStats.Snapshot
  readonly history: History
  readonly recent: Recent
}

/** Agent name → its path in the tree (agents' names are unique while they run). */
const agentPaths = (node: TreeNode | null, into = new Map<string, string>()): Map<string, string> => {
  if (node === null) return into
  if (node.kind === "agent") into.set(node.name, node.path)
  for (const child of node.children ?? []) agentPaths(child, into)
  return into
}

/** The LLM view of the scheduler's figures. @category constructors */
export const llmView = (stats: LlmStats.Snapshot): LlmView => {
  const tokens = stats.agents.reduce((sum, a) => sum + a.inputTokens + a.outputTokens, 0)
  const agents = stats.agents
    .map((a): LlmShare => {
      const served = a.inputTokens + a.outputTokens
      return {
        agent: a.agent,
        weight: a.weight,
        tokens: served,
        share: tokens === 0 ? 0 : served / tokens,
        queued: a.queued,
        inFlight: a.inFlight,
        requests: a.requests,
        completed: a.completed
      }
    })
    .sort((a, b) => b.tokens - a.tokens || a.agent.localeCompare(b.agent))
  return { policy: stats.policy, inFlight: stats.inFlight, maxInFlight: stats.maxInFlight, queued: stats.queued, tokens, agents }
}

/** Builds the page's snapshot. @category constructors */
export const snapshot = (inputs: Inputs): Snapshot => {
  const paths = agentPaths(inputs.tree)
  const agents = inputs.rows
    .map((row): AgentView => {
      const history = inputs.history.of(row.name)
      return {
        name: row.name,
        id: row.id,
        path: paths.get(row.name) ?? null,
        pid: row.pid,
        status: row.status,
        restarts: row.restarts,
        uptimeMs: row.uptimeMs,
        cpuPercent: history.cpuPercent.at(-1) ?? null,
        memoryBytes: row.memoryBytes,
        memoryLimitBytes: row.memoryLimitBytes ?? null,
        mailbox: row.mailbox ?? null,
        history
      }
    })
    .sort((a, b) => a.name.localeCompare(b.name))
  return {
    time: inputs.now,
    tree: inputs.tree,
    agents,
    llm: llmView(inputs.llm),
    events: [...inputs.recent.events],
    escalations: [...inputs.recent.escalations]
  }
}
