/**
 * A mailbox: the bounded FIFO of messages for one child's name, which outlives the child's
 * incarnations. A message taken by RECV stays "in flight" (still counted against the bounds)
 * until its receiver ACKs it; when the receiving connection ends first, its messages in flight
 * go back to the front of the queue, marked redelivered (at-least-once, FIFO per sender).
 * Everything here is synchronous, so the order requests arrive in is the order they take
 * effect; the Router wraps it in Effects.
 */

/** One message. @category models */
export interface Message {
  readonly msgId: number
  readonly from: string
  readonly payload: unknown
  /** Its payload's encoded size, what the byte bound counts. */
  readonly bytes: number
  redelivered: boolean
}

/** A mailbox's bounds. @category models */
export interface Limits {
  readonly maxMessages: number
  readonly maxBytes: number
}

/** Defaults: generous for a pipeline, small enough that a stalled consumer bounds the kernel. @category models */
export const defaults: Limits = { maxMessages: 1024, maxBytes: 16 * 1024 * 1024 }

/** A RECV waiting for a message. */
export interface Receiver {
  readonly session: number
  readonly deliver: (message: Message) => void
}

/** A SEND waiting for room. */
export interface Sender {
  readonly message: Message
  readonly admitted: () => void
  /** The mailbox was dropped: nobody will ever receive the message. */
  readonly refused: () => void
}

/** What offering a message did. @category models */
export type Offered = "delivered" | "queued" | "full"

/** A mailbox. @category models */
export class Mailbox {
  limits: Limits
  private queue: Array<Message> = []
  private head = 0
  /** Queued and in flight: what the bounds count. */
  private held = 0
  private heldBytes = 0
  private readonly inFlight = new Map<number, { readonly message: Message; readonly session: number }>()
  private readonly senders: Array<Sender> = []
  private readonly receivers: Array<Receiver> = []

  constructor(limits: Limits) {
    this.limits = limits
  }

  /** Messages waiting to be received. */
  get depth(): number {
    return this.queue.length - this.head
  }

  /** Messages received and not yet acked. */
  get unacked(): number {
    return this.inFlight.size
  }

  /** Messages and bytes the kernel holds for this mailbox (queued, in flight). */
  get usage(): { readonly messages: number; readonly bytes: number } {
    return { messages: this.held, bytes: this.heldBytes }
  }

  /** SENDs waiting for room. */
  get blockedSenders(): number {
    return this.senders.length
  }

  private fits(message: Message): boolean {
    // An empty mailbox takes any message that passed the frame limit, however large.
    return this.held === 0 || (this.held + 1 <= this.limits.maxMessages && this.heldBytes + message.bytes <= this.limits.maxBytes)
  }

  private hold(message: Message): void {
    this.held++
    this.heldBytes += message.bytes
  }

  private release(message: Message): void {
    this.held--
    this.heldBytes -= message.bytes
  }

  /** Hands the message to the first waiting RECV, else queues it. */
  private place(message: Message): "delivered" | "queued" {
    this.hold(message)
    const receiver = this.receivers.shift()
    if (receiver !== undefined) {
      this.inFlight.set(message.msgId, { message, session: receiver.session })
      receiver.deliver(message)
      return "delivered"
    }
    this.queue.push(message)
    return "queued"
  }

  /**
   * Offers a SEND's message: delivered or queued at once, or `full` — then the caller either
   * fails (nowait) or waits with `block`. Senders already waiting go first (FIFO).
   */
  offer(message: Message): Offered {
    if (this.senders.length > 0 || !this.fits(message)) return "full"
    return this.place(message)
  }

  /** Waits for room; returns the function that withdraws the wait (an interrupted SEND). */
  block(sender: Sender): () => void {
    this.senders.push(sender)
    return () => {
      const i = this.senders.indexOf(sender)
      if (i !== -1) this.senders.splice(i, 1)
      // A withdrawn head may have been what held the others back.
      this.admit()
    }
  }

  /** Takes the next message for a RECV on `session`, or undefined when there is none. */
  take(session: number): Message | undefined {
    if (this.head === this.queue.length) return undefined
    const message = this.queue[this.head]!
    this.queue[this.head++] = undefined as unknown as Message
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
    this.inFlight.set(message.msgId, { message, session })
    return message
  }

  /** Waits for a message; returns the function that withdraws the wait. */
  await(receiver: Receiver): () => void {
    this.receivers.push(receiver)
    return () => {
      const i = this.receivers.indexOf(receiver)
      if (i !== -1) this.receivers.splice(i, 1)
    }
  }

  /** ACKs a message received on `session`; false when it is not in flight there. */
  ack(msgId: number, session: number): boolean {
    const entry = this.inFlight.get(msgId)
    if (entry === undefined || entry.session !== session) return false
    this.inFlight.delete(msgId)
    this.release(entry.message)
    this.admit()
    return true
  }

  /**
   * The receiving connection `session` ended: its messages in flight go back to the front of
   * the queue, in their original order, marked redelivered. Returns how many.
   */
  requeue(session: number): number {
    const back = [...this.inFlight.values()].filter((e) => e.session === session).map((e) => e.message)
    if (back.length === 0) return 0
    back.sort((a, b) => a.msgId - b.msgId)
    for (const message of back) {
      this.inFlight.delete(message.msgId)
      message.redelivered = true
    }
    this.queue = [...back, ...this.queue.slice(this.head)]
    this.head = 0
    // A RECV may already be waiting (the next incarnation): serve it.
    while (this.receivers.length > 0 && this.head < this.queue.length) {
      const receiver = this.receivers.shift()!
      const message = this.take(receiver.session)!
      receiver.deliver(message)
    }
    return back.length
  }

  /** Drops the mailbox: every waiting SEND is refused. */
  close(): void {
    for (const sender of this.senders.splice(0)) sender.refused()
  }

  /** Lets waiting SENDs in, in order, while there is room. */
  private admit(): void {
    while (this.senders.length > 0 && this.fits(this.senders[0]!.message)) {
      const sender = this.senders.shift()!
      this.place(sender.message)
      sender.admitted()
    }
  }
}
