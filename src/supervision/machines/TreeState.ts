/**
 * Which states of a tree node (ChildLifecycle's, as TREE shows them) count as what. Imports
 * nothing, so the CLI's views read the same fact the supervisors and the router do.
 */

/** Whether a child in this state has a process: it is starting, running or being stopped. @category guards */
export const hasProcess = (state: string): boolean => state === "starting" || state === "running" || state === "stopping"

/** Whether a child in this state runs now or will again: it has a process, or its supervisor is about to start it (backoff, restarting). @category guards */
export const isActive = (state: string): boolean => hasProcess(state) || state === "backoff" || state === "restarting"
