/** Signal names as WAIT and the CLI show them: each number by its first name, not an alias. */
import { describe, expect, it } from "vitest"
import * as ExitReason from "../../src/sandbox/ExitReason.ts"

describe("signal names", () => {
  it("names 6 SIGABRT (not SIGIOT) and 29 SIGIO (not SIGPOLL); both names still parse", () => {
    expect(ExitReason.signalName(6)).toBe("SIGABRT")
    expect(ExitReason.signalName(29)).toBe("SIGIO")
    expect(ExitReason.signalName(9)).toBe("SIGKILL")
    expect(ExitReason.signalName(5)).toBe("SIGTRAP")
    expect(ExitReason.signalNumber("SIGIOT")).toBe(6)
    expect(ExitReason.signalNumber("abrt")).toBe(6)
  })

  it("WAIT's answer for an agent that aborted names SIGABRT", () => {
    expect(ExitReason.toWaitResult({ _tag: "killed", signal: 6 } as ExitReason.ExitReason)).toMatchObject({ signal: "SIGABRT" })
  })
})

describe("the source of an out-of-memory end", () => {
  const ended = (signal: number, oomSource: "cgroup" | "watchdog" | null): Parameters<typeof ExitReason.fromEnded>[0] => ({
    _tag: "ended", code: 0, signal, oom: oomSource !== null, pidsLimit: false, throttledUs: 0, nrThrottled: 0, peakBytes: 0, cpuUs: 0, oomSource
  } as Parameters<typeof ExitReason.fromEnded>[0])

  it("is the watchdog's when its SIGKILL ended the sandbox, the runtime's when the runtime aborted first", () => {
    expect(ExitReason.fromEnded(ended(9, "watchdog"), undefined, "rlimit")).toMatchObject({ _tag: "oom", source: "watchdog" })
    expect(ExitReason.fromEnded(ended(6, "watchdog"), undefined, "rlimit")).toMatchObject({ _tag: "oom", source: "rlimit", signal: 6 })
    expect(ExitReason.fromEnded(ended(6, "watchdog"), undefined, undefined)).toMatchObject({ _tag: "oom", source: "watchdog" })
    expect(ExitReason.fromEnded(ended(9, "cgroup"), undefined, "heap")).toMatchObject({ _tag: "oom", source: "cgroup" })
    expect(ExitReason.fromEnded(ended(6, null), undefined, "heap")).toMatchObject({ _tag: "oom", source: "heap" })
  })
})
