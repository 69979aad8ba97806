/**
 * Who is calling and which request is being served: what every syscall handler is given, and
 * what a session is. Beside the syscall contract, below the sessions that implement it and
 * the tracing that names it.
 */
import type { Scope } from "effect"
import type { AgentIdentity } from "./AgentConnections.ts"
import type { PeerCredentials } from "../sandbox/PeerCredentials.ts"

/** Who is calling: one connection to the kernel. @category models */
export interface Caller {
  /** Kernel-unique connection number. */
  readonly sessionId: number
  /** The peer process, from SO_PEERCRED (or the agent's own, for an inherited fd). */
  readonly peer: PeerCredentials
  /** `client` for a socket-path connection (the CLI), `agent` for an agent's fd 3. */
  readonly kind: "client" | "agent"
  /** For an agent's fd 3: the agent and its capabilities. */
  readonly agent: AgentIdentity | undefined
  /** The name given at HELLO, if any. */
  readonly name: string | undefined
  /** Records the name a client gives itself at HELLO. */
  readonly setName: (name: string) => void
  /** Sends a kernel-initiated event to this connection. */
  readonly push: (push: { readonly ev: string; readonly data: unknown }) => void
  /** Runs `f` once the connection has closed (at once if it already has): for synchronous bookkeeping (the router's). */
  readonly onClose: (f: () => void) => void
  /**
   * The connection's scope, closed when the connection closes: a fiber forked in it (a
   * subscription's pushes) ends with the connection, a finalizer added to it runs then.
   */
  readonly scope: Scope.Scope
}

/** The request being served: its id, and a way to send chunks before the reply. @category models */
export interface Call {
  readonly id: number
  /** Sends `{id, more}` to the caller now (streaming syscalls: THINK with stream: true). */
  readonly chunk: (more: unknown) => void
  /** Runs `f` just after this request's reply is written (pushes that must come after it: LOGS follow). */
  readonly afterReply: (f: () => void) => void
}

