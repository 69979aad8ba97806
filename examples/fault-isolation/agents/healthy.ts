// Agent C of the fault-isolation demo: does its work in steps, heartbeating to the kernel after
// each, and finishes with exit code 0 while its neighbours misbehave.
import { connect } from "agentos/agent"

const steps = Number(process.argv[2] ?? 20)
const agent = await connect()
let checksum = 0
for (let step = 1; step <= steps; step++) {
  for (let i = 0; i < 200_000; i++) checksum = (checksum * 31 + i) % 1_000_000_007
  await agent.heartbeat()
  console.log(`healthy: step ${step}/${steps} done`)
  await new Promise((resolve) => setTimeout(resolve, 100))
}
console.log(`healthy: finished ${steps} steps (checksum ${checksum})`)
await agent.close()
