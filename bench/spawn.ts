/**
 * Spawn-to-running latency: from asking for a process to its first output byte, for a tiny
 * program (`/bin/echo ready`) started (1) plainly with child_process.spawn, (2) through the
 * kernel's launcher as the kernel would launch an agent here (every namespace, limits held by a
 * cgroup or by the launcher, seccomp; Landlock where there are no user namespaces), and (3)
 * with `bwrap --unshare-all` when bubblewrap is installed. Same machine, same run, interleaved.
 *
 * As root it then runs itself again as an ordinary user in each situation of docs/isolation.md
 * (A: user namespaces, with a uid of the user's /etc/subuid range, and with the user's own;
 * B: a delegated cgroup; C: user namespaces refused, Landlock) and prints them side by side:
 * the overhead over a plain spawn in each. Goals: overhead under 5 ms and no more than bwrap's
 * as root; without root, within 1 ms of root's.
 *
 *   npm run bench:spawn [-- --quick] [-- --json]
 */
import { Effect, Exit, Scope } from "effect"
import * as ChildProcess from "node:child_process"
import { Launcher } from "../src/sandbox/Launcher.ts"
import * as LaunchSpec from "../src/sandbox/LaunchSpec.ts"
import * as NodeLauncher from "../src/sandbox/NodeLauncher.ts"
import * as Isolation from "../src/sandbox/Isolation.ts"
import * as AgentSpec from "../src/process/AgentSpec.ts"
import { DEFAULT_UID_RANGE } from "../src/process/KernelConfig.ts"
import * as PeerCredentials from "../src/sandbox/PeerCredentials.ts"
import * as Report from "./support/report.ts"

const quick = process.argv.includes("--quick")
const json = process.argv.includes("--json")
/** Set when this run is the child of a root run, in one situation: print JSON only. */
const child = process.argv.find((a) => a.startsWith("--as="))?.slice(5)
const sharedUid = process.argv.includes("--shared-uid")
const iterations = quick ? 15 : 100
const echo = AgentSpec.which("echo") ?? "/bin/echo"
// bwrap is the peer of the root run (it needs user namespaces, which C refuses).
const bwrap = child === undefined ? AgentSpec.which("bwrap") : undefined
const kernelId = `bench${process.pid}`
const root = (process.getuid?.() ?? 0) === 0
const machine = Isolation.detect(NodeLauncher.launcherPath, { prepareCgroups: true })
const mode = Isolation.defaultMode(machine)

const firstOutput = (proc: ChildProcess.ChildProcess, started: bigint) =>
  new Promise<number>((resolve, reject) => {
    proc.stdout!.once("data", () => resolve(Number(process.hrtime.bigint() - started) / 1e6))
    proc.once("error", reject)
    proc.once("exit", (code) => (code !== 0 ? reject(new Error(`exited ${code}`)) : undefined))
  })

const plain = async () => {
  const t0 = process.hrtime.bigint()
  const proc = ChildProcess.spawn(echo, ["ready"], { stdio: ["ignore", "pipe", "inherit"] })
  const ms = await firstOutput(proc, t0)
  await new Promise((resolve) => proc.once("close", resolve))
  return ms
}

const bubblewrap = async () => {
  const t0 = process.hrtime.bigint()
  const proc = ChildProcess.spawn(bwrap!, ["--unshare-all", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", echo, "ready"], {
    stdio: ["ignore", "pipe", "inherit"]
  })
  const ms = await firstOutput(proc, t0)
  await new Promise((resolve) => proc.once("close", resolve))
  return ms
}

/** The ids an agent gets here: the root range, the user's subordinate range, or none (its own). */
const idsFor = (i: number): { uid?: number; gid?: number } => {
  if (root) return { uid: DEFAULT_UID_RANGE.first + (i % 500), gid: DEFAULT_UID_RANGE.first + (i % 500) }
  if (sharedUid || mode !== "namespaces" || "problem" in machine.subordinate) return {}
  return { uid: machine.subordinate.uids.first + (i % 500), gid: machine.subordinate.gids.first + (i % 500) }
}

let n = 0
const launcher = (spawn: Launcher["Service"]["spawn"]) => {
  const i = n++
  const spec = LaunchSpec.make([echo, "ready"], {
    ...idsFor(i),
    ...Isolation.containment(machine, mode, `${kernelId}/echo-${i}`),
    memoryMax: 64 * 1024 * 1024,
    pidsMax: 16,
    cpuMax: { quotaUs: 50_000, periodUs: 100_000 }
  })
  return Effect.gen(function* () {
    const [kernelEnd, agentEnd] = PeerCredentials.socketPair()
    const scope = yield* Scope.make()
    const t0 = process.hrtime.bigint()
    const launched = yield* spawn(spec, agentEnd).pipe(Scope.provide(scope))
    const ms = yield* Effect.callback<number>((resume) => {
      launched.onOutput(() => resume(Effect.succeed(Number(process.hrtime.bigint() - t0) / 1e6)))
    })
    yield* launched.ended
    yield* Scope.close(scope, Exit.void)
    PeerCredentials.closeFd(kernelEnd)
    PeerCredentials.closeFd(agentEnd)
    return { ms, isolation: launched.isolation }
  })
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}
const p90 = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]!

const measure = Effect.gen(function* () {
  const { spawn } = yield* Launcher
  const samples = { plain: [] as Array<number>, launcher: [] as Array<number>, bwrap: [] as Array<number> }
  let isolation: unknown
  for (let i = 0; i < 5; i++) {
    yield* Effect.promise(plain)
    yield* launcher(spawn)
  }
  for (let i = 0; i < iterations; i++) {
    samples.plain.push(yield* Effect.promise(plain))
    const launched = yield* launcher(spawn)
    samples.launcher.push(launched.ms)
    isolation = launched.isolation
    if (bwrap !== undefined) samples.bwrap.push(yield* Effect.promise(bubblewrap))
  }
  const base = median(samples.plain)
  return {
    situation: child ?? (root ? "root" : Isolation.describeSituation(machine)),
    isolation,
    plainMs: { median: base, p90: p90(samples.plain) },
    launcherMs: { median: median(samples.launcher), p90: p90(samples.launcher), overhead: median(samples.launcher) - base },
    bwrapMs: samples.bwrap.length === 0 ? null : { median: median(samples.bwrap), p90: p90(samples.bwrap), overhead: median(samples.bwrap) - base }
  }
}).pipe(Effect.provide(NodeLauncher.layer))

type Result = Effect.Success<typeof measure>

const here = await Effect.runPromise(measure)
if (child !== undefined) {
  console.log(JSON.stringify(here))
  process.exit(0)
}

// As root: the same run again as an ordinary user in each situation.
const others: Array<Result> = []
if (root) {
  const Situations = await import("../test/support/situations.ts")
  const Rootless = await import("../test/support/rootlessSetup.ts")
  const teardown = Rootless.default()
  try {
    const runs: Array<[string, Parameters<typeof Situations.run>[0], ReadonlyArray<string>]> = [
      ["A, own uid (newuidmap)", "A", []],
      ["A, the user's uid", "A", ["--shared-uid"]],
      ["B (delegated cgroup)", "B", []],
      ["C (Landlock)", "C", []]
    ]
    for (const [label, situation, extra] of runs) {
      const r = await Situations.run(situation, [`--as=${label}`, ...extra, ...(quick ? ["--quick"] : [])], {}, "bench/spawn.ts")
      const done = await r.exited
      const line = r.stdout().trim().split("\n").pop() ?? ""
      await r.stop()
      if (done.code !== 0) throw new Error(`bench as ${label} failed (${done.code}): ${r.stderr()}`)
      others.push(JSON.parse(line) as Result)
    }
  } finally {
    teardown?.()
  }
}

if (json) {
  console.log(JSON.stringify({ machine: Report.machine(), iterations, results: [here, ...others] }, null, 2))
} else {
  const m = Report.machine()
  console.log(`spawn-to-running of ${echo} ready, ${iterations} runs each (Node ${m.node}, ${m.cores}× ${m.cpu}, load ${m.loadavg.join(" ")})`)
  const rows: Array<Array<string>> = [["", "median", "p90", "overhead over plain"]]
  const ms = (x: number) => `${x.toFixed(2)} ms`
  rows.push(["plain spawn", ms(here.plainMs.median), ms(here.plainMs.p90), "—"])
  rows.push([`agentos-launch as ${here.situation}`, ms(here.launcherMs.median), ms(here.launcherMs.p90), ms(here.launcherMs.overhead)])
  if (here.bwrapMs !== null) rows.push(["bwrap --unshare-all", ms(here.bwrapMs.median), ms(here.bwrapMs.p90), ms(here.bwrapMs.overhead)])
  for (const o of others) {
    rows.push([`  plain spawn, as the user (${o.situation})`, ms(o.plainMs.median), ms(o.plainMs.p90), "—"])
    rows.push([`  agentos-launch, ${o.situation}`, ms(o.launcherMs.median), ms(o.launcherMs.p90), ms(o.launcherMs.overhead)])
  }
  console.log(Report.table(rows))
  if (here.bwrapMs === null) console.log("bwrap --unshare-all: not installed (apt-get install bubblewrap to compare)")
  const underFive = here.launcherMs.overhead < 5
  const vsBwrap = here.bwrapMs === null ? "n/a" : here.launcherMs.overhead <= here.bwrapMs.overhead ? "met" : "missed"
  console.log(`goal: overhead < 5 ms: ${underFive ? "met" : "missed"}; overhead ≤ bwrap's: ${vsBwrap}`)
  for (const o of others) {
    const delta = o.launcherMs.overhead - here.launcherMs.overhead
    console.log(`goal: ${o.situation} within 1 ms of root's overhead: ${delta <= 1 ? "met" : "missed"} (${delta >= 0 ? "+" : ""}${delta.toFixed(2)} ms)`)
  }
}
