// The pipeline's first stage: turns N raw lines into items {id, text, sentAt} and sends them to
// the reasoner, then an end marker carrying the count. SEND waits when the reasoner's mailbox is
// full, so a slow stage slows the parser instead of growing the kernel.
import { connect } from "agentos/agent"

const count = Number(process.argv[2] ?? 100)
const kernel = await connect()
for (let id = 1; id <= count; id++) {
  const text = `item ${id}: what is ${id} squared plus ${id % 7}?`
  await kernel.send("reasoner", { id, text, sentAt: Date.now() })
}
await kernel.send("reasoner", { end: count })
console.log(`parser: sent ${count} items`)
await kernel.close()
