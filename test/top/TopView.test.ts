/**
 * `agentos top`'s frames and plans for given kernel answers: tree indentation, CPU % between
 * two samples, memory against the limit, sorting that keeps siblings under their parent,
 * cutting to the terminal, selection and scrolling, and what restart and stop send.
 */
import { describe, expect, it } from "vitest"
import type * as LlmStats from "../../src/llm/LlmStats.ts"
import * as TopView from "../../src/top/TopView.ts"
import { Op } from "../../src/protocol/Op.ts"
import type { ListRow, TreeNode } from "../../src/protocol/Rows.ts"

const MiB = 1024 * 1024

const node = (path: string, kind: TreeNode["kind"], extra: Partial<TreeNode> = {}): TreeNode => ({
  name: path.split("/").at(-1)!,
  path,
  kind,
  state: "running",
  pid: null,
  restarts: 0,
  reason: null,
  ...extra
})
const row = (name: string, extra: Partial<ListRow> = {}): ListRow => ({
  id: `a-${name}`,
  name,
  pid: 100,
  status: "running",
  restarts: 0,
  parent: null,
  uptimeMs: 10_000,
  memoryBytes: MiB,
  memoryLimitBytes: null,
  cpuUs: 0,
  reason: null,
  mailbox: null,
  ...extra
})
const snapshot = (tree: TreeNode | null, rows: ReadonlyArray<ListRow>, extra: Partial<TopView.Snapshot> = {}): TopView.Snapshot => ({
  time: 100_000,
  kernelId: "k1",
  tree,
  rows,
  llm: null,
  ...extra
})
const plain = (sort: TopView.SortKey = "tree", width = Infinity): TopView.View => ({
  width, height: Infinity, sort, selected: null, scroll: 0, status: "", mode: "plain"
})
const screen = (height: number, selected: string | null, scroll = 0): TopView.View => ({
  width: 120, height, sort: "tree", selected, scroll, status: "restart x? [y/N]", mode: "screen"
})

/** The body rows' NAME cells, as drawn (indent kept). */
const names = (lines: ReadonlyArray<string>) => lines.slice(2).map((l) => /^(\s*\S+)/.exec(l)?.[1] ?? "")
/** A table row's cells by column title. */
const cellsOf = (lines: ReadonlyArray<string>, name: string): Record<string, string> => {
  const titles = lines[1]!.trim().split(/\s+/).map((t) => t.replace(/\*$/, ""))
  const line = lines.find((l) => l.trim().split(/\s+/)[0] === name)
  if (line === undefined) throw new Error(`no row ${name} in\n${lines.join("\n")}`)
  const cells = line.trim().split(/\s+/)
  return Object.fromEntries(titles.map((t, i) => [t, cells[i]!]))
}

const tree = node("init", "supervisor", {
  children: [node("init/root", "supervisor", {
    restarts: 1,
    children: [
      node("init/root/web", "agent", { pid: 4242, restarts: 2 }),
      node("init/root/db", "agent", { state: "backoff", restarts: 1 })
    ]
  })]
})

describe("TopView.frame", () => {
  it("indents the tree by depth, joins each agent with its LIST row, and lists the agents outside the tree after it", () => {
    const rows = [
      row("web", { pid: 4242, restarts: 2, uptimeMs: 75_000 }),
      row("db", { pid: null, status: "exited", restarts: 1 }),
      row("loner", { pid: 5000, restarts: 3 })
    ]
    const { lines } = TopView.frame(snapshot(tree, rows), null, plain())
    expect(lines[0]).toBe("agentos top   kernel k1   agents 2/3 running   restarts 7   LLM -")
    expect(lines[1]).toMatch(/^NAME\s+KIND\s+STATE\s+PID\s+RESTARTS\s+UPTIME\s+CPU%\s+MEM\/LIMIT\s+LLM-TOKENS\s+LLM-Q\s+MAILBOX$/)
    expect(names(lines)).toEqual(["init", "  root", "    web", "    db", "--", "loner"])
    expect(lines[6]).toBe("-- outside the tree --")
    expect(cellsOf(lines, "web")).toMatchObject({ KIND: "agent", STATE: "running", PID: "4242", RESTARTS: "2", UPTIME: "1m15s" })
    // The tree's state wins over LIST's; an ended agent has no uptime, CPU or memory.
    expect(cellsOf(lines, "db")).toMatchObject({ STATE: "backoff", PID: "-", RESTARTS: "1", UPTIME: "-", "CPU%": "-", "MEM/LIMIT": "-" })
    expect(cellsOf(lines, "root")).toMatchObject({ KIND: "supervisor", RESTARTS: "1", "CPU%": "-" })
    expect(cellsOf(lines, "loner")).toMatchObject({ PID: "5000", RESTARTS: "3" })
    for (const line of lines) expect(line).not.toContain("\x1b")
  })

  it("CPU % is the CPU time between two samples over the wall time between them; without one, the average over the agent's life", () => {
    const before = snapshot(null, [row("busy", { cpuUs: 2_000_000 }), row("idle", { cpuUs: 1_000_000 })], { time: 50_000 })
    const now = snapshot(null, [
      row("busy", { cpuUs: 3_500_000, uptimeMs: 60_000 }), // 1.5 s of CPU in 2 s: 75 %
      row("idle", { cpuUs: 1_000_000, uptimeMs: 60_000 }),
      // Restarted since (a new id): 0.5 s over its 4 s of life.
      row("fresh", { id: "a-fresh-2", cpuUs: 500_000, uptimeMs: 4000 })
    ], { time: 52_000 })
    const { lines } = TopView.frame(now, TopView.sample(before), plain())
    expect(cellsOf(lines, "busy")["CPU%"]).toBe("75.0")
    expect(cellsOf(lines, "idle")["CPU%"]).toBe("0.0")
    expect(cellsOf(lines, "fresh")["CPU%"]).toBe("12.5")
    // The first frame: every agent's lifetime average (3.5 s over 60 s).
    expect(cellsOf(TopView.frame(now, null, plain()).lines, "busy")["CPU%"]).toBe("5.8")
    // More than one core.
    const multi = snapshot(null, [row("busy", { cpuUs: 6_000_000 })], { time: 52_000 })
    expect(cellsOf(TopView.frame(multi, TopView.sample(before), plain()).lines, "busy")["CPU%"]).toBe("200")
  })

  it("shows memory against the cgroup's limit, `max` without one", () => {
    const rows = [
      row("capped", { memoryBytes: 3 * MiB, memoryLimitBytes: 64 * MiB }),
      row("free", { memoryBytes: 512 * 1024, memoryLimitBytes: null }),
      row("big", { memoryBytes: 1536 * MiB, memoryLimitBytes: 2048 * MiB }),
      row("gone", { status: "exited", memoryBytes: null })
    ]
    const { lines } = TopView.frame(snapshot(null, rows), null, plain())
    expect(cellsOf(lines, "capped")["MEM/LIMIT"]).toBe("3.0M/64.0M")
    expect(cellsOf(lines, "free")["MEM/LIMIT"]).toBe("512K/max")
    expect(cellsOf(lines, "big")["MEM/LIMIT"]).toBe("1.5G/2.0G")
    expect(cellsOf(lines, "gone")["MEM/LIMIT"]).toBe("-")
  })

  it("shows each agent's LLM tokens and queue, its mailbox when LIST has one, and the kernel's LLM totals", () => {
    const llm = {
      policy: "vtc", maxInFlight: 2, inFlight: 1, queued: 2, requests: 9, completed: 6, inputTokens: 300, outputTokens: 45,
      agents: [{ agent: "thinker", inputTokens: 300, outputTokens: 45, queued: 2, inFlight: 1 } as unknown as LlmStats.AgentSnapshot]
    } satisfies LlmStats.Snapshot
    const rows = [row("thinker", { mailbox: { depth: 3, inFlight: 1 } }), row("quiet")]
    const { lines } = TopView.frame(snapshot(null, rows, { llm }), null, plain())
    expect(lines[0]).toContain("LLM 2 queued, 1 in flight, 345 tokens")
    expect(cellsOf(lines, "thinker")).toMatchObject({ "LLM-TOKENS": "345", "LLM-Q": "2/1", MAILBOX: "3/1" })
    expect(cellsOf(lines, "quiet")).toMatchObject({ "LLM-TOKENS": "-", "LLM-Q": "-", MAILBOX: "-" })
  })

  it("sorting orders siblings among themselves, every child still under its parent, and marks the sort column", () => {
    // a: a1 (10 %), a2 (40 %); b: b1 (30 %). By CPU, b's branch (30) sorts after a's (50).
    const sorted = node("init", "supervisor", {
      children: [
        node("init/b", "supervisor", { restarts: 5, children: [node("init/b/b1", "agent")] }),
        node("init/a", "supervisor", { children: [node("init/a/a1", "agent", { restarts: 1 }), node("init/a/a2", "agent")] })
      ]
    })
    const rows = [
      row("b1", { cpuUs: 3_000_000, uptimeMs: 10_000, memoryBytes: 9 * MiB }),
      row("a1", { cpuUs: 1_000_000, uptimeMs: 10_000, memoryBytes: 2 * MiB }),
      row("a2", { cpuUs: 4_000_000, uptimeMs: 10_000, memoryBytes: 1 * MiB }),
      row("z-out", { cpuUs: 0 }),
      row("y-out", { cpuUs: 5_000_000 })
    ]
    const at = (sort: TopView.SortKey) => TopView.frame(snapshot(sorted, rows), null, plain(sort)).lines
    expect(names(at("tree"))).toEqual(["init", "  b", "    b1", "  a", "    a1", "    a2", "--", "z-out", "y-out"])
    expect(names(at("cpu"))).toEqual(["init", "  a", "    a2", "    a1", "  b", "    b1", "--", "y-out", "z-out"])
    expect(names(at("memory"))).toEqual(["init", "  b", "    b1", "  a", "    a1", "    a2", "--", "z-out", "y-out"])
    expect(names(at("restarts"))).toEqual(["init", "  b", "    b1", "  a", "    a1", "    a2", "--", "z-out", "y-out"])
    expect(names(at("name"))).toEqual(["init", "  a", "    a1", "    a2", "  b", "    b1", "--", "y-out", "z-out"])
    expect(at("cpu")[1]).toMatch(/ CPU%\* /)
    expect(at("name")[1]).toMatch(/^NAME\* /)
    expect(at("tree")[1]).not.toContain("*")
    // Columns do not move when the sort changes.
    expect(at("cpu")[1]!.length).toBe(at("tree")[1]!.replace(/ +$/, "").length)
  })

  it("cuts every line to the terminal's width", () => {
    const rows = [row("a-rather-long-agent-name", { memoryBytes: 3 * MiB, memoryLimitBytes: 64 * MiB })]
    const { lines } = TopView.frame(snapshot(tree, rows), null, plain("tree", 40))
    expect(lines.length).toBeGreaterThan(3)
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(40)
    expect(lines.find((l) => l.startsWith("a-rather"))).toBe("a-rather-long-agent-name  agent       ru")
  })

  it("on the screen: exactly the terminal's height, the selection in inverse video, scrolled into view", () => {
    const many = node("init", "supervisor", {
      children: Array.from({ length: 10 }, (_, i) => node(`init/w${i}`, "agent", { pid: 1000 + i }))
    })
    const rows = Array.from({ length: 10 }, (_, i) => row(`w${i}`))
    const data = snapshot(many, rows)
    // Nothing selected yet: the first row.
    const first = TopView.frame(data, null, screen(8, null))
    expect(first.lines).toHaveLength(8)
    expect(first.selected).toBe("init")
    expect(first.lines[2]).toMatch(/^\x1b\[7minit\s/)
    expect(first.lines[6]).toBe("restart x? [y/N]")
    expect(first.lines[7]).toMatch(/^j\/k select .* q quit   1\/11$/)
    // Four body rows; selecting the last scrolls it to the bottom, and the others lose the highlight.
    const last = TopView.frame(data, null, screen(8, "init/w9", first.scroll))
    expect(last.scroll).toBe(7)
    expect(last.lines.slice(2, 6).map((l) => l.replace(/\x1b\[[0-9;]*m/g, "").trim().split(/\s+/)[0])).toEqual(["w6", "w7", "w8", "w9"])
    expect(last.lines[5]).toMatch(/^\x1b\[7m {2}w9 .*\x1b\[0m$/)
    expect(last.lines.filter((l) => l.includes("\x1b[7m"))).toHaveLength(1)
    // Moving up inside the window does not scroll; above it, the window follows.
    const up = TopView.move(last.entries, last.selected, -2)
    expect(up).toBe("init/w7")
    expect(TopView.frame(data, null, screen(8, up, last.scroll)).scroll).toBe(7)
    const top = TopView.move(last.entries, last.selected, -100)
    expect(top).toBe("init")
    expect(TopView.frame(data, null, screen(8, top, last.scroll)).scroll).toBe(0)
    expect(TopView.move(last.entries, last.selected, 5)).toBe("init/w9")
    // A selected row that went away: the first row.
    expect(TopView.frame(data, null, screen(8, "init/gone")).selected).toBe("init")
  })

  it("says when there is nothing to show", () => {
    const { lines } = TopView.frame(snapshot(null, []), null, plain())
    expect(lines.at(-1)).toBe("(no supervision tree, no agents)")
    expect(TopView.frame(snapshot(null, []), null, screen(6, null)).selected).toBeNull()
  })

  it("steps through the sort keys", () => {
    const seen = [TopView.sortKeys[0]!]
    for (let i = 0; i < TopView.sortKeys.length; i++) seen.push(TopView.nextSortKey(seen.at(-1)!))
    expect(seen).toEqual(["tree", "cpu", "memory", "restarts", "name", "tree"])
  })
})

describe("TopView.plan", () => {
  const targets = (data: TopView.Snapshot) => new Map(TopView.entries(data, null, "tree").map((e) => [e.key, e.target]))
  const withPool = node("init", "supervisor", {
    children: [node("init/root", "supervisor", {
      children: [
        node("init/root/web", "agent"),
        node("init/root/done", "agent", { state: "exited" }),
        node("init/root/once", "agent", { restart: "temporary" }),
        node("init/root/pool", "supervisor", { strategy: "simple_one_for_one", children: [node("init/root/pool/w1", "agent")] })
      ]
    })]
  })
  const all = targets(snapshot(withPool, [row("web"), row("loner"), row("ended", { status: "exited" })]))

  it("restarts a running child by terminating it, then restart_child on its supervisor", () => {
    expect(TopView.plan(all.get("init/root/web")!, "restart")).toEqual({
      _tag: "Confirm",
      prompt: "restart init/root/web? [y/N]",
      calls: [
        { op: Op.CHILD, args: { supervisor: "init/root", action: "terminate", name: "web" } },
        { op: Op.CHILD, args: { supervisor: "init/root", action: "restart", name: "web" } }
      ],
      done: "restarted init/root/web"
    })
    expect(TopView.plan(all.get("init/root/done")!, "restart")).toMatchObject({
      calls: [{ op: Op.CHILD, args: { supervisor: "init/root", action: "restart", name: "done" } }]
    })
  })

  it("stops a child with terminate_child; an agent outside the tree with KILL", () => {
    expect(TopView.plan(all.get("init/root/web")!, "stop")).toEqual({
      _tag: "Confirm",
      prompt: "stop init/root/web? [y/N]",
      calls: [{ op: Op.CHILD, args: { supervisor: "init/root", action: "terminate", name: "web" } }],
      done: "stopped init/root/web"
    })
    expect(TopView.plan(all.get("init/root/pool/w1")!, "stop")).toMatchObject({
      calls: [{ op: Op.CHILD, args: { supervisor: "init/root/pool", action: "terminate", name: "w1" } }]
    })
    expect(TopView.plan(all.get("agent:loner")!, "stop")).toMatchObject({
      prompt: "stop loner? [y/N]",
      calls: [{ op: Op.KILL, args: { name: "loner" } }]
    })
  })

  it("refuses, saying why, what cannot be done", () => {
    const refused = (key: string, action: TopView.Action) => {
      const plan = TopView.plan(all.get(key)!, action)
      return plan._tag === "Refused" ? plan.message : `not refused: ${JSON.stringify(plan)}`
    }
    expect(refused("init", "restart")).toMatch(/init is the root of the tree/)
    expect(refused("init/root/pool/w1", "restart")).toMatch(/simple_one_for_one.*stopped \(x\), not restarted/)
    expect(refused("init/root/once", "restart")).toMatch(/init\/root\/once is temporary: .*not restarted/)
    expect(TopView.plan(all.get("init/root/once")!, "stop")).toMatchObject({ _tag: "Confirm" })
    expect(refused("agent:loner", "restart")).toMatch(/loner is not supervised/)
    expect(refused("agent:ended", "stop")).toMatch(/ended has already ended/)
    expect(refused("init/root/done", "stop")).toMatch(/init\/root\/done is not running/)
  })
})
