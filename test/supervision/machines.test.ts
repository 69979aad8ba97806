/**
 * The lifecycle machines, driven through xstate's pure `initialTransition` / `transition`: each
 * case is a run of events, the state it ends in and what the context then says; events a state
 * does not handle leave the snapshot as it was.
 */
import { describe, expect, it } from "vitest"
import { initialTransition, transition } from "xstate"
import { ChildLifecycle } from "../../src/supervision/machines/ChildLifecycle.ts"
import type { Event as ChildEvent } from "../../src/supervision/machines/ChildLifecycle.ts"
import { SupervisorLifecycle } from "../../src/supervision/machines/SupervisorLifecycle.ts"
import type { Event as SupervisorEvent } from "../../src/supervision/machines/SupervisorLifecycle.ts"

const runChild = (events: ReadonlyArray<ChildEvent>) => {
  let [snapshot] = initialTransition(ChildLifecycle)
  for (const event of events) [snapshot] = transition(ChildLifecycle, snapshot, event)
  return snapshot
}

const runSupervisor = (events: ReadonlyArray<SupervisorEvent>) => {
  let [snapshot] = initialTransition(SupervisorLifecycle)
  for (const event of events) [snapshot] = transition(SupervisorLifecycle, snapshot, event)
  return snapshot
}

const started = (pid: number | null = 42): ChildEvent => ({ type: "STARTED", pid })
const crashed: ChildEvent = { type: "EXITED", reason: "exited with code 1", normal: false }
const finished: ChildEvent = { type: "EXITED", reason: "exited with code 0", normal: true }
const restartNow: ChildEvent = { type: "RESTART", delayMs: 0 }

describe("ChildLifecycle", () => {
  it("starts in starting with an empty record", () => {
    const [snapshot, actions] = initialTransition(ChildLifecycle)
    expect(snapshot.value).toBe("starting")
    expect(snapshot.context).toEqual({ restarts: 0, lastReason: null, normal: true, pid: null, backoffMs: 0 })
    expect(actions).toEqual([])
  })

  const cases: ReadonlyArray<readonly [name: string, events: ReadonlyArray<ChildEvent>, state: string, context: Record<string, unknown>]> = [
    ["STARTED: running with its pid", [started(42)], "running", { pid: 42 }],
    ["a service has no pid", [started(null)], "running", { pid: null }],
    ["START_FAILED: restarting, abnormal", [{ type: "START_FAILED", reason: "exec: ENOENT" }], "restarting", {
      lastReason: "exec: ENOENT",
      normal: false
    }],
    ["EXITED: restarting, the reason kept, the pid gone", [started(), crashed], "restarting", {
      lastReason: "exited with code 1",
      normal: false,
      pid: null
    }],
    ["RESTART with no delay: starting again, counted", [started(), crashed, restartNow], "starting", { restarts: 1 }],
    ["RESTART with a delay: backoff, counted, the delay kept", [started(), crashed, { type: "RESTART", delayMs: 800 }], "backoff", {
      restarts: 1,
      backoffMs: 800
    }],
    ["BACKOFF_DONE: starting", [started(), crashed, { type: "RESTART", delayMs: 800 }, { type: "BACKOFF_DONE" }], "starting", {
      restarts: 1
    }],
    ["a crash loop counts every restart", [started(1), crashed, restartNow, started(2), crashed, restartNow, started(3)], "running", {
      restarts: 2,
      pid: 3
    }],
    ["GIVE_UP after a normal end: exited", [started(), finished, { type: "GIVE_UP" }], "exited", { normal: true }],
    ["GIVE_UP after an abnormal end: failed", [started(), crashed, { type: "GIVE_UP" }], "failed", {
      normal: false,
      lastReason: "exited with code 1"
    }],
    ["GIVE_UP after a failed start: failed", [{ type: "START_FAILED", reason: "boom" }, { type: "GIVE_UP" }], "failed", {
      lastReason: "boom"
    }],
    ["STOP while running: stopping", [started(), { type: "STOP" }], "stopping", { pid: 42 }],
    ["STOPPED: exited, reason shutdown", [started(), { type: "STOP" }, { type: "STOPPED" }], "exited", {
      lastReason: "shutdown",
      normal: true,
      pid: null
    }],
    ["ending on its own while stopping: exited with its reason", [started(), { type: "STOP" }, crashed], "exited", {
      lastReason: "exited with code 1"
    }],
    ["STOP while starting: stopping; a late STARTED records the pid to kill", [{ type: "STOP" }, started(7)], "stopping", { pid: 7 }],
    ["STOP during a backoff: exited at once", [started(), crashed, { type: "RESTART", delayMs: 800 }, { type: "STOP" }], "exited", {
      lastReason: "shutdown"
    }],
    ["STOP while the supervisor decides: exited, reason shutdown (no restart comes)", [started(), crashed, { type: "STOP" }], "exited", { lastReason: "shutdown", normal: true }],
    ["a stopped sibling restarted (one_for_all)", [started(), { type: "STOP" }, { type: "STOPPED" }, restartNow], "starting", {
      restarts: 1
    }],
    ["restart_child on a failed child", [started(), crashed, { type: "GIVE_UP" }, { type: "RESTART", delayMs: 100 }], "backoff", {
      restarts: 1
    }],
    ["events a state does not handle are ignored", [started(), { type: "BACKOFF_DONE" }, { type: "STOPPED" }, { type: "GIVE_UP" }], "running", {
      pid: 42
    }],
    ["RESTART while running is ignored", [started(), restartNow], "running", { restarts: 0 }]
  ]

  for (const [name, events, state, context] of cases) {
    it(name, () => {
      const snapshot = runChild(events)
      expect(snapshot.value).toBe(state)
      expect(snapshot.context).toMatchObject(context)
    })
  }

  it("every state a user sees is reachable", () => {
    const seen = new Set<string>()
    for (const [, events] of cases) {
      let [snapshot] = initialTransition(ChildLifecycle)
      seen.add(String(snapshot.value))
      for (const event of events) {
        ;[snapshot] = transition(ChildLifecycle, snapshot, event)
        seen.add(String(snapshot.value))
      }
    }
    expect([...seen].sort()).toEqual(["backoff", "exited", "failed", "restarting", "running", "starting", "stopping"])
  })

  it("transition is pure: the snapshot given is not changed", () => {
    const [initial] = initialTransition(ChildLifecycle)
    const [running] = transition(ChildLifecycle, initial, started(9))
    transition(ChildLifecycle, running, crashed)
    expect(running.value).toBe("running")
    expect(running.context.pid).toBe(9)
  })
})

describe("SupervisorLifecycle", () => {
  it("starts in starting", () => {
    const [snapshot] = initialTransition(SupervisorLifecycle)
    expect(snapshot.value).toBe("starting")
    expect(snapshot.context).toEqual({ restarts: 0, offender: null, reason: null })
  })

  const restarting = (child: string): SupervisorEvent => ({ type: "CHILD_RESTARTING", child })
  const cases: ReadonlyArray<readonly [name: string, events: ReadonlyArray<SupervisorEvent>, state: string, context: Record<string, unknown>, done: boolean]> = [
    ["STARTED: running", [{ type: "STARTED" }], "running", {}, false],
    ["START_FAILED: failed, with the reason", [{ type: "START_FAILED", reason: "child web: exec: ENOENT" }], "failed", {
      reason: "child web: exec: ENOENT"
    }, true],
    ["CHILD_RESTARTING: restarting, counted, offender kept", [{ type: "STARTED" }, restarting("crasher")], "restarting", {
      restarts: 1,
      offender: "crasher"
    }, false],
    ["CHILD_RESTARTED: running again", [{ type: "STARTED" }, restarting("crasher"), { type: "CHILD_RESTARTED" }], "running", {
      restarts: 1
    }, false],
    ["another death while restarting (try_again): counted", [{ type: "STARTED" }, restarting("a"), restarting("b")], "restarting", {
      restarts: 2,
      offender: "b"
    }, false],
    ["INTENSITY_EXCEEDED while running: failed", [{ type: "STARTED" }, { type: "INTENSITY_EXCEEDED", reason: "reached_max_restart_intensity" }], "failed", {
      reason: "reached_max_restart_intensity"
    }, true],
    ["INTENSITY_EXCEEDED while restarting: failed", [
      { type: "STARTED" },
      restarting("crasher"),
      { type: "INTENSITY_EXCEEDED", reason: "reached_max_restart_intensity" }
    ], "failed", { offender: "crasher", restarts: 1 }, true],
    ["STOP: stopping", [{ type: "STARTED" }, { type: "STOP" }], "stopping", {}, false],
    ["STOPPED: stopped", [{ type: "STARTED" }, { type: "STOP" }, { type: "STOPPED" }], "stopped", {}, true],
    ["STOP while starting", [{ type: "STOP" }, { type: "STOPPED" }], "stopped", {}, true],
    ["STOP while restarting", [{ type: "STARTED" }, restarting("a"), { type: "STOP" }], "stopping", {}, false],
    ["a child's death is not handled while stopping", [{ type: "STARTED" }, { type: "STOP" }, restarting("a")], "stopping", {
      restarts: 0
    }, false],
    ["stopped is final", [{ type: "STARTED" }, { type: "STOP" }, { type: "STOPPED" }, { type: "STARTED" }], "stopped", {}, true],
    ["failed is final", [{ type: "START_FAILED", reason: "x" }, { type: "STARTED" }], "failed", {}, true]
  ]

  for (const [name, events, state, context, done] of cases) {
    it(name, () => {
      const snapshot = runSupervisor(events)
      expect(snapshot.value).toBe(state)
      expect(snapshot.context).toMatchObject(context)
      expect(snapshot.status).toBe(done ? "done" : "active")
    })
  }
})
