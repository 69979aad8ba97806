/**
 * The demos, booted exactly as `agentos boot examples/<name>/tree.ts` boots them (Boot.boot on
 * the file), on a private kernel: their verdicts are decided by what happened, so these tests
 * fail when an isolation property or a supervision behaviour breaks. The demos of supervision
 * run on the plain launcher where agents cannot be sandboxed here.
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import * as Boot from "../../src/app/Boot.ts"
import { bootOptions, tempDir } from "../support/kernel.ts"
import * as Cleanups from "../support/cleanups.ts"
import * as Machine from "../support/machine.ts"
import * as Situations from "../support/situations.ts"

const examples = Path.resolve(import.meta.dirname, "../../examples")
const cleanups = Cleanups.perTest()

/** Boots a demo in this process; its agents started by `launcher` (the native one for the demos about isolation). */
const boot = async (name: string, file = "tree.ts", launcher: Machine.TestLauncher = "native"): Promise<ReadonlyArray<string>> => {
  const dir = tempDir()
  cleanups.push(dir.remove)
  const socketPath = Path.join(dir.path, "kernel.sock")
  const previous = process.env.AGENTOS_SOCKET
  process.env.AGENTOS_SOCKET = socketPath
  cleanups.push(() => (previous === undefined ? delete process.env.AGENTOS_SOCKET : (process.env.AGENTOS_SOCKET = previous)))
  const lines: Array<string> = []
  await Effect.runPromise(Boot.boot(Path.join(examples, name, file), {
    ...bootOptions(launcher, { socketPath, stateDir: Path.join(dir.path, "state") }),
    print: (line) => Effect.sync(() => void lines.push(line))
  }))
  return lines
}

const said = (lines: ReadonlyArray<string>, agent: string) =>
  lines.filter((l) => l.startsWith(`${agent.padEnd(16)} | `)).map((l) => l.slice(19))

describe.skipIf(!Machine.canSandbox)(`demos of isolation${Machine.canSandbox ? "" : ` (skipped: about the sandbox, on the native launcher, which cannot sandbox here: ${Machine.cannotSandboxBecause})`}`, () => {
  it("fault-isolation: the CPU hog is throttled, the memory hog OOM-killed, the healthy agent finishes", async () => {
    const lines = await boot("fault-isolation")
    const verdicts = said(lines, "judge")
    expect(verdicts.find((l) => l.startsWith("Agent A:"))).toMatch(/→ throttled \(\d+\.\d+ s throttled/)
    expect(verdicts.find((l) => l.startsWith("Agent B:"))).toMatch(/→ killed \(.*out of memory/)
    expect(verdicts).toContain("Agent C: healthy → continues (finished its work, exit 0)")
    expect(lines.some((l) => /init\/fault-isolation\/memory-hog\s+exited: .*out of memory/.test(l))).toBe(true)
    expect(lines).toContain("tree finished: nothing left running")
  })

  it("fault-isolation with the Python agents: the same verdicts", async () => {
    const lines = await boot("fault-isolation", "tree-python.ts")
    const verdicts = said(lines, "judge")
    expect(verdicts.find((l) => l.startsWith("Agent A:"))).toMatch(/→ throttled \(\d+\.\d+ s throttled/)
    expect(verdicts.find((l) => l.startsWith("Agent B:"))).toMatch(/→ killed \(.*out of memory/)
    expect(verdicts).toContain("Agent C: healthy → continues (finished its work, exit 0)")
    expect(lines.some((l) => /init\/fault-isolation\/healthy\s+started/.test(l))).toBe(true)
  })

  it("untrusted: filesystem and network denied, the fork bomb stopped at its pids limit", async () => {
    // Its own bait port: test/e2e/situations.test.ts boots the same demo meanwhile.
    process.env.UNTRUSTED_BAIT_PORT = String(40000 + Math.floor(Math.random() * 20000))
    cleanups.push(() => delete process.env.UNTRUSTED_BAIT_PORT)
    const lines = await boot("untrusted")
    expect(said(lines, "bait")[0]).toMatch(/reachable from the host\) and @agentos-untrusted-bait-\d+ \(reachable\)/)
    expect(said(lines, "malicious-fs")).toContain("DENIED: filesystem access")
    expect(said(lines, "malicious-fs").filter((l) => l.startsWith("ALLOWED"))).toEqual([])
    expect(said(lines, "malicious-net")).toContain("DENIED: network access")
    expect(said(lines, "malicious-net").filter((l) => l.startsWith("ALLOWED"))).toEqual([])
    expect(said(lines, "judge")).toContain("KILLED: PID limit exceeded")
  })
})

describe(`demos of supervision (agents launched by the ${Machine.launcher} launcher)`, () => {
  it("supervisor: restarts one_for_one, escalates the crash loop, the rest finishes", async () => {
    const lines = await boot("supervisor", "tree.ts", Machine.launcher)
    expect(lines.filter((l) => /init\/root\/flaky\s+restarting/.test(l))).toHaveLength(3)
    expect(lines.some((l) => /init\/root\/fragile\s+ESCALATED: .*more than 2 restarts in 10000 ms/.test(l))).toBe(true)
    const restarts = lines.find((l) => l.startsWith("restarts: "))!.slice(10).split(", ").sort()
    expect(restarts).toEqual(["init/root/flaky 3", "init/root/fragile/crash-loop 2"])
    expect(lines).toContain("escalations: init/root/fragile")
    expect(lines.some((l) => /^\s+healthy\s+agent\s+exited .*exited with code 0/.test(l))).toBe(true)
  })

  // The pipeline's invariant under crash points the test picks: N in, N verified, none twice.
  const pipeline = async (items: number, reasonerArgs: ReadonlyArray<string>) => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    const agents = Path.join(examples, "pipeline", "agents")
    const file = Path.join(dir.path, "tree.ts")
    Fs.writeFileSync(file, `import { agent, defineTree, supervisor } from ${JSON.stringify(Path.resolve(examples, "../src/index.ts"))}
export default defineTree(supervisor("pipeline", {
  intensity: { maxRestarts: 50, withinMs: 60000 },
  children: [
    agent("verifier", { run: ${JSON.stringify(Path.join(agents, "verifier.ts"))}, restart: "transient" }),
    agent("reasoner", { run: ${JSON.stringify(Path.join(agents, "reasoner.ts"))}, args: ${JSON.stringify(reasonerArgs)}, restart: "transient" }),
    agent("parser", { run: ${JSON.stringify(Path.join(agents, "parser.ts"))}, args: ["${items}"], restart: "transient" })
  ]
}))
`)
    const lines: Array<string> = []
    await Effect.runPromise(Boot.boot(file, {
      ...bootOptions(Machine.launcher, { socketPath: Path.join(dir.path, "kernel.sock"), stateDir: Path.join(dir.path, "state") }),
      print: (line) => Effect.sync(() => void lines.push(line))
    }))
    return lines
  }

  it("pipeline: a crash of the reasoner at a random item loses nothing and verifies nothing twice", async () => {
    const items = 60
    const crashAt = 1 + Math.floor(Math.random() * items)
    const lines = await pipeline(items, ["--crash-at", String(crashAt)])
    const verifier = said(lines, "verifier")
    expect(verifier, `crash at item ${crashAt}`).toContain(`items: ${items} in, ${items} verified exactly once, 0 missing, 0 failed`)
    expect(verifier).toContain("PIPELINE OK: nothing lost, nothing twice")
    expect(verifier.find((l) => l.startsWith("crashes:"))).toMatch(/^crashes: 1 \(reasoner restarted\), redeliveries: 1, duplicates dropped: 1$/)
    expect(said(lines, "reasoner")).toContain(`reasoner: crashing on item ${crashAt} (incarnation 1), its answer sent, not acked`)
  })

  it.skipIf(!Machine.canSandbox)(`pipeline, the demo's own tree: 2,000 items with random crashes restart without escalating (the intensity is sized to the crash rate)${Machine.canSandbox ? "" : ` (skipped: runs \`agentos boot\`, whose kernel has the native launcher, which cannot sandbox here: ${Machine.cannotSandboxBecause})`}`, async () => {
    const run = await Situations.run("current", ["boot", "examples/pipeline/tree.ts"], { PIPELINE_ITEMS: "2000", PIPELINE_CRASH: "random" })
    cleanups.push(run.stop)
    const { code } = await run.exited
    expect(code, run.stdout() + run.stderr()).toBe(0)
    expect(run.stdout()).toContain("escalations: none")
    expect(said(run.stdout().split("\n"), "verifier")).toContain("items: 2000 in, 2000 verified exactly once, 0 missing, 0 failed")
  }, 120_000)

  it("pipeline: repeated random crashes lose nothing", async () => {
    const items = 60
    const lines = await pipeline(items, ["--crash-random", "0.08"])
    const verifier = said(lines, "verifier")
    expect(verifier).toContain(`items: ${items} in, ${items} verified exactly once, 0 missing, 0 failed`)
    const crashes = Number(/^crashes: (\d+)/.exec(verifier.find((l) => l.startsWith("crashes:"))!)![1])
    // Every crash is one restart; a restart whose start failed (a loaded machine) is tried
    // again, and says so.
    const restarts = lines.filter((l) => /init\/pipeline\/reasoner\s+restarting/.test(l)).length
    const failedStarts = lines.filter((l) => /init\/pipeline\/reasoner\s+failed to start/.test(l)).length
    expect(restarts - failedStarts, lines.filter((l) => /reasoner/.test(l)).join("\n")).toBe(crashes)
  })
})
