/**
 * What SPAWN (and, later, a tree's `agent(...)`) says about an agent: its name, what to run,
 * its sandbox, its capabilities and its share of the LLM. The schema checks every field and reports each problem with
 * its path; `resolveRun` turns `run` into an argv (`.ts`/`.js` with the kernel's Node, `.py`
 * with python3, anything else executed as it is).
 */
import { Schema } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Op from "../protocol/Op.ts"

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

/**
 * SPAWN's arguments in one spelling: the seed's fields become the sandbox's. Two spellings of
 * the same thing (`run` and `script`, `sandboxed` and `sandbox.isolate`, …) are refused, each
 * pair named; so is neither `run` nor `script`.
 * @category constructors
 */
export const fromRequest = (request: typeof SpawnRequest.Type): SpawnArgs | ReadonlyArray<string> => {
  const { script, sandboxed, network, limits, run, ...rest } = request
  const sandbox: Record<string, unknown> = { ...rest.sandbox }
  const problems: Array<string> = []
  const both = (seed: string, ours: string) => problems.push(`${seed} and ${ours} are two spellings of the same thing: give one`)
  if (run !== undefined && script !== undefined) both("script", "run")
  const program = run ?? script
  if (program === undefined) problems.push("run (or script): required")
  const into = (seedName: string, key: string, value: unknown) => {
    if (value === undefined) return
    if (sandbox[key] !== undefined) both(seedName, `sandbox.${key}`)
    else sandbox[key] = value
  }
  into("sandboxed", "isolate", sandboxed)
  into("network", "network", network === undefined ? undefined : network ? "host" : "none")
  into("limits.memory", "memory", limits?.memory)
  into("limits.max_pids", "pids", limits?.max_pids)
  into("limits.cpu_quota", "cpu", limits?.cpu_quota === undefined ? undefined : limits.cpu_quota / 100_000)
  if (problems.length > 0 || program === undefined) return problems
  const hasSandbox = rest.sandbox !== undefined || Object.keys(sandbox).length > 0
  return { ...rest, run: program, ...(hasSandbox ? { sandbox: sandbox as Sandbox } : {}) }
}

/** The package's root: agents written against `agentos/agent` need to read it. */
export const packageRoot = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "")

const isExecutable = (path: string): boolean => {
  try {
    Fs.accessSync(path, Fs.constants.X_OK)
    return Fs.statSync(path).isFile()
  } catch {
    return false
  }
}

/** A command found in PATH, as an absolute path. */
export const which = (command: string, path: string = process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin"): string | undefined =>
  path.split(":").filter(Boolean).map((dir) => Path.join(dir, command)).find(isExecutable)

/**
 * Whether a program can be run by another uid: the file readable and executable by others, each
 * directory above it searchable by others. As root, agents run as their own uid from the range:
 * an interpreter under /root (a pyenv install) is out of their reach, whatever the mounts grant.
 */
const othersCanRun = (path: string): boolean => {
  try {
    const real = Fs.realpathSync(path)
    if ((Fs.statSync(real).mode & 0o005) !== 0o005) return false
    for (let dir = Path.dirname(real); ; dir = Path.dirname(dir)) {
      if ((Fs.statSync(dir).mode & 0o001) === 0) return false
      if (dir === "/") return true
    }
  } catch {
    return false
  }
}

/** An interpreter from PATH that the agent can run: as root, the first one other uids can reach. */
const interpreter = (command: string): string | undefined => {
  const path = process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin"
  const candidates = path.split(":").filter(Boolean).map((dir) => Path.join(dir, command)).filter(isExecutable)
  if ((process.getuid?.() ?? 0) !== 0) return candidates[0]
  return candidates.find(othersCanRun) ?? candidates[0]
}

/** How to run an agent: its argv and the host paths its program needs to read. @category models */
export interface Resolved {
  readonly argv: ReadonlyArray<string>
  readonly readOnly: ReadonlyArray<string>
}

/** Turns `run` and `args` into an argv; a string naming what is missing when it cannot. @category constructors */
export const resolveRun = (run: string, args: ReadonlyArray<string>, baseDir: string): Resolved | string => {
  const ext = Path.extname(run)
  const looksLikePath = run.includes("/") || [".ts", ".mts", ".js", ".mjs", ".cjs", ".py"].includes(ext)
  if (looksLikePath) {
    const script = Path.resolve(baseDir, run)
    if (!Fs.existsSync(script)) return `run: ${script} does not exist`
    const scriptDir = Path.dirname(Fs.realpathSync(script))
    if ([".ts", ".mts", ".js", ".mjs", ".cjs"].includes(ext)) {
      const node = Fs.realpathSync(process.execPath)
      return { argv: [node, script, ...args], readOnly: [packageRoot, Path.dirname(node), scriptDir] }
    }
    if (ext === ".py") {
      const python = interpreter("python3")
      if (python === undefined) return "run: python3 is not installed (needed for .py agents)"
      const real = Fs.realpathSync(python)
      // The interpreter's prefix (a pyenv or venv install lives outside /usr).
      return { argv: [real, script, ...args], readOnly: [packageRoot, Path.dirname(Path.dirname(real)), scriptDir] }
    }
    if (!isExecutable(script)) return `run: ${script} is not executable`
    return { argv: [script, ...args], readOnly: [scriptDir] }
  }
  const found = which(run)
  if (found === undefined) return `run: command ${JSON.stringify(run)} not found in PATH`
  return { argv: [found, ...args], readOnly: [] }
}
