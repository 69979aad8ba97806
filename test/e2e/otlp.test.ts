/**
 * OpenTelemetry export end to end: the real `agentos kernel` as a child process with
 * OTEL_EXPORTER_OTLP_ENDPOINT pointing at an OTLP/HTTP receiver of our own
 * (test/support/OtlpReceiver.ts, JSON encoding, as a collector takes it). A client and an agent
 * THINK and SEND; the kernel is stopped with SIGTERM, and its exporters' last flush must bring
 * every syscall span, with its caller and result, and the kernel's metrics.
 */
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { Connection } from "../../src/client/Connection.ts"
import { Op } from "../../src/protocol/Op.ts"
import * as Cli from "../support/cli.ts"
import { tempDir } from "../support/kernel.ts"
import * as OtlpReceiver from "../support/OtlpReceiver.ts"
import * as Cleanups from "../support/cleanups.ts"

const metricsAgent = Path.join(import.meta.dirname, "agents", "metrics-agent.ts")

const cleanups = Cleanups.perTest()

/** Waits until the agent's last call (its METRICS, refused) has been answered: it has done everything. */
const agentDone = async (c: Connection, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const { text } = (await c.call(Op.METRICS, {})) as { text: string }
    if (text.includes(`agentos_syscalls_total{op="METRICS",code="EPERM"} 1`)) return
    if (Date.now() > deadline) throw new Error(`the agent never finished:\n${text}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

describe("OTLP export", () => {
  it("a THINK and a SEND are spans from arrival to reply, with caller and result; metrics arrive too; all flushed at shutdown", async () => {
    const receiver = await OtlpReceiver.start()
    cleanups.push(() => receiver.close())
    const dir = tempDir()
    cleanups.push(() => dir.remove())
    const socket = Path.join(dir.path, "kernel.sock")
    const kernel = await Cli.start(["kernel", "--socket", socket], /listening on/, {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_SERVICE_NAME: "agentos-under-test",
      OTEL_EXPORTER_OTLP_HEADERS: "x-test-token=open%20sesame",
      AGENTOS_STATE_DIR: Path.join(dir.path, "state")
    })
    cleanups.push(async () => {
      if (kernel.child.exitCode === null && kernel.child.signalCode === null) {
        kernel.child.kill("SIGKILL")
        await kernel.exited
      }
    })
    const kernelId = /agentos kernel (k[0-9a-f]+) listening/.exec(kernel.stdout())![1]!

    const c = await Connection.connect({ path: socket })
    cleanups.push(() => c.close())
    await c.call(Op.HELLO, { version: 1, name: "otlp-client" })
    const answer = (await c.calls.think({ prompt: "what is a span?", maxTokens: 8 })) as { content: string }
    expect(answer.content.length).toBeGreaterThan(0)
    // To itself: a named client has a mailbox while it is connected.
    const sent = await c.calls.send("otlp-client", { hello: "span" })
    expect(sent.msgId).toBeGreaterThan(0)
    const missing = await c.calls.send("nobody", 1).then(() => "ok", (e: { code?: string }) => e.code)
    expect(missing).toBe("ENOENT")
    // An agent thinks over its fd 3 and sends to the client.
    await c.call(Op.SPAWN, { name: "thinker", run: metricsAgent, args: ["1", "otlp-client", "1"] })
    await agentDone(c)
    await c.call(Op.KILL, { name: "thinker" })
    await c.call(Op.WAIT, { name: "thinker", timeoutMs: 20_000 })
    await c.close()

    // SIGTERM: an orderly shutdown, whose last act is the exporters' flush.
    kernel.child.kill("SIGTERM")
    const finished = await kernel.exited
    expect(finished.code).toBe(0)

    expect(receiver.rejected).toEqual([])
    expect(receiver.requests.length).toBeGreaterThan(0)
    for (const r of receiver.requests) expect(r.headers["x-test-token"]).toBe("open sesame")

    const spans = receiver.spans()
    const syscall = (op: string) => spans.filter((s) => s.name === `agentos.syscall ${op}`)
    const clientThink = syscall("THINK").find((s) => s.attributes["agentos.agent"] === "otlp-client")
    expect(clientThink).toBeDefined()
    expect(clientThink!.kind).toBe(2)
    expect(clientThink!.attributes).toMatchObject({ "agentos.op": "THINK", "agentos.result": "ok", "agentos.caller.kind": "client" })
    expect(typeof clientThink!.attributes["agentos.session"]).toBe("number")
    expect(clientThink!.endTimeUnixNano).toBeGreaterThan(clientThink!.startTimeUnixNano)
    expect(clientThink!.resource).toMatchObject({ "service.name": "agentos-under-test", "service.instance.id": kernelId })
    // The scheduler's queue wait is a span below it, in the same trace.
    const byId = new Map(spans.map((s) => [s.spanId, s]))
    const ancestors = (span: OtlpReceiver.ReceivedSpan): Array<string> => {
      const chain: Array<string> = []
      for (let p = span.parentSpanId; p !== undefined; p = byId.get(p)?.parentSpanId) chain.push(p)
      return chain
    }
    const wait = spans.find((s) => s.name === "LlmScheduler.queueWait" && ancestors(s).includes(clientThink!.spanId))
    expect(wait).toBeDefined()
    expect(wait!.traceId).toBe(clientThink!.traceId)

    const agentThink = syscall("THINK").find((s) => s.attributes["agentos.agent"] === "thinker")
    expect(agentThink?.attributes).toMatchObject({ "agentos.result": "ok", "agentos.caller.kind": "agent" })
    const sends = syscall("SEND")
    expect(sends.filter((s) => s.attributes["agentos.result"] === "ok").map((s) => s.attributes["agentos.agent"]).sort())
      .toEqual(["otlp-client", "thinker"])
    const refused = sends.find((s) => s.attributes["agentos.result"] === "ENOENT")
    expect(refused?.attributes["agentos.agent"]).toBe("otlp-client")
    expect(refused?.status.code).toBe(2)
    // The agent's METRICS, without its grant: a span too, refused before any handler ran.
    expect(syscall("METRICS").filter((s) => s.attributes["agentos.agent"] === "thinker").map((s) => s.attributes["agentos.result"]))
      .toEqual(["EPERM"])
    expect(syscall("METRICS").filter((s) => s.attributes["agentos.agent"] === "otlp-client").every((s) => s.attributes["agentos.result"] === "ok"))
      .toBe(true)

    // Metrics: the same series METRICS renders, cumulative; the flush at shutdown has the final figures.
    const points = receiver.points()
    const last = (metric: string, attributes: Record<string, string>) =>
      points.filter((p) => p.metric === metric && Object.entries(attributes).every(([k, v]) => p.attributes[k] === v)).at(-1)?.value
    expect(last("agentos_syscalls_total", { op: "THINK", code: "ok" })).toBe(2)
    expect(last("agentos_syscalls_total", { op: "SEND", code: "ENOENT" })).toBe(1)
    expect(last("agentos_messages_routed_total", {})).toBe(2)
    expect(last("agentos_llm_requests_total", { agent: "otlp-client" })).toBe(1)
    expect(last("agentos_agent_exits_total", { reason: "killed_on_request" })).toBe(1)
    expect(points.find((p) => p.metric === "agentos_agents")?.kind).toBe("gauge")
    expect(points.find((p) => p.metric === "agentos_agent_spawn_duration_seconds")?.kind).toBe("histogram")
    expect(points[0]!.resource).toMatchObject({ "service.name": "agentos-under-test" })
  })

  it("wrong OTLP settings stop the kernel at start, each variable named in one line", async () => {
    const dir = tempDir()
    cleanups.push(() => dir.remove())
    const finished = await Cli.run(["kernel", "--socket", Path.join(dir.path, "kernel.sock")], {
      OTEL_EXPORTER_OTLP_ENDPOINT: "localhost:4318",
      OTEL_METRIC_EXPORT_INTERVAL: "0"
    })
    expect(finished.code).toBe(1)
    expect(finished.stderr.trim().split("\n")).toEqual([
      "agentos: OpenTelemetry settings: OTEL_EXPORTER_OTLP_ENDPOINT: expected an http:// or https:// URL, got \"localhost:4318\"; " +
      "OTEL_METRIC_EXPORT_INTERVAL: expected a positive whole number of milliseconds, got \"0\""
    ])
  })
})
