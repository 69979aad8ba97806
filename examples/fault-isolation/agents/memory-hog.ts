// Agent B of the fault-isolation demo: a memory leak. It keeps allocating (and touching, so the
// pages are real) until its cgroup's memory limit OOM-kills it.
import { connect } from "agentos/agent"

const agent = await connect()
const leak: Array<Buffer> = []
for (let mib = 1; ; mib++) {
  leak.push(Buffer.alloc(1024 * 1024, mib & 0xff))
  if (mib % 8 === 0) console.log(`memory-hog ${agent.info.agent.name}: holding ${mib} MiB`)
  await new Promise((resolve) => setTimeout(resolve, 5))
}
