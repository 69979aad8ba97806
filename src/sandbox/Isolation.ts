/**
 * What isolation this machine gives agents, for `agentos doctor`: who the kernel runs as,
 * namespaces, user namespaces, the cgroup layout and controllers, seccomp, the launcher build,
 * and, by launching a probe through the real launcher, what an agent actually gets. Each
 * feature is reported with what is degraded without it.
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as AgentSpec from "../kernel/AgentSpec.ts"
import * as PeerCredentials from "../kernel/PeerCredentials.ts"
import * as Cgroups from "./Cgroups.ts"
import { Launcher } from "./Launcher.ts"
import * as LaunchSpec from "./LaunchSpec.ts"

/** One line of the report. @category models */
export interface Feature {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
  /** What agents lose when it is missing. */
  readonly degraded?: string
}

const read = (path: string): string | undefined => {
  try {
    return Fs.readFileSync(path, "utf8").trim()
  } catch {
    return undefined
  }
}

/** The static checks (no process is started). @category constructors */
export const detect = (launcherPath: string): ReadonlyArray<Feature> => {
  const uid = process.getuid?.() ?? 0
  const features: Array<Feature> = []
  features.push({
    name: "privileges",
    ok: uid === 0,
    detail: uid === 0 ? "running as root: agents get their own host uid through a user namespace" : `running as uid ${uid}`,
    degraded: "without root: no per-agent host uid and no cgroups unless delegated; user namespaces or plain fork/exec"
  })
  const namespaces = ["pid", "mnt", "net", "uts", "ipc", "user"].filter((ns) => Fs.existsSync(`/proc/self/ns/${ns}`))
  features.push({
    name: "namespaces",
    ok: namespaces.length === 6,
    detail: `available: ${namespaces.join(", ") || "none"}`,
    degraded: "an agent sees the host's processes, network or mounts"
  })
  const maxUserNs = Number(read("/proc/sys/user/max_user_namespaces") ?? "0")
  const unprivileged = read("/proc/sys/kernel/unprivileged_userns_clone")
  features.push({
    name: "user namespaces",
    ok: maxUserNs > 0 && unprivileged !== "0",
    detail: `max_user_namespaces=${maxUserNs}${unprivileged === undefined ? "" : `, unprivileged_userns_clone=${unprivileged}`}`,
    degraded: "agents cannot run under their own unprivileged uid; non-root kernels fall back to plain fork/exec"
  })
  const all = Cgroups.hierarchies()
  const layout = Cgroups.layout(all)
  const controllers = (name: string) =>
    all.filter((h) => h.controllers.includes(name)).map((h) => `${h.mountPoint} (v${h.version})`).join(", ") || "not mounted"
  features.push({
    name: "cgroups",
    ok: layout !== "none",
    detail: `layout ${layout}; memory: ${controllers("memory")}; cpu: ${controllers("cpu")}; pids: ${controllers("pids")}`,
    degraded: "no memory, CPU or process limits: a hog can starve the machine"
  })
  const seccomp = /^Seccomp:\s*(\d)/m.exec(read("/proc/self/status") ?? "")
  features.push({
    name: "seccomp",
    ok: seccomp !== null,
    detail: seccomp === null ? "not supported by this kernel" : "filter mode available",
    degraded: "agents may call ptrace, mount, bpf, unshare and the like"
  })
  const built = Fs.existsSync(launcherPath)
  features.push({
    name: "launcher",
    ok: built,
    detail: built ? launcherPath : `${launcherPath} is not built`,
    degraded: "agents cannot be spawned: run `make -C native`"
  })
  return features
}

/**
 * Launches a probe through the real launcher, with every namespace, a cgroup and seccomp, and
 * returns what it actually got (the launcher's `isolation` record) and what the probe saw from
 * inside: its uid map, capabilities, seccomp mode, network interfaces.
 * @category constructors
 */
export const probe = Effect.fn("Isolation.probe")(function* (uid: number) {
  const launcher = yield* Launcher
  const [kernelEnd, agentEnd] = PeerCredentials.socketPair()
  yield* Effect.addFinalizer(() => Effect.sync(() => {
    PeerCredentials.closeFd(kernelEnd)
    PeerCredentials.closeFd(agentEnd)
  }))
  const sh = AgentSpec.which("sh") ?? "/bin/sh"
  const root = (process.getuid?.() ?? 0) === 0
  const launched = yield* launcher.spawn({
    argv: [sh, "-c", "grep -E '^(Uid|CapEff|Seccomp|NoNewPrivs):' /proc/self/status; echo \"net: $(ls /sys/class/net | tr '\\n' ' ')\"; echo \"pid: $$\""],
    env: { PATH: "/usr/bin:/bin" },
    ...(root ? { uid, gid: uid, cgroup: `agentos/doctor-${process.pid}/probe` } : {}),
    memoryMax: 32 * 1024 * 1024,
    pidsMax: 8,
    namespaces: LaunchSpec.allNamespaces,
    readOnly: [],
    readWrite: [],
    tmpfs: [],
    network: "none",
    seccomp: "default",
    rlimits: { core: 0 }
  }, agentEnd)
  const seen: Array<string> = []
  launched.onOutput((_stream, line) => seen.push(line))
  const ended = yield* launched.ended
  return { isolation: launched.isolation, cgroups: launched.cgroups, seen, ended }
}, Effect.scoped)
