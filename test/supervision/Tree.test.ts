/**
 * The tree DSL and decodeTree: builders give plain tagged objects, decoding fills every default,
 * and a bad tree is reported whole, one line per problem with its path, as OTP's
 * check_childspecs and vitest's config errors do. ResolvedTree's walk/paths/find at the end.
 */
import { Effect, Result } from "effect"
import { describe, expect, it } from "vitest"
import * as Backoff from "../../src/supervision/Backoff.ts"
import * as ResolvedTree from "../../src/supervision/ResolvedTree.ts"
import * as Tree from "../../src/supervision/Tree.ts"
import { agent, defineTree, service, supervisor } from "../../src/supervision/Tree.ts"

const decodeOk = (input: unknown): ResolvedTree.ResolvedTree => {
  const result = Tree.decodeTree(input)
  if (Result.isFailure(result)) throw new Error(result.failure.message)
  return result.success
}

const problemsOf = (input: unknown): ReadonlyArray<string> => {
  const result = Tree.decodeTree(input)
  if (Result.isSuccess(result)) throw new Error("expected the tree to be rejected")
  expect(result.failure._tag).toBe("TreeError")
  return result.failure.problems
}

const worker = (name: string, extra: Record<string, unknown> = {}) => ({ _tag: "agent", name, run: "worker.ts", ...extra })
const sup = (name: string, children: ReadonlyArray<unknown>, extra: Record<string, unknown> = {}) => ({
  _tag: "supervisor",
  name,
  children,
  ...extra
})

describe("the DSL", () => {
  it("builders return plain tagged objects", () => {
    const effect = Effect.void
    expect(agent("web", { run: "web.ts", restart: "transient" })).toEqual({ _tag: "agent", name: "web", run: "web.ts", restart: "transient" })
    expect(service("router", effect)).toEqual({ _tag: "service", name: "router", effect })
    expect(service("router", effect, { shutdown: "brutal_kill" })).toEqual({ _tag: "service", name: "router", effect, shutdown: "brutal_kill" })
    expect(supervisor("root", { strategy: "one_for_all", children: [] })).toEqual({
      _tag: "supervisor",
      name: "root",
      strategy: "one_for_all",
      children: []
    })
  })

  it("options cannot override the tag or the name", () => {
    const sneaky = { run: "x.ts", _tag: "service", name: "other" } as unknown as Tree.AgentOptions
    expect(agent("web", sneaky)).toMatchObject({ _tag: "agent", name: "web" })
  })

  it("defineTree is a typed identity", () => {
    const tree = supervisor("root", { children: [agent("a", { run: "a.ts" })] })
    expect(defineTree(tree)).toBe(tree)
  })
})

describe("decodeTree: defaults", () => {
  const tree = defineTree(supervisor("root", {
    children: [
      agent("web", { run: "web.ts" }),
      service("metrics", Effect.void),
      supervisor("workers", { strategy: "rest_for_one", children: [agent("crasher", { run: "crash.ts", backoff: true })] })
    ]
  }))

  it("fills OTP's defaults: one_for_one, 1 restart in 5000 ms, permanent, shutdown 5000 / infinity", () => {
    const resolved = decodeOk(tree)
    expect(resolved).toMatchObject({
      _tag: "supervisor",
      name: "root",
      strategy: "one_for_one",
      intensity: { maxRestarts: 1, withinMs: 5000 },
      restart: "permanent",
      shutdown: "infinity"
    })
    expect(resolved.children[0]).toEqual({
      _tag: "agent",
      name: "web",
      run: "web.ts",
      args: [],
      env: {},
      cwd: null,
      sandbox: {},
      caps: [],
      restart: "permanent",
      shutdown: 5000,
      backoff: null,
      watchdogMs: null,
      mailbox: {},
      llm: { weight: 1, rpm: null, tpm: null, budget: null }
    })
    expect(resolved.children[1]).toEqual({ _tag: "service", name: "metrics", effect: Effect.void, restart: "permanent", shutdown: 5000 })
    expect(resolved.children[2]).toMatchObject({ _tag: "supervisor", name: "workers", strategy: "rest_for_one", shutdown: "infinity" })
  })

  it("keeps the service's Effect itself", () => {
    const resolved = decodeOk(tree)
    expect((resolved.children[1] as ResolvedTree.ResolvedService).effect).toBe(Effect.void)
  })

  it("backoff: true is Backoff.defaults, a spec is resolved, false is off", () => {
    const resolved = decodeOk(supervisor("root", {
      children: [
        agent("a", { run: "a.ts", backoff: true }),
        agent("b", { run: "b.ts", backoff: { initialMs: 100, maxMs: 1000 } }),
        agent("c", { run: "c.ts", backoff: false })
      ]
    }))
    const backoffs = resolved.children.map((c) => (c as ResolvedTree.ResolvedAgent).backoff)
    expect(backoffs).toEqual([Backoff.defaults, { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.2, resetAfterMs: 2000 }, null])
  })

  it("keeps every option given", () => {
    const resolved = decodeOk(supervisor("root", {
      strategy: "one_for_all",
      intensity: { maxRestarts: 3, withinMs: 10_000 },
      shutdown: 20_000,
      children: [
        agent("full", {
          run: "full.py",
          args: ["--fast"],
          env: { MODE: "x" },
          cwd: "/srv",
          sandbox: { memory: "256M", cpu: 0.5, network: "none" },
          caps: ["SPAWN"],
          restart: "temporary",
          shutdown: "brutal_kill",
          watchdogMs: 3000,
          llm: { weight: 2, rpm: 60, tpm: 10_000, budget: 1_000_000 }
        })
      ]
    }))
    expect(resolved).toMatchObject({ strategy: "one_for_all", intensity: { maxRestarts: 3, withinMs: 10_000 }, shutdown: 20_000 })
    expect(resolved.children[0]).toMatchObject({
      args: ["--fast"],
      env: { MODE: "x" },
      cwd: "/srv",
      sandbox: { memory: "256M", cpu: 0.5, network: "none" },
      caps: ["SPAWN"],
      restart: "temporary",
      shutdown: "brutal_kill",
      watchdogMs: 3000,
      llm: { weight: 2, rpm: 60, tpm: 10_000, budget: 1_000_000 }
    })
  })

  it("fills a partial intensity from the defaults", () => {
    expect(decodeOk(sup("root", [], { intensity: { maxRestarts: 0 } })).intensity).toEqual({ maxRestarts: 0, withinMs: 5000 })
  })

  it("accepts a simple_one_for_one supervisor with its one template", () => {
    expect(decodeOk(sup("pool", [worker("worker")], { strategy: "simple_one_for_one" })).strategy).toBe("simple_one_for_one")
  })
})

describe("decodeTree: problems", () => {
  it("reports every problem of a bad tree, one line each with its path, in tree order", () => {
    const bad = {
      _tag: "supervisor",
      name: "root",
      strategy: "one_for_some",
      intensity: { maxRestarts: -1, withinMs: 0 },
      colour: "blue",
      children: [
        worker("web"),
        worker("-api", { run: "", sandbox: { memory: "lots", cpu: 0 } }),
        worker("db", { restart: "sometimes", shutdown: "later" }),
        worker("cache", { backoff: { initialMs: 1000, maxMs: 10 }, caps: ["SPAWN", "FLY"] }),
        { _tag: "service", name: "metrics", effect: "not an effect" },
        { _tag: "process", name: "x" },
        worker("web"),
        sup("pool", [worker("a"), worker("b")], { strategy: "simple_one_for_one", shutdown: "brutal_kill" }),
        sup("inner", [{ _tag: "agent", name: "lost" }])
      ]
    }
    const problems = problemsOf(bad)
    expect(problems).toEqual([
      "colour: unexpected key",
      `strategy: expected "one_for_one" | "one_for_all" | "rest_for_one" | "simple_one_for_one"`,
      "intensity.maxRestarts: expected a value greater than or equal to 0",
      "intensity.withinMs: expected a value greater than 0",
      "children[1].name: expected 1–63 characters of letters, digits, '.', '_' or '-', starting with a letter or digit",
      "children[1].run: expected a value with a length of at least 1",
      `children[1].sandbox.memory: expected a size like 50M, 1GiB or a number of bytes, got "lots"`,
      "children[1].sandbox.cpu: expected a value greater than 0",
      `children[2].restart: expected "permanent" | "transient" | "temporary"`,
      `children[2].shutdown: expected "brutal_kill" or a timeout in ms (an integer ≥ 0)`,
      expect.stringMatching(/^children\[3\]\.caps\[1\]: expected "NOOP" \| .*"HEARTBEAT" \| "LOGS" \| "METRICS"$/),
      "children[3].backoff.maxMs: expected at least initialMs (1000), got 10",
      "children[4].effect: expected an Effect",
      `children[5]: expected a child: supervisor(…), agent(…) or service(…) (_tag "supervisor", "agent" or "service")`,
      `children[6].name: duplicate name "web" (also at children[0])`,
      `children[7].shutdown: expected "infinity" or a timeout in ms (an integer ≥ 0)`,
      "children[7].children: a simple_one_for_one supervisor has exactly one child, the template of its dynamic children; got 2",
      "children[8].children[0].run: missing key"
    ])
  })

  it("puts every problem in the error's message, one per line", () => {
    const result = Tree.decodeTree(sup("root", [worker("a", { restart: "never" }), worker("a")]))
    expect(Result.isFailure(result) && result.failure.message).toBe([
      "invalid supervision tree:",
      `  children[0].restart: expected "permanent" | "transient" | "temporary"`,
      `  children[1].name: duplicate name "a" (also at children[0])`
    ].join("\n"))
  })

  const cases: ReadonlyArray<readonly [name: string, input: unknown, problems: ReadonlyArray<string>]> = [
    ["not an object", 42, ["expected object"]],
    ["the root must be a supervisor", worker("a"), ["run: unexpected key", `_tag: expected "supervisor"`, "children: missing key"]],
    ["duplicate_child_name among siblings", sup("root", [worker("a"), worker("b"), worker("a")]), [
      `children[2].name: duplicate name "a" (also at children[0])`
    ]],
    ["names are unique in the whole tree", sup("root", [sup("left", [worker("x")]), sup("right", [worker("x")])]), [
      `children[1].children[0].name: duplicate name "x" (also at children[0].children[0])`
    ]],
    ["a child may not take the root's name", sup("root", [worker("root")]), [`children[0].name: duplicate name "root" (also at the root)`]],
    ["simple_one_for_one with no template", sup("pool", [], { strategy: "simple_one_for_one" }), [
      "children: a simple_one_for_one supervisor has exactly one child, the template of its dynamic children; got 0"
    ]],
    ["shutdown must be a non-negative integer", sup("root", [worker("a", { shutdown: -1 }), worker("b", { shutdown: 1.5 })]), [
      "children[0].shutdown: expected a value greater than or equal to 0",
      "children[1].shutdown: expected an integer"
    ]],
    ["backoff must be a boolean or a spec", sup("root", [worker("a", { backoff: 3 }), worker("b", { backoff: { initialMs: 1, maxMs: 2, jitter: 2 } })]), [
      "children[0].backoff: expected true, false or { initialMs, maxMs, factor?, jitter?, resetAfterMs? }",
      "children[1].backoff.jitter: expected a value less than or equal to 1"
    ]],
    ["watchdogMs and llm limits", sup("root", [worker("a", { watchdogMs: 0, llm: { weight: 0, rpm: 0, speed: 1 } })]), [
      "children[0].watchdogMs: expected a value greater than 0",
      "children[0].llm.speed: unexpected key",
      "children[0].llm.weight: expected a value greater than 0",
      "children[0].llm.rpm: expected a value greater than 0"
    ]],
    ["env keys that are not identifiers are quoted", sup("root", [worker("a", { env: { "MY-VAR": 1 } })]), [
      `children[0].env["MY-VAR"]: expected string`
    ]]
  ]
  for (const [name, input, problems] of cases) {
    it(name, () => {
      expect(problemsOf(input)).toEqual(problems)
    })
  }
})

describe("ResolvedTree", () => {
  const tree = decodeOk(supervisor("root", {
    children: [
      service("router", Effect.void),
      supervisor("workers", { children: [agent("crasher", { run: "c.ts" }), agent("steady", { run: "s.ts" })] }),
      agent("web", { run: "w.ts" })
    ]
  }))

  it("paths: every node, a supervisor before its children, in start order", () => {
    expect(ResolvedTree.paths(tree)).toEqual([
      "root",
      "root/router",
      "root/workers",
      "root/workers/crasher",
      "root/workers/steady",
      "root/web"
    ])
  })

  it("walk: each node with its parent and depth", () => {
    const visits = [...ResolvedTree.walk(tree)].map((v) => [v.path, v.node._tag, v.parent?.name ?? null, v.depth])
    expect(visits).toEqual([
      ["root", "supervisor", null, 0],
      ["root/router", "service", "root", 1],
      ["root/workers", "supervisor", "root", 1],
      ["root/workers/crasher", "agent", "workers", 2],
      ["root/workers/steady", "agent", "workers", 2],
      ["root/web", "agent", "root", 1]
    ])
  })

  it("find: the node at a path", () => {
    expect(ResolvedTree.find(tree, "root/workers/crasher")).toMatchObject({ _tag: "agent", run: "c.ts" })
    expect(ResolvedTree.find(tree, "root")).toBe(tree)
    expect(ResolvedTree.find(tree, "root/nope")).toBeUndefined()
  })
})
