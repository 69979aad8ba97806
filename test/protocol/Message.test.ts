/**
 * The protocol's messages: parseRequest must accept exactly {id: uint, op: uint, args?: any},
 * keep args as they came and report a bad request with the offending field (and the id when it
 * was valid); replies must never carry an undefined on the wire; classify must place every
 * kernel → client message.
 */
import { describe, expect, it } from "vitest"
import * as Cbor from "../../src/protocol/Cbor.ts"
import type { ErrorCode } from "../../src/protocol/ErrorCode.ts"
import * as Frame from "../../src/protocol/Frame.ts"
import * as Message from "../../src/protocol/Message.ts"
import { Op } from "../../src/protocol/Op.ts"

const isBad = (r: Message.Request | Message.BadRequest): r is Message.BadRequest => "_tag" in r

// A frame body as the kernel receives it: encoded, framed, streamed and decoded.
const overTheWire = (value: object): Frame.FrameItem => {
  const items: Array<Frame.FrameItem> = []
  const error = new Frame.FrameDecoder().push(Frame.encode(value), (item) => items.push(item))
  if (error !== undefined || items.length !== 1) throw new Error(`frame did not decode: ${error?.message}`)
  return items[0]!
}

// Every path in a decoded value that holds undefined (a CBOR undefined on the wire).
const undefinedPaths = (value: unknown, path = "$"): Array<string> => {
  if (value === undefined) return [path]
  if (Array.isArray(value)) return value.flatMap((v, i) => undefinedPaths(v, `${path}[${i}]`))
  if (value instanceof Map) return [...value].flatMap(([k, v]) => undefinedPaths(v, `${path}.get(${String(k)})`))
  if (typeof value === "object" && value !== null && !(value instanceof Uint8Array)) {
    return Object.entries(value).flatMap(([k, v]) => undefinedPaths(v, `${path}.${k}`))
  }
  return []
}

describe("parseRequest", () => {
  it("accepts {id, op} and leaves args absent, not undefined", () => {
    const r = Message.parseRequest({ id: 7, op: Op.LIST })
    expect(r).toStrictEqual({ id: 7, op: Op.LIST })
    expect("args" in r).toBe(false)
    expect(Object.keys(r)).toEqual(["id", "op"])
  })

  it("accepts id and op at the ends of their range", () => {
    expect(Message.parseRequest({ id: 0, op: 0 })).toStrictEqual({ id: 0, op: 0 })
    const max = Number.MAX_SAFE_INTEGER
    expect(Message.parseRequest({ id: max, op: Op.HEARTBEAT })).toStrictEqual({ id: max, op: Op.HEARTBEAT })
  })

  it("accepts an op outside the table: which ops exist is the kernel's business", () => {
    expect(Message.parseRequest({ id: 1, op: 0x7f })).toStrictEqual({ id: 1, op: 0x7f })
  })

  const argsCases: ReadonlyArray<readonly [string, unknown]> = [
    ["null", null],
    ["0", 0],
    ["false", false],
    ["an empty text string", ""],
    ["a text string", "héllo"],
    ["a float", -2.5],
    ["a bigint", 2n ** 64n],
    ["an empty array", []],
    ["an array", [1, "two", [3, null]]],
    ["an empty map", {}],
    ["a nested map", { a: { b: { c: [1, { d: true }] } } }],
    ["a Map with non-text keys", new Map<unknown, unknown>([[1, "one"], [2, [2]]])],
    ["a byte string", new Uint8Array([0, 1, 2, 255])],
    ["a tag", new Cbor.CborTag(32, "https://example.org")],
    ["a simple value", new Cbor.CborSimple(99)]
  ]

  it.each(argsCases)("keeps args that are %s exactly", (_, args) => {
    const r = Message.parseRequest({ id: 3, op: Op.NOOP, args })
    expect(r).toStrictEqual({ id: 3, op: Op.NOOP, args })
    expect(isBad(r) ? undefined : r.args).toBe(args)
  })

  it.each(argsCases)("keeps args that are %s exactly across the wire", (_, args) => {
    const r = Message.parseRequest(overTheWire({ id: 3, op: Op.NOOP, args }))
    expect(r).toStrictEqual({ id: 3, op: Op.NOOP, args })
  })

  it("leaves args absent across the wire when the request had none", () => {
    const r = Message.parseRequest(overTheWire({ id: 4, op: Op.TREE }))
    expect(r).toStrictEqual({ id: 4, op: Op.TREE })
    expect("args" in r).toBe(false)
  })

  // [name, item, the id the BadRequest carries, fields the message must name]
  const badCases: ReadonlyArray<readonly [string, Record<string, unknown>, number | undefined, ReadonlyArray<"id" | "op">]> = [
    ["missing id", { op: 0 }, undefined, ["id"]],
    ["id -1", { id: -1, op: 0 }, undefined, ["id"]],
    ["id 1.5", { id: 1.5, op: 0 }, undefined, ["id"]],
    ['id "1"', { id: "1", op: 0 }, undefined, ["id"]],
    ["id 2^53 (not safe)", { id: 2 ** 53, op: 0 }, undefined, ["id"]],
    ["a bigint id", { id: 1n, op: 0 }, undefined, ["id"]],
    ["id null", { id: null, op: 0 }, undefined, ["id"]],
    ["id NaN", { id: Number.NaN, op: 0 }, undefined, ["id"]],
    ["id Infinity", { id: Number.POSITIVE_INFINITY, op: 0 }, undefined, ["id"]],
    ["id true", { id: true, op: 0 }, undefined, ["id"]],
    ["id [1]", { id: [1], op: 0 }, undefined, ["id"]],
    ["missing op", { id: 5 }, 5, ["op"]],
    ['op "NOOP"', { id: 5, op: "NOOP" }, 5, ["op"]],
    ["op -1", { id: 5, op: -1 }, 5, ["op"]],
    ["op 0.5", { id: 5, op: 0.5 }, 5, ["op"]],
    ["a bigint op", { id: 5, op: 0n }, 5, ["op"]],
    ["an empty map", {}, undefined, ["id", "op"]],
    ["both wrong", { id: "x", op: "y", args: {} }, undefined, ["id", "op"]]
  ]

  it.each(badCases)("rejects %s, naming the field", (_, item, id, fields) => {
    const r = Message.parseRequest(item)
    expect(isBad(r)).toBe(true)
    if (!isBad(r)) return
    expect(r._tag).toBe("BadRequest")
    expect(r.id).toBe(id)
    for (const field of ["id", "op"] as const) {
      const named = new RegExp(`\\b${field}\\b`)
      if (fields.includes(field)) expect(r.message).toMatch(named)
      else expect(r.message).not.toMatch(named)
    }
  })

  it("rejects id 2^53 and a bigint id arriving over the wire", () => {
    for (const id of [2 ** 53, 2n ** 53n, 2n ** 64n - 1n, 2n ** 80n]) {
      const r = Message.parseRequest(overTheWire({ id, op: Op.NOOP }))
      expect(isBad(r) ? r.id : "accepted").toBeUndefined()
    }
  })

  it("rejects a Map (a map with a non-text key) without an id", () => {
    const item = new Map<unknown, unknown>([["id", 1], ["op", 0], [1, 2]])
    const r = Message.parseRequest(item)
    expect(isBad(r)).toBe(true)
    expect(isBad(r) ? r.id : "accepted").toBeUndefined()
    expect(Message.parseRequest(overTheWire(item))).toStrictEqual(r)
  })
})

describe("ok and failure", () => {
  it("ok leaves res out when undefined", () => {
    expect(Message.ok(1)).toStrictEqual({ id: 1, ok: true })
    expect(Message.ok(1, undefined)).toStrictEqual({ id: 1, ok: true })
    expect("res" in Message.ok(1, undefined)).toBe(false)
  })

  it.each([null, 0, false, "", [], {}, new Uint8Array(0)])("ok keeps res %o", (res) => {
    const reply = Message.ok(2, res)
    expect(reply).toStrictEqual({ id: 2, ok: true, res })
    expect(reply.ok ? reply.res : "failed").toBe(res)
  })

  it("failure carries the id when given", () => {
    expect(Message.failure(3, "ENOENT", 'kill "web": no such agent')).toStrictEqual({
      id: 3,
      ok: false,
      err: { code: "ENOENT", msg: 'kill "web": no such agent' }
    })
  })

  it("failure leaves id out when undefined", () => {
    const reply = Message.failure(undefined, "EINVAL", "invalid request")
    expect(reply).toStrictEqual({ ok: false, err: { code: "EINVAL", msg: "invalid request" } })
    expect("id" in reply).toBe(false)
  })

  it("failure keeps id 0", () => {
    expect(Message.failure(0, "EPERM", "no")).toStrictEqual({ id: 0, ok: false, err: { code: "EPERM", msg: "no" } })
  })

  it("protocolErrorPush is an EPROTO error push", () => {
    expect(Message.protocolErrorPush("frame length 0")).toStrictEqual({
      ev: "error",
      data: { code: "EPROTO", msg: "frame length 0" }
    })
  })

  const onTheWire: ReadonlyArray<readonly [string, object]> = [
    ["ok without res", Message.ok(1)],
    ["ok with res undefined", Message.ok(1, undefined)],
    ["ok with res null", Message.ok(1, null)],
    ["ok with a res", Message.ok(1, { pid: 42, name: "web" })],
    ["failure with id", Message.failure(9, "ETIMEDOUT", "wait: timed out")],
    ["failure without id", Message.failure(undefined, "EINVAL", "bad")],
    ["a protocol error push", Message.protocolErrorPush("bad frame")]
  ]

  it.each(onTheWire)("%s encodes with no CBOR undefined", (_, message) => {
    const decoded = Cbor.decode(Frame.encode(message).subarray(Frame.HEADER_BYTES))
    expect(undefinedPaths(decoded)).toEqual([])
    expect(decoded).toStrictEqual(message)
  })

  it("the undefined check would see one", () => {
    expect(undefinedPaths(Cbor.decode(Buffer.from("a1616ff7", "hex")))).toEqual(["$.o"])
  })
})

describe("classify", () => {
  const err = { code: "ENOENT" as ErrorCode, msg: "no such agent" }

  const cases: ReadonlyArray<readonly [string, Frame.FrameItem, Message.Incoming]> = [
    ["a reply with res", { id: 1, ok: true, res: { a: 1 } }, { _tag: "Reply", reply: { id: 1, ok: true, res: { a: 1 } } }],
    ["a reply with res null", { id: 1, ok: true, res: null }, { _tag: "Reply", reply: { id: 1, ok: true, res: null } }],
    ["a reply without res", { id: 1, ok: true }, { _tag: "Reply", reply: { id: 1, ok: true } }],
    ["an error reply with id", { id: 2, ok: false, err }, { _tag: "Reply", reply: { id: 2, ok: false, err } }],
    ["an error reply without id", { ok: false, err }, { _tag: "Reply", reply: { ok: false, err } }],
    ["a chunk", { id: 3, more: "partial" }, { _tag: "Chunk", chunk: { id: 3, more: "partial" } }],
    ["a chunk of null", { id: 3, more: null }, { _tag: "Chunk", chunk: { id: 3, more: null } }],
    ["a push", { ev: "exit", data: { name: "web", code: 0 } }, { _tag: "Push", push: { ev: "exit", data: { name: "web", code: 0 } } }],
    ["a protocol error push", { ...Message.protocolErrorPush("bad") }, { _tag: "Push", push: Message.protocolErrorPush("bad") }]
  ]

  it.each(cases)("classifies %s", (_, item, expected) => {
    expect(Message.classify(item)).toStrictEqual(expected)
  })

  it.each(cases)("classifies %s the same across the wire", (_, item, expected) => {
    expect(Message.classify(overTheWire(item))).toStrictEqual(expected)
  })

  it("leaves res out of a reply that had none", () => {
    const incoming = Message.classify({ id: 1, ok: true })
    expect(incoming._tag === "Reply" && "res" in incoming.reply).toBe(false)
  })

  it("leaves id out of an error reply that had none", () => {
    const incoming = Message.classify({ ok: false, err })
    expect(incoming._tag === "Reply" && "id" in incoming.reply).toBe(false)
  })

  it.each([
    ["an empty map", {}],
    ["an id alone", { id: 1 }],
    ["ok true without an id", { ok: true }],
    ["ok true with id -1", { id: -1, ok: true }],
    ['ok true with id "1"', { id: "1", ok: true }],
    ['ok "true"', { id: 1, ok: "true" }],
    ["ok false without err", { id: 1, ok: false }],
    ["ok false with a text err", { id: 1, ok: false, err: "ENOENT" }],
    ["ok false with a numeric code", { id: 1, ok: false, err: { code: 2, msg: "x" } }],
    ["ok false with no msg", { id: 1, ok: false, err: { code: "ENOENT" } }],
    ["more without an id", { more: 1 }],
    ["more with id 1.5", { id: 1.5, more: 1 }],
    ["a numeric ev", { ev: 1, data: {} }],
    ["a request", { id: 1, op: 0 }]
  ] as ReadonlyArray<readonly [string, Frame.FrameItem]>)("does not place %s", (_, item) => {
    expect(Message.classify(item)).toStrictEqual({ _tag: "Unknown", item })
  })

  it("does not place a Map", () => {
    const item = new Map<unknown, unknown>([[1, 2]])
    expect(Message.classify(item)).toStrictEqual({ _tag: "Unknown", item })
  })

  it("classifies what ok and failure build as the same reply", () => {
    for (const reply of [Message.ok(5), Message.ok(5, [1]), Message.failure(5, "EBUSY", "busy"), Message.failure(undefined, "EPROTO", "x")]) {
      expect(Message.classify(overTheWire(reply))).toStrictEqual({ _tag: "Reply", reply })
    }
  })
})
