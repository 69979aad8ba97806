// A test agent: calls LOGS about itself and prints `LOGS ok`, or `LOGS <code>` when refused;
// then stays alive until stopped.
import { connect } from "agentos/agent"

const agent = await connect()
try {
  await agent.call(0x42, { name: process.env.AGENTOS_NAME })
  console.log("LOGS ok")
} catch (e) {
  console.log(`LOGS ${(e as { code?: string }).code ?? String(e)}`)
}
setInterval(() => {}, 1000)
