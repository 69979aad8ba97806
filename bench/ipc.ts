/**
 * What IPC costs through the kernel: routed messages per second and one-way latency p50/p99 for
 * SEND→RECV→ACK between two agent processes, for 64 B and 4 KiB payloads, side by side with
 * bench/support/rawRelay.ts, a bare node:net relay (A → broker → B) on the same framing and codec
 * with no mailboxes (the floor a Node kernel can reach). `npm run bench:ipc -- [--quick] [--json]
 * [--cpu-prof]`.
 *
 * How: the kernel (`bin/agentos.js kernel`) and the relay run as child processes, as in
 * bench/ipc-rtt.ts. Every measurement SPAWNs a fresh pair through the kernel, the same scripts
 * with the same sandbox whichever system they measure (bench/support/ipcSender.ts and
 * ipcReceiver.ts): for the kernel they talk over their fd 3; for the relay they connect to its
 * socket, whose directory is granted to their sandbox, and leave fd 3 idle. So the two systems
 * differ only in the broker. Throughput: the sender keeps a window of SENDs in flight, the
 * receiver keeps RECVs outstanding and fires ACKs; rate counted at the receiver. Latency:
 * ping-pong, one-way = round trip / 2. An agent's stdout stays inside the kernel, so each agent
 * writes its figures to result.json in its private work directory, which this process (root)
 * reads after WAIT: the kernel runs with AGENTOS_STATE_DIR in our temp directory, so that is
 * `<state>/<kernel id>/<agent name>/`. Systems alternate measurement by measurement, the best
 * round of each kept, so a noisy 2-core machine hurts both alike.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Connection } from "../src/client/Connection.ts"
import { machine, perSecond, table, us } from "./support/report.ts"
import { flag, root, run, start } from "./support/servers.ts"

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

interface Sizes {
  /** Alternating rounds per system and payload; the best one of each is reported. */
  readonly rounds: number
  /** Messages before the throughput clock starts, then measured. */
  readonly warmup: number
  readonly messages: number
  /** SENDs the sender keeps in flight, RECVs the receiver keeps outstanding. */
  readonly window: number
  readonly depth: number
  /** Ping-pongs before measuring, then measured. */
  readonly pingWarmup: number
  readonly pings: number
}

const FULL: Sizes = { rounds: 2, warmup: 10_000, messages: 100_000, window: 64, depth: 64, pingWarmup: 1_000, pings: 10_000 }
const QUICK: Sizes = { rounds: 2, warmup: 2_000, messages: 10_000, window: 64, depth: 64, pingWarmup: 200, pings: 1_000 }

const PAYLOADS = [64, 4096] as const

/** The goals: kernel messages/s at least half the relay's, p50 at most 2× its. */
const GOAL_RATE_SHARE = 0.5
const GOAL_P50_RATIO = 2

// Each option is a flag or its environment variable: BENCH_QUICK=1, BENCH_JSON=1, BENCH_CPU_PROF=1.

const quick = flag("quick", "BENCH_QUICK")
const json = flag("json", "BENCH_JSON")
// --cpu-prof runs the kernel and the relay under `node --cpu-prof` and says where the profiles went.
const cpuProf = flag("cpu-prof", "BENCH_CPU_PROF")
const sizes = quick ? QUICK : FULL

/** One measurement's agents must be done by then. */
const RUN_TIMEOUT_MS = 300_000
const senderScript = Path.join(root, "bench/support/ipcSender.ts")
const receiverScript = Path.join(root, "bench/support/ipcReceiver.ts")

// ---------------------------------------------------------------------------------------------
// Servers as child processes
// ---------------------------------------------------------------------------------------------

type SystemName = "raw" | "kernel"

// ---------------------------------------------------------------------------------------------
// Measurement
// ---------------------------------------------------------------------------------------------

interface Round {
  readonly system: SystemName
  readonly size: number
  readonly round: number
  readonly messagesPerSecond: number
  readonly p50Us: number
  readonly p99Us: number
  readonly meanUs: number
}

interface Setup {
  readonly conn: Connection
  /** `<state>/<kernel id>`: where each agent's work directory is. */
  readonly workdirs: string
  /** The relay's socket and the directory granted to the agents measuring it. */
  readonly rawSocket: string
  readonly rawDir: string
}

/** One measurement: a fresh sender/receiver pair through `system`, their figures once both end. */
const measure = async (setup: Setup, system: SystemName, size: number, round: number): Promise<Round> => {
  const base = `ipc-${system}-${size}-r${round}`
  const a = `${base}-a`
  const b = `${base}-b`
  const target = system === "kernel" ? "kernel" : setup.rawSocket
  const sandbox = { memory: "512M", ...(system === "raw" ? { readWrite: [setup.rawDir] } : {}) }
  await setup.conn.calls.spawn({
    name: b,
    run: receiverScript,
    args: [target, a, sizes.warmup, sizes.messages, sizes.depth, sizes.pingWarmup + sizes.pings].map(String),
    sandbox
  })
  await setup.conn.calls.spawn({
    name: a,
    run: senderScript,
    args: [target, b, size, sizes.warmup, sizes.messages, sizes.window, sizes.pingWarmup, sizes.pings].map(String),
    sandbox
  })
  const [ea, eb] = await Promise.all([setup.conn.calls.wait(a, RUN_TIMEOUT_MS), setup.conn.calls.wait(b, RUN_TIMEOUT_MS)])
  const result = (name: string, ended: { code: number | null; reason: string }) => {
    const file = Path.join(setup.workdirs, name, "result.json")
    if (ended.code !== 0 || !Fs.existsSync(file)) throw new Error(`agent ${name} ended without its figures (${ended.reason}, code ${ended.code})`)
    return JSON.parse(Fs.readFileSync(file, "utf8")) as Record<string, number>
  }
  const sent = result(a, ea)
  const got = result(b, eb)
  return {
    system,
    size,
    round,
    messagesPerSecond: got.messagesPerSecond!,
    p50Us: sent.p50Us!,
    p99Us: sent.p99Us!,
    meanUs: sent.meanUs!
  }
}

// A system's latency figures come from its round with the lowest p50 (p99 and mean from that
// same round, so they describe one run); its rate from the round with the highest rate.
const best = (rounds: ReadonlyArray<Round>, system: SystemName, size: number) => {
  const own = rounds.filter((r) => r.system === system && r.size === size)
  const latency = own.reduce((x, y) => (y.p50Us < x.p50Us ? y : x))
  const rate = own.reduce((x, y) => (y.messagesPerSecond > x.messagesPerSecond ? y : x))
  return { messagesPerSecond: rate.messagesPerSecond, p50Us: latency.p50Us, p99Us: latency.p99Us, meanUs: latency.meanUs }
}

// ---------------------------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------------------------

const count = (n: number): string => n.toLocaleString("en-US")
const bytes = (n: number): string => (n >= 1024 ? `${n / 1024} KiB` : `${n} B`)

const log = (line: string): void => {
  if (!json) process.stdout.write(`${line}\n`)
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

const main = async (dir: string, profileDir: string | undefined): Promise<void> => {
  const context = machine()
  log(`ipc${quick ? " (quick)" : ""}: node ${context.node}, ${context.cpu}, ${context.cores} cores, ${context.os}, load ${context.loadavg.join(" ")}`)
  log(
    `  per round, system and payload: ${count(sizes.warmup)} + ${count(sizes.messages)} messages (${sizes.window} SENDs in flight, ` +
      `${sizes.depth} RECVs outstanding), ${count(sizes.pingWarmup)} + ${count(sizes.pings)} ping-pongs; ${sizes.rounds} rounds, best kept`
  )

  // Agents pass through (not list) our directory as their own uids, to their work directories
  // and, for the relay, to its socket.
  Fs.chmodSync(dir, 0o711)
  const rawDir = Path.join(dir, "raw")
  const kernelDir = Path.join(dir, "kernel")
  const stateDir = Path.join(dir, "state")
  Fs.mkdirSync(rawDir, { mode: 0o755 })
  Fs.mkdirSync(kernelDir, { mode: 0o700 })
  const rawSocket = Path.join(rawDir, "raw.sock")
  const kernelSocket = Path.join(kernelDir, "kernel.sock")
  await Promise.all([
    start("raw", ["bench/support/rawRelay.ts", rawSocket], /^listening on /m, { profileDir }),
    start("kernel", ["bin/agentos.js", "kernel", "--socket", kernelSocket], /^agentos kernel \S+ listening on /m, {
      env: { ...process.env, AGENTOS_STATE_DIR: stateDir },
      profileDir
    })
  ])
  const conn = await Connection.connect({ path: kernelSocket })
  try {
    const hello = await conn.calls.hello("bench/ipc")
    const setup: Setup = { conn, workdirs: Path.join(stateDir, hello.kernel.id), rawSocket, rawDir }

    const rounds: Array<Round> = []
    for (let round = 1; round <= sizes.rounds; round++) {
      for (const size of PAYLOADS) {
        for (const system of ["raw", "kernel"] as const) {
          const result = await measure(setup, system, size, round)
          rounds.push(result)
          log(
            `  round ${round} ${bytes(size).padStart(6)} ${system.padEnd(6)}  ${perSecond(result.messagesPerSecond).padStart(7)} msg/s  ` +
              `one-way p50 ${us(result.p50Us)} µs  p99 ${us(result.p99Us)} µs  mean ${us(result.meanUs)} µs`
          )
        }
      }
    }

    const results = PAYLOADS.map((size) => {
      const r = best(rounds, "raw", size)
      const k = best(rounds, "kernel", size)
      const rateShare = k.messagesPerSecond / r.messagesPerSecond
      const p50Ratio = k.p50Us / r.p50Us
      return {
        size,
        raw: r,
        kernel: k,
        rateShare,
        p50Ratio,
        p99Ratio: k.p99Us / r.p99Us,
        goals: {
          rateShare: { min: GOAL_RATE_SHARE, met: rateShare >= GOAL_RATE_SHARE },
          p50Ratio: { max: GOAL_P50_RATIO, met: p50Ratio <= GOAL_P50_RATIO }
        }
      }
    })

    if (json) {
      process.stdout.write(`${JSON.stringify({ machine: context, sizes, rounds, results }, null, 2)}\n`)
      return
    }

    const ratio = (n: number): string => `${n.toFixed(2)}×`
    const met = (ok: boolean): string => (ok ? "met" : "MISSED")
    const rows: Array<ReadonlyArray<string>> = [["metric", "raw relay", "kernel", "ratio", "goal", "met?"]]
    for (const { size, raw: r, kernel: k, rateShare, p50Ratio, p99Ratio, goals } of results) {
      rows.push(
        [`${bytes(size)} messages/s`, perSecond(r.messagesPerSecond), perSecond(k.messagesPerSecond), `${Math.round(rateShare * 100)}%`, `≥ ${GOAL_RATE_SHARE * 100}%`, met(goals.rateShare.met)],
        [`${bytes(size)} p50 one-way (µs)`, us(r.p50Us), us(k.p50Us), ratio(p50Ratio), `≤ ${GOAL_P50_RATIO}×`, met(goals.p50Ratio.met)],
        [`${bytes(size)} p99 one-way (µs)`, us(r.p99Us), us(k.p99Us), ratio(p99Ratio), "-", "-"],
        [`${bytes(size)} mean one-way (µs)`, us(r.meanUs), us(k.meanUs), ratio(k.meanUs / r.meanUs), "-", "-"]
      )
    }
    log("")
    log(table(rows))
    log("")
    const missed = results.flatMap(({ size, goals }) => [
      goals.rateShare.met ? [] : [`${bytes(size)} messages/s`],
      goals.p50Ratio.met ? [] : [`${bytes(size)} p50`]
    ].flat())
    const summary = results.map(({ size, rateShare, p50Ratio }) => `${bytes(size)}: rate ${Math.round(rateShare * 100)}%, p50 ${ratio(p50Ratio)}`).join("; ")
    log(missed.length === 0 ? `verdict: every goal met (${summary} of the raw relay's)` : `verdict: goal missed for ${missed.join(", ")} (${summary} of the raw relay's)`)
  } finally {
    await conn.close()
  }
}

await run("ipc", cpuProf, main)
