/**
 * `agentos boot FILE`: starts a kernel and the tree FILE default-exports, printing lifecycle
 * events and each agent's output (`--quiet`: events only) as they happen. Exit 0 when the tree
 * finishes or on SIGINT/SIGTERM (an orderly shutdown); 1 when the tree is invalid (nothing
 * booted) or a failure escalated to PID 1; 2 on a usage error (a bad `--observe` address among them).
 * `--observe [host:]port` also serves the web observer (docs/observer.md) while the kernel runs.
 */
import { Console, Effect, Option, Result } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as ObserverAddress from "../observer/ObserverAddress.ts"
import * as Boot from "../app/Boot.ts"
import * as Shared from "./shared.ts"

export const boot = Command.make("boot", {
  file: Argument.String("file").pipe(Argument.withDescription("a tree file: `export default defineTree(...)`")),
  socket: Shared.socket,
  verbose: Shared.verbose,
  isolation: Shared.isolation,
  ...Shared.agentDefaults,
  quiet: Flag.Boolean("quiet").pipe(Flag.withDescription("lifecycle events only, no agent output"), Flag.withDefault(false)),
  observe: Flag.String("observe").pipe(
    Flag.withMetavar("[host:]port"),
    Flag.withDescription("serve the web observer on [host:]port (127.0.0.1 unless a host is named; port 0: any free port); its URL and action token are printed at boot"),
    Flag.filterMap(
      (text) => Result.getSuccess(ObserverAddress.parse(text)),
      (text) => Result.match(ObserverAddress.parse(text), { onFailure: (message) => message, onSuccess: () => "" })
    ),
    Flag.optional
  )
}, ({ file, socket, quiet, observe, isolation, defaultPids, defaultMemory, defaultCpu }) =>
  Effect.gen(function* () {
    Shared.stopWithNpm()
    const socketPath = Shared.socketPath(socket)
    // The tree file sees where its kernel listens, as any client started from here would.
    process.env.AGENTOS_SOCKET = socketPath
    const { tree, baseDir } = yield* Boot.load(file)
    yield* Console.log(`agentos boot ${file}: kernel on ${socketPath}`)
    const color = process.stdout.isTTY === true && process.env.NO_COLOR === undefined
    yield* Boot.run(tree, baseDir, { kernel: { socketPath, isolation, agentDefaults: Shared.resolveAgentDefaults({ defaultPids, defaultMemory, defaultCpu }) }, quiet, color, ...(Option.isSome(observe) ? { observe: observe.value } : {}) })
  })).pipe(
  Command.withDescription("Boot a supervision tree: a kernel, then the tree under PID 1")
)
