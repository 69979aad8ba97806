/**
 * What holding limits without a cgroup costs: 100 idle agents (`sleep`), each with a memory, a
 * CPU and a process limit, launched as the kernel would launch them here with the launcher's
 * own watchdog holding the limits (no cgroup), and, as root, the same 100 with cgroups holding
 * them (the peer: the launchers then only wait). The figure is the CPU time all 100 launchers
 * use over a quiet window, as a share of one core. Goal: under 1% of a core for 100 agents.
 * Then memory hogs of three speeds under a 128 MiB limit, held by the watchdog (and, as root,
 * by a cgroup, the peer): how they ended and their peak against the limit. Goal: the host never
 * gives one more than its limit plus 10%.
 *
 *   npm run bench:watchdog [-- --quick] [-- --agents N] [-- --json]
 */
import { Effect, Exit, Scope } from "effect"
import * as Fs from "node:fs"
import { Launcher, type Launched } from "../src/sandbox/Launcher.ts"
import * as LaunchSpec from "../src/sandbox/LaunchSpec.ts"
import * as NodeLauncher from "../src/sandbox/NodeLauncher.ts"
import * as Isolation from "../src/sandbox/Isolation.ts"
import * as DataLimit from "../src/sandbox/DataLimit.ts"
import * as AgentSpec from "../src/process/AgentSpec.ts"
import { DEFAULT_UID_RANGE } from "../src/process/KernelConfig.ts"
import * as PeerCredentials from "../src/sandbox/PeerCredentials.ts"
import * as Report from "./support/report.ts"

const quick = process.argv.includes("--quick")
const json = process.argv.includes("--json")
const agentsArg = process.argv.indexOf("--agents")
const count = agentsArg > 0 ? Number(process.argv[agentsArg + 1]) : 100
const windowMs = quick ? 3000 : 10_000
const root = (process.getuid?.() ?? 0) === 0
const machine = Isolation.detect(NodeLauncher.launcherPath)
const mode = Isolation.defaultMode(machine)
const sleep = AgentSpec.which("sleep") ?? "/bin/sleep"
const kernelId = `benchwd${process.pid}`
/** CPU time of a (single-threaded) process, in seconds, to the nanosecond: schedstat's run time (utime/stime tick at 10 ms). */
const cpuOf = (pid: number): number => Number(Fs.readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]) / 1e9

const run = (withCgroups: boolean) =>
  Effect.gen(function* () {
    const { spawn } = yield* Launcher
    const scope = yield* Scope.make()
    const launched: Array<Launched> = []
    const fds: Array<number> = []
    for (let i = 0; i < count; i++) {
      const [kernelEnd, agentEnd] = PeerCredentials.socketPair()
      fds.push(kernelEnd, agentEnd)
      // Without cgroups: the containment of this machine's mode, its limits all the launcher's.
      const { cgroup: _cgroup, cgroupRoots: _roots, ...contained } = Isolation.containment(machine, mode, `${kernelId}/idle-${i}`)
      const spec = LaunchSpec.make([sleep, "3600"], {
        ...(root ? { uid: DEFAULT_UID_RANGE.first + i, gid: DEFAULT_UID_RANGE.first + i } : {}),
        ...contained,
        ...(withCgroups ? { cgroup: `agentos/${kernelId}/idle-${i}` } : {}),
        memoryMax: 64 * 1024 * 1024,
        pidsMax: 16,
        cpuMax: { quotaUs: 20_000, periodUs: 100_000 }
      })
      launched.push(yield* spawn(spec, agentEnd).pipe(Scope.provide(scope)))
    }
    // Let every launcher settle (its first looks), then measure a quiet window.
    yield* Effect.sleep("1500 millis")
    const before = launched.map((l) => cpuOf(l.launcherPid))
    const t0 = process.hrtime.bigint()
    yield* Effect.sleep(`${windowMs} millis`)
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9
    const after = launched.map((l) => cpuOf(l.launcherPid))
    const used = after.reduce((sum, a, i) => sum + a - before[i]!, 0)
    const held = launched[0]!.isolation
    yield* Scope.close(scope, Exit.void)
    for (const fd of fds) PeerCredentials.closeFd(fd)
    return { limitsBy: `memory ${held.memory}, cpu ${held.cpu}, pids ${held.pids}`, cpuSeconds: used, windowSeconds: seconds, shareOfCore: used / seconds }
  }).pipe(Effect.provide(NodeLauncher.layer))

const hogs = [
  { name: "Buffer hog, 1 MiB every 5 ms", file: "buffer-slow.cjs", source: "const k=[];setInterval(()=>k.push(Buffer.alloc(1<<20,1)),5)" },
  { name: "Buffer hog, 4 MiB every 2 ms", file: "buffer-fast.cjs", source: "const k=[];setInterval(()=>k.push(Buffer.alloc(4<<20,1)),2)" },
  { name: "Buffer hog, 64 MiB at once, then more", file: "buffer-burst.cjs", source: "const k=[];for(;;)k.push(Buffer.alloc(64<<20,1))" }
]

const nodeBaseline = DataLimit.measureNode(Fs.realpathSync(process.execPath))

const hog = (withCgroups: boolean, file: string, dir: string) =>
  Effect.gen(function* () {
    const { spawn } = yield* Launcher
    const scope = yield* Scope.make()
    const [kernelEnd, agentEnd] = PeerCredentials.socketPair()
    const node = Fs.realpathSync(process.execPath)
    const limit = 128 * 1024 * 1024
    const watchdog = !withCgroups
    const { cgroup: _cgroup, cgroupRoots: _roots, ...contained } = Isolation.containment(machine, mode, `${kernelId}/hog`)
    const launched = yield* spawn(LaunchSpec.make([node, `${dir}/${file}`], {
      ...(root ? { uid: DEFAULT_UID_RANGE.first + 999, gid: DEFAULT_UID_RANGE.first + 999 } : {}),
      ...contained,
      ...(withCgroups ? { cgroup: `agentos/${kernelId}/hog` } : {}),
      memoryMax: limit,
      readOnly: [dir, NodeLauncher.launcherPath.replace(/\/native\/build\/agentos-launch$/, "")],
      // As the kernel sets it where the watchdog holds the limit (Agents.toLaunchSpec).
      rlimits: { core: 0, ...(watchdog ? { data: DataLimit.forLimit(limit, nodeBaseline) } : {}) }
    }), agentEnd).pipe(Scope.provide(scope))
    // The host's own view, independent of the launcher's: the hog's Pss, sampled every ms.
    let sampled = 0
    const sampler = setInterval(() => {
      try {
        const pss = /^Pss:\s+(\d+)/m.exec(Fs.readFileSync(`/proc/${launched.pid}/smaps_rollup`, "utf8"))
        if (pss !== null) sampled = Math.max(sampled, Number(pss[1]) * 1024)
      } catch {}
    }, 1)
    const ended = yield* launched.ended
    clearInterval(sampler)
    yield* Scope.close(scope, Exit.void)
    PeerCredentials.closeFd(kernelEnd)
    PeerCredentials.closeFd(agentEnd)
    return {
      by: launched.isolation.memory,
      ended: ended.oom ? `OOM kill (${ended.oomSource ?? "cgroup"})` : ended.code !== 0 ? `exit ${ended.code}: allocation refused (RLIMIT_DATA)` : `signal ${ended.signal}`,
      peakMiB: sampled / 1048576,
      peakOverLimit: sampled / limit
    }
  }).pipe(Effect.provide(NodeLauncher.layer))

const results = [await Effect.runPromise(run(false))]
if (root) results.push(await Effect.runPromise(run(true)))
const hogDir = Fs.mkdtempSync("/tmp/agentos-bench-hogs-")
Fs.chmodSync(hogDir, 0o755)
for (const h of hogs) Fs.writeFileSync(`${hogDir}/${h.file}`, h.source, { mode: 0o644 })
const hogResults: Array<{ name: string } & Effect.Success<ReturnType<typeof hog>>> = []
for (const h of hogs) {
  hogResults.push({ name: h.name, ...(await Effect.runPromise(hog(false, h.file, hogDir))) })
  if (root) hogResults.push({ name: h.name, ...(await Effect.runPromise(hog(true, h.file, hogDir))) })
}
Fs.rmSync(hogDir, { recursive: true, force: true })
if (json) {
  console.log(JSON.stringify({ machine: Report.machine(), agents: count, results, hogs: hogResults }, null, 2))
} else {
  const m = Report.machine()
  console.log(`${count} idle agents with memory, CPU and process limits; launchers' CPU over ${windowMs / 1000} s (Node ${m.node}, ${m.cores}× ${m.cpu}, load ${m.loadavg.join(" ")})`)
  const rows = [["limits held by", "launchers' CPU", "share of one core", "per agent"]]
  for (const r of results) rows.push([r.limitsBy, `${r.cpuSeconds.toFixed(3)} s`, `${(r.shareOfCore * 100).toFixed(2)}%`, `${((r.shareOfCore * 100) / count).toFixed(4)}%`])
  console.log(Report.table(rows))
  console.log(`goal: the watchdog under 1% of a core for ${count} agents: ${results[0]!.shareOfCore < 0.01 ? "met" : "missed"}`)
  console.log("")
  const hogRows = [["memory hog, 128 MiB limit", "held by", "ended", "peak Pss (sampled every ms)", "peak / limit"]]
  for (const h of hogResults) hogRows.push([h.name, h.by, h.ended, `${h.peakMiB.toFixed(1)} MiB`, `${h.peakOverLimit.toFixed(3)}`])
  console.log(Report.table(hogRows))
  const worst = Math.max(...hogResults.filter((h) => h.by === "watchdog").map((h) => h.peakOverLimit))
  console.log(`goal: no hog past its limit + 10% under the watchdog: ${worst <= 1.1 ? "met" : "missed"} (worst ${worst.toFixed(3)})`)
}
