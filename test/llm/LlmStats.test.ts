/** Quantiles over a sliding window, and the `agentos llm` table. */
import { describe, expect, it } from "vitest"
import * as LlmStats from "../../src/llm/LlmStats.ts"

describe("LlmStats", () => {
  it("computes nearest-rank p50 and p99", () => {
    const s = new LlmStats.Samples()
    expect(s.quantile(0.5)).toBeNull()
    for (let i = 100; i >= 1; i--) s.add(i)
    expect(LlmStats.quantiles(s)).toEqual({ p50: 50, p99: 99 })
  })

  it("keeps only the most recent 1024 samples", () => {
    const s = new LlmStats.Samples()
    for (let i = 0; i < 1024; i++) s.add(1_000)
    for (let i = 0; i < 1024; i++) s.add(1)
    expect(s.quantile(0.99)).toBe(1)
    expect(s.total).toBe(2048)
  })

  it("renders one row per agent under a header", () => {
    const agent = (name: string, weight: number): LlmStats.AgentSnapshot => ({
      agent: name,
      weight,
      requests: 3,
      completed: 2,
      inFlight: 1,
      queued: 0,
      inputTokens: 30,
      outputTokens: 70,
      queueWaitMs: { p50: 2, p99: 40 },
      latencyMs: { p50: 120, p99: 300 },
      throttled: 1,
      rateLimited: 1,
      errors: 0,
      cancelled: 0,
      retries: 0,
      virtualTokens: 100,
      limits: { rpm: null, tpm: null, budget: null, budgetLeft: null }
    })
    const text = LlmStats.table({
      policy: "vtc",
      maxInFlight: 8,
      inFlight: 1,
      queued: 0,
      requests: 6,
      completed: 4,
      inputTokens: 60,
      outputTokens: 140,
      agents: [agent("planner", 2), agent("coder", 1)]
    })
    const lines = text.split("\n")
    expect(lines[0]).toMatch(/^Agent\s+Weight\s+Requests\s+Tokens \(in\/out\)\s+Queue p50\/p99\s+Latency p50\/p99\s+Throttled\s+Errors$/)
    expect(lines[1]).toMatch(/^planner\s+2\s+2\/3 \(1 running, 0 queued\)\s+100 \(30\/70\)\s+2\.0ms\/40ms\s+120ms\/300ms\s+2\s+0$/)
    expect(lines.at(-1)).toBe("vtc · 1/8 in flight · 0 queued · 4 answered · 200 tokens")
  })
})
