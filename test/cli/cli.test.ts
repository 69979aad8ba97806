/**
 * The `agentos` command end to end: a real kernel process on a real socket, driven by the real
 * CLI. Exit codes and output are what a user sees.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { VERSION } from "../../src/protocol/Version.ts"
import * as Cli from "../support/cli.ts"
import { tempDir } from "../support/kernel.ts"
import * as Cleanups from "../support/cleanups.ts"
import * as Until from "../support/until.ts"

const cleanups = Cleanups.perTest()

const startKernel = async () => {
  const dir = tempDir()
  cleanups.push(() => dir.remove())
  return Cli.startKernel(dir.path, cleanups)
}

/** Waits until a condition holds, polling: a line printed just after the one awaited. */
const waitFor = (ok: () => boolean, timeoutMs = 10_000) => Until.until("the condition", () => ok() || undefined, { timeoutMs, intervalMs: 20 })

describe("agentos", () => {
  it("--version prints the version; --help lists the commands", async () => {
    const version = await Cli.run(["--version"])
    expect(version.code).toBe(0)
    expect(version.stdout).toContain(VERSION)
    const help = await Cli.run(["--help"])
    expect(help.code).toBe(0)
    for (const command of ["kernel", "ping", "ps"]) expect(help.stdout).toContain(command)
  })

  it("kernel, ping and ps work together; SIGTERM shuts down cleanly with exit 0", async () => {
    const k = await startKernel()
    expect(k.stdout()).toMatch(/agentos kernel k[0-9a-f]{8} listening on .*kernel\.sock \(pid \d+\)/)
    // Which model agents' THINKs go to, never a key: the offline one when nothing is configured.
    await waitFor(() => /^llm: offline model/m.test(k.stdout()))

    const ping = await Cli.run(["ping", "--socket", k.socket, "--count", "3"])
    expect(ping.code).toBe(0)
    expect(ping.stdout).toMatch(/kernel k[0-9a-f]{8}/)
    expect(ping.stdout.match(/NOOP seq=\d rtt=[\d.]+ ms/g)).toHaveLength(3)

    const ps = await Cli.run(["ps", "--socket", k.socket])
    expect(ps.code).toBe(0)
    expect(ps.stdout).toContain("NAME")
    const psJson = await Cli.run(["ps", "--json", "--socket", k.socket])
    expect(JSON.parse(psJson.stdout)).toEqual([])

    k.child.kill("SIGTERM")
    const exit = await k.exited
    expect(exit.code).toBe(0)
    expect(Fs.existsSync(k.socket)).toBe(false)
  })

  it("SIGINT also shuts the kernel down with exit 0", async () => {
    const k = await startKernel()
    k.child.kill("SIGINT")
    expect((await k.exited).code).toBe(0)
    expect(Fs.existsSync(k.socket)).toBe(false)
  })

  it("a second kernel on the same path fails at once with a clear message", async () => {
    const k = await startKernel()
    const second = await Cli.run(["kernel", "--socket", k.socket])
    expect(second.code).toBe(1)
    expect(second.stderr.trim()).toMatch(/^agentos: a kernel is already listening on .* \(pid \d+\)$/)
  })

  it("$AGENTOS_SOCKET selects the socket when --socket is absent", async () => {
    const k = await startKernel()
    const ping = await Cli.run(["ping"], { AGENTOS_SOCKET: k.socket })
    expect(ping.code).toBe(0)
  })

  it("an error is one line on stderr and exit 1; --verbose adds the cause", async () => {
    const dir = tempDir()
    cleanups.push(() => dir.remove())
    const missing = Path.join(dir.path, "none.sock")
    const plain = await Cli.run(["ping", "--socket", missing])
    expect(plain.code).toBe(1)
    expect(plain.stderr.trim().split("\n")).toHaveLength(1)
    expect(plain.stderr).toContain(`connecting to the kernel at ${missing}`)
    expect(plain.stderr).not.toMatch(/\n\s+at /)
    const verbose = await Cli.run(["ping", "--socket", missing, "--verbose"])
    expect(verbose.code).toBe(1)
    expect(verbose.stderr.split("\n").length).toBeGreaterThan(1)
  })

  it("a usage error exits 2", async () => {
    const bad = await Cli.run(["ps", "--no-such-flag"])
    expect(bad.code).toBe(2)
  })
})
