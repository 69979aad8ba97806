/**
 * The launcher's status records (docs/launcher.md), read from its status fd: `isolation`,
 * `started`, `usage`, `ended`, `error` (and `probe`, which `agentos-launch --probe` prints).
 * One record per line: a word, `key=value` pairs, and `msg` last running to the end of the line.
 */

/** Which mechanism holds a limit of one launch: a cgroup, the launcher itself, or nothing (not asked). @category models */
export type Via<Launcher extends string> = "cgroup" | Launcher | "none"

/** What this launch actually got. @category models */
export interface Isolation {
  readonly _tag: "isolation"
  readonly namespaces: ReadonlyArray<string>
  readonly cgroup: string
  readonly seccomp: boolean
  readonly userns: boolean
  /** The Landlock ABI the sandbox is restricted with; 0: none (a mount namespace, or no isolation). */
  readonly landlock: number
  /** Whose host ids the agent has: `root` (the kernel's range, as root), `subid` (the user's /etc/subuid range), `self` (the kernel's own), `switch`, `none`. */
  readonly idmap: string
  readonly memory: Via<"watchdog">
  readonly cpu: Via<"throttle">
  readonly pids: Via<"rlimit">
}

/** Live figures of a sandbox whose limits the launcher holds, about once a second. @category models */
export interface Usage {
  readonly _tag: "usage"
  readonly memoryBytes: number
  readonly cpuUs: number
  readonly throttledUs: number
  readonly nrThrottled: number
  readonly tasks: number
  /** The sandbox has reached its process limit (held by RLIMIT_NPROC) at least once. */
  readonly pidsLimit: boolean
}

/** What `agentos-launch --probe` found this user may do here. @category models */
export interface Probe {
  readonly _tag: "probe"
  readonly uid: number
  /** A user namespace could be made, mapped, entered and mounted in. */
  readonly userns: boolean
  /** Why not, when not: the step that failed and its error. */
  readonly usernsError: string | null
  readonly landlock: number
  readonly seccomp: boolean
  readonly newuidmap: string | null
  readonly newgidmap: string | null
}

/** The agent is running. @category models */
export interface Started {
  readonly _tag: "started"
  readonly pid: number
  readonly init: number
  /** Cgroup directories by hierarchy (`memory`, `cpu`, `pids`, `cpuacct` on v1; `unified` on v2). */
  readonly cgroups: Readonly<Record<string, string>>
}

/** The agent ended. @category models */
export interface Ended {
  readonly _tag: "ended"
  readonly code: number
  readonly signal: number
  readonly oom: boolean
  readonly pidsLimit: boolean
  readonly throttledUs: number
  readonly nrThrottled: number
  readonly peakBytes: number
  readonly cpuUs: number
  /** What killed it for its memory: `cgroup` (the kernel's OOM killer), `watchdog` (the launcher's); null without an OOM kill. */
  readonly oomSource: "cgroup" | "watchdog" | null
}

/** A setup step failed; the agent never ran. @category models */
export interface Failed {
  readonly _tag: "error"
  readonly step: string
  readonly errno: number
  readonly message: string
}

/** Any status record. @category models */
export type Record_ = Isolation | Started | Usage | Ended | Failed | Probe

const via = <L extends string>(value: string | undefined, launcher: L): Via<L> =>
  value === "cgroup" ? "cgroup" : value === launcher ? launcher : "none"

/** Parses one line; undefined for a line that is not a known record. @category constructors */
export const parseLine = (line: string): Record_ | undefined => {
  const space = line.indexOf(" ")
  const word = space === -1 ? line : line.slice(0, space)
  let rest = space === -1 ? "" : line.slice(space + 1)
  let message = ""
  const msgAt = rest.startsWith("msg=") ? 0 : rest.indexOf(" msg=")
  if (msgAt !== -1) {
    message = rest.slice(msgAt === 0 ? 4 : msgAt + 5)
    rest = rest.slice(0, msgAt)
  }
  const fields = new Map<string, string>()
  for (const pair of rest.split(" ")) {
    const eq = pair.indexOf("=")
    if (eq > 0) fields.set(pair.slice(0, eq), pair.slice(eq + 1))
  }
  const num = (key: string) => Number(fields.get(key) ?? 0)
  switch (word) {
    case "isolation":
      return {
        _tag: "isolation",
        namespaces: (fields.get("ns") ?? "none").split(",").filter((n) => n !== "none" && n !== ""),
        cgroup: fields.get("cgroup") ?? "none",
        seccomp: fields.get("seccomp") === "on",
        userns: fields.get("userns") === "on",
        landlock: num("landlock"),
        idmap: fields.get("idmap") ?? "none",
        memory: via(fields.get("memory"), "watchdog"),
        cpu: via(fields.get("cpu"), "throttle"),
        pids: via(fields.get("pids"), "rlimit")
      }
    case "usage":
      return {
        _tag: "usage",
        memoryBytes: num("memory_bytes"),
        cpuUs: num("cpu_us"),
        throttledUs: num("throttled_us"),
        nrThrottled: num("nr_throttled"),
        tasks: num("tasks"),
        pidsLimit: fields.get("pids_limit") === "1"
      }
    case "probe": {
      const path = (key: string) => {
        const value = fields.get(key)
        return value === undefined || value === "-" ? null : value
      }
      const error = path("userns_error")
      return {
        _tag: "probe",
        uid: num("uid"),
        userns: fields.get("userns") === "1",
        usernsError: error === null ? null : error.replace(/_/g, " "),
        landlock: num("landlock"),
        seccomp: fields.get("seccomp") === "1",
        newuidmap: path("newuidmap"),
        newgidmap: path("newgidmap")
      }
    }
    case "started": {
      const cgroups: Record<string, string> = {}
      for (const [key, value] of fields) if (key.startsWith("cgroup.")) cgroups[key.slice(7)] = value
      return { _tag: "started", pid: num("pid"), init: num("init"), cgroups }
    }
    case "ended":
      return {
        _tag: "ended",
        code: num("code"),
        signal: num("signal"),
        oom: fields.get("oom") === "1",
        pidsLimit: fields.get("pids_limit") === "1",
        throttledUs: num("throttled_us"),
        nrThrottled: num("nr_throttled"),
        peakBytes: num("peak_bytes"),
        cpuUs: num("cpu_us"),
        oomSource: fields.get("oom_source") === "watchdog" ? "watchdog" : fields.get("oom") === "1" ? "cgroup" : null
      }
    case "error":
      return { _tag: "error", step: fields.get("step") ?? "unknown", errno: num("errno"), message }
    default:
      return undefined
  }
}
