// A test agent: sends `count` THINKs at once over its fd 3 and prints a REPORT line with what
// came back; with "stay" it then stays alive until killed (its requests may never finish).
import { connect } from "agentos/agent"

const count = Number(process.argv[2] ?? 1)
const maxTokens = Number(process.argv[3] ?? 8)
const agent = await connect()
console.log("READY")
const outcomes = await Promise.all(Array.from({ length: count }, (_, i) =>
  agent.think({ prompt: `${agent.info.agent.name} asks question ${i}`, maxTokens }).then(
    (r) => ({ ok: true, outputTokens: (r.usage as { outputTokens: number }).outputTokens }),
    (e: { code?: string }) => ({ ok: false, code: e.code ?? String(e) })
  )))
console.log(`REPORT ${JSON.stringify(outcomes)}`)
if (process.argv.includes("stay")) setInterval(() => {}, 1000)
else await agent.close()
