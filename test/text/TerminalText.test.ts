/**
 * What an agent's line may do to the terminal it is printed on: colours, nothing else.
 */
import { describe, expect, it } from "vitest"
import { format } from "../../src/protocol/LogEntry.ts"
import { printable } from "../../src/text/TerminalText.ts"

describe("TerminalText.printable", () => {
  it("leaves plain text, tabs and non-ASCII text as they are", () => {
    for (const line of ["hello world", "a\tb", "naïve — 日本語 🚀", ""]) expect(printable(line)).toBe(line)
  })

  it("keeps colours (SGR) and resets them at the end of the line", () => {
    expect(printable("\x1b[31mred\x1b[0m and \x1b[1;32mbold green")).toBe("\x1b[31mred\x1b[0m and \x1b[1;32mbold green\x1b[0m")
  })

  it("shows every other control character: cursor moves, screen clears, titles, bells, CR, DEL, C1", () => {
    expect(printable("\x1b[2J\x1b[H")).toBe("^[[2J^[[H")
    expect(printable("\x1b]0;pwned\x07")).toBe("^[]0;pwned^G")
    expect(printable("fake\rreal")).toBe("fake^Mreal")
    expect(printable("a\x00b\x7fc\x08")).toBe("a^@b^?c^H")
    expect(printable("\x9b31m")).toBe("\\x9b31m")
    expect(printable("\x1b[1A\x1b[K")).toBe("^[[1A^[[K")
  })

  it("leaves no raw control character in what it returns, whatever the input", () => {
    let input = ""
    for (let code = 0; code < 0xa0; code++) input += String.fromCharCode(code)
    const out = printable(input + "\x1b[31m")
    expect(out.replaceAll(/\x1b\[[0-9;]*m/g, "")).not.toMatch(/[\x00-\x08\x0a-\x1f\x7f-\x9f]/)
  })

  it("is how log files and `agentos logs` write a line: one line per entry, no control character", () => {
    const entry = { seq: 1, time: 0, name: "w", id: "a1", incarnation: 2, stream: "log" as const, line: "a\nb\x1b[2J" }
    expect(format(entry)).toBe("1970-01-01T00:00:00.000Z w#2 (log) a\\nb^[[2J")
  })
})
