/**
 * What a syscall answers, where the kernel's handler (kernel/syscalls/) and the clients'
 * typed calls (client/Calls.ts) share the shape: written once here, built by the one and read
 * by the other. LIST's and TREE's rows are protocol/Rows.ts.
 */

/** HELLO's answer: who the caller is, who the kernel is, and the connection's limits. @category models */
export interface HelloResult {
  readonly agent: {
    readonly session: number
    /** The connection's name (a client's, given at HELLO; an agent's, the kernel's); null for none. */
    readonly name: string | null
    readonly kind: "client" | "agent"
    readonly pid: number
    readonly uid: number
    readonly gid: number
  }
  readonly kernel: { readonly id: string; readonly version: string; readonly protocol: number; readonly pid: number }
  readonly limits: { readonly maxFrame: number; readonly maxInFlight: number }
}

/** WAIT's answer: how the agent ended. @category models */
export interface WaitResult {
  /** Its exit code, when it exited (null when a signal ended it). */
  readonly code: number | null
  /** The signal that ended it (`SIGKILL`), or null. */
  readonly signal: string | null
  /** How it ended: the ExitReason's tag (`exited`, `killed`, `oom`, …). */
  readonly reason: string
  /** For an `oom` end, what held the limit: `cgroup`, `watchdog`, `heap` or `rlimit`. */
  readonly source?: string
  /** The same in one line for people (ExitReason.describe). */
  readonly description: string
}
