/**
 * Per-agent LLM accounting, as STAT and `agentos llm` show it: requests, tokens in and out,
 * queue wait and latency (p50/p99 over the most recent requests), throttled and rate-limited
 * counts, errors, cancellations, retries. Pure records the scheduler updates; `table` renders
 * them as the `agentos llm` table (Agent | Weight | Requests | Tokens | Queue | Latency |
 * Throttled | Errors).
 */

/** Samples kept per figure: the most recent ones. */
const WINDOW = 1024

/** A sliding window of samples and its quantiles (nearest rank). @category models */
export class Samples {
  private readonly values: Array<number> = []
  private next = 0
  total = 0

  add(value: number): void {
    this.total++
    if (this.values.length < WINDOW) {
      this.values.push(value)
    } else {
      this.values[this.next] = value
      this.next = (this.next + 1) % WINDOW
    }
  }

  /** The q-quantile (0 < q ≤ 1) of the window, or null when it is empty. */
  quantile(q: number): number | null {
    if (this.values.length === 0) return null
    const sorted = [...this.values].sort((a, b) => a - b)
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
  }
}

/** The running figures of one agent. @category models */
export class AgentStats {
  /** Requests submitted. */
  requests = 0
  /** Requests answered. */
  completed = 0
  /** Requests that failed upstream (after retries) or timed out. */
  errors = 0
  /** Requests cancelled: withdrawn, or dropped because the agent was cancelled. */
  cancelled = 0
  /** Requests that had to wait for the agent's or the kernel's rate limits. */
  throttled = 0
  /** Requests refused with ERATE by the agent's limits or budget before reaching upstream. */
  rateLimited = 0
  /** Upstream retries (429/5xx). */
  retries = 0
  inputTokens = 0
  outputTokens = 0
  readonly queueWaitMs = new Samples()
  readonly latencyMs = new Samples()
}

/** A quantile pair. @category models */
export interface Quantiles {
  readonly p50: number | null
  readonly p99: number | null
}

/** One agent's figures, as STAT reports them. @category models */
export interface AgentSnapshot {
  readonly agent: string
  readonly weight: number
  readonly requests: number
  readonly completed: number
  readonly inFlight: number
  readonly queued: number
  readonly inputTokens: number
  readonly outputTokens: number
  /** From submission to dispatch upstream. */
  readonly queueWaitMs: Quantiles
  /** From submission to the answer, as the agent sees it. */
  readonly latencyMs: Quantiles
  readonly throttled: number
  readonly rateLimited: number
  readonly errors: number
  readonly cancelled: number
  readonly retries: number
  /** VTC's counter: service received, in tokens per unit of weight. */
  readonly virtualTokens: number
  readonly limits: {
    readonly rpm: number | null
    readonly tpm: number | null
    readonly budget: number | null
    readonly budgetLeft: number | null
  }
}

/** The scheduler's figures. @category models */
export interface Snapshot {
  readonly policy: "vtc" | "fifo"
  readonly maxInFlight: number
  readonly inFlight: number
  readonly queued: number
  readonly requests: number
  readonly completed: number
  readonly inputTokens: number
  readonly outputTokens: number
  readonly agents: ReadonlyArray<AgentSnapshot>
}

/** A quantile pair of a window. @category constructors */
export const quantiles = (samples: Samples): Quantiles => ({ p50: samples.quantile(0.5), p99: samples.quantile(0.99) })

const ms = (v: number | null): string => (v === null ? "-" : v < 10 ? `${v.toFixed(1)}ms` : `${Math.round(v)}ms`)

/** The `agentos llm` table: one row per agent, columns padded, a header first. @category constructors */
export const table = (snapshot: Snapshot): string => {
  const header = ["Agent", "Weight", "Requests", "Tokens (in/out)", "Queue p50/p99", "Latency p50/p99", "Throttled", "Errors"]
  const rows = snapshot.agents.map((a) => [
    a.agent,
    String(a.weight),
    a.inFlight + a.queued > 0 ? `${a.completed}/${a.requests} (${a.inFlight} running, ${a.queued} queued)` : `${a.completed}/${a.requests}`,
    `${a.inputTokens + a.outputTokens} (${a.inputTokens}/${a.outputTokens})`,
    `${ms(a.queueWaitMs.p50)}/${ms(a.queueWaitMs.p99)}`,
    `${ms(a.latencyMs.p50)}/${ms(a.latencyMs.p99)}`,
    String(a.throttled + a.rateLimited),
    String(a.errors)
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()
  const summary = `${snapshot.policy} · ${snapshot.inFlight}/${snapshot.maxInFlight} in flight · ${snapshot.queued} queued · ` +
    `${snapshot.completed} answered · ${snapshot.inputTokens + snapshot.outputTokens} tokens`
  return [line(header), ...rows.map(line), "", summary].join("\n")
}
