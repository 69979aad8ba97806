/**
 * KernelMetrics on real kernels in this process: each kernel counts only its own requests, an
 * unknown syscall number cannot grow the series, a dropped mailbox's series goes with it, and
 * the render is valid exposition text (test/support/PrometheusText.ts). What agents do is in
 * test/e2e/metrics.test.ts.
 */
import { describe, expect, it } from "vitest"
import { Connection } from "../../src/client/Connection.ts"
import { Op } from "../../src/protocol/Op.ts"
import { startKernel } from "../support/kernel.ts"
import * as Prometheus from "../support/PrometheusText.ts"
import * as Cleanups from "../support/cleanups.ts"

const cleanups = Cleanups.perTest()

const kernelWithClient = async () => {
  const k = await startKernel()
  cleanups.push(() => k.stop())
  const c = await Connection.connect({ path: k.socketPath })
  cleanups.push(() => c.close())
  return { k, c }
}

const scrape = async (c: Connection) => Prometheus.parse(((await c.call(Op.METRICS, {})) as { text: string }).text)

describe("KernelMetrics", () => {
  it("two kernels in one process keep their own counters", async () => {
    const a = await kernelWithClient()
    const b = await kernelWithClient()
    for (let i = 0; i < 7; i++) await a.c.call(Op.NOOP, i)
    await b.c.call(Op.NOOP, 0)
    expect(Prometheus.value(await scrape(a.c), "agentos_syscalls_total", { op: "NOOP", code: "ok" })).toBe(7)
    expect(Prometheus.value(await scrape(b.c), "agentos_syscalls_total", { op: "NOOP", code: "ok" })).toBe(1)
  })

  it("every number outside the table is one `unknown` series; bad METRICS args are EINVAL", async () => {
    const { c } = await kernelWithClient()
    for (let op = 0x70; op < 0x90; op++) {
      await expect(c.call(op, {})).rejects.toMatchObject({ code: "ENOSYS" })
    }
    await expect(c.call(Op.METRICS, 42)).rejects.toMatchObject({ code: "EINVAL" })
    const m = await scrape(c)
    // 0x70–0x8f holds no syscall of the table.
    expect(Prometheus.samples(m, "agentos_syscalls_total").filter((s) => s.labels.code === "ENOSYS"))
      .toEqual([{ name: "agentos_syscalls_total", labels: { op: "unknown", code: "ENOSYS" }, value: 32 }])
    expect(Prometheus.value(m, "agentos_syscalls_total", { op: "METRICS", code: "EINVAL" })).toBe(1)
  })

  it("a mailbox's series lives as long as the mailbox: a named client's goes when it disconnects", async () => {
    const { k, c } = await kernelWithClient()
    const named = await Connection.connect({ path: k.socketPath })
    await named.call(Op.HELLO, { version: 1, name: "passing" })
    await c.call(Op.SEND, { to: "passing", payload: 1 })
    await c.call(Op.SEND, { to: "passing", payload: 2 })
    expect(Prometheus.value(await scrape(c), "agentos_mailbox_depth", { agent: "passing" })).toBe(2)
    await named.close()
    // Its name answers to nobody now: the next SEND to it drops the mailbox (ENOENT).
    await expect(c.call(Op.SEND, { to: "passing", payload: 3 })).rejects.toMatchObject({ code: "ENOENT" })
    const m = await scrape(c)
    expect(Prometheus.value(m, "agentos_mailbox_depth", { agent: "passing" })).toBeUndefined()
    // The messages it took are still counted as routed.
    expect(Prometheus.value(m, "agentos_messages_routed_total")).toBe(2)
  })
})
