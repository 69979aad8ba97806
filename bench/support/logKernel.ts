/**
 * A kernel for bench/logs.ts: `agentos kernel` with its state (work dirs, log files) in a given
 * directory and the flood decision chosen on the command line, so one run can compare the
 * kernel that pauses a flooding agent's pipes with the one that reads and drops everything.
 * `node --expose-gc bench/support/logKernel.ts <socket> <stateDir> pause|read` prints
 * `listening on …` when ready and stops on SIGTERM. On SIGUSR2 it collects garbage and prints
 * `memory heapUsed=… rss=… external=…` (bytes): what the kernel really holds, which RSS alone
 * does not say (V8 grows its heap lazily under a high allocation rate).
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console } from "effect"
import * as Daemon from "../../src/app/Daemon.ts"
import { DEFAULT_LOG_LIMITS } from "../../src/process/KernelConfig.ts"

const [socketPath, stateDir, mode] = process.argv.slice(2)
if (socketPath === undefined || stateDir === undefined || (mode !== "pause" && mode !== "read")) {
  process.stderr.write("usage: logKernel.ts <socket> <stateDir> pause|read\n")
  process.exit(2)
}

process.on("SIGUSR2", () => {
  ;(globalThis as { gc?: () => void }).gc?.()
  const m = process.memoryUsage()
  process.stdout.write(`memory heapUsed=${m.heapUsed} rss=${m.rss} external=${m.external}\n`)
})

NodeRuntime.runMain(Daemon.run(
  { socketPath, stateDir, logs: { ...DEFAULT_LOG_LIMITS, pauseFlooding: mode === "pause" } },
  (settings) => Console.log(`listening on ${settings.socketPath}`)
))
