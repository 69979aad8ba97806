/**
 * Messages arrive exactly as sent: a real kernel carries SEND's payload and NOOP's args as the
 * bytes the client wrote, so every client gets back its own types. Frames are written by hand
 * (non-preferred encodings, indefinite lengths, floats with integral values, undefined in a map)
 * and read with the kernel's bytes kept; the TypeScript SDK's values go through too. A payload
 * that is well-formed but not valid is EINVAL at SEND and never reaches the receiver.
 */
import { describe, expect, it } from "vitest"
import { Connection } from "../../src/client/Connection.ts"
import * as Cbor from "../../src/protocol/Cbor.ts"
import * as Frame from "../../src/protocol/Frame.ts"
import { Op } from "../../src/protocol/Op.ts"
import { PROTOCOL_VERSION } from "../../src/protocol/Version.ts"
import { RawConnection, startKernel, type TestKernel } from "../support/kernel.ts"
import { bytesOf, hexOf, vectors, wellFormedButInvalid } from "../support/cborVectors.ts"
import * as Cleanups from "../support/cleanups.ts"

/** Encodings a re-encoding kernel would change: non-preferred, indefinite, integral floats, undefined kept. */
const NOT_PREFERRED: ReadonlyArray<readonly [string, string]> = [
  ["1.0 as a double", "fb3ff0000000000000"],
  ["1.0 as a single", "fa3f800000"],
  ["1.0 as a half", "f93c00"],
  ["{price: 1.0}", "a1657072696365f93c00"],
  ["0 in two bytes", "1800"],
  ["500 in eight bytes", "1b00000000000001f4"],
  ["an indefinite array", "9f0102ff"],
  ["an indefinite byte string", "5f41014102ff"],
  ["an indefinite text string in chunks", "7f61616162ff"],
  ["an indefinite map", "bf6161f7ff"],
  ["{j: undefined}", "a1616af7"],
  ["a bignum with a leading zero byte", "c2420001"],
  ["an epoch-time tag on a float", "c1fb41d452d9ec200000"],
  ["simple(255)", "f8ff"],
  ["-0.0 as a double", "fb8000000000000000"],
  ["NaN as a double with a payload", "fb7ff8000000000001"]
]


/** A CBOR map of text keys to values already encoded, written as given. */
const mapOf = (entries: ReadonlyArray<readonly [string, Uint8Array]>): Uint8Array =>
  Buffer.concat([Uint8Array.of(0xa0 + entries.length), ...entries.flatMap(([k, v]) => [Cbor.encode(k), v])])

const frameOf = (body: Uint8Array): Buffer => {
  const header = Buffer.alloc(4)
  header.writeUInt32BE(body.length)
  return Buffer.concat([header, body])
}

/** A request frame whose args are the given bytes, verbatim. */
const request = (id: number, op: number, args?: Uint8Array): Buffer =>
  frameOf(mapOf([["id", Cbor.encode(id)], ["op", Cbor.encode(op)], ...(args === undefined ? [] : [["args", args] as const])]))

const sendArgs = (to: string, payload: Uint8Array): Uint8Array => mapOf([["to", Cbor.encode(to)], ["payload", payload]])

const cleanups = Cleanups.perTest()

const kernel = async (): Promise<TestKernel> => {
  const k = await startKernel()
  cleanups.push(() => k.stop())
  return k
}

const open = async (k: TestKernel, keep?: Cbor.Keep): Promise<RawConnection> => {
  const c = await RawConnection.open(k.socketPath, keep)
  cleanups.push(() => c.close())
  return c
}

let nextId = 1

/** Writes a request and waits for its reply. */
const call = async (c: RawConnection, op: number, args?: Uint8Array): Promise<Record<string, unknown>> => {
  const id = nextId++
  c.write(request(id, op, args))
  return await reply(c, id)
}

const reply = async (c: RawConnection, id: number): Promise<Record<string, unknown>> => {
  for (let seen = 0; ; seen = c.items.length) {
    const found = c.items.find((i) => !(i instanceof Map) && i.id === id && "ok" in i)
    if (found !== undefined) return found as Record<string, unknown>
    if (c.closed) throw new Error(`no reply to request ${id}: the connection closed`)
    await c.waitForItems(seen + 1, 10_000)
  }
}

/** Opens a connection that names itself at HELLO (it has a mailbox by that name). */
const named = async (k: TestKernel, name: string, keep?: Cbor.Keep): Promise<RawConnection> => {
  const c = await open(k, keep)
  const hello = await call(c, Op.HELLO, Cbor.encode({ version: PROTOCOL_VERSION, name }))
  expect(hello.ok).toBe(true)
  return c
}

const valid = vectors.filter((v) => v.error === undefined)
const depthOf = (hex: string): number => new Cbor.Raw(bytesOf(hex)).depth
const invalidOnly = vectors.filter(wellFormedButInvalid)

describe("NOOP echoes its args byte for byte", () => {
  it("every valid shared vector and every non-preferred encoding; nesting over MAX_DEPTH is EINVAL", async () => {
    const k = await kernel()
    const c = await open(k, { res: true })
    const cases = [...valid.map((v) => [v.name, v.hex] as const), ...NOT_PREFERRED]
    expect(cases.length).toBeGreaterThan(120)
    for (const [name, hex] of cases) {
      const r = await call(c, Op.NOOP, bytesOf(hex))
      if (depthOf(hex) >= Cbor.MAX_DEPTH) {
        // Valid alone, one level too deep as args.
        expect(r, name).toMatchObject({ ok: false, err: { code: "EINVAL" } })
        continue
      }
      expect(r.ok, name).toBe(true)
      expect(hexOf((r.res as Cbor.Raw).bytes), name).toBe(hex)
    }
  })

  it("args that are well-formed but not valid are EINVAL for that request; the connection goes on", async () => {
    const k = await kernel()
    const c = await open(k)
    for (const v of invalidOnly) {
      const r = await call(c, Op.NOOP, bytesOf(v.hex))
      expect(r, v.name).toMatchObject({ ok: false, err: { code: "EINVAL", msg: expect.stringMatching(/^invalid args: decoding CBOR at byte \d+: /) } })
    }
    expect(await call(c, Op.NOOP, Cbor.encode("still here"))).toMatchObject({ ok: true, res: "still here" })
  })
})

describe("SEND's payload reaches RECV byte for byte", () => {
  it("every valid shared vector and every non-preferred encoding, in order", async () => {
    const k = await kernel()
    const a = await named(k, "exact-a")
    const b = await named(k, "exact-b", { res: { payload: true } })
    const cases = [...valid.map((v) => [v.name, v.hex] as const), ...NOT_PREFERRED].filter(([, hex]) => depthOf(hex) <= Cbor.MAX_DEPTH - 2)
    expect(cases.length).toBeGreaterThan(120)
    for (const [name, hex] of cases) expect((await call(a, Op.SEND, sendArgs("exact-b", bytesOf(hex)))).ok, name).toBe(true)
    for (const [name, hex] of cases) {
      const r = await call(b, Op.RECV, Cbor.encode({ timeoutMs: 5000 }))
      expect(r.ok, name).toBe(true)
      const res = r.res as { msgId: number; from: string; payload: Cbor.Raw }
      expect(res.from).toBe("exact-a")
      expect(hexOf(res.payload.bytes), name).toBe(hex)
      expect((await call(b, Op.ACK, Cbor.encode({ msgId: res.msgId }))).ok).toBe(true)
    }
  })

  it("the deepest payload a RECV reply can carry is delivered and decodes at the receiver; one level more is EINVAL at SEND", async () => {
    const k = await kernel()
    const a = await named(k, "deep-a")
    const b = await named(k, "deep-b")
    const deepest = `${"81".repeat(Cbor.MAX_DEPTH - 2)}00`
    expect((await call(a, Op.SEND, sendArgs("deep-b", bytesOf(`81${deepest}`)))).err).toMatchObject({ code: "EINVAL" })
    expect((await call(a, Op.SEND, sendArgs("deep-b", bytesOf(deepest)))).ok).toBe(true)
    // b decodes the whole reply as any client would.
    const r = await call(b, Op.RECV, Cbor.encode({ timeoutMs: 5000 }))
    expect(r.ok).toBe(true)
    expect(hexOf(Cbor.encode((r.res as { payload: unknown }).payload))).toBe(deepest)
  })

  it("a payload that is not valid is EINVAL at SEND, with its id; the receiver never sees it", async () => {
    const k = await kernel()
    const a = await named(k, "bad-a")
    const b = await named(k, "bad-b")
    const bad = [...invalidOnly.map((v) => [v.name, v.hex] as const), ["300 nested arrays", `${"81".repeat(300)}00`] as const]
    for (const [name, hex] of bad) {
      const r = await call(a, Op.SEND, sendArgs("bad-b", bytesOf(hex)))
      expect(r, name).toMatchObject({ ok: false, err: { code: "EINVAL", msg: expect.stringMatching(/invalid (args|payload): decoding CBOR at byte \d+: /) } })
      expect(typeof r.id).toBe("number")
    }
    expect(k.router.mailbox("bad-b")?.depth ?? 0).toBe(0)
    expect(await call(b, Op.RECV, Cbor.encode({ timeoutMs: 0 }))).toMatchObject({ ok: false, err: { code: "ETIMEDOUT" } })
    // The sender's connection goes on.
    expect((await call(a, Op.SEND, sendArgs("bad-b", Cbor.encode("fine")))).ok).toBe(true)
    expect(await call(b, Op.RECV, Cbor.encode({ timeoutMs: 5000 }))).toMatchObject({ ok: true, res: { payload: "fine" } })
  })

  it("a payload that is not well-formed breaks its frame: EPROTO and the connection closes, as for any such frame", async () => {
    const k = await kernel()
    const a = await named(k, "broken-a")
    await named(k, "broken-b")
    a.write(request(nextId++, Op.SEND, sendArgs("broken-b", bytesOf("a16161")))) // a map missing its value
    await a.waitForClose()
    expect(a.items.at(-1)).toMatchObject({ ev: "error", data: { code: "EPROTO" } })
    expect(k.router.mailbox("broken-b")?.depth ?? 0).toBe(0)
  })
})

describe("whatever order a client writes a request's keys in", () => {
  /** {args, op, id}: the args come before the op that says how to read them. */
  const backwards = (id: number, op: number, args: Uint8Array): Buffer =>
    frameOf(mapOf([["args", args], ["op", Cbor.encode(op)], ["id", Cbor.encode(id)]]))

  it("args before the op are kept whole and read at dispatch: NOOP and SEND stay exact, bad args EINVAL", async () => {
    const k = await kernel()
    const a = await named(k, "order-a", { res: true })
    const b = await named(k, "order-b", { res: { payload: true } })
    const id = nextId++
    a.write(backwards(id, Op.NOOP, bytesOf("fb3ff0000000000000")))
    expect(hexOf(((await reply(a, id)).res as Cbor.Raw).bytes)).toBe("fb3ff0000000000000")
    const sent = nextId++
    a.write(backwards(sent, Op.SEND, sendArgs("order-b", bytesOf("a1616af7"))))
    expect((await reply(a, sent)).ok).toBe(true)
    const r = await call(b, Op.RECV, Cbor.encode({ timeoutMs: 5000 }))
    expect(hexOf((r.res as { payload: Cbor.Raw }).payload.bytes)).toBe("a1616af7")
    const bad = nextId++
    a.write(backwards(bad, Op.SEND, sendArgs("order-b", bytesOf("61ff"))))
    expect(await reply(a, bad)).toMatchObject({ ok: false, err: { code: "EINVAL" } })
    const unknown = nextId++
    a.write(backwards(unknown, 0x7e, bytesOf("01")))
    expect(await reply(a, unknown)).toMatchObject({ ok: false, err: { code: "ENOSYS" } })
  })

  it("a SEND whose `to` is not valid UTF-8 is EINVAL for its args, not the end of the connection", async () => {
    const k = await kernel()
    const a = await named(k, "to-a")
    const r = await call(a, Op.SEND, mapOf([["to", bytesOf("61ff")], ["payload", Cbor.encode(1)]]))
    expect(r).toMatchObject({ ok: false, err: { code: "EINVAL", msg: expect.stringMatching(/^invalid args: decoding CBOR/) } })
    expect(await call(a, Op.NOOP, Cbor.encode("on"))).toMatchObject({ ok: true, res: "on" })
  })
})

describe("the TypeScript SDK's values", () => {
  // What JS can say: -0, NaN, half floats, tags, bignums, undefined in an array, simple values;
  // and, through a Cbor.Raw, any bytes at all (a float with an integral value).
  const values: ReadonlyArray<readonly [string, unknown]> = [
    ["-0", -0],
    ["NaN", NaN],
    ["a half float", 1.5],
    ["a single float", 100000.5],
    ["a tag", new Cbor.CborTag(1, 1363896240.5)],
    ["a bignum", 2n ** 70n],
    ["a negative bignum", -(2n ** 70n)],
    ["undefined in an array", [undefined, null, 1]],
    ["simple values", [new Cbor.CborSimple(0), new Cbor.CborSimple(255)]],
    ["1.0 as a double, through a Raw", new Cbor.Raw(bytesOf("fb3ff0000000000000"))],
    ["{price: 1.0}, through a Raw", new Cbor.Raw(bytesOf("a1657072696365f93c00"))]
  ]

  it("arrive as the SDK wrote them, and decode to the same values", async () => {
    const k = await kernel()
    const sdk = await Connection.connect({ path: k.socketPath })
    cleanups.push(() => sdk.close())
    await sdk.calls.hello("ts-sender")
    const b = await named(k, "ts-raw", { res: { payload: true } })
    const c = await Connection.connect({ path: k.socketPath })
    cleanups.push(() => c.close())
    await c.calls.hello("ts-values")
    for (const [, value] of values) {
      await sdk.calls.send("ts-raw", value)
      await sdk.calls.send("ts-values", value)
    }
    for (const [name, value] of values) {
      const r = await call(b, Op.RECV, Cbor.encode({ timeoutMs: 5000 }))
      expect(hexOf((r.res as { payload: Cbor.Raw }).payload.bytes), name).toBe(hexOf(Cbor.encode(value)))
      const got = await c.calls.recv(5000)
      await c.calls.ack(got.msgId)
      expect(got.payload, name).toEqual(value instanceof Cbor.Raw ? Cbor.decode(value.bytes) : value)
      if (Object.is(value, -0)) expect(Object.is(got.payload, -0)).toBe(true)
    }
  })

  it("NOOP gives the SDK back what it sent", async () => {
    const k = await kernel()
    const sdk = await Connection.connect({ path: k.socketPath })
    cleanups.push(() => sdk.close())
    for (const [name, value] of values) {
      const echoed = await sdk.call(Op.NOOP, value)
      expect(echoed, name).toEqual(value instanceof Cbor.Raw ? Cbor.decode(value.bytes) : value)
    }
  })
})

describe("the frame codec keeps a request's args as bytes only when asked", () => {
  it("Frame.FrameDecoder with Message.requestKeep gives a Raw; without, values", () => {
    const frame = request(1, Op.NOOP, bytesOf("f93c00"))
    const kept: Array<Frame.FrameItem> = []
    new Frame.FrameDecoder(Frame.DEFAULT_MAX_FRAME, { args: true }).push(frame, (i) => kept.push(i))
    expect(hexOf(((kept[0] as Record<string, unknown>).args as Cbor.Raw).bytes)).toBe("f93c00")
    const built: Array<Frame.FrameItem> = []
    new Frame.FrameDecoder().push(frame, (i) => built.push(i))
    expect((built[0] as Record<string, unknown>).args).toBe(1)
  })
})
