/**
 * `agentos boot FILE` end to end, as a user runs it: the real CLI process, a real kernel, real
 * agents. Exit codes: 0 when the tree finishes or on SIGINT/SIGTERM, 1 when the tree is invalid
 * (nothing booted) or when a failure escalates to PID 1 (the chain printed).
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import * as Cli from "../support/cli.ts"
import { processAlive, tempDir } from "../support/kernel.ts"
import * as Cleanups from "../support/cleanups.ts"
import * as Machine from "../support/machine.ts"

const index = Path.resolve(import.meta.dirname, "../../src/index.ts")
const cleanups = Cleanups.perTest()

/** A tree file in a fresh directory, and the socket its kernel will use. */
const treeFile = (body: string) => {
  const dir = tempDir()
  cleanups.push(() => dir.remove())
  const file = Path.join(dir.path, "tree.ts")
  Fs.writeFileSync(file, `import { agent, defineTree, supervisor } from ${JSON.stringify(index)}\nexport default ${body}\n`)
  return { file, socket: Path.join(dir.path, "run", "kernel.sock") }
}


describe("agentos boot", () => {
  it("an invalid tree prints every problem with its path, boots nothing, and exits 1", async () => {
    const { file, socket } = treeFile(`defineTree(supervisor("root", {
      strategy: "one_for_none",
      children: [agent("a", { run: "sh", restart: "sometimes" }), agent("a", { run: "sh" })]
    }))`)
    const result = await Cli.run(["boot", file, "--socket", socket])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/strategy: expected/)
    expect(result.stderr).toMatch(/children\[0\]\.restart: expected "permanent" \| "transient" \| "temporary"/)
    expect(result.stderr).toMatch(/children\[1\]/)
    expect(result.stdout).not.toMatch(/started/)
    expect(Fs.existsSync(socket)).toBe(false)
  })

  it.skipIf(!Machine.canSandbox)(`SIGINT stops the tree in order and exits 0, leaving no agent behind${Machine.canSandbox ? "" : ` (skipped: its agents run under \`agentos boot\`, whose kernel has the native launcher, which cannot sandbox here: ${Machine.cannotSandboxBecause})`}`, async () => {
    const { file, socket } = treeFile(`defineTree(supervisor("root", {
      children: [
        agent("first", { run: "sh", args: ["-c", "echo first up; exec sleep 1000"] }),
        agent("second", { run: "sh", args: ["-c", "echo second up; exec sleep 1000"] })
      ]
    }))`)
    const boot = await Cli.start(["boot", file, "--socket", socket], /init\/root\s+started\n/)
    cleanups.push(async () => {
      if (boot.child.exitCode === null && boot.child.signalCode === null) {
        boot.child.kill("SIGKILL")
        await boot.exited
      }
    })
    const pids = [...boot.stdout().matchAll(/started \(pid (\d+)\)/g)].map((m) => Number(m[1]))
    expect(pids).toHaveLength(2)
    boot.child.kill("SIGINT")
    const exit = await boot.exited
    expect(exit.code).toBe(0)
    // Reverse start order: the second child stops before the first.
    const stopped = [...exit.stdout.matchAll(/init\/root\/(\w+)\s+stopped/g)].map((m) => m[1])
    expect(stopped.indexOf("second")).toBeLessThan(stopped.indexOf("first"))
    expect(stopped).toContain("first")
    for (const pid of pids) expect(processAlive(pid)).toBe(false)
    expect(Fs.existsSync(socket)).toBe(false)
  })

  it.skipIf(!Machine.canSandbox)(`an escalation that reaches PID 1 shuts the system down and exits 1 with the chain of failures${Machine.canSandbox ? "" : ` (skipped: its agents run under \`agentos boot\`, whose kernel has the native launcher, which cannot sandbox here: ${Machine.cannotSandboxBecause})`}`, async () => {
    const { file, socket } = treeFile(`defineTree(supervisor("root", {
      intensity: { maxRestarts: 0, withinMs: 60000 },
      children: [
        agent("steady", { run: "sh", args: ["-c", "exec sleep 1000"] }),
        supervisor("inner", {
          intensity: { maxRestarts: 1, withinMs: 60000 },
          children: [agent("crasher", { run: "sh", args: ["-c", "exit 3"] })]
        })
      ]
    }))`)
    const result = await Cli.run(["boot", file, "--socket", socket], {}, 60_000)
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("escalated to PID 1")
    expect(result.stderr).toMatch(/init\/root: reached max restart intensity/)
    expect(result.stderr).toMatch(/init\/root\/inner: reached max restart intensity/)
    expect(result.stderr).toMatch(/init\/root\/inner\/crasher: exited with code 3/)
    expect(result.stdout).toMatch(/init\/root\/steady\s+stopped/)
    const steady = Number(/init\/root\/steady\s+started \(pid (\d+)\)/.exec(result.stdout)![1])
    expect(processAlive(steady)).toBe(false)
    expect(Fs.existsSync(socket)).toBe(false)
  })
})
