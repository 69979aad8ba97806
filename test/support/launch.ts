/**
 * Test support: the real native launcher (native/build/agentos-launch), spawned exactly as the
 * kernel spawns it (docs/launcher.md): fd 3 one end of a socketpair, fd 4 the spec pipe (written
 * with LaunchSpec.encode, then ended), fd 5 the status pipe (read with LaunchStatus.parseLine).
 * Everything a launch holds is released by `release()`, which tests call in a finally: the
 * launcher (by pid), its fds, and any cgroup left below agentos/.
 */
import { spawn, type ChildProcess } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import * as Readline from "node:readline"
import type { Readable, Writable } from "node:stream"
import { fileURLToPath } from "node:url"
import * as PeerCredentials from "../../src/sandbox/PeerCredentials.ts"
import * as LaunchSpec from "../../src/sandbox/LaunchSpec.ts"
import * as LaunchStatus from "../../src/sandbox/LaunchStatus.ts"

/** The launcher binary, built by `make -C native`. */
export const launcherPath = fileURLToPath(new URL("../../native/build/agentos-launch", import.meta.url))

/** The project root (node lives below it: grant it read-only to a node agent). */
export const projectRoot = Path.resolve(fileURLToPath(new URL("../../", import.meta.url)))

export const isRoot = process.getuid?.() === 0

/** A fresh host uid (= gid) per agent, distinct across test processes, clear of useradd's /etc/subuid ranges and of a kernel's default range. */
let nextId = 0
export const agentId = (): number => 2_001_000_000 + (process.pid % 10000) * 64 + (nextId++ % 64)

/** The cgroup parent of this test process: `agentos/test-<pid>`. */
export const cgroupParent = `agentos/test-${process.pid}`

type Tag = LaunchStatus.Record_["_tag"]
type RecordOf<T extends Tag> = Extract<LaunchStatus.Record_, { readonly _tag: T }>

/** One running launcher. */
export interface Launch {
  readonly child: ChildProcess
  /** The kernel's end of the agent's fd 3. */
  readonly agent: Net.Socket
  readonly records: ReadonlyArray<LaunchStatus.Record_>
  /** process.hrtime.bigint() at spawn() and at each record's arrival, by tag. */
  readonly spawnedAt: bigint
  readonly arrivedAt: Partial<Record<Tag, bigint>>
  readonly stdout: () => string
  readonly stderr: () => string
  /** The first record of `tag`; rejects when the status pipe closes without one. */
  readonly record: <T extends Tag>(tag: T) => Promise<RecordOf<T>>
  /** Resolves once the agent's stdout matches. */
  readonly output: (pattern: RegExp) => Promise<string>
  /** The launcher's exit. */
  readonly exit: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  readonly release: () => Promise<void>
}

/**
 * Spawns the launcher with `spec` (or raw spec bytes, for malformed specs); `as` runs it
 * unprivileged, as that uid/gid, to exercise the fallbacks of docs/launcher.md "Without root".
 */
export const launch = (
  spec: LaunchSpec.LaunchSpec | Buffer,
  as?: { readonly uid: number; readonly gid: number }
): Launch => {
  const [kernelEnd, agentEnd] = PeerCredentials.socketPair()
  const spawnedAt = process.hrtime.bigint()
  let child: ChildProcess
  try {
    child = spawn(launcherPath, [], {
      stdio: ["ignore", "pipe", "pipe", agentEnd, "pipe", "pipe"],
      ...(as === undefined ? {} : { uid: as.uid, gid: as.gid })
    })
  } finally {
    // The launcher holds its own copy now; ours would keep the agent's connection open.
    PeerCredentials.closeFd(agentEnd)
  }
  const agent = new Net.Socket({ fd: kernelEnd, readable: true, writable: true })
  agent.on("error", () => {})
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal }))
  )

  let out = ""
  let err = ""
  const outputWaiters: Array<() => void> = []
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk
    for (const wake of outputWaiters.splice(0)) wake()
  })
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk))

  const records: Array<LaunchStatus.Record_> = []
  const arrivedAt: Partial<Record<Tag, bigint>> = {}
  let statusClosed = false
  const recordWaiters: Array<() => void> = []
  // Node's typings stop at fd 4; the status pipe is fd 5.
  const stdio = child.stdio as ReadonlyArray<Readable | Writable | null | undefined>
  const status = stdio[5] as Readable
  status.on("error", () => {})
  Readline.createInterface({ input: status })
    .on("line", (line) => {
      const record = LaunchStatus.parseLine(line)
      if (record === undefined) throw new Error(`launcher wrote an unknown status line: ${line}`)
      arrivedAt[record._tag] ??= process.hrtime.bigint()
      records.push(record)
      for (const wake of recordWaiters.splice(0)) wake()
    })
    .on("close", () => {
      statusClosed = true
      for (const wake of recordWaiters.splice(0)) wake()
    })

  const specPipe = stdio[4] as Writable
  specPipe.on("error", () => {})
  specPipe.end(Buffer.isBuffer(spec) ? spec : LaunchSpec.encode(spec))

  const record = <T extends Tag>(tag: T): Promise<RecordOf<T>> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = records.find((r): r is RecordOf<T> => r._tag === tag)
        if (found !== undefined) return resolve(found)
        if (statusClosed) {
          return reject(new Error(`no ${tag} record; got ${JSON.stringify(records)}; stderr: ${err}`))
        }
        recordWaiters.push(check)
      }
      check()
    })

  const output = (pattern: RegExp): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = () => {
        if (pattern.test(out)) return resolve(out)
        if (child.exitCode !== null || child.signalCode !== null) {
          return reject(new Error(`agent output never matched ${pattern}: ${out} ${err}`))
        }
        outputWaiters.push(check)
      }
      void exit.then(() => {
        for (const wake of outputWaiters.splice(0)) wake()
      })
      check()
    })

  const release = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      // The sandbox follows (its init has PR_SET_PDEATHSIG); cgroups are swept below.
      process.kill(child.pid, "SIGKILL")
      await exit
    }
    agent.destroy()
    child.stdout?.destroy()
    child.stderr?.destroy()
    status.destroy()
    specPipe.destroy()
    const cgroup = Buffer.isBuffer(spec) ? undefined : spec.cgroup
    if (cgroup !== undefined) await removeCgroup(cgroup)
  }

  return {
    child,
    agent,
    records,
    spawnedAt,
    arrivedAt,
    stdout: () => out,
    stderr: () => err,
    record,
    output,
    exit,
    release
  }
}

/** Where memory, cpu, cpuacct and pids live here: the launcher's own detection rule. */
export const cgroupHierarchies = (): { readonly layout: "v1" | "v2" | "hybrid" | "none"; readonly roots: ReadonlyArray<string> } => {
  const ours = ["memory", "cpu", "cpuacct", "pids"]
  const found = new Set<string>()
  const v1: Array<string> = []
  let v2: string | undefined
  for (const line of Fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const [left, right] = line.split(" - ")
    if (left === undefined || right === undefined) continue
    const mountPoint = left.split(" ")[4] ?? ""
    const [fstype, , superOptions = ""] = right.split(" ")
    if (fstype === "cgroup") {
      const controllers = superOptions.split(",").filter((c) => ours.includes(c) && !found.has(c))
      if (controllers.length > 0) {
        controllers.forEach((c) => found.add(c))
        v1.push(mountPoint)
      }
    } else if (fstype === "cgroup2" && v2 === undefined) {
      v2 = mountPoint
    }
  }
  let v2Used = false
  if (v2 !== undefined) {
    const enabled = Fs.readFileSync(Path.join(v2, "cgroup.subtree_control"), "utf8").split(/\s+/)
    v2Used = enabled.some((c) => ["memory", "cpu", "pids"].includes(c) && !found.has(c)) || v1.length === 0
  }
  const roots = v2Used && v2 !== undefined ? [...v1, v2] : v1
  const layout = v1.length > 0 && v2Used ? "hybrid" : v1.length > 0 ? "v1" : v2Used ? "v2" : "none"
  return { layout, roots }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Removes `rel` (below agentos/ only) and its parents up to, not including, agentos/, in every
 * hierarchy: what a killed launcher could not. Processes still inside are this test's own
 * sandbox's, killed by pid first.
 */
export const removeCgroup = async (rel: string): Promise<void> => {
  if (!rel.startsWith("agentos/") || rel.split("/").some((part) => part === ".." || part === "")) {
    throw new Error(`refusing to remove cgroup ${rel}: not below agentos/`)
  }
  for (const root of cgroupHierarchies().roots) {
    let dir = Path.join(root, rel)
    while (dir !== Path.join(root, "agentos")) {
      for (let attempt = 0; Fs.existsSync(dir); attempt++) {
        try {
          Fs.rmdirSync(dir)
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code
          if (code === "ENOENT" || code === "ENOTEMPTY" || attempt > 200) break
          if (code !== "EBUSY") throw error
          const procs = Fs.readFileSync(Path.join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean)
          for (const pid of procs) {
            try {
              process.kill(Number(pid), "SIGKILL")
            } catch {}
          }
          await sleep(5)
        }
      }
      dir = Path.dirname(dir)
    }
  }
}

/** Host pids whose real uid is `uid` (Uid: line of /proc/<pid>/status). */
export const processesOf = (uid: number): Array<number> => {
  const pids: Array<number> = []
  for (const entry of Fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const status = Fs.readFileSync(`/proc/${entry}/status`, "utf8")
      const real = /^Uid:\s+(\d+)/m.exec(status)?.[1]
      if (Number(real) === uid) pids.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return pids
}

/** The agent's report: `key=value` lines on its stdout. */
export const report = (stdout: string): Record<string, string> =>
  Object.fromEntries(
    stdout
      .split("\n")
      .map((line) => /^([\w.-]+)=(.*)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]!, m[2]!])
  )

/** Waits for `ended` and the launcher's exit, which must be 0. */
export const ended = async (l: Launch): Promise<LaunchStatus.Ended> => {
  const end = await l.record("ended")
  const { code } = await l.exit
  if (code !== 0) throw new Error(`launcher exited ${code} after ended`)
  return end
}
