/**
 * An agent's state as LIST shows it, and which of them have a process. Imports nothing, so the
 * CLI's views (`agentos top`, the observer) read the same fact the kernel does.
 */

/** An agent's state as LIST shows it. @category models */
export type Status = "starting" | "running" | "stopping" | "exited" | "failed"

/** Whether an agent in this state has a process: it is starting, running or being stopped. @category guards */
export const isAlive = (status: string): boolean => status === "starting" || status === "running" || status === "stopping"
