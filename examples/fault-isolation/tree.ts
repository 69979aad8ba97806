/**
 * Fault isolation: three agents share one kernel. A CPU hog runs under a 10% CPU limit and is
 * throttled; a memory hog leaks until its 50 MiB limit OOM-kills it; a healthy agent heartbeats
 * and finishes its work as if nothing happened. A judge agent, granted WAIT, STAT and KILL,
 * decides each summary line from what the kernel measured, then stops the CPU hog.
 *
 *   npx agentos boot examples/fault-isolation/tree.ts
 */
import { agent, defineTree, supervisor } from "agentos"

export default defineTree(supervisor("fault-isolation", {
  strategy: "one_for_one",
  children: [
    agent("cpu-hog", { run: "./agents/cpu-hog.ts", restart: "temporary", sandbox: { cpu: 0.1, memory: "256M" } }),
    agent("memory-hog", { run: "./agents/memory-hog.ts", restart: "temporary", sandbox: { memory: "50M", cpu: 0.5 } }),
    agent("healthy", { run: "./agents/healthy.ts", args: ["20"], restart: "transient", watchdogMs: 5000, sandbox: { memory: "256M", cpu: 0.5 } }),
    agent("judge", { run: "./agents/judge.ts", restart: "temporary", caps: ["WAIT", "STAT", "KILL"], sandbox: { memory: "256M" } })
  ]
}))
