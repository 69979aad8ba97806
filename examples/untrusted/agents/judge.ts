// The untrusted demo's judge, granted WAIT, STAT and KILL: waits for the fork bomb to hit its
// pids limit, kills it and says how it ended; waits for the two probes; then stops the bait.
import { connect } from "agentos/agent"

interface Stat {
  readonly pids: { readonly current: number | null; readonly limitHits: number | null }
}
interface Exit {
  readonly reason: string
  readonly description: string
}

const kernel = await connect()
const deadline = Date.now() + 30_000
let stat = (await kernel.stat("fork-bomb")) as unknown as Stat
while ((stat.pids.limitHits ?? 0) === 0 && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 50))
  stat = (await kernel.stat("fork-bomb")) as unknown as Stat
}
const hits = stat.pids.limitHits ?? 0
// The bomb never ends by itself: once its forks are refused at its limit, it is stopped.
await kernel.kill("fork-bomb", "SIGKILL")
const bomb = (await kernel.wait("fork-bomb", 10_000)) as unknown as Exit
// A cgroup counts every refused fork; RLIMIT_NPROC (no cgroup) only shows the limit was reached.
console.log(`fork-bomb: ${hits > 0 ? `forks refused at its process limit (${stat.pids.current} tasks${hits > 1 ? `, ${hits} refusals` : ""})` : "never hit its limit"}; ${bomb.description}`)
const contained = hits > 0 && bomb.reason === "pids_limit"
console.log(contained ? "KILLED: PID limit exceeded" : `NOT CONTAINED: fork bomb (${bomb.description})`)
await kernel.wait("malicious-fs", 30_000)
await kernel.wait("malicious-net", 30_000)
// The bait may have failed by itself (its own exit is in the log); nothing is left to stop then.
await kernel.kill("bait").catch((e: { code?: string }) => {
  if (e.code !== "ENOENT") throw e
})
await kernel.close()
process.exitCode = contained ? 0 : 1
