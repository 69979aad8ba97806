/**
 * Virtual token counters as a pure structure: who is served next, with exact counters. Equal
 * and weighted shares of a saturated queue, the counter lift for a client that comes back
 * (no credit for idling, no starvation either), ties in arrival order, removal, and the FIFO
 * baseline's arrival order.
 */
import { describe, expect, it } from "vitest"
import { VirtualTokenCounter } from "../../src/llm/VirtualTokenCounter.ts"

/** Serves `rounds` requests from always-backlogged clients; each request costs `cost[key]`. */
const saturate = (vtc: VirtualTokenCounter<number>, cost: Record<string, number>, rounds: number) => {
  const served: Record<string, number> = Object.fromEntries(Object.keys(cost).map((k) => [k, 0]))
  for (const key of Object.keys(cost)) for (let i = 0; i < 2; i++) vtc.enqueue(key, i)
  for (let i = 0; i < rounds; i++) {
    const next = vtc.dequeue()!
    vtc.charge(next.key, cost[next.key]!)
    served[next.key]! += cost[next.key]!
    vtc.enqueue(next.key, i)
  }
  return served
}

describe("VirtualTokenCounter", () => {
  it("serves the smallest counter first, ties in arrival order", () => {
    const vtc = new VirtualTokenCounter<string>()
    vtc.enqueue("a", "a1")
    vtc.enqueue("b", "b1")
    vtc.enqueue("a", "a2")
    expect(vtc.dequeue()).toEqual({ key: "a", item: "a1" })
    vtc.charge("a", 10)
    expect(vtc.dequeue()).toEqual({ key: "b", item: "b1" })
    vtc.charge("b", 4)
    // b has nothing queued now; a is the only one backlogged.
    expect(vtc.dequeue()).toEqual({ key: "a", item: "a2" })
    expect(vtc.dequeue()).toBeUndefined()
    expect([vtc.counter("a"), vtc.counter("b")]).toEqual([10, 4])
  })

  it("gives equal-weight backlogged clients equal tokens whatever their request sizes", () => {
    const served = saturate(new VirtualTokenCounter(), { small: 10, medium: 70, large: 300 }, 3000)
    const total = served.small! + served.medium! + served.large!
    for (const tokens of Object.values(served)) expect(Math.abs(tokens - total / 3)).toBeLessThanOrEqual(300)
  })

  it("gives weights 1:2:4 shares of 1/7, 2/7, 4/7 of the tokens", () => {
    const vtc = new VirtualTokenCounter<number>()
    vtc.setWeight("w1", 1)
    vtc.setWeight("w2", 2)
    vtc.setWeight("w4", 4)
    const served = saturate(vtc, { w1: 50, w2: 50, w4: 50 }, 7000)
    const total = served.w1! + served.w2! + served.w4!
    expect(served.w1! / total).toBeCloseTo(1 / 7, 2)
    expect(served.w2! / total).toBeCloseTo(2 / 7, 2)
    expect(served.w4! / total).toBeCloseTo(4 / 7, 2)
    // Counters stay within one request of each other (in virtual tokens).
    const counters = ["w1", "w2", "w4"].map((k) => vtc.counter(k))
    expect(Math.max(...counters) - Math.min(...counters)).toBeLessThanOrEqual(50)
  })

  it("lifts a returning client to the smallest backlogged counter: no credit for idling", () => {
    const vtc = new VirtualTokenCounter<number>()
    saturate(vtc, { a: 100, b: 100 }, 100) // a and b reach 5000 each; c never asked
    expect(vtc.counter("c")).toBe(0)
    vtc.enqueue("c", 0)
    expect(vtc.counter("c")).toBe(Math.min(vtc.counter("a"), vtc.counter("b")))
    // From here the three alternate: c gets no burst to catch up on what it did not ask for.
    const served: Record<string, number> = { a: 0, b: 0, c: 0 }
    for (let i = 0; i < 30; i++) {
      const next = vtc.dequeue()!
      vtc.charge(next.key, 100)
      served[next.key]! += 100
      vtc.enqueue(next.key, i)
    }
    expect(served).toEqual({ a: 1000, b: 1000, c: 1000 })
  })

  it("never lowers a counter when lifting, and keeps credit a client has not used up", () => {
    const vtc = new VirtualTokenCounter<number>()
    vtc.enqueue("a", 1)
    vtc.charge("a", 500)
    vtc.enqueue("b", 1)
    expect(vtc.counter("b")).toBe(500)
    vtc.charge("b", 900) // b now ahead of a
    vtc.dequeue() // a (500) leaves
    vtc.enqueue("a", 2) // lifted to min backlogged = b's 1400
    expect(vtc.counter("a")).toBe(1400)
    vtc.charge("a", -1000) // a correction (estimate was too high) lowers it again
    vtc.drain("b")
    vtc.dequeue() // a leaves; nobody backlogged, a was last
    vtc.enqueue("b", 3) // b (1400) is not lowered to a's 400
    expect(vtc.counter("b")).toBe(1400)
  })

  it("lifts a client arriving at an empty queue to the last client that left it", () => {
    const vtc = new VirtualTokenCounter<number>()
    vtc.enqueue("a", 1)
    vtc.dequeue()
    vtc.charge("a", 800)
    vtc.enqueue("b", 1)
    expect(vtc.counter("b")).toBe(800)
  })

  it("skips clients the caller finds ineligible (rate limited) without losing their place", () => {
    const vtc = new VirtualTokenCounter<string>()
    vtc.enqueue("limited", "l1")
    vtc.enqueue("free", "f1")
    vtc.charge("free", 10)
    expect(vtc.dequeue((k) => k !== "limited")).toEqual({ key: "free", item: "f1" })
    expect(vtc.dequeue((k) => k !== "limited")).toBeUndefined()
    expect(vtc.dequeue()).toEqual({ key: "limited", item: "l1" })
  })

  it("removes a queued item and forgets an empty client's backlog", () => {
    const vtc = new VirtualTokenCounter<string>()
    vtc.enqueue("a", "a1")
    vtc.enqueue("a", "a2")
    vtc.enqueue("b", "b1")
    expect(vtc.remove("a", "a2")).toBe(true)
    expect(vtc.remove("a", "a2")).toBe(false)
    expect(vtc.remove("a", "a1")).toBe(true)
    expect(vtc.size).toBe(1)
    expect(vtc.queued("a")).toBe(0)
    expect(vtc.dequeue()).toEqual({ key: "b", item: "b1" })
    expect(vtc.drain("b")).toEqual([])
  })

  it("serves strictly in arrival order under the FIFO policy", () => {
    const vtc = new VirtualTokenCounter<string>({ policy: "fifo" })
    vtc.enqueue("a", "a1")
    vtc.enqueue("a", "a2")
    vtc.enqueue("b", "b1")
    vtc.charge("a", 1_000_000)
    expect([vtc.dequeue()!.item, vtc.dequeue()!.item, vtc.dequeue()!.item]).toEqual(["a1", "a2", "b1"])
  })

  it("rejects a weight that is not a positive number", () => {
    const vtc = new VirtualTokenCounter<string>()
    expect(() => vtc.setWeight("a", 0)).toThrow(RangeError)
    expect(() => vtc.setWeight("a", Number.NaN)).toThrow(RangeError)
  })
})
