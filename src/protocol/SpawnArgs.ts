/**
 * SPAWN's arguments as the wire takes them, and a tree file's `agent(...)` declares them: the
 * agent's name, what to run, its sandbox, its capabilities, its restart type, its share of the
 * LLM and its mailbox's bounds. One schema, which the kernel decodes with (process/AgentSpec.ts
 * resolves what it says; supervision/Tree.ts reuses it) and the TypeScript client types its
 * calls with; each problem is reported with its path.
 */
import { Schema } from "effect"
import * as Path from "node:path"
import * as Op from "./Op.ts"

/** `50M`, `50MiB`, `1G`, `512k` or a number of bytes. @category constructors */
export const parseSize = (size: number | string): number | undefined => {
  if (typeof size === "number") return Number.isSafeInteger(size) && size > 0 ? size : undefined
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$/i.exec(size)
  if (match === null) return undefined
  const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[match[2]!.toLowerCase() as "" | "k" | "m" | "g" | "t"]
  const bytes = Math.round(Number(match[1]) * unit)
  return bytes > 0 && Number.isSafeInteger(bytes) ? bytes : undefined
}

const Size = Schema.Union([Schema.Int, Schema.String]).check(
  Schema.makeFilter((s: number | string) => parseSize(s) !== undefined || `expected a size like 50M, 1GiB or a number of bytes, got ${JSON.stringify(s)}`)
)

const AbsolutePath = Schema.String.check(Schema.makeFilter((p: string) => Path.isAbsolute(p) || `expected an absolute path, got ${JSON.stringify(p)}`))

/** An agent's sandbox. Every field optional: an agent gets every namespace by default. @category models */
export const Sandbox = Schema.Struct({
  /** Memory limit (cgroup memory.max, no swap). */
  memory: Schema.optionalKey(Size),
  /** CPU limit as a fraction of one CPU: 0.1 is 10% (cgroup cpu.max). */
  cpu: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThan(0), Schema.isLessThanOrEqualTo(1024))),
  /** Process limit (cgroup pids.max). */
  pids: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))),
  /** `none`: a network namespace with only lo; `host`: the host's network. */
  network: Schema.optionalKey(Schema.Literals(["none", "host"])),
  /** Host paths visible read-only / read-write at the same path. */
  readOnly: Schema.optionalKey(Schema.Array(AbsolutePath)),
  readWrite: Schema.optionalKey(Schema.Array(AbsolutePath)),
  /** Size of the private /tmp. */
  tmpSize: Schema.optionalKey(Size),
  /** `default`: the deny-list seccomp filter; `off`: none. */
  seccomp: Schema.optionalKey(Schema.Literals(["default", "off"])),
  /** false: no namespaces at all, a plain fork/exec with rlimits (for trusted tools). */
  isolate: Schema.optionalKey(Schema.Boolean),
  /**
   * false: contained without namespaces, by Landlock and seccomp, as where user namespaces are
   * not allowed (situation C of docs/isolation.md), even where they are.
   */
  namespaces: Schema.optionalKey(Schema.Boolean),
  /** Grace between SIGTERM and SIGKILL when the agent is stopped. */
  killTimeoutMs: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  /** Open files limit (RLIMIT_NOFILE). */
  maxOpenFiles: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(16)))
})

/** A sandbox as declared. @category models */
export type Sandbox = typeof Sandbox.Type

const opNames = Object.keys(Op.Op) as Array<Op.OpName>

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))

/**
 * An agent's share of the kernel's LLM and its limits, as SPAWN and a tree file's `agent(...)`
 * both take them (supervision/Tree.ts uses this schema). A field may also be null (the tree's
 * resolved form), which means the same as leaving it out: weight 1, no limit.
 * @category models
 */
export const Llm = Schema.Struct({
  /** Share relative to other agents in the fair scheduler (default 1). */
  weight: Schema.optionalKey(Schema.NullOr(Schema.Finite.check(Schema.isGreaterThan(0)))),
  /** Requests per minute. */
  rpm: Schema.optionalKey(Schema.NullOr(PositiveInt)),
  /** Tokens (in + out) per minute. */
  tpm: Schema.optionalKey(Schema.NullOr(PositiveInt)),
  /** Tokens over its whole life; past it THINK answers ERATE. */
  budget: Schema.optionalKey(Schema.NullOr(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)))),
  /** When set, the budget refills evenly over this many ms, and ERATE says when. */
  budgetWindowMs: Schema.optionalKey(Schema.NullOr(PositiveInt))
})

/** An agent's LLM options as declared. @category models */
export type Llm = typeof Llm.Type

/** A mailbox's bounds; defaults in ipc/Mailbox.ts. @category models */
export const Mailbox = Schema.Struct({
  maxMessages: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))),
  maxBytes: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)))
})

/** SPAWN's arguments. @category models */
export const SpawnArgs = Schema.Struct({
  name: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
    message: "expected 1–63 characters of letters, digits, '.', '_' or '-', starting with a letter or digit"
  })),
  run: Schema.String.check(Schema.isMinLength(1)),
  args: Schema.optionalKey(Schema.Array(Schema.String)),
  env: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  cwd: Schema.optionalKey(AbsolutePath),
  sandbox: Schema.optionalKey(Sandbox),
  caps: Schema.optionalKey(Schema.Array(Schema.Literals(opNames))),
  restart: Schema.optionalKey(Schema.Literals(["permanent", "transient", "temporary"])),
  parent: Schema.optionalKey(Schema.String),
  /** Its share of the LLM and its limits; THINK applies them under the agent's name. */
  llm: Schema.optionalKey(Llm),
  /** Its mailbox's bounds (messages and bytes held, received but unacked included). */
  mailbox: Schema.optionalKey(Mailbox)
})

/** SPAWN's arguments, decoded. @category models */
export type SpawnArgs = typeof SpawnArgs.Type

/**
 * The C++ kernel's SYS_SPAWN fields, which its SDK users send (agents/python/README.md):
 * `script` for `run`, `sandboxed` (false: `sandbox.isolate: false`), `network` as a boolean
 * (false: none, true: host), and `limits` in its units: `memory` in bytes, `max_pids`, and
 * `cpu_quota` in µs per 100,000 µs period (the cgroup v1 convention: 100000 is one CPU).
 * @category models
 */
export const SeedLimits = Schema.Struct({
  memory: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThan(0))),
  max_pids: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))),
  cpu_quota: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1000), Schema.isLessThanOrEqualTo(102_400_000)))
})

/** SPAWN's arguments as the wire takes them: either spelling of each field (never both). @category models */
export const SpawnRequest = Schema.Struct({
  ...SpawnArgs.fields,
  run: Schema.optionalKey(Schema.String.check(Schema.isMinLength(1))),
  script: Schema.optionalKey(Schema.String.check(Schema.isMinLength(1))),
  sandboxed: Schema.optionalKey(Schema.Boolean),
  network: Schema.optionalKey(Schema.Boolean),
  limits: Schema.optionalKey(SeedLimits)
})

/** SPAWN's arguments as the wire takes them, decoded. @category models */
export type SpawnRequest = typeof SpawnRequest.Type
