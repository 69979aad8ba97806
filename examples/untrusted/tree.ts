/**
 * Untrusted agents: one probes the filesystem (secrets, homes, system directories, other
 * processes' environments), one the network (host loopback TCP, the kernel's socket by path,
 * DNS, a host abstract socket), one forks without end. The probes judge their own attempts;
 * the judge, granted WAIT, STAT and KILL, decides the fork bomb's fate from the kernel's
 * figures. The bait is the one agent given the host's network: the listeners to reach for.
 *
 *   npx agentos boot examples/untrusted/tree.ts
 */
import { agent, defineTree, supervisor } from "agentos"

// `agentos boot` tells the tree where its kernel listens: the path the probe must not reach.
const kernelSocket = process.env.AGENTOS_SOCKET ?? "/tmp/agentos-0/kernel.sock"
// The bait's TCP port on the host's loopback; another with UNTRUSTED_BAIT_PORT (two demos at once).
const port = process.env.UNTRUSTED_BAIT_PORT ?? "47613"
const abstractName = `agentos-untrusted-bait-${port}`

export default defineTree(supervisor("untrusted", {
  strategy: "one_for_one",
  children: [
    agent("bait", { run: "./agents/bait.ts", args: [port, abstractName], restart: "temporary", sandbox: { network: "host", memory: "128M" } }),
    agent("malicious-fs", { run: "./agents/malicious-fs.ts", restart: "temporary", sandbox: { memory: "256M" } }),
    agent("malicious-net", { run: "./agents/malicious-net.ts", args: [port, kernelSocket, abstractName], restart: "temporary", sandbox: { memory: "256M" } }),
    agent("fork-bomb", { run: "./agents/fork-bomb.ts", restart: "temporary", sandbox: { pids: 32, cpu: 0.25, memory: "128M" } }),
    agent("judge", { run: "./agents/judge.ts", restart: "temporary", caps: ["WAIT", "STAT", "KILL"], sandbox: { memory: "256M" } })
  ]
}))
