/**
 * `agentos doctor`: what isolation this machine gives agents, feature by feature, then a probe
 * launched through the real launcher showing what an agent actually gets. Exit 1 when agents
 * cannot be isolated at all.
 */
import { Console, Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { DEFAULT_UID_RANGE } from "../kernel/KernelConfig.ts"
import * as Isolation from "../sandbox/Isolation.ts"
import * as NodeLauncher from "../sandbox/NodeLauncher.ts"
import * as Shared from "./shared.ts"

export const doctor = Command.make("doctor", {
  verbose: Shared.verbose,
  json: Flag.Boolean("json").pipe(Flag.withDescription("print the report as JSON"), Flag.withDefault(false))
}, ({ json }) =>
  Effect.gen(function* () {
    const features = Isolation.detect(NodeLauncher.launcherPath)
    const probe = features.find((f) => f.name === "launcher")?.ok
      ? yield* Isolation.probe(DEFAULT_UID_RANGE.last).pipe(Effect.provide(NodeLauncher.layer), Effect.result)
      : undefined
    if (json) {
      yield* Console.log(JSON.stringify({
        features,
        probe: probe === undefined ? null : probe._tag === "Success" ? probe.success : { error: probe.failure.message }
      }, null, 2))
    } else {
      for (const f of features) {
        yield* Console.log(`${f.ok ? "ok  " : "WARN"} ${f.name.padEnd(16)} ${f.detail}${f.ok || f.degraded === undefined ? "" : `\n     ${"".padEnd(16)} degraded: ${f.degraded}`}`)
      }
      if (probe === undefined) yield* Console.log("probe            skipped: the launcher is not built")
      else if (probe._tag === "Failure") yield* Console.log(`FAIL probe            ${probe.failure.message}`)
      else {
        const i = probe.success.isolation
        yield* Console.log(`ok   probe            namespaces: ${i.namespaces.join(",") || "none"}; cgroup: ${i.cgroup}; seccomp: ${i.seccomp ? "on" : "off"}; user namespace: ${i.userns ? "on" : "off"}`)
        for (const line of probe.success.seen) yield* Console.log(`     ${"".padEnd(16)} inside: ${line.replace(/\t/g, " ")}`)
      }
    }
    if (probe === undefined || probe._tag === "Failure") process.exitCode = 1
  })).pipe(Command.withDescription("Report what isolation this machine gives agents"))
