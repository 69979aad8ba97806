/**
 * Flags every command shares (`--socket`, `--verbose`) and the client layer they select.
 */
import { Option } from "effect"
import { Flag } from "effect/cli"
import { Client } from "../client/Client.ts"
import * as SocketPath from "../kernel/SocketPath.ts"

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
