// A test agent for the metrics suite: THINKs `thinks` times (one after another), SENDs `sends`
// messages to `to`, asks for METRICS (EPERM unless its spec grants it), prints a REPORT line
// with what came back, then stays alive until killed.
import { connect } from "agentos/agent"
import { Op } from "../../../src/protocol/Op.ts"

const [thinks, to, sends] = [Number(process.argv[2] ?? 0), process.argv[3] ?? "", Number(process.argv[4] ?? 0)]
const agent = await connect()
const tryCall = async <A>(f: () => Promise<A>) => {
  try {
    return { ok: true as const, value: await f() }
  } catch (e) {
    return { ok: false as const, code: (e as { code?: string }).code ?? String(e) }
  }
}
const usage = { inputTokens: 0, outputTokens: 0 }
for (let i = 0; i < thinks; i++) {
  const answer = await agent.think({ prompt: `${agent.info.agent.name} thinks ${i}`, maxTokens: 8 })
  const u = answer.usage as { inputTokens: number; outputTokens: number }
  usage.inputTokens += u.inputTokens
  usage.outputTokens += u.outputTokens
}
const sent: Array<number> = []
for (let i = 0; i < sends; i++) sent.push((await agent.send(to, { n: i })).msgId)
const metrics = await tryCall(() => agent.call(Op.METRICS, {}) as Promise<{ text: string }>)
console.log(`REPORT ${JSON.stringify({ usage, sent, metrics: metrics.ok ? { ok: true, length: metrics.value.text.length } : metrics })}`)
setInterval(() => {}, 1000)
