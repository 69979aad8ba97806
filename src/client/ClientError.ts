/**
 * What a call to the kernel can fail with, on the client side: the kernel's own error reply
 * (its POSIX-style code and message), a local deadline (ETIMEDOUT), or the connection itself
 * failing. Both are Error instances, so Promise users can read `code` and `message` directly,
 * and tagged (`_tag`), so Effect users can `catchTag` them. Plain classes, not effect's
 * Schema errors: every agent loads this file, and importing effect would add ~280 ms to each
 * agent's start (and to each restart).
 */

/** The kernel answered with an error, or the call timed out locally (`ETIMEDOUT`). @category errors */
export class KernelCallError extends Error {
  readonly _tag = "KernelCallError" as const
  /** The POSIX-style code: `EINVAL`, `ENOENT`, … */
  readonly code: string
  /** The syscall that failed. */
  readonly op: number

  constructor(fields: { readonly code: string; readonly message: string; readonly op: number }) {
    super(fields.message)
    this.name = "KernelCallError"
    this.code = fields.code
    this.op = fields.op
  }
}

/** Connecting failed, or the connection closed or broke while calls were pending. @category errors */
export class ConnectionError extends Error {
  readonly _tag = "ConnectionError" as const

  constructor(fields: { readonly message: string }) {
    super(fields.message)
    this.name = "ConnectionError"
  }
}
