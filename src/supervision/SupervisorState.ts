/**
 * A supervisor's state and the pure handlers that decide what it does, after supervisor.erl's
 * `#state{}` and its handle_info/handle_call clauses: one immutable State (the children in
 * start order, the restart history, the supervisor's own lifecycle), and `step(State, Event) →
 * [State, Commands]`. The commands (start a child, stop one, close an ended incarnation, wait a
 * backoff, report, escalate) are performed, in order, by the one loop in Supervisor.ts, which
 * feeds what they give back (a start that came up or failed, a stop that completed) in as
 * events. Strategy.decide and RestartIntensity.add, pure too, are the decisions it applies.
 */
import { initialTransition, transition } from "xstate"
import type { SupervisorReport } from "../process/Events.ts"
import * as KernelError from "../process/KernelError.ts"
import type { TreeNode } from "../protocol/Rows.ts"
import * as Backoff from "./Backoff.ts"
import { ChildLifecycle, type Event as ChildEvent } from "./machines/ChildLifecycle.ts"
import { SupervisorLifecycle, type Event as OwnEvent } from "./machines/SupervisorLifecycle.ts"
import type { ResolvedChild, ResolvedSupervisor } from "./ResolvedTree.ts"
import * as TreeState from "./machines/TreeState.ts"
import * as RestartIntensity from "./RestartIntensity.ts"
import * as Strategy from "./Strategy.ts"

// ---------------------------------------------------------------------------------------------
// The state
// ---------------------------------------------------------------------------------------------

/** A child's lifecycle snapshot. @category models */
export type ChildSnapshot = ReturnType<typeof initialTransition<typeof ChildLifecycle>>[0]

/** The supervisor's own lifecycle snapshot. @category models */
export type OwnSnapshot = ReturnType<typeof initialTransition<typeof SupervisorLifecycle>>[0]

/** One child as its supervisor keeps it (OTP's #child{}). @category models */
export interface ChildRecord {
  readonly spec: ResolvedChild
  readonly path: string
  /** A child of a simple_one_for_one supervisor, made from its template. */
  readonly dynamic: boolean
  readonly lifecycle: ChildSnapshot
  /** Counts its starts and stops: an end reported for an older incarnation is stale. */
  readonly incarnation: number
  /** Its process (an agent's pid; null for a supervisor or a service) while it has one. */
  readonly process: { readonly pid: number | null } | null
  /** Backoff attempts so far (Backoff.nextAttempt resets it after a long enough run). */
  readonly attempt: number
  /** When its current or last incarnation started, ms since the epoch. */
  readonly startedAt: number
}

/** A supervisor's state (OTP's #state{}). @category models */
export interface State {
  readonly path: string
  readonly spec: ResolvedSupervisor
  /** In start order. */
  readonly children: ReadonlyArray<ChildRecord>
  /** Restart times within the intensity window (RestartIntensity). */
  readonly history: ReadonlyArray<number>
  readonly own: OwnSnapshot
  /** Stopping or escalated: ends that arrive now are not acted on. */
  readonly stopping: boolean
}

/** A supervisor about to start its children. @category constructors */
export const init = (spec: ResolvedSupervisor, path: string): State => ({
  path,
  spec,
  children: [],
  history: [],
  own: initialTransition(SupervisorLifecycle)[0],
  stopping: false
})

/** A child not started yet. @category constructors */
export const newChild = (state: State, spec: ResolvedChild, dynamic: boolean): ChildRecord => ({
  spec,
  path: `${state.path}/${spec.name}`,
  dynamic,
  lifecycle: initialTransition(ChildLifecycle)[0],
  incarnation: 0,
  process: null,
  attempt: 0,
  startedAt: 0
})

// ---------------------------------------------------------------------------------------------
// Events and commands
// ---------------------------------------------------------------------------------------------

/** How a start was asked for, which says what its failure does. @category models */
export type StartMode =
  /** A restart by the strategy: a failure is handled like an abnormal end (OTP's try_again). */
  | "restart"
  /** restart_child: the error is the caller's; the child stays without a process. */
  | "restart_child"
  /** start_child: the error is the caller's; the child is not added. */
  | "start_child"
  /** The supervisor's own start: the error fails it. */
  | "init"

/** What happened, as the loop tells it. @category models */
export type Event =
  /** A child's incarnation ended (`now`, `random`: read by the loop, for intensity and backoff). */
  | { readonly _tag: "Exited"; readonly name: string; readonly incarnation: number; readonly reason: string; readonly normal: boolean; readonly now: number; readonly random: number }
  /** A backoff wait is over for these children (each at the incarnation it was for). */
  | { readonly _tag: "BackoffDone"; readonly names: ReadonlyArray<string>; readonly incarnations: ReadonlyArray<number> }
  /** A start is under way at `now`. */
  | { readonly _tag: "Starting"; readonly name: string; readonly now: number }
  /** A start came up; `rest` are the children of its group still to start, in order. */
  | { readonly _tag: "Started"; readonly name: string; readonly pid: number | null; readonly rest: ReadonlyArray<string>; readonly mode: StartMode }
  /** A start failed. */
  | { readonly _tag: "StartFailed"; readonly name: string; readonly reason: string; readonly mode: StartMode }
  /** Terminate a child by its shutdown policy (OTP's terminate_child). */
  | { readonly _tag: "Terminate"; readonly name: string }
  /** A child's stop completed. */
  | { readonly _tag: "Stopped"; readonly name: string }
  /** Delete children from the list (OTP's del_child). */
  | { readonly _tag: "Remove"; readonly names: ReadonlyArray<string> }
  /** Start `names` again after `failed` ended, each after the failed one's backoff if it has one. */
  | { readonly _tag: "RestartGroup"; readonly names: ReadonlyArray<string>; readonly failed: string; readonly now: number; readonly random: number }
  /** restart_child on a child without a process: it is to start again now (the caller starts it). */
  | { readonly _tag: "RestartChild"; readonly name: string }
  /** Add a child (start_child) before its start. */
  | { readonly _tag: "Add"; readonly child: ChildRecord }
  /** The supervisor's own lifecycle moves. */
  | { readonly _tag: "Own"; readonly event: OwnEvent }
  /** Stop the supervisor: its children in reverse start order. */
  | { readonly _tag: "Stop" }

/** A report on the event bus, the time left to the loop. @category models */
export interface Report {
  readonly type: SupervisorReport["type"]
  readonly name: string
  readonly context: SupervisorReport["context"]
  readonly reason: string | null
  readonly delayMs?: number
}

/** What the loop is to do, in order. @category models */
export type Command =
  /** Start the child's process; its outcome comes back as Started or StartFailed. */
  | { readonly _tag: "Start"; readonly name: string; readonly rest: ReadonlyArray<string>; readonly mode: StartMode }
  /** Stop the child's process by its shutdown policy and wait; comes back as Stopped. */
  | { readonly _tag: "Stop"; readonly name: string }
  /** Close what is left of an ended incarnation (its scope). */
  | { readonly _tag: "Release"; readonly name: string }
  /** Publish a report, with the child's pid and restarts as they are when it is published. */
  | { readonly _tag: "Report"; readonly report: Report }
  /** Wait `delayMs`, then tell BackoffDone. */
  | { readonly _tag: "Backoff"; readonly delayMs: number; readonly names: ReadonlyArray<string>; readonly incarnations: ReadonlyArray<number> }
  /** Queue a child's end, to be handled as any end once the current one is done. */
  | { readonly _tag: "Queue"; readonly name: string; readonly incarnation: number; readonly reason: string; readonly normal: boolean }
  /** Handle `event` once the commands before it are done. */
  | { readonly _tag: "Then"; readonly event: Event }
  /** Fail the supervisor with this chain: its parent applies its own strategy to it. */
  | { readonly _tag: "Escalate"; readonly chain: string }

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

/** A child's lifecycle state (`running`, `backoff`, …). @category models */
export const stateOf = (child: ChildRecord): string => String(child.lifecycle.value)

/**
 * Whether a child has anything to terminate: a process, or a start to come (it waits out a
 * backoff, or its end is queued for a restart decision, or its group's restart stopped before
 * reaching it). OTP: its pid is a pid, or `restarting`. The same fact TREE's readers use
 * (TreeState.isActive). @category guards
 */
export const isActive = (child: ChildRecord): boolean => TreeState.isActive(stateOf(child))

/** The child of that name. @category constructors */
export const find = (state: State, name: string): ChildRecord | undefined => state.children.find((c) => c.spec.name === name)

/** A child's node of TREE (a supervisor child's subtree is filled in by the loop). @category constructors */
export const nodeOf = (child: ChildRecord): TreeNode => ({
  name: child.spec.name,
  path: child.path,
  kind: child.spec._tag,
  state: stateOf(child),
  pid: child.process?.pid ?? null,
  restarts: child.lifecycle.context.restarts,
  reason: child.lifecycle.context.lastReason,
  restart: child.spec.restart
})

/**
 * Whether and how a child may be restarted on request (the observer's restart, `agentos top`'s
 * R): OTP forgets a dynamic or a temporary child once it is terminated, so neither can come
 * back; any other is terminated first when it is active (restart_child refuses a running
 * child), then restarted. The one rule the kernel, the observer and top all apply.
 * @category constructors
 */
export const restartPlan = (child: { readonly dynamic: boolean; readonly restart: Strategy.RestartType; readonly active: boolean }):
  | { readonly _tag: "Refused"; readonly because: "dynamic" | "temporary" }
  | { readonly _tag: "Restart"; readonly terminateFirst: boolean } =>
  child.dynamic
    ? { _tag: "Refused", because: "dynamic" }
    : child.restart === "temporary"
    ? { _tag: "Refused", because: "temporary" }
    : { _tag: "Restart", terminateFirst: child.active }

// OTP: {error, simple_one_for_one}: a dynamic child is only started and terminated.
const notForSimple = (state: State, action: string) =>
  new KernelError.InvalidArgument({ message: `${state.path}: ${action} child is not supported by a simple_one_for_one supervisor; terminate the child instead` })

const noChild = (state: State, name: string) => new KernelError.NotFound({ message: `${state.path}: no child named ${name}` })

/** Why start_child refuses this name, if it does. @category guards */
export const refuseStart = (state: State, name: string): KernelError.KernelError | undefined =>
  find(state, name) !== undefined ? new KernelError.AlreadyExists({ message: `${state.path}: a child named ${name} already exists` }) : undefined

/**
 * Why restart_child or delete_child refuses, if it does: neither exists for a
 * simple_one_for_one supervisor, and both want a child without a process (OTP: {error,
 * running} / {error, restarting}).
 */
const refuseIdle = (state: State, name: string, action: "restart" | "delete"): KernelError.KernelError | undefined => {
  if (state.spec.strategy === "simple_one_for_one") return notForSimple(state, action)
  const child = find(state, name)
  if (child === undefined) return noChild(state, name)
  if (isActive(child)) return new KernelError.Busy({ message: `${state.path}: ${name} is ${stateOf(child)}; terminate it first` })
  return undefined
}

/** Why restart_child refuses, if it does. @category guards */
export const refuseRestart = (state: State, name: string): KernelError.KernelError | undefined => refuseIdle(state, name, "restart")

/** Why delete_child refuses, if it does. @category guards */
export const refuseDelete = (state: State, name: string): KernelError.KernelError | undefined => refuseIdle(state, name, "delete")

/** Why terminate_child refuses, if it does. @category guards */
export const refuseTerminate = (state: State, name: string): KernelError.KernelError | undefined =>
  find(state, name) === undefined ? noChild(state, name) : undefined

/** The name of a new dynamic child: the one asked for, or a free `<template>-N`. @category constructors */
export const dynamicName = (state: State, template: string, asked: string | undefined): string => {
  if (asked !== undefined) return asked
  // The count alone could name a child still running after an earlier one was terminated.
  let n = state.children.length + 1
  while (state.children.some((c) => c.spec.name === `${template}-${n}`)) n++
  return `${template}-${n}`
}

// ---------------------------------------------------------------------------------------------
// The handlers
// ---------------------------------------------------------------------------------------------

type Step = readonly [State, ReadonlyArray<Command>]

const update = (state: State, name: string, f: (child: ChildRecord) => ChildRecord): State => ({
  ...state,
  children: state.children.map((c) => (c.spec.name === name ? f(c) : c))
})

const send = (child: ChildRecord, event: ChildEvent): ChildRecord => ({
  ...child,
  lifecycle: transition(ChildLifecycle, child.lifecycle, event)[0]
})

const own = (state: State, event: OwnEvent): State => ({ ...state, own: transition(SupervisorLifecycle, state.own, event)[0] })

const report = (type: Report["type"], name: string, context: Report["context"], reason: string | null, delayMs?: number): Command => ({
  _tag: "Report",
  report: delayMs === undefined ? { type, name, context, reason } : { type, name, context, reason, delayMs }
})

const then = (event: Event): Command => ({ _tag: "Then", event })

/** Terminates every child in reverse start order (OTP's terminate_children). */
const terminateAll = (state: State): ReadonlyArray<Command> =>
  [...state.children].reverse().map((c) => then({ _tag: "Terminate", name: c.spec.name }))

/** Starts children in order, one after the other: a failure stops the rest. */
const startGroup = (names: ReadonlyArray<string>, mode: StartMode): ReadonlyArray<Command> =>
  names.length === 0 ? [] : [{ _tag: "Start", name: names[0]!, rest: names.slice(1), mode }]

/** A child's end (OTP's restart/2 through do_restart/3). */
const exited = (state: State, event: Extract<Event, { _tag: "Exited" }>): Step => {
  const found = find(state, event.name)
  if (found === undefined || found.incarnation !== event.incarnation || state.stopping) return [state, []]
  const commands: Array<Command> = []
  if (found.process !== null) commands.push({ _tag: "Release", name: event.name })
  // A failed start is already `restarting`; any other end is told to the child's machine now.
  let next = update(state, event.name, (c) => {
    const released = { ...c, process: null }
    return stateOf(c) === "restarting" ? released : send(released, { type: "EXITED", reason: event.reason, normal: event.normal })
  })
  commands.push(report("agentos.child.exited", event.name, "child_terminated", event.reason))
  const decision = Strategy.decide({
    strategy: next.spec.strategy,
    children: next.children.map((c) => ({ name: c.spec.name, restart: c.spec.restart, running: c.process !== null })),
    failed: event.name,
    normal: event.normal
  })
  if (decision._tag === "Ignore") {
    next = remove(update(next, event.name, (c) => send(c, { type: "GIVE_UP" })), decision.remove)
    return [next, commands]
  }
  const outcome = RestartIntensity.add(next.history, event.now, next.spec.intensity)
  next = { ...next, history: outcome.history }
  if (outcome._tag === "Exceeded") {
    const offender = find(next, event.name)!
    // A supervisor's reason already starts with its own path: the chain reads top down.
    const last = offender.spec._tag === "supervisor" ? event.reason : `${offender.path}: ${event.reason}`
    const chain = `${next.path}: reached max restart intensity (more than ${next.spec.intensity.maxRestarts} restarts in ${next.spec.intensity.withinMs} ms); last: ${last}`
    next = own({ ...next, stopping: true }, { type: "INTENSITY_EXCEEDED", reason: chain })
    // It is not restarted: TREE shows it failed (or exited, after a normal end), not restarting.
    next = update(next, event.name, (c) => send(c, { type: "GIVE_UP" }))
    commands.push(...terminateAll(next), report("agentos.supervisor.escalated", event.name, "reached_max_restart_intensity", chain), { _tag: "Escalate", chain })
    return [next, commands]
  }
  next = own(next, { type: "CHILD_RESTARTING", child: offenderPath(next, event.name) })
  commands.push(
    ...decision.stop.map((name) => then({ _tag: "Terminate", name })),
    then({ _tag: "Remove", names: decision.remove }),
    then({ _tag: "RestartGroup", names: decision.start, failed: event.name, now: event.now, random: event.random }),
    then({ _tag: "Own", event: { type: "CHILD_RESTARTED" } })
  )
  return [next, commands]
}

const offenderPath = (state: State, name: string): string => find(state, name)?.path ?? `${state.path}/${name}`

const remove = (state: State, names: ReadonlyArray<string>): State =>
  names.length === 0 ? state : { ...state, children: state.children.filter((c) => !names.includes(c.spec.name)) }

/** OTP's restart_multiple_children: the group waits out the failed child's backoff, if it has one, then starts in order. */
const restartGroup = (state: State, event: Extract<Event, { _tag: "RestartGroup" }>): Step => {
  let next = state
  let delayMs = 0
  const failed = find(next, event.failed)
  const backoff = failed?.spec._tag === "agent" ? failed.spec.backoff : null
  if (failed !== undefined && backoff !== null) {
    const attempt = Backoff.nextAttempt(backoff, failed.attempt, event.now - failed.startedAt)
    delayMs = Backoff.delay(backoff, attempt, event.random)
    next = update(next, event.failed, (c) => ({ ...c, attempt: attempt + 1 }))
  }
  const group = event.names.map((name) => find(next, name)).filter((c): c is ChildRecord => c !== undefined)
  const commands: Array<Command> = []
  for (const child of group) {
    next = update(next, child.spec.name, (c) => send(c, { type: "RESTART", delayMs }))
    commands.push(report("agentos.child.restarting", child.spec.name, "restart", find(next, child.spec.name)!.lifecycle.context.lastReason, delayMs))
  }
  const names = group.map((c) => c.spec.name)
  if (delayMs > 0) {
    commands.push({ _tag: "Backoff", delayMs, names, incarnations: names.map((n) => find(next, n)!.incarnation) })
  } else {
    commands.push(...startGroup(names, "restart"))
  }
  return [next, commands]
}

/**
 * The pure handler: what an event does to the supervisor, and what is to be done about it.
 * @category lifecycle
 */
export const step = (state: State, event: Event): Step => {
  switch (event._tag) {
    case "Exited":
      return exited(state, event)
    case "RestartGroup":
      return restartGroup(state, event)
    case "BackoffDone": {
      const due = event.names.filter((name, i) => {
        const child = find(state, name)
        return child !== undefined && child.incarnation === event.incarnations[i] && stateOf(child) === "backoff"
      })
      let next = state
      for (const name of due) next = update(next, name, (c) => send(c, { type: "BACKOFF_DONE" }))
      return [next, startGroup(due, "restart")]
    }
    case "Starting":
      return [update(state, event.name, (c) => ({ ...c, incarnation: c.incarnation + 1, startedAt: event.now })), []]
    case "Started": {
      const next = update(state, event.name, (c) => send({ ...c, process: { pid: event.pid } }, { type: "STARTED", pid: event.pid }))
      return [next, [report("agentos.child.started", event.name, "start", null), ...startGroup(event.rest, event.mode)]]
    }
    case "StartFailed": {
      if (event.mode === "start_child") return [remove(state, [event.name]), []]
      let next = update(state, event.name, (c) => send(c, { type: "START_FAILED", reason: event.reason }))
      const failedReport = report("agentos.child.start_failed", event.name, "start_error", event.reason)
      if (event.mode === "restart") {
        const child = find(next, event.name)!
        return [next, [failedReport, { _tag: "Queue", name: event.name, incarnation: child.incarnation, reason: event.reason, normal: false }]]
      }
      next = update(next, event.name, (c) => send(c, { type: "GIVE_UP" }))
      return [next, [failedReport]]
    }
    case "Terminate": {
      const child = find(state, event.name)
      if (child === undefined || !isActive(child)) return [state, []]
      const next = update(state, event.name, (c) => send(c, { type: "STOP" }))
      return child.process !== null ? [next, [{ _tag: "Stop", name: event.name }]] : step(next, { _tag: "Stopped", name: event.name })
    }
    case "Stopped": {
      // Any end already queued for this incarnation is stale from now on.
      const next = update(state, event.name, (c) => send({ ...c, process: null, incarnation: c.incarnation + 1 }, { type: "STOPPED" }))
      return [next, [report("agentos.child.stopped", event.name, "shutdown", "shutdown")]]
    }
    case "Remove":
      return [remove(state, event.names), []]
    case "RestartChild":
      // The caller starts it (Start, restart_child), for the start's error is its answer.
      return [update(state, event.name, (c) => send(c, { type: "RESTART", delayMs: 0 })), []]
    case "Add":
      return [{ ...state, children: [...state.children, event.child] }, []]
    case "Own":
      return [own(state, event.event), []]
    case "Stop":
      return [own({ ...state, stopping: true }, { type: "STOP" }), [...terminateAll(state), then({ _tag: "Own", event: { type: "STOPPED" } })]]
  }
}
