/**
 * The fault-isolation demo with Python agents (agents/python/examples): the same limits and the
 * same judge as tree.ts, so the seed's demo runs with the standard-library Python SDK too.
 *
 *   npx agentos boot examples/fault-isolation/tree-python.ts
 */
import { agent, defineTree, supervisor } from "agentos"

const python = (file: string) => `../../agents/python/examples/${file}`

export default defineTree(supervisor("fault-isolation", {
  strategy: "one_for_one",
  children: [
    agent("cpu-hog", { run: python("cpu_hog.py"), restart: "temporary", sandbox: { cpu: 0.1, memory: "256M" } }),
    agent("memory-hog", { run: python("memory_hog.py"), args: ["--step-mb", "4", "--interval-ms", "5"], restart: "temporary", sandbox: { memory: "50M", cpu: 0.5 } }),
    agent("healthy", { run: python("healthy.py"), args: ["--seconds", "2", "--interval-ms", "100"], restart: "transient", watchdogMs: 5000, sandbox: { memory: "256M", cpu: 0.5 } }),
    agent("judge", { run: "./agents/judge.ts", restart: "temporary", caps: ["WAIT", "STAT", "KILL"], sandbox: { memory: "256M" } })
  ]
}))
