/**
 * The LLM contention demo's cast and its judgement, kept pure so the demo and its test share
 * them: the ten agents (weights, limits, answer lengths), Jain's fairness index, the closing
 * table (Agent | Weight | Limits | Requests | Tokens | Share | Latency | Throttled) and the
 * verdict lines, each decided from the kernel's figures (STAT's `llm`) and what the agents and
 * the upstream saw — never printed unconditionally.
 */
import type * as LlmStats from "../../src/llm/LlmStats.ts"

/** One agent of the demo. */
export interface Cast {
  readonly name: string
  readonly role: string
  readonly weight: number
  readonly rpm?: number
  readonly tpm?: number
  readonly budget?: number
  /** Output tokens each of its requests asks for. */
  readonly maxTokens: number
  /** Whether it asks THINK to stream its answers. */
  readonly stream?: boolean
}

/** Ten agents: seven share by weight, three are held by their own limits. */
export const cast: ReadonlyArray<Cast> = [
  { name: "planner", role: "weight 4", weight: 4, maxTokens: 96 },
  { name: "coder", role: "weight 2", weight: 2, maxTokens: 64 },
  { name: "reviewer", role: "weight 2", weight: 2, maxTokens: 48 },
  { name: "researcher", role: "weight 1", weight: 1, maxTokens: 48 },
  { name: "writer", role: "weight 1, streams", weight: 1, maxTokens: 48, stream: true },
  { name: "tester", role: "weight 1", weight: 1, maxTokens: 32 },
  { name: "summarizer", role: "weight 1, short answers", weight: 1, maxTokens: 12 },
  { name: "chatty", role: "6 requests/min", weight: 1, rpm: 6, maxTokens: 48 },
  { name: "bulk", role: "600 tokens/min", weight: 1, tpm: 600, maxTokens: 96 },
  { name: "intern", role: "budget 600 tokens", weight: 1, budget: 600, maxTokens: 48 }
]

/** Whether an agent runs under a limit of its own (its share is then not its weight's). */
export const limited = (c: Cast): boolean => c.rpm !== undefined || c.tpm !== undefined || c.budget !== undefined

/** Jain's fairness index: 1 when every x is equal, 1/n when one takes everything. */
export const jain = (xs: ReadonlyArray<number>): number => {
  const sum = xs.reduce((a, b) => a + b, 0)
  const squares = xs.reduce((a, b) => a + b * b, 0)
  return squares === 0 ? 1 : (sum * sum) / (xs.length * squares)
}

/** What an agent said of itself in its last line (`RESULT {...}`). */
export interface AgentResult {
  readonly answered: number
  readonly refused: number
  readonly failed: number
  readonly chunks: number
  readonly streamed: number
  readonly refusal: string | null
}

/** What the upstream server counted while the agents ran, when the demo runs over it. */
export interface Upstream {
  readonly capacity: number
  /** Requests it answered, and those it refused for being past its capacity (503). */
  readonly answered: number
  readonly refused: number
  readonly maxActive: number
  readonly busySlotMs: number
  readonly elapsedMs: number
}

/** Everything the judgement looks at. */
export interface Evidence {
  readonly llm: LlmStats.Snapshot
  readonly results: ReadonlyMap<string, AgentResult>
  /** How long the agents kept the LLM busy, ms. */
  readonly windowMs: number
  readonly upstream: Upstream | undefined
}

const tokensOf = (a: LlmStats.AgentSnapshot | undefined) => (a === undefined ? 0 : a.inputTokens + a.outputTokens)
const ms = (v: number | null) => (v === null ? "-" : `${Math.round(v)} ms`)

const limitsText = (c: Cast) =>
  [c.rpm === undefined ? "" : `${c.rpm} req/min`, c.tpm === undefined ? "" : `${c.tpm} tok/min`, c.budget === undefined ? "" : `budget ${c.budget}`]
    .filter((s) => s !== "")
    .join(", ") || "-"

/** The closing table, one row per agent, from the kernel's figures. */
export const table = (evidence: Evidence): string => {
  const byName = new Map(evidence.llm.agents.map((a) => [a.agent, a]))
  const total = cast.reduce((sum, c) => sum + tokensOf(byName.get(c.name)), 0)
  const header = ["Agent", "Weight", "Limits", "Requests", "Tokens", "Share", "Latency p50/p99", "Throttled"]
  const rows = cast.map((c) => {
    const a = byName.get(c.name)
    const tokens = tokensOf(a)
    const how = a === undefined
      ? []
      : [a.throttled > 0 ? `${a.throttled} waited` : "", a.rateLimited > 0 ? `${a.rateLimited} refused (ERATE)` : ""].filter((s) => s !== "")
    const throttled = a === undefined ? "-" : how.length === 0 ? "no" : `yes: ${how.join(", ")}`
    return [
      c.name,
      String(a?.weight ?? c.weight),
      limitsText(c),
      a === undefined ? "0" : String(a.completed),
      String(tokens),
      total === 0 ? "-" : `${((100 * tokens) / total).toFixed(1)}%`,
      a === undefined ? "-" : `${ms(a.latencyMs.p50)} / ${ms(a.latencyMs.p99)}`,
      throttled
    ]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n")
}

/** One verdict: what was checked and whether it held. */
export interface Verdict {
  readonly ok: boolean
  readonly line: string
}

/** The verdicts, each from the evidence. */
export const verdicts = (evidence: Evidence): ReadonlyArray<Verdict> => {
  const byName = new Map(evidence.llm.agents.map((a) => [a.agent, a]))
  const get = (name: string) => byName.get(name)
  const out: Array<Verdict> = []
  const minutes = evidence.windowMs / 60_000

  // Fairness by tokens per unit of weight, over the agents no limit of their own held back.
  const free = cast.filter((c) => !limited(c))
  const perWeight = free.map((c) => tokensOf(get(c.name)) / c.weight)
  const index = jain(perWeight)
  out.push({
    ok: index >= 0.95 && perWeight.every((x) => x > 0),
    line: `Jain's fairness index over tokens/weight of the ${free.length} agents without limits of their own: ${index.toFixed(4)}` +
      (index >= 0.95 ? " (fair: 1 is perfectly fair)" : " (NOT fair: goal ≥ 0.95)")
  })

  // Weights: each weight class against the weight-1 agents' mean.
  const base = free.filter((c) => c.weight === 1).map((c) => tokensOf(get(c.name)))
  const baseMean = base.reduce((a, b) => a + b, 0) / Math.max(1, base.length)
  for (const w of [...new Set(free.map((c) => c.weight))].filter((w) => w !== 1).sort((a, b) => b - a)) {
    const names = free.filter((c) => c.weight === w).map((c) => c.name)
    const mean = names.reduce((sum, n) => sum + tokensOf(get(n)), 0) / names.length
    const ratio = baseMean === 0 ? 0 : mean / baseMean
    const ok = Math.abs(ratio - w) / w <= 0.2
    out.push({
      ok,
      line: `weight ${w} (${names.join(", ")}) served ${ratio.toFixed(2)}× the tokens of a weight-1 agent` +
        (ok ? ` (weights honoured: ${w}×)` : ` (weights NOT honoured: expected ${w}× ± 20%)`)
    })
  }

  // Fair by tokens, not by requests: short answers get more requests, not more tokens.
  const short = get("summarizer")
  const long = get("researcher")
  if (short !== undefined && long !== undefined && long.completed > 0) {
    const tokenRatio = tokensOf(short) / Math.max(1, tokensOf(long))
    const requestRatio = short.completed / long.completed
    // Served alike by tokens (±15%), the short answers come as more requests: about 1.6× with
    // these answer lengths, 1× if the scheduler were fair by requests. Past 1.25 is clearly the
    // former; 1.5 failed runs that were fair by tokens (0.89× tokens, 1.45× requests).
    const ok = Math.abs(tokenRatio - 1) <= 0.15 && requestRatio > 1.25
    out.push({
      ok,
      line: `summarizer (12-token answers) made ${requestRatio.toFixed(1)}× researcher's requests for ${tokenRatio.toFixed(2)}× its tokens` +
        (ok ? " (fair by tokens served, not by requests)" : " (NOT fair by tokens: expected about 1× the tokens)")
    })
  }

  // Own limits.
  const chatty = get("chatty")
  if (chatty !== undefined) {
    const bound = 6 + Math.ceil(6 * minutes)
    const ok = chatty.throttled > 0 && chatty.completed + chatty.inFlight <= bound
    out.push({
      ok,
      line: `chatty (6 requests/min): ${chatty.completed} answered, ${chatty.throttled} held back by its limit` +
        (ok ? ` (held to its rate: at most ${bound} in ${(evidence.windowMs / 1000).toFixed(0)} s)` : ` (NOT held: bound ${bound}, throttled ${chatty.throttled})`)
    })
  }
  const bulk = get("bulk")
  const bulkCast = cast.find((c) => c.name === "bulk")!
  if (bulk !== undefined) {
    // The bucket starts full; one request's estimate may overdraw it (corrected afterwards).
    const bound = 600 + 600 * minutes + 16 + bulkCast.maxTokens
    const ok = bulk.throttled > 0 && tokensOf(bulk) <= bound
    out.push({
      ok,
      line: `bulk (600 tokens/min): ${tokensOf(bulk)} tokens, ${bulk.throttled} requests held back` +
        (ok ? ` (held to its rate: at most ${Math.round(bound)})` : ` (NOT held: bound ${Math.round(bound)})`)
    })
  }
  const intern = get("intern")
  const internResult = evidence.results.get("intern")
  if (intern !== undefined) {
    const spent = tokensOf(intern)
    // Admission stops it once the budget is spent; the last request admitted may overshoot by one.
    const ok = intern.rateLimited > 0 && spent >= 600 && spent <= 600 + 16 + 48 && internResult?.refusal === "ERATE"
    out.push({
      ok,
      line: `intern (budget 600 tokens): spent ${spent}, then ${intern.rateLimited} THINK refused with ${internResult?.refusal ?? "nothing"}` +
        (ok ? " (stopped at its budget)" : " (NOT stopped at its budget)")
    })
  }

  // Streaming.
  const writer = evidence.results.get("writer")
  if (writer !== undefined) {
    const ok = writer.streamed > 0 && writer.chunks >= writer.streamed
    out.push({
      ok,
      line: `writer streamed ${writer.streamed} answers as ${writer.chunks} chunks` + (ok ? " (text sent as it arrived)" : " (NO chunks arrived)")
    })
  }

  // Cancellation: agents left with requests queued or running when they exited.
  const cancelled = evidence.llm.agents.reduce((sum, a) => sum + a.cancelled, 0)
  const leftover = evidence.llm.inFlight + evidence.llm.queued
  out.push({
    ok: cancelled > 0 && leftover === 0,
    line: `agents exited with ${cancelled} requests still queued or running: the kernel dropped or aborted them` +
      (leftover === 0 ? " (nothing left queued or in flight)" : ` (BUT ${leftover} are still queued or in flight)`)
  })

  // The upstream, when it is the test server: bounded and busy.
  if (evidence.upstream !== undefined) {
    const u = evidence.upstream
    const utilisation = u.busySlotMs / (u.capacity * u.elapsedMs)
    const ok = u.refused === 0 && u.maxActive <= u.capacity && u.answered > 0
    out.push({
      ok,
      line: `upstream answered ${u.answered} requests, at most ${u.maxActive} at once; past ${u.capacity} it answers 503, and it refused ${u.refused}` +
        (ok ? " (the kernel held everything else in its own queue)" : " (the kernel sent it MORE than it can take)")
    })
    out.push({
      ok: utilisation >= 0.9,
      line: `upstream busy ${(utilisation * 100).toFixed(1)}% of its capacity while the agents ran` +
        (utilisation >= 0.9 ? " (work-conserving: limits did not idle it)" : " (idle too often: goal ≥ 90%)")
    })
  }
  return out
}
