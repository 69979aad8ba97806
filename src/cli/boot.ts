/**
 * `agentos boot FILE`: starts a kernel and the tree FILE default-exports, printing lifecycle
 * events as they happen. Exit 0 when the tree finishes or on SIGINT/SIGTERM (an orderly
 * shutdown); 1 when the tree is invalid (nothing booted) or a failure escalated to PID 1.
 */
import { Console, Effect } from "effect"
import { Argument, Command } from "effect/cli"
import * as Boot from "../supervision/Boot.ts"
import * as Shared from "./shared.ts"

export const boot = Command.make("boot", {
  file: Argument.String("file").pipe(Argument.withDescription("a tree file: `export default defineTree(...)`")),
  socket: Shared.socket,
  verbose: Shared.verbose
}, ({ file, socket }) =>
  Effect.gen(function* () {
    const { tree, baseDir } = yield* Boot.load(file)
    const socketPath = Shared.socketPath(socket)
    yield* Console.log(`agentos boot ${file}: kernel on ${socketPath}`)
    yield* Boot.run(tree, baseDir, { kernel: { socketPath } })
  })).pipe(
  Command.withDescription("Boot a supervision tree: a kernel, then the tree under PID 1")
)
