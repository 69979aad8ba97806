// The pipeline's middle stage: asks the kernel's LLM about each item (THINK) and forwards the
// answer to the verifier, acking an item only once its answer is sent on. A crash between the
// two (injected with --crash-at ID in its first incarnation, or --crash-random P in any) leaves
// the item unacked: the kernel delivers it again to the next incarnation, and the verifier may
// then see its answer twice.
import * as Fs from "node:fs"
import { connect } from "agentos/agent"

const args = process.argv.slice(2)
const option = (name: string) => {
  const i = args.indexOf(name)
  return i === -1 ? undefined : args[i + 1]
}
const crashAt = option("--crash-at") === undefined ? undefined : Number(option("--crash-at"))
const crashRandom = Number(option("--crash-random") ?? 0)
// Its incarnation, counted in its private work directory (HOME), which survives restarts.
const counter = `${process.env.HOME}/incarnation`
const incarnation = (Fs.existsSync(counter) ? Number(Fs.readFileSync(counter, "utf8")) : 0) + 1
Fs.writeFileSync(counter, String(incarnation))

const kernel = await connect()
for await (const message of kernel.messages()) {
  const item = message.payload as { readonly id?: number; readonly text?: string; readonly sentAt?: number; readonly end?: number }
  if (item.end !== undefined) {
    await kernel.send("verifier", { end: item.end })
    await message.ack()
    break
  }
  const answer = await kernel.think({ prompt: item.text!, maxTokens: 32 })
  await kernel.send("verifier", { id: item.id, answer: answer.content, sentAt: item.sentAt, incarnation, redelivered: message.redelivered })
  if ((incarnation === 1 && item.id === crashAt) || Math.random() < crashRandom) {
    console.log(`reasoner: crashing on item ${item.id} (incarnation ${incarnation}), its answer sent, not acked`)
    process.exit(70)
  }
}
console.log(`reasoner: done (incarnation ${incarnation})`)
await kernel.close()
