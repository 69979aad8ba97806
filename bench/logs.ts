/**
 * What a flooding agent costs the kernel and everyone else. For each scenario a fresh kernel
 * (bench/support/logKernel.ts, its own process) runs one agent that writes as fast as it can —
 * `yes` (short lines) or `cat /dev/zero` (no newline at all) — or none (the baseline); meanwhile
 * another client measures sequential NOOP round trips for a fixed time. Reported per scenario:
 * NOOP p50/p99/mean and how many were answered, the kernel's CPU share, its RSS (current and
 * peak, from /proc) and its live heap after a full GC (what it really holds: RSS also counts
 * garbage V8 has not collected yet), and what its log did with the flood (lines kept and
 * dropped per second).
 *
 * Two kernels are compared for each flood: `paused` (the default: past its rate limit, the
 * kernel stops reading the agent's pipes until the window ends) and `read` (it reads
 * everything and drops what is past the limit, journald's way). Needs root (agents get uids).
 *
 *   npm run bench:logs [-- --quick] [-- --json]     (BENCH_QUICK=1, BENCH_JSON=1)
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Connection } from "../src/client/Connection.ts"
import { Op } from "../src/protocol/Op.ts"
import { machine, table, us } from "./support/report.ts"
import { flag, run, start, stop } from "./support/servers.ts"

const quick = flag("quick", "BENCH_QUICK")
const json = flag("json", "BENCH_JSON")

/** How long the flood runs before measuring, and how long NOOPs are measured. */
const WARMUP_MS = quick ? 1000 : 2000
const MEASURE_MS = quick ? 2000 : 6000

interface Scenario {
  readonly name: string
  readonly mode: "pause" | "read"
  readonly flood: ReadonlyArray<string> | undefined
}

const YES = ["-c", "yes 'a line of flood output'"]
const ZEROS = ["-c", "cat /dev/zero"]

const scenarios: ReadonlyArray<Scenario> = [
  { name: "no flood", mode: "pause", flood: undefined },
  { name: "yes, paused", mode: "pause", flood: YES },
  { name: "yes, read all", mode: "read", flood: YES },
  { name: "zeros, paused", mode: "pause", flood: ZEROS },
  { name: "zeros, read all", mode: "read", flood: ZEROS }
]

interface Result {
  readonly scenario: string
  readonly noops: number
  readonly p50Us: number
  readonly p99Us: number
  readonly meanUs: number
  readonly kernelCpuPercent: number
  readonly rssMiB: number
  readonly peakRssMiB: number
  /** Heap in use after a full GC, external memory included. */
  readonly liveMiB: number
  readonly keptPerSecond: number | null
  readonly droppedPerSecond: number | null
}

const clockTicks = Number(ChildProcess.execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100

/** The kernel process's CPU time so far, in seconds (utime + stime of /proc/<pid>/stat). */
const cpuSeconds = (pid: number): number => {
  const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) / clockTicks
}

/** VmRSS and VmHWM (peak) of a process, in MiB. */
const memory = (pid: number): { readonly rss: number; readonly peak: number } => {
  const status = Fs.readFileSync(`/proc/${pid}/status`, "utf8")
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN)
  return { rss: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 }
}

const percentile = (sorted: Float64Array, p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Asks the kernel (SIGUSR2) for its heap after a full GC; MiB of heap used plus external memory. */
const liveMemory = (kernel: ChildProcess.ChildProcess): Promise<number> =>
  new Promise((resolve, reject) => {
    let text = ""
    const timer = setTimeout(() => reject(new Error("the kernel did not report its memory within 10 s")), 10_000)
    const onData = (chunk: Buffer | string) => {
      text += chunk.toString()
      const m = /memory heapUsed=(\d+) rss=\d+ external=(\d+)/.exec(text)
      if (m === null) return
      clearTimeout(timer)
      kernel.stdout!.off("data", onData)
      resolve((Number(m[1]) + Number(m[2])) / 1024 / 1024)
    }
    kernel.stdout!.on("data", onData)
    kernel.kill("SIGUSR2")
  })

const measure = async (scenario: Scenario, dir: string, index: number): Promise<Result> => {
  const socketPath = Path.join(dir, `kernel-${index}.sock`)
  const stateDir = Path.join(dir, `state-${index}`)
  const kernel = await start(`kernel-${index}`, ["--expose-gc", "bench/support/logKernel.ts", socketPath, stateDir, scenario.mode], /^listening on /m)
  const pid = kernel.pid!
  const admin = await Connection.connect({ path: socketPath })
  const client = await Connection.connect({ path: socketPath })
  try {
    await admin.calls.hello("bench/logs admin")
    await client.calls.hello("bench/logs client")
    for (let i = 0; i < 500; i++) await client.call(Op.NOOP, { i })
    const spawnedAt = Date.now()
    if (scenario.flood !== undefined) {
      await admin.calls.spawn({ name: "flood", run: "sh", args: [...scenario.flood], sandbox: { memory: "64M" } })
    }
    await sleep(WARMUP_MS)

    const cpu0 = cpuSeconds(pid)
    const t0 = process.hrtime.bigint()
    let peak = memory(pid).peak
    const sampler = setInterval(() => {
      peak = Math.max(peak, memory(pid).peak)
    }, 100)
    const rtts: Array<number> = []
    const deadline = Date.now() + MEASURE_MS
    while (Date.now() < deadline) {
      const sent = process.hrtime.bigint()
      await client.call(Op.NOOP, { i: rtts.length })
      rtts.push(Number(process.hrtime.bigint() - sent) / 1e3)
    }
    clearInterval(sampler)
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9
    const kernelCpuPercent = ((cpuSeconds(pid) - cpu0) / seconds) * 100
    const mem = memory(pid)
    // While the flood still runs: what the kernel holds with its log full and a flood in flight.
    const liveMiB = await liveMemory(kernel)

    let keptPerSecond: number | null = null
    let droppedPerSecond: number | null = null
    if (scenario.flood !== undefined) {
      const logs = (await admin.call(Op.LOGS, { name: "flood", n: 1 })) as { lines: ReadonlyArray<{ seq: number }>; dropped: number }
      const elapsed = (Date.now() - spawnedAt) / 1000
      keptPerSecond = (logs.lines[0]?.seq ?? 0) / elapsed
      droppedPerSecond = logs.dropped / elapsed
      await admin.calls.kill("flood", "SIGKILL")
    }
    const sorted = Float64Array.from(rtts).sort()
    return {
      scenario: scenario.name,
      noops: rtts.length,
      p50Us: percentile(sorted, 50),
      p99Us: percentile(sorted, 99),
      meanUs: rtts.reduce((a, b) => a + b, 0) / rtts.length,
      kernelCpuPercent,
      rssMiB: mem.rss,
      peakRssMiB: Math.max(peak, mem.peak),
      liveMiB,
      keptPerSecond,
      droppedPerSecond
    }
  } finally {
    await client.close()
    await admin.close()
    await stop(kernel)
  }
}

const main = async (dir: string): Promise<void> => {
  if ((process.getuid?.() ?? 0) !== 0) throw new Error("needs root: agents run under their own uids")
  // Agents reach their work dirs under it as their own uids: let them pass (not list).
  Fs.chmodSync(dir, 0o711)
  const context = machine()
  const log = (line: string) => {
    if (!json) process.stdout.write(`${line}\n`)
  }
  log(`logs${quick ? " (quick)" : ""}: node ${context.node}, ${context.cpu}, ${context.cores} cores, ${context.os}, load ${context.loadavg.join(" ")}`)
  log(`  per scenario: a fresh kernel, the flood running ${WARMUP_MS} ms, then sequential NOOPs for ${MEASURE_MS} ms`)
  const results: Array<Result> = []
  for (const [index, scenario] of scenarios.entries()) {
    const result = await measure(scenario, dir, index)
    results.push(result)
    log(`  ${scenario.name}: p50 ${us(result.p50Us)} µs, p99 ${us(result.p99Us)} µs, kernel CPU ${result.kernelCpuPercent.toFixed(0)}%, RSS ${result.rssMiB.toFixed(0)} MiB, live ${result.liveMiB.toFixed(1)} MiB`)
  }
  if (json) {
    process.stdout.write(`${JSON.stringify({ machine: context, warmupMs: WARMUP_MS, measureMs: MEASURE_MS, results }, null, 2)}\n`)
    return
  }
  const rate = (n: number | null) => (n === null ? "-" : Math.round(n).toLocaleString("en-US"))
  log("")
  log(table([
    ["scenario", "NOOPs", "p50 µs", "p99 µs", "mean µs", "kernel CPU", "RSS MiB", "peak MiB", "live MiB", "kept/s", "dropped/s"],
    ...results.map((r) => [
      r.scenario,
      r.noops.toLocaleString("en-US"),
      us(r.p50Us),
      us(r.p99Us),
      us(r.meanUs),
      `${r.kernelCpuPercent.toFixed(0)}%`,
      r.rssMiB.toFixed(0),
      r.peakRssMiB.toFixed(0),
      r.liveMiB.toFixed(1),
      rate(r.keptPerSecond),
      rate(r.droppedPerSecond)
    ])
  ]))
}

await run("logs", false, main)
