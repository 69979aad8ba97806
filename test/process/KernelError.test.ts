/**
 * Every kernel error class maps to its POSIX-style code (DESIGN.md, "Protocol"), and
 * isErrorCode accepts exactly the protocol's codes.
 */
import { describe, expect, it } from "vitest"
import * as KernelError from "../../src/process/KernelError.ts"
import * as ErrorCode from "../../src/protocol/ErrorCode.ts"

const message = "test"

const table: ReadonlyArray<readonly [string, KernelError.KernelError, ErrorCode.ErrorCode]> = [
  ["InvalidArgument", new KernelError.InvalidArgument({ message, field: "args.name" }), "EINVAL"],
  ["NotFound", new KernelError.NotFound({ message }), "ENOENT"],
  ["PermissionDenied", new KernelError.PermissionDenied({ message }), "EPERM"],
  ["AlreadyExists", new KernelError.AlreadyExists({ message }), "EEXIST"],
  ["Busy", new KernelError.Busy({ message }), "EBUSY"],
  ["TryAgain", new KernelError.TryAgain({ message }), "EAGAIN"],
  ["TimedOut", new KernelError.TimedOut({ message }), "ETIMEDOUT"],
  ["TooBig", new KernelError.TooBig({ message }), "E2BIG"],
  ["NotImplemented", new KernelError.NotImplemented({ message }), "ENOSYS"],
  ["ProtocolError", new KernelError.ProtocolError({ message }), "EPROTO"],
  ["RateLimited", new KernelError.RateLimited({ message, retryAfterMs: 1000 }), "ERATE"],
  ["Deadlock", new KernelError.Deadlock({ message }), "EDEADLK"],
  ["NotSupported", new KernelError.NotSupported({ message }), "ENOTSUP"]
]

// DESIGN.md's codes, ENOTSUP (docs/protocol.md: a limit or isolation property this machine
// cannot hold), plus EIO for kernel defects.
const designCodes = [
  "EINVAL", "ENOENT", "EPERM", "EEXIST", "EBUSY", "EAGAIN", "ETIMEDOUT", "E2BIG", "ENOSYS", "EPROTO", "ERATE", "EDEADLK", "ENOTSUP"
]

describe("ErrorCode", () => {
  it.each(table)("KernelError.code(%s) is %s", (tag, error, code) => {
    expect(error._tag).toBe(tag)
    expect(KernelError.code(error)).toBe(code)
  })

  it("the table covers every error class KernelError.ts exports", () => {
    const classes = Object.entries(KernelError).filter(([, v]) => typeof v === "function" && v.prototype instanceof Error).map(([name]) => name)
    expect(classes.sort()).toEqual(table.map(([tag]) => tag).sort())
  })

  it("gives each error class its own code", () => {
    expect(new Set(table.map(([, , code]) => code)).size).toBe(table.length)
  })

  it("has exactly DESIGN.md's codes, ENOTSUP and EIO", () => {
    expect([...ErrorCode.codes].sort()).toEqual([...designCodes, "EIO"].sort())
    expect(table.map(([, , code]) => code).sort()).toEqual([...designCodes].sort())
  })

  it.each([...ErrorCode.codes])("isErrorCode(%s) is true", (code) => {
    expect(ErrorCode.isErrorCode(code)).toBe(true)
  })

  it.each(["", "einval", "EINVAL ", "ENOTDIR", "EPROTO\0", "toString", "__proto__"])("isErrorCode(%j) is false", (s) => {
    expect(ErrorCode.isErrorCode(s)).toBe(false)
  })

  it.each([undefined, null, 0, 22, true, ["EINVAL"], { code: "EINVAL" }, new String("EINVAL")])(
    "isErrorCode(%o) is false for a non-string",
    (v) => {
      expect(ErrorCode.isErrorCode(v)).toBe(false)
    }
  )
})
