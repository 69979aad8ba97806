/**
 * Spawn-to-running latency: from asking for a process to its first output byte, for a tiny
 * program (`/bin/echo ready`) started (1) plainly with child_process.spawn, (2) through the
 * kernel's launcher with every namespace, a cgroup with limits and seccomp, and (3) with
 * `bwrap --unshare-all` when bubblewrap is installed. Same machine, same run, interleaved.
 * Goal: launcher overhead over plain spawn no more than bwrap's, and under 5 ms.
 *
 *   npm run bench:spawn [-- --quick] [-- --json]
 */
import { Effect, Exit, Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Os from "node:os"
import { Launcher } from "../src/sandbox/Launcher.ts"
import * as LaunchSpec from "../src/sandbox/LaunchSpec.ts"
import * as NodeLauncher from "../src/sandbox/NodeLauncher.ts"
import * as AgentSpec from "../src/kernel/AgentSpec.ts"
import * as PeerCredentials from "../src/kernel/PeerCredentials.ts"

const quick = process.argv.includes("--quick")
const json = process.argv.includes("--json")
const iterations = quick ? 15 : 100
const echo = AgentSpec.which("echo") ?? "/bin/echo"
const bwrap = AgentSpec.which("bwrap")
const kernelId = `bench${process.pid}`

const firstOutput = (child: ChildProcess.ChildProcess, started: bigint) =>
  new Promise<number>((resolve, reject) => {
    child.stdout!.once("data", () => resolve(Number(process.hrtime.bigint() - started) / 1e6))
    child.once("error", reject)
    child.once("exit", (code) => (code !== 0 ? reject(new Error(`exited ${code}`)) : undefined))
  })

const plain = async () => {
  const t0 = process.hrtime.bigint()
  const child = ChildProcess.spawn(echo, ["ready"], { stdio: ["ignore", "pipe", "inherit"] })
  const ms = await firstOutput(child, t0)
  await new Promise((resolve) => child.once("close", resolve))
  return ms
}

const bubblewrap = async () => {
  const t0 = process.hrtime.bigint()
  const child = ChildProcess.spawn(bwrap!, ["--unshare-all", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", echo, "ready"], {
    stdio: ["ignore", "pipe", "inherit"]
  })
  const ms = await firstOutput(child, t0)
  await new Promise((resolve) => child.once("close", resolve))
  return ms
}

let n = 0
const launcher = (spawn: Launcher["Service"]["spawn"]) => {
  const i = n++
  const spec: LaunchSpec.LaunchSpec = {
    argv: [echo, "ready"],
    env: { PATH: "/usr/bin:/bin" },
    ...((process.getuid?.() ?? 0) === 0 ? { uid: 165000 + (i % 500), gid: 165000 + (i % 500), cgroup: `agentos/${kernelId}/echo-${i}` } : {}),
    memoryMax: 64 * 1024 * 1024,
    pidsMax: 16,
    cpuMax: { quotaUs: 50_000, periodUs: 100_000 },
    namespaces: LaunchSpec.allNamespaces,
    readOnly: [],
    readWrite: [],
    tmpfs: [],
    network: "none",
    seccomp: "default",
    rlimits: { core: 0 }
  }
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
    return ms
  })
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}
const p90 = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]!

const program = Effect.gen(function* () {
  const { spawn } = yield* Launcher
  const samples = { plain: [] as Array<number>, launcher: [] as Array<number>, bwrap: [] as Array<number> }
  for (let i = 0; i < 5; i++) {
    yield* Effect.promise(plain)
    yield* launcher(spawn)
  }
  for (let i = 0; i < iterations; i++) {
    samples.plain.push(yield* Effect.promise(plain))
    samples.launcher.push(yield* launcher(spawn))
    if (bwrap !== undefined) samples.bwrap.push(yield* Effect.promise(bubblewrap))
  }
  return samples
})

const samples = await Effect.runPromise(program.pipe(Effect.provide(NodeLauncher.layer)))
const base = median(samples.plain)
const result = {
  machine: { node: process.version, cpu: Os.cpus()[0]?.model ?? "?", cores: Os.cpus().length, root: (process.getuid?.() ?? 0) === 0 },
  iterations,
  plainMs: { median: base, p90: p90(samples.plain) },
  launcherMs: { median: median(samples.launcher), p90: p90(samples.launcher), overhead: median(samples.launcher) - base },
  bwrapMs: samples.bwrap.length === 0 ? null : { median: median(samples.bwrap), p90: p90(samples.bwrap), overhead: median(samples.bwrap) - base }
}
if (json) {
  console.log(JSON.stringify(result, null, 2))
} else {
  console.log(`spawn-to-running of ${echo} ready, ${iterations} runs each (Node ${result.machine.node}, ${result.machine.cores}× ${result.machine.cpu})`)
  const row = (name: string, r: { median: number; p90: number }, overhead?: number) =>
    console.log(`${name.padEnd(40)} median ${r.median.toFixed(2).padStart(7)} ms   p90 ${r.p90.toFixed(2).padStart(7)} ms${overhead === undefined ? "" : `   overhead ${overhead.toFixed(2)} ms (${(r.median / base).toFixed(2)}×)`}`)
  row("plain spawn", result.plainMs)
  row("agentos-launch (all ns, cgroup, seccomp)", result.launcherMs, result.launcherMs.overhead)
  if (result.bwrapMs !== null) row("bwrap --unshare-all", result.bwrapMs, result.bwrapMs.overhead)
  else console.log("bwrap --unshare-all                      not installed (apt-get install bubblewrap to compare)")
  const underFive = result.launcherMs.overhead < 5
  const vsBwrap = result.bwrapMs === null ? "n/a" : result.launcherMs.overhead <= result.bwrapMs.overhead ? "met" : "missed"
  console.log(`goal: overhead < 5 ms: ${underFive ? "met" : "missed"}; overhead ≤ bwrap's: ${vsBwrap}`)
}
