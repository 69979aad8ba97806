/**
 * Metrics end to end: a real kernel, the real launcher, agents as real processes. What happened
 * (crashes under a supervisor, an escalation, syscalls and their errors, THINKs on the offline
 * model, SENDs nobody reads) is checked against METRICS's text, parsed by a strict parser of the
 * Prometheus format of our own (test/support/PrometheusText.ts); `agentos metrics` through the
 * real CLI.
 */
import { Effect, Result } from "effect"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { Connection } from "../../src/client/Connection.ts"
import type { LifecycleEvent } from "../../src/process/Events.ts"
import { Op } from "../../src/protocol/Op.ts"
import { agent, decodeTree, supervisor, type SupervisorSpec } from "../../src/supervision/Tree.ts"
import * as Cli from "../support/cli.ts"
import { startKernel, type TestKernel, tempDir } from "../support/kernel.ts"
import * as Prometheus from "../support/PrometheusText.ts"
import * as Cleanups from "../support/cleanups.ts"
import * as Machine from "../support/machine.ts"

const metricsAgent = Path.join(import.meta.dirname, "agents", "metrics-agent.ts")

const cleanups = Cleanups.perTest()

/** A kernel and a client connection subscribed to every lifecycle event. */
const setup = async () => {
  // Not about isolation: on the plain launcher where agents cannot be sandboxed here.
  const k = await startKernel({}, [], undefined, Machine.launcher)
  cleanups.push(() => k.stop())
  const c = await Connection.connect({ path: k.socketPath })
  cleanups.push(() => c.close())
  const events: Array<LifecycleEvent> = []
  c.onPush((push) => {
    if (push.ev.startsWith("agentos.")) events.push(push.data as LifecycleEvent)
  })
  expect(await c.call(Op.SUBSCRIBE, {})).toEqual({ subscribed: true })
  return { k, c, events }
}

const boot = async (k: TestKernel, tree: SupervisorSpec) => {
  const decoded = decodeTree(tree)
  if (Result.isFailure(decoded)) throw new Error(decoded.failure.message)
  await Effect.runPromise(k.supervision.boot(decoded.success, "/"))
}

/** METRICS, parsed: every line must be valid exposition text. */
const scrape = async (c: Connection) => {
  const { text } = (await c.call(Op.METRICS, {})) as { text: string }
  return Prometheus.parse(text)
}

/** Scrapes until `ok` holds (lifecycle counters follow events a moment later), then returns that scrape. */
const scrapeUntil = async (c: Connection, ok: (m: ReturnType<typeof Prometheus.parse>) => boolean, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const m = await scrape(c)
    if (ok(m)) return m
    if (Date.now() > deadline) throw new Error(`metrics never got there; last scrape:\n${[...m.values()].map((f) => f.samples.map((s) => `${s.name}${JSON.stringify(s.labels)} ${s.value}`).join("\n")).join("\n")}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Waits for an agent's output line. */
const outputOf = async (k: TestKernel, name: string, prefix: string, timeoutMs = 30_000): Promise<string> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const line = k.output(name).find((o) => o.line.startsWith(prefix))
    if (line !== undefined) return line.line
    if (Date.now() > deadline) throw new Error(`${name} never printed ${prefix}: ${JSON.stringify(k.output(name))}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * A shell agent that crashes (exit code `code`) on its first `crashes` starts and then stays up:
 * the count lives in its work directory (its HOME), which outlives its incarnations.
 */
const crashThenStay = (crashes: number, code: number) => ({
  run: "sh",
  args: ["-c", `n=$(cat "$HOME/starts" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$HOME/starts"; if [ $n -le ${crashes} ]; then exit ${code}; fi; echo steady; exec sleep 120`]
})

const v = Prometheus.value

describe("METRICS against what happened", () => {
  it("restarts per child path, exits by reason, an escalation, spawn latency, agents by state as LIST shows them", async () => {
    const { k, c, events } = await setup()
    await boot(k, supervisor("root", {
      intensity: { maxRestarts: 10, withinMs: 60_000 },
      children: [
        agent("crasher", crashThenStay(3, 3)),
        // Past one restart in its window, `fragile` gives up and escalates to root, which restarts
        // it; the third start of `doomed` stays up.
        supervisor("fragile", {
          intensity: { maxRestarts: 1, withinMs: 60_000 },
          children: [agent("doomed", crashThenStay(2, 1))]
        })
      ]
    }))
    await outputOf(k, "crasher", "steady")
    await outputOf(k, "doomed", "steady")
    // A stop asked for with SIGKILL: one exit of reason killed_on_request.
    const victim = (await c.call(Op.SPAWN, { name: "victim", run: "sleep", args: ["120"] })) as { pid: number }
    expect(victim.pid).toBeGreaterThan(0)
    await c.call(Op.KILL, { name: "victim", signal: "SIGKILL" })
    expect(await c.call(Op.WAIT, { name: "victim", timeoutMs: 20_000 })).toMatchObject({ reason: "killed_on_request" })

    const m = await scrapeUntil(c, (m) =>
      v(m, "agentos_child_restarts_total", { child: "init/root/crasher" }) === 3 &&
      v(m, "agentos_supervisor_escalations_total", { supervisor: "init/root/fragile" }) === 1 &&
      v(m, "agentos_agent_exits_total", { reason: "killed_on_request" }) === 1)

    // What SUBSCRIBE saw is what the counters say, series by series.
    const restarting = events.filter((e) => e.type === "agentos.child.restarting")
    const byChild = new Map<string, number>()
    for (const e of restarting) byChild.set((e as { offender: string }).offender, (byChild.get((e as { offender: string }).offender) ?? 0) + 1)
    expect(Object.fromEntries(byChild)).toEqual({ "init/root/crasher": 3, "init/root/fragile/doomed": 1, "init/root/fragile": 1 })
    expect(Object.fromEntries(Prometheus.samples(m, "agentos_child_restarts_total").map((s) => [s.labels.child, s.value]))).toEqual(Object.fromEntries(byChild))

    const exited = events.filter((e) => e.type === "agentos.agent.exited") as ReadonlyArray<{ reason: string }>
    const byReason = new Map<string, number>()
    for (const e of exited) byReason.set(e.reason, (byReason.get(e.reason) ?? 0) + 1)
    // crasher 3 times, doomed twice (exit codes 3 and 1), the victim once.
    expect(Object.fromEntries(byReason)).toEqual({ exited: 5, killed_on_request: 1 })
    expect(Object.fromEntries(Prometheus.samples(m, "agentos_agent_exits_total").map((s) => [s.labels.reason, s.value]))).toEqual({ exited: 5, killed_on_request: 1 })

    const escalated = events.filter((e) => e.type === "agentos.supervisor.escalated")
    expect(escalated).toHaveLength(1)
    expect(Prometheus.samples(m, "agentos_supervisor_escalations_total").map((s) => [s.labels.supervisor, s.value])).toEqual([["init/root/fragile", 1]])

    // One observation per start: crasher 4, doomed 3, victim 1.
    const started = events.filter((e) => e.type === "agentos.agent.started").length
    expect(started).toBe(8)
    expect(v(m, "agentos_agent_spawn_duration_seconds_count")).toBe(started)
    expect(v(m, "agentos_agent_spawn_duration_seconds_bucket", { le: "+Inf" })).toBe(started)
    expect(v(m, "agentos_agent_spawn_duration_seconds_sum")).toBeGreaterThan(0)
    expect(m.get("agentos_agent_spawn_duration_seconds")?.type).toBe("histogram")

    // Nothing is changing now: the gauge and LIST agree state by state.
    const rows = (await c.calls.list()) as ReadonlyArray<{ status: string }>
    const now = await scrape(c)
    for (const state of ["starting", "running", "stopping", "exited", "failed"]) {
      expect([state, v(now, "agentos_agents", { state })]).toEqual([state, rows.filter((r) => r.status === state).length])
    }
    expect(v(now, "agentos_agents", { state: "running" })).toBe(2)
    expect(v(now, "agentos_agents", { state: "exited" })).toBe(1)
    for (const name of ["agentos_agents", "agentos_child_restarts_total", "agentos_agent_exits_total", "agentos_syscalls_total"]) {
      expect(now.get(name)?.help, name).toBeTruthy()
    }
  })

  it("syscalls by op and code: K NOOPs, an EINVAL, an ENOSYS and the METRICS calls themselves, exactly", async () => {
    const { c } = await setup()
    const before = await scrape(c)
    const count = (m: ReturnType<typeof Prometheus.parse>, op: string, code: string) => v(m, "agentos_syscalls_total", { op, code }) ?? 0
    const K = 25
    for (let i = 0; i < K; i++) expect(await c.call(Op.NOOP, { i })).toEqual({ i })
    const einval = await c.call(Op.SEND, { payload: 1 }).then(() => "ok", (e: { code?: string }) => e.code)
    expect(einval).toBe("EINVAL")
    const enosys = await c.call(0x7f, {}).then(() => "ok", (e: { code?: string }) => e.code)
    expect(enosys).toBe("ENOSYS")
    const after = await scrape(c)
    expect(count(after, "NOOP", "ok") - count(before, "NOOP", "ok")).toBe(K)
    expect(count(after, "SEND", "EINVAL") - count(before, "SEND", "EINVAL")).toBe(1)
    expect(count(after, "unknown", "ENOSYS") - count(before, "unknown", "ENOSYS")).toBe(1)
    // A scrape renders before its own reply: the first one shows in the second, not in itself.
    expect(count(after, "METRICS", "ok") - count(before, "METRICS", "ok")).toBe(1)
    // Nothing else moved: this client is the kernel's only one.
    const total = (m: ReturnType<typeof Prometheus.parse>) => Prometheus.samples(m, "agentos_syscalls_total").reduce((n, s) => n + s.value, 0)
    expect(total(after) - total(before)).toBe(K + 3)
    expect(count(after, "SUBSCRIBE", "ok")).toBe(1)
  })

  it("an agent's THINKs on the offline model, SENDs to a mailbox nobody reads, and METRICS refused without its grant", async () => {
    const { k, c } = await setup()
    // The sink never RECVs: what is sent to it waits in its mailbox.
    await c.call(Op.SPAWN, { name: "sink", run: "sleep", args: ["120"] })
    await c.call(Op.SPAWN, { name: "thinker", run: metricsAgent, args: ["2", "sink", "3"] })
    const report = JSON.parse((await outputOf(k, "thinker", "REPORT ")).slice(7)) as {
      usage: { inputTokens: number; outputTokens: number }
      sent: Array<number>
      metrics: { ok: boolean; code?: string }
    }
    expect(report.sent).toHaveLength(3)
    expect(report.metrics).toEqual({ ok: false, code: "EPERM" })
    expect(report.usage.inputTokens).toBeGreaterThan(0)
    expect(report.usage.outputTokens).toBeGreaterThan(0)
    // Granted, the same agent gets the text.
    await c.call(Op.SPAWN, { name: "granted", run: metricsAgent, args: ["0", "sink", "0"], caps: ["METRICS"] })
    const granted = JSON.parse((await outputOf(k, "granted", "REPORT ")).slice(7)) as { metrics: { ok: boolean; length: number } }
    expect(granted.metrics.ok).toBe(true)
    expect(granted.metrics.length).toBeGreaterThan(0)

    const m = await scrape(c)
    const thinker = { agent: "thinker" }
    expect(v(m, "agentos_llm_requests_total", thinker)).toBe(2)
    expect(v(m, "agentos_llm_errors_total", thinker)).toBe(0)
    expect(v(m, "agentos_llm_input_tokens_total", thinker)).toBe(report.usage.inputTokens)
    expect(v(m, "agentos_llm_output_tokens_total", thinker)).toBe(report.usage.outputTokens)
    expect(v(m, "agentos_llm_queued", thinker)).toBe(0)
    expect(v(m, "agentos_llm_queue_wait_p50_ms", thinker)).toBeGreaterThanOrEqual(0)
    expect(v(m, "agentos_llm_queue_wait_p99_ms", thinker)).toBeGreaterThanOrEqual(v(m, "agentos_llm_queue_wait_p50_ms", thinker)!)
    // The agent that never thought has no LLM series.
    expect(v(m, "agentos_llm_requests_total", { agent: "granted" })).toBeUndefined()

    expect(v(m, "agentos_mailbox_depth", { agent: "sink" })).toBe(3)
    expect(v(m, "agentos_mailbox_in_flight", { agent: "sink" })).toBe(0)
    expect(v(m, "agentos_messages_routed_total")).toBe(3)
    expect(v(m, "agentos_syscalls_total", { op: "THINK", code: "ok" })).toBe(2)
    expect(v(m, "agentos_syscalls_total", { op: "SEND", code: "ok" })).toBe(3)
    expect(v(m, "agentos_syscalls_total", { op: "METRICS", code: "EPERM" })).toBe(1)

    // LIST carries the same mailbox figures; an agent nothing was sent to has none.
    const rows = (await c.calls.list()) as ReadonlyArray<{ name: string; mailbox: unknown }>
    expect(rows.find((r) => r.name === "sink")?.mailbox).toEqual({ depth: 3, inFlight: 0 })
    expect(rows.find((r) => r.name === "thinker")?.mailbox).toBeNull()
  })

  it("label values are escaped: a client named with a quote, a backslash and a newline reads back exactly", async () => {
    const { k, c } = await setup()
    const name = "odd \"name\" \\ with\nnewline"
    const named = await Connection.connect({ path: k.socketPath })
    cleanups.push(() => named.close())
    await named.call(Op.HELLO, { version: 1, name })
    await c.call(Op.SEND, { to: name, payload: "hi" })
    const { text } = (await c.call(Op.METRICS, {})) as { text: string }
    expect(text).toContain(`agentos_mailbox_depth{agent="odd \\"name\\" \\\\ with\\nnewline"} 1`)
    expect(v(Prometheus.parse(text), "agentos_mailbox_depth", { agent: name })).toBe(1)
  })
})

describe("`agentos metrics`", () => {
  it("prints the kernel's metrics as parseable Prometheus text; without a kernel it fails with one line", async () => {
    const dir = tempDir()
    cleanups.push(() => dir.remove())
    const kernel = await Cli.startKernel(dir.path, cleanups)
    const first = await Cli.run(["metrics", "--socket", kernel.socket])
    expect(first.stderr).toBe("")
    expect(first.code).toBe(0)
    const m = Prometheus.parse(first.stdout)
    expect(v(m, "agentos_agents", { state: "running" })).toBe(0)
    expect(m.get("agentos_agents")?.type).toBe("gauge")
    // The first command's own METRICS was answered after it rendered: the second one shows it.
    const second = Prometheus.parse((await Cli.run(["metrics", "--socket", kernel.socket])).stdout)
    expect(second.get("agentos_syscalls_total")?.type).toBe("counter")
    expect(v(second, "agentos_syscalls_total", { op: "METRICS", code: "ok" })).toBe(1)

    const missing = await Cli.run(["metrics", "--socket", Path.join(dir.path, "nobody.sock")])
    expect(missing.code).toBe(1)
    expect(missing.stdout).toBe("")
    expect(missing.stderr.trim().split("\n")).toHaveLength(1)
  })
})

describe("the Prometheus parser used here", () => {
  it("rejects what the format forbids, so the checks above can fail", () => {
    const bad = [
      "metric{a=\"unterminated} 1\n",
      "metric{a=\"x\"} one\n",
      "9metric 1\n",
      "metric{a=\"bad \\t escape\"} 1\n",
      "# TYPE m counter\n# TYPE m counter\nm 1\n",
      "m 1\n# TYPE m gauge\n",
      "a 1\nb 1\na{x=\"1\"} 2\n",
      "m 1\nm 2\n",
      "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
      "# TYPE c counter\nc -1\n",
      "m 1"
    ]
    for (const text of bad) expect(() => Prometheus.parse(text), JSON.stringify(text)).toThrow()
    const good = Prometheus.parse("# HELP m a \\\\ help\\nline\n# TYPE m gauge\nm{a=\"q\\\"\\\\\\n\"} -1.5e3\nm{a=\"z\"} NaN\n")
    expect(good.get("m")?.help).toBe("a \\ help\nline")
    expect(v(good, "m", { a: "q\"\\\n" })).toBe(-1500)
  })
})
