/**
 * The supervisor actor, after supervisor.erl: one fiber owns a supervisor's children and
 * handles, one message at a time, their ends and the runtime API (start, terminate, restart,
 * delete child). A child's end goes through `Strategy.decide` (what to stop and start) and
 * `RestartIntensity.add` (whether restarting still helps); past the intensity the supervisor
 * terminates its children in reverse start order and fails, and its parent applies its own
 * strategy to it. Children are agents (OS processes through Agents), supervisors (this actor,
 * nested) or services (Effects run as fibers).
 */
import { Cause, Clock, Deferred, Effect, Exit, Fiber, Queue, Random, Scope } from "effect"
import { initialTransition, transition } from "xstate"
import { Agents } from "../process/Agents.ts"
import { Events, type SupervisorReport } from "../process/Events.ts"
import * as KernelError from "../process/KernelError.ts"
import * as ExitReason from "../sandbox/ExitReason.ts"
import * as Backoff from "./Backoff.ts"
import { ChildLifecycle } from "./machines/ChildLifecycle.ts"
import { SupervisorLifecycle } from "./machines/SupervisorLifecycle.ts"
import type { ResolvedAgent, ResolvedChild, ResolvedSupervisor } from "./ResolvedTree.ts"
import * as RestartIntensity from "./RestartIntensity.ts"
import * as Strategy from "./Strategy.ts"
import * as Watchdog from "./Watchdog.ts"

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/** A node of TREE's answer. @category models */
export interface TreeNode {
  readonly name: string
  readonly path: string
  readonly kind: "supervisor" | "agent" | "service"
  readonly state: string
  readonly pid: number | null
  readonly restarts: number
  readonly reason: string | null
  /** Its restart type as a child (absent for a tree's root): a `temporary` one cannot come back once terminated. */
  readonly restart?: Strategy.RestartType
  readonly strategy?: Strategy.Strategy
  readonly children?: ReadonlyArray<TreeNode>
}

/** The first node of a tree, depth first, that `matches`; undefined when none does. @category constructors */
export const findNode = (node: TreeNode | null, matches: (node: TreeNode) => boolean): TreeNode | undefined => {
  if (node === null) return undefined
  if (matches(node)) return node
  for (const child of node.children ?? []) {
    const found = findNode(child, matches)
    if (found !== undefined) return found
  }
  return undefined
}

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

interface Running {
  readonly pid: number | null
  readonly stop: Effect.Effect<void>
  readonly scope: Scope.Closeable
  readonly supervisor: Handle | null
  readonly agentId: string | null
}

interface Child {
  spec: ResolvedChild
  readonly path: string
  readonly dynamic: boolean
  snapshot: ReturnType<typeof initialTransition<typeof ChildLifecycle>>[0]
  incarnation: number
  running: Running | null
  attempt: number
  startedAt: number
  watchdogFired: boolean
}

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

/** The actor's state and operations, as runtime requests see them. @category models */
export interface Actor {
  readonly path: string
  readonly spec: ResolvedSupervisor
  readonly children: Array<Child>
  readonly startChild: (spec: ResolvedChild, dynamic: boolean) => Effect.Effect<TreeNode, KernelError.KernelError, Services>
  readonly terminateChild: (name: string) => Effect.Effect<TreeNode, KernelError.KernelError, Services>
  readonly restartChild: (name: string) => Effect.Effect<TreeNode, KernelError.KernelError, Services>
  readonly deleteChild: (name: string) => Effect.Effect<TreeNode, KernelError.KernelError, Services>
}

/** A start that failed: the first child that could not start, and why. @category errors */
export class StartError extends KernelError.Busy {}

// ---------------------------------------------------------------------------------------------
// Defaults (OTP's)
// ---------------------------------------------------------------------------------------------

/** Extra time allowed past a child's shutdown deadline before it is SIGKILLed regardless. */
const SHUTDOWN_SLACK_MS = 5000

// ---------------------------------------------------------------------------------------------
// The actor
// ---------------------------------------------------------------------------------------------

const state = (child: Child): string => String(child.snapshot.value)

/** States in which a child has no process yet but is to get one: terminating it cancels that. */
const pending = new Set(["starting", "backoff", "restarting"])

const send = (child: Child, event: Parameters<typeof transition<typeof ChildLifecycle>>[2]) => {
  child.snapshot = transition(ChildLifecycle, child.snapshot, event)[0]
}

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
    let own = initialTransition(SupervisorLifecycle)[0]
    let history: ReadonlyArray<number> = []
    let stopping = false
    const children: Array<Child> = []

    const report = (
      type: SupervisorReport["type"],
      child: Child,
      context: SupervisorReport["context"],
      reason: string | null,
      extra: { readonly delayMs?: number } = {}
    ) =>
      Effect.gen(function* () {
        yield* events.publish({
          type,
          supervisor: path,
          context,
          offender: child.path,
          kind: child.spec._tag,
          reason,
          pid: child.running?.pid ?? null,
          restarts: child.snapshot.context.restarts,
          ...extra,
          time: yield* Clock.currentTimeMillis
        })
      })

    const newChild = (childSpec: ResolvedChild, dynamic: boolean): Child => ({
      spec: childSpec,
      path: `${path}/${childSpec.name}`,
      dynamic,
      snapshot: initialTransition(ChildLifecycle)[0],
      incarnation: 0,
      running: null,
      attempt: 0,
      startedAt: 0,
      watchdogFired: false
    })

    const exited = (child: Child, incarnation: number) => (reason: string, normal: boolean) =>
      Queue.offer(queue, { _tag: "Exited", name: child.spec.name, incarnation, reason, normal })

    // -- starting one child -------------------------------------------------------------------

    const startAgent = (child: Child, spec: ResolvedAgent, incScope: Scope.Closeable, incarnation: number) =>
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
        }, { parent: path, baseDir: context.baseDir, restarts: child.snapshot.context.restarts })
        yield* Deferred.await(agent.ended).pipe(
          Effect.flatMap((reason) =>
            exited(child, incarnation)(
              child.watchdogFired ? `watchdog: no heartbeat for ${spec.watchdogMs} ms` : ExitReason.describe(reason),
              !child.watchdogFired && ExitReason.isNormal(reason)
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
                child.watchdogFired = true
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
        return { pid: agent.pid, stop, scope: incScope, supervisor: null, agentId: agent.id } satisfies Running
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

    const startChild = (child: Child) =>
      Effect.gen(function* () {
        const incarnation = ++child.incarnation
        child.watchdogFired = false
        child.startedAt = yield* Clock.currentTimeMillis
        const incScope = yield* Scope.fork(scope, "sequential")
        const spec = child.spec
        const running = yield* (() => {
          switch (spec._tag) {
            case "agent":
              return startAgent(child, spec, incScope, incarnation)
            case "supervisor":
              return start(spec, child.path, context).pipe(
                Scope.provide(incScope),
                Effect.tap((handle) =>
                  Deferred.await(handle.failed).pipe(
                    Effect.flatMap((reason) => exited(child, incarnation)(reason, false)),
                    Effect.forkIn(incScope)
                  )
                ),
                Effect.map((handle): Running => ({ pid: null, stop: stopSupervisor(handle, spec), scope: incScope, supervisor: handle, agentId: null }))
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
                      ? exited(child, incarnation)("completed", true)
                      : exited(child, incarnation)(Cause.pretty(exit.cause).split("\n")[0] ?? "failed", false)
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
                return { pid: null, stop, scope: incScope, supervisor: null, agentId: null } satisfies Running
              })
          }
        })().pipe(Effect.tapError(() => Scope.close(incScope, Exit.void)))
        child.running = running
        send(child, { type: "STARTED", pid: running.pid })
        yield* report("agentos.child.started", child, "start", null)
      })

    /**
     * Whether a child has anything to terminate: a process, or a start to come (it waits out a
     * backoff, or its end is queued for a restart decision, or its group's restart stopped
     * before reaching it).
     */
    const isActive = (child: Child) => child.running !== null || pending.has(state(child))

    /** Terminates a child by its shutdown policy and waits for its end; nothing when it has none (OTP: pid undefined). */
    const terminate = (child: Child) =>
      Effect.gen(function* () {
        if (!isActive(child)) return
        const running = child.running
        send(child, { type: "STOP" })
        if (running !== null) {
          yield* running.stop
          child.running = null
          yield* Scope.close(running.scope, Exit.void)
        }
        // Any end already queued for this incarnation is stale from now on.
        child.incarnation++
        send(child, { type: "STOPPED" })
        yield* report("agentos.child.stopped", child, "shutdown", "shutdown")
      })

    /** Reverse start order, as OTP's terminate_children. */
    const terminateAll = Effect.gen(function* () {
      for (const child of [...children].reverse()) yield* terminate(child)
    })

    const find = (name: string) => children.find((c) => c.spec.name === name)
    // OTP: {error, simple_one_for_one}: a dynamic child is only started and terminated.
    const notForSimple = (action: string) =>
      new KernelError.InvalidArgument({ message: `${path}: ${action} child is not supported by a simple_one_for_one supervisor; terminate the child instead` })
    const remove = (names: ReadonlyArray<string>) => {
      for (const name of names) {
        const i = children.findIndex((c) => c.spec.name === name)
        if (i !== -1) children.splice(i, 1)
      }
    }

    // -- a child's end ------------------------------------------------------------------------

    const escalate = (offender: Child, reason: string) =>
      Effect.gen(function* () {
        // A supervisor's reason already starts with its own path: the chain reads top down.
        const last = offender.spec._tag === "supervisor" ? reason : `${offender.path}: ${reason}`
        const chain = `${path}: reached max restart intensity (more than ${spec.intensity.maxRestarts} restarts in ${spec.intensity.withinMs} ms); last: ${last}`
        own = transition(SupervisorLifecycle, own, { type: "INTENSITY_EXCEEDED", reason: chain })[0]
        stopping = true
        // It is not restarted: TREE shows it failed (or exited, after a normal end), not restarting.
        send(offender, { type: "GIVE_UP" })
        yield* terminateAll
        yield* report("agentos.supervisor.escalated", offender, "reached_max_restart_intensity", chain)
        yield* Deferred.succeed(failed, chain)
      })

    /** Starts children in order, each after its backoff if it has one (the whole group waits). */
    const restartGroup = (group: ReadonlyArray<Child>, failedChild: Child | undefined) =>
      Effect.gen(function* () {
        let delayMs = 0
        const now = yield* Clock.currentTimeMillis
        const backoff = failedChild?.spec._tag === "agent" ? failedChild.spec.backoff : null
        if (failedChild !== undefined && backoff !== null) {
          failedChild.attempt = Backoff.nextAttempt(backoff, failedChild.attempt, now - failedChild.startedAt)
          delayMs = Backoff.delay(backoff, failedChild.attempt, yield* Random.next)
          failedChild.attempt++
        }
        for (const child of group) {
          send(child, { type: "RESTART", delayMs })
          yield* report("agentos.child.restarting", child, "restart", child.snapshot.context.lastReason, { delayMs })
        }
        if (delayMs > 0) {
          const incarnations = group.map((c) => c.incarnation)
          yield* Effect.sleep(delayMs).pipe(
            Effect.andThen(Queue.offer(queue, { _tag: "BackoffDone", names: group.map((c) => c.spec.name), incarnations })),
            Effect.forkIn(scope)
          )
          return
        }
        yield* startGroup(group)
      })

    /** Starts children now; one that fails is handled like an abnormal end (OTP's try_again). */
    const startGroup = (group: ReadonlyArray<Child>) =>
      Effect.gen(function* () {
        for (const child of group) {
          const result = yield* startChild(child).pipe(Effect.result)
          if (result._tag === "Failure") {
            send(child, { type: "START_FAILED", reason: result.failure.message })
            yield* report("agentos.child.start_failed", child, "start_error", result.failure.message)
            yield* Queue.offer(queue, { _tag: "Exited", name: child.spec.name, incarnation: child.incarnation, reason: result.failure.message, normal: false })
            return
          }
        }
      })

    const onExited = (message: Extract<Message, { _tag: "Exited" }>) =>
      Effect.gen(function* () {
        const child = find(message.name)
        if (child === undefined || child.incarnation !== message.incarnation || stopping) return
        if (child.running !== null) {
          yield* Scope.close(child.running.scope, Exit.void)
          child.running = null
        }
        if (state(child) !== "restarting") send(child, { type: "EXITED", reason: message.reason, normal: message.normal })
        yield* report("agentos.child.exited", child, "child_terminated", message.reason)
        const decision = Strategy.decide({
          strategy: spec.strategy,
          children: children.map((c) => ({ name: c.spec.name, restart: c.spec.restart, running: c.running !== null })),
          failed: child.spec.name,
          normal: message.normal
        })
        if (decision._tag === "Ignore") {
          send(child, { type: "GIVE_UP" })
          remove(decision.remove)
          return
        }
        const outcome = RestartIntensity.add(history, yield* Clock.currentTimeMillis, spec.intensity)
        history = outcome.history
        if (outcome._tag === "Exceeded") return yield* escalate(child, message.reason)
        own = transition(SupervisorLifecycle, own, { type: "CHILD_RESTARTING", child: child.path })[0]
        for (const name of decision.stop) {
          const sibling = find(name)
          if (sibling !== undefined) yield* terminate(sibling)
        }
        remove(decision.remove)
        const group = decision.start.map(find).filter((c): c is Child => c !== undefined)
        yield* restartGroup(group, child)
        own = transition(SupervisorLifecycle, own, { type: "CHILD_RESTARTED" })[0]
      })

    // -- the runtime API (OTP's start_child, terminate_child, restart_child, delete_child) ----

    const node = (child: Child): TreeNode => {
      const base = {
        name: child.spec.name,
        path: child.path,
        kind: child.spec._tag,
        state: state(child),
        pid: child.running?.pid ?? null,
        restarts: child.snapshot.context.restarts,
        reason: child.snapshot.context.lastReason,
        restart: child.spec.restart
      }
      return child.running?.supervisor != null ? { ...child.running.supervisor.tree(), ...base, state: base.state } : base
    }

    const actor: Actor = {
      path,
      spec,
      children,
      startChild: (childSpec, dynamic) =>
        Effect.gen(function* () {
          if (find(childSpec.name) !== undefined) {
            return yield* new KernelError.AlreadyExists({ message: `${path}: a child named ${childSpec.name} already exists` })
          }
          const child = newChild(childSpec, dynamic)
          const result = yield* startChild(child).pipe(Effect.result)
          if (result._tag === "Failure") return yield* result.failure
          children.push(child)
          return node(child)
        }),
      terminateChild: (name) =>
        Effect.gen(function* () {
          const child = find(name)
          if (child === undefined) return yield* new KernelError.NotFound({ message: `${path}: no child named ${name}` })
          yield* terminate(child)
          // OTP's del_child/2: a dynamic child is gone once terminated, and so is a temporary one
          // (its spec is not kept); any other keeps its spec for restart_child.
          if (child.dynamic || child.spec.restart === "temporary") remove([name])
          return node(child)
        }),
      restartChild: (name) =>
        Effect.gen(function* () {
          if (spec.strategy === "simple_one_for_one") return yield* notForSimple("restart")
          const child = find(name)
          if (child === undefined) return yield* new KernelError.NotFound({ message: `${path}: no child named ${name}` })
          // OTP: {error, running} / {error, restarting}.
          if (isActive(child)) return yield* new KernelError.Busy({ message: `${path}: ${name} is ${state(child)}; terminate it first` })
          send(child, { type: "RESTART", delayMs: 0 })
          const result = yield* startChild(child).pipe(Effect.result)
          if (result._tag === "Failure") {
            // OTP: the error is returned and the child stays without a process.
            send(child, { type: "START_FAILED", reason: result.failure.message })
            send(child, { type: "GIVE_UP" })
            yield* report("agentos.child.start_failed", child, "start_error", result.failure.message)
            return yield* result.failure
          }
          return node(child)
        }),
      deleteChild: (name) =>
        Effect.gen(function* () {
          const child = find(name)
          if (spec.strategy === "simple_one_for_one") return yield* notForSimple("delete")
          if (child === undefined) return yield* new KernelError.NotFound({ message: `${path}: no child named ${name}` })
          if (isActive(child)) return yield* new KernelError.Busy({ message: `${path}: ${name} is ${state(child)}; terminate it first` })
          remove([name])
          return node(child)
        })
    }

    // -- start: children in order ------------------------------------------------------------

    for (const childSpec of spec.strategy === "simple_one_for_one" ? [] : spec.children) {
      const child = newChild(childSpec, false)
      children.push(child)
      const result = yield* startChild(child).pipe(Effect.result)
      if (result._tag === "Failure") {
        send(child, { type: "START_FAILED", reason: result.failure.message })
        send(child, { type: "GIVE_UP" })
        yield* report("agentos.child.start_failed", child, "start_error", result.failure.message)
        yield* terminateAll
        yield* Scope.close(scope, Exit.void)
        return yield* new StartError({ message: `${path}: child ${childSpec.name} failed to start: ${result.failure.message}` })
      }
    }
    own = transition(SupervisorLifecycle, own, { type: "STARTED" })[0]

    // -- the loop -----------------------------------------------------------------------------

    const loop = Effect.gen(function* () {
      for (;;) {
        const message = yield* Queue.take(queue)
        switch (message._tag) {
          case "Exited":
            yield* onExited(message)
            break
          case "BackoffDone": {
            const group = message.names
              .map((name, i) => ({ child: find(name), incarnation: message.incarnations[i] }))
              .filter((g): g is { child: Child; incarnation: number } => g.child !== undefined && g.child.incarnation === g.incarnation && state(g.child) === "backoff")
            for (const { child } of group) send(child, { type: "BACKOFF_DONE" })
            yield* startGroup(group.map((g) => g.child))
            break
          }
          case "Call":
            yield* message.run
            break
          case "Stop":
            stopping = true
            own = transition(SupervisorLifecycle, own, { type: "STOP" })[0]
            yield* terminateAll
            own = transition(SupervisorLifecycle, own, { type: "STOPPED" })[0]
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
      stopping = true
      yield* Queue.interrupt(queue)
      // An interrupted queue left empty is done: clear then fails with the interruption.
      const left = yield* Queue.clear(queue).pipe(Effect.catchCause(() => Effect.succeed<Array<Message>>([])))
      for (const message of left) {
        if (message._tag === "Call") yield* message.reject(new KernelError.Busy({ message: `${path} is ${String(own.value)}` }))
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
        state: String(own.value),
        pid: null,
        restarts: 0,
        reason: own.context.reason,
        strategy: spec.strategy,
        children: children.map(node)
      }),
      call: (request) =>
        Effect.gen(function* () {
          const reply = yield* Deferred.make<unknown, KernelError.KernelError>()
          const busy = new KernelError.Busy({ message: `${path} is ${String(own.value)}` })
          if (stopping) return yield* busy
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
