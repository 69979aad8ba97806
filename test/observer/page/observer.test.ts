/**
 * The observer page's script in a real browser (Debian's Chromium through playwright-core),
 * against a stand-in for the observer that the test drives: it serves the page as the observer
 * does (ObserverPage), pushes the snapshot and lifecycle events a kernel published, and answers
 * `/api/tree` as TREE would. What is checked is how the page turns lifecycle events into the
 * tree it shows between snapshots, with the events a real run sent (examples/pipeline with
 * PIPELINE_CRASH=none: three transient agents that end normally, and no snapshot after them,
 * since the tree is finished and the kernel stops).
 */
import * as Http from "node:http"
import { chromium, type Browser, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import type { LifecycleEvent } from "../../../src/process/Events.ts"
import * as ObserverPage from "../../../src/observer/ObserverPage.ts"
import type * as ObserverState from "../../../src/observer/ObserverState.ts"
import * as Cleanups from "../../support/cleanups.ts"

type TreeNode = NonNullable<ObserverState.Snapshot["tree"]>

const cleanups = Cleanups.perTest()

/** What the stand-in answers to `GET /api/tree?path=P`. */
type TreeAnswer = { readonly status: number; readonly body: unknown } | "hang up"

interface Observer {
  readonly url: string
  /** Sends one server-sent event to the open `/events` stream. */
  readonly send: (event: "snapshot" | "lifecycle", data: unknown) => void
  /** The paths the page asked `/api/tree` about, in order. */
  readonly asked: Array<string>
  /** How `/api/tree` answers; the test sets it. */
  answer: (path: string) => Promise<TreeAnswer>
}

/** The stand-in: the page, its script and style as the observer serves them, an event stream, `/api/tree`. */
const standIn = async (first: ObserverState.Snapshot): Promise<Observer> => {
  const streams = new Set<Http.ServerResponse>()
  const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
  const observer: Observer = {
    url: "",
    send: (event, data) => {
      for (const stream of streams) stream.write(sse(event, data))
    },
    asked: [],
    answer: () => Promise.resolve({ status: 404, body: { error: "not set" } })
  }
  const server = Http.createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://observer")
    const text = (type: string, body: string) => response.writeHead(200, { "content-type": type }).end(body)
    if (url.pathname === "/") return text("text/html; charset=utf-8", ObserverPage.html)
    if (url.pathname === "/observer.js") return text("text/javascript; charset=utf-8", ObserverPage.script())
    if (url.pathname === "/observer.css") return text("text/css; charset=utf-8", ObserverPage.css)
    if (url.pathname === "/events") {
      response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store" })
      response.write(sse("snapshot", first))
      streams.add(response)
      request.on("close", () => streams.delete(response))
      return
    }
    if (url.pathname === "/api/tree") {
      const path = url.searchParams.get("path") ?? ""
      observer.asked.push(path)
      void observer.answer(path).then((answer) => {
        if (answer === "hang up") return void request.socket.destroy()
        response.writeHead(answer.status, { "content-type": "application/json" }).end(JSON.stringify(answer.body))
      })
      return
    }
    response.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  cleanups.push(() => new Promise<void>((resolve) => {
    for (const stream of streams) stream.destroy()
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  const address = server.address() as { readonly port: number }
  return Object.assign(observer, { url: `http://127.0.0.1:${address.port}/` })
}

const agent = (name: string, pid: number): TreeNode => ({
  name, path: `init/pipeline/${name}`, kind: "agent", state: "running", pid, restarts: 0, reason: null, restart: "transient"
})

/** TREE of examples/pipeline while its three agents run, as the kernel sent it. */
const pipeline: TreeNode = {
  name: "init", path: "init", kind: "supervisor", state: "running", pid: null, restarts: 0, reason: null, strategy: "one_for_one",
  children: [
    { name: "cgroup-janitor", path: "init/cgroup-janitor", kind: "service", state: "running", pid: null, restarts: 0, reason: null, restart: "permanent" },
    {
      name: "pipeline", path: "init/pipeline", kind: "supervisor", state: "running", pid: null, restarts: 0, reason: null, strategy: "one_for_one", restart: "permanent",
      children: [agent("verifier", 11297), agent("reasoner", 11306), agent("parser", 11317)]
    }
  ]
}

const snapshot = (tree: TreeNode): ObserverState.Snapshot => ({
  time: 1796324281500,
  tree,
  agents: [],
  llm: { policy: "vtc", inFlight: 0, maxInFlight: 8, queued: 0, tokens: 0, agents: [] },
  events: [],
  escalations: []
})

/** A supervisor's report about one of its children, as the kernel publishes it. */
const report = (type: "agentos.child.exited" | "agentos.child.restarting" | "agentos.child.started", name: string, over: Partial<LifecycleEvent> = {}): LifecycleEvent => ({
  type,
  supervisor: "init/pipeline",
  context: type === "agentos.child.exited" ? "child_terminated" : type === "agentos.child.started" ? "start" : "restart",
  offender: `init/pipeline/${name}`,
  kind: "agent",
  reason: type === "agentos.child.started" ? null : "exited with code 0",
  pid: null,
  restarts: 0,
  time: 1796324282095,
  ...over
} as LifecycleEvent)

/** The events the pipeline's end sent (PIPELINE_CRASH=none), in order: the process table's, then the supervisor's. */
const pipelineEnd: ReadonlyArray<LifecycleEvent> = [
  { type: "agentos.agent.exited", id: "a3", name: "parser", pid: 11317, reason: "exited", code: 0, signal: null, description: "exited with code 0", time: 1796324282089 },
  report("agentos.child.exited", "parser", { time: 1796324282095 }),
  { type: "agentos.agent.exited", id: "a1", name: "verifier", pid: 11297, reason: "exited", code: 0, signal: null, description: "exited with code 0", time: 1796324282284 },
  report("agentos.child.exited", "verifier", { time: 1796324282290 }),
  { type: "agentos.agent.exited", id: "a2", name: "reasoner", pid: 11306, reason: "exited", code: 0, signal: null, description: "exited with code 0", time: 1796324282306 },
  report("agentos.child.exited", "reasoner", { time: 1796324282310 })
]

/** The node TREE shows once the supervisor decided not to restart the child: exited, no process. */
const ended = (name: string, over: Partial<TreeNode> = {}): TreeNode => ({ ...agent(name, 0), state: "exited", pid: null, reason: "exited with code 0", ...over })

let browser: Browser | undefined

beforeAll(async () => {
  const found = inject("chromium")
  if (found.path === null) throw new Error(`no Chromium for the browser test: ${found.problem}`)
  browser = await chromium.launch({ executablePath: found.path, args: ["--no-sandbox", "--headless=new"] })
})

afterAll(async () => {
  await browser?.close()
})

/** Opens the page on the stand-in, once its first snapshot is drawn; page errors are collected. */
const open = async (observer: Observer): Promise<{ readonly page: Page; readonly errors: Array<string> }> => {
  const page = await browser!.newPage()
  cleanups.push(() => page.close())
  const errors: Array<string> = []
  page.on("pageerror", (error) => errors.push(error.message))
  await page.goto(observer.url)
  await page.locator('body[data-connected="true"]').waitFor()
  await page.locator('li[data-path="init/pipeline/parser"][data-state="running"]').waitFor()
  return { page, errors }
}

/** What the page shows of a tree node, from its data attributes. */
const shown = (page: Page, path: string) =>
  page.locator(`li[data-path="${path}"]`).evaluate((li) => ({
    state: li.getAttribute("data-state"),
    restarts: Number(li.getAttribute("data-restarts")),
    pid: li.getAttribute("data-pid")
  }))

/** Lets the page run what is queued (an answer's callbacks) before the next look. */
const settle = (page: Page) => page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 100)))

const names = ["verifier", "reasoner", "parser"] as const

describe("the observer page's script", () => {
  it("a transient child that ended normally shows exited, as TREE says, with no snapshot after (examples/pipeline, PIPELINE_CRASH=none)", async () => {
    const observer = await standIn(snapshot(pipeline))
    observer.answer = (path) => Promise.resolve({ status: 200, body: ended(path.split("/").pop()!) })
    const { page, errors } = await open(observer)
    for (const event of pipelineEnd) observer.send("lifecycle", event)
    for (const name of names) {
      await page.locator(`li[data-path="init/pipeline/${name}"][data-state="exited"]`).waitFor({ timeout: 10_000 })
    }
    await settle(page)
    for (const name of names) expect(await shown(page, `init/pipeline/${name}`)).toEqual({ state: "exited", restarts: 0, pid: "" })
    // It asked TREE once per exit, and about nothing else.
    expect([...observer.asked].sort()).toEqual(names.map((n) => `init/pipeline/${n}`).sort())
    expect(await page.locator("#events li").count()).toBe(3)
    expect(errors).toEqual([])
  })

  it("with no answer (the observer stopped with the kernel) the child still shows exited, not restarting", async () => {
    const observer = await standIn(snapshot(pipeline))
    observer.answer = () => Promise.resolve("hang up")
    const { page, errors } = await open(observer)
    for (const event of pipelineEnd) observer.send("lifecycle", event)
    await page.locator("#events li").nth(2).waitFor()
    await settle(page)
    for (const name of names) expect(await shown(page, `init/pipeline/${name}`)).toMatchObject({ state: "exited", pid: "" })
    expect(errors).toEqual([])
  })

  it("a child its supervisor restarts: the restarting and started events win over an answer that comes after them", async () => {
    const observer = await standIn(snapshot(pipeline))
    let release: (answer: TreeAnswer) => void = () => {}
    // TREE's answer while the supervisor was still deciding, held back until the restart is shown.
    observer.answer = () => new Promise((resolve) => (release = resolve))
    const { page, errors } = await open(observer)
    observer.send("lifecycle", report("agentos.child.exited", "reasoner", { reason: "killed by SIGKILL" }))
    await page.locator('li[data-path="init/pipeline/reasoner"][data-state="exited"]').waitFor()
    await expect.poll(() => observer.asked).toEqual(["init/pipeline/reasoner"])
    observer.send("lifecycle", report("agentos.child.restarting", "reasoner", { reason: "killed by SIGKILL", restarts: 1, delayMs: 0 }))
    observer.send("lifecycle", report("agentos.child.started", "reasoner", { pid: 12001, restarts: 1 }))
    await page.locator('li[data-path="init/pipeline/reasoner"][data-state="running"][data-pid="12001"]').waitFor()
    release({ status: 200, body: ended("reasoner", { state: "restarting", reason: "killed by SIGKILL" }) })
    await settle(page)
    expect(await shown(page, "init/pipeline/reasoner")).toEqual({ state: "running", restarts: 1, pid: "12001" })
    expect(errors).toEqual([])
  })

  it("the answer settles what the event cannot say: an escalation's offender failed, a temporary child is gone", async () => {
    const observer = await standIn(snapshot(pipeline))
    observer.answer = (path) =>
      Promise.resolve(path.endsWith("/reasoner")
        ? { status: 200, body: ended("reasoner", { state: "failed", reason: "exited with code 3" }) }
        : { status: 404, body: { error: `path: no node at ${path}` } })
    const { page, errors } = await open(observer)
    observer.send("lifecycle", report("agentos.child.exited", "reasoner", { reason: "exited with code 3" }))
    observer.send("lifecycle", report("agentos.child.exited", "parser"))
    await page.locator('li[data-path="init/pipeline/reasoner"][data-state="failed"]').waitFor()
    await page.locator('li[data-path="init/pipeline/parser"]').waitFor({ state: "detached" })
    expect(await shown(page, "init/pipeline/verifier")).toEqual({ state: "running", restarts: 0, pid: "11297" })
    expect(errors).toEqual([])
  })
})
