/**
 * The Launcher without a sandbox: each agent runs as a plain child process of the kernel, with
 * no namespaces, cgroups, Landlock or seccomp: a second implementation of Launcher.ts beside
 * NodeLauncher.ts, for tests and for machines that cannot sandbox. The kernel sees the same
 * records: fd 3, output lines (internal/output.ts), `isolation` saying what the launch got,
 * `usage`, `ended`. Limits are held the native launcher's way without a PID namespace or a
 * cgroup (docs/launcher.md "Without root"); what it cannot hold is refused as LimitInvalid.
 */
import { Deferred, Effect, Layer } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { Readable } from "node:stream"
import * as ExitReason from "./ExitReason.ts"
import * as Output from "./internal/output.ts"
import type * as Isolation from "./Isolation.ts"
import { Launcher, SpawnError, type Launched } from "./Launcher.ts"
import * as LaunchSpec from "./LaunchSpec.ts"
import type * as LaunchStatus from "./LaunchStatus.ts"

const EPERM = 1
const ENOENT = 2
const ENOTDIR = 20
const EINVAL = 22
const EOPNOTSUPP = 95

/** The kernel's default for `kill_timeout_ms` (docs/launcher.md). */
const KILL_TIMEOUT_MS = 5000

/** How long after the agent's exit its pipes may take to be read to their end. */
const DRAIN_MS = 2000

/** How long the exec of the agent may take once the helpers run. */
const EXEC_WAIT_MS = 10_000

// ---------------------------------------------------------------------------------------------
// The helpers it execs through (util-linux): setpriv sets no_new_privs and the parent-death
// signal, prlimit the rlimits; each execs the next in the same process, so the agent keeps the
// pid the kernel was given.

interface Tools {
  readonly setpriv: string
  readonly prlimit: string
}

let tools: Tools | undefined

const findTool = (name: string): string | undefined => {
  for (const dir of [...(process.env.PATH ?? "").split(":"), "/usr/bin", "/bin", "/usr/sbin", "/sbin"]) {
    if (!dir.startsWith("/")) continue
    try {
      const path = Path.join(dir, name)
      Fs.accessSync(path, Fs.constants.X_OK)
      return Fs.realpathSync(path)
    } catch {}
  }
  return undefined
}

const findTools = Effect.suspend(() => {
  if (tools !== undefined) return Effect.succeed(tools)
  const setpriv = findTool("setpriv")
  const prlimit = findTool("prlimit")
  if (setpriv === undefined || prlimit === undefined) {
    return Effect.fail(new SpawnError({
      reason: "LauncherMissing",
      message: `the plain launcher runs agents through setpriv(1) and prlimit(1) (util-linux): ${[setpriv === undefined ? "setpriv" : "", prlimit === undefined ? "prlimit" : ""].filter(Boolean).join(" and ")} not found`
    }))
  }
  tools = { setpriv, prlimit }
  return Effect.succeed(tools)
})

// ---------------------------------------------------------------------------------------------
// The spec: what it asks that no plain process can hold is refused, every problem named by its
// key, as the native launcher's spec step names an unknown key (so nothing is silently dropped).

/** Every problem of `spec` for this launcher; `unheld` are those it is well-formed but cannot hold. */
const problemsOf = (spec: LaunchSpec.LaunchSpec, uid: number, gid: number): { readonly malformed: Array<string>; readonly unheld: Array<string> } => {
  const malformed: Array<string> = []
  const unheld: Array<string> = []
  const program = spec.argv[0]
  if (program === undefined) malformed.push("argv is required")
  else if (!program.startsWith("/")) malformed.push(`argv[0]=${program}: the program must be an absolute path`)
  for (const name of Object.keys(spec.env)) if (name === "" || name.includes("=")) malformed.push(`env ${JSON.stringify(name)}: not a NAME`)
  try {
    LaunchSpec.encode(spec)
  } catch (e) {
    malformed.push((e as Error).message)
  }
  if ((spec.uid === undefined) !== (spec.gid === undefined)) malformed.push("uid and gid go together")
  if (uid === 0) {
    if (spec.uid === undefined) malformed.push("uid and gid are required when the launcher runs as root")
    else if (spec.uid === 0 || spec.gid === 0) malformed.push(`uid=${spec.uid} gid=${spec.gid}: an agent never runs as host root`)
  } else if ((spec.uid !== undefined && spec.uid !== uid) || (spec.gid !== undefined && spec.gid !== gid)) {
    unheld.push(`uid=${spec.uid} gid=${spec.gid}: other ids than the kernel's need root or a user namespace, and the plain launcher makes none`)
  }
  if (spec.cgroupRoots !== undefined && spec.cgroupRoots.length > 0 && spec.cgroup === undefined) malformed.push("cgroup.root needs cgroup")
  if (spec.cpuMax !== undefined && (spec.cpuMax.quotaUs < 1000 || spec.cpuMax.periodUs < 1000)) malformed.push("cpu.max: quota and period are at least 1000 us")
  if (spec.pidsMax === 0) malformed.push("pids.max=0 would not let the agent start")
  if (spec.namespaces.length > 0) unheld.push(`ns=${spec.namespaces.join(",")}: the plain launcher makes no namespaces`)
  if (spec.landlock === true) unheld.push("landlock=on: the plain launcher has no Landlock")
  for (const path of spec.tmpfs) unheld.push(`tmpfs=${path}: needs a mount namespace`)
  if (spec.tmpSizeBytes !== undefined) unheld.push(`tmp.size=${spec.tmpSizeBytes}: a private /tmp needs a mount namespace`)
  if (spec.workdirAt !== undefined) unheld.push(`workdir.at=${spec.workdirAt}: needs a mount namespace`)
  return { malformed, unheld }
}

/** prlimit's arguments: the spec's rlimits, core 0 unless asked (as the native launcher), RLIMIT_NPROC for the process limit. */
const rlimitArgs = (spec: LaunchSpec.LaunchSpec, nproc: number | undefined): Array<string> => {
  const limits = new Map<string, readonly [number, number]>()
  for (const [name, value] of Object.entries(spec.rlimits)) {
    if (value !== undefined) limits.set(name, typeof value === "number" ? [value, value] : value)
  }
  // Never empty: prlimit without a limit prints its table on the agent's stdout.
  if (!limits.has("core")) limits.set("core", [0, 0])
  if (nproc !== undefined) limits.set("nproc", [nproc, nproc])
  return [...limits].map(([name, [soft, hard]]) => `--${name}=${soft}:${hard}`)
}

// ---------------------------------------------------------------------------------------------
// /proc, read as the native launcher's watchdog reads it.

const readText = (path: string): string | undefined => {
  try {
    return Fs.readFileSync(path, "utf8")
  } catch {
    return undefined
  }
}

/** Clock ticks (USER_HZ, 100 on Linux) in microseconds. */
const TICK_US = 10_000

interface ProcStat {
  readonly state: string
  /** Its start time since boot (clock ticks): with the pid, which process this is. */
  readonly start: string
  /** Its own CPU time (utime + stime), every thread. */
  readonly cpuUs: number
}

const statOf = (pid: number): ProcStat | undefined => {
  const text = readText(`/proc/${pid}/stat`)
  if (text === undefined) return undefined
  // After "pid (comm) ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
  // utime stime cutime cstime priority nice num_threads itrealvalue starttime …
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ")
  return { state: f[0] ?? "", start: f[19] ?? "", cpuUs: (Number(f[11]) + Number(f[12])) * TICK_US }
}

const kbField = (text: string | undefined, key: string): number => {
  if (text === undefined) return 0
  const m = new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(text)
  return m === null ? 0 : Number(m[1])
}

/** Children of every thread of `pid` (a fork from any thread lists under that thread). */
const childrenOf = (pid: number): Array<number> => {
  let threads: Array<string>
  try {
    threads = Fs.readdirSync(`/proc/${pid}/task`)
  } catch {
    return []
  }
  const children: Array<number> = []
  for (const tid of threads) {
    for (const child of (readText(`/proc/${pid}/task/${tid}/children`) ?? "").split(" ")) if (child !== "" && child !== "\n") children.push(Number(child))
  }
  return children
}

/** Tasks of `uid` on the host (what RLIMIT_NPROC counts without a user namespace). */
const tasksOf = (uid: number): number => {
  let tasks = 0
  for (const entry of Fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    const status = readText(`/proc/${entry}/status`)
    if (status === undefined) continue
    const real = /^Uid:\s+(\d+)/m.exec(status)
    if (real !== null && Number(real[1]) === uid) tasks += kbField(status, "Threads")
  }
  return tasks
}

/** O_CLOEXEC in /proc/<pid>/fdinfo's octal `flags`. */
const O_CLOEXEC = 0o2000000

/**
 * This process's fds from 3 up that an exec would pass on (no close-on-exec): only what it
 * inherited itself, since Node opens every fd of its own close-on-exec.
 */
const inheritableFds = (): Array<number> => {
  const fds: Array<number> = []
  for (const entry of Fs.readdirSync("/proc/self/fd")) {
    const fd = Number(entry)
    if (!(fd >= 3)) continue
    const flags = /^flags:\s+([0-7]+)/m.exec(readText(`/proc/self/fdinfo/${fd}`) ?? "")
    if (flags !== null && (parseInt(flags[1]!, 8) & O_CLOEXEC) === 0) fds.push(fd)
  }
  return fds
}

const signalSafely = (pid: number, signal: NodeJS.Signals | number): void => {
  if (pid === 0) return
  try {
    process.kill(pid, signal)
  } catch {}
}

// ---------------------------------------------------------------------------------------------
// The watchdog: the agent's process tree, looked at every 100 ms (less often while it uses no
// CPU, every 10 ms near its memory limit), for the figures the kernel shows and the limits no
// cgroup holds. The native launcher's rules (native/watchdog.c): memory is the tree's resident
// set, and past half the limit its proportional set with swap; CPU is each live process's own
// time; a share is kept by stopping the tree for as long as it ran over it.

const TICK_MS = 100
const MAX_IDLE_TICK_MS = 800
const NEAR_TICK_MS = 10
const NEAR_LIMIT = 0.7
const MAX_STOP_MS = 10_000

interface WatchLimits {
  readonly memoryMax: number | undefined
  readonly cpu: { readonly quotaUs: number; readonly periodUs: number } | undefined
  /** RLIMIT_NPROC as set, and the uid whose host-wide tasks it counts. */
  readonly tasks: { readonly max: number; readonly uid: number } | undefined
}

interface Watchdog {
  /** The newest figures; undefined before the first look. */
  readonly usage: () => LaunchStatus.Usage | undefined
  readonly oom: () => boolean
  readonly peakBytes: () => number
  /** Signals every process of the agent's that it knows, and its process group. */
  readonly signalAll: (signal: NodeJS.Signals) => void
  /** Stops keeping the CPU share (the agent is being stopped): a stopped tree is continued. */
  readonly release: () => void
  readonly finish: () => void
}

const watch = (root: number, limits: WatchLimits, onOom: () => void): Watchdog => {
  let known = new Map<number, { readonly start: string; readonly cpuUs: number }>()
  let cpuUs = 0
  let memoryBytes = 0
  let peak = 0
  let tasks = 0
  let tasksSeen = 0
  let tasksHit = false
  let throttledUs = 0
  let nrThrottled = 0
  let oom = false
  let usage: LaunchStatus.Usage | undefined
  let timer: NodeJS.Timeout | undefined
  let finished = false
  let cpu = limits.cpu
  let stopped = false
  let stopStarted = 0
  let windowStart = performance.now()
  let windowCpuUs = 0
  let idleTick = TICK_MS

  const signalAll = (signal: NodeJS.Signals) => {
    // Its process group catches what was forked since the last look; the known tree, what left it.
    signalSafely(-root, signal)
    for (const [pid, proc] of known) if (statOf(pid)?.start === proc.start) signalSafely(pid, signal)
  }

  /** One look at the tree: from the agent down, and every process it had that is still there (an orphan is reparented away from the tree). */
  const scan = (): number => {
    const found = new Map<number, { readonly start: string; readonly cpuUs: number }>()
    let delta = 0
    let rss = 0
    let threads = 0
    const stack = [root]
    const visit = () => {
      for (let pid = stack.pop(); pid !== undefined; pid = stack.pop()) {
        if (found.has(pid)) continue
        const stat = statOf(pid)
        if (stat === undefined) continue
        const before = known.get(pid)
        found.set(pid, { start: stat.start, cpuUs: stat.cpuUs })
        if (stat.state === "Z") continue
        const used = stat.cpuUs - (before !== undefined && before.start === stat.start ? before.cpuUs : 0)
        if (used > 0) delta += used
        const status = readText(`/proc/${pid}/status`)
        rss += kbField(status, "VmRSS") * 1024
        threads += kbField(status, "Threads")
        // A process's own high-water mark: what a look may have missed between two of them.
        peak = Math.max(peak, kbField(status, "VmHWM") * 1024)
        stack.push(...childrenOf(pid))
      }
    }
    visit()
    for (const [pid, proc] of known) if (!found.has(pid) && statOf(pid)?.start === proc.start) stack.push(pid)
    visit()
    known = found
    let memory = rss
    // The resident set counts a page shared with others in full: near the limit, Pss decides.
    if (limits.memoryMax !== undefined && rss > limits.memoryMax / 2) {
      memory = 0
      for (const pid of found.keys()) {
        const rollup = readText(`/proc/${pid}/smaps_rollup`)
        memory += (kbField(rollup, "Pss") + kbField(rollup, "SwapPss")) * 1024
      }
    }
    memoryBytes = memory
    peak = Math.max(peak, memory)
    tasks = threads
    // Host-wide (no user namespace): the limit is reached when the uid's tasks are, wherever
    // they are; counted only when the agent's own have grown.
    if (limits.tasks !== undefined && !tasksHit && threads > tasksSeen) {
      tasksSeen = threads
      if (tasksOf(limits.tasks.uid) >= limits.tasks.max - 1) tasksHit = true
    }
    cpuUs += delta
    usage = { _tag: "usage", memoryBytes, cpuUs, throttledUs, nrThrottled, tasks, pidsLimit: tasksHit }
    return delta
  }

  const arm = (ms: number) => {
    if (finished) return
    timer = setTimeout(tick, ms)
    timer.unref()
  }

  const resume = () => {
    if (!stopped) return
    signalAll("SIGCONT")
    const now = performance.now()
    throttledUs += Math.round((now - stopStarted) * 1000)
    stopped = false
    windowStart = now
    windowCpuUs = 0
  }

  const tick = () => {
    timer = undefined
    if (finished) return
    const now = performance.now()
    if (stopped) {
      resume()
      arm(TICK_MS)
      return
    }
    const delta = scan()
    if (limits.memoryMax !== undefined && memoryBytes > limits.memoryMax) {
      oom = true
      finished = true
      onOom()
      return
    }
    if (cpu !== undefined) {
      // Its share f = quota/period: having used u over a window of length t, it stops for
      // u/f - t, so that over run and stop it had exactly f (native/watchdog.c).
      windowCpuUs += delta
      const windowUs = (now - windowStart) * 1000
      if (windowCpuUs > (windowUs * cpu.quotaUs) / cpu.periodUs) {
        const stopUs = Math.min((windowCpuUs * cpu.periodUs) / cpu.quotaUs - windowUs, MAX_STOP_MS * 1000)
        signalAll("SIGSTOP")
        stopped = true
        stopStarted = now
        // Counted as cgroup cpu.stat counts them: periods spent throttled.
        nrThrottled += Math.ceil(stopUs / cpu.periodUs)
        arm(stopUs / 1000)
        return
      }
      if (windowUs >= TICK_MS * 1000) {
        windowStart = now
        windowCpuUs = 0
      }
    }
    const near = limits.memoryMax !== undefined && memoryBytes > limits.memoryMax * NEAR_LIMIT
    idleTick = delta > 0 ? TICK_MS : Math.min(idleTick * 2, MAX_IDLE_TICK_MS)
    arm(near ? NEAR_TICK_MS : cpu !== undefined ? TICK_MS : idleTick)
  }

  tick()
  return {
    usage: () => usage === undefined ? undefined : { ...usage, throttledUs: throttledUs + (stopped ? Math.round((performance.now() - stopStarted) * 1000) : 0), nrThrottled },
    oom: () => oom,
    peakBytes: () => peak,
    signalAll,
    release: () => {
      cpu = undefined
      resume()
    },
    finish: () => {
      if (stopped) {
        throttledUs += Math.round((performance.now() - stopStarted) * 1000)
        stopped = false
      }
      finished = true
      if (timer !== undefined) clearTimeout(timer)
    }
  }
}

// ---------------------------------------------------------------------------------------------

const errnoOf = (text: string): number =>
  ({ "Operation not permitted": EPERM, "No such file or directory": ENOENT, "Permission denied": 13, "Exec format error": 8, "Not a directory": ENOTDIR, "Argument list too long": 7, "Text file busy": 26, "Invalid argument": EINVAL, "Too many levels of symbolic links": 40 } as Record<string, number>)[text.trim()] ?? 0

/** Why the helpers exited before the agent ran, from what they said on its stderr. */
const failureOf = (stderr: string, code: number | null, signal: NodeJS.Signals | null): SpawnError => {
  const exec = /(?:setpriv|prlimit): failed to execute (.+): ([^:\n]+)$/m.exec(stderr)
  if (exec !== null) {
    return new SpawnError({ reason: "ExecFailed", step: "exec", errno: errnoOf(exec[2]!), message: `exec: execve ${exec[1]}: ${exec[2]}` })
  }
  const limit = /prlimit: failed to set the (\w+) resource limit: ([^\n]+)$/m.exec(stderr)
  if (limit !== null) {
    return new SpawnError({ reason: "SetupFailed", step: "rlimit", errno: errnoOf(limit[2]!), message: `rlimit: setrlimit(${limit[1]!.toLowerCase()}): ${limit[2]}` })
  }
  return new SpawnError({
    reason: "SetupFailed",
    step: "exec",
    errno: 0,
    message: `exec: setpriv/prlimit exited (${signal ?? `code ${code}`}) before the agent ran${stderr.trim() === "" ? "" : `: ${stderr.trim()}`}`
  })
}

/** Launches one agent as a plain child process. */
const spawn = Effect.fn("ProcessLauncher.spawn")(function* (spec: LaunchSpec.LaunchSpec, agentFd: number) {
  const uid = process.getuid?.() ?? 0
  const gid = process.getgid?.() ?? 0
  const { malformed, unheld } = problemsOf(spec, uid, gid)
  if (malformed.length > 0 || unheld.length > 0) {
    return yield* new SpawnError({
      reason: "LimitInvalid",
      step: "spec",
      errno: malformed.length > 0 ? EINVAL : EOPNOTSUPP,
      message: `spec: ${[...malformed, ...unheld].join("; ")}`
    })
  }
  const { setpriv, prlimit } = yield* findTools
  const program = spec.argv[0]!
  const cwd = spec.cwd ?? spec.workdir ?? "/"
  // The common failures, said as the native launcher says them (the helpers' own messages
  // follow the agent's locale).
  const cwdStat = Fs.statSync(cwd, { throwIfNoEntry: false })
  if (cwdStat === undefined || !cwdStat.isDirectory()) {
    return yield* new SpawnError({
      reason: "ExecFailed",
      step: "exec",
      errno: cwdStat === undefined ? ENOENT : ENOTDIR,
      message: `exec: chdir ${cwd}: ${cwdStat === undefined ? "No such file or directory" : "Not a directory"}`
    })
  }
  if (!Fs.existsSync(program)) {
    return yield* new SpawnError({ reason: "ExecFailed", step: "exec", errno: ENOENT, message: `exec: execve ${program}: No such file or directory` })
  }
  // As root the agent gets the ids it was given (setgroups, setgid, setuid before the first
  // exec); otherwise it has the kernel's own.
  const switchIds = uid === 0
  const agentUid = switchIds ? spec.uid! : uid
  // RLIMIT_NPROC counts every task of the uid on the host: the agent gets what it asked for
  // beyond what the uid already runs (the native launcher's rule without a user namespace).
  // Root is not held by it, but as root the agent never runs as root.
  const nproc = spec.pidsMax === undefined ? undefined : tasksOf(agentUid) + spec.pidsMax
  const isolation: LaunchStatus.Isolation = {
    _tag: "isolation",
    namespaces: [],
    cgroup: "none",
    seccomp: false,
    userns: false,
    landlock: 0,
    idmap: switchIds ? "switch" : "none",
    memory: spec.memoryMax === undefined ? "none" : "watchdog",
    cpu: spec.cpuMax === undefined ? "none" : "throttle",
    pids: spec.pidsMax === undefined ? "none" : "rlimit"
  }
  const killTimeoutMs = spec.killTimeoutMs ?? KILL_TIMEOUT_MS

  const started = yield* Deferred.make<void, SpawnError>()
  const ended = yield* Deferred.make<LaunchStatus.Ended>()
  // The process has exited and its pipes are read to their end (or DRAIN_MS have passed).
  const closed = yield* Deferred.make<void>()
  let exited = false
  let dog: Watchdog | undefined
  let killTimer: NodeJS.Timeout | undefined

  const child = yield* Effect.acquireRelease(
    Effect.sync(() => {
      // fd 3: the agent's kernel connection (dup2'd, so it survives the execs). Every fd of the
      // kernel's own is close-on-exec; one it inherited without that (from whatever started
      // it) becomes /dev/null in the agent, where the native launcher closes it.
      const stdio: Array<"ignore" | "pipe" | number> = ["ignore", "pipe", "pipe", agentFd]
      const inherited = inheritableFds().filter((fd) => fd > 3 && fd !== agentFd)
      const devNull = inherited.length === 0 ? undefined : Fs.openSync("/dev/null", "r")
      for (const fd of inherited) {
        while (stdio.length < fd) stdio.push("ignore")
        stdio[fd] = devNull!
      }
      try {
        return ChildProcess.spawn(setpriv, ["--no-new-privs", "--pdeathsig", "KILL", "--", prlimit, ...rlimitArgs(spec, nproc), "--", ...spec.argv], {
          stdio,
          env: { ...spec.env },
          cwd,
          // A session and process group of its own: no controlling terminal, one group to
          // kill, and a Ctrl-C at the kernel's terminal is the kernel's to handle.
          detached: true,
          ...(switchIds ? { uid: spec.uid!, gid: spec.gid! } : {})
        })
      } finally {
        if (devNull !== undefined) Fs.closeSync(devNull)
      }
    }),
    (child) =>
      Effect.gen(function* () {
        if (child.pid !== undefined && !exited) {
          if (Deferred.isDoneUnsafe(started)) {
            // Stop the incarnation: SIGTERM, SIGKILL to all of it after kill_timeout_ms.
            stop()
            const done = yield* Deferred.await(ended).pipe(Effect.timeoutOption(`${killTimeoutMs + 2000} millis`))
            if (done._tag === "None") killAll()
          } else {
            killAll()
          }
          yield* Deferred.await(closed).pipe(Effect.timeoutOption(`${DRAIN_MS + 1000} millis`))
        }
        if (killTimer !== undefined) clearTimeout(killTimer)
        dog?.finish()
        // A pipe some escaped process still holds is not the kernel's to keep reading.
        child.stdout?.destroy()
        child.stderr?.destroy()
      })
  )
  const pid = child.pid ?? 0
  const killAll = () => {
    signalSafely(pid, "SIGKILL")
    if (dog !== undefined) dog.signalAll("SIGKILL")
    else signalSafely(-pid, "SIGKILL")
  }
  const stop = () => {
    if (exited) return
    dog?.release()
    signalSafely(pid, "SIGTERM")
    if (killTimer !== undefined) return
    killTimer = setTimeout(killAll, killTimeoutMs)
    killTimer.unref()
  }

  const stdio = child.stdio as unknown as [null, Readable, Readable, null]
  const output = Output.make(stdio[1], stdio[2])
  // What the helpers say before the agent runs (a failed exec or setrlimit) is why it did not.
  let helperSaid = ""
  const hear = (chunk: string) => {
    if (helperSaid.length < 4096) helperSaid += chunk
  }
  stdio[2].on("data", hear)
  const streamsClosed = new Promise<void>((resolve) => child.once("close", () => resolve()))

  child.on("error", (e: NodeJS.ErrnoException) => {
    exited = true
    Deferred.doneUnsafe(started, Effect.fail(new SpawnError({
      reason: "SetupFailed",
      step: "exec",
      errno: Math.abs(e.errno ?? 0),
      message: `exec: running ${setpriv}: ${e.message}`
    })))
    Deferred.doneUnsafe(closed, Effect.void)
  })
  child.on("exit", (code, signal) => {
    exited = true
    if (killTimer !== undefined) clearTimeout(killTimer)
    dog?.finish()
    // Without a PID namespace nothing else ends what the agent left running: its process group
    // and the processes the watchdog knew go with it (the native launcher's end_orphans).
    if (dog !== undefined) dog.signalAll("SIGKILL")
    const decide = () => {
      // The helpers end early only on a failure, which they always name on stderr; an exit
      // without that is the agent's, even one too quick for the exec to have been seen.
      const ran = Deferred.isDoneUnsafe(started) || !/^(?:setpriv|prlimit): /m.test(helperSaid)
      if (!ran) {
        Deferred.doneUnsafe(started, Effect.fail(failureOf(helperSaid, code, signal)))
      } else {
        Deferred.doneUnsafe(started, Effect.void)
        const oom = dog?.oom() ?? false
        const usage = dog?.usage()
        Deferred.doneUnsafe(ended, Effect.succeed({
          _tag: "ended",
          code: code ?? 0,
          signal: signal === null ? 0 : ExitReason.signalNumber(signal) ?? 0,
          oom,
          pidsLimit: usage?.pidsLimit ?? false,
          throttledUs: usage?.throttledUs ?? 0,
          nrThrottled: usage?.nrThrottled ?? 0,
          // What the watchdog saw at its last look: a lower bound (no cgroup, and Node gives no
          // child's rusage); 0 for an agent too short-lived for a look.
          peakBytes: dog?.peakBytes() ?? 0,
          cpuUs: usage?.cpuUs ?? 0,
          oomSource: oom ? "watchdog" : null
        }))
      }
      Deferred.doneUnsafe(closed, Effect.void)
    }
    // Every line it wrote is read before its end is reported; bounded, should a process that
    // left its tree still hold a pipe.
    const fallback = setTimeout(decide, DRAIN_MS)
    fallback.unref()
    void streamsClosed.then(() => {
      clearTimeout(fallback)
      decide()
    })
  })

  // The agent runs once the helpers have exec'd it: /proc/<pid>/exe is neither of them (or
  // unreadable: a set-id program, which no_new_privs keeps from changing ids).
  const helpers = new Set([setpriv, prlimit])
  const deadline = performance.now() + EXEC_WAIT_MS
  const checkExec = () => {
    if (exited || Deferred.isDoneUnsafe(started)) return
    let exe: string | undefined
    try {
      exe = Fs.readlinkSync(`/proc/${pid}/exe`)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code !== "EACCES" && code !== "EPERM") {
        // Gone (or a zombie): its exit decides.
        setTimeout(checkExec, 1)
        return
      }
    }
    if (exe !== undefined && helpers.has(exe)) {
      if (performance.now() > deadline) {
        killAll()
        Deferred.doneUnsafe(started, Effect.fail(new SpawnError({ reason: "SetupFailed", step: "exec", errno: 0, message: `exec: ${program} was not exec'd within ${EXEC_WAIT_MS} ms` })))
        return
      }
      setTimeout(checkExec, 1)
      return
    }
    stdio[2].off("data", hear)
    if (spec.memoryMax !== undefined) {
      // Under host memory pressure the agent goes first (it may lower this to 0, not below).
      try {
        Fs.writeFileSync(`/proc/${pid}/oom_score_adj`, "1000")
      } catch {}
    }
    dog = watch(pid, {
      memoryMax: spec.memoryMax,
      cpu: spec.cpuMax,
      tasks: nproc === undefined ? undefined : { max: nproc, uid: agentUid }
    }, killAll)
    Deferred.doneUnsafe(started, Effect.void)
  }
  if (pid > 0) checkExec()

  yield* Deferred.await(started)
  const held = spec.memoryMax !== undefined || spec.cpuMax !== undefined || spec.pidsMax !== undefined
  return {
    pid,
    // No PID namespace, no init: the agent is the root of its own process tree.
    init: 0,
    // No launcher process either: the agent itself, so that a peer below it is known to be in
    // its "sandbox" (Agents.sandboxOf) as below a native launcher.
    launcherPid: pid,
    cgroups: {},
    isolation,
    // As the native launcher: figures only for limits it holds itself.
    usage: () => (held ? dog?.usage() : undefined),
    onOutput: output.onOutput,
    pauseOutput: output.pauseOutput,
    signal: (signal) => {
      if (!exited) signalSafely(pid, signal)
    },
    stop,
    kill: () => {
      if (!exited) killAll()
    },
    ended: Deferred.await(ended)
  } satisfies Launched
})

/**
 * The plain launcher: agents as child processes of the kernel, in a session of their own,
 * with the spec's environment, working directory and rlimits, fd 3 their kernel connection,
 * no_new_privs and SIGKILL should the kernel die. It holds the memory limit by its watchdog
 * (`memory=watchdog`), the CPU limit by a duty cycle (`cpu=throttle`) and the process limit by
 * RLIMIT_NPROC over the uid's host-wide tasks (`pids=rlimit`); as root it switches to the uid
 * the kernel gave the agent (`idmap=switch`).
 *
 * **Gotchas**: it refuses, as LimitInvalid naming each key, namespaces, Landlock, `tmpfs`,
 * `tmp.size`, `workdir.at` and, without root, ids other than the kernel's. It does not hold
 * seccomp or `network: none`, which the kernel asks of every sandboxed agent: its `isolation`
 * record says `seccomp=off` and no namespaces, and `machine` describes a machine that lacks
 * them, so a strict kernel refuses sandboxed agents and `isolation: weak` runs them (what the
 * kernel's user agreed to). Grants (`ro`, `rw`) hide nothing: the agent sees what its uid
 * sees. A process that leaves both the agent's tree and its process group between two looks
 * of the watchdog escapes the limits and the final kill (no PID namespace, cgroup or
 * subreaper); peak memory and CPU time are what the watchdog last saw.
 * @category layers
 */
export const layer = Layer.succeed(Launcher, Launcher.of({ spawn }))

/**
 * What agents get from the plain launcher, for `Isolation.layerFor`: no user namespaces,
 * Landlock, seccomp or cgroups (the situation `unconfined`), so a strict kernel refuses
 * sandboxed agents naming what they would miss, and `isolation: weak` runs them.
 *
 * **Gotchas**: `root` is false even when the kernel is root, since root's situation promises
 * namespaces; a root kernel still gives each agent a uid of its own, which the plain launcher
 * switches to.
 * @category constructors
 */
export const machine = (): Isolation.Machine => {
  const uid = process.getuid?.() ?? 0
  return {
    uid,
    root: false,
    probe: {
      _tag: "probe",
      uid,
      userns: false,
      usernsError: "the plain launcher makes no namespaces",
      landlock: 0,
      seccomp: false,
      newuidmap: null,
      newgidmap: null
    },
    subordinate: { problem: "the plain launcher maps no ids" },
    cgroups: { kind: "none", roots: [], controllers: [], detail: "the plain launcher makes no cgroups" }
  }
}
