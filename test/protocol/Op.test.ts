/**
 * The syscall table must match DESIGN.md ("Protocol") exactly: every name, every number, no
 * extra entry, no number used twice.
 */
import { describe, expect, it } from "vitest"
import * as OpModule from "../../src/protocol/Op.ts"

const { Op, nameOf, describe: describeOp } = OpModule

// DESIGN.md, "Syscall numbers".
const table: ReadonlyArray<readonly [OpModule.OpName, number]> = [
  ["NOOP", 0x00],
  ["THINK", 0x01],
  ["HELLO", 0x02],
  ["SPAWN", 0x10],
  ["KILL", 0x11],
  ["LIST", 0x12],
  ["WAIT", 0x13],
  ["STAT", 0x14],
  ["SEND", 0x20],
  ["RECV", 0x21],
  ["ACK", 0x22],
  ["TREE", 0x30],
  ["SUBSCRIBE", 0x31],
  ["CHILD", 0x32],
  ["LOG", 0x40],
  ["HEARTBEAT", 0x41],
  // Additions recorded in docs/protocol.md ("Beyond DESIGN.md's table").
  ["LOGS", 0x42],
  ["METRICS", 0x43]
]

describe("Op", () => {
  it("is the table of DESIGN.md, in order, then the documented additions", () => {
    expect(Object.entries(Op)).toEqual(table)
  })

  it("uses every number once", () => {
    const numbers = Object.values(Op)
    expect(new Set(numbers).size).toBe(numbers.length)
  })

  it("uses only unsigned integers below 256", () => {
    for (const n of Object.values(Op)) {
      expect(Number.isInteger(n) && n >= 0 && n < 256, `${n}`).toBe(true)
    }
  })

  it.each(table)("nameOf(%s's number) is %s", (name, n) => {
    expect(nameOf(n)).toBe(name)
  })

  it.each([0x03, 0x0f, 0x15, 0x23, 0x33, 0x44, 0x7f, 0xff, 0x100, -1, 1.5, Number.NaN])(
    "nameOf(%d) is undefined",
    (n) => {
      expect(nameOf(n)).toBeUndefined()
    }
  )

  it.each([
    [Op.NOOP, "NOOP (0x00)"],
    [Op.HELLO, "HELLO (0x02)"],
    [Op.SPAWN, "SPAWN (0x10)"],
    [Op.SUBSCRIBE, "SUBSCRIBE (0x31)"],
    [Op.HEARTBEAT, "HEARTBEAT (0x41)"],
    [0x05, "0x05"],
    [0x7f, "0x7f"],
    [0xff, "0xff"],
    [0x1234, "0x1234"]
  ])("describe(%d) is %s", (n, text) => {
    expect(describeOp(n)).toBe(text)
  })
})
