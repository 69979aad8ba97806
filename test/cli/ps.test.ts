/** `agentos ps`'s rendering: the tree joined with LIST, then the agents outside the tree. */
import { describe, expect, it } from "vitest"
import { formatPs } from "../../src/cli/ps.ts"
import type { ListRow, TreeNode } from "../../src/protocol/Rows.ts"

const node = (name: string, kind: TreeNode["kind"], state: string, extra: Partial<TreeNode> = {}): TreeNode => ({
  name, path: name, kind, state, pid: null, restarts: 0, reason: null, ...extra
})
const row = (name: string, extra: Partial<ListRow> = {}): ListRow => ({
  id: `a-${name}`, name, pid: 100, status: "running", restarts: 0, parent: null, uptimeMs: 0, memoryBytes: null,
  memoryLimitBytes: null, cpuUs: null, reason: null, mailbox: null, ...extra
})

describe("formatPs", () => {
  it("indents the tree and joins each agent with its LIST row: pid, restarts, uptime, memory", () => {
    const tree = node("init", "supervisor", "running", {
      children: [node("root", "supervisor", "running", {
        children: [
          node("web", "agent", "running", { restarts: 2 }),
          node("db", "agent", "backoff", { restarts: 1, reason: "exited with code 1" })
        ]
      })]
    })
    const rows = [
      row("web", { pid: 4242, uptimeMs: 75_000, memoryBytes: 3 * 1024 * 1024 }),
      row("db", { pid: 4100, status: "exited", uptimeMs: 500, memoryBytes: null }),
      row("loner", { pid: 5000, uptimeMs: 2000, memoryBytes: 512 * 1024 })
    ]
    const lines = formatPs(tree, rows).split("\n")
    expect(lines[0]).toMatch(/^NAME\s+KIND\s+STATE\s+PID\s+RESTARTS\s+UPTIME\s+MEMORY\s+REASON$/)
    expect(lines[1]).toMatch(/^init\s+supervisor\s+running\s+-\s+0/)
    expect(lines[2]).toMatch(/^ {2}root\s+supervisor/)
    expect(lines[3]).toMatch(/^ {4}web\s+agent\s+running\s+4242\s+2\s+1m15s\s+3\.0M$/)
    expect(lines[4]).toMatch(/^ {4}db\s+agent\s+backoff\s+4100\s+1\s+0s\s+-\s+exited with code 1$/)
    expect(lines[5]).toMatch(/^loner\s+agent\s+running\s+5000\s+0\s+2s\s+512K$/)
    expect(lines).toHaveLength(6)
  })

  it("says so when there is nothing at all", () => {
    expect(formatPs(null, [])).toContain("(no agents)")
  })
})
