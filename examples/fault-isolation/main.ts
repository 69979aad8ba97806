/**
 * Fault isolation: three agents share one kernel. A CPU hog runs under a 10% CPU limit and is
 * throttled; a memory hog leaks until its 50 MiB limit kills it; a healthy agent heartbeats and
 * finishes its work as if nothing happened. Every summary line is decided by what the kernel
 * measured, never printed unconditionally.
 *
 *   npx node examples/fault-isolation/main.ts
 */
import * as Path from "node:path"
import { sleep, withKernel } from "../demo.ts"

const here = import.meta.dirname
const agent = (file: string) => Path.join(here, "agents", file)

interface StatResult {
  readonly status: string
  readonly cpu: { readonly usageUs: number | null; readonly throttledUs: number | null; readonly nrThrottled: number | null }
  readonly memory: { readonly peakBytes: number | null }
  readonly exit: { readonly reason: string; readonly code: number | null; readonly signal: string | null; readonly description: string } | null
}

const mib = (bytes: number | null) => (bytes === null ? "?" : `${(bytes / 1024 / 1024).toFixed(1)} MiB`)

const exitCode = await withKernel(async ({ client, output }) => {
  const spawn = (args: Record<string, unknown>) => client.call(0x10, args)
  const stat = (name: string) => client.call(0x14, { name }) as Promise<StatResult>

  await spawn({ name: "cpu-hog", run: agent("cpu-hog.ts"), sandbox: { cpu: 0.1, memory: "256M" } })
  await spawn({ name: "memory-hog", run: agent("memory-hog.ts"), sandbox: { memory: "50M", cpu: 0.5 } })
  await spawn({ name: "healthy", run: agent("healthy.ts"), args: ["20"], sandbox: { memory: "256M", cpu: 0.5 } })
  console.log("spawned cpu-hog (10% CPU), memory-hog (50 MiB), healthy (20 steps)")

  const started = Date.now()
  const healthy = (await client.call(0x13, { name: "healthy", timeoutMs: 60_000 })) as StatResult["exit"] & {}
  const memory = (await client.call(0x13, { name: "memory-hog", timeoutMs: 60_000 })) as StatResult["exit"] & {}
  await sleep(Math.max(0, 1000 - (Date.now() - started)))
  const cpuLive = await stat("cpu-hog")
  await client.call(0x11, { name: "cpu-hog", signal: "SIGKILL" })
  await client.call(0x13, { name: "cpu-hog", timeoutMs: 10_000 })
  const cpuFinal = await stat("cpu-hog")
  const memoryStat = await stat("memory-hog")

  const throttledUs = cpuFinal.cpu.throttledUs ?? cpuLive.cpu.throttledUs ?? 0
  const cpuUs = cpuFinal.cpu.usageUs ?? 0
  const lines = [
    throttledUs > 0
      ? `Agent A: infinite loop (CPU hog) → throttled (${(throttledUs / 1e6).toFixed(2)} s throttled over ${cpuFinal.cpu.nrThrottled} periods; used ${(cpuUs / 1e6).toFixed(2)} s of CPU)`
      : `Agent A: infinite loop (CPU hog) → NOT throttled (throttled time 0: the CPU limit did not hold)`,
    memory.reason === "oom"
      ? `Agent B: memory leak (hits limit) → killed (${memory.description}; peak ${mib(memoryStat.memory.peakBytes)})`
      : `Agent B: memory leak (hits limit) → NOT killed by its limit (${memory.description})`,
    healthy.reason === "exited" && healthy.code === 0
      ? `Agent C: healthy → continues (${output("healthy").filter((l) => l.includes("done")).length} steps done, exit 0)`
      : `Agent C: healthy → disturbed (${healthy.description})`
  ]
  console.log("")
  for (const line of lines) console.log(line)
  const ok = throttledUs > 0 && memory.reason === "oom" && healthy.reason === "exited" && healthy.code === 0
  return ok ? 0 : 1
})
process.exitCode = exitCode
