/**
 * The supervisor's pure handlers (SupervisorState.step): what each event does to the State and
 * which commands it asks the loop for, without a loop, a process or a clock. The loop's
 * behaviour with real children is Supervisor.test.ts's; these pin the decisions themselves:
 * the order of stops and starts, when intensity escalates, what a stale end does, the rule for
 * a restart on request.
 */
import { describe, expect, it } from "vitest"
import { Effect, Result } from "effect"
import type { ResolvedSupervisor } from "../../src/supervision/ResolvedTree.ts"
import * as SupervisorState from "../../src/supervision/SupervisorState.ts"
import { decodeTree, service, supervisor, type SupervisorOptions } from "../../src/supervision/Tree.ts"

const resolve = (children: ReadonlyArray<{ readonly name: string; readonly restart?: "permanent" | "transient" | "temporary" }>, options: Partial<SupervisorOptions> = {}): ResolvedSupervisor => {
  const decoded = decodeTree(supervisor("sup", { ...options, children: children.map((c) => service(c.name, Effect.never, { restart: c.restart ?? "permanent" })) }))
  if (Result.isFailure(decoded)) throw new Error(decoded.failure.message)
  return decoded.success
}

/** A supervisor whose children are all added and started (each with a process). */
const running = (spec: ResolvedSupervisor): SupervisorState.State => {
  let state = SupervisorState.init(spec, "sup")
  for (const child of spec.children) {
    state = apply(state, { _tag: "Add", child: SupervisorState.newChild(state, child, false) })
    state = apply(state, { _tag: "Starting", name: child.name, now: 0 })
    state = apply(state, { _tag: "Started", name: child.name, pid: null, rest: [], mode: "init" })
  }
  return apply(state, { _tag: "Own", event: { type: "STARTED" } })
}

const apply = (state: SupervisorState.State, event: SupervisorState.Event) => SupervisorState.step(state, event)[0]

const states = (state: SupervisorState.State) => state.children.map((c) => `${c.spec.name} ${SupervisorState.stateOf(c)}`)

const exit = (state: SupervisorState.State, name: string, options: { readonly normal?: boolean; readonly now?: number } = {}) =>
  SupervisorState.step(state, {
    _tag: "Exited",
    name,
    incarnation: SupervisorState.find(state, name)!.incarnation,
    reason: options.normal === true ? "exit code 0" : "exit code 1",
    normal: options.normal ?? false,
    now: options.now ?? 1000,
    random: 0.5
  })

/** The commands, short: `Start a`, `Then Terminate b`, `Report agentos.child.exited a`. */
const named = (commands: ReadonlyArray<SupervisorState.Command>): Array<string> =>
  commands.map((c) => {
    switch (c._tag) {
      case "Start":
      case "Stop":
      case "Release":
        return `${c._tag} ${c.name}`
      case "Report":
        return `Report ${c.report.type} ${c.report.name}`
      case "Then":
        return `Then ${c.event._tag}${"name" in c.event ? ` ${c.event.name}` : ""}${"names" in c.event ? ` ${c.event.names.join(",")}` : ""}`
      case "Backoff":
        return `Backoff ${c.delayMs} ${c.names.join(",")}`
      case "Queue":
        return `Queue ${c.name}`
      case "Escalate":
        return "Escalate"
    }
  })

describe("SupervisorState.step", () => {
  it("one_for_one: releases the ended child, reports, then restarts it alone", () => {
    const [state, commands] = exit(running(resolve([{ name: "a" }, { name: "b" }])), "a")
    expect(named(commands)).toEqual([
      "Release a",
      "Report agentos.child.exited a",
      "Then Remove ",
      "Then RestartGroup a",
      "Then Own"
    ])
    expect(states(state)).toEqual(["a restarting", "b running"])
    expect(String(state.own.value)).toBe("restarting")
  })

  it("one_for_all: terminates the running siblings in reverse start order, then starts all in start order", () => {
    let state = running(resolve([{ name: "a" }, { name: "b" }, { name: "c" }], { strategy: "one_for_all", intensity: { maxRestarts: 3, withinMs: 5000 } }))
    const [next, commands] = exit(state, "b")
    expect(named(commands).filter((c) => c.startsWith("Then"))).toEqual(["Then Terminate c", "Then Terminate a", "Then Remove ", "Then RestartGroup a,b,c", "Then Own"])
    state = next
    // The loop performs: each Terminate asks for a Stop of the process, which comes back as Stopped.
    const [stopping, stop] = SupervisorState.step(state, { _tag: "Terminate", name: "c" })
    expect(named(stop)).toEqual(["Stop c"])
    expect(states(stopping)).toEqual(["a running", "b restarting", "c stopping"])
    const [stopped, reported] = SupervisorState.step(stopping, { _tag: "Stopped", name: "c" })
    expect(named(reported)).toEqual(["Report agentos.child.stopped c"])
    expect(states(stopped)).toEqual(["a running", "b restarting", "c exited"])
    state = apply(apply(stopped, { _tag: "Terminate", name: "a" }), { _tag: "Stopped", name: "a" })
    const [restarting, starts] = SupervisorState.step(state, { _tag: "RestartGroup", names: ["a", "b", "c"], failed: "b", now: 1000, random: 0.5 })
    // The group starts one after the other: the first now, the rest after it comes up.
    expect(named(starts)).toEqual(["Report agentos.child.restarting a", "Report agentos.child.restarting b", "Report agentos.child.restarting c", "Start a"])
    expect(starts.at(-1)).toMatchObject({ _tag: "Start", name: "a", rest: ["b", "c"], mode: "restart" })
    expect(states(restarting)).toEqual(["a starting", "b starting", "c starting"])
    expect(restarting.children.map((c) => c.lifecycle.context.restarts)).toEqual([1, 1, 1])
  })

  it("rest_for_one: only the children started after the failed one", () => {
    const [, commands] = exit(running(resolve([{ name: "a" }, { name: "b" }, { name: "c" }], { strategy: "rest_for_one" })), "b")
    expect(named(commands).filter((c) => c.startsWith("Then"))).toEqual(["Then Terminate c", "Then Remove ", "Then RestartGroup b,c", "Then Own"])
  })

  it("a failed start in a group stops the rest and queues the child's end (OTP's try_again)", () => {
    let state = running(resolve([{ name: "a" }, { name: "b" }], { strategy: "one_for_all" }))
    state = exit(state, "a")[0]
    state = apply(apply(state, { _tag: "Terminate", name: "b" }), { _tag: "Stopped", name: "b" })
    const [restarting, starts] = SupervisorState.step(state, { _tag: "RestartGroup", names: ["a", "b"], failed: "a", now: 1000, random: 0 })
    expect(starts.at(-1)).toMatchObject({ _tag: "Start", name: "a", rest: ["b"] })
    state = apply(restarting, { _tag: "Starting", name: "a", now: 1000 })
    const [next, commands] = SupervisorState.step(state, { _tag: "StartFailed", name: "a", reason: "no such file", mode: "restart" })
    expect(named(commands)).toEqual(["Report agentos.child.start_failed a", "Queue a"])
    expect(commands[1]).toMatchObject({ incarnation: SupervisorState.find(next, "a")!.incarnation, normal: false })
    expect(SupervisorState.find(next, "a")!.lifecycle.context.lastReason).toBe("no such file")
  })

  it("escalates past the intensity: gives the offender up, terminates all in reverse, reports, fails", () => {
    let state = running(resolve([{ name: "a" }, { name: "b" }], { intensity: { maxRestarts: 1, withinMs: 5000 } }))
    state = exit(state, "a", { now: 1000 })[0]
    state = apply(apply(state, { _tag: "RestartGroup", names: ["a"], failed: "a", now: 1000, random: 0 }), { _tag: "Own", event: { type: "CHILD_RESTARTED" } })
    state = apply(state, { _tag: "Starting", name: "a", now: 1000 })
    state = apply(state, { _tag: "Started", name: "a", pid: null, rest: [], mode: "restart" })
    const [escalated, commands] = exit(state, "a", { now: 2000 })
    expect(named(commands)).toEqual([
      "Release a",
      "Report agentos.child.exited a",
      "Then Terminate b",
      "Then Terminate a",
      "Report agentos.supervisor.escalated a",
      "Escalate"
    ])
    expect(commands.at(-1)).toMatchObject({ chain: "sup: reached max restart intensity (more than 1 restarts in 5000 ms); last: sup/a: exit code 1" })
    expect(escalated.stopping).toBe(true)
    expect(String(escalated.own.value)).toBe("failed")
    expect(states(escalated)).toEqual(["a failed", "b running"])
    // Ends that arrive while it stops are not acted on.
    expect(exit(escalated, "b")[1]).toEqual([])
  })

  it("outside the window, the history forgets old restarts and the child comes back", () => {
    let state = running(resolve([{ name: "a" }], { intensity: { maxRestarts: 1, withinMs: 5000 } }))
    state = exit(state, "a", { now: 1000 })[0]
    state = apply(state, { _tag: "RestartGroup", names: ["a"], failed: "a", now: 1000, random: 0 })
    state = apply(apply(state, { _tag: "Starting", name: "a", now: 1000 }), { _tag: "Started", name: "a", pid: null, rest: [], mode: "restart" })
    const [, commands] = exit(state, "a", { now: 7000 })
    expect(named(commands)).toContain("Then RestartGroup a")
  })

  it("an end of an older incarnation is stale: nothing changes", () => {
    const state = running(resolve([{ name: "a" }]))
    const [next, commands] = SupervisorState.step(state, { _tag: "Exited", name: "a", incarnation: 0, reason: "x", normal: false, now: 0, random: 0 })
    expect(next).toBe(state)
    expect(commands).toEqual([])
  })

  it("a transient child that ends normally is given up, a temporary one removed: nothing counts against intensity", () => {
    const state = running(resolve([{ name: "t", restart: "transient" }, { name: "once", restart: "temporary" }]))
    const [transient, c1] = exit(state, "t", { normal: true })
    expect(named(c1)).toEqual(["Release t", "Report agentos.child.exited t"])
    expect(states(transient)).toEqual(["t exited", "once running"])
    expect(transient.history).toEqual([])
    const [temporary] = exit(transient, "once")
    expect(states(temporary)).toEqual(["t exited"])
  })

  it("a backoff: the group waits, then starts only the children still waiting at their incarnation", () => {
    const decoded = decodeTree(supervisor("sup", { children: [{ _tag: "agent", name: "a", run: "/bin/true", backoff: { initialMs: 100, maxMs: 1000, jitter: 0 } } as never] }))
    if (Result.isFailure(decoded)) throw new Error(decoded.failure.message)
    let state = running(decoded.success)
    state = exit(state, "a")[0]
    const [waiting, commands] = SupervisorState.step(state, { _tag: "RestartGroup", names: ["a"], failed: "a", now: 1000, random: 0.5 })
    expect(named(commands)).toEqual(["Report agentos.child.restarting a", "Backoff 100 a"])
    expect(states(waiting)).toEqual(["a backoff"])
    const incarnation = SupervisorState.find(waiting, "a")!.incarnation
    expect(named(SupervisorState.step(waiting, { _tag: "BackoffDone", names: ["a"], incarnations: [incarnation + 1] })[1])).toEqual([])
    expect(named(SupervisorState.step(waiting, { _tag: "BackoffDone", names: ["a"], incarnations: [incarnation] })[1])).toEqual(["Start a"])
  })

  it("stopping: reverse start order, then the supervisor's own STOPPED", () => {
    const [stopping, commands] = SupervisorState.step(running(resolve([{ name: "a" }, { name: "b" }])), { _tag: "Stop" })
    expect(named(commands)).toEqual(["Then Terminate b", "Then Terminate a", "Then Own"])
    expect(String(stopping.own.value)).toBe("stopping")
  })
})

describe("the runtime API's refusals and names", () => {
  const state = running(resolve([{ name: "a" }, { name: "once", restart: "temporary" }]))

  it("restart_child refuses an active child, an unknown one, and any child of a simple_one_for_one supervisor", () => {
    expect(SupervisorState.refuseRestart(state, "a")?._tag).toBe("Busy")
    expect(SupervisorState.refuseRestart(state, "zz")?._tag).toBe("NotFound")
    const simple = SupervisorState.init(resolve([{ name: "w" }], { strategy: "simple_one_for_one" }), "pool")
    expect(SupervisorState.refuseRestart(simple, "w-1")?._tag).toBe("InvalidArgument")
    const stopped = apply(state, { _tag: "Terminate", name: "a" })
    expect(SupervisorState.find(stopped, "a")!.process).not.toBeNull()
    expect(SupervisorState.refuseRestart(apply(stopped, { _tag: "Stopped", name: "a" }), "a")).toBeUndefined()
  })

  it("start_child refuses a name in use; delete_child an active child", () => {
    expect(SupervisorState.refuseStart(state, "a")?._tag).toBe("AlreadyExists")
    expect(SupervisorState.refuseStart(state, "b")).toBeUndefined()
    expect(SupervisorState.refuseDelete(state, "a")?._tag).toBe("Busy")
  })

  it("a dynamic child's name: the one asked for, else the first free <template>-N", () => {
    const pool = SupervisorState.init(resolve([{ name: "w" }], { strategy: "simple_one_for_one" }), "pool")
    expect(SupervisorState.dynamicName(pool, "w", "mine")).toBe("mine")
    expect(SupervisorState.dynamicName(pool, "w", undefined)).toBe("w-1")
    const withTwo = apply(pool, { _tag: "Add", child: SupervisorState.newChild(pool, { ...pool.spec.children[0]!, name: "w-2" }, true) })
    // One child, so the count says w-2, which is taken.
    expect(SupervisorState.dynamicName(withTwo, "w", undefined)).toBe("w-3")
  })

  it("restartPlan: dynamic and temporary children are refused; an active one is terminated first", () => {
    expect(SupervisorState.restartPlan({ dynamic: true, restart: "permanent", active: true })).toEqual({ _tag: "Refused", because: "dynamic" })
    expect(SupervisorState.restartPlan({ dynamic: false, restart: "temporary", active: false })).toEqual({ _tag: "Refused", because: "temporary" })
    expect(SupervisorState.restartPlan({ dynamic: false, restart: "transient", active: true })).toEqual({ _tag: "Restart", terminateFirst: true })
    expect(SupervisorState.restartPlan({ dynamic: false, restart: "permanent", active: false })).toEqual({ _tag: "Restart", terminateFirst: false })
  })
})
