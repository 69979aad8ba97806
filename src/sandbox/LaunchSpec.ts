/**
 * What the kernel asks the native launcher to start: program, environment, identity, cgroup
 * limits, namespaces, filesystem grants and seccomp profile. `encode` writes the launcher's
 * wire form (docs/launcher.md): NUL-terminated `key=value` records, so argv and env bytes pass
 * through untouched.
 */

/** Linux namespaces the launcher can create. @category models */
export type Namespace = "pid" | "mount" | "net" | "uts" | "ipc" | "user"

/** Resource limits of the rlimit family the spec may set. @category models */
export type RlimitName = "nofile" | "nproc" | "core" | "fsize" | "stack" | "as" | "cpu" | "memlock" | "data"

/** One launch. @category models */
export interface LaunchSpec {
  readonly argv: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  readonly cwd?: string
  readonly hostname?: string
  readonly uid?: number
  readonly gid?: number
  /** Relative to each hierarchy's root (or delegated directory): `agentos/<kernel-id>/<name>`. */
  readonly cgroup?: string
  /** Delegated cgroup directories, one per hierarchy, under which `cgroup` is made (not root). */
  readonly cgroupRoots?: ReadonlyArray<string>
  readonly memoryMax?: number
  readonly cpuMax?: { readonly quotaUs: number; readonly periodUs: number }
  readonly pidsMax?: number
  /** Namespaces to create; empty for a plain fork/exec. */
  readonly namespaces: ReadonlyArray<Namespace>
  readonly readOnly: ReadonlyArray<string>
  readonly readWrite: ReadonlyArray<string>
  readonly workdir?: string
  /** Where the workdir appears inside (needs the mount namespace); default its host path. */
  readonly workdirAt?: string
  readonly tmpfs: ReadonlyArray<string>
  readonly tmpSizeBytes?: number
  readonly network: "none" | "host"
  readonly seccomp: "default" | "off"
  /** Landlock in place of a mount namespace (situation C: no user namespaces). */
  readonly landlock?: boolean
  readonly rlimits: Readonly<Partial<Record<RlimitName, number | readonly [number, number]>>>
  readonly killTimeoutMs?: number
}

/** Every namespace: the default for an agent. @category constructors */
export const allNamespaces: ReadonlyArray<Namespace> = ["pid", "mount", "net", "uts", "ipc", "user"]

/**
 * A spec with the defaults an agent gets: every namespace, no grants, no network, the default
 * seccomp profile, no core files, a PATH; `overrides` gives the rest.
 * @category constructors
 */
export const make = (argv: ReadonlyArray<string>, overrides: Partial<LaunchSpec> = {}): LaunchSpec => ({
  argv,
  env: { PATH: "/usr/bin:/bin" },
  namespaces: allNamespaces,
  readOnly: [],
  readWrite: [],
  tmpfs: [],
  network: "none",
  seccomp: "default",
  rlimits: { core: 0 },
  ...overrides
})

/** The spec's records, as the launcher reads them on its fd 4. @category constructors */
export const encode = (spec: LaunchSpec): Buffer => {
  const records: Array<string> = []
  const put = (key: string, value: string | number) => {
    const text = String(value)
    if (text.includes("\0")) throw new RangeError(`launch spec ${key}: value contains a NUL byte`)
    records.push(`${key}=${text}`)
  }
  for (const arg of spec.argv) put("argv", arg)
  for (const [name, value] of Object.entries(spec.env)) put("env", `${name}=${value}`)
  if (spec.cwd !== undefined) put("cwd", spec.cwd)
  if (spec.hostname !== undefined) put("hostname", spec.hostname)
  if (spec.uid !== undefined) put("uid", spec.uid)
  if (spec.gid !== undefined) put("gid", spec.gid)
  if (spec.cgroup !== undefined) put("cgroup", spec.cgroup)
  for (const root of spec.cgroupRoots ?? []) put("cgroup.root", root)
  if (spec.memoryMax !== undefined) put("memory.max", spec.memoryMax)
  if (spec.cpuMax !== undefined) put("cpu.max", `${spec.cpuMax.quotaUs} ${spec.cpuMax.periodUs}`)
  if (spec.pidsMax !== undefined) put("pids.max", spec.pidsMax)
  put("ns", spec.namespaces.length === 0 ? "none" : spec.namespaces.join(","))
  for (const path of spec.readOnly) put("ro", path)
  for (const path of spec.readWrite) put("rw", path)
  if (spec.workdir !== undefined) put("workdir", spec.workdir)
  if (spec.workdirAt !== undefined) put("workdir.at", spec.workdirAt)
  for (const path of spec.tmpfs) put("tmpfs", path)
  if (spec.tmpSizeBytes !== undefined) put("tmp.size", spec.tmpSizeBytes)
  put("net", spec.network)
  put("seccomp", spec.seccomp)
  if (spec.landlock !== undefined) put("landlock", spec.landlock ? "on" : "off")
  for (const [name, value] of Object.entries(spec.rlimits)) {
    if (value === undefined) continue
    put(`rlimit.${name}`, typeof value === "number" ? value : `${value[0]} ${value[1]}`)
  }
  if (spec.killTimeoutMs !== undefined) put("kill_timeout_ms", spec.killTimeoutMs)
  return Buffer.from(records.map((r) => `${r}\0`).join(""), "utf8")
}
