/**
 * The kernel's socket server over real Unix sockets: HELLO/NOOP/LIST, ENOSYS, concurrency and
 * out-of-order replies, protocol errors closing only their own connection, per-connection
 * limits, stalled peers, socket file rules and graceful shutdown.
 */
import { Deferred, Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { Connection } from "../../src/client/Connection.ts"
import { KernelCallError } from "../../src/client/ClientError.ts"
import * as Syscall from "../../src/kernel/Syscall.ts"
import * as Cbor from "../../src/protocol/Cbor.ts"
import * as Frame from "../../src/protocol/Frame.ts"
import { Op } from "../../src/protocol/Op.ts"
import { PROTOCOL_VERSION } from "../../src/protocol/Version.ts"
import { RawConnection, startKernel, tempDir, type TestKernel } from "../support/kernel.ts"
import * as Cleanups from "../support/cleanups.ts"

// Test-only syscalls at numbers the protocol table leaves free.
const SLEEP = 0x7e
const GATE = 0x7d
const Sleep = Syscall.make(SLEEP as never, (args) =>
  Effect.sleep(`${(args as { ms: number }).ms} millis`).pipe(Effect.as(args)))
let gate = Effect.runSync(Deferred.make<void>())
const Gate = Syscall.make(GATE as never, () => Deferred.await(gate).pipe(Effect.as("opened")))
const extra: ReadonlyArray<Syscall.Syscall> = [Sleep, Gate]

const cleanups = Cleanups.perTest()

const kernel = async (options: Parameters<typeof startKernel>[0] = {}): Promise<TestKernel> => {
  const k = await startKernel(options, extra)
  cleanups.push(() => k.stop())
  return k
}
const connect = async (k: TestKernel): Promise<Connection> => {
  const c = await Connection.connect({ path: k.socketPath })
  cleanups.push(() => c.close())
  return c
}
const raw = async (k: TestKernel): Promise<RawConnection> => {
  const c = await RawConnection.open(k.socketPath)
  cleanups.push(() => c.close())
  return c
}
const codeOf = async (promise: Promise<unknown>): Promise<string> => {
  const error = await promise.then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(KernelCallError)
  return (error as KernelCallError).code
}

describe("syscalls", () => {
  it("HELLO answers who the caller and the kernel are", async () => {
    const k = await kernel({ kernelId: "ktest1" })
    const c = await connect(k)
    const hello = await c.calls.hello("tester")
    expect(hello.agent).toMatchObject({ name: "tester", kind: "client", pid: process.pid, uid: process.getuid!(), gid: process.getgid!() })
    expect(hello.kernel).toMatchObject({ id: "ktest1", protocol: PROTOCOL_VERSION, pid: process.pid })
    expect(hello.limits).toEqual({ maxFrame: Frame.DEFAULT_MAX_FRAME, maxInFlight: 1024 })
  })

  it("HELLO names a connection once: the same name again is fine, another one is EINVAL", async () => {
    const k = await kernel()
    const c = await connect(k)
    expect(await c.call(Op.HELLO, { version: PROTOCOL_VERSION, name: "first" })).toMatchObject({ agent: { name: "first" } })
    expect(await c.call(Op.HELLO, { version: PROTOCOL_VERSION, name: "first" })).toMatchObject({ agent: { name: "first" } })
    const second = await c.call(Op.HELLO, { version: PROTOCOL_VERSION, name: "second" }).catch((e: KernelCallError) => e)
    expect(second).toMatchObject({ code: "EINVAL" })
    expect((second as KernelCallError).message).toMatch(/already named "first"/)
    // Unnamed HELLO keeps the name; the connection still works.
    expect(await c.call(Op.HELLO, { version: PROTOCOL_VERSION })).toMatchObject({ agent: { name: "first" } })
  })

  it("HELLO rejects a bad version with the field named, and an unsupported one with EPROTO", async () => {
    const k = await kernel()
    const c = await connect(k)
    const bad = await c.call(Op.HELLO, { version: "1" }).catch((e: KernelCallError) => e)
    expect(bad).toMatchObject({ code: "EINVAL" })
    expect((bad as KernelCallError).message).toContain("version")
    expect(await codeOf(c.call(Op.HELLO, {}))).toBe("EINVAL")
    expect(await codeOf(c.call(Op.HELLO, { version: PROTOCOL_VERSION + 1 }))).toBe("EPROTO")
  })

  it("NOOP echoes its args exactly, whatever their type", async () => {
    const k = await kernel()
    const c = await connect(k)
    const values: Array<unknown> = [
      0, -1, 2 ** 53 - 1, -(2 ** 53 - 1), 1.5, -0.25, "", "héllo wörld ✓ 𝄞", null, true, false,
      new Uint8Array([0, 1, 254, 255]), [1, [2, [3]]], { a: { b: { c: [null, "x"] } } }, new Map<unknown, unknown>([[1, "one"], ["k", 2]])
    ]
    for (const value of values) expect(await c.call(Op.NOOP, value)).toEqual(value)
    // No args: no res.
    expect(await c.call(Op.NOOP)).toBeUndefined()
  })

  it("LIST is empty while no agent runs", async () => {
    const k = await kernel()
    const c = await connect(k)
    expect(await c.calls.list()).toEqual([])
  })

  it("answers ENOSYS for numbers outside the syscall table, and implements every number in it", async () => {
    const k = await kernel()
    const c = await connect(k)
    expect(await codeOf(c.call(0x7f))).toBe("ENOSYS")
    expect(await codeOf(c.call(0x03))).toBe("ENOSYS")
    expect(await codeOf(c.call(9999))).toBe("ENOSYS")
    // Each op of DESIGN.md's table answers for itself (bad args at worst), never ENOSYS.
    for (const op of Object.values(Op)) {
      if (op === Op.RECV) continue // a named client's RECV would wait for a message
      const code = await c.call(op, { bogus: true, timeoutMs: 0 }).then(() => "ok", (e: { code?: string }) => e.code)
      expect(code, `op ${op}`).not.toBe("ENOSYS")
    }
  })

  it("a request that is a map without a valid id or op gets EINVAL, with the id when there is one", async () => {
    const k = await kernel()
    const r = await raw(k)
    r.request({ id: 5 })
    r.request({ op: 0 })
    r.request({ id: -3, op: 0 })
    r.request({ id: 6, op: "NOOP" })
    r.request({ id: 7, op: 0, args: "still fine" })
    const items = await r.waitForItems(5)
    expect(items[0]).toMatchObject({ id: 5, ok: false, err: { code: "EINVAL" } })
    expect(items[1]).toMatchObject({ ok: false, err: { code: "EINVAL" } })
    expect(items[1]).not.toHaveProperty("id")
    expect(items[2]).not.toHaveProperty("id")
    expect(items[3]).toMatchObject({ id: 6, ok: false, err: { code: "EINVAL" } })
    expect(items[4]).toEqual({ id: 7, ok: true, res: "still fine" })
    expect(r.closed).toBe(false)
  })
})

describe("concurrency", () => {
  it("serves requests on one connection concurrently; replies come out of order", async () => {
    const k = await kernel()
    const r = await raw(k)
    r.request({ id: 1, op: SLEEP, args: { ms: 300 } })
    r.request({ id: 2, op: Op.NOOP, args: "fast" })
    const items = await r.waitForItems(2)
    expect(items.map((i) => (i as { id: number }).id)).toEqual([2, 1])
  })

  it("a slow request on one connection does not hold up another connection", async () => {
    gate = Effect.runSync(Deferred.make<void>())
    const k = await kernel()
    const a = await connect(k)
    const b = await connect(k)
    const blocked = a.call(GATE)
    expect(await b.call(Op.NOOP, "through")).toBe("through")
    Effect.runSync(Deferred.succeed(gate, undefined))
    expect(await blocked).toBe("opened")
  })

  it("past the in-flight limit a request gets EAGAIN; others still complete", async () => {
    gate = Effect.runSync(Deferred.make<void>())
    const k = await kernel({ maxInFlight: 4 })
    const c = await connect(k)
    const held = [1, 2, 3, 4].map(() => c.call(GATE))
    expect(await codeOf(c.call(Op.NOOP, 1))).toBe("EAGAIN")
    Effect.runSync(Deferred.succeed(gate, undefined))
    expect(await Promise.all(held)).toEqual(["opened", "opened", "opened", "opened"])
    expect(await c.call(Op.NOOP, 2)).toBe(2)
  })

  it("a request reusing the id of one in flight gets EINVAL", async () => {
    gate = Effect.runSync(Deferred.make<void>())
    const k = await kernel()
    const r = await raw(k)
    r.request({ id: 9, op: GATE })
    r.request({ id: 9, op: Op.NOOP })
    const [first] = await r.waitForItems(1)
    expect(first).toMatchObject({ id: 9, ok: false, err: { code: "EINVAL" } })
    Effect.runSync(Deferred.succeed(gate, undefined))
    const items = await r.waitForItems(2)
    expect(items[1]).toEqual({ id: 9, ok: true, res: "opened" })
  })

  it("200 connections stalled mid-frame do not stop a well-behaved client", async () => {
    const k = await kernel()
    const stalled: Array<RawConnection> = []
    const frame = Frame.encode({ id: 1, op: Op.NOOP, args: "x".repeat(100) })
    for (let i = 0; i < 200; i++) {
      const r = await raw(k)
      r.write(frame.subarray(0, i % 2 === 0 ? 2 : 50))
      stalled.push(r)
    }
    const c = await connect(k)
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => c.call(Op.NOOP, i)))
    expect(replies).toEqual(Array.from({ length: 100 }, (_, i) => i))
    // The stalled ones are still open and still served once they finish their frame.
    stalled[0]!.write(frame.subarray(2))
    const [reply] = await stalled[0]!.waitForItems(1)
    expect(reply).toMatchObject({ id: 1, ok: true })
  })

  it("a peer that never reads its replies is no longer read, and the kernel stays responsive", async () => {
    const k = await kernel()
    const flooder = await raw(k)
    flooder.socket.pause()
    const big = { s: "y".repeat(64 * 1024) }
    for (let i = 0; i < 400; i++) flooder.request({ id: i, op: Op.NOOP, args: big })
    const c = await connect(k)
    expect(await c.call(Op.NOOP, "ok")).toBe("ok")
    const session = k.sessions().find((s) => s.peer.pid === process.pid && s.pending === 0)
    expect(session).toBeDefined()
  })
})

describe("protocol errors", () => {
  const cases: ReadonlyArray<readonly [string, () => Uint8Array]> = [
    ["a zero length", () => Buffer.from([0, 0, 0, 0])],
    ["a length over the limit", () => Buffer.from([0xff, 0xff, 0xff, 0xff])],
    ["bytes that are not CBOR", () => Buffer.from([0, 0, 0, 1, 0xff])],
    ["two items in one frame", () => Buffer.from([0, 0, 0, 2, 0x01, 0x02])],
    ["an item that is not a map", () => {
      const body = Cbor.encode([1, 2, 3])
      return Buffer.concat([Buffer.from([0, 0, 0, body.length]), body])
    }]
  ]
  for (const [name, bytes] of cases) {
    it(`${name}: an EPROTO push, then the connection closes; others carry on`, async () => {
      const k = await kernel()
      const bystander = await connect(k)
      const r = await raw(k)
      r.write(bytes())
      await r.waitForClose()
      expect(r.items).toHaveLength(1)
      expect(r.items[0]).toMatchObject({ ev: "error", data: { code: "EPROTO" } })
      expect(await bystander.call(Op.NOOP, "alive")).toBe("alive")
    })
  }

  it("rejects an oversized length from the header alone, before the body arrives", async () => {
    const k = await kernel({ maxFrame: 1024 })
    const r = await raw(k)
    r.write(Buffer.from([0, 0, 4, 1])) // 1025 bytes announced, none sent
    await r.waitForClose()
    expect(r.items[0]).toMatchObject({ ev: "error", data: { code: "EPROTO" } })
  })
})

describe("peer credentials", () => {
  // A real process under another uid: it sends a prepared HELLO and prints what came back.
  const helloAs = async (socketPath: string, uid: number): Promise<Frame.FrameItem> => {
    const hello = Frame.encode({ id: 1, op: Op.HELLO, args: { version: PROTOCOL_VERSION } }).toString("hex")
    const script = `const net = require("net"); const c = net.connect(${JSON.stringify(socketPath)}, () => c.write(Buffer.from("${hello}", "hex")));
      let buf = Buffer.alloc(0); c.on("data", (d) => { buf = Buffer.concat([buf, d]); if (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) { process.stdout.write(buf.toString("hex")); process.exit(0) } });`
    const out = await new Promise<string>((resolve, reject) =>
      ChildProcess.execFile(process.execPath, ["-e", script], { uid, gid: uid, timeout: 10_000 }, (error, stdout) =>
        error ? reject(error) : resolve(stdout)))
    const items: Array<Frame.FrameItem> = []
    new Frame.FrameDecoder().push(Buffer.from(out, "hex"), (i) => items.push(i))
    expect(items).toHaveLength(1)
    return items[0]!
  }

  it.runIf(process.getuid?.() === 0)(`a peer whose uid is not allowed gets EPERM; an allowed one is served${process.getuid?.() === 0 ? "" : " (skipped: needs root to connect as another uid)"}`, async () => {
    const dir = tempDir()
    cleanups.push(() => dir.remove())
    Fs.chmodSync(dir.path, 0o755)
    const denied = await kernel({ socketPath: Path.join(dir.path, "denied.sock") })
    Fs.chmodSync(denied.socketPath, 0o666) // let uid 65534 reach it, to see the kernel's own check
    expect(await helloAs(denied.socketPath, 65534)).toMatchObject({ id: 1, ok: false, err: { code: "EPERM" } })

    const allowed = await kernel({ socketPath: Path.join(dir.path, "allowed.sock"), allowUids: [65534] })
    Fs.chmodSync(allowed.socketPath, 0o666)
    expect(await helloAs(allowed.socketPath, 65534)).toMatchObject({ id: 1, ok: true, res: { agent: { uid: 65534 } } })
  })
})

describe("socket file", () => {
  it("creates its directory 0700 and the socket 0600", async () => {
    const k = await kernel()
    expect(Fs.statSync(Path.dirname(k.socketPath)).mode & 0o777).toBe(0o700)
    expect(Fs.statSync(k.socketPath).mode & 0o777).toBe(0o600)
    expect(Fs.statSync(k.socketPath).isSocket()).toBe(true)
  })

  it("replaces a stale socket file left by a dead kernel", async () => {
    const dir = tempDir()
    cleanups.push(() => dir.remove())
    const path = Path.join(dir.path, "k.sock")
    // A dead kernel: a process that listened on the path and was SIGKILLed, leaving its file.
    const script = `require("net").createServer().listen(${JSON.stringify(path)}, () => process.stdout.write("up"))`
    const child = ChildProcess.spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] })
    await new Promise((resolve) => child.stdout.once("data", resolve))
    child.kill("SIGKILL")
    await new Promise((resolve) => child.once("exit", resolve))
    expect(Fs.statSync(path).isSocket()).toBe(true)
    const k = await kernel({ socketPath: path })
    const c = await connect(k)
    expect(await c.call(Op.NOOP, 1)).toBe(1)
  })

  it("refuses to start when a live kernel holds the path", async () => {
    const k = await kernel()
    await expect(startKernel({ socketPath: k.socketPath })).rejects.toThrow(/already listening on .* \(pid \d+\)/)
    const c = await connect(k)
    expect(await c.call(Op.NOOP, "first kernel unharmed")).toBe("first kernel unharmed")
  })

  it("refuses to replace a path that is not a socket", async () => {
    const dir = tempDir()
    cleanups.push(() => dir.remove())
    const path = Path.join(dir.path, "not-a-socket")
    Fs.writeFileSync(path, "precious")
    await expect(startKernel({ socketPath: path })).rejects.toThrow(/not a socket/)
    expect(Fs.readFileSync(path, "utf8")).toBe("precious")
  })
})

describe("shutdown", () => {
  it("lets in-flight replies finish, then closes connections and removes the socket file", async () => {
    const k = await startKernel({}, extra)
    const c = await Connection.connect({ path: k.socketPath })
    const slow = c.call(SLEEP, { ms: 200 })
    await new Promise((resolve) => setTimeout(resolve, 20))
    const stopping = k.stop()
    expect(await slow).toEqual({ ms: 200 })
    await stopping
    await c.closed
    expect(Fs.existsSync(k.socketPath)).toBe(false)
  })

  it("does not wait past the grace period for a reply that never comes", async () => {
    gate = Effect.runSync(Deferred.make<void>())
    const k = await startKernel({ shutdownGraceMs: 100 }, extra)
    const c = await Connection.connect({ path: k.socketPath })
    const stuck = c.call(GATE).catch((e: Error) => e)
    await new Promise((resolve) => setTimeout(resolve, 20))
    await k.stop()
    expect(await stuck).toMatchObject({ _tag: "ConnectionError" })
  })
})
