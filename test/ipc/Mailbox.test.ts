/** The mailbox on its own: FIFO, bounds, blocked senders, acks and redelivery. */
import { describe, expect, it } from "vitest"
import * as Mailbox from "../../src/ipc/Mailbox.ts"

let nextId = 1
const message = (payload: unknown, bytes = 10, from = "a"): Mailbox.Message => ({ msgId: nextId++, from, payload, bytes, redelivered: false })

const drain = (box: Mailbox.Mailbox, session = 1): Array<unknown> => {
  const out: Array<unknown> = []
  for (let m = box.take(session); m !== undefined; m = box.take(session)) out.push(m.payload)
  return out
}

describe("Mailbox", () => {
  it("is FIFO: messages come out in the order offered, across its internal compaction", () => {
    const box = new Mailbox.Mailbox({ maxMessages: 10_000, maxBytes: 1e9 })
    for (let i = 0; i < 3000; i++) expect(box.offer(message(i))).toBe("queued")
    expect(box.depth).toBe(3000)
    const first = Array.from({ length: 2000 }, () => box.take(1)!.payload)
    for (let i = 3000; i < 4000; i++) box.offer(message(i))
    expect([...first, ...drain(box)]).toEqual(Array.from({ length: 4000 }, (_, i) => i))
  })

  it("refuses a message past its count or byte bound, counting messages in flight", () => {
    const box = new Mailbox.Mailbox({ maxMessages: 2, maxBytes: 100 })
    expect(box.offer(message("a"))).toBe("queued")
    expect(box.offer(message("b"))).toBe("queued")
    expect(box.offer(message("c"))).toBe("full")
    const a = box.take(1)!
    // Received but not acked: still held, still counted.
    expect(box.offer(message("c"))).toBe("full")
    expect(box.ack(a.msgId, 1)).toBe(true)
    expect(box.offer(message("c"))).toBe("queued")

    const bytes = new Mailbox.Mailbox({ maxMessages: 100, maxBytes: 100 })
    expect(bytes.offer(message("x", 60))).toBe("queued")
    expect(bytes.offer(message("y", 50))).toBe("full")
    expect(bytes.offer(message("z", 40))).toBe("queued")
    expect(bytes.usage).toEqual({ messages: 2, bytes: 100 })
  })

  it("takes a message larger than its byte bound when empty (the frame limit bounds it)", () => {
    const box = new Mailbox.Mailbox({ maxMessages: 10, maxBytes: 100 })
    expect(box.offer(message("big", 1000))).toBe("queued")
    expect(box.offer(message("small", 1))).toBe("full")
  })

  it("admits blocked senders in order as acks make room, and keeps later offers behind them", () => {
    const box = new Mailbox.Mailbox({ maxMessages: 1, maxBytes: 1000 })
    const admitted: Array<string> = []
    box.offer(message("first"))
    expect(box.offer(message("second"))).toBe("full")
    box.block({ message: message("second"), admitted: () => admitted.push("second"), refused: () => {} })
    box.block({ message: message("third"), admitted: () => admitted.push("third"), refused: () => {} })
    // A new offer may not overtake the waiting senders, even when it would fit.
    expect(box.offer(message("fourth"))).toBe("full")
    const first = box.take(1)!
    box.ack(first.msgId, 1)
    expect(admitted).toEqual(["second"])
    const second = box.take(1)!
    expect(second.payload).toBe("second")
    box.ack(second.msgId, 1)
    expect(admitted).toEqual(["second", "third"])
    expect(box.blockedSenders).toBe(0)
  })

  it("a withdrawn blocked sender is forgotten and lets the next one in", () => {
    const box = new Mailbox.Mailbox({ maxMessages: 2, maxBytes: 1000 })
    box.offer(message("a"))
    box.offer(message("b"))
    const admitted: Array<string> = []
    const withdraw = box.block({ message: message("big", 5000), admitted: () => admitted.push("big"), refused: () => {} })
    box.block({ message: message("c"), admitted: () => admitted.push("c"), refused: () => {} })
    const a = box.take(1)!
    box.ack(a.msgId, 1)
    // "big" (5000 bytes) still does not fit beside "b": it holds "c" back until withdrawn.
    expect(admitted).toEqual([])
    withdraw()
    expect(admitted).toEqual(["c"])
  })

  it("hands a message straight to a waiting receiver, in the order receivers waited", () => {
    const box = new Mailbox.Mailbox(Mailbox.defaults)
    const got: Array<string> = []
    box.await({ session: 1, deliver: (m) => got.push(`1:${m.payload}`) })
    box.await({ session: 2, deliver: (m) => got.push(`2:${m.payload}`) })
    expect(box.offer(message("x"))).toBe("delivered")
    expect(box.offer(message("y"))).toBe("delivered")
    expect(got).toEqual(["1:x", "2:y"])
    expect(box.unacked).toBe(2)
  })

  it("acks only a message in flight on the same session, once", () => {
    const box = new Mailbox.Mailbox(Mailbox.defaults)
    box.offer(message("x"))
    const x = box.take(1)!
    expect(box.ack(x.msgId, 2)).toBe(false)
    expect(box.ack(12345, 1)).toBe(false)
    expect(box.ack(x.msgId, 1)).toBe(true)
    expect(box.ack(x.msgId, 1)).toBe(false)
  })

  it("requeues what a closed session held unacked at the front, in order, marked redelivered", () => {
    const box = new Mailbox.Mailbox(Mailbox.defaults)
    for (const p of ["a", "b", "c", "d"]) box.offer(message(p))
    const a = box.take(1)!
    const b = box.take(1)!
    box.ack(a.msgId, 1)
    const c = box.take(2)!
    expect(box.requeue(1)).toBe(1)
    expect(b.redelivered).toBe(true)
    expect(c.redelivered).toBe(false)
    const next = box.take(3)!
    expect(next.payload).toBe("b")
    expect(next.redelivered).toBe(true)
    expect(drain(box, 3)).toEqual(["d"])
    expect(box.requeue(1)).toBe(0)
  })

  it("requeued messages go to a receiver already waiting (the next incarnation)", () => {
    const box = new Mailbox.Mailbox(Mailbox.defaults)
    box.offer(message("job"))
    box.take(1)
    const got: Array<Mailbox.Message> = []
    box.await({ session: 2, deliver: (m) => got.push(m) })
    box.requeue(1)
    expect(got.map((m) => [m.payload, m.redelivered])).toEqual([["job", true]])
    expect(box.depth).toBe(0)
  })

  it("close refuses every waiting sender", () => {
    const box = new Mailbox.Mailbox({ maxMessages: 1, maxBytes: 1000 })
    box.offer(message("a"))
    const refused: Array<string> = []
    box.block({ message: message("b"), admitted: () => {}, refused: () => refused.push("b") })
    box.close()
    expect(refused).toEqual(["b"])
    expect(box.blockedSenders).toBe(0)
  })
})
