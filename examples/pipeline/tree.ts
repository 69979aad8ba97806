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
const crashRate = 0.03
const crashArgs = crash === "none" ? [] : crash === "random" ? ["--crash-random", String(crashRate)] : ["--crash-at", crash]
// Random crashes are the reasoner's expected behaviour, not a crash loop: the intensity allows
// twice the crashes the run should see (3% of the items), so only a reasoner that crashes far
// more often than it was asked to escalates. 20 in a minute otherwise (one crash at most).
const expectedCrashes = crash === "random" ? Math.ceil(Number(items) * crashRate) : 1
const maxRestarts = Math.max(20, 2 * expectedCrashes + 10)

export default defineTree(supervisor("pipeline", {
  strategy: "one_for_one",
  intensity: { maxRestarts, withinMs: 60_000 },
  children: [
    agent("verifier", { run: "./agents/verifier.ts", restart: "transient", sandbox: { memory: "256M" } }),
    agent("reasoner", { run: "./agents/reasoner.ts", args: crashArgs, restart: "transient", sandbox: { memory: "256M" } }),
    agent("parser", { run: "./agents/parser.ts", args: [items], restart: "transient", sandbox: { memory: "256M" } })
  ]
}))
