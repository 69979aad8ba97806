/**
 * The tiny agent of bench/restart.ts: says HELLO over fd 3 with the agent SDK (`connect()` from
 * agentos/agent), then idles until it is killed. Run by the kernel as a tree's agent, and by the
 * benchmark's plain respawn loop with the same fd 3, so both start the very same program.
 */
import { connect } from "agentos/agent"

await connect()
setInterval(() => {}, 1 << 30)
