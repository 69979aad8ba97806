// A test agent for IPC. Modes (argv[2]):
//   consume [delayMs] [hold-first]  prints `GOT {...}` per message and acks it after delayMs; with
//                                   hold-first, its first incarnation takes one message and hangs
//                                   without acking (for the test to kill -9); "stop" ends it
//   tally N                         takes N messages {seq} and prints one line, `TALLY {...}`:
//                                   each sender's seqs in the order received, and the redelivered
//                                   count (the kernel keeps a bounded tail of an agent's lines)
//   idle                            connects and never receives
//   send TO N                       sends {seq: 1..N} to TO, prints `SENT N`, exits
import * as Fs from "node:fs"
import { connect } from "agentos/agent"

const [mode = "consume", a, b] = process.argv.slice(2)
const agent = await connect()
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

if (mode === "tally") {
  const n = Number(a)
  const seqs: Record<string, Array<number>> = {}
  let redelivered = 0
  let taken = 0
  for await (const message of agent.messages()) {
    // Who sent it is the kernel's word (`from`), not the payload's.
    const { seq } = message.payload as { seq: number }
    ;(seqs[message.from] ??= []).push(seq)
    if (message.redelivered) redelivered++
    if (++taken === n) {
      await message.ack()
      break
    }
  }
  console.log(`TALLY ${JSON.stringify({ seqs, redelivered })}`)
  await agent.close()
} else if (mode === "idle") {
  setInterval(() => {}, 1000)
} else if (mode === "send") {
  const n = Number(b)
  for (let seq = 1; seq <= n; seq++) await agent.send(a!, { seq, from: process.env.AGENTOS_NAME })
  console.log(`SENT ${n}`)
  await agent.close()
} else {
  const delayMs = Number(a ?? 0)
  // The marker lives in the agent's private work directory (HOME), which survives restarts.
  const marker = `${process.env.HOME}/held-once`
  const hold = b === "hold-first" && !Fs.existsSync(marker)
  for await (const message of agent.messages()) {
    // Bytes are told by their size: a 1 KiB payload as JSON is an 8 KiB line, and the kernel's
    // log of an agent is bounded in bytes.
    const payload = message.payload instanceof Uint8Array ? { bytes: message.payload.length } : message.payload
    console.log(`GOT ${JSON.stringify({ msgId: message.msgId, from: message.from, payload, redelivered: message.redelivered })}`)
    if (hold) {
      Fs.writeFileSync(marker, "1")
      console.log("HOLDING")
      setInterval(() => {}, 1000)
      await new Promise(() => {})
    }
    if (delayMs > 0) await sleep(delayMs)
    if (message.payload === "stop") {
      await message.ack()
      break
    }
  }
  await agent.close()
}
