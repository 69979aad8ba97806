/**
 * What an ordinary user sees, in each situation this run can make (test/support/situations.ts):
 * `agentos doctor` names the situation and the mechanism of every property, `agentos boot`
 * prints the isolation level in its first lines, and the demos' verdicts (decided by what
 * happened) hold: fault-isolation's three and untrusted's three.
 */
import { describe, expect, it } from "vitest"
import * as Situations from "../support/situations.ts"
import * as Cleanups from "../support/cleanups.ts"

const cleanups = Cleanups.perTest()

const expected: Record<Situations.Situation, RegExp> = {
  current: process.getuid?.() === 0 ? /^situation\s+root: / : /^situation\s+uid \d+, /,
  A: /^situation\s+uid \d+, user namespaces, no delegated cgroup \(situation A\)/,
  B: /^situation\s+uid \d+, user namespaces and a delegated cgroup \(situation B\)/,
  C: /^situation\s+uid \d+, no user namespaces .*\(situation C\)/
}

const finish = async (situation: Situations.Situation, args: ReadonlyArray<string>) => {
  // Its own bait port: other test files boot the same demo meanwhile.
  const running = await Situations.run(situation, args, { UNTRUSTED_BAIT_PORT: String(20000 + Math.floor(Math.random() * 20000)) })
  cleanups.push(running.stop)
  const exit = await running.exited
  return { ...exit, stdout: running.stdout(), stderr: running.stderr() }
}

const said = (stdout: string, agent: string) =>
  stdout.split("\n").filter((l) => l.startsWith(`${agent.padEnd(16)} | `)).map((l) => l.slice(19))

describe.each((["current", "A", "B", "C"] as const).map((s) => ({
  situation: s,
  title: Situations.available(s) ? s : `${s} (skipped: needs root to make the test user, its cgroup and its namespaces)`
})))("as a user would, in situation $title", ({ situation }) => {
  const skip = !Situations.available(situation)

  it.skipIf(skip)("agentos doctor names the situation and what holds each property, and exits 0", async () => {
    const r = await finish(situation, ["doctor"])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const lines = r.stdout.split("\n")
    expect(lines[0]).toMatch(expected[situation])
    for (const property of ["identity", "filesystem", "network", "processes", "memory", "cpu", "signals and ptrace", "kernel socket", "system calls"]) {
      expect(lines.some((l) => new RegExp(`^(ok  |WEAK) ${property}`).test(l)), property).toBe(true)
    }
    expect(r.stdout).toMatch(/^ok   probe /m)
    if (situation === "C") expect(r.stdout).toMatch(/^ok   filesystem\s+Landlock ABI \d/m)
    if (situation === "B") expect(r.stdout).toMatch(/^ok   memory\s+cgroup memory\.max/m)
    if (situation === "A") {
      expect(r.stdout).toMatch(/^ok   memory\s+launcher watchdog/m)
      expect(r.stdout).toContain("systemd-run --user --scope -p Delegate=yes -- npx agentos boot <file>")
    }
  })

  it.skipIf(skip)("fault-isolation: boot says its isolation first; the CPU hog throttled, the memory hog killed, the healthy agent carries on", async () => {
    const r = await finish(situation, ["boot", "examples/fault-isolation/tree.ts"])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const lines = r.stdout.split("\n")
    expect(lines[1]).toMatch(/^isolation: /)
    const judge = said(r.stdout, "judge")
    expect(judge.find((l) => l.startsWith("Agent A:"))).toMatch(/→ throttled \(\d+\.\d+ s throttled/)
    expect(judge.find((l) => l.startsWith("Agent B:"))).toMatch(/→ killed \(.*out of memory/)
    expect(judge).toContain("Agent C: healthy → continues (finished its work, exit 0)")
  })

  it.skipIf(skip)("untrusted: filesystem and network denied, the fork bomb stopped at its limit", async () => {
    const r = await finish(situation, ["boot", "examples/untrusted/tree.ts"])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(said(r.stdout, "malicious-fs")).toContain("DENIED: filesystem access")
    expect(said(r.stdout, "malicious-net")).toContain("DENIED: network access")
    expect(said(r.stdout, "judge")).toContain("KILLED: PID limit exceeded")
    // Without namespaces no agent may make a Unix socket: the bait says so rather than lie.
    if (situation === "C") expect(said(r.stdout, "bait")[0]).toMatch(/may make no Unix socket: EPERM/)
  })
})
