/**
 * The observer's data: CPU % from the cgroup's CPU time between two samples of one incarnation,
 * memory while a process runs, a bounded history per agent name; the snapshot ties agents to
 * their tree paths, turns the scheduler's figures into shares, and keeps escalations apart.
 */
import { describe, expect, it } from "vitest"
import type { LifecycleEvent, SupervisorReport } from "../../src/process/Events.ts"
import type * as LlmStats from "../../src/llm/LlmStats.ts"
import * as ObserverState from "../../src/observer/ObserverState.ts"
import type { TreeNode } from "../../src/protocol/Rows.ts"

const row = (over: Partial<ObserverState.AgentRow> = {}): ObserverState.AgentRow => ({
  id: "a1",
  name: "worker",
  pid: 100,
  status: "running",
  restarts: 0,
  parent: null,
  uptimeMs: 1000,
  memoryBytes: 1_000_000,
  memoryLimitBytes: null,
  cpuUs: 0,
  reason: null,
  ...over
})

const agentStats = (agent: string, inputTokens: number, outputTokens: number, over: Partial<LlmStats.AgentSnapshot> = {}): LlmStats.AgentSnapshot => ({
  agent,
  weight: 1,
  requests: 2,
  completed: 2,
  inFlight: 0,
  queued: 0,
  inputTokens,
  outputTokens,
  queueWaitMs: { p50: null, p99: null },
  latencyMs: { p50: null, p99: null },
  throttled: 0,
  rateLimited: 0,
  errors: 0,
  cancelled: 0,
  retries: 0,
  virtualTokens: 0,
  limits: { rpm: null, tpm: null, budget: null, budgetLeft: null },
  ...over
})

const llm = (agents: ReadonlyArray<LlmStats.AgentSnapshot> = []): LlmStats.Snapshot => ({
  policy: "vtc",
  maxInFlight: 8,
  inFlight: 0,
  queued: 0,
  requests: 0,
  completed: 0,
  inputTokens: 0,
  outputTokens: 0,
  agents
})

const report = (type: SupervisorReport["type"], offender: string, over: Partial<SupervisorReport> = {}): SupervisorReport => ({
  type,
  supervisor: offender.slice(0, offender.lastIndexOf("/")),
  context: "child_terminated",
  offender,
  kind: "agent",
  reason: null,
  pid: null,
  restarts: 0,
  time: 0,
  ...over
})

describe("History", () => {
  it("CPU % is CPU time over wall time between two samples; the first sample has none", () => {
    const history = new ObserverState.History()
    history.record([row({ cpuUs: 0 })], 1000)
    history.record([row({ cpuUs: 500_000 })], 2000) // 0.5 s of CPU in 1 s: half a core
    history.record([row({ cpuUs: 2_500_000 })], 3000) // 2 s in 1 s: two cores
    expect(history.of("worker").cpuPercent).toEqual([null, 50, 200])
    expect(history.of("worker").memoryBytes).toEqual([1_000_000, 1_000_000, 1_000_000])
  })

  it("a new incarnation starts its CPU over; an ended agent has no samples", () => {
    const history = new ObserverState.History()
    history.record([row({ id: "a1", cpuUs: 1_000_000 })], 1000)
    history.record([row({ id: "a1", status: "exited", cpuUs: 1_200_000, memoryBytes: null })], 2000)
    history.record([row({ id: "a2", cpuUs: 10_000 })], 3000) // restarted: CPU time counts from 0 again
    history.record([row({ id: "a2", cpuUs: 110_000 })], 4000)
    expect(history.of("worker").cpuPercent).toEqual([null, null, null, 10])
    expect(history.of("worker").memoryBytes).toEqual([1_000_000, null, 1_000_000, 1_000_000])
  })

  it("keeps the last HISTORY samples and forgets agents no longer listed", () => {
    const history = new ObserverState.History()
    for (let i = 0; i <= ObserverState.HISTORY + 5; i++) {
      history.record([row({ cpuUs: i * 10_000, memoryBytes: i }), row({ id: "a9", name: "other" })], i * 1000)
    }
    const series = history.of("worker")
    expect(series.memoryBytes).toHaveLength(ObserverState.HISTORY)
    expect(series.memoryBytes.at(-1)).toBe(ObserverState.HISTORY + 5)
    expect(series.cpuPercent.at(-1)).toBe(1)
    history.record([row()], 999_000)
    expect(history.of("other")).toEqual({ cpuPercent: [], memoryBytes: [] })
  })
})

describe("Recent", () => {
  it("keeps recent events and escalations apart, both bounded", () => {
    const recent = new ObserverState.Recent()
    for (let i = 0; i < ObserverState.RECENT_EVENTS + 10; i++) recent.add(report("agentos.child.started", `init/t/c${i}`))
    recent.add(report("agentos.supervisor.escalated", "init/t/c0", { supervisor: "init/t", reason: "too many restarts" }))
    expect(recent.events).toHaveLength(ObserverState.RECENT_EVENTS)
    expect(recent.events.at(-1)?.type).toBe("agentos.supervisor.escalated")
    expect(recent.escalations.map((e) => e.supervisor)).toEqual(["init/t"])
  })
})

describe("snapshot", () => {
  const tree: TreeNode = {
    name: "init", path: "init", kind: "supervisor", state: "running", pid: null, restarts: 0, reason: null,
    children: [{
      name: "app", path: "init/app", kind: "supervisor", state: "running", pid: null, restarts: 0, reason: null,
      children: [
        { name: "worker", path: "init/app/worker", kind: "agent", state: "running", pid: 100, restarts: 2, reason: null },
        { name: "cache", path: "init/app/cache", kind: "service", state: "running", pid: null, restarts: 0, reason: null }
      ]
    }]
  }

  it("ties each agent to its tree path, with its samples and optional figures", () => {
    const history = new ObserverState.History()
    const rows = [
      row({ cpuUs: 0, memoryLimitBytes: 64 * 1024 * 1024, mailbox: { depth: 3, inFlight: 1 } }),
      row({ id: "a5", name: "adhoc", pid: 200 })
    ]
    history.record(rows, 1000)
    const later = [{ ...rows[0]!, cpuUs: 250_000 }, rows[1]!]
    history.record(later, 2000)
    const recent = new ObserverState.Recent()
    const s = ObserverState.snapshot({ now: 2000, tree, rows: later, llm: llm(), history, recent })
    expect(s.time).toBe(2000)
    expect(s.tree).toBe(tree)
    expect(s.agents.map((a) => [a.name, a.path])).toEqual([["adhoc", null], ["worker", "init/app/worker"]])
    const worker = s.agents.find((a) => a.name === "worker")!
    expect(worker.cpuPercent).toBe(25)
    expect(worker.history.cpuPercent).toEqual([null, 25])
    expect(worker.memoryLimitBytes).toBe(64 * 1024 * 1024)
    expect(worker.mailbox).toEqual({ depth: 3, inFlight: 1 })
    const adhoc = s.agents.find((a) => a.name === "adhoc")!
    expect(adhoc.memoryLimitBytes).toBeNull()
    expect(adhoc.mailbox).toBeNull()
  })

  it("LLM shares: each agent's fraction of the tokens served, most first", () => {
    const view = ObserverState.llmView(llm([
      agentStats("small", 10, 10),
      agentStats("big", 50, 10, { queued: 2, inFlight: 1, weight: 3 }),
      agentStats("idle", 0, 0)
    ]))
    expect(view.tokens).toBe(80)
    expect(view.agents.map((a) => [a.agent, a.tokens, a.share])).toEqual([["big", 60, 0.75], ["small", 20, 0.25], ["idle", 0, 0]])
    expect(view.agents[0]).toMatchObject({ queued: 2, inFlight: 1, weight: 3 })
    expect(ObserverState.llmView(llm([agentStats("only", 0, 0)])).agents[0]!.share).toBe(0)
  })

  it("carries the recent events and escalations", () => {
    const recent = new ObserverState.Recent()
    const events: ReadonlyArray<LifecycleEvent> = [
      report("agentos.child.exited", "init/app/worker", { reason: "exited with code 1" }),
      report("agentos.supervisor.escalated", "init/app/worker", { supervisor: "init/app", reason: "intensity" })
    ]
    events.forEach((e) => recent.add(e))
    const s = ObserverState.snapshot({ now: 0, tree: null, rows: [], llm: llm(), history: new ObserverState.History(), recent })
    expect(s.events.map((e) => e.type)).toEqual(["agentos.child.exited", "agentos.supervisor.escalated"])
    expect(s.escalations.map((e) => e.supervisor)).toEqual(["init/app"])
    // A copy: later events do not change a snapshot already sent.
    recent.add(report("agentos.child.started", "init/app/worker"))
    expect(s.events).toHaveLength(2)
  })
})
