/**
 * The floor for bench/ipc-rtt.ts: a bare node:net server on a Unix socket answering each request
 * `{id, op, args}` with `{id, ok: true, res: args}` through the kernel's own Frame and Cbor codec
 * and its write batching (cork at a tick's first write, uncork on nextTick), nothing else. Its own
 * process, as the kernel is, so both are measured alike. `node bench/support/rawEcho.ts <socket>`
 * prints `listening on …` when ready and stops on SIGTERM.
 */
import * as Net from "node:net"
import * as Frame from "../../src/protocol/Frame.ts"

const socketPath = process.argv[2]
if (socketPath === undefined || socketPath === "") {
  process.stderr.write("usage: rawEcho.ts <socket path>\n")
  process.exit(2)
}

const serve = (socket: Net.Socket): void => {
  const decoder = new Frame.FrameDecoder()
  let corked = false
  const uncork = (): void => {
    corked = false
    socket.uncork()
  }
  const onItem = (item: Frame.FrameItem): void => {
    if (item instanceof Map) return
    if (!corked) {
      corked = true
      socket.cork()
      process.nextTick(uncork)
    }
    socket.write(Frame.encode({ id: item.id, ok: true, res: item.args }))
  }
  socket.on("data", (chunk: Buffer) => {
    if (decoder.push(chunk, onItem) !== undefined) socket.destroy()
  })
  // ECONNRESET and EPIPE end the connection; 'close' follows.
  socket.on("error", () => {})
}

const server = Net.createServer(serve)
server.on("error", (e) => {
  process.stderr.write(`rawEcho: listening on ${socketPath}: ${e.message}\n`)
  process.exit(1)
})
server.listen(socketPath, () => process.stdout.write(`listening on ${socketPath} (pid ${process.pid})\n`))

// Closing the server unlinks its socket file; open connections are cut rather than awaited.
process.on("SIGTERM", () => {
  server.close()
  process.exit(0)
})
