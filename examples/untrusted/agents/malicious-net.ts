// An untrusted agent probing the network: TCP to the host's loopback, the kernel's socket by
// path, DNS, and a host abstract Unix socket. It prints one REPORT line.
import * as Dns from "node:dns/promises"
import * as Net from "node:net"

const [tcpPort, kernelSocket, abstractName] = process.argv.slice(2)

const connect = (what: string, options: Net.NetConnectOpts) =>
  new Promise<{ what: string; allowed: boolean; detail: string }>((resolve) => {
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

const dns = async () => {
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
console.log(`REPORT ${JSON.stringify({ agent: "malicious-net", results })}`)
