/**
 * Test support: the real `agentos` command run in each situation of docs/isolation.md. As the
 * current user it is the situation this machine gives; as root the suite also runs it as an
 * ordinary user (the test user made by rootlessSetup.ts), in A (user namespaces, no delegated
 * cgroup), B (a cgroup root created below agentos/ and chowned to the user, the command placed
 * in it) and C (user namespaces refused: inside a user namespace whose own
 * max_user_namespaces is 0, as rootless.md describes; the host's sysctl is never touched).
 *
 * The project is shown to the test user at a neutral path (a bind mount in a private mount
 * namespace), so a checkout below /root, which the user cannot walk, works the same.
 * Everything a run creates (its directories, its cgroups, its processes) is released by `stop`.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Cgroups from "../../src/sandbox/Cgroups.ts"
import { removeTree } from "./kernel.ts"
import { TEST_USER } from "./rootlessSetup.ts"

/** The project root as this process sees it. */
export const projectRoot = Path.resolve(fileURLToPath(new URL("../../", import.meta.url)))

/** Where a situation runs the command. */
export type Situation = "current" | "A" | "B" | "C"

/** Whether the suite may run `situation` here (the other three need root to set them up). */
export const available = (situation: Situation): boolean => situation === "current" || process.getuid?.() === 0

/** The test user's ids, when it exists. */
export const testUser = (): { readonly uid: number; readonly gid: number; readonly home: string } | undefined => {
  const line = Fs.readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith(`${TEST_USER}:`))
  if (line === undefined) return undefined
  const [, , uid, gid, , home] = line.split(":")
  return { uid: Number(uid), gid: Number(gid), home: home! }
}

/** A command running in a situation. */
export interface Running {
  readonly situation: Situation
  readonly child: ChildProcess.ChildProcess
  /** The project root as the command sees it (agents' scripts are named below it). */
  readonly root: string
  /** The uid it runs as. */
  readonly uid: number
  /** A private directory the command's user owns (its state dir, its socket live below). */
  readonly dir: string
  readonly socketPath: string
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  /** Resolves once stdout matches. */
  readonly waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<string>
  /** SIGTERM (then SIGKILL), and everything it made is removed. */
  readonly stop: () => Promise<void>
}

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/** The delegated cgroup directories of a B run, one per hierarchy the limits use, below agentos/. */
const delegatedDirs = (name: string): ReadonlyArray<string> => {
  const all = Cgroups.hierarchies()
  const dirs: Array<string> = []
  for (const h of all) {
    if (h.version === 1 && !h.controllers.some((c) => ["memory", "cpu", "cpuacct", "pids"].includes(c))) continue
    if (h.version === 2 && Cgroups.layout(all) !== "v2") continue
    dirs.push(Path.join(h.mountPoint, "agentos", name))
  }
  return dirs
}

const removeCgroupTree = async (dir: string): Promise<void> => {
  if (!Fs.existsSync(dir)) return
  for (const entry of Fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await removeCgroupTree(Path.join(dir, entry.name))
  }
  for (let attempt = 0; attempt < 200 && Fs.existsSync(dir); attempt++) {
    try {
      Fs.rmdirSync(dir)
    } catch {
      // This run's own processes, if any are left: end them by pid.
      for (const pid of Fs.readFileSync(Path.join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL")
        } catch {}
      }
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }
}

/**
 * Runs `agentos ...args` (or another script of the project) in `situation`, in the project's
 * root (as its user sees it), with
 * $AGENTOS_SOCKET and $AGENTOS_STATE_DIR in a fresh directory of its user's.
 */
export const run = async (
  situation: Situation,
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>> = {},
  /** A script of the project (relative to its root) to run instead of bin/agentos.js. */
  entry = "bin/agentos.js"
): Promise<Running> => {
  const asUser = situation !== "current"
  const user = asUser ? testUser() : undefined
  if (asUser && user === undefined) throw new Error(`the test user ${TEST_USER} does not exist (test/support/rootlessSetup.ts makes it as root)`)
  const uid = user?.uid ?? process.getuid?.() ?? 0
  const gid = user?.gid ?? process.getgid?.() ?? 0
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), `agentos-${situation}-`))
  // Passable, not listable: an agent with a uid of its own walks to its workdir through it.
  Fs.chmodSync(dir, 0o711)
  if (asUser) Fs.chownSync(dir, uid, gid)
  const view = asUser ? Path.join(dir, "project") : projectRoot
  const root = view
  const socketPath = Path.join(dir, "run", "kernel.sock")
  const cgroupName = `situation-${process.pid}-${Path.basename(dir)}`
  const cgroupDirs = situation === "B" ? delegatedDirs(cgroupName) : []
  for (const h of situation === "B" ? Cgroups.hierarchies().filter((h) => h.version === 2 && Cgroups.layout() === "v2") : []) {
    // v2: agentos/ (the project's own parent) hands the controllers on to what it delegates.
    const parent = Path.join(h.mountPoint, "agentos")
    Fs.mkdirSync(parent, { recursive: true })
    const offered = Fs.readFileSync(Path.join(parent, "cgroup.controllers"), "utf8").split(/\s+/)
    for (const c of ["memory", "cpu", "pids"].filter((c) => offered.includes(c))) Fs.writeFileSync(Path.join(parent, "cgroup.subtree_control"), `+${c}`)
  }
  for (const d of cgroupDirs) {
    // What an administrator does to delegate a v1 subtree (rootless.md, "Delegation"): the
    // directory and its membership files to the user; on v2 the controllers the user may hand on.
    Fs.mkdirSync(d, { recursive: true })
    for (const file of ["", "cgroup.procs", "tasks", "cgroup.subtree_control", "cgroup.threads"]) {
      const path = Path.join(d, file)
      if (Fs.existsSync(path)) Fs.chownSync(path, uid, gid)
    }
  }
  const node = Path.join(view, "node_modules", "node", "bin", "node")
  const command = [node, Path.join(view, entry), ...args].map(sh).join(" ")
  const environment = [
    "env", "-i",
    `HOME=${user?.home ?? Os.homedir()}`,
    `PATH=/usr/local/bin:/usr/bin:/bin`,
    `USER=${asUser ? TEST_USER : Os.userInfo().username}`,
    `AGENTOS_SOCKET=${socketPath}`,
    `AGENTOS_STATE_DIR=${Path.join(dir, "state")}`,
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`)
  ].map(sh).join(" ")
  const drop = `setpriv --reuid=${uid} --regid=${gid} --clear-groups --inh-caps=-all`
  let script: string
  if (!asUser) {
    script = `cd ${sh(projectRoot)} && exec ${environment} ${command}`
  } else {
    Fs.mkdirSync(view)
    const join = cgroupDirs.map((d) => `echo $$ > ${sh(Path.join(d, "cgroup.procs"))}`).join(" && ")
    const mount = `mount --bind ${sh(projectRoot)} ${sh(view)}`
    const inner = `${mount}${situation === "C" ? " && echo 0 > /proc/sys/user/max_user_namespaces" : ""}${join === "" ? "" : ` && ${join}`} && cd ${sh(view)} && exec ${drop} ${environment} ${command}`
    // C: the identity-mapped user namespace is made by unshare, its maps written by us (root)
    // once it waits on stdin; the second exec regains the capabilities the maps now give.
    script = situation === "C"
      ? `read go && exec /bin/sh -c ${sh(inner)}`
      : inner
  }
  const argv = !asUser
    ? ["/bin/sh", "-c", script]
    : situation === "C"
    ? ["unshare", "--user", "--mount", "--propagation", "private", "/bin/sh", "-c", script]
    : ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script]
  const child = ChildProcess.spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] })
  if (situation === "C") {
    await new Promise((resolve) => setTimeout(resolve, 50))
    for (const file of ["uid_map", "gid_map"]) {
      for (let attempt = 0; ; attempt++) {
        try {
          Fs.writeFileSync(`/proc/${child.pid}/${file}`, "0 0 4294967295\n")
          break
        } catch (e) {
          if (attempt > 100) throw e
          await new Promise((resolve) => setTimeout(resolve, 10))
        }
      }
    }
  }
  child.stdin!.end("go\n")
  let stdout = ""
  let stderr = ""
  const waiters: Array<() => void> = []
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    stdout += d
    for (const w of waiters.splice(0)) w()
  })
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      for (const w of waiters.splice(0)) w()
      resolve({ code, signal })
    }))
  const waitFor = (pattern: RegExp, timeoutMs = 30_000) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${situation}: stdout never matched ${pattern}: ${stdout} ${stderr}`)), timeoutMs)
      const check = () => {
        if (pattern.test(stdout)) {
          clearTimeout(timer)
          return resolve(stdout)
        }
        if (child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(timer)
          return reject(new Error(`${situation}: exited before stdout matched ${pattern}: ${stdout} ${stderr}`))
        }
        waiters.push(check)
      }
      check()
    })
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      // The command itself (unshare and sh exec into it, or wait for it): SIGTERM, the orderly way.
      signalTree(child.pid!, "SIGTERM")
      const done = await Promise.race([exited.then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), 15_000))])
      if (!done) signalTree(child.pid!, "SIGKILL")
      await exited
    }
    for (const d of cgroupDirs) await removeCgroupTree(d)
    // Agents' workdirs may hold files of the user's subordinate ids.
    removeTree(dir)
  }
  return { situation, child, root, uid, dir, socketPath, stdout: () => stdout, stderr: () => stderr, exited, waitFor, stop }
}

/** Signals `pid` and its descendants we can find (the command under unshare's sh). */
const signalTree = (pid: number, signal: NodeJS.Signals) => {
  const children = (p: number): Array<number> => {
    try {
      return Fs.readdirSync(`/proc/${p}/task`).flatMap((t) =>
        Fs.readFileSync(`/proc/${p}/task/${t}/children`, "utf8").split(" ").filter(Boolean).map(Number))
    } catch {
      return []
    }
  }
  // The deepest first: the agentos process is the leaf of unshare → sh (exec'd away) → setpriv → node.
  const all: Array<number> = []
  const visit = (p: number) => {
    for (const c of children(p)) visit(c)
    all.push(p)
  }
  visit(pid)
  const top = all.find((p) => {
    try {
      return Fs.readFileSync(`/proc/${p}/cmdline`, "utf8").includes("agentos.js")
    } catch {
      return false
    }
  })
  try {
    process.kill(top ?? pid, signal)
  } catch {}
}
