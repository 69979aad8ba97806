/**
 * How the process table hands over the kernel's end of an agent's fd-3 socket: "serve this
 * socket as this agent". Defined here, beside the process table that needs it, and implemented
 * by the session layer above (Sessions.agentConnections), so that spawning an agent needs
 * nothing of the kernel that dispatches its requests.
 */
import { Context, type Effect } from "effect"
import type * as Net from "node:net"
import type { Capabilities } from "./Capabilities.ts"
import type { PeerCredentials } from "../sandbox/PeerCredentials.ts"

/** The agent behind an fd-3 connection. @category models */
export interface AgentIdentity {
  readonly id: string
  readonly name: string
  readonly caps: Capabilities
}

/** One agent's connection, to be served until it closes. @category models */
export interface AgentConnection {
  readonly socket: Net.Socket
  /** Who the kernel gave the socket to (SO_PEERCRED would name the kernel itself). */
  readonly peer: PeerCredentials
  readonly agent: AgentIdentity
}

/** Serves agents' connections. @category services */
export class AgentConnections extends Context.Service<AgentConnections, {
  /** Serves the connection from now until it closes. */
  readonly serve: (connection: AgentConnection) => Effect.Effect<void>
}>()("agentos/process/AgentConnections") {}
