/**
 * The kernel's settings: where it listens, its per-connection limits and who may connect.
 * Defaults follow DESIGN.md; `fromEnv` reads the environment the way the CLI documents it.
 */
import { Context, Layer } from "effect"
import * as Crypto from "node:crypto"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Frame from "../protocol/Frame.ts"
import * as SocketPath from "../protocol/SocketPath.ts"

/** The kernel's settings. @category models */
export interface Settings {
  /** Unix socket path the kernel listens on. */
  readonly socketPath: string
  /** Short random id of this kernel instance; names its cgroup parent `agentos/<id>`. */
  readonly kernelId: string
  /** Largest frame body accepted or sent, in bytes. */
  readonly maxFrame: number
  /** Requests one connection may have in flight; past it, EAGAIN. */
  readonly maxInFlight: number
  /** Uids besides the kernel's own (and root's) allowed to use the socket. */
  readonly allowUids: ReadonlyArray<number>
  /** How long shutdown waits for in-flight replies before closing connections. */
  readonly shutdownGraceMs: number
  /**
   * Unread bytes a connection may have waiting before a push (SUBSCRIBE, LOGS follow) closes
   * it: Redis' client-output-buffer-limit for pubsub clients, so a subscriber that stops reading
   * cannot grow the kernel.
   */
  readonly maxPushBacklog: number
  /** Where agents' private work directories live (`<stateDir>/<kernelId>/<agent>`). */
  readonly stateDir: string
  /**
   * Host uids/gids handed to agents by a root kernel, one each, like systemd's DynamicUser.
   * Checked at start against /etc/subuid and /etc/subgid: the default moves past any user's
   * range; a configured range that overlaps one is refused (docs/isolation.md).
   */
  readonly uidRange: { readonly first: number; readonly last: number }
  /** Whether `uidRange` was configured (else the default, which may move). */
  readonly uidRangeExplicit: boolean
  /**
   * `strict`: SPAWN refuses a sandboxed agent whose sandbox would miss an isolation property
   * here (ENOTSUP, naming it); `weak`: runs it without, as Chrome's --no-sandbox does, having
   * said so at start.
   */
  readonly isolation: "strict" | "weak"
  /** Without root, give each agent a host uid of its own from the user's /etc/subuid range (newuidmap), when there is one. */
  readonly subordinateIds: boolean
  /** Limits for agents whose spec names none, like systemd's DefaultTasksMax. */
  readonly agentDefaults: AgentDefaults
  /** Where agents' log files go (`<logDir>/<name>.log`, mode 0700, the kernel's own); default `<stateDir>/logs`. */
  readonly logDir: string
  /** Bounds of agents' logs: the memory ring per name, the files, the rate limit (docs/logs.md). */
  readonly logs: LogLimits
}

/** How much of agents' output the kernel keeps, and how fast it takes it. @category models */
export interface LogLimits {
  /** Lines kept in memory per agent name, across its incarnations (what LOGS reads). */
  readonly ringLines: number
  /** UTF-8 bytes of lines kept in memory per agent name. */
  readonly ringBytes: number
  /** Agent names whose lines are kept in memory; past it the least recently written goes (its file stays). */
  readonly names: number
  /** A log file is rotated before a line would take it past this size. */
  readonly fileMaxBytes: number
  /** Rotated files kept per name (`name.log.1` … `name.log.N`); 0 truncates instead. */
  readonly files: number
  /** Bytes waiting for the disk per name; past it lines are dropped from the file (not the ring) and counted. */
  readonly pendingBytes: number
  /** The rate limit's window, as journald's RateLimitIntervalSec. */
  readonly rateIntervalMs: number
  /** Lines kept per window and name, as journald's RateLimitBurst; the rest are dropped and counted. */
  readonly rateBurstLines: number
  /** UTF-8 bytes kept per window and name. */
  readonly rateBurstBytes: number
  /** Stop reading a flooding agent's stdout and stderr until its window ends (it blocks on write). */
  readonly pauseFlooding: boolean
}

/** Default log bounds: 1000 lines / 256 KiB in memory, 4 MiB × (1 + 3) files, 10,000 lines or 1 MiB per second. @category models */
export const DEFAULT_LOG_LIMITS: LogLimits = {
  ringLines: 1000,
  ringBytes: 256 * 1024,
  names: 1024,
  fileMaxBytes: 4 * 1024 * 1024,
  files: 3,
  pendingBytes: 1024 * 1024,
  rateIntervalMs: 1000,
  rateBurstLines: 10_000,
  rateBurstBytes: 1024 * 1024,
  pauseFlooding: true
}

/** Limits an agent gets when its spec names none. @category models */
export interface AgentDefaults {
  /** Processes (tasks) per agent; its spec's `sandbox.pids` overrides it. */
  readonly pids: number
  /** Memory per agent in bytes; none by default. */
  readonly memoryBytes?: number
  /** CPU per agent as a fraction of one CPU; none by default. */
  readonly cpu?: number
}

/** 512 processes per agent (systemd's DefaultTasksMax is 15% of the system's); no memory or CPU limit. @category models */
export const DEFAULT_AGENT_LIMITS: AgentDefaults = { pids: 512 }

/** One line: what an agent that names no limit gets. @category constructors */
export const describeAgentDefaults = (d: AgentDefaults): string =>
  `agents naming no limit get at most ${d.pids} processes, ${d.memoryBytes === undefined ? "no memory limit" : `${Math.round(d.memoryBytes / 1048576)} MiB of memory`}, ${d.cpu === undefined ? "no CPU limit" : `${d.cpu} CPU`} (--default-pids, --default-memory, --default-cpu)`

/** Default requests in flight per connection. @category models */
export const DEFAULT_MAX_IN_FLIGHT = 1024

/** Default unread bytes past which a push closes its connection. @category models */
export const DEFAULT_MAX_PUSH_BACKLOG = 32 * 1024 * 1024

/** Default grace for in-flight replies at shutdown. @category models */
export const DEFAULT_SHUTDOWN_GRACE_MS = 2000

/**
 * Default agent uid range of a root kernel: 65,536 uids from 2,000,000,000, far above where
 * useradd hands out subordinate ids (SUB_UID_MAX 600,100,000) and below systemd's foreign range.
 * @category models
 */
export const DEFAULT_UID_RANGE = { first: 2_000_000_000, last: 2_000_065_535 } as const

/** `$XDG_STATE_HOME/agentos`, or /var/lib/agentos as root, or ~/.local/state/agentos. */
export const defaultStateDir = (env: NodeJS.ProcessEnv = process.env, uid: number = process.getuid?.() ?? 0): string => {
  if (env.AGENTOS_STATE_DIR !== undefined && env.AGENTOS_STATE_DIR !== "") return Path.resolve(env.AGENTOS_STATE_DIR)
  if (env.XDG_STATE_HOME !== undefined && env.XDG_STATE_HOME !== "") return Path.join(env.XDG_STATE_HOME, "agentos")
  if (uid === 0) return "/var/lib/agentos"
  return Path.join(Os.homedir(), ".local", "state", "agentos")
}

/** A fresh kernel id: `k` and 8 hex digits. @category constructors */
export const makeKernelId = (): string => `k${Crypto.randomBytes(4).toString("hex")}`

/** Settings with every default filled in; `logs` may give only the bounds it changes. @category constructors */
export const make = (options: Partial<Omit<Settings, "logs">> & { readonly logs?: Partial<LogLimits> } = {}): Settings => {
  const stateDir = options.stateDir ?? defaultStateDir()
  return {
    socketPath: options.socketPath ?? SocketPath.resolve(),
    kernelId: options.kernelId ?? makeKernelId(),
    maxFrame: options.maxFrame ?? Frame.DEFAULT_MAX_FRAME,
    maxInFlight: options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
    allowUids: options.allowUids ?? [],
    shutdownGraceMs: options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS,
    maxPushBacklog: options.maxPushBacklog ?? DEFAULT_MAX_PUSH_BACKLOG,
    stateDir,
    uidRange: options.uidRange ?? DEFAULT_UID_RANGE,
    uidRangeExplicit: options.uidRangeExplicit ?? options.uidRange !== undefined,
    isolation: options.isolation ?? "strict",
    subordinateIds: options.subordinateIds ?? true,
    agentDefaults: options.agentDefaults ?? DEFAULT_AGENT_LIMITS,
    logDir: options.logDir ?? Path.join(stateDir, "logs"),
    logs: { ...DEFAULT_LOG_LIMITS, ...options.logs }
  }
}

/** Parses `AGENTOS_ALLOW_UIDS` ("1000,1001"); throws on anything but uids. */
export const parseUidList = (text: string): ReadonlyArray<number> =>
  text.split(",").map((s) => s.trim()).filter((s) => s !== "").map((s) => {
    const n = Number(s)
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`invalid uid "${s}" in allow-list`)
    return n
  })

/** The kernel's settings, as a service. @category services */
export class KernelConfig extends Context.Service<KernelConfig, Settings>()("agentos/process/KernelConfig") {
  /** Settings from explicit options over defaults. @category layers */
  static readonly layer = (options: Partial<Settings> = {}) => Layer.succeed(KernelConfig, KernelConfig.of(make(options)))
}
