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

/** SPAWN's answer: the new agent. @category models */
export interface SpawnResult {
  readonly id: string
  readonly name: string
  readonly pid: number | null
  readonly status: string
}

/** KILL's answer: the signal was sent. @category models */
export interface KillResult {
  readonly killed: boolean
}

/** SEND's answer: the message's id in the receiver's mailbox. @category models */
export interface SendResult {
  readonly msgId: number
}

/** RECV's answer: one message, with whether it was delivered before and not acked. @category models */
export interface RecvResult {
  readonly msgId: number
  readonly from: string
  readonly payload: unknown
  readonly redelivered?: boolean
}

/** THINK's answer: the text, what it cost, the model that gave it. @category models */
export interface ThinkResult {
  readonly content: string
  readonly usage: { readonly inputTokens: number; readonly outputTokens: number }
  readonly model: string
}

/** A chunk of a streamed THINK: the next piece of the answer's text. @category models */
export interface ThinkChunk {
  readonly delta: string
}

/** The answer of a syscall that answers nothing but success (ACK, LOG, HEARTBEAT). @category models */
export type Empty = Record<string, never>
