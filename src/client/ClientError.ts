/**
 * What a call to the kernel can fail with, on the client side: the kernel's own error reply
 * (its POSIX-style code and message), a local deadline (ETIMEDOUT), or the connection itself
 * failing. Both are Error instances, so Promise users can read `code` and `message` directly.
 */
import { Schema } from "effect"

/** The kernel answered with an error, or the call timed out locally (`ETIMEDOUT`). @category errors */
export class KernelCallError extends Schema.TaggedError<KernelCallError>()("KernelCallError", {
  code: Schema.String,
  message: Schema.String,
  op: Schema.Number
}) {}

/** Connecting failed, or the connection closed or broke while calls were pending. @category errors */
export class ConnectionError extends Schema.TaggedError<ConnectionError>()("ConnectionError", {
  message: Schema.String
}) {}
