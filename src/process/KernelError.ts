/**
 * The errors a syscall can fail with. Each maps to exactly one POSIX-style code of
 * protocol/ErrorCode.ts, by `code` below; the message names the step, the object and the cause, because it is
 * what a user reads (`spawn "web": name already in use`).
 */
import { Data } from "effect"
import type { ErrorCode } from "../protocol/ErrorCode.ts"
import type { SpawnError } from "../sandbox/Launcher.ts"

/** Bad arguments; `field` is the path of the offending argument when there is one. @category errors */
export class InvalidArgument extends Data.TaggedError("InvalidArgument")<{
  readonly message: string
  readonly field?: string
}> {}

/** The named object does not exist. @category errors */
export class NotFound extends Data.TaggedError("NotFound")<{ readonly message: string }> {}

/** The caller may not do this. @category errors */
export class PermissionDenied extends Data.TaggedError("PermissionDenied")<{ readonly message: string }> {}

/** The object already exists. @category errors */
export class AlreadyExists extends Data.TaggedError("AlreadyExists")<{ readonly message: string }> {}

/** The object is in a state that forbids this now. @category errors */
export class Busy extends Data.TaggedError("Busy")<{ readonly message: string }> {}

/** A limit is reached for now; the same call may succeed later. @category errors */
export class TryAgain extends Data.TaggedError("TryAgain")<{ readonly message: string }> {}

/** A deadline passed. @category errors */
export class TimedOut extends Data.TaggedError("TimedOut")<{ readonly message: string }> {}

/** A value is over its size limit. @category errors */
export class TooBig extends Data.TaggedError("TooBig")<{ readonly message: string }> {}

/** The syscall does not exist, or not yet. @category errors */
export class NotImplemented extends Data.TaggedError("NotImplemented")<{ readonly message: string }> {}

/** The peer broke the protocol. @category errors */
export class ProtocolError extends Data.TaggedError("ProtocolError")<{ readonly message: string }> {}

/** A rate limit or budget is exhausted; `retryAfterMs` says when to come back. @category errors */
export class RateLimited extends Data.TaggedError("RateLimited")<{
  readonly message: string
  readonly retryAfterMs?: number
}> {}

/** This machine cannot give what was asked (a limit or isolation property); the message says how to get it. @category errors */
export class NotSupported extends Data.TaggedError("NotSupported")<{ readonly message: string }> {}

/** The call would wait on itself. @category errors */
export class Deadlock extends Data.TaggedError("Deadlock")<{ readonly message: string }> {}

/** Any error a syscall may fail with. @category errors */
export type KernelError =
  | InvalidArgument
  | NotFound
  | PermissionDenied
  | AlreadyExists
  | Busy
  | TryAgain
  | TimedOut
  | TooBig
  | NotImplemented
  | ProtocolError
  | RateLimited
  | Deadlock
  | NotSupported
  | SpawnError

/**
 * The code a kernel error is reported with: the one place a tagged error becomes a code. The
 * match is exhaustive on `_tag`, so a new error class does not compile until it is given one.
 * @category constructors
 */
export const code = (error: KernelError): ErrorCode => {
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
