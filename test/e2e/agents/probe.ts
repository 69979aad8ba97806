// A test agent: connects over fd 3, reports what it sees and what the kernel lets it do, then
// stays alive until told to stop (or exits at once with "exit").
import * as Fs from "node:fs"
import { connect } from "agentos/agent"

const agent = await connect()
const tryCall = async (f: () => Promise<unknown>) => {
  try {
    return { ok: true, value: await f() }
  } catch (e) {
    return { ok: false, code: (e as { code?: string }).code ?? String(e) }
  }
}
const report = {
  hello: agent.info.agent,
  env: { name: process.env.AGENTOS_NAME, id: process.env.AGENTOS_ID, fd: process.env.AGENTOS_FD },
  pid: process.pid,
  uid: process.getuid?.(),
  noop: await tryCall(() => agent.noop({ from: "probe" })),
  list: await tryCall(() => agent.list()),
  spawn: await tryCall(() => agent.spawn({ name: `${process.env.AGENTOS_NAME}-child`, run: "true" })),
  kill: await tryCall(() => agent.kill("nobody")),
  kernelSocketVisible: process.argv[2] === undefined ? null : Fs.existsSync(process.argv[2]),
  log: await tryCall(() => agent.log("info", "probe says hi", { n: 1 })),
  heartbeat: await tryCall(() => agent.heartbeat())
}
console.log(`REPORT ${JSON.stringify(report)}`)
if (process.argv.includes("exit")) process.exit(0)
setInterval(() => {}, 1000)
