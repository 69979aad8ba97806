/**
 * Cgroups as the kernel sees them: where each hierarchy is mounted (v2, v1, or the hybrid of
 * both), where agents' cgroups go (`placement`: each hierarchy's root as root; without root,
 * the kernel's own cgroup when it was delegated to its user, found from /proc/self/cgroup), the
 * live figures of an agent's cgroup for STAT and LIST, and the two writes the kernel does
 * itself: on a delegated v2 cgroup, moving its own processes into a leaf and enabling the
 * controllers for its agents (cgroup v2's "no internal processes" rule); and rmdir of empty
 * leftovers under `agentos/` (rmdir cannot remove a cgroup that still holds a process, so it
 * never disturbs a live one). Every other cgroup write is the launcher's.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"

/** A mounted cgroup hierarchy. @category models */
export interface Hierarchy {
  /** `unified` for cgroup v2, else the v1 controllers it carries (`memory`, `cpu,cpuacct`, …). */
  readonly name: string
  readonly version: 1 | 2
  readonly mountPoint: string
  /** Controllers available: v1 from the mount options, v2 from cgroup.controllers. */
  readonly controllers: ReadonlyArray<string>
}

const v1Controllers = ["memory", "cpu", "cpuacct", "pids", "cpuset", "blkio", "devices", "freezer", "hugetlb", "net_cls", "net_prio", "perf_event", "rdma", "misc"]

/** The cgroup hierarchies mounted in this mount namespace, from /proc/self/mountinfo. @category constructors */
export const hierarchies = (mountinfo: string = readOr("/proc/self/mountinfo", "")): ReadonlyArray<Hierarchy> => {
  const found: Array<Hierarchy> = []
  for (const line of mountinfo.split("\n")) {
    const sep = line.indexOf(" - ")
    if (sep === -1) continue
    const left = line.slice(0, sep).split(" ")
    const right = line.slice(sep + 3).split(" ")
    const mountPoint = left[4]
    const fsType = right[0]
    if (mountPoint === undefined) continue
    if (fsType === "cgroup2") {
      const controllers = readOr(Path.join(mountPoint, "cgroup.controllers"), "").trim().split(/\s+/).filter(Boolean)
      found.push({ name: "unified", version: 2, mountPoint, controllers })
    } else if (fsType === "cgroup") {
      const options = (right[2] ?? "").split(",")
      const controllers = options.filter((o) => v1Controllers.includes(o))
      if (controllers.length > 0) found.push({ name: controllers.join(","), version: 1, mountPoint, controllers })
    }
  }
  return found
}

/** The layout for the controllers agents need: v2 when it carries memory, cpu and pids. @category models */
export type Layout = "v2" | "v1" | "hybrid" | "none"

/** Which layout serves memory, cpu and pids on this machine. @category constructors */
export const layout = (all: ReadonlyArray<Hierarchy> = hierarchies()): Layout => {
  const v2 = all.find((h) => h.version === 2)
  const needed = ["memory", "cpu", "pids"]
  if (v2 !== undefined && needed.every((c) => v2.controllers.includes(c))) return "v2"
  const v1 = all.filter((h) => h.version === 1)
  if (needed.every((c) => v1.some((h) => h.controllers.includes(c)))) return v2 === undefined ? "v1" : "hybrid"
  return "none"
}

/** The controllers agents' limits use. @category models */
export type Controller = "memory" | "cpu" | "pids"

/** Where agents' cgroups are made and which limits they can hold. @category models */
export interface Placement {
  /** `root`: under `agentos/` at each hierarchy's root; `delegated`: under the kernel's own cgroup, delegated to its user; `none`. */
  readonly kind: "root" | "delegated" | "none"
  /** The delegated directories, one per hierarchy (empty unless `delegated`). */
  readonly roots: ReadonlyArray<string>
  /** The controllers agents' cgroups get there. */
  readonly controllers: ReadonlyArray<Controller>
  /** Where, or why none: for `agentos doctor`. */
  readonly detail: string
}

const agentControllers: ReadonlyArray<Controller> = ["memory", "cpu", "pids"]

const writable = (path: string): boolean => {
  try {
    Fs.accessSync(path, Fs.constants.W_OK)
    return true
  } catch {
    return false
  }
}

/** This process's cgroup in each hierarchy, from /proc/self/cgroup: the directory, by hierarchy. @category constructors */
export const ownCgroups = (
  all: ReadonlyArray<Hierarchy> = hierarchies(),
  procCgroup: string = readOr("/proc/self/cgroup", "")
): ReadonlyArray<{ readonly hierarchy: Hierarchy; readonly dir: string }> => {
  const found: Array<{ hierarchy: Hierarchy; dir: string }> = []
  const lines = procCgroup.split("\n").filter(Boolean).map((line) => {
    const first = line.indexOf(":")
    const second = line.indexOf(":", first + 1)
    return { controllers: line.slice(first + 1, second).split(","), path: line.slice(second + 1) }
  })
  for (const hierarchy of all) {
    const line = hierarchy.version === 2
      ? lines.find((l) => l.controllers.length === 1 && l.controllers[0] === "")
      : lines.find((l) => hierarchy.controllers.some((c) => l.controllers.includes(c)))
    if (line !== undefined) found.push({ hierarchy, dir: Path.join(hierarchy.mountPoint, line.path) })
  }
  return found
}

/**
 * Where agents' cgroups go. As root: under `agentos/` at each hierarchy's root. Otherwise:
 * under the kernel's own cgroup in each hierarchy where its user may create cgroups and move
 * processes (systemd's `Delegate=yes`, or an administrator's chown of the directory,
 * cgroup.procs and tasks). v2 controllers are those its parent gives it (cgroup.controllers),
 * enabled by `delegate`.
 * @category constructors
 */
export const placement = (root: boolean = (process.getuid?.() ?? 0) === 0, all: ReadonlyArray<Hierarchy> = hierarchies()): Placement => {
  const ours = all.filter((h) => h.version === 2 || h.controllers.some((c) => agentControllers.includes(c as Controller) || c === "cpuacct"))
  if (root) {
    const controllers = agentControllers.filter((c) => ours.some((h) => h.version === 1 ? h.controllers.includes(c) : readOr(Path.join(h.mountPoint, "cgroup.subtree_control"), "").split(/\s+/).includes(c)))
    return { kind: "root", roots: [], controllers, detail: `agentos/ at each hierarchy's root (layout ${layout(all)})` }
  }
  const delegated = ownCgroups(ours).filter(({ dir }) => writable(dir) && writable(Path.join(dir, "cgroup.procs")))
  if (delegated.length === 0) {
    const where = ownCgroups(ours).map(({ dir }) => dir).join(", ") || "none found"
    return { kind: "none", roots: [], controllers: [], detail: `the kernel's own cgroup is not delegated to uid ${process.getuid?.()} (${where})` }
  }
  const controllers = agentControllers.filter((c) => delegated.some(({ hierarchy, dir }) =>
    hierarchy.version === 1 ? hierarchy.controllers.includes(c) : readOr(Path.join(dir, "cgroup.controllers"), "").split(/\s+/).includes(c)
  ))
  return { kind: "delegated", roots: delegated.map(({ dir }) => dir), controllers, detail: `delegated: ${delegated.map(({ dir }) => dir).join(", ")}` }
}

/** The leaf a delegated v2 cgroup's own processes move into. */
export const KERNEL_LEAF = "kernel"

/**
 * Makes a delegated v2 cgroup usable for agents: cgroup v2 lets a cgroup enable controllers for
 * its children only while it holds no process itself, so every process in it (the kernel, and
 * whatever started it in the same scope: npm, a shell) moves into its leaf `kernel/` first
 * (systemd's docs/CGROUP_DELEGATION.md), then `+memory +cpu +pids` go into its
 * cgroup.subtree_control, as far as its parent gives them. Nothing above it is written.
 * Returns the placement with the controllers that are now enabled, and what went wrong.
 * @category constructors
 */
export const delegate = (current: Placement, all: ReadonlyArray<Hierarchy> = hierarchies()): { readonly placement: Placement; readonly problem?: string } => {
  if (current.kind !== "delegated") return { placement: current }
  const below = (dir: string, mount: string) => dir === mount || dir.startsWith(`${mount}/`)
  const v2 = all.find((h) => h.version === 2)
  const dir = v2 === undefined ? undefined : current.roots.find((r) => below(r, v2.mountPoint))
  if (dir === undefined) return { placement: current }
  const words = (file: string) => readOr(Path.join(dir, file), "").split(/\s+/)
  const missing = agentControllers.filter((c) => words("cgroup.controllers").includes(c) && !words("cgroup.subtree_control").includes(c))
  let problem: string | undefined
  try {
    if (missing.length > 0) {
      const leaf = Path.join(dir, KERNEL_LEAF)
      Fs.mkdirSync(leaf, { recursive: true })
      for (const pid of words("cgroup.procs").filter(Boolean)) {
        try {
          Fs.writeFileSync(Path.join(leaf, "cgroup.procs"), pid)
        } catch (e) {
          // A process that ended meanwhile is not in the way.
          if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e
        }
      }
      for (const c of missing) Fs.writeFileSync(Path.join(dir, "cgroup.subtree_control"), `+${c}`)
    }
  } catch (e) {
    problem = `enabling ${missing.join(", ")} in ${dir}: ${(e as Error).message}`
  }
  // What agents get: the v1 hierarchies delegated with their controllers, and what v2 now enables.
  const enabled = words("cgroup.subtree_control")
  const byV1 = (c: Controller) => all.some((h) => h.version === 1 && h.controllers.includes(c) && current.roots.some((r) => below(r, h.mountPoint)))
  const placement = { ...current, controllers: agentControllers.filter((c) => byV1(c) || enabled.includes(c)) }
  return problem === undefined ? { placement } : { placement, problem }
}

/** Live figures of an agent's cgroup. @category models */
export interface Stats {
  readonly memoryBytes: number | null
  readonly memoryPeakBytes: number | null
  readonly memoryLimitBytes: number | null
  readonly cpuUsageUs: number | null
  readonly cpuThrottledUs: number | null
  readonly nrThrottled: number | null
  readonly pidsCurrent: number | null
  readonly pidsLimit: number | null
  /** Forks refused at pids.max so far (pids.events `max`). */
  readonly pidsLimitHits: number | null
  readonly oomKills: number | null
}

function readOr(path: string, fallback: string): string {
  try {
    return Fs.readFileSync(path, "utf8")
  } catch {
    return fallback
  }
}

const readNumber = (dir: string | undefined, file: string): number | null => {
  if (dir === undefined) return null
  const text = readOr(Path.join(dir, file), "").trim()
  if (text === "" || text === "max") return null
  const n = Number(text.split(/\s+/)[0])
  return Number.isFinite(n) ? n : null
}

const readKeyed = (dir: string | undefined, file: string): Map<string, number> => {
  const map = new Map<string, number>()
  if (dir === undefined) return map
  for (const line of readOr(Path.join(dir, file), "").split("\n")) {
    const [key, value] = line.trim().split(/\s+/)
    if (key !== undefined && value !== undefined) map.set(key, Number(value))
  }
  return map
}

// v1 reports "no limit" as a huge page-aligned number.
const unlimitedV1 = (n: number | null) => (n !== null && n >= 2 ** 62 ? null : n)

/** Reads an agent's cgroups, as the launcher reported them (`started`). @category constructors */
export const read = (cgroups: Readonly<Record<string, string>>): Stats => {
  const unified = cgroups.unified
  if (unified !== undefined) {
    const cpu = readKeyed(unified, "cpu.stat")
    return {
      memoryBytes: readNumber(unified, "memory.current"),
      memoryPeakBytes: readNumber(unified, "memory.peak"),
      memoryLimitBytes: readNumber(unified, "memory.max"),
      cpuUsageUs: cpu.get("usage_usec") ?? null,
      cpuThrottledUs: cpu.get("throttled_usec") ?? null,
      nrThrottled: cpu.get("nr_throttled") ?? null,
      pidsCurrent: readNumber(unified, "pids.current"),
      pidsLimit: readNumber(unified, "pids.max"),
      pidsLimitHits: readKeyed(unified, "pids.events").get("max") ?? null,
      oomKills: readKeyed(unified, "memory.events").get("oom_kill") ?? null
    }
  }
  const cpuStat = readKeyed(cgroups.cpu, "cpu.stat")
  const throttledNs = cpuStat.get("throttled_time")
  const usageNs = readNumber(cgroups.cpuacct ?? cgroups.cpu, "cpuacct.usage")
  return {
    memoryBytes: readNumber(cgroups.memory, "memory.usage_in_bytes"),
    memoryPeakBytes: readNumber(cgroups.memory, "memory.max_usage_in_bytes"),
    memoryLimitBytes: unlimitedV1(readNumber(cgroups.memory, "memory.limit_in_bytes")),
    cpuUsageUs: usageNs === null ? null : Math.round(usageNs / 1000),
    cpuThrottledUs: throttledNs === undefined ? null : Math.round(throttledNs / 1000),
    nrThrottled: cpuStat.get("nr_throttled") ?? null,
    pidsCurrent: readNumber(cgroups.pids, "pids.current"),
    pidsLimit: readNumber(cgroups.pids, "pids.max"),
    pidsLimitHits: readKeyed(cgroups.pids, "pids.events").get("max") ?? null,
    oomKills: readKeyed(cgroups.memory, "memory.oom_control").get("oom_kill") ?? null
  }
}

/**
 * Removes empty cgroups left under `agentos/` by kernels that died: everything empty under this
 * kernel's own parent, and elsewhere under `agentos/` only what has been untouched for
 * `staleAfterMs` (a live kernel removes an agent's cgroup as soon as it ends). Returns the
 * directories removed. Only rmdir: a cgroup with a process in it cannot be removed.
 * @category constructors
 */
export const removeStale = (
  kernelId: string,
  options: {
    readonly staleAfterMs?: number
    readonly now?: number
    /** Where `agentos/` is: each hierarchy's root (default), or the delegated directories. */
    readonly roots?: ReadonlyArray<string> | undefined
  } = {}
): ReadonlyArray<string> => {
  const staleAfterMs = options.staleAfterMs ?? 60_000
  const now = options.now ?? Date.now()
  const removed: Array<string> = []
  const visit = (dir: string, own: boolean): boolean => {
    let entries: Array<Fs.Dirent>
    try {
      entries = Fs.readdirSync(dir, { withFileTypes: true })
    } catch {
      return false
    }
    let empty = true
    for (const entry of entries) {
      if (entry.isDirectory() && !visit(Path.join(dir, entry.name), own)) empty = false
    }
    if (!empty) return false
    if (!own) {
      try {
        if (now - Fs.statSync(dir).mtimeMs < staleAfterMs) return false
      } catch {
        return false
      }
    }
    try {
      Fs.rmdirSync(dir)
      removed.push(dir)
      return true
    } catch {
      return false
    }
  }
  for (const base of options.roots ?? hierarchies().map((h) => h.mountPoint)) {
    const parent = Path.join(base, "agentos")
    let kernels: Array<string>
    try {
      kernels = Fs.readdirSync(parent)
    } catch {
      continue
    }
    for (const kernel of kernels) {
      const dir = Path.join(parent, kernel)
      if (Fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) visit(dir, kernel === kernelId)
    }
  }
  return removed
}
