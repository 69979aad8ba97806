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
