/**
 * POSIX-style error codes carried in error replies (DESIGN.md, "Protocol"). This file is the one
 * place a tagged kernel error becomes a code: `fromError` matches every `_tag` exhaustively, so
 * a new error class does not compile until it is given one. EIO is only ever sent for a kernel
 * defect (a bug), never for a failure a syscall expects.
 */

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
