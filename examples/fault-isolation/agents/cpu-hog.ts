// Agent A of the fault-isolation demo: an infinite loop. Under a 10% CPU limit the kernel's
// cgroup throttles it; it never finishes on its own.
import { connect } from "agentos/agent"

const agent = await connect()
console.log(`cpu-hog ${agent.info.agent.name}: spinning forever`)
let x = 0
for (;;) x = (x + 1) % 1_000_003
