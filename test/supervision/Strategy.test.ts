/**
 * Strategy.decide against supervisor.erl: each case is named after the supervisor_SUITE case it
 * mirrors (`permanent_normal`, `temporary_bystander`, …), then every strategy × restart type ×
 * normal/abnormal end over one fixed child list, with the decision spelled out.
 */
import { describe, expect, it } from "vitest"
import * as Strategy from "../../src/supervision/Strategy.ts"
import type { ChildView, Decision, RestartType } from "../../src/supervision/Strategy.ts"

const child = (name: string, restart: RestartType = "permanent", running = true): ChildView => ({ name, restart, running })

const ignore = (...remove: Array<string>): Decision => ({ _tag: "Ignore", remove })
const restart = (stop: Array<string>, start: Array<string>, remove: Array<string> = []): Decision => ({
  _tag: "Restart",
  stop,
  start,
  remove
})

describe("Strategy.decide: restart types (supervisor_SUITE normal/shutdown/abnormal_termination)", () => {
  // One child under one_for_one that ended; `normal` covers OTP's normal, shutdown and
  // {shutdown, Term}: all three are a normal end.
  const cases: ReadonlyArray<readonly [name: string, restart: RestartType, normal: boolean, expected: Decision]> = [
    ["permanent_normal", "permanent", true, restart([], ["child1"])],
    ["transient_normal", "transient", true, ignore()],
    ["temporary_normal", "temporary", true, ignore("child1")],
    ["permanent_shutdown", "permanent", true, restart([], ["child1"])],
    ["transient_shutdown", "transient", true, ignore()],
    ["temporary_shutdown", "temporary", true, ignore("child1")],
    ["permanent_abnormal", "permanent", false, restart([], ["child1"])],
    ["transient_abnormal", "transient", false, restart([], ["child1"])],
    ["temporary_abnormal", "temporary", false, ignore("child1")]
  ]
  for (const [name, type, normal, expected] of cases) {
    it(name, () => {
      const children = [child("child1", type, false)]
      expect(Strategy.decide({ strategy: "one_for_one", children, failed: "child1", normal })).toEqual(expected)
    })
  }
})

describe("Strategy.decide: strategies (supervisor_SUITE restart_* groups)", () => {
  it("one_for_one: only the failed child is restarted", () => {
    const children = [child("child1", "permanent", false), child("child2")]
    expect(Strategy.decide({ strategy: "one_for_one", children, failed: "child1", normal: false }))
      .toEqual(restart([], ["child1"]))
  })

  it("one_for_all: the others are stopped, then everything starts again in order", () => {
    const children = [child("child1", "permanent", false), child("child2"), child("child3")]
    expect(Strategy.decide({ strategy: "one_for_all", children, failed: "child1", normal: false }))
      .toEqual(restart(["child3", "child2"], ["child1", "child2", "child3"]))
  })

  it("rest_for_one: the children started after the failed one are stopped and restarted", () => {
    const children = [child("child1"), child("child2", "permanent", false), child("child3"), child("child4")]
    expect(Strategy.decide({ strategy: "rest_for_one", children, failed: "child2", normal: false }))
      .toEqual(restart(["child4", "child3"], ["child2", "child3", "child4"]))
  })

  it("rest_for_one: the last child failing restarts it alone", () => {
    const children = [child("child1"), child("child2", "permanent", false)]
    expect(Strategy.decide({ strategy: "rest_for_one", children, failed: "child2", normal: false }))
      .toEqual(restart([], ["child2"]))
  })

  it("simple_one_for_one: a dynamic child is restarted alone", () => {
    const children = [child("worker-1", "permanent", false), child("worker-2")]
    expect(Strategy.decide({ strategy: "simple_one_for_one", children, failed: "worker-1", normal: false }))
      .toEqual(restart([], ["worker-1"]))
  })

  it("simple_one_for_one_shutdown: a transient dynamic child ending normally is deleted", () => {
    const children = [child("worker-1", "transient", false), child("worker-2", "transient")]
    expect(Strategy.decide({ strategy: "simple_one_for_one", children, failed: "worker-1", normal: true }))
      .toEqual(ignore("worker-1"))
  })

  it("temporary_bystander: a temporary sibling caught in one_for_all is stopped and deleted, not restarted", () => {
    const children = [child("child1", "permanent", false), child("child2", "temporary")]
    expect(Strategy.decide({ strategy: "one_for_all", children, failed: "child1", normal: true }))
      .toEqual(restart(["child2"], ["child1"], ["child2"]))
  })

  it("temporary_bystander: likewise under rest_for_one", () => {
    const children = [child("child1", "permanent", false), child("child2", "temporary")]
    expect(Strategy.decide({ strategy: "rest_for_one", children, failed: "child1", normal: true }))
      .toEqual(restart(["child2"], ["child1"], ["child2"]))
  })

  it("do_not_save_child_specs_for_temporary_children: a temporary child is deleted when it ends", () => {
    const children = [child("child1"), child("child2", "temporary", false)]
    expect(Strategy.decide({ strategy: "one_for_all", children, failed: "child2", normal: false }))
      .toEqual(ignore("child2"))
  })

  it("one_for_all starts a sibling that had no process (start_children walks the whole list)", () => {
    const children = [child("child1", "permanent", false), child("child2", "transient", false), child("child3")]
    expect(Strategy.decide({ strategy: "one_for_all", children, failed: "child1", normal: false }))
      .toEqual(restart(["child3"], ["child1", "child2", "child3"]))
  })

  it("a child already deleted is ignored (restart_child/3 with an unknown pid)", () => {
    expect(Strategy.decide({ strategy: "one_for_all", children: [child("child1")], failed: "gone", normal: false }))
      .toEqual(ignore())
  })
})

describe("Strategy.decide: every strategy × restart type × end", () => {
  // first (permanent, running), failed, tmp (temporary, running), trans (transient, not running:
  // it ended normally earlier), last (permanent, running).
  const children = (type: RestartType): ReadonlyArray<ChildView> => [
    child("first"),
    child("failed", type, false),
    child("tmp", "temporary"),
    child("trans", "transient", false),
    child("last")
  ]
  const oneForAll = restart(["last", "tmp", "first"], ["first", "failed", "trans", "last"], ["tmp"])
  const restForOne = restart(["last", "tmp"], ["failed", "trans", "last"], ["tmp"])
  const alone = restart([], ["failed"])

  const table: ReadonlyArray<readonly [Strategy.Strategy, RestartType, "normal" | "abnormal", Decision]> = [
    ["one_for_one", "permanent", "normal", alone],
    ["one_for_one", "permanent", "abnormal", alone],
    ["one_for_one", "transient", "normal", ignore()],
    ["one_for_one", "transient", "abnormal", alone],
    ["one_for_one", "temporary", "normal", ignore("failed")],
    ["one_for_one", "temporary", "abnormal", ignore("failed")],
    ["one_for_all", "permanent", "normal", oneForAll],
    ["one_for_all", "permanent", "abnormal", oneForAll],
    ["one_for_all", "transient", "normal", ignore()],
    ["one_for_all", "transient", "abnormal", oneForAll],
    ["one_for_all", "temporary", "normal", ignore("failed")],
    ["one_for_all", "temporary", "abnormal", ignore("failed")],
    ["rest_for_one", "permanent", "normal", restForOne],
    ["rest_for_one", "permanent", "abnormal", restForOne],
    ["rest_for_one", "transient", "normal", ignore()],
    ["rest_for_one", "transient", "abnormal", restForOne],
    ["rest_for_one", "temporary", "normal", ignore("failed")],
    ["rest_for_one", "temporary", "abnormal", ignore("failed")],
    ["simple_one_for_one", "permanent", "normal", alone],
    ["simple_one_for_one", "permanent", "abnormal", alone],
    ["simple_one_for_one", "transient", "normal", ignore("failed")],
    ["simple_one_for_one", "transient", "abnormal", alone],
    ["simple_one_for_one", "temporary", "normal", ignore("failed")],
    ["simple_one_for_one", "temporary", "abnormal", ignore("failed")]
  ]

  for (const [strategy, type, end, expected] of table) {
    it(`${strategy} ${type} ${end}`, () => {
      expect(Strategy.decide({ strategy, children: children(type), failed: "failed", normal: end === "normal" }))
        .toEqual(expected)
    })
  }

  it("covers every strategy and restart type", () => {
    expect(new Set(table.map(([s]) => s))).toEqual(new Set(Strategy.strategies))
    expect(new Set(table.map(([, t]) => t))).toEqual(new Set(Strategy.restartTypes))
  })
})

describe("Strategy.isRestarted", () => {
  it("permanent always, transient after an abnormal end, temporary never", () => {
    expect(Strategy.restartTypes.map((t) => [t, Strategy.isRestarted(t, true), Strategy.isRestarted(t, false)])).toEqual([
      ["permanent", true, true],
      ["transient", false, true],
      ["temporary", false, false]
    ])
  })
})
