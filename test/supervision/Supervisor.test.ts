/**
 * The supervisor actor against OTP's supervisor_SUITE (lib/stdlib/test/supervisor_SUITE.erl):
 * each case is named after the SUITE case it mirrors, so the two read side by side. Children are
 * `service`s (in-kernel Effects) driven by a Lab: each run logs `start x`, ends normally or
 * crashes when the test says, and logs `stop x` when its supervisor terminates it. The kernel is
 * a real one, in this process, built per test; time is the TestClock's. Cases that need real
 * processes (SIGKILL at the shutdown deadline, backoff, failed restarts) are in
 * test/e2e/supervision.test.ts.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, PubSub, Result, type Scope } from "effect"
import { TestClock } from "effect/testing"
import * as Path from "node:path"
import * as Boot from "../../src/app/Boot.ts"
import * as Daemon from "../../src/app/Daemon.ts"
import { Events, type SupervisorReport } from "../../src/process/Events.ts"
import type * as KernelError from "../../src/process/KernelError.ts"
import { LlmScheduler } from "../../src/llm/Scheduler.ts"
import type { ResolvedChild, ResolvedSupervisor } from "../../src/supervision/ResolvedTree.ts"
import type { RestartType, Strategy } from "../../src/supervision/Strategy.ts"
import { Supervision } from "../../src/supervision/Supervision.ts"
import * as Supervisor from "../../src/supervision/Supervisor.ts"
import { agent, decodeTree, service, type ServiceOptions, supervisor, type SupervisorSpec } from "../../src/supervision/Tree.ts"
import { tempDir } from "../support/kernel.ts"

// ---------------------------------------------------------------------------------------------
// The lab: controllable service children
// ---------------------------------------------------------------------------------------------

interface WorkerOptions extends ServiceOptions {
  /** What its finalizer does when it is interrupted: nothing (default), wait this many ms, or never end. */
  readonly stopTakes?: number | "forever"
}

const serviceOptions = ({ stopTakes: _, ...options }: WorkerOptions): ServiceOptions => options

const makeLab = () => {
  const log: Array<string> = []
  const ends = new Map<string, Deferred.Deferred<void, string>>()
  const instances = new Map<string, number>()
  const run = (name: string, options: WorkerOptions) =>
    Effect.gen(function* () {
      const end = yield* Deferred.make<void, string>()
      ends.set(name, end)
      log.push(`start ${name}`)
      return yield* Deferred.await(end)
    }).pipe(Effect.onInterrupt(() =>
      Effect.gen(function* () {
        log.push(`stop ${name}`)
        if (options.stopTakes === "forever") yield* Effect.never
        if (typeof options.stopTakes === "number") yield* Effect.sleep(options.stopTakes)
      })
    ))
  const control = (name: string) =>
    Effect.suspend(() => {
      const end = ends.get(name)
      return end === undefined ? Effect.die(`the lab has no worker ${name}`) : Effect.succeed(end)
    })
  return {
    log,
    /** A static child: each run is logged under its name. */
    worker: (name: string, options: WorkerOptions = {}) => service(name, run(name, options), serviceOptions(options)),
    /** A simple_one_for_one template: each run (start or restart) is a new instance, `w#1`, `w#2`, … */
    template: (name: string, options: WorkerOptions = {}) =>
      service(name, Effect.suspend(() => {
        const n = (instances.get(name) ?? 0) + 1
        instances.set(name, n)
        return run(`${name}#${n}`, options)
      }), serviceOptions(options)),
    /** Ends the current run abnormally (OTP's `die`). */
    crash: (name: string) => Effect.flatMap(control(name), (end) => Deferred.fail(end, "boom")),
    /** Ends the current run normally (OTP's `stop` → `normal`). */
    finish: (name: string) => Effect.flatMap(control(name), (end) => Deferred.succeed(end, undefined)),
    /** The log since the last take. */
    take: () => log.splice(0)
  }
}

// ---------------------------------------------------------------------------------------------
// The kernel, supervisors and events
// ---------------------------------------------------------------------------------------------

const resolve = (tree: SupervisorSpec): ResolvedSupervisor => {
  const decoded = decodeTree(tree)
  if (Result.isFailure(decoded)) throw new Error(decoded.failure.message)
  return decoded.success
}

const resolveChild = (child: unknown): ResolvedChild => resolve(supervisor("x", { children: [child as never] })).children[0]!

/** Runs `body` on a fresh in-process kernel; supervisors it starts stop before the kernel does. */
const inKernel = <A, E>(body: Effect.Effect<A, E, Supervisor.Services | Supervision | Scope.Scope>) =>
  Effect.gen(function* () {
    const dir = tempDir()
    yield* Effect.addFinalizer(() => Effect.sync(dir.remove))
    const kernel = Daemon.layer(
      { socketPath: Path.join(dir.path, "kernel.sock"), stateDir: Path.join(dir.path, "state") },
      [],
      LlmScheduler.layerOffline()
    )
    return yield* body.pipe(Effect.scoped, Effect.provide(kernel))
  })

/** Every supervisor started, by path, as the kernel's registry keeps them. */
const makeRegistry = () => {
  const handles = new Map<string, Supervisor.Handle>()
  const context: Supervisor.Context = {
    baseDir: "/",
    register: (handle) => {
      handles.set(handle.path, handle)
      return () => void (handles.get(handle.path) === handle && handles.delete(handle.path))
    }
  }
  const get = (path: string) => {
    const handle = handles.get(path)
    if (handle === undefined) throw new Error(`no supervisor at ${path}`)
    return handle
  }
  return { context, get, start: (tree: SupervisorSpec) => Supervisor.start(resolve(tree), tree.name, context) }
}

type ReportType = SupervisorReport["type"]

/** Records every supervisor report from now on; `waitFor` the nth one of a type and offender. */
const recordEvents = Effect.gen(function* () {
  const events = yield* Events
  const seen: Array<SupervisorReport> = []
  const subscription = yield* PubSub.subscribe(events.pubsub)
  // Whatever was published so far (reports are published before the actor's reply leaves).
  const drain = Effect.map(PubSub.takeUpTo(subscription, 1_000_000), (batch) => {
    for (const event of batch) if ("supervisor" in event) seen.push(event)
  })
  const select = (type: ReportType, offender?: string) =>
    seen.filter((e) => e.type === type && (offender === undefined || e.offender === offender))
  const matching = (type: ReportType, offender?: string) => Effect.map(drain, () => select(type, offender))
  const waitFor = (type: ReportType, offender?: string, n = 1) =>
    Effect.gen(function* () {
      for (;;) {
        yield* drain
        const found = select(type, offender)[n - 1]
        if (found !== undefined) return found
        yield* Effect.yieldNow
      }
    }).pipe(Effect.timeout("10 seconds"), TestClock.withLive, Effect.orDie)
  return { matching, waitFor }
})

/** Waits until the actor has handled everything queued before this call. */
const sync = (handle: Supervisor.Handle) => handle.call(() => Effect.void)

/** A call that must not hang: a live-clock limit turns a hang into a failure. */
const bounded = <A, E>(effect: Effect.Effect<A, E>) => effect.pipe(Effect.timeout("5 seconds"), TestClock.withLive)

/** Lets every fiber that is ready run (a crash reaching its supervisor's queue). */
const flush = Effect.repeat(Effect.yieldNow, { times: 50 })

/** Children as `name state`, in start order. */
const states = (handle: Supervisor.Handle) => (handle.tree().children ?? []).map((c) => `${c.name} ${c.state}`)

const errorTag = <A>(effect: Effect.Effect<A, KernelError.KernelError>) =>
  effect.pipe(Effect.flip, Effect.map((e) => e._tag))

// ---------------------------------------------------------------------------------------------
// sup_start, sup_stop
// ---------------------------------------------------------------------------------------------

describe("sup_start", () => {
  it.effect("sup_start_normal: children start in order and the supervisor runs", () =>
    inKernel(Effect.gen(function* () {
      const lab = makeLab()
      const sup = yield* makeRegistry().start(supervisor("sup", { children: [lab.worker("a"), lab.worker("b"), lab.worker("c")] }))
      expect(lab.take()).toEqual(["start a", "start b", "start c"])
      expect(sup.tree().state).toBe("running")
      expect(states(sup)).toEqual(["a running", "b running", "c running"])
    })))

  it.effect("child_start_failure: a child that fails to start fails its supervisor's start; the children before it are terminated in reverse order", () =>
    inKernel(Effect.gen(function* () {
      const lab = makeLab()
      const events = yield* recordEvents
      const exit = yield* Effect.exit(makeRegistry().start(supervisor("sup", {
        children: [lab.worker("a"), lab.worker("b"), agent("missing", { run: "/nonexistent/agentos-program" }), lab.worker("d")]
      })))
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(exit as Exit.Exit<never, KernelError.KernelError>)
      expect(error.message).toContain("sup: child missing failed to start")
      expect(error.message).toContain("/nonexistent/agentos-program does not exist")
      // d never starts (OTP's start_children stops at the first error).
      expect(lab.take()).toEqual(["start a", "start b", "stop b", "stop a"])
      expect((yield* events.matching("agentos.child.start_failed")).map((e) => e.offender)).toEqual(["sup/missing"])
      expect((yield* events.matching("agentos.child.stopped")).map((e) => e.offender)).toEqual(["sup/b", "sup/a"])
    })))

  it.effect("child_start_failure (nested): a grandchild that fails to start fails the whole tree's start, leaves first", () =>
    inKernel(Effect.gen(function* () {
      const lab = makeLab()
      const exit = yield* Effect.exit(makeRegistry().start(supervisor("root", {
        children: [
          lab.worker("a"),
          supervisor("mid", { children: [lab.worker("x"), agent("missing", { run: "/nonexistent/agentos-program" })] }),
          lab.worker("b")
        ]
      })))
      assert.isTrue(Exit.isFailure(exit))
      expect(lab.take()).toEqual(["start a", "start x", "stop x", "stop a"])
    })))
})

describe("sup_stop", () => {
  it.effect("shutdown order: children stop in reverse start order; a tree stops leaves first", () =>
    inKernel(Effect.gen(function* () {
      const lab = makeLab()
      const events = yield* recordEvents
      const root = yield* makeRegistry().start(supervisor("root", {
        children: [lab.worker("a"), supervisor("mid", { children: [lab.worker("x"), lab.worker("y")] }), lab.worker("b")]
      }))
      lab.take()
      yield* root.stop
      expect(lab.take()).toEqual(["stop b", "stop y", "stop x", "stop a"])
      expect((yield* events.matching("agentos.child.stopped")).map((e) => e.offender)).toEqual([
        "root/b",
        "root/mid/y",
        "root/mid/x",
        "root/mid",
        "root/a"
      ])
      expect(root.tree().state).toBe("stopped")
    })))

  it.effect("sup_stop_timeout: a child that does not stop within its shutdown is abandoned at the deadline; the others still stop", () =>
    inKernel(Effect.gen(function* () {
      const lab = makeLab()
      const sup = yield* makeRegistry().start(supervisor("sup", {
        children: [lab.worker("a"), lab.worker("stubborn", { shutdown: 100, stopTakes: "forever" })]
      }))
      lab.take()
      const stopping = yield* Effect.forkChild(sup.stop, { startImmediately: true })
      yield* flush
      expect(lab.log).toEqual(["stop stubborn"])
      yield* TestClock.adjust(100)
      yield* bounded(Fiber.join(stopping))
      expect(lab.take()).toEqual(["stop stubborn", "stop a"])
    })))

  it.effect("sup_stop_brutal_kill: a brutal_kill child is not waited for at all", () =>
    inKernel(Effect.gen(function* () {
      const lab = makeLab()
      const sup = yield* makeRegistry().start(supervisor("sup", {
        children: [lab.worker("a"), lab.worker("stubborn", { shutdown: "brutal_kill", stopTakes: "forever" })]
      }))
      lab.take()
      // No clock moves: the stop completes on its own, the interruption sent and not waited for.
      yield* bounded(sup.stop)
      yield* flush
      expect(lab.take().sort()).toEqual(["stop a", "stop stubborn"])
    })))

  it.effect("sup_stop_timeout: a child that stops within its shutdown is waited for", () =>
    inKernel(Effect.gen(function* () {
      const lab = makeLab()
      const sup = yield* makeRegistry().start(supervisor("sup", {
        children: [lab.worker("a"), lab.worker("slow", { shutdown: 5000, stopTakes: 1000 })]
      }))
      lab.take()
      const stopping = yield* Effect.forkChild(sup.stop, { startImmediately: true })
      yield* flush
      expect(sup.tree().state).toBe("stopping")
      expect(states(sup)).toEqual(["a running", "slow stopping"])
      yield* TestClock.adjust(999)
      yield* flush
      expect(lab.log).toEqual(["stop slow"])
      yield* TestClock.adjust(1)
      yield* bounded(Fiber.join(stopping))
      expect(lab.take()).toEqual(["stop slow", "stop a"])
    })))
})

// ---------------------------------------------------------------------------------------------
// Restart types: normal_termination, abnormal_termination (one_for_one)
// ---------------------------------------------------------------------------------------------

describe("normal_termination / abnormal_termination", () => {
  const cases: ReadonlyArray<readonly [name: string, restart: RestartType, end: "normal" | "abnormal", log: Array<string>, tree: Array<string>]> = [
    ["permanent_normal", "permanent", "normal", ["start child1"], ["child1 running"]],
    ["transient_normal", "transient", "normal", [], ["child1 exited"]],
    ["temporary_normal", "temporary", "normal", [], []],
    ["permanent_abnormal", "permanent", "abnormal", ["start child1"], ["child1 running"]],
    ["transient_abnormal", "transient", "abnormal", ["start child1"], ["child1 running"]],
    ["temporary_abnormal", "temporary", "abnormal", [], []]
  ]
  for (const [name, restart, end, log, tree] of cases) {
    it.effect(name, () =>
      inKernel(Effect.gen(function* () {
        const lab = makeLab()
        const events = yield* recordEvents
        const sup = yield* makeRegistry().start(supervisor("sup", { intensity: { maxRestarts: 2, withinMs: 3600_000 }, children: [] }))
        yield* sup.call((actor) => actor.startChild(resolveChild(lab.worker("child1", { restart })), false))
        lab.take()
        yield* end === "normal" ? lab.finish("child1") : lab.crash("child1")
        yield* events.waitFor("agentos.child.exited", "sup/child1")
        yield* sync(sup)
        expect(lab.take()).toEqual(log)
        expect(states(sup)).toEqual(tree)
        expect(sup.tree().state).toBe("running")
      })))
  }
})

// ---------------------------------------------------------------------------------------------
// Every strategy × restart type × normal/abnormal end
// ---------------------------------------------------------------------------------------------

describe("every strategy × restart type × end", () => {
  // Children a (permanent), b (the restart type under test), c (permanent); b ends. What a
  // restart does, per strategy (OTP's restart/3): one_for_one restarts b alone; one_for_all
  // stops the others in reverse start order, then starts all in order; rest_for_one does the
  // same for b and the children after it.
  const restarted: Record<Exclude<Strategy, "simple_one_for_one">, Array<string>> = {
    one_for_one: ["start b"],
    one_for_all: ["stop c", "stop a", "start a", "start b", "start c"],
    rest_for_one: ["stop c", "start b", "start c"]
  }
  // Not restarted: nothing happens to the others; a transient child keeps its spec with no
  // process (`exited`), a temporary one is deleted (OTP's do_restart/3).
  const notRestarted: Record<RestartType, Array<string>> = {
    permanent: [],
    transient: ["a running", "b exited", "c running"],
    temporary: ["a running", "c running"]
  }
  for (const strategy of ["one_for_one", "one_for_all", "rest_for_one"] as const) {
    for (const restart of ["permanent", "transient", "temporary"] as const) {
      for (const end of ["normal", "abnormal"] as const) {
        const isRestarted = restart === "permanent" || (restart === "transient" && end === "abnormal")
        it.effect(`${strategy} × ${restart} × ${end}: ${isRestarted ? "restarted" : "not restarted"}`, () =>
          inKernel(Effect.gen(function* () {
            const lab = makeLab()
            const events = yield* recordEvents
            const sup = yield* makeRegistry().start(supervisor("sup", {
              strategy,
              intensity: { maxRestarts: 5, withinMs: 60_000 },
              children: [lab.worker("a"), lab.worker("b", { restart }), lab.worker("c")]
            }))
            lab.take()
            yield* end === "normal" ? lab.finish("b") : lab.crash("b")
            yield* events.waitFor("agentos.child.exited", "sup/b")
            yield* sync(sup)
            expect(lab.take()).toEqual(isRestarted ? restarted[strategy] : [])
            expect(states(sup)).toEqual(isRestarted ? ["a running", "b running", "c running"] : notRestarted[restart])
            expect(sup.tree().state).toBe("running")
          })))
      }
    }
  }

  // simple_one_for_one: a dynamic child that is not restarted is deleted, transient or not
  // (OTP's dyn_erase); one that is restarted comes back alone.
  for (const restart of ["permanent", "transient", "temporary"] as const) {
    for (const end of ["normal", "abnormal"] as const) {
      const isRestarted = restart === "permanent" || (restart === "transient" && end === "abnormal")
      it.effect(`simple_one_for_one × ${restart} × ${end}: ${isRestarted ? "restarted" : "deleted"}`, () =>
        inKernel(Effect.gen(function* () {
          const lab = makeLab()
          const events = yield* recordEvents
          const template = lab.template("w", { restart })
          const sup = yield* makeRegistry().start(supervisor("sup", {
            strategy: "simple_one_for_one",
            intensity: { maxRestarts: 5, withinMs: 60_000 },
            children: [template]
          }))
          for (const name of ["w1", "w2"]) yield* sup.call((actor) => actor.startChild({ ...resolveChild(template), name }, true))
          expect(lab.take()).toEqual(["start w#1", "start w#2"])
          yield* end === "normal" ? lab.finish("w#1") : lab.crash("w#1")
          yield* events.waitFor("agentos.child.exited", "sup/w1")
          yield* sync(sup)
          expect(lab.take()).toEqual(isRestarted ? ["start w#3"] : [])
          expect(states(sup)).toEqual(isRestarted ? ["w1 running", "w2 running"] : ["w2 running"])
        })))
    }
  }
})

// ---------------------------------------------------------------------------------------------
// Restart strategies, with their intensity (restart_one_for_one, … groups)
// ---------------------------------------------------------------------------------------------

describe("restart strategies", () => {
  it.effect("one_for_one: only the dead child is restarted; the third restart in the period takes the supervisor down", () =>
    inKernel(Effect.gen(function* () {
      const lab = makeLab()
      const events = yield* recordEvents
      const sup = yield* makeRegistry().start(supervisor("sup", {
        strategy: "one_for_one",
        intensity: { maxRestarts: 2, withinMs: 3600_000 },
        children: [lab.worker("child1"), lab.worker("child2")]
      }))
      lab.take()
      yield* lab.crash("child1")
      yield* events.waitFor("agentos.child.started", "sup/child1", 2)
      expect(lab.take()).toEqual(["start child1"])
      yield* lab.crash("child2")
      yield* events.waitFor("agentos.child.started", "sup/child2", 2)
      yield* lab.crash("child1")
      yield* events.waitFor("agentos.supervisor.escalated")
      expect(yield* Deferred.await(sup.failed)).toContain("sup: reached max restart intensity (more than 2 restarts in 3600000 ms)")
      expect(lab.take()).toEqual(["start child2", "stop child2"])
    })))

  it.effect("one_for_all: every child is restarted; none of the old ones is left", () =>
    inKernel(Effect.gen(function* () {
      const lab = makeLab()
      const events = yield* recordEvents
      const sup = yield* makeRegistry().start(supervisor("sup", {
        strategy: "one_for_all",
        intensity: { maxRestarts: 2, withinMs: 3600_000 },
        children: [lab.worker("child1"), lab.worker("child2")]
      }))
      lab.take()
      yield* lab.crash("child1")
      yield* events.waitFor("agentos.child.started", "sup/child2", 2)
      expect(lab.take()).toEqual(["stop child2", "start child1", "start child2"])
      expect(states(sup)).toEqual(["child1 running", "child2 running"])
      yield* lab.crash("child1")
      yield* events.waitFor("agentos.child.started", "sup/child2", 3)
      yield* lab.crash("child2")
      yield* events.waitFor("agentos.supervisor.escalated")
      expect(sup.tree().state).toBe("failed")
    })))

  it.effect("rest_for_one: the dead child and the ones started after it are restarted, the ones before are left alone", () =>
    inKernel(Effect.gen(function* () {
      const lab = makeLab()
      const events = yield* recordEvents
      const sup = yield* makeRegistry().start(supervisor("sup", {
        strategy: "rest_for_one",
        intensity: { maxRestarts: 2, withinMs: 3600_000 },
        children: [lab.worker("child1"), lab.worker("child2"), lab.worker("child3")]
      }))
      lab.take()
      yield* lab.crash("child2")
      yield* events.waitFor("agentos.child.started", "sup/child3", 2)
      expect(lab.take()).toEqual(["stop child3", "start child2", "start child3"])
      yield* lab.crash("child3")
      yield* events.waitFor("agentos.child.started", "sup/child3", 3)
      expect(lab.take()).toEqual(["start child3"])
      yield* lab.crash("child2")
      yield* events.waitFor("agentos.supervisor.escalated")
      expect(lab.take()).toEqual(["stop child3", "stop child1"])
    })))

  it.effect("simple_one_for_one: dynamic children from the template, each restarted alone", () =>
    inKernel(Effect.gen(function* () {
      const lab = makeLab()
      const events = yield* recordEvents
      const template = lab.template("child")
      const sup = yield* makeRegistry().start(supervisor("sup", {
        strategy: "simple_one_for_one",
        intensity: { maxRestarts: 2, withinMs: 3600_000 },
        children: [template]
      }))
      // In simple_one_for_one all children are added dynamically.
      expect(states(sup)).toEqual([])
      for (const name of ["c1", "c2"]) yield* sup.call((actor) => actor.startChild({ ...resolveChild(template), name }, true))
      expect(lab.take()).toEqual(["start child#1", "start child#2"])
      yield* lab.crash("child#1")
      yield* events.waitFor("agentos.child.started", "sup/c1", 2)
      expect(lab.take()).toEqual(["start child#3"])
      expect(states(sup)).toEqual(["c1 running", "c2 running"])
      yield* lab.crash("child#2")
      yield* events.waitFor("agentos.child.started", "sup/c2", 2)
      yield* lab.crash("child#4")
      yield* events.waitFor("agentos.supervisor.escalated")
      expect(lab.take()).toEqual(["start child#4", "stop child#3"])
    })))

  for (const strategy of ["one_for_all", "rest_for_one"] as const) {
    it.effect(`temporary_bystander (${strategy}): a temporary sibling caught in a restart is stopped and deleted, never restarted`, () =>
      inKernel(Effect.gen(function* () {
        const lab = makeLab()
        const events = yield* recordEvents
        const sup = yield* makeRegistry().start(supervisor("sup", {
          strategy,
          intensity: { maxRestarts: 2, withinMs: 300 },
          children: [lab.worker("child1"), lab.worker("child2", { restart: "temporary" })]
        }))
        lab.take()
        yield* lab.finish("child1")
        yield* events.waitFor("agentos.child.started", "sup/child1", 2)
        yield* sync(sup)
        expect(lab.take()).toEqual(["stop child2", "start child1"])
        expect(states(sup)).toEqual(["child1 running"])
        expect(sup.tree().state).toBe("running")
      })))
  }
})

// ---------------------------------------------------------------------------------------------
// Restart intensity (multiple_restarts)
// ---------------------------------------------------------------------------------------------

describe("restart intensity", () => {
  it.effect("restart_intensity sliding window (multiple_restarts): restarts older than withinMs are forgotten", () =>
    inKernel(Effect.gen(function* () {
      const lab = makeLab()
      const events = yield* recordEvents
      const sup = yield* makeRegistry().start(supervisor("sup", {
        intensity: { maxRestarts: 1, withinMs: 1000 },
        children: [lab.worker("child1", { shutdown: "brutal_kill" })]
      }))
      // One restart per window, four times over: never more than one in any 1000 ms.
      for (let n = 1; n <= 4; n++) {
        yield* lab.crash("child1")
        yield* events.waitFor("agentos.child.started", "sup/child1", n + 1)
        yield* TestClock.adjust(1001)
      }
      expect(sup.tree().state).toBe("running")
      expect(yield* events.matching("agentos.supervisor.escalated")).toEqual([])
      // Two within 1000 ms: over the limit.
      yield* lab.crash("child1")
      yield* events.waitFor("agentos.child.started", "sup/child1", 6)
      yield* TestClock.adjust(999)
      yield* lab.crash("child1")
      yield* events.waitFor("agentos.supervisor.escalated")
      expect(sup.tree().state).toBe("failed")
    })))

  it.effect("restart_intensity: the window is closed at both ends, as in OTP (a restart exactly withinMs ago still counts)", () =>
    inKernel(Effect.gen(function* () {
      const lab = makeLab()
      const events = yield* recordEvents
      const sup = yield* makeRegistry().start(supervisor("sup", {
        intensity: { maxRestarts: 1, withinMs: 1000 },
        children: [lab.worker("child1")]
      }))
      yield* lab.crash("child1")
      yield* events.waitFor("agentos.child.started", "sup/child1", 2)
      yield* TestClock.adjust(1000)
      yield* lab.crash("child1")
      yield* events.waitFor("agentos.supervisor.escalated")
      expect(sup.tree().state).toBe("failed")
    })))

  it.effect("restart_intensity 0: the first restart escalates, but an end that restarts nothing is not counted", () =>
    inKernel(Effect.gen(function* () {
      const lab = makeLab()
      const events = yield* recordEvents
      const sup = yield* makeRegistry().start(supervisor("sup", {
        intensity: { maxRestarts: 0, withinMs: 1000 },
        children: [lab.worker("done", { restart: "transient" }), lab.worker("child1")]
      }))
      yield* lab.finish("done")
      yield* events.waitFor("agentos.child.exited", "sup/done")
      yield* sync(sup)
      expect(sup.tree().state).toBe("running")
      yield* lab.crash("child1")
      yield* events.waitFor("agentos.supervisor.escalated")
      expect(yield* Deferred.await(sup.failed)).toContain("more than 0 restarts in 1000 ms")
    })))
})

// ---------------------------------------------------------------------------------------------
// Escalation
// ---------------------------------------------------------------------------------------------

describe("escalation", () => {
  it.effect("one_for_one_escalation: a supervisor past its intensity is one failure of its parent, which restarts it, then escalates in turn", () =>
    inKernel(Effect.gen(function* () {
      const lab = makeLab()
      const events = yield* recordEvents
      const registry = makeRegistry()
      const root = yield* registry.start(supervisor("root", {
        intensity: { maxRestarts: 1, withinMs: 60_000 },
        children: [lab.worker("steady"), supervisor("inner", { intensity: { maxRestarts: 0, withinMs: 60_000 }, children: [lab.worker("crasher"), lab.worker("peer")] })]
      }))
      lab.take()
      yield* lab.crash("crasher")
      yield* events.waitFor("agentos.child.started", "root/inner", 2)
      // inner terminated its children and failed; root restarted inner (and only inner).
      expect(lab.take()).toEqual(["stop peer", "start crasher", "start peer"])
      expect((yield* events.matching("agentos.supervisor.escalated")).map((e) => `${e.supervisor} ${e.offender}`)).toEqual(["root/inner root/inner/crasher"])
      yield* lab.crash("crasher")
      yield* events.waitFor("agentos.supervisor.escalated", "root/inner")
      const chain = yield* Deferred.await(root.failed)
      expect(chain.split("; last: ")).toEqual([
        "root: reached max restart intensity (more than 1 restarts in 60000 ms)",
        "root/inner: reached max restart intensity (more than 0 restarts in 60000 ms)",
        "root/inner/crasher: Error: boom"
      ])
      expect(lab.take()).toEqual(["stop peer", "stop steady"])
    })))

  it.effect("escalation through two levels up to PID 1: init fails with the whole chain, and the system shuts down in order", () =>
    inKernel(Effect.gen(function* () {
      const lab = makeLab()
      const events = yield* recordEvents
      const supervision = yield* Supervision
      yield* supervision.boot(resolve(supervisor("root", {
        intensity: { maxRestarts: 0, withinMs: 60_000 },
        children: [lab.worker("steady"), supervisor("inner", { intensity: { maxRestarts: 0, withinMs: 60_000 }, children: [lab.worker("crasher")] })]
      })), "/")
      lab.take()
      yield* lab.crash("crasher")
      const chain = yield* bounded(Deferred.await(supervision.failed))
      expect(chain.split("; last: ")).toEqual([
        "init: reached max restart intensity (more than 0 restarts in 1000 ms)",
        "init/root: reached max restart intensity (more than 0 restarts in 60000 ms)",
        "init/root/inner: reached max restart intensity (more than 0 restarts in 60000 ms)",
        "init/root/inner/crasher: Error: boom"
      ])
      expect((yield* events.matching("agentos.supervisor.escalated")).map((e) => e.supervisor)).toEqual(["init/root/inner", "init/root", "init"])
      expect(lab.take()).toEqual(["stop steady"])
      // init terminated the kernel's own services too.
      expect((yield* events.matching("agentos.child.stopped")).map((e) => e.offender)).toContain("init/cgroup-janitor")
      expect(supervision.tree()?.state).toBe("failed")
    })))

  it.live("escalation to PID 1 under `agentos boot`: Boot.run fails with Escalated and the chain, top down", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      yield* Effect.addFinalizer(() => Effect.sync(dir.remove))
      const lines: Array<string> = []
      const error = yield* Boot.run(resolve(supervisor("root", {
        intensity: { maxRestarts: 0, withinMs: 60_000 },
        children: [supervisor("inner", { intensity: { maxRestarts: 0, withinMs: 60_000 }, children: [service("crasher", Effect.fail("boom"))] })]
      })), dir.path, {
        kernel: { socketPath: Path.join(dir.path, "kernel.sock"), stateDir: Path.join(dir.path, "state") },
        print: (line) => Effect.sync(() => void lines.push(line))
      }).pipe(Effect.flip)
      assert.strictEqual(error._tag, "Escalated")
      const escalated = error as Boot.Escalated
      expect(escalated.chain.map((c) => c.split(":")[0])).toEqual(["init", "init/root", "init/root/inner", "init/root/inner/crasher"])
      expect(escalated.message).toContain("escalated to PID 1")
    }))
})

// ---------------------------------------------------------------------------------------------
// The runtime API: child_adm, child_adm_simple, do_not_save_child_specs_for_temporary_children
// ---------------------------------------------------------------------------------------------

describe("child_adm", () => {
  it.effect("child_adm: start_child, terminate_child, restart_child, delete_child and their errors", () =>
    inKernel(Effect.gen(function* () {
      const lab = makeLab()
      const events = yield* recordEvents
      const child1 = lab.worker("child1")
      const sup = yield* makeRegistry().start(supervisor("sup", { children: [child1] }))
      lab.take()
      const api = <A>(f: (actor: Supervisor.Actor) => Effect.Effect<A, KernelError.KernelError, Supervisor.Services>) => sup.call(f)

      // Start of an already running child (OTP: already_started).
      expect(yield* errorTag(api((a) => a.startChild(resolveChild(child1), false)))).toBe("AlreadyExists")
      // Termination.
      expect(yield* errorTag(api((a) => a.terminateChild("hej")))).toBe("NotFound")
      const terminated = yield* api((a) => a.terminateChild("child1"))
      expect(terminated).toMatchObject({ name: "child1", state: "exited", reason: "shutdown" })
      expect(lab.take()).toEqual(["stop child1"])
      expect(states(sup)).toEqual(["child1 exited"])
      // Like deleting something that does not exist, it succeeds, and does nothing.
      yield* api((a) => a.terminateChild("child1"))
      expect(yield* events.matching("agentos.child.stopped", "sup/child1")).toHaveLength(1)
      // Start of an existing child that is not running (OTP: already_present).
      expect(yield* errorTag(api((a) => a.startChild(resolveChild(child1), false)))).toBe("AlreadyExists")
      // Restart.
      expect(yield* api((a) => a.restartChild("child1"))).toMatchObject({ state: "running" })
      expect(lab.take()).toEqual(["start child1"])
      expect(yield* errorTag(api((a) => a.restartChild("child1")))).toBe("Busy")
      expect(yield* errorTag(api((a) => a.restartChild("child2")))).toBe("NotFound")
      // Deletion.
      expect(yield* errorTag(api((a) => a.deleteChild("child1")))).toBe("Busy")
      expect(yield* errorTag(api((a) => a.deleteChild("hej")))).toBe("NotFound")
      yield* api((a) => a.terminateChild("child1"))
      yield* api((a) => a.deleteChild("child1"))
      expect(yield* errorTag(api((a) => a.restartChild("child1")))).toBe("NotFound")
      expect(states(sup)).toEqual([])
      // Start.
      expect(yield* api((a) => a.startChild(resolveChild(child1), false))).toMatchObject({ state: "running" })
      expect(states(sup)).toEqual(["child1 running"])
      expect(lab.take()).toEqual(["stop child1", "start child1"])
    })))

  it.effect("child_adm: a child added with start_child is restarted like the others and stops first", () =>
    inKernel(Effect.gen(function* () {
      const lab = makeLab()
      const events = yield* recordEvents
      const sup = yield* makeRegistry().start(supervisor("sup", { strategy: "one_for_all", intensity: { maxRestarts: 5, withinMs: 1000 }, children: [lab.worker("a")] }))
      yield* sup.call((actor) => actor.startChild(resolveChild(lab.worker("b")), false))
      lab.take()
      yield* lab.crash("a")
      yield* events.waitFor("agentos.child.started", "sup/b", 2)
      expect(lab.take()).toEqual(["stop b", "start a", "start b"])
      yield* sup.stop
      expect(lab.take()).toEqual(["stop b", "stop a"])
    })))

  it.effect("child_adm_simple: dynamic children are started from the template; terminate deletes them; restart and delete are not for simple_one_for_one", () =>
    inKernel(Effect.gen(function* () {
      const lab = makeLab()
      const template = lab.template("child")
      const sup = yield* makeRegistry().start(supervisor("sup", { strategy: "simple_one_for_one", children: [template] }))
      expect(states(sup)).toEqual([])
      yield* sup.call((actor) => actor.startChild({ ...resolveChild(template), name: "c1" }, true))
      yield* sup.call((actor) => actor.startChild({ ...resolveChild(template), name: "c2" }, true))
      expect(states(sup)).toEqual(["c1 running", "c2 running"])
      yield* sup.call((actor) => actor.terminateChild("c1"))
      expect(states(sup)).toEqual(["c2 running"])
      expect(lab.take()).toEqual(["start child#1", "start child#2", "stop child#1"])
      // OTP: {error, simple_one_for_one}.
      expect(yield* errorTag(sup.call((actor) => actor.restartChild("c2")))).toBe("InvalidArgument")
      expect(yield* errorTag(sup.call((actor) => actor.deleteChild("c2")))).toBe("InvalidArgument")
      expect(states(sup)).toEqual(["c2 running"])
    })))

  it.effect("do_not_save_child_specs_for_temporary_children: a temporary child is forgotten once it ends, however it ends", () =>
    inKernel(Effect.gen(function* () {
      const lab = makeLab()
      const events = yield* recordEvents
      const sup = yield* makeRegistry().start(supervisor("sup", { intensity: { maxRestarts: 5, withinMs: 1000 }, children: [] }))
      const temporary = resolveChild(lab.worker("child3", { restart: "temporary" }))
      const transient = resolveChild(lab.worker("child2", { restart: "transient" }))
      const permanent = resolveChild(lab.worker("child1"))
      // Terminated through the API (OTP: terminate(Sup, Pid, Id, supervisor)).
      yield* sup.call((a) => a.startChild(temporary, false))
      yield* sup.call((a) => a.terminateChild("child3"))
      expect(states(sup)).toEqual([])
      yield* sup.call((a) => a.startChild(temporary, false))
      // Crashed.
      yield* lab.crash("child3")
      yield* events.waitFor("agentos.child.exited", "sup/child3")
      yield* sync(sup)
      expect(states(sup)).toEqual([])
      yield* sup.call((a) => a.startChild(temporary, false))
      // Permanent and transient children keep their spec: already_present after a terminate.
      for (const spec of [permanent, transient]) {
        yield* sup.call((a) => a.startChild(spec, false))
        yield* sup.call((a) => a.terminateChild(spec.name))
        expect(yield* errorTag(sup.call((a) => a.startChild(spec, false)))).toBe("AlreadyExists")
        yield* sup.call((a) => a.restartChild(spec.name))
      }
      expect(states(sup)).toEqual(["child3 running", "child1 running", "child2 running"])
    })))

  it.effect("tree: a supervisor restarted by its parent comes back with its own spec, without the children added with start_child", () =>
    inKernel(Effect.gen(function* () {
      const lab = makeLab()
      const events = yield* recordEvents
      const registry = makeRegistry()
      const top = yield* registry.start(supervisor("top", {
        strategy: "one_for_all",
        intensity: { maxRestarts: 4, withinMs: 3600_000 },
        children: [
          supervisor("supchild1", { intensity: { maxRestarts: 4, withinMs: 3600_000 }, children: [lab.worker("child1"), lab.worker("child2")] }),
          supervisor("supchild2", { intensity: { maxRestarts: 1, withinMs: 3600_000 }, children: [] })
        ]
      }))
      const sup2 = registry.get("top/supchild2")
      yield* sup2.call((a) => a.startChild(resolveChild(lab.worker("child3")), false))
      yield* sup2.call((a) => a.startChild(resolveChild(lab.worker("child4")), false))
      expect(lab.take()).toEqual(["start child1", "start child2", "start child3", "start child4"])
      // Only the process that dies is restarted.
      yield* lab.crash("child4")
      yield* events.waitFor("agentos.child.started", "top/supchild2/child4", 2)
      expect(lab.take()).toEqual(["start child4"])
      // supchild2 gives up: the whole tree is restarted, but not supchild2's added children.
      yield* lab.crash("child3")
      yield* events.waitFor("agentos.child.started", "top/supchild2", 2)
      expect(lab.take()).toEqual(["stop child4", "stop child2", "stop child1", "start child1", "start child2"])
      expect(top.tree().children?.map((c) => [c.name, c.state, (c.children ?? []).map((g) => `${g.name} ${g.state}`)])).toEqual([
        ["supchild1", "running", ["child1 running", "child2 running"]],
        ["supchild2", "running", []]
      ])
    })))
})

// ---------------------------------------------------------------------------------------------
// Lifecycle states (TREE) and the actor's own liveness
// ---------------------------------------------------------------------------------------------

describe("lifecycle states", () => {
  it.effect("tree() shows running, stopping, exited (with its reason) and failed, for children and the supervisor", () =>
    inKernel(Effect.gen(function* () {
      const lab = makeLab()
      const events = yield* recordEvents
      const registry = makeRegistry()
      const root = yield* registry.start(supervisor("root", {
        intensity: { maxRestarts: 0, withinMs: 1000 },
        children: [
          lab.worker("once", { restart: "transient" }),
          lab.worker("slow", { stopTakes: 500 }),
          supervisor("inner", { restart: "transient", intensity: { maxRestarts: 0, withinMs: 1000 }, children: [lab.worker("crasher")] })
        ]
      }))
      expect(states(root)).toEqual(["once running", "slow running", "inner running"])
      yield* lab.finish("once")
      yield* events.waitFor("agentos.child.exited", "root/once")
      yield* sync(root)
      expect(root.tree().children?.[0]).toMatchObject({ state: "exited", reason: "completed", pid: null })
      // A child being terminated is `stopping` until its finalizers are done.
      const terminating = yield* Effect.forkChild(root.call((a) => a.terminateChild("slow")), { startImmediately: true })
      yield* flush
      expect(states(root)).toEqual(["once exited", "slow stopping", "inner running"])
      yield* TestClock.adjust(500)
      yield* Fiber.join(terminating)
      expect(root.tree().children?.[1]).toMatchObject({ state: "exited", reason: "shutdown" })
      // inner escalates; the escalated supervisor and its offender read `failed`.
      const inner = registry.get("root/inner")
      yield* lab.crash("crasher")
      yield* events.waitFor("agentos.supervisor.escalated", "root/inner")
      expect(inner.tree().state).toBe("failed")
      expect(inner.tree().reason).toContain("root/inner: reached max restart intensity")
      expect(inner.tree().children?.[0]).toMatchObject({ name: "crasher", state: "failed", reason: "Error: boom" })
    })))

  it.effect("a call queued behind a stop fails with Busy (OTP: noproc); it never hangs", () =>
    inKernel(Effect.gen(function* () {
      const lab = makeLab()
      const sup = yield* makeRegistry().start(supervisor("sup", { children: [lab.worker("slow", { stopTakes: 1000 })] }))
      // The actor is busy terminating slow; a stop, then a call, queue up behind.
      const first = yield* Effect.forkChild(sup.call((a) => a.terminateChild("slow")), { startImmediately: true })
      const stopping = yield* Effect.forkChild(sup.stop, { startImmediately: true })
      const late = yield* Effect.forkChild(sup.call((a) => a.restartChild("slow")), { startImmediately: true })
      yield* TestClock.adjust(1000)
      yield* Fiber.join(first)
      yield* bounded(Fiber.join(stopping))
      const exit = yield* bounded(Fiber.await(late))
      assert.isTrue(Exit.isFailure(exit))
      expect(yield* errorTag(Fiber.join(late))).toBe("Busy")
      expect(lab.take()).toEqual(["start slow", "stop slow"])
    })))

  it.effect("a supervisor asked to stop while it escalates: the stop returns, the calls queued behind fail", () =>
    inKernel(Effect.gen(function* () {
      const lab = makeLab()
      const sup = yield* makeRegistry().start(supervisor("sup", { intensity: { maxRestarts: 0, withinMs: 1000 }, children: [lab.worker("crasher")] }))
      const gate = yield* Deferred.make<void>()
      // Hold the actor in a call while the crash, then a stop and a call, queue up.
      const holding = yield* Effect.forkChild(sup.call(() => Deferred.await(gate)), { startImmediately: true })
      yield* flush
      yield* lab.crash("crasher")
      yield* flush
      const stopping = yield* Effect.forkChild(sup.stop, { startImmediately: true })
      const late = yield* Effect.forkChild(sup.call((a) => a.restartChild("crasher")), { startImmediately: true })
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holding)
      yield* bounded(Fiber.join(stopping))
      expect(yield* bounded(errorTag(Fiber.join(late)))).toBe("Busy")
      expect(sup.tree().state).toBe("failed")
    })))
})
