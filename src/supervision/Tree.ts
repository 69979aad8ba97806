/**
 * The supervision tree as users write it (`defineTree`, `supervisor`, `agent`, `service`), its
 * Schema, and `decodeTree`, which turns any value into a ResolvedTree with every default filled
 * or reports every problem with its path, one per line (`children[2].restart: expected …`),
 * checking what OTP's check_childspecs checks: each field, duplicate names, and that a
 * `simple_one_for_one` supervisor has exactly one child, its template.
 */
import { Data, Effect, Result, Schema } from "effect"
import * as SchemaProblems from "../text/SchemaProblems.ts"
import { type Llm, Sandbox, SpawnArgs } from "../process/AgentSpec.ts"
import type { OpName } from "../protocol/Op.ts"
import * as Backoff from "./Backoff.ts"
import type { ResolvedAgent, ResolvedChild, ResolvedService, ResolvedSupervisor, ResolvedTree } from "./ResolvedTree.ts"
import * as RestartIntensity from "./RestartIntensity.ts"
import { type RestartType, type Strategy, restartTypes, strategies } from "./Strategy.ts"

// ---------------------------------------------------------------------------------------------
// The DSL
// ---------------------------------------------------------------------------------------------

/** A supervisor's options. @category models */
export interface SupervisorOptions {
  /** Default `one_for_one`. */
  readonly strategy?: Strategy
  /** At most `maxRestarts` restarts within `withinMs`; default 1 in 5000 ms. */
  readonly intensity?: { readonly maxRestarts?: number; readonly withinMs?: number }
  /** Its restart type under its own supervisor; default `permanent`. */
  readonly restart?: RestartType
  /** How long its parent waits for it to stop; default `infinity`. */
  readonly shutdown?: "infinity" | number
  /** In start order. */
  readonly children: ReadonlyArray<ChildSpec>
}

/** An agent's share of the LLM and its limits: SPAWN's `llm` (process/AgentSpec.ts), the one schema of both. @category models */
export type LlmOptions = Llm

/** An agent's options. @category models */
export interface AgentOptions {
  /** A `.ts`/`.js`/`.py` script (relative to the tree file), an executable, or a command in PATH. */
  readonly run: string
  readonly args?: ReadonlyArray<string>
  readonly env?: Readonly<Record<string, string>>
  readonly cwd?: string
  readonly sandbox?: Sandbox
  /** Syscalls granted on top of the defaults (SPAWN, KILL, CHILD, SUBSCRIBE, …). */
  readonly caps?: ReadonlyArray<OpName>
  /** Default `permanent`. */
  readonly restart?: RestartType
  /** `brutal_kill`, or ms between SIGTERM and SIGKILL; default 5000. */
  readonly shutdown?: "brutal_kill" | number
  /** Wait between restarts: a spec, `true` for Backoff.defaults; default off. */
  readonly backoff?: Backoff.BackoffSpec | boolean
  /** The agent must send HEARTBEAT at least this often, or it is killed as hung. */
  readonly watchdogMs?: number
  readonly llm?: LlmOptions
  /** Its mailbox's bounds; default 1024 messages, 16 MiB. */
  readonly mailbox?: { readonly maxMessages?: number; readonly maxBytes?: number }
}

/** A service's options. @category models */
export interface ServiceOptions {
  /** Default `permanent`. */
  readonly restart?: RestartType
  /** `brutal_kill`, or ms to wait for its finalizers after interrupting it; default 5000. */
  readonly shutdown?: "brutal_kill" | number
}

/** A supervisor as declared. @category models */
export interface SupervisorSpec extends SupervisorOptions {
  readonly _tag: "supervisor"
  readonly name: string
}

/** An agent as declared. @category models */
export interface AgentSpec extends AgentOptions {
  readonly _tag: "agent"
  readonly name: string
}

/** A service as declared: an Effect the kernel runs as a fiber. @category models */
export interface ServiceSpec extends ServiceOptions {
  readonly _tag: "service"
  readonly name: string
  readonly effect: Effect.Effect<unknown, unknown, never>
}

/** Any child, as declared. @category models */
export type ChildSpec = SupervisorSpec | AgentSpec | ServiceSpec

/** A tree: its root supervisor. @category models */
export type TreeSpec = SupervisorSpec

/** Declares a tree; a typed identity, as vitest's `defineConfig`. @category constructors */
export const defineTree = <const T extends TreeSpec>(tree: T): T => tree

/** A supervisor. @category constructors */
export const supervisor = (name: string, options: SupervisorOptions): SupervisorSpec => ({ ...options, _tag: "supervisor", name })

/** An agent: an OS process in a sandbox. @category constructors */
export const agent = (name: string, options: AgentOptions): AgentSpec => ({ ...options, _tag: "agent", name })

/** A service: an Effect run inside the kernel, supervised like any child. @category constructors */
export const service = (name: string, effect: Effect.Effect<unknown, unknown, never>, options: ServiceOptions = {}): ServiceSpec => ({
  ...options,
  _tag: "service",
  name,
  effect
})

/** What an option left out means, as in supervisor.erl. @category models */
export const defaults = {
  strategy: "one_for_one",
  intensity: RestartIntensity.defaults,
  restart: "permanent",
  workerShutdownMs: 5000,
  supervisorShutdown: "infinity",
  backoff: null,
  llmWeight: 1
} as const satisfies {
  readonly strategy: Strategy
  readonly intensity: RestartIntensity.Limits
  readonly restart: RestartType
  readonly workerShutdownMs: number
  readonly supervisorShutdown: "infinity"
  readonly backoff: null
  readonly llmWeight: number
}

// ---------------------------------------------------------------------------------------------
// The schema
// ---------------------------------------------------------------------------------------------

const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))

const Restart = Schema.optionalKey(Schema.Literals(restartTypes))

const WorkerShutdown = Schema.Union([Schema.Literal("brutal_kill"), NonNegativeInt]).annotate({
  expected: "\"brutal_kill\" or a timeout in ms (an integer ≥ 0)"
})

const SupervisorShutdown = Schema.Union([Schema.Literal("infinity"), NonNegativeInt]).annotate({
  expected: "\"infinity\" or a timeout in ms (an integer ≥ 0)"
})

const Intensity = Schema.Struct({
  maxRestarts: Schema.optionalKey(NonNegativeInt),
  // OTP: the period is a positive integer.
  withinMs: Schema.optionalKey(PositiveInt)
})

const BackoffSpecSchema = Schema.Struct({
  initialMs: NonNegativeInt,
  maxMs: PositiveInt,
  factor: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThanOrEqualTo(1))),
  jitter: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0), Schema.isLessThanOrEqualTo(1))),
  resetAfterMs: Schema.optionalKey(NonNegativeInt)
}).check(Schema.makeFilter((spec: { readonly initialMs: number; readonly maxMs: number }) =>
  spec.maxMs >= spec.initialMs || { path: ["maxMs"], issue: `expected at least initialMs (${spec.initialMs}), got ${spec.maxMs}` }
))

const BackoffOption = Schema.Union([Schema.Boolean, BackoffSpecSchema]).annotate({
  expected: "true, false or { initialMs, maxMs, factor?, jitter?, resetAfterMs? }"
})

const EffectSchema = Schema.declare(
  (u: unknown): u is Effect.Effect<unknown, unknown, never> => Effect.isEffect(u),
  { expected: "an Effect" }
)

const AgentSchema = Schema.Struct({
  _tag: Schema.Literal("agent"),
  name: SpawnArgs.fields.name,
  run: SpawnArgs.fields.run,
  args: SpawnArgs.fields.args,
  env: SpawnArgs.fields.env,
  cwd: SpawnArgs.fields.cwd,
  sandbox: Schema.optionalKey(Sandbox),
  caps: SpawnArgs.fields.caps,
  restart: Restart,
  shutdown: Schema.optionalKey(WorkerShutdown),
  backoff: Schema.optionalKey(BackoffOption),
  watchdogMs: Schema.optionalKey(PositiveInt),
  llm: SpawnArgs.fields.llm,
  mailbox: SpawnArgs.fields.mailbox
})

const ServiceSchema = Schema.Struct({
  _tag: Schema.Literal("service"),
  name: SpawnArgs.fields.name,
  effect: EffectSchema,
  restart: Restart,
  shutdown: Schema.optionalKey(WorkerShutdown)
})

/** A supervisor spec. @category models */
export const SupervisorSchema = Schema.Struct({
  _tag: Schema.Literal("supervisor"),
  name: SpawnArgs.fields.name,
  strategy: Schema.optionalKey(Schema.Literals(strategies)),
  intensity: Schema.optionalKey(Intensity),
  restart: Restart,
  shutdown: Schema.optionalKey(SupervisorShutdown),
  // Suspended at the element, not around a union member, so the union still dispatches on _tag.
  children: Schema.Array(Schema.suspend((): Schema.Codec<ChildSpec> => ChildSchema))
})

/** Any child spec, told apart by `_tag`. @category models */
export const ChildSchema = Schema.Union([SupervisorSchema, AgentSchema, ServiceSchema]).annotate({
  expected: "a child: supervisor(…), agent(…) or service(…) (_tag \"supervisor\", \"agent\" or \"service\")"
})

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/** A tree that cannot be booted: every problem, one line each with its path. @category errors */
export class TreeError extends Data.TaggedError("TreeError")<{
  readonly problems: ReadonlyArray<string>
  readonly message: string
}> {}

type Path = SchemaProblems.Path
type Problem = SchemaProblems.Problem

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> => typeof u === "object" && u !== null && !Array.isArray(u)

// What the schema cannot see, checked on the raw value so that it is reported along with the
// schema's problems (OTP's check_startspec, plus names unique in the whole tree: an agent's name
// is its identity in the kernel, and its mailbox belongs to it).
const structuralProblems = (root: unknown): ReadonlyArray<Problem> => {
  const problems: Array<Problem> = []
  const seen = new Map<string, Path>()
  const visit = (node: unknown, path: Path): void => {
    if (!isRecord(node)) return
    if (typeof node.name === "string") {
      const first = seen.get(node.name)
      if (first === undefined) seen.set(node.name, path)
      else {
        const where = first.length === 0 ? "the root" : SchemaProblems.formatPath(first)
        problems.push({ path: [...path, "name"], message: `duplicate name ${JSON.stringify(node.name)} (also at ${where})` })
      }
    }
    if (node._tag !== "supervisor" || !Array.isArray(node.children)) return
    const children: ReadonlyArray<unknown> = node.children
    if (node.strategy === "simple_one_for_one" && children.length !== 1) {
      problems.push({
        path: [...path, "children"],
        message: `a simple_one_for_one supervisor has exactly one child, the template of its dynamic children; got ${children.length}`
      })
    }
    children.forEach((child, i) => visit(child, [...path, "children", i]))
  }
  visit(root, [])
  return problems
}

// The node a problem belongs to, as child indices from the root: children[2].children[0].run → [2, 0].
const nodeOf = (path: Path): ReadonlyArray<number> => {
  const node: Array<number> = []
  for (let i = 0; i + 1 < path.length && path[i] === "children" && typeof path[i + 1] === "number"; i += 2) {
    node.push(path[i + 1] as number)
  }
  return node
}

// Tree order: a supervisor before its children, children in start order.
const compareNodes = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

const decodeSpec = Schema.decodeUnknownResult(SupervisorSchema)

const resolveChild = (child: ChildSpec): ResolvedChild => {
  switch (child._tag) {
    case "supervisor":
      return resolveSupervisor(child)
    case "agent":
      return resolveAgent(child)
    case "service":
      return resolveService(child)
  }
}

const resolveSupervisor = (spec: SupervisorSpec): ResolvedSupervisor => ({
  _tag: "supervisor",
  name: spec.name,
  strategy: spec.strategy ?? defaults.strategy,
  intensity: {
    maxRestarts: spec.intensity?.maxRestarts ?? defaults.intensity.maxRestarts,
    withinMs: spec.intensity?.withinMs ?? defaults.intensity.withinMs
  },
  restart: spec.restart ?? defaults.restart,
  shutdown: spec.shutdown ?? defaults.supervisorShutdown,
  children: spec.children.map(resolveChild)
})

const resolveAgent = (spec: AgentSpec): ResolvedAgent => ({
  _tag: "agent",
  name: spec.name,
  run: spec.run,
  args: spec.args ?? [],
  env: spec.env ?? {},
  cwd: spec.cwd ?? null,
  sandbox: spec.sandbox ?? {},
  caps: spec.caps ?? [],
  restart: spec.restart ?? defaults.restart,
  shutdown: spec.shutdown ?? defaults.workerShutdownMs,
  backoff: spec.backoff === undefined || spec.backoff === false
    ? defaults.backoff
    : spec.backoff === true
    ? Backoff.defaults
    : Backoff.resolve(spec.backoff),
  watchdogMs: spec.watchdogMs ?? null,
  mailbox: spec.mailbox ?? {},
  llm: {
    weight: spec.llm?.weight ?? defaults.llmWeight,
    rpm: spec.llm?.rpm ?? null,
    tpm: spec.llm?.tpm ?? null,
    budget: spec.llm?.budget ?? null,
    ...(spec.llm?.budgetWindowMs == null ? {} : { budgetWindowMs: spec.llm.budgetWindowMs })
  }
})

const resolveService = (spec: ServiceSpec): ResolvedService => ({
  _tag: "service",
  name: spec.name,
  effect: spec.effect,
  restart: spec.restart ?? defaults.restart,
  shutdown: spec.shutdown ?? defaults.workerShutdownMs
})

/**
 * Decodes a tree (what a tree file default-exports, or any value) into a ResolvedTree with every
 * default filled: strategy `one_for_one`, intensity 1 in 5000 ms, restart `permanent`, worker
 * shutdown 5000 ms, supervisor shutdown `infinity`, backoff off.
 *
 * Fails with a TreeError listing every problem, one line each, path first
 * (`children[2].restart: expected "permanent" | "transient" | "temporary"`): each field's,
 * unknown keys, duplicate names anywhere in the tree, and a `simple_one_for_one` supervisor
 * without exactly one child.
 *
 * @category constructors
 */
export const decodeTree = (input: unknown): Result.Result<ResolvedTree, TreeError> => {
  const decoded = decodeSpec(input, { errors: "all", onExcessProperty: "error" })
  const found: Array<Problem> = []
  if (Result.isFailure(decoded)) {
    found.push(...SchemaProblems.problemsOf(decoded.failure.issue))
  }
  found.push(...structuralProblems(input))
  // Grouped by node in tree order (a stable sort keeps each node's problems in schema order).
  const problems = found.sort((a, b) => compareNodes(nodeOf(a.path), nodeOf(b.path))).map(SchemaProblems.line)
  if (problems.length > 0 || Result.isFailure(decoded)) {
    return Result.fail(new TreeError({ problems, message: `invalid supervision tree:\n${problems.map((p) => `  ${p}`).join("\n")}` }))
  }
  return Result.succeed(resolveSupervisor(decoded.success))
}
