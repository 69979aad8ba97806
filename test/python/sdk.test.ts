/**
 * The Python SDK (agents/python/agentos.py) from the outside: its codec's and client's unit tests
 * (python3 -m unittest), random values crossing the two codecs in both directions byte for byte,
 * and Python agents against a real kernel, over the socket path and over an inherited fd 3,
 * including the examples. Every child process, kernel and fd is released in afterEach.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { connect } from "../../src/client/Agent.ts"
import { Connection } from "../../src/client/Connection.ts"
import * as Capabilities from "../../src/process/Capabilities.ts"
import * as PeerCredentials from "../../src/sandbox/PeerCredentials.ts"
import * as Cbor from "../../src/protocol/Cbor.ts"
import { Op } from "../../src/protocol/Op.ts"
import { PROTOCOL_VERSION } from "../../src/protocol/Version.ts"
import { RawConnection, startKernel, type TestKernel } from "../support/kernel.ts"
import * as Cleanups from "../support/cleanups.ts"
import * as Machine from "../support/machine.ts"
import { prng } from "../support/prng.ts"
import { until } from "../support/until.ts"

const HERE = import.meta.dirname
const EXAMPLES = Path.resolve(HERE, "../../agents/python/examples")

// ---------------------------------------------------------------------------------------------
// Processes and kernels, all released after each test
// ---------------------------------------------------------------------------------------------

const cleanups = Cleanups.perTest()

/** A kernel; agents it spawns are not about isolation here (but fault isolation's), so the plain launcher where they cannot be sandboxed. */
const kernel = async (launcher: Machine.TestLauncher = Machine.launcher): Promise<TestKernel> => {
  const k = await startKernel({}, [], undefined, launcher)
  cleanups.push(() => k.stop())
  return k
}

interface Ran {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

interface RunOptions {
  readonly env?: Readonly<Record<string, string>>
  readonly input?: string
  /** A raw fd to hand the child as its fd 3. */
  readonly fd3?: number
  readonly cwd?: string
  readonly timeoutMs?: number
}

/** The environment without any AgentOS variables of the process running the tests. */
const cleanEnv = (): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith("AGENTOS_")) env[key] = value
  }
  // No __pycache__ left in the source tree.
  env.PYTHONDONTWRITEBYTECODE = "1"
  return env
}

/** Runs python3 to completion; it is SIGKILLed if the test ends first or it runs too long. */
const python = (args: ReadonlyArray<string>, options: RunOptions = {}): Promise<Ran> =>
  new Promise((resolve, reject) => {
    const stdio: Array<"pipe" | "ignore" | number> = [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"]
    if (options.fd3 !== undefined) stdio.push(options.fd3)
    const child = ChildProcess.spawn("python3", [...args], {
      cwd: options.cwd ?? HERE,
      env: { ...cleanEnv(), ...options.env },
      stdio
    })
    let done = false
    cleanups.push(() => {
      if (!done) child.kill("SIGKILL")
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000)
    let stdout = ""
    let stderr = ""
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d))
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    child.on("error", (e) => {
      done = true
      clearTimeout(timer)
      reject(e)
    })
    child.on("close", (code, signal) => {
      done = true
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
    if (options.input !== undefined) child.stdin!.end(options.input)
  })

/** Runs python3 and expects exit 0, showing its output otherwise. */
const pythonOk = async (args: ReadonlyArray<string>, options: RunOptions = {}): Promise<string> => {
  const ran = await python(args, options)
  expect(ran.code, `python3 ${args.join(" ")}\n--- stdout\n${ran.stdout}\n--- stderr\n${ran.stderr}`).toBe(0)
  return ran.stdout
}

/** A socketpair whose kernel end the kernel serves (as an agent's, with `agent` its identity). */
const adoptedPair = async (k: TestKernel, agent?: Parameters<TestKernel["adopt"]>[2]): Promise<number> => {
  const [kernelEnd, agentEnd] = PeerCredentials.socketPair()
  cleanups.push(() => {
    try {
      PeerCredentials.closeFd(agentEnd)
    } catch {}
  })
  await k.adopt(
    new Net.Socket({ fd: kernelEnd, readable: true, writable: true }),
    { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() },
    agent
  )
  return agentEnd
}

const hexLines = (text: string): Array<string> => text.split("\n").filter((l) => l !== "")
const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex")

// ---------------------------------------------------------------------------------------------
// Random values on the TypeScript side (mulberry32, so a failure replays from its seed)
// ---------------------------------------------------------------------------------------------


const TEXT = [..."abcxyzAZ09 _-.é水😀\u00ff\u07ff\u0800\uffff\u{10000}\u{10ffff}"]
const KEY_START = [..."abcdefghijklmnopqrstuvwxyzABCXYZé水_$"]

const randomJs = (rng: () => number, depth = 0): unknown => {
  const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(rng() * xs.length)]!
  const text = (n: number) => Array.from({ length: n }, () => pick(TEXT)).join("")
  // Never an array index ("0", "17"): JS objects put those first.
  const key = () => (rng() < 0.03 ? "__proto__" : pick(KEY_START) + text(pick([0, 1, 3, 8])))
  const int = (): number | bigint => {
    const bits = pick([4, 8, 16, 32, 52, 53, 60, 64, 65, 100, 300])
    let n = 0n
    for (let i = 0; i < bits; i += 16) n = (n << 16n) | BigInt(Math.floor(rng() * 65536))
    n &= (1n << BigInt(bits)) - 1n
    const signed = rng() < 0.5 ? -1n - n : n
    return signed >= -BigInt(Number.MAX_SAFE_INTEGER) && signed <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(signed) : signed
  }
  const float = (): number => {
    const kind = Math.floor(rng() * 4)
    if (kind === 0) return pick([NaN, Infinity, -Infinity, -0, 0.5, -1.5, 65504.5, 1e300])
    const view = new DataView(new ArrayBuffer(8))
    if (kind === 1) view.setFloat32(0, Math.fround((rng() - 0.5) * 2 ** Math.floor(rng() * 60 - 30)))
    else for (let i = 0; i < 8; i++) view.setUint8(i, Math.floor(rng() * 256))
    const v = kind === 1 ? view.getFloat32(0) : view.getFloat64(0)
    return Number.isSafeInteger(v) ? v + 0.25 : v
  }
  const leaf = depth >= 4 || rng() < 0.55
  switch (pick(leaf ? ["int", "float", "text", "bytes", "const", "simple", "tag"] : ["array", "object", "map", "tag"])) {
    case "int":
      return int()
    case "float":
      return float()
    case "text":
      return text(pick([0, 1, 5, 24, 100]))
    case "bytes":
      return Uint8Array.from({ length: pick([0, 1, 24, 256]) }, () => Math.floor(rng() * 256))
    case "const":
      return pick([null, true, false])
    case "simple":
      return new Cbor.CborSimple(pick([0, 7, 19, 32, 200, 255]))
    case "tag":
      return new Cbor.CborTag(pick<number | bigint>([0, 1, 5, 32, 55799, 2 ** 40, 2n ** 64n - 1n]), randomJs(rng, depth + 1))
    case "array":
      return Array.from({ length: pick([0, 1, 3, 25]) }, () => (rng() < 0.05 ? undefined : randomJs(rng, depth + 1)))
    case "object":
      return Object.fromEntries(Array.from({ length: pick([0, 1, 4, 12]) }, () => [key(), randomJs(rng, depth + 1)]))
    default: {
      // A Map with keys of every kind, none equal to another (Python could not hold both); the
      // first is never text, else an all-text Map would decode as a plain object.
      const map = new Map<unknown, unknown>()
      const seen = new Set<string>()
      for (let i = pick([1, 3, 8]); i > 0; i--) {
        const kinds = [int, () => Math.floor(rng() * 1000) + 0.5, () => [int(), int()], key]
        const k = pick<() => unknown>(map.size === 0 ? kinds.slice(0, 3) : kinds)()
        const id = typeof k === "object" ? `a${String(k)}` : `${typeof k === "bigint" ? "n" : typeof k}${String(k)}`
        if (seen.has(id)) continue
        seen.add(id)
        map.set(k, randomJs(rng, depth + 1))
      }
      return map
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The codec
// ---------------------------------------------------------------------------------------------

describe("the Python codec", () => {
  it("passes its unit tests: every shared vector decoded or refused, the marked ones encoded exactly", async () => {
    const ran = await python(["-m", "unittest", "-v", "test_codec"])
    expect(ran.code, ran.stderr).toBe(0)
    expect(ran.stderr).toMatch(/Ran \d+ tests/)
    expect(ran.stderr).toMatch(/\nOK\n/)
  })

  for (const seed of [20240601, 7]) {
    it(`random values from Python (seed ${seed}) come back byte-identical through the kernel's codec`, async () => {
      const count = 400
      const generated = hexLines(await pythonOk(["roundtrip.py", "generate", String(seed), String(count)]))
      expect(generated).toHaveLength(count)
      const reencoded = generated.map((hex) => hexOf(Cbor.encode(Cbor.decode(Buffer.from(hex, "hex")))))
      const verdict = JSON.parse(
        await pythonOk(["roundtrip.py", "verify", String(seed), String(count)], { input: reencoded.join("\n") })
      )
      expect(verdict).toEqual({ checked: count, problems: [] })
    })
  }

  it("random values from the kernel's codec come back byte-identical through Python", async () => {
    const rng = prng(99)
    const values = Array.from({ length: 400 }, () => randomJs(rng))
    const encoded = values.map((v) => hexOf(Cbor.encode(v)))
    const back = hexLines(await pythonOk(["roundtrip.py", "reencode"], { input: encoded.join("\n") }))
    expect(back).toHaveLength(values.length)
    for (let i = 0; i < values.length; i++) {
      expect(back[i], `value ${i}`).toBe(encoded[i])
      expect(Cbor.decode(Buffer.from(back[i]!, "hex")), `value ${i}`).toEqual(values[i])
    }
  })

  it("refuses what the kernel's codec refuses, for the same reasons", async () => {
    // Garbage from a fixed seed: wherever the kernel's codec throws, Python must too, same reason.
    const rng = prng(5)
    const inputs = Array.from({ length: 2000 }, () =>
      Uint8Array.from({ length: 1 + Math.floor(rng() * 12) }, () => Math.floor(rng() * 256))
    )
    const back = hexLines(await pythonOk(["roundtrip.py", "reencode"], { input: inputs.map(hexOf).join("\n") }))
    expect(back).toHaveLength(inputs.length)
    let refused = 0
    inputs.forEach((input, i) => {
      let expected: string
      try {
        expected = hexOf(Cbor.encode(Cbor.decode(input)))
      } catch (e) {
        refused++
        expected = `ERROR ${(e as Cbor.CborError).reason}`
      }
      const got = back[i]!.startsWith("ERROR") ? back[i]!.split(" ").slice(0, 2).join(" ") : back[i]
      expect(got, `input ${hexOf(input)}`).toBe(expected)
    })
    expect(refused).toBeGreaterThan(500)
  })
})

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

describe("the Python client", () => {
  it("passes its unit tests against a scripted kernel (out-of-order replies, pushes, timeouts, threads)", async () => {
    const ran = await python(["-m", "unittest", "-v", "test_client"])
    expect(ran.code, ran.stderr).toBe(0)
    expect(ran.stderr).toMatch(/\nOK\n/)
  })
})

// ---------------------------------------------------------------------------------------------
// A real kernel
// ---------------------------------------------------------------------------------------------

interface Outcome {
  readonly ok: boolean
  readonly code?: string
  readonly message?: string
}

interface E2e {
  readonly hello: { agent: Record<string, unknown>; protocol: number; limits: Record<string, number> }
  readonly echoes: Array<number>
  readonly echoCount: number
  readonly noopWithoutArgs: string
  readonly pipelined: boolean
  readonly threads: Array<string>
  readonly list: { type: string; rows: Array<Record<string, unknown>> }
  readonly unknownOp: Outcome
  readonly tree: Outcome
  readonly think: { content: string; tokens: number; error: string | null; model: unknown; usage: unknown }
  readonly spawnBadArgs: Outcome
  readonly statMissing: Outcome
  readonly helloBadVersion: Outcome
  readonly stillAlive: string
}

/** THINK's answer, the same shape as every other SDK's: the offline model answers. */
const expectThink = (think: E2e["think"]): void => {
  expect(Object.keys(think).sort()).toEqual(["content", "error", "model", "tokens", "usage"])
  expect(think.error).toBeNull()
  expect(typeof think.content).toBe("string")
  expect((think.content as string).length).toBeGreaterThan(0)
  expect(think.tokens).toBeGreaterThan(0)
}

describe("Python agents under a real kernel", () => {
  it("over the socket path: HELLO, NOOP echoes of every kind, pipelined and threaded calls, LIST, errors", async () => {
    const k = await kernel()
    const out: E2e = JSON.parse(await pythonOk(["e2e_agent.py", "py-e2e"], { env: { AGENTOS_SOCKET: k.socketPath } }))
    expect(out.hello.agent).toMatchObject({ name: "py-e2e", kind: "client", pid: expect.any(Number) })
    expect(out.hello.protocol).toBe(1)
    expect(out.hello.limits).toEqual({ maxFrame: 16 * 1024 * 1024, maxInFlight: 1024 })
    expect(out.echoCount).toBeGreaterThan(30)
    expect(out.echoes).toEqual([])
    expect(out.noopWithoutArgs).toBe("None")
    expect(out.pipelined).toBe(true)
    expect(out.threads).toEqual([])
    expect(out.list.type).toBe("list")
    expect(out.unknownOp).toMatchObject({ ok: false, code: "ENOSYS", message: expect.stringContaining("0x7f") })
    expect(out.tree.ok).toBe(true)
    expectThink(out.think)
    expect(out.spawnBadArgs).toMatchObject({ ok: false, code: "EINVAL" })
    expect(out.statMissing).toMatchObject({ ok: false, code: "ENOENT" })
    expect(out.helloBadVersion).toMatchObject({ ok: false, code: "EPROTO" })
    expect(out.stillAlive).toBe("after errors")
  })

  it("over an inherited fd 3 (AGENTOS_FD=3), never touching the socket path", async () => {
    const k = await kernel()
    const agentEnd = await adoptedPair(k)
    const out: E2e = JSON.parse(await pythonOk(["e2e_agent.py"], {
      env: { AGENTOS_FD: "3", AGENTOS_SOCKET: "/nonexistent/must-not-be-used.sock" },
      fd3: agentEnd
    }))
    expect(out.hello.agent).toMatchObject({ kind: "agent" })
    expect(out.echoes).toEqual([])
    expect(out.pipelined).toBe(true)
    expect(out.threads).toEqual([])
    expect(out.unknownOp).toMatchObject({ ok: false, code: "ENOSYS" })
    expectThink(out.think)
  })

  it("over fd 3 as a named agent with the default caps: its name from the kernel, EPERM beyond its caps", async () => {
    const k = await kernel()
    const agentEnd = await adoptedPair(k, { id: "a42", name: "py-fd3", caps: Capabilities.grant([]) })
    const out: E2e = JSON.parse(await pythonOk(["e2e_agent.py", "a-name-the-kernel-ignores"], {
      env: { AGENTOS_FD: "3", AGENTOS_NAME: "py-fd3" },
      fd3: agentEnd
    }))
    expect(out.hello.agent).toMatchObject({ name: "py-fd3", kind: "agent" })
    expect(out.list.type).toBe("list")
    expect(out.unknownOp).toMatchObject({ ok: false, code: "EPERM" })
    expect(out.tree).toMatchObject({ ok: false, code: "EPERM" })
    expect(out.spawnBadArgs).toMatchObject({ ok: false, code: "EPERM" })
    expect(out.statMissing).toMatchObject({ ok: false, code: "EPERM" })
    expectThink(out.think)
    expect(out.stillAlive).toBe("after errors")
  })

  it("reports a kernel that is not there with ENOENT, naming the path", async () => {
    const ran = await python(["-c", "import support, agentos\ntry:\n  agentos.connect()\nexcept agentos.AgentOSError as e:\n  print(e.code, e.message)"], {
      env: { AGENTOS_SOCKET: "/nonexistent/agentos/kernel.sock" }
    })
    expect(ran.stdout).toMatch(/^ENOENT connecting to the kernel at \/nonexistent\/agentos\/kernel\.sock: no kernel socket there/)
  })
})

// ---------------------------------------------------------------------------------------------
// Messages arrive exactly as sent (test/python/exact_agent.py)
// ---------------------------------------------------------------------------------------------

describe("messages arrive exactly as sent, to and from Python", () => {
  it("Python to Python: floats with integral values stay floats, -0.0, NaN, half floats, tags, bignums, undefined, simple values, through SEND/RECV and NOOP", async () => {
    const k = await kernel()
    const out = JSON.parse(await pythonOk(["exact_agent.py", "pair"], { env: { AGENTOS_SOCKET: k.socketPath } })) as {
      count: number
      mismatched: Array<number>
      echoMismatched: Array<number>
    }
    expect(out.count).toBeGreaterThan(130)
    expect(out.mismatched).toEqual([])
    expect(out.echoMismatched).toEqual([])
  })

  it("Python to a TypeScript receiver: the bytes Python's codec wrote, unchanged", async () => {
    const k = await kernel()
    // The receiver reads through a connection that keeps the payload's bytes.
    const raw = await RawConnection.open(k.socketPath, { res: { payload: true } })
    cleanups.push(() => raw.close())
    raw.request({ id: 1, op: Op.HELLO, args: { version: PROTOCOL_VERSION, name: "ts-exact" } })
    expect((await raw.waitForItems(1))[0]).toMatchObject({ id: 1, ok: true })
    const out = JSON.parse(await pythonOk(["exact_agent.py", "send", "ts-exact"], { env: { AGENTOS_SOCKET: k.socketPath } })) as { hex: Array<string> }
    expect(out.hex.length).toBeGreaterThan(30)
    const got: Array<string> = []
    for (let i = 0; i < out.hex.length; i++) {
      raw.request({ id: 2 + i, op: Op.RECV, args: { timeoutMs: 5000 } })
      const items = await raw.waitForItems(2 + i)
      const res = (items.at(-1) as { res: { payload: Cbor.Raw; msgId: number } }).res
      got.push(Buffer.from(res.payload.bytes).toString("hex"))
    }
    expect(got).toEqual(out.hex)
    expect(got[0]).toBe("a1657072696365f93c00") // {"price": 1.0}, the float kept
  })

  it("the TypeScript SDK to Python: -0, NaN, half floats, tags, bignums, undefined, simple values, and a Raw's exact float", async () => {
    const k = await kernel()
    const sdk = await Connection.connect({ path: k.socketPath })
    cleanups.push(() => sdk.close())
    await sdk.calls.hello("ts-ready")
    const values: ReadonlyArray<unknown> = [
      -0, NaN, 1.5, 65504, new Cbor.CborTag(1, 1363896240.5), 2n ** 70n, [undefined, null], new Cbor.CborSimple(99),
      new Cbor.Raw(Uint8Array.from(Buffer.from("fb3ff0000000000000", "hex"))),
      new Cbor.Raw(Uint8Array.from(Buffer.from("a2616101616af7", "hex")))
    ]
    const receiving = pythonOk(["exact_agent.py", "recv", "ts-ready", String(values.length)], { env: { AGENTOS_SOCKET: k.socketPath } })
    const ready = await sdk.calls.recv(30_000)
    expect(ready.payload).toBe("ready")
    await sdk.calls.ack(ready.msgId)
    for (const value of values) await sdk.calls.send("py-exact-recv", value)
    const out = JSON.parse(await receiving) as { got: Array<unknown> }
    expect(out.got).toEqual([
      { float: "-0.0" },
      { float: "nan" },
      { float: "1.5" },
      { int: "65504" },
      { tag: 1, value: { float: "1363896240.5" } },
      { int: String(2n ** 70n) },
      [{ undefined: true }, null],
      { simple: 99 },
      { float: "1.0" },
      { map: [["a", { int: "1" }], ["j", { undefined: true }]] }
    ])
  })
})

// ---------------------------------------------------------------------------------------------
// The examples
// ---------------------------------------------------------------------------------------------

const example = (name: string) => Path.join(EXAMPLES, name)

describe("the Python examples under a real kernel", () => {
  const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>, ReadonlyArray<RegExp>]> = [
    ["hello_agent.py", ["py-hello"], [/^hello: I am py-hello \(session \d+, client\) on kernel \S+, version /m, /^hello: NOOP echoed \{'hello': 'world', 'n': 1\}$/m, /^hello: LIST shows \d+ agent\(s\)$/m, /^hello: LOG ok$/m, /^hello: done$/m]],
    ["thinking_agent.py", ["What is 2+2?"], [/^thinking: asking 'What is 2\+2\?'$/m, /^thinking: answer \(\d+ tokens/m]],
    ["worker_agent.py", ["--max", "1", "--idle-ms", "200", "--exit-when-idle"], [/^worker: worker ready$/m, /^worker: idle for 200 ms, exiting$/m]],
    ["spawn_test.py", [], [/^spawn_test: spawned py-worker-\d+ as \S+, pid \d+/m, /^spawn_test: py-worker-\d+ answered \{'inReplyTo': \d+, 'result': \{'sum': 6\}\}$/m]],
    ["healthy.py", ["--seconds", "0.3", "--interval-ms", "50"], [/^healthy: healthy up$/m, /^healthy: alive, beat 1, round trip [\d.]+ ms$/m, /^healthy: done after \d+ beats$/m]],
    ["cpu_hog.py", ["--seconds", "0.3"], [/^cpu_hog: cpu-hog burning CPU$/m, /^cpu_hog: done after \d+ spins in 0\.\d s$/m]],
    ["memory_hog.py", ["--step-mb", "4", "--max-mb", "12", "--interval-ms", "1"], [/^memory_hog: holding 12 MiB$/m, /^memory_hog: reached the 12 MiB cap without being stopped$/m]]
  ]
  for (const [file, args, expected] of cases) {
    it(`${file} ${args.join(" ")}`.trim(), async () => {
      const k = await kernel()
      const stdout = await pythonOk([example(file), ...args], { env: { AGENTOS_SOCKET: k.socketPath }, cwd: EXAMPLES })
      for (const line of expected) expect(stdout).toMatch(line)
    })
  }

  it("every example says what it is in its docstring and fails clearly without a kernel", async () => {
    for (const file of Fs.readdirSync(EXAMPLES).filter((f) => f.endsWith(".py"))) {
      const ran = await python([example(file)], { env: { AGENTOS_SOCKET: "/nonexistent/kernel.sock" }, cwd: EXAMPLES })
      expect(ran.code, file).toBe(1)
      expect(ran.stderr, file).toMatch(/ENOENT: connecting to the kernel at \/nonexistent\/kernel\.sock/)
    }
  })

  it(`a Python agent SPAWNed by the kernel (the ${Machine.launcher} launcher) runs and talks over fd 3`, async () => {
    const k = await kernel()
    const out = await pythonOk([example("spawn_test.py")], { env: { AGENTOS_SOCKET: k.socketPath }, cwd: EXAMPLES })
    expect(out).toMatch(/^spawn_test: spawned py-worker-\d+ as \S+, pid \d+, running$/m)
    // The worker took the task from its mailbox, answered the spawner's, and ended by itself:
    // it ran, talked over its fd 3 and exited 0.
    expect(out).toMatch(/^spawn_test: py-worker-\d+ answered \{'inReplyTo': \d+, 'result': \{'sum': 6\}\}$/m)
    expect(out).toMatch(/^spawn_test: py-worker-\d+ ended: exited with code 0$/m)
    expect(out).toMatch(/^spawn_test: done$/m)
  })

  it("the C++ kernel's documented SDK usage runs unchanged: spawn(script=, sandboxed=), list_agents(), kill(name=)", async () => {
    const k = await kernel()
    // agents/python/README.md's snippet as the C++ SDK documents it, the script path made real.
    const snippet = [
      "import sys; sys.path.insert(0, " + JSON.stringify(Path.resolve(HERE, "../../agents/python")) + ")",
      "from agentos import AgentOSClient",
      "",
      "with AgentOSClient() as client:",
      "    # Spawn an agent",
      "    result = client.spawn(",
      "        name=\"worker1\",",
      "        script=" + JSON.stringify(example("worker_agent.py")) + ",",
      "        sandboxed=True",
      "    )",
      "    print(f\"Spawned: {result}\")",
      "",
      "    # List agents",
      "    agents = client.list_agents()",
      "    print(f\"Running: {agents}\")",
      "",
      "    # Kill agent",
      "    client.kill(name=\"worker1\")"
    ].join("\n")
    const out = await pythonOk(["-c", snippet], { env: { AGENTOS_SOCKET: k.socketPath } })
    expect(out).toMatch(/^Spawned: \{'id': 'a\d+', 'name': 'worker1', 'pid': \d+, 'status': 'running'\}$/m)
    expect(out).toMatch(/^Running: \[\{'id': 'a\d+', 'name': 'worker1', .*'status': 'running'/m)
    const ended = await connect({ socket: k.socketPath, name: "check" })
    cleanups.push(() => ended.close())
    expect(await ended.wait("worker1", 20_000)).toMatchObject({ reason: "killed_on_request", signal: "SIGTERM" })
  })

  it("the C++ kernel's SYS_SPAWN map on the wire: limits, sandboxed and network mapped onto the sandbox; both spellings are EINVAL", async () => {
    const k = await kernel()
    const client = await connect({ socket: k.socketPath, name: "seed-wire" })
    cleanups.push(() => client.close())
    const seed = { name: "agent1", script: example("healthy.py"), args: ["--seconds", "30"], sandboxed: true, network: false, limits: { memory: 268435456, max_pids: 64, cpu_quota: 100000 } }
    const result = await client.call(Op.SPAWN, seed) as Record<string, unknown>
    expect(Object.keys(result).sort()).toEqual(["id", "name", "pid", "status"])
    expect(result).toMatchObject({ name: "agent1", status: "running" })
    const spec = k.agents.byName("agent1")!.spec
    expect(spec).toMatchObject({ run: seed.script, sandbox: { isolate: true, network: "none", memory: 268435456, pids: 64, cpu: 1 } })
    const stat = await client.stat("agent1") as { memory: { limitBytes: number | null }; pids: { limit: number | null } }
    await until("agent1's live figures", async () => {
      const s = await client.stat("agent1") as typeof stat
      return s.memory.limitBytes !== null && s.pids.limit !== null ? s : undefined
    }, { timeoutMs: 10_000 }).then((s) => expect(s).toMatchObject({ memory: { limitBytes: 268435456 }, pids: { limit: 64 } }))
    await client.kill("agent1", "SIGKILL")
    const mixed = (extra: Record<string, unknown>) =>
      client.call(Op.SPAWN, { name: "mixed", run: example("healthy.py"), ...extra }).then(() => "ok", (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`)
    expect(await mixed({ script: example("healthy.py") })).toMatch(/^EINVAL: .*script and run are two spellings of the same thing/)
    expect(await mixed({ limits: { memory: 1 << 26 }, sandbox: { memory: "64M" } })).toMatch(/^EINVAL: .*limits\.memory and sandbox\.memory/)
    expect(await mixed({ sandboxed: false, sandbox: { isolate: true } })).toMatch(/^EINVAL: .*sandboxed and sandbox\.isolate/)
    expect(await client.call(Op.SPAWN, { name: "none" }).then(() => "ok", (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`)).toMatch(/^EINVAL: .*run \(or script\): required/)
  })

  it.skipIf(!Machine.canSandbox)(`fault isolation: the memory hog is OOM-killed, the CPU hog throttled, the healthy agent unharmed${Machine.canSandbox ? "" : ` (skipped: about the sandbox's limits, on the native launcher, which cannot sandbox here: ${Machine.cannotSandboxBecause})`}`, async () => {
    const k = await kernel("native")
    const client = await connect({ socket: k.socketPath, name: "py-fault-isolation" })
    cleanups.push(() => client.close())
    await client.spawn({ name: "memory-hog", run: example("memory_hog.py"), args: ["--step-mb", "8", "--max-mb", "400", "--interval-ms", "1"], sandbox: { memory: "48M" } })
    await client.spawn({ name: "cpu-hog", run: example("cpu_hog.py"), args: ["--seconds", "2"], sandbox: { cpu: 0.1 } })
    await client.spawn({ name: "healthy", run: example("healthy.py"), args: ["--seconds", "2", "--interval-ms", "100"] })
    const memory = await client.wait("memory-hog", 30_000) as { reason: string; code: number | null; signal: string | null; source?: string }
    if (Machine.cgroupHolds("memory")) {
      expect(memory).toMatchObject({ reason: "oom", signal: "SIGKILL", source: "cgroup" })
    } else {
      // The launcher's watchdog kills it past its limit, unless RLIMIT_DATA (1.1× the limit,
      // against bursts between two looks) refused an allocation first: Python's MemoryError.
      const stat = await client.stat("memory-hog") as { memory: { peakBytes: number } }
      // Its peak Pss: private memory bounded by RLIMIT_DATA (1.1× the limit) and the
      // interpreter's own file-backed pages (page cache, a few MiB, not the host's growth).
      expect(stat.memory.peakBytes, JSON.stringify(memory)).toBeLessThan(48 * 1024 * 1024 * 1.1 + 8 * 1024 * 1024)
      expect(memory.reason).toBe("oom")
      if (memory.source === "watchdog") expect(memory).toMatchObject({ signal: "SIGKILL" })
      else {
        expect(memory).toMatchObject({ source: "rlimit", code: null })
        expect(k.output("memory-hog").map((o) => o.line).join("\n")).toMatch(/memory_hog: MemoryError: out of memory at \d+ MiB/)
      }
    }
    expect(await client.wait("cpu-hog", 30_000)).toMatchObject({ reason: "exited", code: 0 })
    expect(await client.wait("healthy", 30_000)).toMatchObject({ reason: "exited", code: 0 })
    const cpu = await client.stat("cpu-hog") as { cpu: { nrThrottled: number | null } }
    expect(cpu.cpu.nrThrottled).toBeGreaterThan(0)
  })
})
