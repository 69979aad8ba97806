/**
 * The floor for bench/ipc.ts: a bare node:net relay on a Unix socket speaking the kernel's SEND /
 * RECV / ACK ops through the kernel's own Frame and Cbor codec and write batching, so the same
 * agent SDK drives it unchanged. A connection names itself at HELLO; SEND hands the payload to a
 * RECV of the named connection waiting for one, else appends it to a plain FIFO for that name;
 * ACK is answered and forgotten. No mailboxes: no acks kept, no redelivery, no byte bounds, no
 * reachability. The one thing kept is the kernel's default count bound (a SEND waits while its
 * FIFO holds 1024 messages), so a fast sender cannot grow the relay's memory without limit.
 * `node bench/support/rawRelay.ts <socket>` prints `listening on …` when ready; the socket is
 * made connectable by any uid (the bench's agents run as their own). Stops on SIGTERM.
 */
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Frame from "../../src/protocol/Frame.ts"
import { Op } from "../../src/protocol/Op.ts"

const socketPath = process.argv[2]
if (socketPath === undefined || socketPath === "") {
  process.stderr.write("usage: rawRelay.ts <socket path>\n")
  process.exit(2)
}

/** The kernel's default mailbox count bound (src/ipc/Mailbox.ts). */
const MAX_QUEUED = 1024

interface Peer {
  /** Replies to this connection, batched per tick. */
  readonly reply: (id: unknown, res: unknown) => void
}

interface Queued {
  readonly msgId: number
  readonly from: string
  readonly payload: unknown
}

/** One name's FIFO: messages waiting, RECVs waiting (connection and request id), SENDs waiting for room. */
interface Box {
  readonly messages: Array<Queued>
  readonly receivers: Array<{ readonly peer: Peer; readonly id: unknown }>
  readonly senders: Array<{ readonly message: Queued; readonly peer: Peer; readonly id: unknown }>
}

const boxes = new Map<string, Box>()
const boxOf = (name: string): Box => {
  let box = boxes.get(name)
  if (box === undefined) {
    box = { messages: [], receivers: [], senders: [] }
    boxes.set(name, box)
  }
  return box
}
let nextMsgId = 1

const deliver = (receiver: { readonly peer: Peer; readonly id: unknown }, m: Queued): void =>
  receiver.peer.reply(receiver.id, { msgId: m.msgId, from: m.from, payload: m.payload, redelivered: false })

const serve = (socket: Net.Socket): void => {
  const decoder = new Frame.FrameDecoder()
  let corked = false
  let name = `client-${socket.remotePort ?? Math.random()}`
  const uncork = (): void => {
    corked = false
    socket.uncork()
  }
  const peer: Peer = {
    reply: (id, res) => {
      if (socket.destroyed) return
      if (!corked) {
        corked = true
        socket.cork()
        process.nextTick(uncork)
      }
      socket.write(Frame.encode({ id, ok: true, res }))
    }
  }
  const onItem = (item: Frame.FrameItem): void => {
    if (item instanceof Map) return
    const args = (item.args ?? {}) as Record<string, unknown>
    switch (item.op) {
      case Op.HELLO: {
        if (typeof args.name === "string") name = args.name
        return peer.reply(item.id, { agent: { name } })
      }
      case Op.SEND: {
        const box = boxOf(String(args.to))
        const message: Queued = { msgId: nextMsgId++, from: name, payload: args.payload }
        const receiver = box.receivers.shift()
        if (receiver !== undefined) deliver(receiver, message)
        else if (box.messages.length >= MAX_QUEUED || box.senders.length > 0) return void box.senders.push({ message, peer, id: item.id })
        else box.messages.push(message)
        return peer.reply(item.id, { msgId: message.msgId })
      }
      case Op.RECV: {
        const box = boxOf(name)
        const message = box.messages.shift()
        if (message === undefined) return void box.receivers.push({ peer, id: item.id })
        deliver({ peer, id: item.id }, message)
        // Room again: the first waiting SEND goes in.
        const sender = box.senders.shift()
        if (sender !== undefined) {
          box.messages.push(sender.message)
          sender.peer.reply(sender.id, { msgId: sender.message.msgId })
        }
        return
      }
      case Op.ACK:
        return peer.reply(item.id, {})
      default:
        return peer.reply(item.id, args)
    }
  }
  socket.on("data", (chunk: Buffer) => {
    if (decoder.push(chunk, onItem) !== undefined) socket.destroy()
  })
  // A closed receiver's waiting RECVs are dropped; ECONNRESET and EPIPE end the connection.
  socket.on("close", () => {
    for (const box of boxes.values()) {
      for (let i = box.receivers.length - 1; i >= 0; i--) if (box.receivers[i]!.peer === peer) box.receivers.splice(i, 1)
    }
  })
  socket.on("error", () => {})
}

const server = Net.createServer(serve)
server.on("error", (e) => {
  process.stderr.write(`rawRelay: listening on ${socketPath}: ${e.message}\n`)
  process.exit(1)
})
server.listen(socketPath, () => {
  Fs.chmodSync(socketPath, 0o777)
  process.stdout.write(`listening on ${socketPath} (pid ${process.pid})\n`)
})

// Closing the server unlinks its socket file; open connections are cut rather than awaited.
process.on("SIGTERM", () => {
  server.close()
  process.exit(0)
})
