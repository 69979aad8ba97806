// A worker for the supervisor demo. Modes (argv[2]):
//   flaky N     works, crashes (exit 1) every ~2 s; the N-th incarnation finishes cleanly (exit 0)
//   crash-loop  crashes at once, every time
//   healthy N   does N steps of work with heartbeats, then exits 0
import * as Fs from "node:fs"
import { connect } from "agentos/agent"

const [mode = "healthy", nArg = "10"] = process.argv.slice(2)
const n = Number(nArg)
const agent = await connect()
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

if (mode === "crash-loop") {
  console.log("crash-loop: failing at once")
  process.exit(2)
}
if (mode === "flaky") {
  // The incarnation count lives in the agent's private work directory (its HOME), which
  // survives restarts.
  const counter = `${process.env.HOME}/incarnation`
  const incarnation = (Fs.existsSync(counter) ? Number(Fs.readFileSync(counter, "utf8")) : 0) + 1
  Fs.writeFileSync(counter, String(incarnation))
  await sleep(2000)
  if (incarnation < n) {
    console.log(`flaky: incarnation ${incarnation} crashing`)
    process.exit(1)
  }
  console.log(`flaky: incarnation ${incarnation} done`)
  process.exit(0)
}
for (let step = 1; step <= n; step++) {
  await agent.heartbeat()
  await sleep(500)
}
console.log(`healthy: ${n} steps done`)
await agent.close()
