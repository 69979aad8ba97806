// An agent of the LLM contention demo: at the agreed start it keeps a few THINKs outstanding
// until the window closes, then exits with whatever is still queued or running (the kernel
// cancels those). A refusal (ERATE: its budget or its limits) ends it early. Its last line is a
// RESULT the demo reads; everything it claims, the kernel counted too.
//
//   thinker.ts <startAtEpochMs> <windowMs> <maxTokens> <outstanding> [stream]
import { connect } from "agentos/agent"

/** THINK's number in DESIGN.md's syscall table (the SDK's `think` does not stream). */
const THINK = 0x01

const [startAt, windowMs, maxTokens, outstanding] = process.argv.slice(2, 6).map(Number) as [number, number, number, number]
const stream = process.argv[6] === "stream"
const agent = await connect()
const name = agent.info.agent.name ?? "thinker"
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))

console.log(`${name}: ready, thinking from ${new Date(startAt).toISOString().slice(11, 23)} for ${windowMs} ms`)
await sleep(startAt - Date.now())
const deadline = startAt + windowMs
const result = { answered: 0, refused: 0, failed: 0, chunks: 0, streamed: 0, refusal: null as string | null }
let stop = false
let step = 0

const worker = async () => {
  while (!stop && Date.now() < deadline) {
    const n = step++
    try {
      let chunks = 0
      await agent.call(
        THINK,
        { prompt: `${name}, step ${n}: what should the next step of the plan be?`, maxTokens, ...(stream ? { stream: true } : {}) },
        { onChunk: () => void chunks++ }
      )
      result.answered++
      if (stream) {
        result.streamed++
        result.chunks += chunks
      }
    } catch (e) {
      const code = (e as { code?: string }).code ?? String(e)
      if (code === "ERATE") {
        result.refused++
        result.refusal = code
        if (!stop) console.log(`${name}: THINK refused: ${(e as Error).message}`)
        stop = true
      } else {
        result.failed++
        if (!stop) console.log(`${name}: THINK failed (${code}): ${(e as Error).message}`)
        await sleep(100)
      }
    }
  }
}

const workers = Promise.all(Array.from({ length: outstanding }, worker))
await Promise.race([workers, sleep(deadline - Date.now())])
console.log(`${name}: ${result.answered} answers${stream ? ` (${result.chunks} streamed chunks)` : ""}${result.refused > 0 ? `, then refused (${result.refusal})` : ""}`)
console.log(`RESULT ${JSON.stringify(result)}`)
// Leaving with requests still queued or running: the kernel drops and aborts them.
process.exit(0)
