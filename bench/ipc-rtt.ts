/**
 * What a syscall costs through the kernel: NOOP round-trip latency (p50/p99/mean) and pipelined
 * NOOPs per second, side by side with bench/support/rawEcho.ts, a bare node:net server on the
 * same framing and codec (the floor a Node kernel can reach). Both run as child processes driven
 * by the same Connection client, alternated round by round with the best round kept, so a noisy
 * 2-core machine hurts both alike. `npm run bench:rtt -- [--quick] [--json] [--cpu-prof]`.
 */
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import { Connection } from "../src/client/Connection.ts"
import { Op } from "../src/protocol/Op.ts"
import { machine, perSecond, table, us } from "./support/report.ts"
import { flag, run, start } from "./support/servers.ts"

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

interface Sizes {
  /** Alternating rounds per server; the best one of each is reported. */
  readonly rounds: number
  /** Sequential NOOPs before measuring, and a pipelined burst, so both paths are JIT-warm. */
  readonly warmup: number
  readonly warmupPipelined: number
  /** Sequential NOOPs measured one by one. */
  readonly sequential: number
  /** Pipelined NOOPs in total, and how many are kept in flight. */
  readonly pipelined: number
  readonly window: number
}

const FULL: Sizes = { rounds: 2, warmup: 2_000, warmupPipelined: 20_000, sequential: 20_000, pipelined: 200_000, window: 256 }
const QUICK: Sizes = { rounds: 2, warmup: 200, warmupPipelined: 2_000, sequential: 2_000, pipelined: 20_000, window: 256 }

/** The issue's goals: kernel p50 at most 1.5× the floor's, pipelined rate at least half of it. */
const GOAL_P50_RATIO = 1.5
const GOAL_RATE_SHARE = 0.5

// Each option is a flag or its environment variable: BENCH_QUICK=1, BENCH_JSON=1, BENCH_CPU_PROF=1.
const quick = flag("quick", "BENCH_QUICK")
const json = flag("json", "BENCH_JSON")
// --cpu-prof runs both servers under `node --cpu-prof` and says where the profiles went.
const cpuProf = flag("cpu-prof", "BENCH_CPU_PROF")
const sizes = quick ? QUICK : FULL


// ---------------------------------------------------------------------------------------------
// Servers as child processes
// ---------------------------------------------------------------------------------------------

type ServerName = "raw" | "kernel"

interface Server {
  readonly name: ServerName
  readonly socketPath: string
  readonly child: ChildProcess.ChildProcess
}

/** Starts a server and resolves once it prints its ready line. */
const startServer = (name: ServerName, args: ReadonlyArray<string>, socketPath: string, ready: RegExp, profileDir: string | undefined): Promise<Server> =>
  start(name, args, ready, { profileDir }).then((child) => ({ name, socketPath, child }))

// ---------------------------------------------------------------------------------------------
// Measurement
// ---------------------------------------------------------------------------------------------

interface Round {
  readonly server: ServerName
  readonly round: number
  readonly p50Us: number
  readonly p99Us: number
  readonly meanUs: number
  readonly callsPerSecond: number
}

const percentile = (sorted: Float64Array, p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN

/** Keeps `window` NOOPs in flight until `total` have been answered; resolves with calls per second. */
const pipelined = (conn: Connection, total: number, window: number): Promise<number> =>
  new Promise((resolve, reject) => {
    let issued = 0
    let answered = 0
    const started = process.hrtime.bigint()
    const onAnswer = (): void => {
      answered++
      if (answered === total) {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9
        resolve(total / seconds)
      } else if (issued < total) {
        issue()
      }
    }
    const issue = (): void => {
      const seq = issued++
      conn.call(Op.NOOP, { seq }).then(onAnswer, reject)
    }
    for (let i = 0; i < Math.min(window, total); i++) issue()
  })

/** One round against one server, on a fresh connection. */
const measure = async (server: Server, round: number): Promise<Round> => {
  const conn = await Connection.connect({ path: server.socketPath })
  try {
    // The raw echo answers HELLO with its own args; the reply is not looked at.
    await conn.call(Op.HELLO, { version: 1, name: "bench/ipc-rtt" })
    for (let i = 0; i < sizes.warmup; i++) await conn.call(Op.NOOP, { seq: i })
    await pipelined(conn, sizes.warmupPipelined, sizes.window)

    const rtts = new Float64Array(sizes.sequential)
    for (let i = 0; i < sizes.sequential; i++) {
      const sent = process.hrtime.bigint()
      await conn.call(Op.NOOP, { seq: i })
      rtts[i] = Number(process.hrtime.bigint() - sent) / 1e3
    }
    const callsPerSecond = await pipelined(conn, sizes.pipelined, sizes.window)

    let sum = 0
    for (const rtt of rtts) sum += rtt
    rtts.sort()
    return {
      server: server.name,
      round,
      p50Us: percentile(rtts, 50),
      p99Us: percentile(rtts, 99),
      meanUs: sum / rtts.length,
      callsPerSecond
    }
  } finally {
    await conn.close()
  }
}

// The latency figures of a server come from its round with the lowest p50 (p99 and mean from
// that same round, so they describe one run); its rate from the round with the highest rate.
const best = (rounds: ReadonlyArray<Round>, server: ServerName) => {
  const own = rounds.filter((r) => r.server === server)
  const latency = own.reduce((a, b) => (b.p50Us < a.p50Us ? b : a))
  const rate = own.reduce((a, b) => (b.callsPerSecond > a.callsPerSecond ? b : a))
  return { p50Us: latency.p50Us, p99Us: latency.p99Us, meanUs: latency.meanUs, callsPerSecond: rate.callsPerSecond }
}

// ---------------------------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------------------------

const log = (line: string): void => {
  if (!json) process.stdout.write(`${line}\n`)
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

const main = async (dir: string, profileDir: string | undefined): Promise<void> => {
  const context = machine()
  log(`ipc-rtt${quick ? " (quick)" : ""}: node ${context.node}, ${context.cpu}, ${context.cores} cores, ${context.os}, load ${context.loadavg.join(" ")}`)
  log(
    `  per round and server: ${sizes.warmup.toLocaleString("en-US")} warm-up, ${sizes.sequential.toLocaleString("en-US")} sequential, ` +
      `${sizes.pipelined.toLocaleString("en-US")} pipelined (window ${sizes.window}); ${sizes.rounds} rounds, best kept`
  )

  const rawPath = Path.join(dir, "raw.sock")
  const kernelPath = Path.join(dir, "kernel.sock")
  const [raw, kernel] = await Promise.all([
    startServer("raw", ["bench/support/rawEcho.ts", rawPath], rawPath, /^listening on /m, profileDir),
    startServer("kernel", ["bin/agentos.js", "kernel", "--socket", kernelPath], kernelPath, /^agentos kernel \S+ listening on /m, profileDir)
  ])

  const rounds: Array<Round> = []
  for (let round = 1; round <= sizes.rounds; round++) {
    for (const server of [raw, kernel]) {
      const result = await measure(server, round)
      rounds.push(result)
      log(
        `  round ${round} ${server.name.padEnd(6)}  p50 ${us(result.p50Us)} µs  p99 ${us(result.p99Us)} µs  ` +
          `mean ${us(result.meanUs)} µs  pipelined ${perSecond(result.callsPerSecond)}/s`
      )
    }
  }

  const r = best(rounds, "raw")
  const k = best(rounds, "kernel")
  const p50Ratio = k.p50Us / r.p50Us
  const rateShare = k.callsPerSecond / r.callsPerSecond
  const p50Met = p50Ratio <= GOAL_P50_RATIO
  const rateMet = rateShare >= GOAL_RATE_SHARE

  if (json) {
    process.stdout.write(`${JSON.stringify({
      machine: context,
      sizes,
      rounds,
      raw: r,
      kernel: k,
      p50Ratio,
      p99Ratio: k.p99Us / r.p99Us,
      meanRatio: k.meanUs / r.meanUs,
      rateShare,
      goals: { p50Ratio: { max: GOAL_P50_RATIO, met: p50Met }, rateShare: { min: GOAL_RATE_SHARE, met: rateMet } }
    }, null, 2)}\n`)
    return
  }

  const ratio = (n: number): string => `${n.toFixed(2)}×`
  const met = (ok: boolean): string => (ok ? "met" : "MISSED")
  log("")
  log(table([
    ["metric", "raw echo", "kernel", "ratio", "goal", "met?"],
    ["p50 RTT (µs)", us(r.p50Us), us(k.p50Us), ratio(p50Ratio), `≤ ${GOAL_P50_RATIO}×`, met(p50Met)],
    ["p99 RTT (µs)", us(r.p99Us), us(k.p99Us), ratio(k.p99Us / r.p99Us), "-", "-"],
    ["mean RTT (µs)", us(r.meanUs), us(k.meanUs), ratio(k.meanUs / r.meanUs), "-", "-"],
    [
      "pipelined NOOP/s",
      perSecond(r.callsPerSecond),
      perSecond(k.callsPerSecond),
      `${Math.round(rateShare * 100)}%`,
      `≥ ${GOAL_RATE_SHARE * 100}%`,
      met(rateMet)
    ]
  ]))
  log("")
  const missed = [p50Met ? undefined : "p50 RTT", rateMet ? undefined : "pipelined rate"].filter((m) => m !== undefined)
  log(
    missed.length === 0
      ? `verdict: both goals met (kernel p50 ${ratio(p50Ratio)} the raw echo's, pipelined rate ${Math.round(rateShare * 100)}% of it)`
      : `verdict: goal missed for ${missed.join(" and ")} (kernel p50 ${ratio(p50Ratio)} the raw echo's, pipelined rate ${Math.round(rateShare * 100)}% of it)`
  )
}

await run("ipc-rtt", cpuProf, main)
