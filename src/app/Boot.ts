/**
 * `agentos boot tree.ts` as a function: import the tree file, validate it (every problem with
 * its path, nothing booted when there is one), start a kernel, start the tree under PID 1, and
 * print a live log of lifecycle events. It ends with an error carrying the chain of failures
 * when an escalation reaches PID 1, or successfully when the tree has nothing left running
 * (everything ended and nothing is to be restarted). An interrupt (SIGINT/SIGTERM) shuts it all
 * down in order.
 */
import { Console, Data, Deferred, Effect, Fiber, type Layer, PubSub, Result } from "effect"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import * as Daemon from "./Daemon.ts"
import * as TerminalText from "../text/TerminalText.ts"
import { type AgentOutput, Events, type LifecycleEvent } from "../process/Events.ts"
import { describeAgentDefaults, KernelConfig, type Settings } from "../process/KernelConfig.ts"
import { Agents } from "../process/Agents.ts"
import * as Isolation from "../sandbox/Isolation.ts"
import type { Launcher } from "../sandbox/Launcher.ts"
import * as Observer from "../observer/Observer.ts"
import * as ObserverToken from "../observer/ObserverToken.ts"
import { Supervision } from "../supervision/Supervision.ts"
import { isActive } from "../supervision/machines/TreeState.ts"
import type { TreeNode } from "../protocol/Rows.ts"
import { decodeTree } from "../supervision/Tree.ts"
import type { ResolvedTree } from "../supervision/ResolvedTree.ts"

/** The tree file could not be loaded or is not a valid tree. @category errors */
export class BootError extends Data.TaggedError("BootError")<{ readonly message: string }> {}

/** A failure escalated to PID 1: the system shut down. @category errors */
export class Escalated extends Data.TaggedError("Escalated")<{ readonly message: string; readonly chain: ReadonlyArray<string> }> {}

/** Imports and validates a tree file (its default export). @category constructors */
export const load = (file: string) =>
  Effect.gen(function* () {
    const absolute = Path.resolve(file)
    const module = yield* Effect.tryPromise({
      try: () => import(pathToFileURL(absolute).href) as Promise<{ default?: unknown }>,
      catch: (e) => new BootError({ message: `loading ${file}: ${e instanceof Error ? e.message : String(e)}` })
    })
    if (module.default === undefined) {
      return yield* new BootError({ message: `${file} has no default export: export default defineTree(...)` })
    }
    const decoded = decodeTree(module.default)
    if (Result.isFailure(decoded)) return yield* new BootError({ message: `${file}: ${decoded.failure.message}` })
    return { tree: decoded.success, baseDir: Path.dirname(absolute) }
  })

const time = (ms: number) => new Date(ms).toISOString().slice(11, 23)

/** One readable line per lifecycle event: time, path in the tree, event, reason. */
export const formatEvent = (event: LifecycleEvent): string | undefined => {
  switch (event.type) {
    case "agentos.child.started":
      return `${time(event.time)}  ${event.offender.padEnd(32)} started${event.pid === null ? "" : ` (pid ${event.pid})`}`
    case "agentos.child.exited":
      return `${time(event.time)}  ${event.offender.padEnd(32)} exited: ${event.reason}`
    case "agentos.child.restarting":
      return `${time(event.time)}  ${event.offender.padEnd(32)} restarting (restart ${event.restarts}${event.delayMs ? `, after ${event.delayMs} ms backoff` : ""})`
    case "agentos.child.stopped":
      return `${time(event.time)}  ${event.offender.padEnd(32)} stopped`
    case "agentos.child.start_failed":
      return `${time(event.time)}  ${event.offender.padEnd(32)} failed to start: ${event.reason}`
    case "agentos.supervisor.escalated":
      return `${time(event.time)}  ${event.supervisor.padEnd(32)} ESCALATED: ${event.reason}`
    default:
      return undefined
  }
}

/** Whether anything under a node still runs or will be restarted. */
export const busy = (node: TreeNode): boolean =>
  (node.kind !== "supervisor" && isActive(node.state)) || (node.children ?? []).some(busy)

/** Renders a tree as indented lines: name, kind, state, pid, restarts. @category constructors */
export const formatTree = (node: TreeNode, depth = 0): ReadonlyArray<string> => [
  `${"  ".repeat(depth)}${node.name.padEnd(Math.max(1, 28 - depth * 2))} ${node.kind.padEnd(10)} ${node.state.padEnd(10)} ${
    node.pid === null ? "-" : `pid ${node.pid}`
  }  restarts ${node.restarts}${node.reason !== null && node.state !== "running" ? `  (${node.reason})` : ""}`,
  ...(node.children ?? []).flatMap((c) => formatTree(c, depth + 1))
]

/** Options of boot. @category models */
export interface BootOptions {
  readonly kernel?: Partial<Settings>
  /** Where each log line goes (stdout by default). */
  readonly print?: (line: string) => Effect.Effect<void>
  /** Lifecycle events only: no agent output. */
  readonly quiet?: boolean
  /** ANSI colours on agent names, as docker compose does. */
  readonly color?: boolean
  /**
   * Serve the web observer (src/observer/Observer.ts) on this address while the kernel runs;
   * its URL and action token are printed first. The token defaults to $AGENTOS_OBSERVE_TOKEN,
   * else a fresh random one.
   */
  readonly observe?: { readonly host: string; readonly port: number; readonly token?: string }
  /**
   * What starts the kernel's agents and what the kernel learns they get (Daemon.layer's
   * `launcher` and `isolation`): the native launcher and this machine's probe unless given
   * (tests give the plain launcher, ProcessLauncher, with its `machine()`).
   */
  readonly launcher?: { readonly layer: Layer.Layer<Launcher>; readonly isolation: Layer.Layer<Isolation.Isolation> }
}

const palette = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94]

/** The colour an agent's name gets: the same name always gets the same colour. */
const colorOf = (name: string): number => {
  let hash = 0
  for (let i = 0; i < name.length; i++) hash = (hash * 31 + name.charCodeAt(i)) >>> 0
  return palette[hash % palette.length]!
}

/** One line of an agent's output: `name | line`, stderr and LOG records marked, only colours let through. */
export const formatOutput = (output: AgentOutput, color = false): string => {
  const name = output.name.padEnd(16)
  const prefix = color ? `\x1b[${colorOf(output.name)}m${name} |\x1b[0m` : `${name} |`
  const mark = output.stream === "stdout" ? "" : output.stream === "stderr" ? "(stderr) " : "(log) "
  return `${prefix} ${mark}${TerminalText.printable(output.line)}`
}

/** Boots a validated tree and runs until it finishes, escalates to PID 1, or is interrupted. @category lifecycle */
export const run = (tree: ResolvedTree, baseDir: string, options: BootOptions = {}) => {
  const print = options.print ?? ((line: string) => Console.log(line))
  return Effect.gen(function* () {
    const supervision = yield* Supervision
    const events = yield* Events
    // First: the isolation this kernel runs its agents at, and anything weak or missing.
    const config = yield* KernelConfig
    for (const line of Isolation.summary((yield* Agents).isolation, config.isolation === "weak")) yield* print(line)
    yield* print(`limits: ${describeAgentDefaults(config.agentDefaults)}`)
    const subscription = yield* PubSub.subscribe(events.pubsub)
    const outputSubscription = yield* PubSub.subscribe(events.output)
    // What the run amounts to, told at its end: restarts per child, escalations in order.
    const restarts = new Map<string, number>()
    const escalations: Array<string> = []
    const printer = yield* Effect.forkScoped(Effect.forever(
      PubSub.take(subscription).pipe(Effect.flatMap((event) => {
        if (event.type === "agentos.child.restarting") restarts.set(event.offender, (restarts.get(event.offender) ?? 0) + 1)
        if (event.type === "agentos.supervisor.escalated") escalations.push(event.supervisor)
        const line = formatEvent(event)
        return line === undefined ? Effect.void : print(line)
      }))
    ))
    const outputPrinter = options.quiet === true ? undefined : yield* Effect.forkScoped(Effect.forever(
      PubSub.take(outputSubscription).pipe(Effect.flatMap((output) => print(formatOutput(output, options.color === true))))
    ))
    if (options.observe !== undefined) {
      const token = ObserverToken.resolve(options.observe.token)
      if (token._tag === "Invalid") return yield* new BootError({ message: token.message })
      // Started before the tree, so the page sees every child come up; stopped with this scope,
      // before the kernel.
      const observer = yield* Observer.start({ host: options.observe.host, port: options.observe.port, token: token.token }).pipe(
        Effect.mapError((e) => new BootError({ message: e.message }))
      )
      yield* print(`observer: ${observer.url}  token: ${observer.token}`)
      yield* print(`observer: open ${observer.link}`)
    }
    const root = yield* supervision.boot(tree, baseDir)
    const rootPath = root.path
    const finished = Effect.gen(function* () {
      for (;;) {
        yield* Effect.sleep("250 millis")
        const node = supervision.tree()?.children?.find((c) => c.path === rootPath)
        if (node === undefined || !busy(node)) return node
      }
    })
    // On SIGINT/SIGTERM the user's tree is stopped here, leaves first, while the log still
    // prints, so the user sees each child stop; the kernel's own teardown follows.
    const stopTree = Effect.gen(function* () {
      yield* print("shutting down: stopping the tree")
      const init = supervision.find("init")
      if (init !== undefined) yield* init.call((actor) => actor.terminateChild(root.name)).pipe(Effect.ignore)
      yield* Effect.sleep("50 millis")
    })
    const outcome = yield* Effect.raceFirst(
      Deferred.await(supervision.failed).pipe(Effect.map((chain) => ({ _tag: "escalated" as const, chain }))),
      finished.pipe(Effect.map((node) => ({ _tag: "finished" as const, node })))
    ).pipe(Effect.onInterrupt(() => stopTree))
    // Let the printer catch up with the last events.
    yield* Effect.sleep("50 millis")
    yield* Fiber.interrupt(printer)
    if (outputPrinter !== undefined) yield* Fiber.interrupt(outputPrinter)
    if (outcome._tag === "escalated") {
      const chain = outcome.chain.split("; last: ")
      return yield* new Escalated({ message: `escalated to PID 1:\n${chain.map((c, i) => `${"  ".repeat(i + 1)}${c}`).join("\n")}`, chain })
    }
    yield* print("tree finished: nothing left running")
    yield* print(`restarts: ${restarts.size === 0 ? "none" : [...restarts].map(([path, n]) => `${path} ${n}`).join(", ")}`)
    yield* print(`escalations: ${escalations.length === 0 ? "none" : escalations.join(", ")}`)
    if (outcome.node !== undefined) for (const line of formatTree(outcome.node)) yield* print(line)
  }).pipe(Effect.scoped, Effect.provide(Daemon.layer(options.kernel ?? {}, [], undefined, options.launcher?.isolation, options.launcher?.layer)))
}

/** Loads a tree file and runs it. @category lifecycle */
export const boot = (file: string, options: BootOptions = {}) =>
  Effect.flatMap(load(file), ({ tree, baseDir }) => run(tree, baseDir, options))
