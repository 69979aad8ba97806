/**
 * The launcher's status records (docs/launcher.md), read from its status fd: `isolation`,
 * `started`, `ended`, `error`. One record per line: a word, `key=value` pairs, and `msg` last
 * running to the end of the line.
 */

/** What this launch actually got. @category models */
export interface Isolation {
  readonly _tag: "isolation"
  readonly namespaces: ReadonlyArray<string>
  readonly cgroup: string
  readonly seccomp: boolean
  readonly userns: boolean
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
}

/** A setup step failed; the agent never ran. @category models */
export interface Failed {
  readonly _tag: "error"
  readonly step: string
  readonly errno: number
  readonly message: string
}

/** Any status record. @category models */
export type Record_ = Isolation | Started | Ended | Failed

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
        userns: fields.get("userns") === "on"
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
        cpuUs: num("cpu_us")
      }
    case "error":
      return { _tag: "error", step: fields.get("step") ?? "unknown", errno: num("errno"), message }
    default:
      return undefined
  }
}
