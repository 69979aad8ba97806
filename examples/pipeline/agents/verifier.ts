// The pipeline's last stage: checks each answer, de-duplicates by item id, and once the end
// marker has come and every item is verified, prints the run's figures. Exit 1 when an item
// is missing or failed its check.
import { connect } from "agentos/agent"

interface Answer {
  readonly id?: number
  readonly answer?: string
  readonly sentAt?: number
  readonly incarnation?: number
  readonly redelivered?: boolean
  readonly end?: number
}

const kernel = await connect()
const verified = new Map<number, number>()
const failed: Array<number> = []
let expected: number | undefined
let duplicates = 0
let redeliveries = 0
let incarnations = 1
let firstSentAt = Infinity
let lastAt = 0
for await (const message of kernel.messages()) {
  const a = message.payload as Answer
  // Redelivered to the reasoner (it says so) or to this verifier (the kernel says so).
  if (message.redelivered || a.redelivered === true) redeliveries++
  // Counted from every answer, duplicates too: a reasoner that crashed on the last item is
  // known only by the duplicate its next incarnation sends.
  if (a.end === undefined) incarnations = Math.max(incarnations, a.incarnation ?? 1)
  if (a.end !== undefined) expected = a.end
  else if (verified.has(a.id!)) duplicates++
  else if (typeof a.answer === "string" && a.answer.length > 0) {
    const now = Date.now()
    verified.set(a.id!, now - a.sentAt!)
    firstSentAt = Math.min(firstSentAt, a.sentAt!)
    lastAt = now
  } else failed.push(a.id!)
  if (expected !== undefined && verified.size + failed.length >= expected) {
    await message.ack()
    break
  }
}
const latencies = [...verified.values()].sort((x, y) => x - y)
const quantile = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0
const missing = expected === undefined ? [] : Array.from({ length: expected }, (_, i) => i + 1).filter((id) => !verified.has(id))
const seconds = Math.max(0.001, (lastAt - firstSentAt) / 1000)
console.log(`items: ${expected} in, ${verified.size} verified exactly once, ${missing.length} missing, ${failed.length} failed`)
console.log(`crashes: ${incarnations - 1} (reasoner restarted), redeliveries: ${redeliveries}, duplicates dropped: ${duplicates}`)
console.log(`latency: p50 ${quantile(0.5)} ms, p99 ${quantile(0.99)} ms; throughput ${(verified.size / seconds).toFixed(1)} items/s`)
const ok = expected !== undefined && missing.length === 0 && failed.length === 0
console.log(ok ? "PIPELINE OK: nothing lost, nothing twice" : `PIPELINE BROKEN: missing ${missing.join(",") || "-"}; failed ${failed.join(",") || "-"}`)
await kernel.close()
process.exitCode = ok ? 0 : 1
