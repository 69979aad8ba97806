/**
 * One way of writing a schema's problems, for a syscall's args and a supervision tree alike:
 * paths dotted and indexed, messages lowercased, one line each.
 */
import { Effect, Exit, Schema } from "effect"
import { describe, expect, it } from "vitest"
import * as Syscall from "../../src/kernel/Syscall.ts"
import * as SchemaProblems from "../../src/text/SchemaProblems.ts"
import { decodeTree, supervisor } from "../../src/supervision/Tree.ts"

describe("SchemaProblems", () => {
  it("writes paths with names dotted, arrays indexed and other keys quoted", () => {
    expect(SchemaProblems.formatPath(["children", 2, "sandbox", "memory"])).toBe("children[2].sandbox.memory")
    expect(SchemaProblems.formatPath([0, "a"])).toBe("[0].a")
    expect(SchemaProblems.formatPath(["env", "A-B"])).toBe(`env["A-B"]`)
    expect(SchemaProblems.formatPath([])).toBe("")
  })

  it("a syscall's args and a tree get the same lines for the same problem", () => {
    const args = Schema.Struct({ name: Schema.String, sandbox: Schema.Struct({ readOnly: Schema.Array(Schema.String) }) })
    const exit = Effect.runSyncExit(Syscall.decodeArgs(args)({ name: 1, sandbox: { readOnly: ["/a", 2] } }))
    expect(Exit.isFailure(exit)).toBe(true)
    const message = Exit.isFailure(exit) ? String((exit.cause.reasons[0] as { error?: { message?: string } }).error?.message) : ""
    expect(message).toBe("invalid args: name: expected string; sandbox.readOnly[1]: expected string")
    const tree = decodeTree({ ...supervisor("root", { children: [] }), strategy: "sideways" })
    expect(tree._tag).toBe("Failure")
    const lines = tree._tag === "Failure" ? tree.failure.problems : []
    expect(lines).toEqual([expect.stringMatching(/^strategy: expected "one_for_one" \| /)])
  })
})
