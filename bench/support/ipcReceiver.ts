/**
 * The receiving agent of bench/ipc.ts (B). Connects like ipcSender.ts, keeps `depth` RECVs
 * outstanding and fires an ACK for each message as it arrives (not awaited, as a pipelining
 * client does). Throughput: the messages after the first `warmup`, timed from the warm-up's last
 * arrival to the ACK of the last one answered. Pings (payload byte 0 = 1) are ACKed and sent
 * straight back to `peer`. Writes its figures to `$HOME/result.json` once the last ping is
 * answered, and exits.
 *
 *   ipcReceiver.ts <kernel|socket path> <peer> <warmup> <count> <depth> <pings in all>
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { connect } from "agentos/agent"

const [target, peer, ...numbers] = process.argv.slice(2)
const [warmup, count, depth, pings] = numbers.map(Number) as [number, number, number, number]
const agent = await connect(target === "kernel" ? {} : { socket: target! })

const total = warmup + count + pings
let posted = 0
let received = 0
let throughput = 0
let echoed = 0
let started = 0n
let finished = 0n
let done: () => void
let failed: (e: unknown) => void
const finishedAll = new Promise<void>((resolve, reject) => {
  done = resolve
  failed = reject
})

const onMessage = (m: { readonly msgId: number; readonly payload: unknown }): void => {
  received++
  const ack = agent.ack(m.msgId)
  if (posted < total) post()
  if ((m.payload as Uint8Array)[0] === 1) {
    agent.send(peer!, m.payload).then(() => {
      if (++echoed === pings) done()
    }, failed)
    return
  }
  const n = ++throughput
  if (n === warmup) started = process.hrtime.bigint()
  if (n === warmup + count) {
    ack.then(() => {
      finished = process.hrtime.bigint()
    }, failed)
  } else {
    ack.catch(failed)
  }
}

const post = (): void => {
  posted++
  agent.recv().then(onMessage, failed)
}
for (let i = 0; i < Math.min(depth, total); i++) post()

await finishedAll
const seconds = Number(finished - started) / 1e9
await agent.noop()
Fs.writeFileSync(Path.join(process.env.HOME!, "result.json"), JSON.stringify({ received, messagesPerSecond: count / seconds }))
await agent.close()
