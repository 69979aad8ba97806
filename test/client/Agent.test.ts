/**
 * The agent SDK's connect(): over the socket path from outside, over AGENTOS_FD when the
 * kernel spawned the agent (here: a real child process given an adopted socketpair end as fd 3).
 */
import * as ChildProcess from "node:child_process"
import * as Net from "node:net"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { connect } from "../../src/client/Agent.ts"
import * as PeerCredentials from "../../src/sandbox/PeerCredentials.ts"
import { startKernel, type TestKernel } from "../support/kernel.ts"
import * as Cleanups from "../support/cleanups.ts"

const cleanups = Cleanups.perTest()
const kernel = async (): Promise<TestKernel> => {
  const k = await startKernel()
  cleanups.push(() => k.stop())
  return k
}

describe("agentos/agent connect()", () => {
  it("connects over the socket path, says HELLO with its name, and calls", async () => {
    const k = await kernel()
    const agent = await connect({ socket: k.socketPath, name: "outside" })
    cleanups.push(() => agent.close())
    expect(agent.info.agent).toMatchObject({ name: "outside", kind: "client" })
    expect(await agent.noop({ x: 1 })).toEqual({ x: 1 })
    await expect(agent.send("nobody", "hi")).rejects.toMatchObject({ code: "ENOENT" })
  })

  it("a child process connects over its inherited fd 3 (AGENTOS_FD=3)", async () => {
    const k = await kernel()
    const [kernelEnd, agentEnd] = PeerCredentials.socketPair()
    await k.adopt(new Net.Socket({ fd: kernelEnd, readable: true, writable: true }), {
      pid: process.pid,
      uid: process.getuid!(),
      gid: process.getgid!()
    })
    const agentModule = Path.resolve(import.meta.dirname, "../../src/client/Agent.ts")
    const script = `import { connect } from ${JSON.stringify(agentModule)}
      const agent = await connect()
      const echoed = await agent.noop("from fd 3")
      console.log(JSON.stringify({ kind: agent.info.agent.kind, echoed }))
      await agent.close()`
    const out = await new Promise<string>((resolve, reject) => {
      const child = ChildProcess.spawn(process.execPath, ["--input-type=module", "-e", script], {
        env: { ...process.env, AGENTOS_FD: "3", AGENTOS_SOCKET: "/nonexistent/must-not-be-used.sock" },
        stdio: ["ignore", "pipe", "inherit", agentEnd]
      })
      let stdout = ""
      child.stdout!.on("data", (d) => (stdout += d))
      child.on("exit", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`agent exited ${code}`))))
    })
    PeerCredentials.closeFd(agentEnd)
    expect(JSON.parse(out)).toEqual({ kind: "agent", echoed: "from fd 3" })
  })
})
