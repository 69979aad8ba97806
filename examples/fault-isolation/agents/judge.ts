// The fault-isolation demo's judge: waits for the healthy agent and the memory hog to end, reads
// the CPU hog's cgroup figures, stops it, and prints one line per agent, each decided by what
// the kernel measured. Exits 1 when an agent was not contained as it should have been.
import { connect } from "agentos/agent"

interface Exit {
  readonly reason: string
  readonly code: number | null
  readonly description: string
}
interface Stat {
  readonly cpu: { readonly usageUs: number | null; readonly throttledUs: number | null; readonly nrThrottled: number | null }
  readonly memory: { readonly peakBytes: number | null }
}

const mib = (bytes: number | null) => (bytes === null ? "?" : `${(bytes / 1024 / 1024).toFixed(1)} MiB`)
const kernel = await connect()
const started = Date.now()
const healthy = (await kernel.wait("healthy", 120_000)) as unknown as Exit
const memory = (await kernel.wait("memory-hog", 120_000)) as unknown as Exit
// Give the CPU hog at least a second under its limit before judging it.
await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1000 - (Date.now() - started))))
await kernel.kill("cpu-hog", "SIGKILL")
await kernel.wait("cpu-hog", 10_000)
const cpu = (await kernel.stat("cpu-hog")) as unknown as Stat
const memoryStat = (await kernel.stat("memory-hog")) as unknown as Stat

const throttledUs = cpu.cpu.throttledUs ?? 0
const verdicts = [
  throttledUs > 0
    ? `Agent A: infinite loop (CPU hog) → throttled (${(throttledUs / 1e6).toFixed(2)} s throttled over ${cpu.cpu.nrThrottled} periods; used ${((cpu.cpu.usageUs ?? 0) / 1e6).toFixed(2)} s of CPU)`
    : "Agent A: infinite loop (CPU hog) → NOT throttled (throttled time 0: the CPU limit did not hold)",
  memory.reason === "oom"
    ? `Agent B: memory leak (hits limit) → killed (${memory.description}; peak ${mib(memoryStat.memory.peakBytes)})`
    : `Agent B: memory leak (hits limit) → NOT killed by its limit (${memory.description})`,
  healthy.reason === "exited" && healthy.code === 0
    ? "Agent C: healthy → continues (finished its work, exit 0)"
    : `Agent C: healthy → disturbed (${healthy.description})`
]
for (const line of verdicts) console.log(line)
await kernel.close()
process.exitCode = throttledUs > 0 && memory.reason === "oom" && healthy.reason === "exited" && healthy.code === 0 ? 0 : 1
