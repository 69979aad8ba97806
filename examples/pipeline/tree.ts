/**
 * The pipeline demo: parser → reasoner (THINK) → verifier, three sandboxed agents under one
 * supervisor, talking only through their kernel mailboxes. A crash is injected into the
 * reasoner mid-stream; the supervisor restarts it, the item it held unacked is delivered again
 * to its next incarnation, and the verifier, which de-duplicates by item id, ends with every
 * item verified exactly once — or says what was lost.
 *
 *   npx agentos boot examples/pipeline/tree.ts                      # 100 items, crash at item 37
 *   PIPELINE_CRASH=random npx agentos boot examples/pipeline/tree.ts  # crashes at random items
 *   PIPELINE_ITEMS=1000 PIPELINE_CRASH=none npx agentos boot examples/pipeline/tree.ts
 */
import { agent, defineTree, supervisor } from "agentos"

const items = process.env.PIPELINE_ITEMS ?? "100"
const crash = process.env.PIPELINE_CRASH ?? "37"
const crashArgs = crash === "none" ? [] : crash === "random" ? ["--crash-random", "0.03"] : ["--crash-at", crash]

export default defineTree(supervisor("pipeline", {
  strategy: "one_for_one",
  intensity: { maxRestarts: 20, withinMs: 60_000 },
  children: [
    agent("verifier", { run: "./agents/verifier.ts", restart: "transient", sandbox: { memory: "256M" } }),
    agent("reasoner", { run: "./agents/reasoner.ts", args: crashArgs, restart: "transient", sandbox: { memory: "256M" } }),
    agent("parser", { run: "./agents/parser.ts", args: [items], restart: "transient", sandbox: { memory: "256M" } })
  ]
}))
