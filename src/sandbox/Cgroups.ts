/**
 * Reading cgroups, never writing them: where each hierarchy is mounted (v2, v1, or the hybrid
 * of both), the live figures of an agent's cgroup for STAT and LIST, and the one cleanup the
 * kernel does itself, rmdir of empty leftovers under `agentos/` (rmdir cannot remove a cgroup
 * that still holds a process, so it never disturbs a live one).
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
export const removeStale = (kernelId: string, staleAfterMs = 60_000, now = Date.now()): ReadonlyArray<string> => {
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
  for (const h of hierarchies()) {
    const parent = Path.join(h.mountPoint, "agentos")
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
