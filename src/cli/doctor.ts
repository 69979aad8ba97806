/**
 * `agentos doctor`: what containment this machine gives agents. The situation (root; user
 * namespaces, with or without a delegated cgroup; Landlock; nothing), then for each property of
 * an agent's sandbox the mechanism that holds it here, what is weak and what is missing, how to
 * get a delegated cgroup, and a probe launched through the real launcher exactly as the kernel
 * would launch an agent. Exit 1 when sandboxed agents would be refused here.
 */
import { Console, Effect } from "effect"
import { Command, Flag } from "effect/cli"
import * as Fs from "node:fs"
import * as AgentSpec from "../process/AgentSpec.ts"
import { DEFAULT_AGENT_LIMITS, DEFAULT_UID_RANGE, describeAgentDefaults } from "../process/KernelConfig.ts"
import * as PeerCredentials from "../sandbox/PeerCredentials.ts"
import * as Isolation from "../sandbox/Isolation.ts"
import { Launcher } from "../sandbox/Launcher.ts"
import * as LaunchSpec from "../sandbox/LaunchSpec.ts"
import * as NodeLauncher from "../sandbox/NodeLauncher.ts"
import * as Shared from "./shared.ts"

/** The drop-in that gives a systemd user manager the cpu controller to delegate. */
const dropIn = [
  "sudo mkdir -p /etc/systemd/system/user@.service.d",
  "printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf",
  "sudo systemctl daemon-reload   # then log in again"
]

/** Launches a probe as the kernel would launch an agent here and returns what it saw from inside. */
const probe = Effect.fn("doctor.probe")(function* (machine: Isolation.Machine) {
  const launcher = yield* Launcher
  const [kernelEnd, agentEnd] = PeerCredentials.socketPair()
  yield* Effect.addFinalizer(() => Effect.sync(() => {
    PeerCredentials.closeFd(kernelEnd)
    PeerCredentials.closeFd(agentEnd)
  }))
  const sh = AgentSpec.which("sh") ?? "/bin/sh"
  const mode = Isolation.defaultMode(machine)
  const launched = yield* launcher.spawn(LaunchSpec.make(
    [sh, "-c", "grep -E '^(Uid|CapEff|Seccomp|NoNewPrivs):' /proc/self/status; echo \"net: $(ls /sys/class/net 2>/dev/null | tr '\\n' ' ')\"; echo \"pid: $$\""],
    {
      ...(machine.root
        ? { uid: DEFAULT_UID_RANGE.last, gid: DEFAULT_UID_RANGE.last }
        : mode === "namespaces" && !("problem" in machine.subordinate)
        ? { uid: machine.subordinate.uids.first + machine.subordinate.uids.count - 1, gid: machine.subordinate.gids.first + machine.subordinate.gids.count - 1 }
        : {}),
      ...Isolation.containment(machine, mode, `doctor-${process.pid}/probe`),
      memoryMax: 32 * 1024 * 1024,
      pidsMax: 8
    }
  ), agentEnd)
  const seen: Array<string> = []
  launched.onOutput((_stream, line) => seen.push(line))
  const ended = yield* launched.ended
  return { isolation: launched.isolation, seen, ended }
}, Effect.scoped)

export const doctor = Command.make("doctor", {
  verbose: Shared.verbose,
  json: Flag.Boolean("json").pipe(Flag.withDescription("print the report as JSON"), Flag.withDefault(false))
}, ({ json }) =>
  Effect.gen(function* () {
    const built = Fs.existsSync(NodeLauncher.launcherPath)
    const machine = Isolation.detect(NodeLauncher.launcherPath)
    const mode = Isolation.defaultMode(machine)
    const properties = Isolation.properties(machine, mode)
    const landlockToo = mode === "namespaces" ? Isolation.properties(machine, "landlock") : undefined
    const launched = built ? yield* probe(machine).pipe(Effect.provide(NodeLauncher.layer), Effect.result) : undefined
    const refused = Isolation.missing(machine, mode).length > 0
    const userController = `/sys/fs/cgroup/user.slice/user-${machine.uid}.slice/user@${machine.uid}.service/cgroup.controllers`
    const userLacksCpu = !machine.root && Fs.existsSync(userController) && !Fs.readFileSync(userController, "utf8").split(/\s+/).includes("cpu")
    if (json) {
      yield* Console.log(JSON.stringify({
        situation: Isolation.situation(machine),
        description: Isolation.describeSituation(machine),
        machine,
        properties,
        ...(landlockToo === undefined ? {} : { withoutNamespaces: landlockToo }),
        launcher: built ? NodeLauncher.launcherPath : null,
        probe: launched === undefined ? null : launched._tag === "Success" ? launched.success : { error: launched.failure.message }
      }, null, 2))
    } else {
      yield* Console.log(`situation        ${Isolation.describeSituation(machine)}`)
      for (const p of properties) {
        const mark = p.held === "held" ? "ok  " : p.held === "weak" ? "WEAK" : "MISS"
        yield* Console.log(`${mark} ${p.name.padEnd(18)} ${p.mechanism}`)
        if (p.note !== undefined) yield* Console.log(`     ${"".padEnd(18)} ${p.held === "missing" ? "to get it: " : p.held === "weak" ? "gap: " : ""}${p.note}`)
      }
      if (landlockToo !== undefined) {
        const gaps = landlockToo.filter((p) => p.held !== "held")
        yield* Console.log(`     sandbox.namespaces: false (Landlock and seccomp, as without user namespaces): ${gaps.length === 0 ? "everything held" : gaps.map((p) => `${p.name} ${p.held}`).join(", ")}`)
      }
      yield* Console.log(`${machine.cgroups.kind === "none" ? "WARN" : "ok  "} cgroups            ${machine.cgroups.detail}${machine.cgroups.kind === "none" ? "" : `; controllers: ${machine.cgroups.controllers.join(", ") || "none"}`}`)
      if (machine.cgroupProblem !== undefined) yield* Console.log(`     ${"".padEnd(18)} ${machine.cgroupProblem}`)
      if (!machine.root && (machine.cgroups.kind === "none" || machine.cgroups.controllers.length < 3)) {
        yield* Console.log(`     ${"".padEnd(18)} for cgroup limits (the kernel's OOM killer, cpu.max, pids.max) on a systemd machine:`)
        yield* Console.log(`     ${"".padEnd(18)}   ${Isolation.delegationCommand}`)
        if (userLacksCpu || machine.cgroups.kind === "delegated") {
          yield* Console.log(`     ${"".padEnd(18)} when the user manager lacks the cpu controller (${userController}), as root:`)
          for (const line of dropIn) yield* Console.log(`     ${"".padEnd(18)}   ${line}`)
        }
      }
      yield* Console.log(`${built ? "ok  " : "FAIL"} launcher           ${built ? NodeLauncher.launcherPath : `${NodeLauncher.launcherPath} is not built: run \`make -C native\``}`)
      if (launched === undefined) yield* Console.log("     probe              skipped: the launcher is not built")
      else if (launched._tag === "Failure") yield* Console.log(`FAIL probe              ${launched.failure.message}`)
      else {
        const i = launched.success.isolation
        yield* Console.log(`ok   probe              namespaces: ${i.namespaces.join(",") || "none"}; landlock: ${i.landlock || "off"}; cgroup: ${i.cgroup}; ids: ${i.idmap}; memory: ${i.memory}; cpu: ${i.cpu}; processes: ${i.pids}; seccomp: ${i.seccomp ? "on" : "off"}`)
        for (const line of launched.success.seen) yield* Console.log(`     ${"".padEnd(18)} inside: ${line.replace(/\t/g, " ")}`)
      }
      yield* Console.log(`defaults         ${describeAgentDefaults(DEFAULT_AGENT_LIMITS)}`)
      if (refused) yield* Console.log("sandboxed agents are refused here (ENOTSUP) unless the kernel runs with --isolation=weak")
    }
    if (launched === undefined || launched._tag === "Failure" || refused) process.exitCode = 1
  })).pipe(Command.withDescription("Report what containment this machine gives agents, property by property"))
