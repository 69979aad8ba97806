/**
 * The launcher contract: start one agent incarnation from a LaunchSpec with its kernel
 * connection as fd 3, and get back its pids, cgroups, output lines, signal controls and its
 * end. The Linux implementation (NodeLauncher.ts) drives native/agentos-launch.
 */
import { Context, Data, type Effect, type Scope } from "effect"
import type { LaunchSpec } from "./LaunchSpec.ts"
import type { Ended, Isolation, Usage } from "./LaunchStatus.ts"

/** Why a launch failed; the agent never ran. @category errors */
export type SpawnErrorReason =
  | "LauncherMissing"
  | "LimitInvalid"
  | "CgroupCreateFailed"
  | "CloneFailed"
  | "SetupFailed"
  | "ExecFailed"

/** A launch failed before the agent ran; `message` names the step and the cause. @category errors */
export class SpawnError extends Data.TaggedError("SpawnError")<{
  readonly reason: SpawnErrorReason
  readonly message: string
  /** The launcher's step (`cgroup`, `clone`, `exec`, …), when it reported one. */
  readonly step?: string
  readonly errno?: number
}> {}

/** Which stream a line of output came from. @category models */
export type Stream = "stdout" | "stderr"

/** A running agent incarnation. @category models */
export interface Launched {
  /** The agent's host pid. */
  readonly pid: number
  /** The sandbox's PID 1 (the launcher's init), host pid; 0 without a PID namespace. */
  readonly init: number
  /** The launcher process's host pid. */
  readonly launcherPid: number
  /** Cgroup directories by hierarchy (`memory`, `cpu`, `pids`, `cpuacct` on v1; `unified` on v2). */
  readonly cgroups: Readonly<Record<string, string>>
  /** What isolation this launch actually got. */
  readonly isolation: Isolation
  /** The launcher's newest live figures, for limits it holds itself (no cgroup); undefined before the first or without any. */
  readonly usage: () => Usage | undefined
  /** Receives each line the agent writes to stdout or stderr. */
  readonly onOutput: (listener: (stream: Stream, line: string) => void) => void
  /**
   * Stops reading the agent's stdout and stderr for `ms` (its log is dropping a flood): once
   * the pipes are full the agent blocks on write, which costs it alone. A no-op while paused.
   */
  readonly pauseOutput: (ms: number) => void
  /** Sends a signal to the agent process itself. */
  readonly signal: (signal: number) => void
  /** Graceful stop: SIGTERM to the agent, SIGKILL to its whole sandbox after `killTimeoutMs`. */
  readonly stop: () => void
  /** SIGKILL to everything in the sandbox, now. */
  readonly kill: () => void
  /**
   * The agent's end, as the launcher reported it. Its cgroups are gone and the launcher has
   * exited once the scope `spawn` ran in has closed.
   */
  readonly ended: Effect.Effect<Ended>
}

/** Starts agents. @category services */
export class Launcher extends Context.Service<Launcher, {
  /**
   * Launches an agent; `agentFd` becomes its fd 3. The incarnation belongs to the scope: closing
   * it stops the agent (SIGTERM, then SIGKILL) and waits for its end.
   */
  readonly spawn: (spec: LaunchSpec, agentFd: number) => Effect.Effect<Launched, SpawnError, Scope.Scope>
}>()("agentos/sandbox/Launcher") {}
