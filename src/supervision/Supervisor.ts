/**
 * The supervisor actor, after supervisor.erl: one fiber owns a supervisor's State
 * (SupervisorState.ts) and handles, one message at a time, its children's ends and the runtime
 * API (start, terminate, restart, delete child). The pure handlers decide (through
 * `Strategy.decide` and `RestartIntensity.add`); this loop performs what they say: it starts
 * and stops the children's processes, waits out backoffs, publishes reports, and escalates: past
 * the intensity the supervisor terminates its children in reverse start order and fails, and
 * its parent applies its own strategy to it. Children are agents (OS processes through Agents),
 * supervisors (this actor, nested) or services (Effects run as fibers).
 */
import { Cause, Clock, Deferred, Effect, Exit, Fiber, Queue, Random, type Result, Scope } from "effect"
import { Agents } from "../process/Agents.ts"
import { Events } from "../process/Events.ts"
import * as KernelError from "../process/KernelError.ts"
import * as ExitReason from "../sandbox/ExitReason.ts"
import type { ResolvedAgent, ResolvedChild, ResolvedSupervisor } from "./ResolvedTree.ts"
import type * as Strategy from "./Strategy.ts"
import * as SupervisorState from "./SupervisorState.ts"
import * as Watchdog from "./Watchdog.ts"

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

// A node of TREE's answer and the search over it are the protocol's (the clients read them too).
import type { TreeNode } from "../protocol/Rows.ts"
export type { TreeNode } from "../protocol/Rows.ts"
export { findNode } from "../protocol/Rows.ts"

/** A running supervisor, as its parent and the kernel see it. @category models */
export interface Handle {
  readonly path: string
  readonly spec: ResolvedSupervisor
  /** Completes with the chain of failures when it gives up (intensity exceeded): it escalates. */
  readonly failed: Deferred.Deferred<string>
  /** Its subtree with each child's state. */
  readonly tree: () => TreeNode
  /** Runs a runtime request inside the actor, serialised with the handling of child ends. */
  readonly call: <A>(request: (self: Actor) => Effect.Effect<A, KernelError.KernelError, Services>) => Effect.Effect<A, KernelError.KernelError>
  /** Terminates its children in reverse start order, then itself. */
  readonly stop: Effect.Effect<void>
}

/** What a supervisor needs from the kernel. @category models */
export type Services = Agents | Events

/** Where a tree runs: a relative `run` is resolved against `baseDir`. @category models */
export interface Context {
  readonly baseDir: string
  /** Called as each supervisor starts and stops, so the kernel can find it by path. */
  readonly register: (handle: Handle) => () => void
}

/**
 * The supervisor's runtime API (OTP's start_child, terminate_child, restart_child,
 * delete_child), run inside its loop through `Handle.call`. Each answers with the child's node;
 * nothing outside reaches into the children. @category models
 */
export interface Actor {
  readonly path: string
  readonly spec: ResolvedSupervisor
  /** The child's node, if it has a child of that name. */
  readonly node: (name: string) => TreeNode | undefined
  /** start_child: a static child (`dynamic` false) or one made from a simple_one_for_one template. */
  readonly startChild: (spec: ResolvedChild, dynamic: boolean) => Effect.Effect<TreeNode, KernelError.KernelError, Services>
  /** start_child on a simple_one_for_one supervisor: a child of its template, named `name` or a free `<template>-N`, with `args` replacing the template's. */
  readonly startDynamic: (name: string | undefined, args: ReadonlyArray<string> | undefined) => Effect.Effect<TreeNode, KernelError.KernelError, Services>
  readonly terminateChild: (name: string) => Effect.Effect<TreeNode, KernelError.KernelError, Services>
  /** restart_child: a child without a process, started again now (Busy while it is active). */
  readonly restartChild: (name: string) => Effect.Effect<TreeNode, KernelError.KernelError, Services>
  readonly deleteChild: (name: string) => Effect.Effect<TreeNode, KernelError.KernelError, Services>
  /**
   * Restart on request (the observer's restart): SupervisorState.restartPlan's rule: refused
   * (Busy) for a dynamic or temporary child; otherwise terminate_child when it is active, then
   * restart_child.
   */
  readonly restart: (name: string) => Effect.Effect<TreeNode, KernelError.KernelError, Services>
}

/** A start that failed: the first child that could not start, and why. @category errors */
export class StartError extends KernelError.Busy {}

// ---------------------------------------------------------------------------------------------
// Defaults (OTP's)
// ---------------------------------------------------------------------------------------------

/** Extra time allowed past a child's shutdown deadline before it is SIGKILLed regardless. */
const SHUTDOWN_SLACK_MS = 5000

// ---------------------------------------------------------------------------------------------
// The loop: it owns the State, feeds it events, performs the commands
// ---------------------------------------------------------------------------------------------

/** What a child's incarnation holds while it runs: how to stop it, and its scope. */
interface Running {
  readonly stop: Effect.Effect<void>
  readonly scope: Scope.Closeable
  readonly supervisor: Handle | null
}

/** A child's process as it came up. */
interface Launched {
  readonly pid: number | null
  readonly running: Running
}

/** What arrives in the supervisor's mailbox. */
type Message =
  | { readonly _tag: "Exited"; readonly name: string; readonly incarnation: number; readonly reason: string; readonly normal: boolean }
  | { readonly _tag: "BackoffDone"; readonly names: ReadonlyArray<string>; readonly incarnations: ReadonlyArray<number> }
  | {
    readonly _tag: "Call"
    readonly run: Effect.Effect<void, never, Services>
    /** Answers the caller when the actor ends before running it (OTP: the call exits with noproc). */
    readonly reject: (error: KernelError.KernelError) => Effect.Effect<void>
  }
  | { readonly _tag: "Stop"; readonly done: Deferred.Deferred<void> }

/**
 * Starts a supervisor and its children, in order. A child that fails to start fails the
 * supervisor's start, after the children already started are terminated (OTP's start_children).
 * @category lifecycle
 */
export const start = (spec: ResolvedSupervisor, path: string, context: Context): Effect.Effect<Handle, KernelError.KernelError, Services | Scope.Scope> =>
  Effect.gen(function* () {
    const agents = yield* Agents
    const events = yield* Events
    const services = yield* Effect.context<Services>()
    const scope = yield* Scope.fork(yield* Scope.Scope, "sequential")
    const queue = yield* Queue.unbounded<Message>()
    const failed = yield* Deferred.make<string>()
    let state = SupervisorState.init(spec, path)
    let closed = false
    /** Each child's current incarnation, by name, while it has one. */
    const running = new Map<string, Running>()

    const exited = (name: string, incarnation: number) => (reason: string, normal: boolean) =>
      Queue.offer(queue, { _tag: "Exited", name, incarnation, reason, normal })

    // -- the handlers' commands ------------------------------------------------------------

    /** Hands an event to the pure handler, then performs its commands in order. */
    const dispatch = (event: SupervisorState.Event): Effect.Effect<void, never, Services> =>
      Effect.suspend(() => {
        const [next, commands] = SupervisorState.step(state, event)
        state = next
        return Effect.forEach(commands, perform, { discard: true })
      })

    const perform = (command: SupervisorState.Command): Effect.Effect<void, never, Services> => {
      switch (command._tag) {
        case "Start":
          return Effect.asVoid(startOne(command.name, command.rest, command.mode))
        case "Stop":
          return Effect.gen(function* () {
            const incarnation = running.get(command.name)
            if (incarnation !== undefined) {
              yield* incarnation.stop
              running.delete(command.name)
              yield* Scope.close(incarnation.scope, Exit.void)
            }
            yield* dispatch({ _tag: "Stopped", name: command.name })
          })
        case "Release":
          return Effect.suspend(() => {
            const incarnation = running.get(command.name)
            if (incarnation === undefined) return Effect.void
            running.delete(command.name)
            return Scope.close(incarnation.scope, Exit.void)
          })
        case "Report":
          return Effect.gen(function* () {
            const { name, ...report } = command.report
            const child = SupervisorState.find(state, name)
            yield* events.publish({
              type: report.type,
              supervisor: path,
              context: report.context,
              offender: child?.path ?? `${path}/${name}`,
              kind: child?.spec._tag ?? "agent",
              reason: report.reason,
              pid: child?.process?.pid ?? null,
              restarts: child?.lifecycle.context.restarts ?? 0,
              ...(report.delayMs === undefined ? {} : { delayMs: report.delayMs }),
              time: yield* Clock.currentTimeMillis
            })
          })
        case "Backoff":
          return Effect.sleep(command.delayMs).pipe(
            Effect.andThen(Queue.offer(queue, { _tag: "BackoffDone", names: command.names, incarnations: command.incarnations })),
            Effect.forkIn(scope),
            Effect.asVoid
          )
        case "Queue":
          return Effect.asVoid(exited(command.name, command.incarnation)(command.reason, command.normal))
        case "Then":
          return dispatch(command.event)
        case "Escalate":
          return Effect.asVoid(Deferred.succeed(failed, command.chain))
      }
    }

    /** Starts one child's next incarnation; its outcome goes to the handler, and back to the caller. */
    const startOne = (
      name: string,
      rest: ReadonlyArray<string>,
      mode: SupervisorState.StartMode
    ): Effect.Effect<Result.Result<Launched, KernelError.KernelError>, never, Services> =>
      Effect.gen(function* () {
        yield* dispatch({ _tag: "Starting", name, now: yield* Clock.currentTimeMillis })
        const child = SupervisorState.find(state, name)!
        const incScope = yield* Scope.fork(scope, "sequential")
        const launched = yield* launch(child, incScope).pipe(Effect.tapError(() => Scope.close(incScope, Exit.void)), Effect.result)
        if (launched._tag === "Failure") {
          yield* dispatch({ _tag: "StartFailed", name, reason: launched.failure.message, mode })
          return launched
        }
        running.set(name, launched.success.running)
        yield* dispatch({ _tag: "Started", name, pid: launched.success.pid, rest, mode })
        return launched
      })

    // -- starting one child's process ---------------------------------------------------------

    const launch = (child: SupervisorState.ChildRecord, incScope: Scope.Closeable): Effect.Effect<Launched, KernelError.KernelError, Services> => {
      const spec = child.spec
      const incarnation = child.incarnation
      switch (spec._tag) {
        case "agent":
          return startAgent(child, spec, incScope, incarnation)
        case "supervisor":
          return start(spec, child.path, context).pipe(
            Scope.provide(incScope),
            Effect.tap((handle) =>
              Deferred.await(handle.failed).pipe(
                Effect.flatMap((reason) => exited(spec.name, incarnation)(reason, false)),
                Effect.forkIn(incScope)
              )
            ),
            Effect.map((handle): Launched => ({ pid: null, running: { stop: stopSupervisor(handle, spec), scope: incScope, supervisor: handle } }))
          )
        case "service":
          return Effect.gen(function* () {
            // Not forked in incScope: closing a scope waits for its fibers, so a service that
            // ignores its interruption would hold its supervisor past the shutdown deadline.
            // Its stop is incScope's finalizer instead, bounded by the shutdown policy.
            const fiber = yield* spec.effect.pipe(Effect.forkDetach({ startImmediately: true }))
            yield* Fiber.await(fiber).pipe(
              Effect.flatMap((exit) =>
                Exit.isSuccess(exit)
                  ? exited(spec.name, incarnation)("completed", true)
                  : exited(spec.name, incarnation)(Cause.pretty(exit.cause).split("\n")[0] ?? "failed", false)
              ),
              Effect.forkIn(incScope)
            )
            // OTP's shutdown: brutal_kill does not wait at all; a timeout waits that long for
            // the finalizers, then gives up on them (a fiber cannot be killed: what is left of
            // them runs on, detached). Asked once: terminate, then closing incScope, both ask.
            let asked = false
            const stop = Effect.suspend(() => {
              if (asked) return Effect.void
              asked = true
              return spec.shutdown === "brutal_kill"
                ? Effect.asVoid(Fiber.interrupt(fiber).pipe(Effect.forkDetach))
                : Fiber.interrupt(fiber).pipe(Effect.timeoutOption(spec.shutdown), Effect.asVoid)
            })
            yield* Scope.addFinalizer(incScope, stop)
            return { pid: null, running: { stop, scope: incScope, supervisor: null } } satisfies Launched
          })
      }
    }

    const startAgent = (
      child: SupervisorState.ChildRecord,
      spec: ResolvedAgent,
      incScope: Scope.Closeable,
      incarnation: number
    ): Effect.Effect<Launched, KernelError.KernelError> =>
      Effect.gen(function* () {
        const agent = yield* agents.spawn({
          name: spec.name,
          run: spec.run,
          args: spec.args,
          env: spec.env,
          ...(spec.cwd === null ? {} : { cwd: spec.cwd }),
          sandbox: { ...spec.sandbox, ...(typeof spec.shutdown === "number" ? { killTimeoutMs: spec.shutdown } : {}) },
          caps: spec.caps,
          restart: spec.restart,
          mailbox: spec.mailbox,
          llm: spec.llm
        }, { parent: path, baseDir: context.baseDir, restarts: child.lifecycle.context.restarts })
        let watchdogFired = false
        yield* Deferred.await(agent.ended).pipe(
          Effect.flatMap((reason) =>
            exited(spec.name, incarnation)(
              watchdogFired ? `watchdog: no heartbeat for ${spec.watchdogMs} ms` : ExitReason.describe(reason),
              !watchdogFired && ExitReason.isNormal(reason)
            )
          ),
          Effect.forkIn(incScope)
        )
        if (spec.watchdogMs !== null) {
          const watchdogMs = spec.watchdogMs
          yield* Effect.gen(function* () {
            for (;;) {
              const now = yield* Clock.currentTimeMillis
              if (Watchdog.expired(agent.lastHeartbeat, agent.startedAt, now, watchdogMs)) {
                watchdogFired = true
                yield* agents.kill(agent.id, 9).pipe(Effect.ignore)
                return
              }
              yield* Effect.sleep(Math.max(10, Watchdog.nextCheckIn(agent.lastHeartbeat, agent.startedAt, now, watchdogMs)))
            }
          }).pipe(Effect.forkIn(incScope))
        }
        const stop = Effect.gen(function* () {
          if (yield* Deferred.isDone(agent.ended)) return
          yield* agents.kill(agent.id, spec.shutdown === "brutal_kill" ? 9 : 15).pipe(Effect.ignore)
          const deadline = (spec.shutdown === "brutal_kill" ? 0 : spec.shutdown) + SHUTDOWN_SLACK_MS
          const done = yield* Deferred.await(agent.ended).pipe(Effect.timeoutOption(deadline))
          if (done._tag === "None") {
            yield* agents.kill(agent.id, 9).pipe(Effect.ignore)
            yield* Deferred.await(agent.ended)
          }
        })
        return { pid: agent.pid, running: { stop, scope: incScope, supervisor: null } }
      })

    /**
     * OTP's shutdown for a supervisor child: `infinity` waits for its whole subtree to stop in
     * order; a number of ms is its deadline, past which every agent still running below it is
     * SIGKILLed (OTP's `exit(Child, kill)` takes the linked subtree down), then its stop ends.
     */
    const stopSupervisor = (handle: Handle, spec: ResolvedSupervisor): Effect.Effect<void> => {
      if (spec.shutdown === "infinity") return handle.stop
      const below = (parent: string | null) => parent !== null && (parent === handle.path || parent.startsWith(`${handle.path}/`))
      const killSubtree = Effect.forEach(
        agents.list().filter((a) => below(a.parent) && (a.status === "running" || a.status === "stopping")),
        (a) => agents.kill(a.id, 9).pipe(Effect.ignore),
        { discard: true }
      )
      return handle.stop.pipe(
        Effect.timeoutOption(spec.shutdown),
        Effect.flatMap((done) => done._tag === "Some" ? Effect.void : Effect.andThen(Effect.suspend(() => killSubtree), handle.stop))
      )
    }

    // -- the runtime API -------------------------------------------------------------------

    const node = (child: SupervisorState.ChildRecord): TreeNode => {
      const base = SupervisorState.nodeOf(child)
      const below = running.get(child.spec.name)?.supervisor
      return below != null ? { ...below.tree(), ...base, state: base.state } : base
    }

    const refuse = (error: KernelError.KernelError | undefined) => (error === undefined ? Effect.void : Effect.fail(error))

    const actor: Actor = {
      path,
      spec,
      node: (name) => {
        const child = SupervisorState.find(state, name)
        return child === undefined ? undefined : node(child)
      },
      startChild: (childSpec, dynamic) =>
        Effect.gen(function* () {
          yield* refuse(SupervisorState.refuseStart(state, childSpec.name))
          yield* dispatch({ _tag: "Add", child: SupervisorState.newChild(state, childSpec, dynamic) })
          const started = yield* startOne(childSpec.name, [], "start_child")
          if (started._tag === "Failure") return yield* started.failure
          return node(SupervisorState.find(state, childSpec.name)!)
        }),
      startDynamic: (name, args) =>
        Effect.suspend(() => {
          const template = spec.children[0]!
          const childName = SupervisorState.dynamicName(state, template.name, name)
          const child = template._tag === "agent" && args !== undefined ? { ...template, name: childName, args } : { ...template, name: childName }
          return actor.startChild(child, true)
        }),
      terminateChild: (name) =>
        Effect.gen(function* () {
          yield* refuse(SupervisorState.refuseTerminate(state, name))
          yield* dispatch({ _tag: "Terminate", name })
          const child = SupervisorState.find(state, name)!
          // OTP's del_child/2: a dynamic child is gone once terminated, and so is a temporary one
          // (its spec is not kept); any other keeps its spec for restart_child.
          if (child.dynamic || child.spec.restart === "temporary") yield* dispatch({ _tag: "Remove", names: [name] })
          return node(child)
        }),
      restartChild: (name) =>
        Effect.gen(function* () {
          yield* refuse(SupervisorState.refuseRestart(state, name))
          yield* dispatch({ _tag: "RestartChild", name })
          // OTP: the error is returned and the child stays without a process.
          const started = yield* startOne(name, [], "restart_child")
          if (started._tag === "Failure") return yield* started.failure
          return node(SupervisorState.find(state, name)!)
        }),
      deleteChild: (name) =>
        Effect.gen(function* () {
          yield* refuse(SupervisorState.refuseDelete(state, name))
          const child = SupervisorState.find(state, name)!
          yield* dispatch({ _tag: "Remove", names: [name] })
          return node(child)
        }),
      restart: (name) =>
        Effect.gen(function* () {
          const child = SupervisorState.find(state, name)
          if (child === undefined) return yield* new KernelError.NotFound({ message: `${path}: no child named ${name}` })
          const plan = SupervisorState.restartPlan({ dynamic: child.dynamic, restart: child.spec.restart, active: SupervisorState.isActive(child) })
          if (plan._tag === "Refused") {
            return yield* new KernelError.Busy({ message: `${child.path} is ${plan.because === "dynamic" ? "a dynamic" : "a temporary"} child: terminating it removes it, so it cannot be restarted` })
          }
          if (plan.terminateFirst) yield* actor.terminateChild(name)
          return yield* actor.restartChild(name)
        })
    }

    // -- start: children in order ------------------------------------------------------------

    for (const childSpec of spec.strategy === "simple_one_for_one" ? [] : spec.children) {
      yield* dispatch({ _tag: "Add", child: SupervisorState.newChild(state, childSpec, false) })
      const started = yield* startOne(childSpec.name, [], "init")
      if (started._tag === "Failure") {
        for (const child of [...state.children].reverse()) yield* dispatch({ _tag: "Terminate", name: child.spec.name })
        yield* Scope.close(scope, Exit.void)
        return yield* new StartError({ message: `${path}: child ${childSpec.name} failed to start: ${started.failure.message}` })
      }
    }
    yield* dispatch({ _tag: "Own", event: { type: "STARTED" } })

    // -- the loop -----------------------------------------------------------------------------

    const loop = Effect.gen(function* () {
      for (;;) {
        const message = yield* Queue.take(queue)
        switch (message._tag) {
          case "Exited": {
            const child = SupervisorState.find(state, message.name)
            // A random draw only where a backoff will use it (its jitter).
            const random = child?.spec._tag === "agent" && child.spec.backoff !== null ? yield* Random.next : 0
            yield* dispatch({ ...message, now: yield* Clock.currentTimeMillis, random })
            break
          }
          case "BackoffDone":
            yield* dispatch(message)
            break
          case "Call":
            yield* message.run
            break
          case "Stop":
            yield* dispatch({ _tag: "Stop" })
            yield* Deferred.succeed(message.done, undefined)
            return
        }
        if (yield* Deferred.isDone(failed)) return
      }
    })
    const stopped = yield* Deferred.make<void>()
    // However the loop ends (stopped, escalated, interrupted), nothing queued is left waiting:
    // no more messages are accepted, calls are answered Busy, stops are done.
    const close = Effect.gen(function* () {
      closed = true
      yield* Queue.interrupt(queue)
      // An interrupted queue left empty is done: clear then fails with the interruption.
      const left = yield* Queue.clear(queue).pipe(Effect.catchCause(() => Effect.succeed<Array<Message>>([])))
      for (const message of left) {
        if (message._tag === "Call") yield* message.reject(new KernelError.Busy({ message: `${path} is ${String(state.own.value)}` }))
        if (message._tag === "Stop") yield* Deferred.succeed(message.done, undefined)
      }
      yield* Deferred.succeed(stopped, undefined)
    })
    yield* loop.pipe(Effect.ensuring(close), Effect.provideContext(services), Effect.forkIn(scope))
    let stopRequested = false

    const handle: Handle = {
      path,
      spec,
      failed,
      tree: () => ({
        name: spec.name,
        path,
        kind: "supervisor",
        state: String(state.own.value),
        pid: null,
        restarts: 0,
        reason: state.own.context.reason,
        strategy: spec.strategy,
        children: state.children.map(node)
      }),
      call: (request) =>
        Effect.gen(function* () {
          const reply = yield* Deferred.make<unknown, KernelError.KernelError>()
          const busy = new KernelError.Busy({ message: `${path} is ${String(state.own.value)}` })
          if (state.stopping || closed) return yield* busy
          const accepted = yield* Queue.offer(queue, {
            _tag: "Call",
            run: request(actor).pipe(Effect.exit, Effect.flatMap((exit) => Deferred.done(reply, exit)), Effect.asVoid),
            reject: (error) => Effect.asVoid(Deferred.fail(reply, error))
          })
          if (!accepted) return yield* busy
          return (yield* Deferred.await(reply)) as never
        }),
      // Idempotent: a parent terminating this supervisor stops it, then closes the scope it
      // runs in, whose finalizer asks again; the second ask waits for the first. A loop that
      // already ended (escalated) completed `stopped` as it ended, and refuses the message.
      stop: Effect.gen(function* () {
        if (!stopRequested) {
          stopRequested = true
          yield* Queue.offer(queue, { _tag: "Stop", done: stopped })
        }
        yield* Deferred.await(stopped)
        yield* Scope.close(scope, Exit.void)
      })
    }
    const unregister = context.register(handle)
    yield* Scope.addFinalizer(scope, Effect.sync(unregister))
    // A parent scope closing (kernel shutdown) stops this supervisor in order.
    yield* Effect.addFinalizer(() => handle.stop)
    return handle
  })
