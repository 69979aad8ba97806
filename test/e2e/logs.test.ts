/**
 * Agents' logs end to end: a real kernel, real agents launched by the launcher, LOGS over the
 * real socket and `agentos logs` as a child process. A crashed incarnation's last lines outlive
 * its restart (in memory and on disk); floods, with and without newlines, stay within the
 * ring's bounds, are counted, and do not stop the kernel answering others; `-f` follows.
 */
import { Effect, Result } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { Connection } from "../../src/client/Connection.ts"
import * as Capabilities from "../../src/process/Capabilities.ts"
import { DEFAULT_LOG_LIMITS, type LogLimits } from "../../src/process/KernelConfig.ts"
import { droppedMarker, type LogEntry } from "../../src/protocol/LogEntry.ts"
import { Op, type OpName } from "../../src/protocol/Op.ts"
import { agent, decodeTree, supervisor } from "../../src/supervision/Tree.ts"
import * as Cli from "../support/cli.ts"
import { RawConnection, startKernel, type TestKernel, tempDir } from "../support/kernel.ts"
import * as Cleanups from "../support/cleanups.ts"
import * as Until from "../support/until.ts"
import * as Machine from "../support/machine.ts"

const ipcAgent = Path.join(import.meta.dirname, "agents", "ipc-agent.ts")
const logsProbe = Path.join(import.meta.dirname, "agents", "logs-probe.ts")

const cleanups = Cleanups.perTest()

interface LogsAnswer {
  readonly lines: ReadonlyArray<LogEntry>
  readonly dropped: number
  readonly droppedFromFile: number
}

/** A kernel whose state (work dirs, logs) lives in a temp dir removed afterwards, and a client. */
const setup = async (logs: Partial<LogLimits> = {}) => {
  const dir = tempDir("agentos-logs-e2e-")
  cleanups.push(dir.remove)
  const stateDir = Path.join(dir.path, "state")
  // Not about isolation: on the plain launcher where agents cannot be sandboxed here.
  const k = await startKernel({ stateDir, logs: { ...DEFAULT_LOG_LIMITS, ...logs } }, [], undefined, Machine.launcher)
  cleanups.push(() => k.stop())
  const c = await Connection.connect({ path: k.socketPath })
  cleanups.push(() => c.close())
  await c.calls.hello("logs-test")
  return { k, c, logDir: Path.join(stateDir, "logs") }
}

const logsOf = (c: Connection, name: string, args: Record<string, unknown> = {}) =>
  c.call(Op.LOGS, { name, ...args }) as Promise<LogsAnswer>

const until = <A>(f: () => Promise<A | undefined> | A | undefined, what: string, timeoutMs = 30_000): Promise<A> =>
  Until.until(what, f, { timeoutMs, intervalMs: 50 })

const codeOf = (p: Promise<unknown>) => p.then(() => "ok", (e: { code?: string; message?: string }) => `${e.code} ${e.message}`)

/** Boots a tree under the test kernel's init. */
const boot = async (k: TestKernel, tree: Parameters<typeof decodeTree>[0]) => {
  const decoded = decodeTree(tree)
  if (Result.isFailure(decoded)) throw new Error(decoded.failure.message)
  await Effect.runPromise(k.supervision.boot(decoded.success, import.meta.dirname))
}

describe(`agent logs (agents launched by the ${Machine.launcher} launcher)`, () => {
  it("a crashed incarnation's last lines survive its restart: LOGS returns them, then the new incarnation's; the file has them", async () => {
    const { k, c, logDir } = await setup()
    // Its first incarnation leaves a mark in its work dir (HOME, kept across restarts) and crashes.
    const script = [
      `if [ -e "$HOME/ran" ]; then echo "second one"; echo "second two" >&2; exec sleep 1000; fi`,
      `touch "$HOME/ran"; echo "first one"; echo "first two" >&2; echo "last words"; exit 3`
    ].join("\n")
    await boot(k, supervisor("logs", {
      intensity: { maxRestarts: 5, withinMs: 60_000 },
      children: [agent("crasher", { run: "sh", args: ["-c", script] })]
    }))
    const answer = await until(async () => {
      const a = await logsOf(c, "crasher")
      return a.lines.some((l) => l.line === "second two") ? a : undefined
    }, "the restarted incarnation's lines")
    // stdout and stderr are two pipes: their lines keep their order within each, not between.
    const of = (lines: ReadonlyArray<string>, incarnation: number) => lines.filter((l) => l.startsWith(`${incarnation} `)).sort()
    const seen = answer.lines.map((l) => `${l.incarnation} ${l.stream} ${l.line}`)
    expect(of(seen, 0)).toEqual(["0 stderr first two", "0 stdout first one", "0 stdout last words"])
    expect(of(seen, 1)).toEqual(["1 stderr second two", "1 stdout second one"])
    expect(seen.slice(0, 3).every((l) => l.startsWith("0 "))).toBe(true)
    expect(seen.filter((l) => l.includes("stdout")).map((l) => l.slice(9))).toEqual(["first one", "last words", "second one"])
    expect(answer.lines.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5])
    expect(new Set(answer.lines.map((l) => l.id)).size).toBe(2)
    expect(answer.dropped).toBe(0)
    // n and since select from the same lines.
    expect((await logsOf(c, "crasher", { n: 2 })).lines.map((l) => l.line).sort()).toEqual(["second one", "second two"])
    const since = answer.lines[3]!.time
    expect((await logsOf(c, "crasher", { since })).lines.every((l) => l.time >= since && l.incarnation === 1)).toBe(true)

    // On disk, in the kernel's own 0700 directory, outside any agent's work dir.
    const file = Path.join(logDir, "crasher.log")
    const text = await until(() => {
      const t = Fs.existsSync(file) ? Fs.readFileSync(file, "utf8") : ""
      return t.includes("second two") ? t : undefined
    }, "the log file")
    const written = text.trimEnd().split("\n")
    expect(written.map((l) => l.replace(/^\S+ /, "")).sort()).toEqual([
      "crasher#0 (stderr) first two",
      "crasher#0 first one",
      "crasher#0 last words",
      "crasher#1 (stderr) second two",
      "crasher#1 second one"
    ])
    // In the order LOGS numbered them, each with its ISO time.
    expect(written).toEqual(answer.lines.map((l) => `${new Date(l.time).toISOString()} crasher#${l.incarnation} ${l.stream === "stderr" ? "(stderr) " : ""}${l.line}`))
    expect(Fs.statSync(logDir).mode & 0o777).toBe(0o700)
    expect(Fs.statSync(logDir).uid).toBe(process.getuid?.())
  }, 60_000)

  it("a flooding agent (`yes`) keeps the ring within its bounds, is counted, gets markers, and the kernel still answers others", async () => {
    // The ring holds more than a window's burst, so a marker (first in its window) is in it.
    const limits = { ringLines: 300, ringBytes: 64 * 1024, rateBurstLines: 200, rateIntervalMs: 1000 }
    const { c, k } = await setup(limits)
    await c.calls.spawn({ name: "flood", run: "sh", args: ["-c", "yes 'flood line'"], sandbox: { cpu: 0.5, memory: "64M" } })
    // While it floods, another client's NOOPs are answered (no time is asserted, only answers).
    const other = await Connection.connect({ path: k.socketPath })
    cleanups.push(() => other.close())
    const answered = await until(async () => {
      const a = await logsOf(c, "flood", { n: 10_000 })
      return a.dropped > 0 && a.lines.some((l) => l.line === droppedMarker(Number(l.line.split(" ")[1]))) ? a : undefined
    }, "a rate-limit marker")
    for (let i = 0; i < 50; i++) expect(await other.call(Op.NOOP, { i }, { timeoutMs: 20_000 })).toEqual({ i })
    const answer = await logsOf(c, "flood", { n: 10_000 })
    expect(answer.lines.length).toBeLessThanOrEqual(limits.ringLines)
    expect(answer.lines.reduce((sum, l) => sum + Buffer.byteLength(l.line), 0)).toBeLessThanOrEqual(limits.ringBytes)
    expect(answer.dropped).toBeGreaterThanOrEqual(answered.dropped)
    const marker = answer.lines.find((l) => l.stream === "log" && /^agentos: \d+ lines dropped \(rate limit\)$/.test(l.line))
    expect(marker).toBeDefined()
    expect(Number(marker!.line.split(" ")[1])).toBeGreaterThan(0)
    // Numbers never repeat nor go back: what a follower relies on.
    const seqs = answer.lines.map((l) => l.seq)
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    expect(await c.calls.kill("flood", "SIGKILL")).toEqual({ killed: true })
  }, 60_000)

  it("a follower that stops reading is cut off once its unread pushes pass the kernel's bound; other connections carry on", async () => {
    const dir = tempDir("agentos-logs-e2e-")
    cleanups.push(dir.remove)
    // Above one rate window's burst (10,000 short lines, ~1.3 MB of pushes written in one tick),
    // so only a follower that does not read reaches it.
    const k = await startKernel({ stateDir: Path.join(dir.path, "state"), maxPushBacklog: 4 * 1024 * 1024 }, [], undefined, Machine.launcher)
    cleanups.push(() => k.stop())
    const c = await Connection.connect({ path: k.socketPath })
    cleanups.push(() => c.close())
    await c.calls.spawn({ name: "flood", run: "sh", args: ["-c", "yes 'flood line'"], sandbox: { cpu: 0.5, memory: "64M" } })
    cleanups.push(() => c.calls.kill("flood", "SIGKILL").then(() => {}, () => {}))
    // One follower reads what it is pushed...
    const reader = await Connection.connect({ path: k.socketPath })
    cleanups.push(() => reader.close())
    let read = 0
    reader.onPush((push) => void (push.ev === "agentos.agent.output" && read++))
    await logsOf(reader, "flood", { follow: true, n: 1 })
    // ...another, a raw client, asks to follow the flood, reads the replies, then stops reading:
    // nothing drains its socket any more.
    const stalled = await RawConnection.open(k.socketPath)
    cleanups.push(() => stalled.close())
    const frames = stalled.items as Array<{ id?: number; ok?: boolean; ev?: string }>
    stalled.request({ id: 1, op: Op.HELLO, args: { version: 1, name: "stalled" } })
    stalled.request({ id: 2, op: Op.LOGS, args: { name: "flood", follow: true, n: 1 } })
    await until(() => (frames.some((f) => f.id === 2) ? true : undefined), "the stalled follower's LOGS reply", 5000)
    stalled.socket.pause()
    expect(frames.find((f) => f.id === 2)).toMatchObject({ ok: true })
    // The kernel cuts it off: its session goes. Reading what it was sent then ends in the close,
    // with lines pushed and nothing wrong with its requests (no EPROTO).
    await until(() => (k.sessions().some((s) => s.name === "stalled") ? undefined : true), "the kernel to close the stalled follower")
    stalled.socket.resume()
    await stalled.waitForClose(30_000)
    expect(frames.filter((f) => f.ev === "agentos.agent.output").length).toBeGreaterThan(100)
    expect(frames.some((f) => f.ev === "error")).toBe(false)
    // Everyone else is served as before, the follower that reads included.
    expect(await c.call(Op.NOOP, { still: "here" })).toEqual({ still: "here" })
    const before = read
    await until(() => (read > before ? true : undefined), "the reading follower to get more lines")
    expect(await reader.call(Op.NOOP, 1)).toBe(1)
    expect((await logsOf(c, "flood", { n: 5 })).lines.length).toBe(5)
  })

  it("a flood without newlines is cut into 64 KiB lines and bounded the same way", async () => {
    // The ring holds two windows' worth, so the marker that opens the newest window is in it.
    const limits = { ringLines: 1000, ringBytes: 512 * 1024, rateBurstBytes: 256 * 1024, rateIntervalMs: 1000 }
    const { c } = await setup(limits)
    await c.calls.spawn({ name: "zeros", run: "sh", args: ["-c", "cat /dev/zero"], sandbox: { cpu: 0.5, memory: "64M" } })
    const answer = await until(async () => {
      const a = await logsOf(c, "zeros", { n: 10_000 })
      return a.dropped > 0 && a.lines.some((l) => l.stream === "log") ? a : undefined
    }, "zeros to be rate limited")
    const stdout = answer.lines.filter((l) => l.stream === "stdout")
    expect(stdout.length).toBeGreaterThan(0)
    for (const l of stdout) expect(l.line.length).toBeLessThanOrEqual(64 * 1024)
    expect(answer.lines.reduce((sum, l) => sum + Buffer.byteLength(l.line), 0)).toBeLessThanOrEqual(limits.ringBytes)
    expect(await c.calls.kill("zeros", "SIGKILL")).toEqual({ killed: true })
  }, 60_000)

  it("LOGS follow: the backlog, then each new line once, as pushes after the reply", async () => {
    const { c, k } = await setup()
    await c.calls.spawn({ name: "ticker", run: "sh", args: ["-c", "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.05; done"] })
    await until(async () => ((await logsOf(c, "ticker")).lines.length >= 3 ? true : undefined), "a few ticks")
    // A raw connection, so the order is the wire's: a client library resolves a reply's promise
    // a microtask after it hands a push to its listener.
    const follower = await RawConnection.open(k.socketPath)
    cleanups.push(() => follower.close())
    const frames = follower.items as Array<{ id?: number; ev?: string; res?: LogsAnswer; data?: LogEntry }>
    follower.request({ id: 1, op: Op.HELLO, args: { version: 1 } })
    follower.request({ id: 2, op: Op.LOGS, args: { name: "ticker", follow: true, n: 2 } })
    const pushes = () => frames.filter((f) => f.ev === "agentos.agent.output")
    await until(() => (pushes().length >= 10 ? true : undefined), "ten pushed lines")
    const replyAt = frames.findIndex((f) => f.id === 2)
    expect(replyAt).toBeGreaterThan(-1)
    expect(frames.findIndex((f) => f.ev !== undefined)).toBeGreaterThan(replyAt)
    const backlog = frames[replyAt]!.res!
    const pushed = pushes().map((f) => f.data!)
    expect(backlog.lines.length).toBe(2)
    // Seq numbers continue the backlog's without a gap or a repeat; only this agent's lines.
    const seqs = [...backlog.lines, ...pushed].map((l) => l.seq)
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i))
    expect(pushed.every((l) => l.name === "ticker" && /^tick \d+$/.test(l.line))).toBe(true)
  }, 60_000)

  it("LOGS errors: an unknown name is ENOENT; bad args are EINVAL naming the field; agents need a grant", async () => {
    const { c } = await setup()
    expect(await codeOf(logsOf(c, "nobody"))).toBe(`ENOENT no agent named "nobody"`)
    expect(await codeOf(c.call(Op.LOGS, {}))).toMatch(/^EINVAL .*name/)
    expect(await codeOf(logsOf(c, "x", { n: 0 }))).toMatch(/^EINVAL .*\bn\b/)
    expect(await codeOf(logsOf(c, "x", { n: 10_001 }))).toMatch(/^EINVAL .*\bn\b/)
    expect(await codeOf(logsOf(c, "x", { since: "yesterday" }))).toMatch(/^EINVAL .*since/)
    expect(await codeOf(logsOf(c, "x", { follow: "yes" }))).toMatch(/^EINVAL .*follow/)
    expect(Capabilities.grant([]).has(Op.LOGS)).toBe(false)
    expect(Capabilities.grant(["LOGS"]).has(Op.LOGS)).toBe(true)
    // A name whose agent has ended is still known.
    await c.calls.spawn({ name: "brief", run: "sh", args: ["-c", "echo bye"] })
    await c.calls.wait("brief", 20_000)
    const answer = await until(async () => {
      const a = await logsOf(c, "brief")
      return a.lines.length > 0 ? a : undefined
    }, "brief's line")
    expect(answer.lines.map((l) => l.line)).toEqual(["bye"])
  }, 60_000)

  it("an agent without the LOGS grant gets EPERM; with it, it reads logs", async () => {
    const { c } = await setup()
    const probe = (name: string, caps: ReadonlyArray<OpName>) =>
      c.calls.spawn({ name, run: logsProbe, caps, sandbox: { memory: "256M" } })
    await probe("denied", [])
    await probe("granted", ["LOGS"])
    const report = async (name: string) =>
      until(async () => (await logsOf(c, name)).lines.find((l) => l.line.startsWith("LOGS "))?.line, `${name}'s report`)
    expect(await report("denied")).toBe("LOGS EPERM")
    expect(await report("granted")).toBe("LOGS ok")
  }, 60_000)

  describe("agentos logs", () => {
    it("prints the backlog, then with -f the lines the agent writes after it started following, until SIGINT (exit 0)", async () => {
      const { c, k } = await setup()
      await c.calls.spawn({ name: "printer", run: ipcAgent, args: ["consume"], sandbox: { memory: "256M" } })
      await c.calls.send("printer", "before")
      await until(async () => ((await logsOf(c, "printer")).lines.length > 0 ? true : undefined), "the first line")

      const following = await Cli.start(["logs", "printer", "-f", "--socket", k.socketPath], /"before"/)
      cleanups.push(() => void following.child.kill("SIGKILL"))
      await c.calls.send("printer", "after")
      await until(() => (following.stdout().includes(`"after"`) ? true : undefined), "the followed line")
      const printed = following.stdout().trimEnd().split("\n")
      expect(printed.length).toBe(2)
      for (const line of printed) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\S+Z printer#0 GOT \{/)
      expect(printed[0]).toContain(`"payload":"before"`)
      expect(printed[1]).toContain(`"payload":"after"`)
      following.child.kill("SIGINT")
      const finished = await following.exited
      expect(finished.code).toBe(0)

      // --json: one object per line.
      const json = await Cli.run(["logs", "printer", "--json", "--socket", k.socketPath])
      expect(json.code).toBe(0)
      const entries = json.stdout.trimEnd().split("\n").map((l) => JSON.parse(l) as LogEntry)
      expect(entries.map((e) => [e.name, e.incarnation, e.stream, e.seq])).toEqual([["printer", 0, "stdout", 1], ["printer", 0, "stdout", 2]])
      expect(typeof entries[0]!.time).toBe("number")
      // -n and --since.
      const last = await Cli.run(["logs", "printer", "-n", "1", "--socket", k.socketPath])
      expect(last.stdout.trimEnd().split("\n")).toHaveLength(1)
      expect(last.stdout).toContain(`"after"`)
      const recent = await Cli.run(["logs", "printer", "--since", "1h", "--socket", k.socketPath])
      expect(recent.stdout.trimEnd().split("\n")).toHaveLength(2)
      const future = await Cli.run(["logs", "printer", "--since", "2999-01-01T00:00:00Z", "--socket", k.socketPath])
      expect([future.code, future.stdout]).toEqual([0, ""])
    }, 90_000)

    it("errors: an unknown agent (exit 1), a bad --since or -n (usage, exit 2)", async () => {
      const { k } = await setup()
      const unknown = await Cli.run(["logs", "nobody", "--socket", k.socketPath])
      expect([unknown.code, unknown.stderr.trim()]).toEqual([1, `agentos: no agent named "nobody"`])
      const since = await Cli.run(["logs", "nobody", "--since", "yesterday", "--socket", k.socketPath])
      expect(since.code).toBe(2)
      expect(since.stderr + since.stdout).toContain("--since")
      const n = await Cli.run(["logs", "nobody", "-n", "0", "--socket", k.socketPath])
      expect(n.code).toBe(2)
    }, 60_000)
  })
})
