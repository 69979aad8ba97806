/**
 * The sending agent of bench/ipc.ts (A). Connects to the kernel over its fd 3, or with a socket
 * path to bench/support/rawRelay.ts instead; the same SDK calls either way. Throughput: SENDs
 * `warmup + count` payloads of `size` bytes to `peer`, `window` of them in flight (a SEND is
 * answered once the message is queued; it waits while the peer's mailbox is full). Latency:
 * then `pingWarmup + pings` ping-pongs, each a RECV posted, a SEND to the peer and the peer's
 * answer received and ACKed; one-way latency is half the round trip. Writes its figures to
 * `$HOME/result.json` (its private work directory, which the orchestrator reads) and exits.
 *
 *   ipcSender.ts <kernel|socket path> <peer> <size> <warmup> <count> <window> <pingWarmup> <pings>
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { connect, type Agent } from "agentos/agent"

const [target, peer, ...numbers] = process.argv.slice(2)
const [size, warmup, count, window, pingWarmup, pings] = numbers.map(Number) as [number, number, number, number, number, number]
const agent = await connect(target === "kernel" ? {} : { socket: target! })

/** A throughput payload starts with 0, a ping with 1: the receiver tells them apart by it. */
const payload = (kind: 0 | 1): Uint8Array => {
  const bytes = new Uint8Array(size).fill(0x5a)
  bytes[0] = kind
  return bytes
}

/** Keeps `window` SENDs in flight until `total` are answered. */
const pipelined = (a: Agent, total: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const data = payload(0)
    let issued = 0
    let answered = 0
    const issue = (): void => {
      issued++
      a.send(peer!, data).then(() => {
        if (++answered === total) resolve()
        else if (issued < total) issue()
      }, reject)
    }
    for (let i = 0; i < Math.min(window, total); i++) issue()
  })

const started = process.hrtime.bigint()
await pipelined(agent, warmup + count)
const sentSeconds = Number(process.hrtime.bigint() - started) / 1e9

const ping = payload(1)
const oneWayUs = new Float64Array(pings)
for (let i = 0; i < pingWarmup + pings; i++) {
  const t0 = process.hrtime.bigint()
  // The RECV is waiting at the kernel before the SEND leaves, so the answer is handed over at once.
  const answer = agent.recv()
  const [, m] = await Promise.all([agent.send(peer!, ping), answer])
  const rtt = Number(process.hrtime.bigint() - t0) / 1e3
  void agent.ack(m.msgId)
  if (i >= pingWarmup) oneWayUs[i - pingWarmup] = rtt / 2
}

let sum = 0
for (const x of oneWayUs) sum += x
oneWayUs.sort()
const at = (p: number): number => oneWayUs[Math.min(oneWayUs.length - 1, Math.max(0, Math.ceil((p / 100) * oneWayUs.length) - 1))] ?? Number.NaN
// A last round trip (an ACK answered) so every ACK fired above has been served before closing.
await agent.noop()
Fs.writeFileSync(
  Path.join(process.env.HOME!, "result.json"),
  JSON.stringify({ sent: warmup + count, sentPerSecond: (warmup + count) / sentSeconds, p50Us: at(50), p99Us: at(99), meanUs: sum / pings })
)
await agent.close()
