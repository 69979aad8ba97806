/**
 * The supervisor demo: a root supervisor over three workers.
 * - flaky crashes every ~2 s and is restarted (one_for_one); its 4th run finishes cleanly;
 * - crash-loop fails at once, every time: past its sub-supervisor's intensity (2 restarts in
 *   10 s) the sub-supervisor gives up and escalates; the root lets it go (temporary);
 * - healthy heartbeats through it all and finishes.
 *
 *   npx agentos boot examples/supervisor/tree.ts
 */
import { agent, defineTree, supervisor } from "agentos"

export default defineTree(supervisor("root", {
  strategy: "one_for_one",
  intensity: { maxRestarts: 10, withinMs: 60_000 },
  children: [
    agent("flaky", { run: "./agents/worker.ts", args: ["flaky", "4"], restart: "transient", sandbox: { memory: "256M" } }),
    supervisor("fragile", {
      strategy: "one_for_one",
      intensity: { maxRestarts: 2, withinMs: 10_000 },
      restart: "temporary",
      children: [agent("crash-loop", { run: "./agents/worker.ts", args: ["crash-loop"], sandbox: { memory: "256M" } })]
    }),
    agent("healthy", { run: "./agents/worker.ts", args: ["healthy", "16"], restart: "transient", watchdogMs: 5000, sandbox: { memory: "256M" } })
  ]
}))
