/**
 * The Launcher on Linux: runs native/build/agentos-launch with the spec on fd 4, the agent's
 * kernel connection on fd 3 and its status records on fd 5 (docs/launcher.md), and turns the
 * records into a Launched. Output is split into lines, each cut at 64 KiB, so an agent that
 * never prints a newline cannot grow the kernel's memory (internal/output.ts, shared with
 * ProcessLauncher.ts, the plain launcher).
 */
import { Deferred, Effect, Layer } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import type { Readable, Writable } from "node:stream"
import { fileURLToPath } from "node:url"
import * as ExitReason from "./ExitReason.ts"
import * as Output from "./internal/output.ts"
import { Launcher, SpawnError, type Launched, type SpawnErrorReason } from "./Launcher.ts"
import * as LaunchSpec from "./LaunchSpec.ts"
import * as LaunchStatus from "./LaunchStatus.ts"

/** Where `make -C native` puts the launcher. @category models */
export const launcherPath = fileURLToPath(new URL("../../native/build/agentos-launch", import.meta.url))

const reasonOf = (step: string): SpawnErrorReason => {
  switch (step) {
    case "spec":
      return "LimitInvalid"
    case "cgroup":
      return "CgroupCreateFailed"
    case "clone":
    case "userns":
      return "CloneFailed"
    case "exec":
      return "ExecFailed"
    default:
      return "SetupFailed"
  }
}

/** How long after the launcher exits its status pipe may take to be read to its end. */
const STATUS_DRAIN_MS = 2000

const signalSafely = (pid: number, signal: NodeJS.Signals | number) => {
  if (pid <= 0) return
  try {
    process.kill(pid, signal)
  } catch {}
}

/** How long closing an incarnation waits for its launcher to finish cleaning up and exit. */
const LAUNCHER_EXIT_MS = 3000

/** Launches one agent. */
const spawn = (spec: LaunchSpec.LaunchSpec, agentFd: number) =>
  Effect.gen(function* () {
    if (!Fs.existsSync(launcherPath)) {
      return yield* new SpawnError({
        reason: "LauncherMissing",
        message: `the launcher ${launcherPath} is not built: run \`make -C native\``
      })
    }
    let encoded: Buffer
    try {
      encoded = LaunchSpec.encode(spec)
    } catch (e) {
      return yield* new SpawnError({ reason: "LimitInvalid", message: (e as Error).message })
    }
    const started = yield* Deferred.make<LaunchStatus.Started, SpawnError>()
    const ended = yield* Deferred.make<LaunchStatus.Ended>()
    let isolation: LaunchStatus.Isolation = {
      _tag: "isolation", namespaces: [], cgroup: "none", seccomp: false, userns: false, landlock: 0, idmap: "none", memory: "none", cpu: "none", pids: "none"
    }
    let sawEnded = false
    let usage: LaunchStatus.Usage | undefined

    // The launcher process's own end: it comes after `ended`, once the agent's cgroups are removed.
    const exited = yield* Deferred.make<void>()
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        ChildProcess.spawn(launcherPath, [], {
          stdio: ["ignore", "pipe", "pipe", agentFd, "pipe", "pipe"],
          env: {},
          // Its own process group: a Ctrl-C at the kernel's terminal is the kernel's to handle.
          detached: true
        })
      ),
      (child) =>
        Effect.gen(function* () {
          if (!sawEnded && child.exitCode === null && child.signalCode === null) {
            // Stop the incarnation: SIGTERM (the launcher forwards it and SIGKILLs the sandbox
            // after kill_timeout_ms), then make sure it is gone.
            signalSafely(child.pid ?? 0, "SIGTERM")
            const timeoutMs = (spec.killTimeoutMs ?? 5000) + 2000
            const done = yield* Deferred.await(ended).pipe(Effect.timeoutOption(`${timeoutMs} millis`))
            if (done._tag === "None") signalSafely(child.pid ?? 0, "SIGKILL")
          }
          // The launcher writes `ended`, then removes the agent's cgroups and exits: wait for
          // that too, so that a closed scope (a stopped kernel) leaves no launcher and no cgroup
          // behind. Bounded: its rmdir retries last about a second; past that, the kernel's
          // stale-cgroup sweep has the last word.
          if (child.pid === undefined) return
          const gone = yield* Deferred.await(exited).pipe(Effect.timeoutOption(`${LAUNCHER_EXIT_MS} millis`))
          if (gone._tag === "None") signalSafely(child.pid, "SIGKILL")
        })
    )
    const launcherPid = child.pid ?? 0
    const stdio = child.stdio as unknown as [null, Readable, Readable, null, Writable, Readable]
    stdio[4].on("error", () => {})
    stdio[4].end(encoded)
    // Split into lines, kept for the first listener, paused while its log drops a flood.
    const output = Output.make(stdio[1], stdio[2])
    Output.lines(stdio[5], (line) => {
      const record = LaunchStatus.parseLine(line)
      if (record === undefined) return
      switch (record._tag) {
        case "isolation":
          isolation = record
          return
        case "started":
          Deferred.doneUnsafe(started, Effect.succeed(record))
          return
        case "usage":
          usage = record
          return
        case "ended":
          sawEnded = true
          Deferred.doneUnsafe(ended, Effect.succeed(record))
          return
        case "error":
          Deferred.doneUnsafe(started, Effect.fail(new SpawnError({
            reason: reasonOf(record.step),
            step: record.step,
            errno: record.errno,
            message: `${record.step}: ${record.message}`
          })))
          return
      }
    })
    // The status pipe's end: every record the launcher wrote has been read by then.
    const statusRead = new Promise<void>((resolve) => {
      stdio[5].once("end", resolve)
      stdio[5].once("close", resolve)
    })
    child.on("exit", (code, signal) => {
      Deferred.doneUnsafe(exited, Effect.void)
      const decide = () => {
        Deferred.doneUnsafe(started, Effect.fail(new SpawnError({
          reason: "SetupFailed",
          message: `the launcher exited (${signal ?? `code ${code}`}) before the agent started`
        })))
        // A launcher that died without an `ended` record (killed itself): its sandbox died with it.
        Deferred.doneUnsafe(ended, Effect.succeed({
          _tag: "ended", code: code ?? 0, signal: signal === null ? 0 : (ExitReason.signalNumber(signal) ?? 0),
          oom: false, pidsLimit: false, throttledUs: 0, nrThrottled: 0, peakBytes: 0, cpuUs: 0, oomSource: null
        }))
      }
      // `exit` can come before the status pipe is drained (a loaded machine): its `ended` record
      // would be lost and the end misreported as the launcher's own exit code. Decide once the
      // pipe has been read to its end; bounded, should something else still hold it open.
      const fallback = setTimeout(decide, STATUS_DRAIN_MS)
      fallback.unref()
      void statusRead.then(() => {
        clearTimeout(fallback)
        decide()
      })
    })
    child.on("error", (e) => {
      Deferred.doneUnsafe(started, Effect.fail(new SpawnError({ reason: "LauncherMissing", message: `running ${launcherPath}: ${e.message}` })))
    })

    const record = yield* Deferred.await(started)
    return {
      pid: record.pid,
      init: record.init,
      launcherPid,
      cgroups: record.cgroups,
      isolation,
      usage: () => usage,
      onOutput: output.onOutput,
      pauseOutput: output.pauseOutput,
      signal: (signal) => signalSafely(record.pid, signal),
      stop: () => signalSafely(launcherPid, "SIGTERM"),
      kill: () => {
        // PID 1 of the sandbox: its death takes the whole PID namespace down.
        if (record.init > 0) signalSafely(record.init, "SIGKILL")
        else signalSafely(record.pid, "SIGKILL")
      },
      ended: Deferred.await(ended)
    } satisfies Launched
  })

/** The Linux launcher. @category layers */
export const layer = Layer.succeed(Launcher, Launcher.of({ spawn }))

/**
 * Removes a directory tree that may hold files of the user's subordinate ids (workdirs of
 * agents given uids of their own without root), which the user may not remove itself: first as
 * this process, then, for what is left, through `agentos-launch --remove` inside a user
 * namespace where those ids are mapped (docs/launcher.md "Other modes"). Throws when it stays.
 * @category lifecycle
 */
export const removeTree = (dir: string, ids?: { readonly uids: { readonly first: number; readonly count: number }; readonly gids: { readonly first: number; readonly count: number } }): void => {
  try {
    Fs.rmSync(dir, { recursive: true, force: true })
    return
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if ((code !== "EACCES" && code !== "EPERM") || ids === undefined) throw e
  }
  ChildProcess.execFileSync(launcherPath, ["--remove", dir, `${ids.uids.first}:${ids.uids.count}`, `${ids.gids.first}:${ids.gids.count}`], {
    stdio: ["ignore", "ignore", "pipe"],
    env: {},
    timeout: 60_000
  })
}
