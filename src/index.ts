/**
 * AgentOS's public surface: declare a tree (defineTree, supervisor, agent, service), boot it,
 * run a kernel, connect to one.
 */
export { agent, defineTree, service, supervisor } from "./supervision/Tree.ts"
export { boot } from "./app/Boot.ts"
export * as Daemon from "./app/Daemon.ts"
export { KernelConfig, type Settings as KernelSettings } from "./process/KernelConfig.ts"
export * as SocketPath from "./protocol/SocketPath.ts"
export { connect, type Agent, type ConnectOptions } from "./client/Agent.ts"
export { Client } from "./client/Client.ts"
export { Connection } from "./client/Connection.ts"
export { ConnectionError, KernelCallError } from "./client/ClientError.ts"
export { ping, type PingResult } from "./client/Ping.ts"
export { Op } from "./protocol/Op.ts"
export { PROTOCOL_VERSION, VERSION } from "./protocol/Version.ts"
