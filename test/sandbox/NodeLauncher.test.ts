/**
 * NodeLauncher, the kernel's side of docs/launcher.md, against the real native launcher: what
 * the Launcher contract promises its callers beyond the launcher's own records.
 */
import { Effect, Exit, Scope } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import * as PeerCredentials from "../../src/kernel/PeerCredentials.ts"
import { Launcher } from "../../src/sandbox/Launcher.ts"
import * as LaunchSpec from "../../src/sandbox/LaunchSpec.ts"
import * as NodeLauncher from "../../src/sandbox/NodeLauncher.ts"
import * as Launch from "../support/launch.ts"

afterAll(async () => {
  if (Launch.isRoot) await Launch.removeCgroup(Launch.cgroupParent)
})

const specOf = (argv: ReadonlyArray<string>): LaunchSpec.LaunchSpec => {
  const id = Launch.agentId()
  return {
    argv,
    env: { PATH: "/usr/bin:/bin" },
    ...(Launch.isRoot ? { uid: id, gid: id, cgroup: `${Launch.cgroupParent}/node-launcher-${id}` } : {}),
    namespaces: LaunchSpec.allNamespaces,
    readOnly: [],
    readWrite: [],
    tmpfs: [],
    network: "none",
    seccomp: "default",
    rlimits: {}
  }
}

describe.skipIf(!Launch.isRoot)("NodeLauncher", () => {
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
})
