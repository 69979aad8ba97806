/**
 * NodeLauncher, the kernel's side of docs/launcher.md, against the real native launcher: what
 * the Launcher contract promises its callers beyond the launcher's own records.
 */
import { Effect, Exit, Scope } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import * as AgentSpec from "../../src/process/AgentSpec.ts"
import * as PeerCredentials from "../../src/sandbox/PeerCredentials.ts"
import { Launcher } from "../../src/sandbox/Launcher.ts"
import * as LaunchSpec from "../../src/sandbox/LaunchSpec.ts"
import * as NodeLauncher from "../../src/sandbox/NodeLauncher.ts"
import * as Launch from "../support/launch.ts"
import * as Machine from "../support/machine.ts"

afterAll(async () => {
  if (Launch.isRoot) await Launch.removeCgroup(Launch.cgroupParent)
})

const specOf = (argv: ReadonlyArray<string>): LaunchSpec.LaunchSpec => {
  const id = Launch.agentId()
  return LaunchSpec.make(argv, {
    ...(Launch.isRoot ? { uid: id, gid: id, cgroup: `${Launch.cgroupParent}/node-launcher-${id}` } : {}),
    rlimits: {}
  })
}

describe.skipIf(!Machine.canSandbox)(`NodeLauncher${Machine.canSandbox ? "" : ` (skipped: ${Machine.cannotSandboxBecause})`}`, () => {
  it("keeps the lines an agent printed before anyone listened, in order, for the first listener", async () => {
    const [kernelEnd, agentEnd] = PeerCredentials.socketPair()
    const program = Effect.gen(function* () {
      const { spawn } = yield* Launcher
      const scope = yield* Scope.make()
      const launched = yield* spawn(specOf(["/bin/sh", "-c", "echo one; echo two >&2; echo three"]), agentEnd).pipe(
        Scope.provide(scope)
      )
      // Listen only once the agent is over: everything it said was printed before.
      yield* launched.ended
      const seen: Array<string> = []
      launched.onOutput((stream, line) => seen.push(`${stream}:${line}`))
      yield* Scope.close(scope, Exit.void)
      return seen
    })
    try {
      const seen = await Effect.runPromise(program.pipe(Effect.provide(NodeLauncher.layer)))
      expect(seen.filter((l) => l.startsWith("stdout:"))).toEqual(["stdout:one", "stdout:three"])
      expect(seen).toContain("stderr:two")
    } finally {
      PeerCredentials.closeFd(kernelEnd)
      PeerCredentials.closeFd(agentEnd)
    }
  })

  it.skipIf(!Machine.hasCgroups)(`closing an incarnation's scope returns once its launcher has exited and removed the agent's cgroups${Machine.hasCgroups ? "" : " (skipped: no cgroup here: needs root or a delegated cgroup)"}`, async () => {
    const [kernelEnd, agentEnd] = PeerCredentials.socketPair()
    let hold: string | undefined
    const program = Effect.gen(function* () {
      const { spawn } = yield* Launcher
      const scope = yield* Scope.make()
      const launched = yield* spawn(specOf([AgentSpec.which("sleep") ?? "/bin/sleep", "1000"]), agentEnd).pipe(Scope.provide(scope))
      const dir = Object.values(launched.cgroups)[0]!
      // A child cgroup keeps the agent's cgroup busy: after writing `ended`, the launcher
      // retries its rmdir until the child goes, a little later.
      hold = Path.join(dir, "hold")
      Fs.mkdirSync(hold)
      launched.kill()
      yield* launched.ended
      yield* Effect.sleep("200 millis").pipe(
        Effect.andThen(Effect.sync(() => Fs.rmdirSync(hold!))),
        Effect.forkDetach
      )
      yield* Scope.close(scope, Exit.void)
      let launcherAlive = true
      try {
        process.kill(launched.launcherPid, 0)
      } catch {
        launcherAlive = false
      }
      return { launcherAlive, cgroupLeft: Fs.existsSync(dir) }
    })
    try {
      const after = await Effect.runPromise(program.pipe(Effect.provide(NodeLauncher.layer)))
      expect(after).toEqual({ launcherAlive: false, cgroupLeft: false })
    } finally {
      if (hold !== undefined && Fs.existsSync(hold)) Fs.rmdirSync(hold)
      PeerCredentials.closeFd(kernelEnd)
      PeerCredentials.closeFd(agentEnd)
    }
  })
})
