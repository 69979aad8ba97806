/**
 * `agentos top` end to end: a real kernel booted with a real tree (`agentos boot`), and the
 * real `agentos top` in a pseudo-terminal (a private tmux server), driven by keys; what the
 * keys did is checked through the kernel's own LIST, not the screen alone. Also the plain
 * frame (--once, or stdout not a terminal), a kernel that goes away, and the key reader.
 */
import { Option } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Connection } from "../../src/client/Connection.ts"
import { parseInterval, parseKeys } from "../../src/cli/top.ts"
import { Op } from "../../src/protocol/Op.ts"
import * as Cli from "../support/cli.ts"
import { processAlive, tempDir } from "../support/kernel.ts"
import * as Until from "../support/until.ts"
import * as Machine from "../support/machine.ts"

const index = Path.resolve(import.meta.dirname, "../../src/index.ts")
const cleanups: Array<() => Promise<void> | void> = []

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls until `check` returns a value (not undefined), or fails saying what it last saw. */
const until = <A>(what: string, check: () => A | undefined | Promise<A | undefined>, seen: () => string, timeoutMs = 30_000): Promise<A> =>
  Until.until(what, check, { seen, timeoutMs, intervalMs: 100 })

/** A private tmux server (its own socket name), killed by the cleanups whatever happens. */
const tmuxServer = () => {
  const name = `agentos-top-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
  const tmux = (...args: ReadonlyArray<string>) =>
    ChildProcess.execFileSync("tmux", ["-L", name, "-f", "/dev/null", ...args], { encoding: "utf8" })
  cleanups.push(() => {
    try {
      tmux("kill-server")
    } catch {
      // Already gone: the last session ended and the server exited.
    }
    // tmux leaves its socket file behind.
    Fs.rmSync(Path.join(process.env.TMUX_TMPDIR ?? "/tmp", `tmux-${process.getuid!()}`, name), { force: true })
  })
  return tmux
}

/**
 * `agentos top` in a 160x40 tmux pane. The pane runs it under sh, which writes its exit code
 * to a file: tmux's own record of a dead pane's status can miss (it races the pty's close).
 */
const startTop = (tmux: ReturnType<typeof tmuxServer>, session: string, dir: string, socket: string) => {
  const status = Path.join(dir, `${session}.status`)
  const command = `'${process.execPath}' '${Cli.bin}' top --socket '${socket}'; echo $? > '${status}'`
  tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "40", command)
  tmux("set-option", "-t", session, "remain-on-exit", "on")
  const screen = () => tmux("capture-pane", "-p", "-t", session)
  // tmux's "Pane is dead" line, written at the bottom of a 40-line pane, can scroll line 1 off.
  const withHistory = () => tmux("capture-pane", "-p", "-S", "-", "-t", session)
  /** The name of the row in inverse video, from the pane with its attributes. */
  const selected = () => {
    const line = tmux("capture-pane", "-p", "-e", "-t", session).split("\n").find((l) => /\x1b\[(?:[0-9;]*;)?7m/.test(l))
    return line?.replace(/\x1b\[[0-9;]*m/g, "").trim().split(/\s+/)[0]
  }
  return {
    screen,
    withHistory,
    selected,
    keys: (...keys: ReadonlyArray<string>) => void tmux("send-keys", "-t", session, ...keys),
    /** Waits for text on the screen. */
    shows: (text: string | RegExp) =>
      until(`screen shows ${text}`, () => (typeof text === "string" ? screen().includes(text) : text.test(screen())) || undefined, screen),
    /** The exit code once the command has ended. */
    exited: () =>
      until("top exits", () => (Fs.existsSync(status) && Fs.readFileSync(status, "utf8").trim() !== "" ? Number(Fs.readFileSync(status, "utf8")) : undefined), screen)
  }
}

/** One row of the screen's table, by agent name, as its cells. */
const rowOnScreen = (screen: string, name: string) => screen.split("\n").find((l) => l.trim().split(/\s+/)[0] === name)?.trim().split(/\s+/)

describe.skipIf(!Machine.canSandbox)(`agentos top${Machine.canSandbox ? "" : ` (skipped: its tree is booted with \`agentos boot\`, whose kernel has the native launcher, which cannot sandbox here: ${Machine.cannotSandboxBecause})`}`, () => {
  let dir: string
  let socket: string
  let boot: Awaited<ReturnType<typeof Cli.start>>
  let kernel: Connection
  const list = () => kernel.calls.list()
  const agent = async (name: string) => (await list()).find((r) => r.name === name)

  beforeAll(async () => {
    const temp = tempDir()
    cleanups.push(temp.remove)
    dir = temp.path
    socket = Path.join(dir, "run", "kernel.sock")
    const file = Path.join(dir, "tree.ts")
    Fs.writeFileSync(file, `import { agent, defineTree, supervisor } from ${JSON.stringify(index)}
export default defineTree(supervisor("root", {
  children: [
    agent("alpha", { run: "sh", args: ["-c", "exec sleep 1000"], sandbox: { memory: "64M" } }),
    supervisor("inner", { children: [agent("gamma", { run: "sh", args: ["-c", "exec sleep 1000"] })] }),
    agent("beta", { run: "sh", args: ["-c", "exec sleep 1000"] })
  ]
}))
`)
    boot = await Cli.start(["boot", file, "--socket", socket, "--quiet"], /init\/root\s+started\n/)
    cleanups.push(async () => {
      if (boot.child.exitCode !== null || boot.child.signalCode !== null) return
      // SIGINT: the orderly shutdown, which stops the agents and removes their cgroups.
      boot.child.kill("SIGINT")
      const stopped = await Promise.race([boot.exited.then(() => true), sleep(30_000).then(() => false)])
      if (!stopped) {
        boot.child.kill("SIGKILL")
        await boot.exited
      }
    })
    kernel = await Connection.connect({ path: socket })
    cleanups.push(() => kernel.close())
  }, 60_000)

  afterAll(async () => {
    while (cleanups.length > 0) await cleanups.pop()!()
  }, 60_000)

  it("shows the tree in a terminal; s sorts; R then y restarts the selected child; x then n leaves it; q quits", async () => {
    // Two messages for beta, which never reads them: its mailbox holds them.
    for (const payload of ["one", "two"]) await kernel.call(Op.SEND, { to: "beta", payload })
    const tmux = tmuxServer()
    const top = startTop(tmux, "top", dir, socket)
    const screen = await until("the tree with its agents running", () => {
      const s = top.screen()
      return ["alpha", "beta", "gamma", "inner"].every((n) => rowOnScreen(s, n)?.[2] === "running") ? s : undefined
    }, top.screen)
    // Indented by depth under init/root, with pid and memory against alpha's 64M limit.
    expect(screen).toMatch(/^ {4}alpha +agent +running +\d+ +0 /m)
    expect(screen).toMatch(/^ {6}gamma +agent +running /m)
    expect(rowOnScreen(screen, "alpha")![7]).toMatch(/\/64\.0M$/)
    expect(rowOnScreen(screen, "beta")![7]).toMatch(/\/max$/)
    expect(rowOnScreen(screen, "beta")![10]).toBe("2/0")
    expect(rowOnScreen(screen, "alpha")![10]).toBe("-")
    expect(screen).toContain("sort: tree")

    // s: the next sort key, marked on its column.
    top.keys("s")
    await top.shows("sort: cpu")
    expect(top.screen()).toMatch(/ CPU%\* /)
    // n: by name, so the rows come in a known order to walk down.
    top.keys("n")
    await top.shows(/^NAME\* /m)
    expect(top.selected()).toBe("init")
    const select = async (name: string) => {
      for (let i = 0; i < 10 && top.selected() !== name; i++) {
        const before = top.selected()
        top.keys("j")
        await until("the selection moves", () => (top.selected() !== before ? true : undefined), top.screen)
      }
      expect(top.selected()).toBe(name)
    }
    await select("alpha")

    // R asks first; y restarts alpha through its supervisor: a new process, one more restart.
    const alpha = (await agent("alpha"))!
    top.keys("R")
    await top.shows("restart init/root/alpha? [y/N]")
    top.keys("y")
    await top.shows("restarted init/root/alpha")
    const restarted = await until("LIST shows alpha restarted", async () => {
      const now = await agent("alpha")
      return now !== undefined && now.restarts === alpha.restarts + 1 && now.status === "running" ? now : undefined
    }, top.screen)
    expect(restarted.pid).not.toBe(alpha.pid)
    expect(processAlive(alpha.pid!)).toBe(false)
    await until("the screen shows alpha's restart", () => (rowOnScreen(top.screen(), "alpha")?.[4] === "1" ? true : undefined), top.screen)

    // x asks first; n leaves beta as it was.
    await select("beta")
    const beta = (await agent("beta"))!
    top.keys("x")
    await top.shows("stop init/root/beta? [y/N]")
    top.keys("n")
    await top.shows("stop init/root/beta: cancelled")
    // Refreshed after the key, and a refresh later: beta still runs, untouched.
    const refreshes = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const before = top.screen()
        await until("a refresh", () => (top.screen() !== before ? true : undefined), top.screen)
      }
    }
    await refreshes(2)
    expect(await agent("beta")).toMatchObject({ status: "running", pid: beta.pid, restarts: beta.restarts })
    expect(rowOnScreen(top.screen(), "beta")?.[2]).toBe("running")

    // q: the command ends, exit 0, the terminal given back (the alternate screen left).
    top.keys("q")
    expect(await top.exited()).toBe(0)
    expect(top.screen()).not.toContain("agentos top")
  }, 180_000)

  it("--once, or stdout not a terminal, prints one plain frame and exits 0", async () => {
    const once = await Cli.run(["top", "--once", "--sort", "name", "--socket", socket], {}, 60_000)
    expect(once.code).toBe(0)
    expect(once.stdout).not.toContain("\x1b")
    const lines = once.stdout.trimEnd().split("\n")
    expect(lines[0]).toMatch(/^agentos top +kernel \S+ +agents 3\/3 running/)
    expect(lines[1]).toMatch(/^NAME\* +KIND +STATE +PID +RESTARTS +UPTIME +CPU% +MEM\/LIMIT +LLM-TOKENS +LLM-Q +MAILBOX$/)
    expect(lines.slice(2).map((l) => /^\s*\S+/.exec(l)![0])).toEqual(["init", "  cgroup-janitor", "  root", "    alpha", "    beta", "    inner", "      gamma"])
    const alpha = (await agent("alpha"))!
    expect(rowOnScreen(once.stdout, "alpha")).toMatchObject({ 2: "running", 3: String(alpha.pid), 4: String(alpha.restarts) })
    // Without --once, a pipe gets the same kind of frame.
    const piped = await Cli.run(["top", "--socket", socket], {}, 60_000)
    expect(piped.code).toBe(0)
    expect(piped.stdout).not.toContain("\x1b")
    expect(piped.stdout).toMatch(/^ {4}alpha +agent +running /m)
  }, 120_000)

  it("rejects a bad --interval as a usage error", async () => {
    const bad = await Cli.run(["top", "--interval", "fast", "--socket", socket])
    expect(bad.code).toBe(2)
    expect(bad.stdout + bad.stderr).toMatch(/--interval: "fast"\. Expected: a duration of at least 100ms/)
  }, 60_000)

  it("says so and exits 1 when the kernel goes away, giving the terminal back", async () => {
    const tmux = tmuxServer()
    const top = startTop(tmux, "gone", dir, socket)
    await top.shows(/^ {4}alpha +agent +running/m)
    boot.child.kill("SIGINT")
    expect(await top.exited()).toBe(1)
    const after = await until("the message", () => {
      const text = top.withHistory()
      return text.includes(`agentos: lost the kernel at ${socket}`) ? text : undefined
    }, top.withHistory)
    // Printed on the terminal given back: the alternate screen with the table is gone.
    expect(after).not.toContain("MEM/LIMIT")
    const exit = await boot.exited
    expect(exit.code).toBe(0)
  }, 120_000)
})

describe("agentos top's input", () => {
  it("reads keys from raw terminal input: arrows in both cursor modes, pages, several keys in one read", () => {
    expect(parseKeys("jjk")).toEqual(["j", "j", "k"])
    expect(parseKeys("\x1b[A\x1bOB\x1b[5~\x1b[6~\x1b[H\x1b[F")).toEqual(["up", "down", "pageup", "pagedown", "home", "end"])
    expect(parseKeys("R\x1b[15~y")).toEqual(["R", "escape", "y"])
    expect(parseKeys("\x1b")).toEqual(["escape"])
    expect(parseKeys("\x03")).toEqual(["\x03"])
  })

  it("reads --interval as 1s, 500ms, 2m or seconds, at least 100 ms", () => {
    const ms = (text: string) => Option.getOrNull(parseInterval(text))
    expect(ms("1s")).toBe(1000)
    expect(ms("500ms")).toBe(500)
    expect(ms("2m")).toBe(120_000)
    expect(ms("2.5")).toBe(2500)
    for (const bad of ["", "fast", "50ms", "0", "-1s", "1h"]) expect(ms(bad)).toBeNull()
  })
})
