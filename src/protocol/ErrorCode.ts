/**
 * POSIX-style error codes carried in error replies (DESIGN.md, "Protocol"). This file is the one
 * place a tagged kernel error becomes a code: `fromError` matches every `_tag` exhaustively, so
 * a new error class does not compile until it is given one. EIO is only ever sent for a kernel
 * defect (a bug), never for a failure a syscall expects.
 */
import type * as KernelError from "../kernel/KernelError.ts"

/** Every error code of the protocol. @category models */
export const codes = [
  "EINVAL",
  "ENOENT",
  "EPERM",
  "EEXIST",
  "EBUSY",
  "EAGAIN",
  "ETIMEDOUT",
  "E2BIG",
  "ENOSYS",
  "EPROTO",
  "ERATE",
  "EDEADLK",
  "ENOTSUP",
  "EIO"
] as const

/** An error code of the protocol. @category models */
export type ErrorCode = (typeof codes)[number]

const codeSet: ReadonlySet<string> = new Set(codes)

/** Whether a string is one of the protocol's error codes. @category guards */
export const isErrorCode = (s: unknown): s is ErrorCode => typeof s === "string" && codeSet.has(s)

/** The code a kernel error is reported with. @category constructors */
export const fromError = (error: KernelError.KernelError): ErrorCode => {
  switch (error._tag) {
    case "InvalidArgument":
      return "EINVAL"
    case "NotFound":
      return "ENOENT"
    case "PermissionDenied":
      return "EPERM"
    case "AlreadyExists":
      return "EEXIST"
    case "Busy":
      return "EBUSY"
    case "TryAgain":
      return "EAGAIN"
    case "TimedOut":
      return "ETIMEDOUT"
    case "TooBig":
      return "E2BIG"
    case "NotImplemented":
      return "ENOSYS"
    case "ProtocolError":
      return "EPROTO"
    case "RateLimited":
      return "ERATE"
    case "Deadlock":
      return "EDEADLK"
    case "NotSupported":
      return "ENOTSUP"
    case "SpawnError":
      switch (error.reason) {
        case "LimitInvalid":
          return "EINVAL"
        case "ExecFailed":
          return error.errno === ENOENT ? "ENOENT" : error.errno === EACCES ? "EPERM" : "EINVAL"
        case "LauncherMissing":
          return "ENOSYS"
        case "CgroupCreateFailed":
        case "CloneFailed":
        case "SetupFailed":
          return error.errno === EPERM || error.errno === EACCES ? "EPERM" : "EAGAIN"
      }
  }
}

const ENOENT = 2
const EPERM = 1
const EACCES = 13
