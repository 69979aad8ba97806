// Forks `sleep` children as fast as it can, 300 tries, counting those that started and those
// refused, then reports and exits (its sandbox's end takes the sleepers with it).
import * as ChildProcess from "node:child_process"

let started = 0
let refused = 0
for (let i = 0; i < 300; i++) {
  await new Promise<void>((resolve) => {
    const child = ChildProcess.spawn("sleep", ["60"], { stdio: "ignore" })
    child.once("spawn", () => {
      started++
      resolve()
    })
    child.once("error", () => {
      refused++
      resolve()
    })
  })
}
console.log(`REPORT ${JSON.stringify({ started, refused })}`)
