// An untrusted agent probing the network: TCP to the host's loopback, the kernel's socket by
// path, DNS, and a host abstract Unix socket (the TCP and abstract listeners are the `bait` agent's).
// It prints what each attempt got, then its verdict.
import * as Dns from "node:dns/promises"
import * as Net from "node:net"
import { type Attempt, report } from "./verdict.ts"

const [tcpPort, kernelSocket, abstractName] = process.argv.slice(2)

const connectOnce = (what: string, options: Net.NetConnectOpts) =>
  new Promise<Attempt>((resolve) => {
    const socket = Net.connect(options)
    const timer = setTimeout(() => {
      socket.destroy()
      resolve({ what, allowed: false, detail: "timed out" })
    }, 2000)
    socket.once("connect", () => {
      clearTimeout(timer)
      socket.destroy()
      resolve({ what, allowed: true, detail: "connected" })
    })
    socket.once("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      resolve({ what, allowed: false, detail: e.code ?? e.message })
    })
  })

// The bait may still be starting: a refusal is retried for 2 s, so only a sandbox refuses.
const connect = async (what: string, options: Net.NetConnectOpts): Promise<Attempt> => {
  const deadline = Date.now() + 2000
  for (;;) {
    const attempt = await connectOnce(what, options)
    if (attempt.allowed || Date.now() > deadline) return attempt
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

const dns = async (): Promise<Attempt> => {
  try {
    const addresses = await Dns.lookup("example.com")
    return { what: "DNS lookup example.com", allowed: true, detail: addresses.address }
  } catch (e) {
    return { what: "DNS lookup example.com", allowed: false, detail: (e as NodeJS.ErrnoException).code ?? String(e) }
  }
}

const results = [
  await connect(`TCP 127.0.0.1:${tcpPort}`, { host: "127.0.0.1", port: Number(tcpPort) }),
  await connect(`kernel socket ${kernelSocket}`, { path: kernelSocket! }),
  await connect(`abstract socket @${abstractName}`, { path: `\0${abstractName}` }),
  await dns()
]
report("malicious-net", "network access", results)
