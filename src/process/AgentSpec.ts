/**
 * What SPAWN (and a tree's `agent(...)`) says about an agent, as the process table resolves it.
 * The schema is the protocol's (protocol/SpawnArgs.ts, re-exported here); `fromRequest` puts
 * the C++ kernel's spellings into it, and `resolveRun` turns `run` into an argv (`.ts`/`.js`
 * with the kernel's Node, `.py` with python3, anything else executed as it is).
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

export { Llm, Mailbox, parseSize, Sandbox, SeedLimits, SpawnArgs, SpawnRequest } from "../protocol/SpawnArgs.ts"
import type { Sandbox, SpawnArgs, SpawnRequest } from "../protocol/SpawnArgs.ts"

/**
 * SPAWN's arguments in one spelling: the seed's fields become the sandbox's. Two spellings of
 * the same thing (`run` and `script`, `sandboxed` and `sandbox.isolate`, …) are refused, each
 * pair named; so is neither `run` nor `script`.
 * @category constructors
 */
export const fromRequest = (request: SpawnRequest): SpawnArgs | ReadonlyArray<string> => {
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
