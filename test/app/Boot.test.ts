/**
 * `agentos boot` as a function (Boot.run) on a real kernel: the tree starts under PID 1, the
 * run ends when nothing is left running or when a failure escalates to PID 1, and in both
 * cases the kernel shuts down completely (the run returns). Services (in-kernel children) keep
 * these cases free of processes; agents are covered end to end elsewhere.
 */
import { Effect, Result } from "effect"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import * as Boot from "../../src/app/Boot.ts"
import { agent, decodeTree, defineTree, service, supervisor } from "../../src/supervision/Tree.ts"
import { bootOptions, tempDir } from "../support/kernel.ts"
import * as Cleanups from "../support/cleanups.ts"
import * as Machine from "../support/machine.ts"

const cleanups = Cleanups.perTest()

const resolved = (tree: unknown) => {
  const decoded = decodeTree(tree)
  if (Result.isFailure(decoded)) throw new Error(decoded.failure.message)
  return decoded.success
}

const boot = (tree: unknown, options: { readonly quiet?: boolean } = {}) => {
  const dir = tempDir()
  cleanups.push(dir.remove)
  const lines: Array<string> = []
  const run = Boot.run(resolved(tree), dir.path, {
    // Not about isolation: on the plain launcher where agents cannot be sandboxed here.
    ...bootOptions(Machine.launcher, { socketPath: Path.join(dir.path, "kernel.sock"), stateDir: Path.join(dir.path, "state") }),
    print: (line) => Effect.sync(() => void lines.push(line)),
    ...options
  })
  return { run, lines }
}

const finite = (ms: number) => Effect.sleep(ms)
const failing = Effect.fail("boom")

describe("Boot.run", () => {
  it("returns once a tree of nested supervisors has nothing left running, and reports its final tree", async () => {
    const { run, lines } = boot(defineTree(supervisor("root", {
      children: [
        service("quick", finite(10), { restart: "transient" }),
        supervisor("inner", { children: [service("inner-quick", finite(20), { restart: "transient" })] })
      ]
    })))
    // Shutting the kernel down stops `inner` twice (its parent, then its scope): both must return.
    await Effect.runPromise(run)
    expect(lines).toContain("tree finished: nothing left running")
    expect(lines.some((l) => /init\/root\/inner\/inner-quick\s+started/.test(l))).toBe(true)
  })

  it("fails with the chain of failures when an escalation reaches PID 1, after shutting everything down", async () => {
    const { run, lines } = boot(defineTree(supervisor("root", {
      intensity: { maxRestarts: 1, withinMs: 60_000 },
      children: [
        service("steady", Effect.never),
        supervisor("inner", {
          intensity: { maxRestarts: 2, withinMs: 60_000 },
          children: [service("crasher", failing)]
        })
      ]
    })))
    const exit = await Effect.runPromise(Effect.result(run))
    expect(Result.isFailure(exit)).toBe(true)
    const error = (exit as Result.Failure<unknown, Boot.Escalated>).failure
    expect(error._tag).toBe("Escalated")
    expect(error.message).toContain("init/root/inner: reached max restart intensity")
    expect(error.message).toContain("init/root/inner/crasher")
    expect(lines.some((l) => /init\/root\/inner\s+ESCALATED/.test(l))).toBe(true)
    expect(lines.some((l) => /init\/root\s+ESCALATED/.test(l))).toBe(true)
  })

  it("ends with what the run amounted to: restarts per child and escalations", async () => {
    let runs = 0
    const { run, lines } = boot(defineTree(supervisor("root", {
      intensity: { maxRestarts: 5, withinMs: 60_000 },
      children: [service("twice", Effect.suspend(() => (++runs < 3 ? Effect.fail("again") : Effect.void)), { restart: "transient" })]
    })))
    await Effect.runPromise(run)
    expect(lines).toContain("restarts: init/root/twice 2")
    expect(lines).toContain("escalations: none")
  })
})

describe(`Boot.run with agents (launched by the ${Machine.launcher} launcher)`, () => {
  const talker = defineTree(supervisor("root", {
    children: [agent("talker", { run: "sh", args: ["-c", "echo hello from $AGENTOS_NAME; echo oops >&2"], restart: "transient" })]
  }))

  it("prints each agent's output as it comes, prefixed by its name, stderr marked", async () => {
    const { run, lines } = boot(talker)
    await Effect.runPromise(run)
    expect(lines).toContain("talker           | hello from talker")
    expect(lines).toContain("talker           | (stderr) oops")
  })

  it("an agent's escape sequences reach the terminal as text, its colours as colours", async () => {
    const { run, lines } = boot(defineTree(supervisor("root", {
      children: [agent("prankster", {
        run: "sh",
        args: ["-c", "printf 'clear\\033[2J\\033[Hhome \\033]0;title\\007 \\033[32mgreen\\n'"],
        restart: "transient"
      })]
    })))
    await Effect.runPromise(run)
    expect(lines).toContain("prankster        | clear^[[2J^[[Hhome ^[]0;title^G \x1b[32mgreen\x1b[0m")
  })

  it("--quiet prints lifecycle events only", async () => {
    const { run, lines } = boot(talker, { quiet: true })
    await Effect.runPromise(run)
    expect(lines.some((l) => /init\/root\/talker\s+exited: exited with code 0/.test(l))).toBe(true)
    expect(lines.filter((l) => l.includes("|"))).toEqual([])
  })

  it("an agent's llm options in the tree reach the kernel's scheduler", async () => {
    const thinker = Path.resolve(import.meta.dirname, "../llm/agents/thinker.ts")
    const { run, lines } = boot(defineTree(supervisor("root", {
      children: [
        agent("frugal", { run: thinker, args: ["6", "8"], restart: "transient", llm: { budget: 40 } }),
        agent("free", { run: thinker, args: ["6", "8"], restart: "transient" })
      ]
    })))
    await Effect.runPromise(run)
    const report = (name: string) =>
      JSON.parse(lines.find((l) => l.startsWith(`${name.padEnd(16)} | REPORT `))!.slice(26)) as ReadonlyArray<{ ok: boolean; code?: string }>
    expect(report("frugal").some((o) => !o.ok && o.code === "ERATE")).toBe(true)
    expect(report("free").every((o) => o.ok)).toBe(true)
  })
})
