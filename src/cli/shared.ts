/**
 * Flags every command shares (`--socket`, `--verbose`) and the client layer they select.
 */
import { Option } from "effect"
import * as AgentSpec from "../process/AgentSpec.ts"
import { type AgentDefaults, DEFAULT_AGENT_LIMITS } from "../process/KernelConfig.ts"
import { Flag } from "effect/cli"
import * as Os from "node:os"
import { Client } from "../client/Client.ts"
import * as PeerCredentials from "../sandbox/PeerCredentials.ts"
import * as SocketPath from "../protocol/SocketPath.ts"

/** `--socket PATH`: the kernel's socket; default from the environment. */
export const socket = Flag.String("socket").pipe(
  Flag.withDescription("kernel socket path (default: $AGENTOS_SOCKET, $XDG_RUNTIME_DIR/agentos/kernel.sock or /tmp/agentos-<uid>/kernel.sock)"),
  Flag.optional
)

/** `--verbose`: print stack traces with errors. */
export const verbose = Flag.Boolean("verbose").pipe(
  Flag.withDescription("print the full cause of an error, with stack traces"),
  Flag.withDefault(false)
)

/** The socket path a command uses. */
export const socketPath = (flag: Option.Option<string>): string =>
  Option.match(flag, { onNone: () => SocketPath.resolve(), onSome: (p) => SocketPath.resolve({ AGENTOS_SOCKET: p }) })

/** A client connected to the selected kernel. */
export const clientLayer = (flag: Option.Option<string>) => Client.layer({ path: socketPath(flag) })

/** `--isolation strict|weak`: refuse (default), or run without, a sandbox property this machine cannot hold. */
export const isolation = Flag.Literals("isolation", ["strict", "weak"] as const).pipe(
  Flag.withDescription("strict (default): SPAWN refuses a sandboxed agent whose sandbox would miss an isolation property here (ENOTSUP); weak: run it without, as said at start (docs/isolation.md)"),
  Flag.withDefault("strict" as const)
)

/** `--default-pids`, `--default-memory`, `--default-cpu`: limits for agents whose spec names none; bad values are usage errors. */
export const agentDefaults = {
  defaultPids: Flag.Int("default-pids").pipe(
    Flag.withDescription(`processes per agent whose spec names none (default ${DEFAULT_AGENT_LIMITS.pids}, like systemd's DefaultTasksMax)`),
    Flag.filterMap((n) => (n >= 1 ? Option.some(n) : Option.none()), () => "a whole number of processes, at least 1"),
    Flag.optional
  ),
  defaultMemory: Flag.String("default-memory").pipe(
    Flag.withDescription("memory per agent whose spec names none, e.g. 512M (default: none)"),
    Flag.filterMap((text) => Option.fromNullishOr(AgentSpec.parseSize(text)), () => "a size like 512M or 1G"),
    Flag.optional
  ),
  defaultCpu: Flag.Finite("default-cpu").pipe(
    Flag.withDescription("CPU per agent whose spec names none, as a fraction of one CPU, e.g. 0.5 (default: none)"),
    Flag.filterMap((n) => (n > 0 && n <= 1024 ? Option.some(n) : Option.none()), () => "a fraction of one CPU above 0, e.g. 0.5"),
    Flag.optional
  )
}

/** The defaults those flags give. */
export const resolveAgentDefaults = (flags: {
  readonly defaultPids: Option.Option<number>
  readonly defaultMemory: Option.Option<number>
  readonly defaultCpu: Option.Option<number>
}): AgentDefaults => ({
  pids: Option.getOrElse(flags.defaultPids, () => DEFAULT_AGENT_LIMITS.pids),
  ...Option.match(flags.defaultMemory, { onNone: () => ({}), onSome: (memoryBytes) => ({ memoryBytes }) }),
  ...Option.match(flags.defaultCpu, { onNone: () => ({}), onSome: (cpu) => ({ cpu }) })
})

/**
 * For a long-running command started through npm (`npx agentos kernel`, `npm run …`): stop in
 * order when the process the user started goes. npm exec does not pass SIGTERM or SIGINT on to
 * its child, so a service manager that signals only its main process (systemd's
 * KillMode=process, `docker stop` with npm as PID 1) would leave the kernel running under PID 1.
 * The parent's death becomes a SIGTERM to us, which the command handles as its orderly stop.
 */
export const stopWithNpm = (): void => {
  if (process.env.npm_command === undefined && process.env.npm_lifecycle_event === undefined) return
  const before = process.ppid
  const now = PeerCredentials.setParentDeathSignal(Os.constants.signals.SIGTERM)
  // Gone already, between our start and the prctl: nothing will signal us.
  if (now !== before) process.kill(process.pid, "SIGTERM")
}
