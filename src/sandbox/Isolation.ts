/**
 * What containment this machine gives agents, and by which mechanism each property of it is
 * held (shared/docs/rootless.md). Learnt once when a kernel starts: the launcher's `--probe`
 * (user namespaces tried, not read from sysctls; the Landlock ABI; seccomp; newuidmap), the
 * user's /etc/subuid range and the cgroups the kernel may use. From that, for each way an agent
 * can be sandboxed, every property is `held`, `weak` (held, with a gap that is named) or
 * `missing` (with what would give it): SPAWN refuses an agent whose sandbox would miss one,
 * `agentos boot` prints the level in its first lines and `agentos doctor` prints the table.
 */
import { Context, Effect, Layer } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Cgroups from "./Cgroups.ts"
import * as LaunchSpec from "./LaunchSpec.ts"
import * as LaunchStatus from "./LaunchStatus.ts"
import * as UidRange from "./UidRange.ts"

/**
 * The situations of rootless.md: `root`; `namespaces` (not root, user namespaces work: A, or B
 * with a delegated cgroup); `landlock` (not root, no user namespaces: C); `unconfined` (neither
 * user namespaces nor Landlock).
 * @category models
 */
export type Situation = "root" | "namespaces" | "landlock" | "unconfined"

/** How one agent is sandboxed: in namespaces, or by Landlock and seccomp without them. @category models */
export type Mode = "namespaces" | "landlock"

/** The user's subordinate ids, usable through newuidmap/newgidmap. @category models */
export interface SubordinateIds {
  readonly uids: { readonly first: number; readonly count: number }
  readonly gids: { readonly first: number; readonly count: number }
}

/** What this machine lets this kernel do. @category models */
export interface Machine {
  readonly uid: number
  readonly root: boolean
  readonly probe: LaunchStatus.Probe
  /** Per-agent host ids without root; or why there are none. */
  readonly subordinate: SubordinateIds | { readonly problem: string }
  readonly cgroups: Cgroups.Placement
  /** A delegated cgroup that could not be fully prepared. */
  readonly cgroupProblem?: string
}

/** A property's state. @category models */
export type Held = "held" | "weak" | "missing"

/** One property of the sandbox and what holds it here. @category models */
export interface Property {
  readonly name: PropertyName
  readonly held: Held
  /** The mechanism, or for `missing` what is lacking. */
  readonly mechanism: string
  /** For `weak`: the gap; for `missing`: how to get it. */
  readonly note?: string
}

/** The catalogue of properties (the issue's list of what is asserted from inside). @category models */
export type PropertyName =
  | "identity"
  | "filesystem"
  | "network"
  | "processes"
  | "memory"
  | "cpu"
  | "signals and ptrace"
  | "kernel socket"
  | "system calls"

/** The machine's situation. @category constructors */
export const situation = (machine: Machine): Situation =>
  machine.root ? "root" : machine.probe.userns ? "namespaces" : machine.probe.landlock >= 1 ? "landlock" : "unconfined"

/** How agents are sandboxed here unless a spec asks for Landlock (`sandbox.namespaces: false`). @category constructors */
export const defaultMode = (machine: Machine): Mode => {
  const s = situation(machine)
  return s === "root" || s === "namespaces" ? "namespaces" : "landlock"
}

/** One line per situation, for boot's first lines and doctor. @category constructors */
export const describeSituation = (machine: Machine): string => {
  switch (situation(machine)) {
    case "root":
      return "root: namespaces, cgroups and a host uid of its own for every agent"
    case "namespaces":
      return machine.cgroups.kind === "delegated"
        ? `uid ${machine.uid}, user namespaces and a delegated cgroup (situation B)`
        : `uid ${machine.uid}, user namespaces, no delegated cgroup (situation A)`
    case "landlock":
      return `uid ${machine.uid}, no user namespaces (${machine.probe.usernsError ?? "refused"}): Landlock ABI ${machine.probe.landlock} and seccomp (situation C)`
    case "unconfined":
      return `uid ${machine.uid}, neither user namespaces (${machine.probe.usernsError ?? "refused"}) nor Landlock: agents cannot be contained`
  }
}

/** The one command that gets a delegated cgroup on a systemd machine. @category constructors */
export const delegationCommand = "systemd-run --user --scope -p Delegate=yes -- npx agentos boot <file>"

const cgroupRemedy = (machine: Machine): string =>
  machine.root ? "" : `for the kernel's own limits, delegate a cgroup: \`${delegationCommand}\`, or run as root`

/**
 * Every property of a sandbox in `mode`, and what holds it on this machine.
 * @category constructors
 */
export const properties = (machine: Machine, mode: Mode): ReadonlyArray<Property> => {
  const has = (c: Cgroups.Controller) => machine.cgroups.kind !== "none" && machine.cgroups.controllers.includes(c)
  const abi = machine.probe.landlock
  const namespaces = mode === "namespaces" && (machine.root || machine.probe.userns)
  // Without a network namespace, `network: none` is seccomp's (no socket()); without either, the host's network.
  const noSocketNetwork: Property = { name: "network", held: "missing", mechanism: "no network namespace and no seccomp", note: "needs seccomp (CONFIG_SECCOMP_FILTER), user namespaces or root" }
  const list: Array<Property> = []
  // Identity
  if (machine.root) {
    list.push({ name: "identity", held: "held", mechanism: "a host uid of its own from the kernel's range" + (namespaces ? ", root only inside its user namespace" : "") })
  } else if (namespaces && !("problem" in machine.subordinate)) {
    list.push({ name: "identity", held: "held", mechanism: `a host uid of its own from uid ${machine.uid}'s /etc/subuid range (newuidmap)` })
  } else {
    list.push({
      name: "identity",
      held: "weak",
      mechanism: namespaces ? `the kernel's uid ${machine.uid}, mapped to root inside its user namespace` : `the kernel's uid ${machine.uid}`,
      note: namespaces
        ? `shares the kernel's host uid; the namespaces keep it apart${"problem" in machine.subordinate ? ` (${machine.subordinate.problem})` : ""}`
        : "shares the kernel's host uid; Landlock keeps it from the kernel's files, memory and signals"
    })
  }
  // Filesystem, network
  if (namespaces) {
    list.push({ name: "filesystem", held: "held", mechanism: "mount namespace: read-only system directories, private /tmp, only the granted paths" })
    list.push({ name: "network", held: "held", mechanism: "network namespace (none: only lo); seccomp allows only the socket families it needs" })
  } else if (abi >= 1) {
    list.push({ name: "filesystem", held: "held", mechanism: `Landlock ABI ${abi}: only the granted paths; seccomp refuses path-based chmod, chown, xattr and utimes` })
    list.push(machine.probe.seccomp ? { name: "network", held: "held", mechanism: `seccomp: no socket() without a network${abi >= 4 ? "; Landlock refuses TCP bind and connect" : ""}` } : noSocketNetwork)
  } else {
    list.push({ name: "filesystem", held: "missing", mechanism: "no mount namespace and no Landlock", note: "needs user namespaces or Landlock (Linux 5.13+), or root" })
    list.push(machine.probe.seccomp ? { name: "network", held: "held", mechanism: "seccomp: no socket() without a network" } : noSocketNetwork)
  }
  // Processes
  if (has("pids")) list.push({ name: "processes", held: "held", mechanism: "cgroup pids.max" })
  else if (namespaces) list.push({ name: "processes", held: "held", mechanism: "RLIMIT_NPROC, counted in the agent's own user namespace" })
  else {
    list.push({
      name: "processes",
      held: "weak",
      mechanism: "RLIMIT_NPROC over the uid's tasks on the host",
      note: `counted with every process of uid ${machine.uid}: the limit is set to what the uid runs at launch plus the agent's own; ${cgroupRemedy(machine)}`
    })
  }
  // Memory, CPU
  list.push(has("memory")
    ? { name: "memory", held: "held", mechanism: "cgroup memory.max (the kernel's OOM killer)" }
    : {
      name: "memory",
      held: "held",
      mechanism: "launcher watchdog: the sandbox's Pss every 100 ms (10 ms near the limit), RLIMIT_DATA, V8's heap limit, no memfd, shared anonymous memory or SysV shm",
      ...(machine.root ? {} : { note: cgroupRemedy(machine) })
    })
  list.push(has("cpu")
    ? { name: "cpu", held: "held", mechanism: "cgroup cpu.max" }
    : { name: "cpu", held: "held", mechanism: "launcher duty cycle (SIGSTOP/SIGCONT to its share) under SCHED_IDLE", ...(machine.root ? {} : { note: cgroupRemedy(machine) }) })
  // Signals and ptrace, the kernel's socket
  if (namespaces) {
    list.push({ name: "signals and ptrace", held: "held", mechanism: "PID and IPC namespaces; seccomp refuses ptrace" })
    list.push({ name: "kernel socket", held: "held", mechanism: "not in its mount namespace (it talks over its fd 3); the kernel refuses any peer inside a sandbox" })
  } else {
    list.push(abi >= 6
      ? { name: "signals and ptrace", held: "held", mechanism: `Landlock ABI ${abi}: no signal or abstract socket outside the sandbox, no ptrace or /proc/<pid>/mem of other processes` }
      : {
        name: "signals and ptrace",
        held: "missing",
        mechanism: abi >= 1 ? `Landlock ABI ${abi} has no signal or abstract-socket scoping` : "no Landlock",
        note: "needs Landlock ABI 6 (Linux 6.12) or user namespaces, or root"
      })
    list.push(machine.probe.seccomp
      ? { name: "kernel socket", held: "held", mechanism: "seccomp refuses socket(AF_UNIX) (socketpair only); the kernel refuses any peer inside a sandbox" }
      : {
        name: "kernel socket",
        held: "weak",
        mechanism: "the kernel refuses any peer inside a sandbox",
        note: "no seccomp: socket(AF_UNIX) is allowed, so only the peer's ancestry keeps it out"
      })
  }
  list.push(machine.probe.seccomp
    ? { name: "system calls", held: "held", mechanism: "seccomp: no ptrace, mount, bpf, io_uring, new namespaces, netlink or packet sockets" }
    : { name: "system calls", held: "missing", mechanism: "this kernel has no seccomp", note: "needs a kernel with CONFIG_SECCOMP_FILTER" })
  return list
}

/**
 * How this machine contains one launch in `mode`: its namespaces (or none, and Landlock when
 * there is any; `unisolated`: neither, a trusted tool), and its cgroup `agentos/<cgroup>` where
 * agents' cgroups go here (at each hierarchy's root as root, below the delegated directories).
 * @category constructors
 */
export const containment = (
  machine: Machine,
  mode: Mode | "unisolated",
  cgroup: string
): Pick<LaunchSpec.LaunchSpec, "namespaces" | "landlock" | "cgroup" | "cgroupRoots"> => ({
  namespaces: mode === "namespaces" ? LaunchSpec.allNamespaces : [],
  ...(mode === "landlock" && machine.probe.landlock >= 1 ? { landlock: true } : {}),
  ...(machine.cgroups.kind === "none" ? {} : { cgroup: `agentos/${cgroup}` }),
  ...(machine.cgroups.kind === "delegated" ? { cgroupRoots: machine.cgroups.roots } : {})
})

/** The properties a sandbox in `mode` would miss here. @category constructors */
export const missing = (machine: Machine, mode: Mode): ReadonlyArray<Property> => properties(machine, mode).filter((p) => p.held === "missing")

const readOr = (path: string, fallback: string): string => {
  try {
    return Fs.readFileSync(path, "utf8")
  } catch {
    return fallback
  }
}

/** Runs `agentos-launch --probe`; a launcher that cannot run gives a probe that allows nothing. @category constructors */
export const runProbe = (launcherPath: string): LaunchStatus.Probe => {
  try {
    const out = ChildProcess.execFileSync(launcherPath, ["--probe"], { encoding: "utf8", env: {}, timeout: 10_000, stdio: ["ignore", "pipe", "pipe"] })
    const record = out.split("\n").map(LaunchStatus.parseLine).find((r) => r?._tag === "probe")
    if (record !== undefined && record._tag === "probe") return record
    throw new Error(`no probe record in ${JSON.stringify(out)}`)
  } catch (e) {
    return {
      _tag: "probe",
      uid: process.getuid?.() ?? 0,
      userns: false,
      usernsError: `the launcher could not be run: ${(e as Error).message}`,
      landlock: 0,
      seccomp: false,
      newuidmap: null,
      newgidmap: null
    }
  }
}

/** The user's /etc/subuid and /etc/subgid ranges with the helpers that map them, or why not. @category constructors */
export const subordinateIds = (probe: LaunchStatus.Probe, files = { subuid: "/etc/subuid", subgid: "/etc/subgid" }): Machine["subordinate"] => {
  if (probe.newuidmap === null || probe.newgidmap === null) return { problem: "newuidmap/newgidmap are not installed (Debian and Ubuntu: the uidmap package)" }
  const uid = process.getuid?.() ?? 0
  let name = String(uid)
  try {
    name = Os.userInfo().username
  } catch {}
  const mine = (e: UidRange.Subordinate) => e.owner === name || e.owner === String(uid)
  const uids = UidRange.parseSubordinate(readOr(files.subuid, "")).find(mine)
  const gids = UidRange.parseSubordinate(readOr(files.subgid, "")).find(mine)
  if (uids === undefined || gids === undefined) return { problem: `${name} has no range in ${uids === undefined ? files.subuid : files.subgid} (usermod --add-subuids/--add-subgids)` }
  return { uids: { first: uids.first, count: uids.count }, gids: { first: gids.first, count: gids.count } }
}

/** How `detect` looks. @category models */
export interface DetectOptions {
  /** Use the user's subordinate ids when there are any (default true). */
  readonly subordinateIds?: boolean
  /** Prepare a delegated v2 cgroup for agents (Cgroups.delegate: moves this process into a leaf); a kernel does, doctor does not. */
  readonly prepareCgroups?: boolean
}

/**
 * Learns the machine: the probe, the subordinate ids (unless `subordinateIds` is off), and
 * where agents' cgroups go.
 * @category constructors
 */
export const detect = (launcherPath: string, options: DetectOptions = {}): Machine => {
  const uid = process.getuid?.() ?? 0
  const root = uid === 0
  const probe = runProbe(launcherPath)
  const subordinate: Machine["subordinate"] = root
    ? { problem: "root: agents get uids from the kernel's own range" }
    : options.subordinateIds === false
    ? { problem: "turned off in the kernel's config" }
    : subordinateIds(probe)
  const found = Cgroups.placement(root)
  const prepared = options.prepareCgroups === true ? Cgroups.delegate(found) : { placement: found }
  return { uid, root, probe, subordinate, cgroups: prepared.placement, ...(prepared.problem === undefined ? {} : { cgroupProblem: prepared.problem }) }
}

/** This kernel's machine, learnt once at start. @category services */
export class Isolation extends Context.Service<Isolation, Machine>()("agentos/sandbox/Isolation") {
  /** The real machine, through the launcher at `launcherPath`. @category layers */
  static readonly layer = (launcherPath: string, options: Omit<DetectOptions, "prepareCgroups"> = {}) =>
    Layer.sync(Isolation, () => Isolation.of(detect(launcherPath, { ...options, prepareCgroups: true })))

  /** A machine given by value: what the kernel decides for another situation, on this one. @category layers */
  static readonly layerFor = (machine: Machine) => Layer.succeed(Isolation, Isolation.of(machine))
}

/** The lines `agentos boot` and `agentos kernel` print first: the situation, then every property not fully held. @category constructors */
export const summary = (machine: Machine, weak: boolean): ReadonlyArray<string> => {
  const mode = defaultMode(machine)
  const props = properties(machine, mode)
  const lines = [`isolation: ${describeSituation(machine)}`]
  const via = (name: PropertyName) => props.find((p) => p.name === name)!.mechanism.split(/[:(;]/)[0]!.trim()
  lines.push(`isolation: memory by ${via("memory")}; cpu by ${via("cpu")}; processes by ${via("processes")}`)
  for (const p of props) {
    if (p.held === "weak") lines.push(`isolation: weak ${p.name}: ${p.note ?? p.mechanism}`)
    if (p.held === "missing") {
      lines.push(`isolation: MISSING ${p.name}: ${p.mechanism}; ${p.note ?? ""}${weak ? " (--isolation=weak: sandboxed agents run without it)" : " (sandboxed agents are refused; --isolation=weak runs them without it)"}`)
    }
  }
  return lines
}
