/**
 * Untrusted agents: one probes the filesystem (secrets, homes, system directories, other
 * processes' environments), one the network (host loopback TCP, the kernel's socket by path,
 * DNS, a host abstract socket), one forks without end. Each verdict is decided by what the
 * agents reported and what the kernel measured.
 *
 *   npx node examples/untrusted/main.ts
 */
import * as Net from "node:net"
import * as Path from "node:path"
import { until, withKernel } from "../demo.ts"

const here = import.meta.dirname
const agent = (file: string) => Path.join(here, "agents", file)

interface Attempt {
  readonly what: string
  readonly allowed: boolean
  readonly detail: string
}

// Host-side bait: a TCP server on loopback and an abstract Unix socket.
const listen = (options: Net.ListenOptions) =>
  new Promise<Net.Server>((resolve) => {
    const server = Net.createServer((s) => s.destroy())
    server.listen(options, () => resolve(server))
  })
const tcp = await listen({ host: "127.0.0.1", port: 0 })
const abstractName = `agentos-demo-${process.pid}`
const abstract = await listen({ path: `\0${abstractName}` })
const tcpPort = (tcp.address() as Net.AddressInfo).port

const exitCode = await withKernel(async ({ client, output, socketPath }) => {
  const report = (name: string) => {
    const line = output(name).find((l) => l.startsWith("REPORT "))
    return line === undefined ? undefined : (JSON.parse(line.slice(7)) as { results: ReadonlyArray<Attempt> })
  }
  await client.call(0x10, { name: "malicious-fs", run: agent("malicious-fs.ts"), sandbox: { memory: "256M" } })
  await client.call(0x10, {
    name: "malicious-net",
    run: agent("malicious-net.ts"),
    args: [String(tcpPort), socketPath, abstractName],
    sandbox: { memory: "256M" }
  })
  await client.call(0x10, { name: "fork-bomb", run: agent("fork-bomb.ts"), sandbox: { pids: 32, cpu: 0.25, memory: "128M" } })

  await client.call(0x13, { name: "malicious-fs", timeoutMs: 30_000 })
  await client.call(0x13, { name: "malicious-net", timeoutMs: 30_000 })
  // The bomb never ends by itself: once its forks are refused at pids.max, kill it.
  const hits = await until(async () => {
    const s = (await client.call(0x14, { name: "fork-bomb" })) as { pids: { limitHits: number | null; current: number | null } }
    return (s.pids.limitHits ?? 0) > 0 ? s.pids : undefined
  }, 20_000, 50)
  await client.call(0x11, { name: "fork-bomb", signal: "SIGKILL" })
  const bomb = (await client.call(0x13, { name: "fork-bomb", timeoutMs: 10_000 })) as { reason: string; description: string }

  const fs = report("malicious-fs")
  const net = report("malicious-net")
  for (const [name, r] of [["malicious-fs", fs], ["malicious-net", net]] as const) {
    console.log(`${name}:`)
    for (const a of r?.results ?? []) console.log(`  ${a.allowed ? "ALLOWED" : "denied "} ${a.what} (${a.detail})`)
    if (r === undefined) console.log("  (no report)")
  }
  console.log(`fork-bomb: ${hits === undefined ? "never hit its limit" : `forks refused at pids.max (${hits.limitHits} times, ${hits.current} processes)`}; ${bomb.description}`)
  console.log("")
  const fsDenied = fs !== undefined && fs.results.length > 0 && fs.results.every((a) => !a.allowed)
  const netDenied = net !== undefined && net.results.length > 0 && net.results.every((a) => !a.allowed)
  const bombKilled = hits !== undefined && bomb.reason === "pids_limit"
  console.log(fsDenied ? "DENIED: filesystem access" : "NOT DENIED: filesystem access (see ALLOWED above)")
  console.log(netDenied ? "DENIED: network access" : "NOT DENIED: network access (see ALLOWED above)")
  console.log(bombKilled ? "KILLED: PID limit exceeded" : `NOT CONTAINED: fork bomb (${bomb.description})`)
  return fsDenied && netDenied && bombKilled ? 0 : 1
})
tcp.close()
abstract.close()
process.exitCode = exitCode
