/**
 * What the kernel's codec does per routed message: a SEND frame in, its RECV reply out, in this
 * process, for payloads of several shapes. Side by side in the same run: the kernel's path
 * (args kept as bytes, the payload carried as a Cbor.Raw and written out verbatim) and the one it
 * replaced (the whole frame decoded into values, the reply encoded from them), which also
 * changed what it carried (1.0 came back 1). `npm run bench:payload -- [--quick] [--json]`.
 *
 * How: both paths call the codec exactly as the kernel does (src/kernel/Session.ts with
 * Message.requestKeep over the syscall table's forms, and views; Router's reply); rounds
 * alternate between them and the best of each is kept, so a noisy machine hurts both alike.
 */
import * as Cbor from "../src/protocol/Cbor.ts"
import * as Message from "../src/protocol/Message.ts"
import { Op } from "../src/protocol/Op.ts"
import { machine, table } from "./support/report.ts"
import { flag } from "./support/servers.ts"

const quick = flag("quick", "BENCH_QUICK")
const json = flag("json", "BENCH_JSON")
const ROUNDS = quick ? 3 : 7
const MESSAGES = quick ? 20_000 : 100_000

/** How a kernel connection decodes a SEND frame: SEND's args with the payload kept, as Send.ts declares. */
const REQUEST_KEEP = Message.requestKeep((op) => (op === Op.SEND ? { payload: true } : true))

const payloads: ReadonlyArray<readonly [string, unknown]> = [
  ["64 B byte string", new Uint8Array(64).fill(0x5a)],
  ["4 KiB byte string", new Uint8Array(4096).fill(0x5a)],
  ["short text", "job 17 done"],
  ["map of 20 mixed fields", Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`field${i}`, i % 3 === 0 ? i * 1.5 : i % 3 === 1 ? `value ${i}` : i]))],
  ["1 KiB nested record", { id: 42, tags: ["a", "b", "c"], items: Array.from({ length: 16 }, (_, i) => ({ sku: `sku-${i}`, qty: i, price: i + 0.25 })) }]
]

/** One message through the kernel's path: SEND's payload kept in the frame's one pass, the reply with it as bytes. */
const carried = (frame: Uint8Array, msgId: number): number => {
  const request = Cbor.decode(frame, REQUEST_KEEP, true) as { args: { payload: Cbor.Raw } }
  return Cbor.encode({ id: 1, ok: true, res: { msgId, from: "sender", payload: request.args.payload, redelivered: false } }).length
}

/** The same message decoded into values and encoded again, as before. */
const reencoded = (frame: Uint8Array, msgId: number): number => {
  const request = Cbor.decode(frame) as { args: { payload: unknown } }
  return Cbor.encode({ id: 1, ok: true, res: { msgId, from: "sender", payload: request.args.payload, redelivered: false } }).length
}

/** Nanoseconds per message, best of the rounds. */
const measure = (path: (frame: Uint8Array, msgId: number) => number, frame: Uint8Array): number => {
  let sink = 0
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < MESSAGES; i++) sink += path(frame, i)
  const ns = Number(process.hrtime.bigint() - t0) / MESSAGES
  if (sink === 0) throw new Error("nothing encoded")
  return ns
}

const results: Array<{ payload: string; bytes: number; carriedNs: number; reencodedNs: number }> = []
for (const [name, payload] of payloads) {
  const frame = Cbor.encode({ id: 12345, op: Op.SEND, args: { to: "receiver", payload } })
  measure(carried, frame)
  measure(reencoded, frame)
  let best = { carried: Infinity, reencoded: Infinity }
  for (let r = 0; r < ROUNDS; r++) {
    best = { carried: Math.min(best.carried, measure(carried, frame)), reencoded: Math.min(best.reencoded, measure(reencoded, frame)) }
  }
  results.push({ payload: name, bytes: Cbor.encode(payload).length, carriedNs: best.carried, reencodedNs: best.reencoded })
}

if (json) {
  console.log(JSON.stringify({ machine: machine(), messages: MESSAGES, rounds: ROUNDS, results }, null, 2))
} else {
  const context = machine()
  console.log(`payload: node ${context.node}, ${context.cpu}, ${context.cores} cores, ${context.os}, load ${context.loadavg.join(" ")}`)
  console.log(`kernel codec work per SEND frame in + RECV reply out, best of ${ROUNDS} rounds of ${MESSAGES.toLocaleString("en-US")}\n`)
  console.log(table([
    ["payload", "bytes", "carried as bytes (ns)", "decode + re-encode (ns)", "ratio"],
    ...results.map((r) => [r.payload, String(r.bytes), r.carriedNs.toFixed(0), r.reencodedNs.toFixed(0), `${(r.carriedNs / r.reencodedNs).toFixed(2)}×`])
  ]))
}
