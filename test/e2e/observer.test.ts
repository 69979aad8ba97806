/**
 * The web observer end to end, as a user meets it: `agentos boot --observe 127.0.0.1:0` (the
 * real CLI, a real kernel, real agents), its page in headless Chromium (Debian's, driven by
 * playwright-core), and its HTTP API. The browser test watches the tree come up, kills an
 * agent from the host and sees it restart on the page, restarts another child from the page
 * with the token, and saves a screenshot to test-artifacts/observer.png.
 */
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Path from "node:path"
import { chromium, type Browser, type Page } from "playwright-core"
import { describe, expect, inject, it } from "vitest"
import * as Cli from "../support/cli.ts"
import { processAlive, tempDir } from "../support/kernel.ts"
import * as Cleanups from "../support/cleanups.ts"
import * as Until from "../support/until.ts"
import * as Machine from "../support/machine.ts"

const index = Path.resolve(import.meta.dirname, "../../src/index.ts")
const artifacts = Path.resolve(import.meta.dirname, "../../test-artifacts")
const cleanups = Cleanups.perTest()

/**
 * The tree: two long-running agents, one that talks, one temporary, and a supervisor that
 * escalates once (its agent crashes on its first run only: the file it leaves in its work
 * directory, which outlives the incarnation, keeps the second run up).
 */
const tree = `defineTree(supervisor("observed", {
  intensity: { maxRestarts: 20, withinMs: 60000 },
  children: [
    agent("victim", { run: "sh", args: ["-c", "echo victim up; exec sleep 1000"] }),
    agent("bystander", { run: "sh", args: ["-c", "echo bystander up; exec sleep 1000"] }),
    agent("chatter", { run: "sh", args: ["-c", "i=0; while true; do echo chat $i; i=$((i+1)); sleep 0.3; done"] }),
    agent("oneshot", { run: "sh", args: ["-c", "exec sleep 1000"], restart: "temporary" }),
    supervisor("flaky", {
      intensity: { maxRestarts: 0, withinMs: 60000 },
      children: [agent("crasher", { run: "sh", args: ["-c", "if [ -e crashed ]; then exec sleep 1000; fi; touch crashed; exit 3"] })]
    })
  ]
}))`

/**
 * A transient agent that ends normally when told (SIGTERM, trapped: exit 0), so its supervisor
 * does not restart it, beside one that keeps the tree, and so the kernel, up.
 */
const finishing = `defineTree(supervisor("finishing", {
  children: [
    agent("finisher", { run: "sh", args: ["-c", "trap 'exit 0' TERM; echo finisher up; while true; do sleep 0.1; done"], restart: "transient" }),
    agent("keeper", { run: "sh", args: ["-c", "exec sleep 1000"] })
  ]
}))`

interface Booted {
  readonly boot: Awaited<ReturnType<typeof Cli.start>>
  readonly socket: string
  readonly url: string
  readonly link: string
  readonly token: string
}

/** Boots the tree with the observer on an ephemeral loopback port; stopped after the test. */
const bootObserved = async (env: NodeJS.ProcessEnv = {}, source = tree): Promise<Booted> => {
  const dir = tempDir()
  cleanups.push(() => dir.remove())
  const file = Path.join(dir.path, "tree.ts")
  Fs.writeFileSync(file, `import { agent, defineTree, supervisor } from ${JSON.stringify(index)}\nexport default ${source}\n`)
  const socket = Path.join(dir.path, "run", "kernel.sock")
  const boot = await Cli.start(["boot", "--observe", "127.0.0.1:0", file, "--socket", socket, "--quiet"], /observer: open \S+\n/, env)
  cleanups.push(async () => {
    if (boot.child.exitCode === null && boot.child.signalCode === null) {
      boot.child.kill("SIGINT")
      const exit = await Promise.race([boot.exited, new Promise<null>((r) => setTimeout(() => r(null), 30_000))])
      if (exit === null) {
        boot.child.kill("SIGKILL")
        await boot.exited
      }
    }
  })
  const printed = /observer: (http:\/\/127\.0\.0\.1:(\d+)\/)\s+token: (\S+)\n/.exec(boot.stdout())
  expect(printed, `the URL and token line in:\n${boot.stdout()}`).not.toBeNull()
  const [, url, port, token] = printed!
  expect(Number(port)).toBeGreaterThan(0)
  const link = /observer: open (\S+)\n/.exec(boot.stdout())![1]!
  expect(link).toBe(`${url}#token=${token}`)
  return { boot, socket, url: url!, link, token: token! }
}

/** Polls until `f` gives a value (no wall-clock assertion: the test's own timeout bounds it). */
const until = <A>(f: () => Promise<A | undefined> | A | undefined, what: string, timeoutMs = 45_000): Promise<A> =>
  Until.until(what, f, { timeoutMs, intervalMs: 100 })

interface Node {
  readonly path: string
  readonly state: string
  readonly pid: number | null
  readonly restarts: number
  readonly children?: ReadonlyArray<Node>
}

const treeNode = async (url: string, path: string): Promise<Node> => {
  const response = await fetch(`${url}api/tree?path=${encodeURIComponent(path)}`)
  expect(response.status).toBe(200)
  return (await response.json()) as Node
}

/** What the page shows of a tree node, from its data attributes. */
const shown = (page: Page, path: string) =>
  page.locator(`li[data-path="${path}"]`).evaluate((li) => ({
    state: li.getAttribute("data-state"),
    restarts: Number(li.getAttribute("data-restarts")),
    pid: li.getAttribute("data-pid") === "" ? null : Number(li.getAttribute("data-pid"))
  }))

const launchChromium = async (): Promise<Browser> => {
  const found = inject("chromium")
  if (found.path === null) throw new Error(`no Chromium for the browser test: ${found.problem}`)
  return chromium.launch({ executablePath: found.path, args: ["--no-sandbox", "--headless=new"] })
}

/** POSTs an action; `token` null sends no Authorization header. */
const post = (url: string, action: string, body: string, token: string | null) =>
  fetch(`${url}api/${action}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
    body
  })

describe("agentos boot --observe", () => {
  it.skipIf(!Machine.canSandbox)(`the page shows the tree live: an agent killed from the host restarts on it, a restart from the page needs the token${Machine.canSandbox ? "" : ` (skipped: its agents run under \`agentos boot\`, whose kernel has the native launcher, which cannot sandbox here: ${Machine.cannotSandboxBecause})`}`, async () => {
    const { boot, socket, url, link, token } = await bootObserved()
    expect(token).toMatch(/^[0-9a-f]{32}$/)
    const browser = await launchChromium()
    cleanups.push(() => browser.close())
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
    const dialogs: Array<string> = []
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message())
      void dialog.accept()
    })
    const errors: Array<string> = []
    page.on("pageerror", (error) => errors.push(error.message))
    page.on("console", (message) => void (message.type() === "error" && errors.push(message.text())))
    const requests: Array<string> = []
    page.on("request", (request) => requests.push(request.url()))
    await page.goto(link)

    // The tree comes up on the page, every agent running; the boot-time escalation is listed.
    for (const name of ["victim", "bystander", "chatter", "oneshot", "flaky/crasher"]) {
      await page.locator(`li[data-path="init/observed/${name}"][data-state="running"]`).waitFor({ timeout: 45_000 })
    }
    await page.locator('body[data-connected="true"]').waitFor()
    await page.locator("#escalation-list li", { hasText: "init/observed/flaky" }).first().waitFor({ timeout: 45_000 })
    expect(await shown(page, "init/observed/flaky")).toMatchObject({ state: "running", restarts: 1 })

    // Kill the victim's process from the host (its pid from `agentos ps --json`, i.e. LIST).
    const ps = await Cli.run(["ps", "--json", "--socket", socket])
    expect(ps.code).toBe(0)
    const rows = JSON.parse(ps.stdout) as ReadonlyArray<{ name: string; pid: number | null; status: string }>
    const victim = rows.find((r) => r.name === "victim" && r.status === "running")
    expect(victim?.pid).toBeTypeOf("number")
    expect(await shown(page, "init/observed/victim")).toMatchObject({ restarts: 0, pid: victim!.pid })
    process.kill(victim!.pid!, "SIGKILL")
    await until(async () => {
      const node = await shown(page, "init/observed/victim")
      return node.restarts === 1 && node.state === "running" && node.pid !== victim!.pid ? node : undefined
    }, "the victim restarted on the page")
    expect(processAlive(victim!.pid!)).toBe(false)
    await page.locator("#events li", { hasText: "init/observed/victim  restarting (restart 1)" }).first().waitFor()

    // Restart the bystander from the page: it asks to confirm, sends the token, the child restarts.
    const bystander = await shown(page, "init/observed/bystander")
    expect(bystander).toMatchObject({ state: "running", restarts: 0 })
    await page.locator('button[data-action="restart"][data-path="init/observed/bystander"]').click()
    await page.locator("#action-status", { hasText: "restarted init/observed/bystander" }).waitFor()
    expect(dialogs).toEqual(["Restart init/observed/bystander?"])
    await until(async () => {
      const node = await shown(page, "init/observed/bystander")
      return node.restarts === 1 && node.state === "running" && node.pid !== bystander.pid ? node : undefined
    }, "the bystander restarted on the page")
    expect(processAlive(bystander.pid!)).toBe(false)
    expect(await treeNode(url, "init/observed/bystander")).toMatchObject({ state: "running", restarts: 1 })

    // The chatter's log: its tail, then live lines.
    await page.locator('li[data-path="init/observed/chatter"] .node-name').click()
    await page.locator("#log-name", { hasText: "chatter" }).waitFor()
    await page.locator("#log span", { hasText: "chat 0" }).waitFor()
    const before = await page.locator("#log span").count()
    await until(async () => ((await page.locator("#log span").count()) > before + 2 ? true : undefined), "live log lines")

    // The victim's log holds both incarnations, the restart marked between them.
    await page.locator('li[data-path="init/observed/victim"] .node-name').click()
    await page.locator("#log-name", { hasText: "victim" }).waitFor()
    await page.locator("#log span.marker", { hasText: "incarnation 1" }).waitFor()
    expect(await page.locator("#log span.stdout", { hasText: "victim up" }).count()).toBe(2)

    // Sparklines and figures for every running agent.
    await until(async () => ((await page.locator('#agents tr[data-agent="chatter"] td.cpu svg polyline').count()) > 0 ? true : undefined), "the chatter's CPU sparkline")
    expect(await page.locator('#agents tr[data-agent="victim"] td.memory').getAttribute("data-memory")).toMatch(/^\d+$/)
    await page.locator("#llm", { hasText: "no LLM requests yet" }).waitFor()

    // No script error, no CSP violation; nothing was fetched from anywhere but the observer.
    expect(errors).toEqual([])
    expect(requests.filter((r) => !r.startsWith(url))).toEqual([])

    Fs.mkdirSync(artifacts, { recursive: true })
    await page.screenshot({ path: Path.join(artifacts, "observer.png"), fullPage: true })
    expect(Fs.statSync(Path.join(artifacts, "observer.png")).size).toBeGreaterThan(10_000)

    // Without the token an action is refused, and nothing restarts.
    const refused = await post(url, "restart", JSON.stringify({ path: "init/observed/victim" }), null)
    expect(refused.status).toBe(401)
    expect(await treeNode(url, "init/observed/victim")).toMatchObject({ restarts: 1, state: "running" })

    // /metrics on the observer's port: Prometheus text.
    const metrics = await fetch(`${url}metrics`)
    expect(metrics.status).toBe(200)
    expect(metrics.headers.get("content-type")).toMatch(/^text\/plain/)
    expect(await metrics.text()).toMatch(/^# (HELP|TYPE) /m)

    expect(boot.child.exitCode).toBeNull()
    boot.child.kill("SIGINT")
    expect((await boot.exited).code).toBe(0)
    // The observer stopped with the kernel.
    await expect(fetch(url)).rejects.toThrow()
  })

  it.skipIf(!Machine.canSandbox)(`the HTTP API: 401 without the token, 400 on bad input, 404 for an unknown path, logs, stop${Machine.canSandbox ? "" : ` (skipped: its agents run under \`agentos boot\`, whose kernel has the native launcher, which cannot sandbox here: ${Machine.cannotSandboxBecause})`}`, async () => {
    const token = "test-token-0123456789abcdef"
    const { url } = await bootObserved({ AGENTOS_OBSERVE_TOKEN: token })
    // Until the tree has booted, the node is not there yet (404).
    await until(async () => {
      const response = await fetch(`${url}api/tree?path=init/observed/victim`)
      return response.status === 200 && ((await response.json()) as Node).state === "running" ? true : undefined
    }, "the victim running")
    const victim = await treeNode(url, "init/observed/victim")

    const expectError = async (response: Response, status: number, message: RegExp) => {
      expect(response.status).toBe(status)
      expect(((await response.json()) as { error: string }).error).toMatch(message)
    }
    const path = (p: string) => JSON.stringify({ path: p })

    await expectError(await post(url, "restart", path("init/observed/victim"), null), 401, /Authorization: Bearer <token>/)
    await expectError(await post(url, "stop", path("init/observed/victim"), "wrong-token-0123456789abcdef"), 401, /token/)
    await expectError(await post(url, "restart", path("init/observed/victim"), token.slice(0, -1)), 401, /token/)
    await expectError(await post(url, "restart", "not json", token), 400, /^body: expected JSON/)
    await expectError(await post(url, "restart", "[]", token), 400, /^body: expected JSON/)
    await expectError(await post(url, "restart", JSON.stringify({ path: 3 }), token), 400, /^path: expected a non-empty string/)
    await expectError(await post(url, "restart", path(""), token), 400, /^path: expected a non-empty string/)
    await expectError(await post(url, "restart", path("init"), token), 400, /^path: "init" is not a child of a supervisor/)
    await expectError(await post(url, "restart", path("init/nowhere/child"), token), 404, /^path: no supervisor at init\/nowhere/)
    await expectError(await post(url, "stop", path("init/observed/ghost"), token), 404, /^path: init\/observed has no child named ghost/)
    await expectError(await post(url, "restart", path("init/observed/oneshot"), token), 409, /temporary child/)
    await expectError(await post(url, "stop", path("init/cgroup-janitor"), token), 403, /one of the kernel's own services/)
    // None of the refused actions touched the victim.
    expect(await treeNode(url, "init/observed/victim")).toMatchObject({ state: "running", restarts: 0, pid: victim.pid })

    await expectError(await fetch(`${url}api/restart`), 405, /GET \/api\/restart: method not allowed/)
    await expectError(await fetch(`${url}nothing-here`), 404, /no such page/)
    await expectError(await fetch(`${url}api/logs`), 400, /^name: expected \?name=/)
    await expectError(await fetch(`${url}api/logs?name=ghost`), 404, /^name: no agent named "ghost"/)
    await until(async () => {
      const logs = (await (await fetch(`${url}api/logs?name=victim`)).json()) as { lines: ReadonlyArray<{ line: string; stream: string }> }
      return logs.lines.some((l) => l.line === "victim up" && l.stream === "stdout") ? true : undefined
    }, "the victim's first line in its log")

    // A page on another site cannot reach a loopback observer by rebinding its own name to it.
    const rebound = await new Promise<number>((resolve, reject) => {
      const request = Http.get(`${url}api/snapshot`, { headers: { host: `attacker.example:${new URL(url).port}` } }, (response) => {
        response.resume()
        resolve(response.statusCode ?? 0)
      })
      request.on("error", reject)
    })
    expect(rebound).toBe(403)

    // The snapshot the page gets on connect, as JSON.
    const snapshot = (await (await fetch(`${url}api/snapshot`)).json()) as { agents: ReadonlyArray<{ name: string; path: string | null }> }
    expect(snapshot.agents.find((a) => a.name === "victim")?.path).toBe("init/observed/victim")

    // Stop: the child is terminated and stays down.
    const stopped = await post(url, "stop", path("init/observed/victim"), token)
    expect(stopped.status).toBe(200)
    expect(await stopped.json()).toMatchObject({ ok: true, action: "stop", node: { state: "exited", pid: null } })
    expect(processAlive(victim.pid!)).toBe(false)
    expect(await treeNode(url, "init/observed/victim")).toMatchObject({ state: "exited" })
    // And a stopped child comes back with restart.
    const restarted = await post(url, "restart", path("init/observed/victim"), token)
    expect(restarted.status).toBe(200)
    expect(await restarted.json()).toMatchObject({ ok: true, node: { state: "running", restarts: 1 } })
  })

  it.skipIf(!Machine.canSandbox)(`a transient child that ends normally shows exited on the page, as TREE says, never restarting${Machine.canSandbox ? "" : ` (skipped: its agents run under \`agentos boot\`, whose kernel has the native launcher, which cannot sandbox here: ${Machine.cannotSandboxBecause})`}`, async () => {
    const { url, link } = await bootObserved({}, finishing)
    const browser = await launchChromium()
    cleanups.push(() => browser.close())
    const page = await browser.newPage()
    const errors: Array<string> = []
    page.on("pageerror", (error) => errors.push(error.message))
    // Every state the page gives the finisher, recorded from before the page's own script runs.
    await page.addInitScript(`
      window.finisherStates = [];
      new MutationObserver(function () {
        var li = document.querySelector('li[data-path="init/finishing/finisher"]');
        var state = li && li.getAttribute("data-state");
        if (state && window.finisherStates[window.finisherStates.length - 1] !== state) window.finisherStates.push(state);
      }).observe(document, { subtree: true, childList: true, attributes: true });
    `)
    await page.goto(link)
    await page.locator('li[data-path="init/finishing/finisher"][data-state="running"]').waitFor({ timeout: 45_000 })
    await page.locator('body[data-connected="true"]').waitFor()
    const finisher = await treeNode(url, "init/finishing/finisher")
    expect(finisher).toMatchObject({ state: "running", restarts: 0 })

    // It ends normally (exit 0): a transient child is not restarted, and TREE says exited.
    process.kill(finisher.pid!, "SIGTERM")
    await until(async () => ((await treeNode(url, "init/finishing/finisher")).state === "exited" ? true : undefined), "TREE saying the finisher exited")
    await page.locator('li[data-path="init/finishing/finisher"][data-state="exited"]').waitFor()
    expect(await shown(page, "init/finishing/finisher")).toEqual({ state: "exited", restarts: 0, pid: null })
    const states = (await page.evaluate("window.finisherStates")) as ReadonlyArray<string>
    expect(states).not.toContain("restarting")
    expect(states.at(-1)).toBe("exited")
    await page.locator("#events li", { hasText: "init/finishing/finisher  exited: exited with code 0" }).first().waitFor()
    expect(await treeNode(url, "init/finishing/finisher")).toMatchObject({ state: "exited", restarts: 0, pid: null })
    expect(errors).toEqual([])
  })

  it("a bad --observe value is a usage error: exit 2, nothing booted", async () => {
    const dir = tempDir()
    cleanups.push(() => dir.remove())
    const file = Path.join(dir.path, "tree.ts")
    Fs.writeFileSync(file, `import { agent, defineTree, supervisor } from ${JSON.stringify(index)}\nexport default defineTree(supervisor("t", { children: [agent("a", { run: "sh", args: ["-c", "exec sleep 1000"] })] }))\n`)
    const socket = Path.join(dir.path, "run", "kernel.sock")
    for (const bad of ["nope", "127.0.0.1:70000", "::1:80"]) {
      const result = await Cli.run(["boot", "--observe", bad, file, "--socket", socket])
      expect(result.code).toBe(2)
      expect(result.stderr + result.stdout).toContain(`Invalid value for flag --observe: ${JSON.stringify(bad)}`)
      expect(result.stdout).not.toMatch(/started/)
      expect(Fs.existsSync(socket)).toBe(false)
    }
  })
})
