/**
 * The `agentos` command. Each subcommand lives in its own file and calls a programmatic
 * function that tests call directly. Exit codes: 0 success (also after a SIGINT/SIGTERM
 * shutdown of `kernel`), 1 an error (one line on stderr; the full cause with --verbose),
 * 2 a usage error.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Effect, Exit } from "effect"
import { Command } from "effect/cli"
import { VERSION } from "../protocol/Version.ts"
import { boot } from "./boot.ts"
import { doctor } from "./doctor.ts"
import { kernel } from "./kernel.ts"
import { llm } from "./llm.ts"
import { logs } from "./logs.ts"
import { metrics } from "./metrics.ts"
import { ping } from "./ping.ts"
import { ps } from "./ps.ts"
import { top } from "./top.ts"
import { tree } from "./tree.ts"

const agentos = Command.make("agentos").pipe(
  Command.withDescription("AgentOS: an operating-system kernel for AI agents"),
  Command.withSubcommands([boot, kernel, ping, ps, top, logs, llm, metrics, tree, doctor])
)

const usageErrors = new Set([
  "UnrecognizedOption", "DuplicateOption", "MissingOption", "MissingArgument", "UnexpectedArgument",
  "InvalidValue", "UnknownSubcommand", "ValidationError", "ShowHelp"
])

/** One line for a user; the whole cause with --verbose. */
const report = (cause: Cause.Cause<unknown>): Effect.Effect<number> =>
  Effect.sync(() => {
    const error = Cause.squash(cause) as { _tag?: string; message?: string }
    if (typeof error?._tag === "string" && usageErrors.has(error._tag)) return 2
    if (process.argv.includes("--verbose")) process.stderr.write(`${Cause.pretty(cause)}\n`)
    else process.stderr.write(`agentos: ${error?.message ?? String(error)}\n`)
    return 1
  })

const program = Command.run(agentos, { version: VERSION }).pipe(
  Effect.provide(NodeServices.layer),
  Effect.matchCauseEffect({
    onSuccess: () => Effect.succeed(0),
    onFailure: (cause) => Cause.hasInterruptsOnly(cause) ? Effect.succeed(0) : report(cause)
  }),
  Effect.flatMap((code) => code === 0 ? Effect.void : Effect.sync(() => { process.exitCode = code }))
)

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  // A SIGINT/SIGTERM is the documented way to stop the kernel: an orderly shutdown exits 0.
  teardown: (exit, onExit) => onExit(Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause) ? (process.exitCode as number | undefined) ?? 0 : 1)
})
