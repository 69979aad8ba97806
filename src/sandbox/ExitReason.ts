/**
 * Why an agent ended, classified from the launcher's `ended` record and what the kernel asked:
 * exited(code), killed(signal), oom, pids limit, killed on request, or failed to start. The
 * name of each is what WAIT, LIST and lifecycle events report; `normal` is OTP's notion
 * (transient children are restarted only after an abnormal end).
 */
import * as Os from "node:os"
import type { Ended } from "./LaunchStatus.ts"

/**
 * What ended an agent for its memory: `cgroup` (the kernel's OOM killer at memory.max),
 * `watchdog` (the launcher's, where no memory cgroup holds the limit), `heap` (V8's heap limit,
 * which the kernel sets from the memory limit for a Node agent under the watchdog), `rlimit`
 * (RLIMIT_DATA, set from the memory limit under the watchdog, refused an allocation: Python's
 * MemoryError).
 * @category models
 */
export type OomSource = "cgroup" | "watchdog" | "heap" | "rlimit"

/** The agent's end. @category models */
export type ExitReason =
  | { readonly _tag: "exited"; readonly code: number }
  | { readonly _tag: "killed"; readonly signal: number }
  | { readonly _tag: "oom"; readonly signal: number; readonly source: OomSource }
  | { readonly _tag: "pids_limit"; readonly code: number; readonly signal: number }
  | { readonly _tag: "killed_on_request"; readonly signal: number; readonly requested: number }
  | { readonly _tag: "failed_to_start"; readonly step: string; readonly message: string }

/**
 * Classifies an `ended` record; `requested` is the signal the kernel sent, if any; `outOfMemory`:
 * what the incarnation said on stderr of a refused allocation (V8's "JavaScript heap out of
 * memory", Python's MemoryError) while the launcher's watchdog held its memory limit, which
 * makes an abnormal end an OOM of that source.
 * @category constructors
 */
export const fromEnded = (ended: Ended, requested: number | undefined, outOfMemory?: "heap" | "rlimit"): ExitReason => {
  // The watchdog ends a sandbox with SIGKILL: one that died of another signal while the runtime
  // said it was out of memory (RLIMIT_DATA refused it first, in the same instant) ended its own way.
  if (ended.oom && ended.oomSource === "watchdog" && ended.signal !== 9 && outOfMemory !== undefined) {
    return { _tag: "oom", signal: ended.signal, source: outOfMemory }
  }
  if (ended.oom) return { _tag: "oom", signal: ended.signal, source: ended.oomSource ?? "cgroup" }
  if (outOfMemory !== undefined && (ended.signal !== 0 || ended.code !== 0)) return { _tag: "oom", signal: ended.signal, source: outOfMemory }
  // A fork bomb stopped at pids.max is usually then killed: the limit is the story.
  if (ended.pidsLimit && (ended.signal !== 0 || ended.code !== 0)) {
    return { _tag: "pids_limit", code: ended.code, signal: ended.signal }
  }
  if (requested !== undefined && ended.signal !== 0) return { _tag: "killed_on_request", signal: ended.signal, requested }
  if (ended.signal !== 0) return { _tag: "killed", signal: ended.signal }
  return { _tag: "exited", code: ended.code }
}

/**
 * A normal end: exit code 0, or stopped because the kernel was asked to stop it. A stop asked
 * with SIGKILL is not: it is OTP's `exit(Pid, kill)`, whose reason `killed` is abnormal, so a
 * transient agent killed that way is restarted. A SIGTERM that had to be followed by SIGKILL
 * at the deadline is still the stop that was asked for (`shutdown`, normal).
 * @category guards
 */
export const isNormal = (reason: ExitReason): boolean =>
  (reason._tag === "exited" && reason.code === 0) || (reason._tag === "killed_on_request" && reason.requested !== 9)

// The first name of each number: SIGABRT, not its alias SIGIOT; SIGIO, not SIGPOLL.
const signalNames = new Map<number, string>()
for (const [name, n] of Object.entries(Os.constants.signals)) if (!signalNames.has(n)) signalNames.set(n, name)

/** `SIGKILL` for 9. @category constructors */
export const signalName = (signal: number): string => signalNames.get(signal) ?? `SIG${signal}`

/** The signal number of a name (`SIGTERM`, `TERM`) or a number; undefined if unknown. @category constructors */
export const signalNumber = (signal: string | number): number | undefined => {
  if (typeof signal === "number") return signalNames.has(signal) ? signal : undefined
  const name = signal.toUpperCase().startsWith("SIG") ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`
  return (Os.constants.signals as Record<string, number | undefined>)[name]
}

/** WAIT's answer: `{code, signal, reason}`. @category constructors */
export const toWaitResult = (reason: ExitReason) => ({
  code: reason._tag === "exited" ? reason.code : reason._tag === "pids_limit" && reason.signal === 0 ? reason.code : null,
  signal: "signal" in reason && reason.signal !== 0 ? signalName(reason.signal) : null,
  reason: reason._tag,
  ...(reason._tag === "oom" ? { source: reason.source } : {})
})

/** One line for logs and the CLI: `exited with code 1`, `killed by SIGKILL (out of memory)`. @category constructors */
export const describe = (reason: ExitReason): string => {
  switch (reason._tag) {
    case "exited":
      return `exited with code ${reason.code}`
    case "killed":
      return `killed by ${signalName(reason.signal)}`
    case "oom":
      switch (reason.source) {
        case "cgroup":
          return `killed by ${signalName(reason.signal || 9)} (out of memory: hit its memory limit)`
        case "watchdog":
          return `killed by ${signalName(reason.signal || 9)} (out of memory: past its memory limit; oom: watchdog)`
        case "heap":
          return `${reason.signal !== 0 ? `ended by ${signalName(reason.signal)}` : "exited"} (out of memory: V8's heap limit, set from its memory limit; oom: heap)`
        case "rlimit":
          return `${reason.signal !== 0 ? `ended by ${signalName(reason.signal)}` : "exited"} (out of memory: its data limit, set from its memory limit, refused an allocation; oom: rlimit)`
      }
    case "pids_limit":
      return `ended after hitting its process limit (${reason.signal !== 0 ? signalName(reason.signal) : `code ${reason.code}`})`
    case "killed_on_request":
      return `stopped on request (${signalName(reason.signal)})`
    case "failed_to_start":
      return `failed to start at ${reason.step}: ${reason.message}`
  }
}
