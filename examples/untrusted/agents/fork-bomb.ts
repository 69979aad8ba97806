// An untrusted agent that forks without end, retrying whenever a fork is refused. Its cgroup's
// pids.max stops it from ever holding more processes; the kernel sees the limit hit.
import * as ChildProcess from "node:child_process"

let started = 0
let refused = 0
console.log("fork-bomb: forking")
for (;;) {
  const child = ChildProcess.spawn("sleep", ["1000"], { stdio: "ignore" })
  child.on("spawn", () => started++)
  child.on("error", () => refused++)
  await new Promise((resolve) => setImmediate(resolve))
  if ((started + refused) % 200 === 0) console.log(`fork-bomb: ${started} forks, ${refused} refused`)
}
