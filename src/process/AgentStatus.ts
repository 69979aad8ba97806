/**
 * Which of an agent's states (LIST's, protocol/Rows.ts) have a process. Imports only the
 * protocol, so the CLI's views (`agentos top`, the observer) read the same fact the kernel does.
 */

export type { Status } from "../protocol/Rows.ts"

/** Whether an agent in this state has a process: it is starting, running or being stopped. @category guards */
export const isAlive = (status: string): boolean => status === "starting" || status === "running" || status === "stopping"
