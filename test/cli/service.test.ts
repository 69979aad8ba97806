/**
 * The kernel as a service: started the README's way (`npx agentos kernel`), a SIGTERM to only
 * the process the user started (npm, which does not pass it on: systemd's KillMode=process,
 * `docker stop` with npm as PID 1) stops the kernel in order, its agents with it.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { Connection } from "../../src/client/Connection.ts"
import { Op } from "../../src/protocol/Op.ts"
import * as Cleanups from "../support/cleanups.ts"
import { processAlive, tempDir } from "../support/kernel.ts"
import { until } from "../support/until.ts"

const cleanups = Cleanups.perTest()
const root = Path.resolve(import.meta.dirname, "../..")

describe("agentos kernel under a service manager", () => {
  it("a SIGTERM to only `npx agentos kernel` stops the kernel in order, and its agents with it", async () => {
    const dir = tempDir()
    cleanups.push(dir.remove)
    const socketPath = Path.join(dir.path, "run", "kernel.sock")
    const npx = ChildProcess.spawn("npx", ["agentos", "kernel"], {
      cwd: root,
      env: { ...process.env, AGENTOS_SOCKET: socketPath, AGENTOS_STATE_DIR: Path.join(dir.path, "state") },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    npx.stdout.on("data", (d) => (out += d))
    npx.stderr.on("data", (d) => (out += d))
    cleanups.push(() => {
      if (npx.exitCode === null) npx.kill("SIGKILL")
    })
    const kernelPid = Number(/\(pid (\d+)\)/.exec(await until("the kernel's first line", () => (/listening on .* \(pid \d+\)/.test(out) ? out : undefined)))![1])
    cleanups.push(() => {
      if (processAlive(kernelPid)) process.kill(kernelPid, "SIGKILL")
    })
    // npm runs the kernel as a grandchild: a SIGTERM to npm alone is what a service manager does.
    expect(kernelPid).not.toBe(npx.pid)
    const c = await Connection.connect({ path: socketPath })
    const agent = (await c.call(Op.SPAWN, { name: "long", run: "sleep", args: ["600"] })) as { pid: number }
    await c.close()
    npx.kill("SIGTERM")
    await until("the kernel to stop", () => (processAlive(kernelPid) ? undefined : true), { timeoutMs: 30_000, seen: () => out })
    expect(processAlive(agent.pid)).toBe(false)
    // In order: its socket is gone, as after any orderly shutdown.
    expect(Fs.existsSync(socketPath)).toBe(false)
  })
})
