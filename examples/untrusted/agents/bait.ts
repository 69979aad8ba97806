// The untrusted demo's bait: listeners on the host's network (this agent alone is given
// `network: "host"`), a TCP port on 127.0.0.1 and an abstract Unix socket, which the host can
// reach. It checks that it can reach them itself, so a refusal seen by malicious-net means
// the sandbox, not a missing listener. Without namespaces (Landlock, situation C) no agent may
// make a Unix socket at all, this one included: it says so and keeps the TCP listener. Runs
// until stopped.
import * as Net from "node:net"

const [port = "47613", abstractName = "agentos-untrusted-bait"] = process.argv.slice(2)

const listen = (options: Net.ListenOptions) =>
  new Promise<Net.Server>((resolve, reject) => {
    const server = Net.createServer((s) => {
      s.on("error", () => {})
      s.end("bait\n")
    })
    server.once("error", reject)
    server.listen(options, () => resolve(server))
  })
const reachable = (options: Net.NetConnectOpts) =>
  new Promise<boolean>((resolve) => {
    const socket = Net.connect(options, () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

await listen({ host: "127.0.0.1", port: Number(port) })
const unix = await listen({ path: `\0${abstractName}` }).then(() => undefined, (e: NodeJS.ErrnoException) => e.code ?? e.message)
const tcp = await reachable({ host: "127.0.0.1", port: Number(port) })
const abstract = unix === undefined && await reachable({ path: `\0${abstractName}` })
console.log(`bait: listening on 127.0.0.1:${port} (${tcp ? "reachable" : "NOT reachable"} from the host) and ${unix === undefined ? `@${abstractName} (${abstract ? "reachable" : "NOT reachable"})` : `not on @${abstractName} (this sandbox may make no Unix socket: ${unix})`}`)
