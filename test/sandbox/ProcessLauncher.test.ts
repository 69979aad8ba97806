/**
 * ProcessLauncher, the plain launcher (agents as child processes of the kernel), against real
 * child processes: the Launcher contract's promises, asserted on both implementations where
 * the native one can run here (so "the same behaviour" is checked, not assumed): pids and the
 * `ended` record, output lines, fd 3, signals, kill, stop, pauseOutput, the scope's close, a
 * failed exec; then what only the plain one has to say: its `isolation` record, its usage
 * figures, the limits it holds its own way, and every limit it refuses.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Isolation from "../../src/sandbox/Isolation.ts"
import { Launcher, type Launched } from "../../src/sandbox/Launcher.ts"
import * as LaunchSpec from "../../src/sandbox/LaunchSpec.ts"
import * as NodeLauncher from "../../src/sandbox/NodeLauncher.ts"
import * as PeerCredentials from "../../src/sandbox/PeerCredentials.ts"
import * as ProcessLauncher from "../../src/sandbox/ProcessLauncher.ts"
import { processAlive } from "../support/kernel.ts"
import * as Launch from "../support/launch.ts"
import * as Machine from "../support/machine.ts"
import { until } from "../support/until.ts"

const sh = "/bin/sh"
const node = process.execPath

/** A plain launch: no namespaces; as root, ids of its own (an agent never runs as host root). */
const plainSpec = (argv: ReadonlyArray<string>, overrides: Partial<LaunchSpec.LaunchSpec> = {}): LaunchSpec.LaunchSpec => {
  const id = Launch.agentId()
  return LaunchSpec.make(argv, { namespaces: [], ...(Launch.isRoot ? { uid: id, gid: id } : {}), ...overrides })
}

/** A sandboxed launch, as NodeLauncher.test.ts makes them. */
const nativeSpec = (argv: ReadonlyArray<string>, overrides: Partial<LaunchSpec.LaunchSpec> = {}): LaunchSpec.LaunchSpec => {
  const id = Launch.agentId()
  return LaunchSpec.make(argv, {
    ...(Launch.isRoot ? { uid: id, gid: id, cgroup: `${Launch.cgroupParent}/process-launcher-${id}` } : {}),
    ...overrides
  })
}

const spawnWith = (spec: LaunchSpec.LaunchSpec, agentFd: number) =>
  Effect.gen(function* () {
    const launcher = yield* Launcher
    return yield* launcher.spawn(spec, agentFd)
  })

/** One agent started through `launcher`, its lines collected, its fd 3's other end at hand; all released with the test's scope. */
const start = (launcher: typeof ProcessLauncher.layer, spec: LaunchSpec.LaunchSpec, listen = true) =>
  Effect.gen(function* () {
    const [kernelEnd, agentEnd] = PeerCredentials.socketPair()
    const socket = new Net.Socket({ fd: kernelEnd, readable: true, writable: true })
    socket.on("error", () => {})
    yield* Effect.addFinalizer(() => Effect.sync(() => socket.destroy()))
    const launched = yield* spawnWith(spec, agentEnd).pipe(
      Effect.provide(launcher),
      // The launched process holds its own copy now.
      Effect.ensuring(Effect.sync(() => PeerCredentials.closeFd(agentEnd)))
    )
    const lines: Array<string> = []
    if (listen) launched.onOutput((stream, line) => lines.push(`${stream}:${line}`))
    if (spec.cgroup !== undefined) yield* Effect.addFinalizer(() => Effect.promise(() => Launch.removeCgroup(spec.cgroup!)))
    return { launched, lines, socket }
  })

/** The SpawnError a launch fails with. */
const refused = (launcher: typeof ProcessLauncher.layer, spec: LaunchSpec.LaunchSpec) =>
  Effect.gen(function* () {
    const [kernelEnd, agentEnd] = PeerCredentials.socketPair()
    yield* Effect.addFinalizer(() => Effect.sync(() => [kernelEnd, agentEnd].forEach((fd) => PeerCredentials.closeFd(fd))))
    return yield* spawnWith(spec, agentEnd).pipe(Effect.provide(launcher), Effect.flip, Effect.orDie)
  })

/** Whether a process runs (a zombie does not: its reaping is its new parent's, outside the test). */
const running = (pid: number): boolean => {
  try {
    const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"
  } catch {
    return false
  }
}

const waitFor = <A>(what: string, check: () => A | undefined, seen?: () => string) =>
  Effect.promise(() => until(what, check, { timeoutMs: 20_000, ...(seen === undefined ? {} : { seen }) }))

const line = (lines: ReadonlyArray<string>, expected: string) =>
  waitFor(`the line ${JSON.stringify(expected)}`, () => (lines.includes(expected) ? true : undefined), () => lines.join("\n"))

const ended = (launched: Launched) => launched.ended

const implementations = [
  { title: "ProcessLauncher", layer: ProcessLauncher.layer, spec: plainSpec, skip: false },
  {
    title: `NodeLauncher${Machine.canSandbox ? "" : ` (skipped: the native launcher cannot sandbox here: ${Machine.cannotSandboxBecause})`}`,
    layer: NodeLauncher.layer,
    spec: nativeSpec,
    skip: !Machine.canSandbox
  }
]

describe.each(implementations)("the Launcher contract, on $title", ({ layer, spec, skip }) => {
  it.live.skipIf(skip)("reports the agent's pid and its end: its exit code, or the signal that ended it", () =>
    Effect.gen(function* () {
      const { launched } = yield* start(layer, spec([sh, "-c", "exit 3"]))
      expect(launched.pid).toBeGreaterThan(0)
      expect(launched.launcherPid).toBeGreaterThan(0)
      expect(yield* ended(launched)).toMatchObject({ _tag: "ended", code: 3, signal: 0, oom: false, oomSource: null })
      const killed = yield* start(layer, spec([sh, "-c", "kill -USR2 $$"]))
      expect(yield* ended(killed.launched)).toMatchObject({ code: 0, signal: 12 })
    }))

  it.live.skipIf(skip)("delivers stdout and stderr as lines, kept for a late listener; an unterminated last line ends with the stream; a long line comes in 64 KiB pieces", () =>
    Effect.gen(function* () {
      const { launched } = yield* start(layer, spec([sh, "-c", "echo one; echo two >&2; echo three; head -c 150000 /dev/zero | tr '\\0' x; echo; printf tail"]), false)
      yield* ended(launched)
      // Listening only now: everything it said was printed before (NodeLauncher may deliver
      // the unterminated last line a moment after `ended`, once the pipe's end is read).
      const seen: Array<string> = []
      launched.onOutput((stream, line) => seen.push(`${stream}:${line}`))
      yield* line(seen, "stdout:tail")
      const stdout = seen.filter((l) => l.startsWith("stdout:")).map((l) => l.slice(7))
      expect(stdout.map((l) => (l.startsWith("x") ? `x*${l.length}` : l))).toEqual(["one", "three", "x*65536", "x*65536", "x*18928", "tail"])
      expect(seen).toContain("stderr:two")
    }))

  it.live.skipIf(skip)("fd 3 is the agent's end of its kernel connection, both ways", () =>
    Effect.gen(function* () {
      const { launched, lines, socket } = yield* start(layer, spec([sh, "-c", "echo hello >&3; read reply <&3; echo \"got $reply\""]))
      const heard = yield* Effect.promise(() => new Promise<string>((resolve) => socket.once("data", (d: Buffer) => resolve(d.toString()))))
      expect(heard).toBe("hello\n")
      socket.write("world\n")
      yield* line(lines, "stdout:got world")
      expect(yield* ended(launched)).toMatchObject({ code: 0 })
    }))

  it.live.skipIf(skip)("an agent has fds 0 to 3, and nothing else of the kernel's", () =>
    Effect.gen(function* () {
      const { launched, lines } = yield* start(layer, spec([sh, "-c", "ls -l /proc/$$/fd"]))
      yield* ended(launched)
      const fds = lines.map((l) => / (\d+) -> (.*)$/.exec(l)).filter((m) => m !== null).map((m) => [Number(m[1]), m[2]!] as const)
      expect(fds.map(([fd]) => fd).filter((fd) => fd <= 3).sort()).toEqual([0, 1, 2, 3])
      // The plain launcher puts /dev/null over an fd the kernel itself inherited without close-on-exec.
      expect(fds.filter(([fd, target]) => fd > 3 && target !== "/dev/null")).toEqual([])
    }))

  it.live.skipIf(skip)("signal() reaches the agent; kill() ends it at once", () =>
    Effect.gen(function* () {
      const { launched, lines } = yield* start(layer, spec([sh, "-c", "trap 'echo usr1' USR1; echo ready; while :; do sleep 0.05; done"]))
      yield* line(lines, "stdout:ready")
      launched.signal(10)
      yield* line(lines, "stdout:usr1")
      launched.kill()
      expect(yield* ended(launched)).toMatchObject({ signal: 9 })
    }))

  it.live.skipIf(skip)("stop(): SIGTERM, which the agent may answer; SIGKILL after kill_timeout_ms when it does not", () =>
    Effect.gen(function* () {
      const polite = yield* start(layer, spec([sh, "-c", "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done"]))
      yield* line(polite.lines, "stdout:ready")
      polite.launched.stop()
      expect(yield* ended(polite.launched)).toMatchObject({ code: 7, signal: 0 })
      const deaf = yield* start(layer, spec([sh, "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"], { killTimeoutMs: 300 }))
      yield* line(deaf.lines, "stdout:ready")
      deaf.launched.stop()
      expect(yield* ended(deaf.launched)).toMatchObject({ signal: 9 })
    }))

  it.live.skipIf(skip)("pauseOutput stops reading the agent's pipes for a while, then reads on", () =>
    Effect.gen(function* () {
      const { launched, lines } = yield* start(layer, spec([sh, "-c", "yes flood"]))
      yield* waitFor("a flood", () => (lines.length > 1000 ? true : undefined))
      launched.pauseOutput(1500)
      // What was in flight when it paused is delivered; then nothing while paused.
      yield* Effect.sleep("200 millis")
      const paused = lines.length
      yield* Effect.sleep("600 millis")
      expect(lines.length).toBe(paused)
      yield* waitFor("the flood again", () => (lines.length > paused ? true : undefined))
      launched.kill()
      yield* ended(launched)
    }))

  it.live.skipIf(skip)("closing the scope it was launched in stops the agent and returns once it has ended", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const { launched } = yield* start(layer, spec(["/bin/sleep", "1000"])).pipe(Scope.provide(scope))
      expect(processAlive(launched.pid)).toBe(true)
      yield* Scope.close(scope, Exit.void)
      expect(processAlive(launched.pid)).toBe(false)
    }))

  it.live.skipIf(skip)("a program that is not there fails the launch: ExecFailed, ENOENT", () =>
    Effect.gen(function* () {
      const error = yield* refused(layer, spec(["/nonexistent/agent"]))
      expect(error).toMatchObject({ _tag: "SpawnError", reason: "ExecFailed", step: "exec", errno: 2 })
      expect(error.message).toMatch(/^exec: execve \/nonexistent\/agent: No such file or directory/)
    }))
})

describe("ProcessLauncher", () => {
  it.live("says what the launch got: no namespaces, cgroup or seccomp; each limit held by the launcher; the agent is its own launcher and has no init", () =>
    Effect.gen(function* () {
      const { launched } = yield* start(ProcessLauncher.layer, plainSpec(["/bin/sleep", "1000"], { memoryMax: 256 << 20, cpuMax: { quotaUs: 50_000, periodUs: 100_000 }, pidsMax: 16 }))
      expect(launched.isolation).toEqual({
        _tag: "isolation", namespaces: [], cgroup: "none", seccomp: false, userns: false, landlock: 0,
        idmap: Launch.isRoot ? "switch" : "none", memory: "watchdog", cpu: "throttle", pids: "rlimit"
      })
      expect(launched).toMatchObject({ init: 0, launcherPid: launched.pid, cgroups: {} })
      const usage = yield* waitFor("a usage record", () => launched.usage())
      expect(usage).toMatchObject({ _tag: "usage", tasks: 1, pidsLimit: false, throttledUs: 0 })
      expect(usage.memoryBytes).toBeGreaterThan(0)
      const plain = yield* start(ProcessLauncher.layer, plainSpec(["/bin/sleep", "1000"]))
      expect(plain.launched.isolation).toMatchObject({ memory: "none", cpu: "none", pids: "none" })
      // As the native launcher: figures only for limits it holds itself.
      expect(plain.launched.usage()).toBeUndefined()
    }))

  it.live("refuses, naming each, what a plain process cannot hold: namespaces, Landlock, mounts, a private /tmp, other ids", () =>
    Effect.gen(function* () {
      const error = yield* refused(ProcessLauncher.layer, plainSpec([sh], {
        namespaces: LaunchSpec.allNamespaces,
        landlock: true,
        tmpfs: ["/run/agentos"],
        tmpSizeBytes: 64 << 20,
        workdir: Os.tmpdir(),
        workdirAt: "/agent",
        ...(Launch.isRoot ? {} : { uid: 100_000, gid: 100_000 })
      }))
      expect(error).toMatchObject({ _tag: "SpawnError", reason: "LimitInvalid", step: "spec", errno: 95 })
      for (const key of ["ns=pid,mount,net,uts,ipc,user", "landlock=on", "tmpfs=/run/agentos", "tmp.size=67108864", "workdir.at=/agent", ...(Launch.isRoot ? [] : ["uid=100000"])]) {
        expect(error.message).toContain(key)
      }
      const malformed = yield* refused(ProcessLauncher.layer, plainSpec(["sh"], { pidsMax: 0 }))
      expect(malformed).toMatchObject({ reason: "LimitInvalid", errno: 22 })
      expect(malformed.message).toMatch(/argv\[0\]=sh: the program must be an absolute path.*pids\.max=0/)
    }))

  it.live.runIf(Launch.isRoot)(`as root: never as host root; the agent runs as the ids it was given, without root's groups${Launch.isRoot ? "" : " (skipped: needs root to switch ids)"}`, () =>
    Effect.gen(function* () {
      const id = Launch.agentId()
      const error = yield* refused(ProcessLauncher.layer, LaunchSpec.make([sh], { namespaces: [] }))
      expect(error.message).toContain("uid and gid are required when the launcher runs as root")
      const { launched, lines } = yield* start(ProcessLauncher.layer, plainSpec([sh, "-c", "echo $(id -u) $(id -g) $(id -G)"], { uid: id, gid: id }))
      yield* ended(launched)
      expect(lines).toEqual([`stdout:${id} ${id} ${id}`])
      expect(launched.isolation.idmap).toBe("switch")
    }))

  it.live("the agent gets the spec's environment, working directory and rlimits (core 0 unless asked), no_new_privs, its own session", () =>
    Effect.gen(function* () {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "agentos-plain-"))
      Fs.chmodSync(dir, 0o755)
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
      const script = "env; pwd; grep -E '^(NoNewPrivs|Uid):' /proc/self/status; grep -E '^Max (core file size|open files)' /proc/self/limits; " +
        "echo \"sid $(cut -d' ' -f6 /proc/self/stat) pid $$\""
      const { launched, lines } = yield* start(ProcessLauncher.layer, plainSpec([sh, "-c", script], { env: { ONLY: "this" }, workdir: dir, rlimits: { nofile: 64 } }))
      yield* ended(launched)
      const out = lines.map((l) => l.replace(/^stdout:/, ""))
      // sh adds PWD (and OLDPWD) of its own; nothing of the kernel's environment reaches it.
      expect(out.filter((l) => /^[A-Z_]+=/.test(l) && !/^(PWD|OLDPWD)=/.test(l))).toEqual(["ONLY=this"])
      expect(out).toContain(dir)
      expect(out).toContain("NoNewPrivs:\t1")
      expect(out.find((l) => l.startsWith("Max core file size"))).toMatch(/\s0\s+0\s/)
      expect(out.find((l) => l.startsWith("Max open files"))).toMatch(/\s64\s+64\s/)
      // sh -c runs the script in the agent process itself: its session is its own pid.
      const sid = /^sid (\d+) pid (\d+)$/.exec(out.find((l) => l.startsWith("sid "))!)!
      expect(sid[1]).toBe(sid[2])
      expect(Number(sid[2])).toBe(launched.pid)
    }))

  it.live("kill() ends what the agent started too; an agent's end takes what it left running with it", () =>
    Effect.gen(function* () {
      const { launched, lines } = yield* start(ProcessLauncher.layer, plainSpec([sh, "-c", "sleep 1000 & echo child $!; sleep 1000 & echo child $!; echo ready; wait"]))
      yield* line(lines, "stdout:ready")
      const children = lines.filter((l) => l.startsWith("stdout:child ")).map((l) => Number(l.slice(13)))
      expect(children.map(running)).toEqual([true, true])
      launched.kill()
      expect(yield* ended(launched)).toMatchObject({ signal: 9 })
      yield* waitFor("its children gone", () => (children.some(running) ? undefined : true))
      const leaver = yield* start(ProcessLauncher.layer, plainSpec([sh, "-c", "sleep 1000 & echo child $!; sleep 0.3; exit 0"]))
      const child = Number((yield* waitFor("its child", () => leaver.lines.find((l) => l.startsWith("stdout:child ")))).slice(13))
      expect(running(child)).toBe(true)
      expect(yield* ended(leaver.launched)).toMatchObject({ code: 0 })
      yield* waitFor("what it left running gone", () => (running(child) ? undefined : true))
    }))

  it.live("a failed exec, a missing working directory and a refused rlimit fail the launch, each at its step", () =>
    Effect.gen(function* () {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "agentos-plain-"))
      Fs.chmodSync(dir, 0o755)
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
      const notExecutable = Path.join(dir, "data")
      Fs.writeFileSync(notExecutable, "not a program\n", { mode: 0o644 })
      expect(yield* refused(ProcessLauncher.layer, plainSpec([notExecutable]))).toMatchObject({ reason: "ExecFailed", step: "exec", errno: 13, message: `exec: execve ${notExecutable}: Permission denied` })
      expect(yield* refused(ProcessLauncher.layer, plainSpec([sh], { cwd: Path.join(dir, "gone") }))).toMatchObject({ reason: "ExecFailed", step: "exec", errno: 2 })
      // Above its hard limit (and the system's nr_open): even root may not.
      const tooMany = yield* refused(ProcessLauncher.layer, plainSpec([sh, "-c", "true"], { rlimits: { nofile: 1 << 30 } }))
      expect(tooMany).toMatchObject({ reason: "SetupFailed", step: "rlimit", errno: 1 })
      expect(tooMany.message).toMatch(/^rlimit: setrlimit\(nofile\): Operation not permitted/)
    }))

  it.live("memory: past its limit the watchdog kills all of it, an OOM of the watchdog", () =>
    Effect.gen(function* () {
      const hog = "const a = []; setInterval(() => a.push(Buffer.alloc(8 << 20, 1)), 5)"
      const { launched } = yield* start(ProcessLauncher.layer, plainSpec([node, "-e", hog], { memoryMax: 128 << 20 }))
      const end = yield* ended(launched)
      expect(end).toMatchObject({ signal: 9, oom: true, oomSource: "watchdog" })
      expect(end.peakBytes).toBeGreaterThan(128 << 20)
    }))

  it.live("cpu: a hog is stopped for as long as it ran over its share, its throttled time counted", () =>
    Effect.gen(function* () {
      const { launched } = yield* start(ProcessLauncher.layer, plainSpec([sh, "-c", "while :; do :; done"], { cpuMax: { quotaUs: 20_000, periodUs: 100_000 } }))
      const usage = yield* waitFor("throttled time", () => {
        const u = launched.usage()
        return u !== undefined && u.throttledUs > 500_000 ? u : undefined
      })
      expect(usage.nrThrottled).toBeGreaterThan(0)
      // Not a measurement: a hog held to 20% has used far less CPU than the time it was held up.
      expect(usage.cpuUs).toBeLessThan(usage.throttledUs)
      launched.stop()
      expect(yield* ended(launched)).toMatchObject({ signal: 15 })
    }))

  it.live(`processes: RLIMIT_NPROC stops its forks${Launch.isRoot ? "; the watchdog reports the limit reached" : ""}`, () =>
    Effect.gen(function* () {
      // dash gives up at the first fork refused: the last count is how far it got.
      const bomb = "i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); echo \"forked $i\"; done"
      const { launched, lines } = yield* start(ProcessLauncher.layer, plainSpec([sh, "-c", bomb], { pidsMax: 8 }))
      expect(yield* ended(launched)).toMatchObject({ code: 2 })
      const forked = lines.filter((l) => l.startsWith("stdout:forked ")).length
      // Without a user namespace the limit counts every task of the uid on the host: as root the
      // agent's uid is its own, so exactly the agent and 7 more.
      expect(forked).toBeLessThan(40)
      expect(lines.some((l) => /^stderr:.*Cannot fork/.test(l))).toBe(true)
      if (!Launch.isRoot) return
      expect(forked).toBe(7)
      const full = yield* start(ProcessLauncher.layer, plainSpec([sh, "-c", "for i in 1 2 3 4 5 6 7; do sleep 30 & done; exec sleep 30"], { pidsMax: 8 }))
      const usage = yield* waitFor("the limit reached, all 8 tasks seen", () => {
        const u = full.launched.usage()
        return u?.pidsLimit === true && u.tasks === 8 ? u : undefined
      })
      expect(usage).toMatchObject({ pidsLimit: true, tasks: 8 })
    }))

  it("describes a machine without namespaces, Landlock, seccomp or cgroups: a strict kernel refuses sandboxed agents", () => {
    const m = ProcessLauncher.machine()
    expect(Isolation.situation(m)).toBe("unconfined")
    expect(Isolation.defaultMode(m)).toBe("landlock")
    expect(Isolation.containment(m, Isolation.defaultMode(m), "k/a")).toEqual({ namespaces: [] })
    expect(Isolation.missing(m, "landlock").map((p) => p.name)).toEqual(["filesystem", "network", "signals and ptrace", "system calls"])
  })
})
