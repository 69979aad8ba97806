/**
 * The LLM contention demo's judgement (examples/llm-contention/report.ts): every verdict line
 * follows from the figures it is given, so figures that break a property turn its line into a
 * failure. Pure: made-up kernel snapshots, no kernel.
 */
import { describe, expect, it } from "vitest"
import * as Report from "../../examples/llm-contention/report.ts"
import type * as LlmStats from "../../src/llm/LlmStats.ts"

const agent = (name: string, tokens: number, extra: Partial<LlmStats.AgentSnapshot> = {}): LlmStats.AgentSnapshot => ({
  agent: name,
  weight: Report.cast.find((c) => c.name === name)?.weight ?? 1,
  requests: Math.ceil(tokens / 60),
  completed: Math.ceil(tokens / 60),
  inFlight: 0,
  queued: 0,
  inputTokens: Math.round(tokens / 4),
  outputTokens: tokens - Math.round(tokens / 4),
  queueWaitMs: { p50: 100, p99: 300 },
  latencyMs: { p50: 200, p99: 400 },
  throttled: 0,
  rateLimited: 0,
  errors: 0,
  cancelled: 3,
  retries: 0,
  virtualTokens: 0,
  limits: { rpm: null, tpm: null, budget: null, budgetLeft: null },
  ...extra
})

/** Figures of a run where every property held (12 s window). */
const fair = (): Map<string, LlmStats.AgentSnapshot> => new Map([
  ["planner", agent("planner", 6000)],
  ["coder", agent("coder", 3000)],
  ["reviewer", agent("reviewer", 3000)],
  ["researcher", agent("researcher", 1500, { completed: 25 })],
  ["writer", agent("writer", 1500)],
  ["tester", agent("tester", 1500)],
  ["summarizer", agent("summarizer", 1500, { completed: 50 })],
  ["chatty", agent("chatty", 400, { completed: 7, throttled: 2 })],
  ["bulk", agent("bulk", 700, { throttled: 3 })],
  ["intern", agent("intern", 612, { rateLimited: 1 })]
])

const evidence = (agents: Map<string, LlmStats.AgentSnapshot>, overrides: Partial<Report.Evidence> = {}): Report.Evidence => ({
  llm: { policy: "vtc", maxInFlight: 2, inFlight: 0, queued: 0, requests: 0, completed: 0, inputTokens: 0, outputTokens: 0, agents: [...agents.values()] },
  results: new Map([
    ["writer", { answered: 25, refused: 0, failed: 0, chunks: 600, streamed: 25, refusal: null }],
    ["intern", { answered: 10, refused: 1, failed: 0, chunks: 0, streamed: 0, refusal: "ERATE" }]
  ]),
  windowMs: 12_000,
  upstream: { capacity: 2, answered: 400, refused: 0, maxActive: 2, busySlotMs: 23_000, elapsedMs: 12_000 },
  ...overrides
})

const failed = (e: Report.Evidence) => Report.verdicts(e).filter((v) => !v.ok).map((v) => v.line)

describe("the contention demo's verdicts", () => {
  it("all hold on figures where every property held, and the table has a row per agent", () => {
    const e = evidence(fair())
    expect(failed(e)).toEqual([])
    expect(Report.verdicts(e)[0]!.line).toMatch(/Jain's fairness index .*: 1\.0000 \(fair/)
    const lines = Report.table(e).split("\n")
    expect(lines).toHaveLength(2 + Report.cast.length)
    expect(lines[2]).toMatch(/^planner\s+4\s+-\s+100\s+6000\s+30\.\d%\s+200 ms \/ 400 ms\s+no$/)
    expect(lines.find((l) => l.startsWith("intern"))).toMatch(/yes: 1 refused \(ERATE\)$/)
  })

  it("fail when weights are ignored: equal tokens for everyone", () => {
    const agents = fair()
    for (const name of ["planner", "coder", "reviewer"]) agents.set(name, agent(name, 1500))
    const lines = failed(evidence(agents))
    expect(lines.some((l) => /Jain's fairness index .* \(NOT fair/.test(l))).toBe(true)
    expect(lines.some((l) => /weight 4 .*NOT honoured/.test(l))).toBe(true)
    expect(lines.some((l) => /weight 2 .*NOT honoured/.test(l))).toBe(true)
  })

  it("fail when service is fair by requests instead of tokens", () => {
    const agents = fair()
    agents.set("summarizer", agent("summarizer", 400, { completed: 25 }))
    expect(failed(evidence(agents)).some((l) => /summarizer .*NOT fair by tokens/.test(l))).toBe(true)
  })

  it("fail when an agent's own limits did not hold", () => {
    const agents = fair()
    agents.set("chatty", agent("chatty", 2000, { completed: 30, throttled: 0 }))
    agents.set("bulk", agent("bulk", 3000, { throttled: 1 }))
    agents.set("intern", agent("intern", 1400, { rateLimited: 1 }))
    const lines = failed(evidence(agents))
    expect(lines.some((l) => l.startsWith("chatty") && l.includes("NOT held"))).toBe(true)
    expect(lines.some((l) => l.startsWith("bulk") && l.includes("NOT held"))).toBe(true)
    expect(lines.some((l) => l.startsWith("intern") && l.includes("NOT stopped"))).toBe(true)
  })

  it("fail when nothing streamed, requests were left behind, or the upstream was overrun or idle", () => {
    const e = evidence(fair(), {
      results: new Map([["writer", { answered: 25, refused: 0, failed: 0, chunks: 0, streamed: 25, refusal: null }]]),
      upstream: { capacity: 2, answered: 400, refused: 4, maxActive: 3, busySlotMs: 12_000, elapsedMs: 12_000 }
    })
    const lines = failed({ ...e, llm: { ...e.llm, queued: 2 } })
    expect(lines.some((l) => /writer .*NO chunks/.test(l))).toBe(true)
    expect(lines.some((l) => /BUT 2 are still queued or in flight/.test(l))).toBe(true)
    expect(lines.some((l) => /refused 4 .*MORE than it can take/.test(l))).toBe(true)
    expect(lines.some((l) => /busy 50\.0% .*idle too often/.test(l))).toBe(true)
  })
})
