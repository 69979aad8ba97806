/**
 * The router: every mailbox of the kernel, by child name, and SEND / RECV / ACK on them. A name
 * is reachable while its agent runs, or while its supervisor will start it again (the tree shows
 * it restarting or in backoff): its mailbox keeps filling meanwhile. A client that named itself
 * at HELLO (a script, the seed's Python examples) is reachable by that name while connected. A name nobody will answer
 * to (unknown, or a temporary child that has ended) is ENOENT, and its mailbox is dropped.
 */
import { Context, Effect, Layer, PubSub } from "effect"
import { Agents } from "../process/Agents.ts"
import { Events } from "../process/Events.ts"
import { KernelConfig } from "../process/KernelConfig.ts"
import * as KernelError from "../process/KernelError.ts"
import * as Cbor from "../protocol/Cbor.ts"
import { Supervision } from "../supervision/Supervision.ts"
import { isActive } from "../supervision/machines/TreeState.ts"
import { findNode, type MailboxFigures } from "../protocol/Rows.ts"
import { isAlive } from "../process/AgentStatus.ts"
import * as Mailbox from "./Mailbox.ts"

/** Bytes a RECV reply adds around the payload (ids, keys, the sender's name aside). */
const REPLY_OVERHEAD = 96

/** A message as RECV returns it. @category models */
export interface Received {
  readonly msgId: number
  readonly from: string
  /** The Cbor.Raw SEND was given: its sender's bytes, which RECV writes out as they are. */
  readonly payload: unknown
  readonly redelivered: boolean
}

export type { MailboxFigures } from "../protocol/Rows.ts"

/** One mailbox's figures, for STAT and metrics. @category models */
export interface MailboxStats {
  readonly name: string
  readonly depth: number
  readonly unacked: number
  readonly bytes: number
  readonly blockedSenders: number
}

const received = (m: Mailbox.Message): Received => ({ msgId: m.msgId, from: m.from, payload: m.payload, redelivered: m.redelivered })

/** The router service. @category services */
export class Router extends Context.Service<Router, {
  /** Puts a message (its payload as its sender wrote it) in `to`'s mailbox; waits for room unless `nowait` (then EAGAIN). */
  readonly send: (from: string, to: string, payload: Cbor.Raw, nowait: boolean) => Effect.Effect<{ readonly msgId: number }, KernelError.KernelError>
  /** Takes the next message of `name`'s mailbox for the connection `session`; ETIMEDOUT after `timeoutMs`. */
  readonly recv: (name: string, session: number, onClose: (f: () => void) => void, timeoutMs: number | undefined) => Effect.Effect<Received, KernelError.KernelError>
  /** Acknowledges a message received on `session`; ENOENT when it is not one of its. */
  readonly ack: (name: string, session: number, msgId: number) => Effect.Effect<void, KernelError.KernelError>
  /** A client named itself at HELLO: its name is reachable (it has a mailbox) until it closes. */
  readonly registerClient: (name: string, onClose: (f: () => void) => void) => void
  /** Every mailbox's figures. */
  readonly stats: () => ReadonlyArray<MailboxStats>
  /** One name's mailbox figures, or null when it has none (no SEND to it or RECV by it yet, or dropped). */
  readonly mailbox: (name: string) => MailboxFigures | null
  /** Messages SEND has put in a mailbox since the kernel started (a redelivery is not a new one). */
  readonly routed: () => number
}>()("agentos/ipc/Router") {
  /** @category layers */
  static readonly layer = Layer.effect(Router, Effect.gen(function* () {
    const config = yield* KernelConfig
    const agents = yield* Agents
    const supervision = yield* Supervision
    const mailboxes = new Map<string, Mailbox.Mailbox>()
    // A session registers its close hook once per mailbox it receives from.
    const watched = new Set<string>()
    let nextMsgId = 1
    let routed = 0

    const limitsOf = (name: string): Mailbox.Limits => {
      const own = agents.byName(name)?.spec.mailbox
      return { maxMessages: own?.maxMessages ?? Mailbox.defaults.maxMessages, maxBytes: own?.maxBytes ?? Mailbox.defaults.maxBytes }
    }

    // Named clients connected now, by name (one name may be held by several connections).
    const clients = new Map<string, number>()
    const registerClient = (name: string, onClose: (f: () => void) => void) => {
      clients.set(name, (clients.get(name) ?? 0) + 1)
      onClose(() => {
        const left = (clients.get(name) ?? 1) - 1
        if (left > 0) clients.set(name, left)
        else clients.delete(name)
      })
    }

    const reachable = (name: string): boolean => {
      if (clients.has(name)) return true
      const agent = agents.byName(name)
      if (agent !== undefined && isAlive(agent.status)) return true
      const node = findNode(supervision.tree(), (n) => n.kind === "agent" && n.name === name)
      return node !== undefined && isActive(node.state)
    }

    const unreachable = (to: string) =>
      new KernelError.NotFound({ message: `send: no child named ${JSON.stringify(to)} to deliver to (unknown, or ended for good)` })

    const drop = (name: string) => {
      mailboxes.get(name)?.close()
      mailboxes.delete(name)
    }

    // A child that ends for good takes its mailbox with it: SENDs still waiting for room there
    // get ENOENT instead of waiting forever. Checked after each end, once its supervisor has had
    // its turn to decide (it reports the end before it decides), and every second for mailboxes
    // with waiting senders, whatever the order things happened in.
    const sweep = (onlyBlocked: boolean) =>
      Effect.sync(() => {
        for (const [name, mailbox] of [...mailboxes]) {
          if ((!onlyBlocked || mailbox.blockedSenders > 0) && !reachable(name)) drop(name)
        }
      })
    const events = yield* Events
    const ends = yield* PubSub.subscribe(events.pubsub)
    yield* Effect.forkScoped(Effect.forever(PubSub.take(ends).pipe(Effect.flatMap((event) =>
      event.type === "agentos.child.exited" || event.type === "agentos.child.stopped" || event.type === "agentos.agent.exited"
        ? Effect.yieldNow.pipe(Effect.andThen(sweep(false)))
        : Effect.void
    ))))
    yield* Effect.forkScoped(Effect.forever(Effect.sleep("1 second").pipe(Effect.andThen(sweep(true)))))

    const mailboxOf = (name: string): Mailbox.Mailbox => {
      let mailbox = mailboxes.get(name)
      if (mailbox === undefined) {
        mailbox = new Mailbox.Mailbox(limitsOf(name))
        mailboxes.set(name, mailbox)
      }
      return mailbox
    }

    const send = (from: string, to: string, payload: Cbor.Raw, nowait: boolean) =>
      Effect.suspend((): Effect.Effect<{ readonly msgId: number }, KernelError.KernelError> => {
        if (!reachable(to)) {
          drop(to)
          return Effect.fail(unreachable(to))
        }
        // What the bounds count: the payload's bytes, as they will go out.
        const bytes = payload.length
        if (bytes + from.length + REPLY_OVERHEAD > config.maxFrame) {
          return Effect.fail(new KernelError.TooBig({ message: `send to ${to}: a ${bytes}-byte payload does not fit a ${config.maxFrame}-byte frame` }))
        }
        const mailbox = mailboxOf(to)
        const message: Mailbox.Message = { msgId: nextMsgId++, from, payload, bytes, redelivered: false }
        // Decided synchronously, so SENDs take effect in the order they arrive (FIFO per sender).
        if (mailbox.offer(message) !== "full") {
          routed++
          return Effect.succeed({ msgId: message.msgId })
        }
        if (nowait) {
          return Effect.fail(new KernelError.TryAgain({
            message: `send to ${to}: its mailbox is full (${mailbox.usage.messages} messages, ${mailbox.usage.bytes} bytes held)`
          }))
        }
        return Effect.callback<{ readonly msgId: number }, KernelError.KernelError>((resume) => {
          const withdraw = mailbox.block({
            message,
            admitted: () => {
              routed++
              resume(Effect.succeed({ msgId: message.msgId }))
            },
            refused: () => resume(Effect.fail(unreachable(to)))
          })
          return Effect.sync(withdraw)
        })
      })

    const recv = (name: string, session: number, onClose: (f: () => void) => void, timeoutMs: number | undefined) =>
      Effect.suspend((): Effect.Effect<Received, KernelError.KernelError> => {
        const mailbox = mailboxOf(name)
        const key = `${session}:${name}`
        if (!watched.has(key)) {
          watched.add(key)
          // Whatever this connection received and did not ack goes to the next receiver.
          onClose(() => {
            watched.delete(key)
            mailboxes.get(name)?.requeue(session)
          })
        }
        const now = mailbox.take(session)
        if (now !== undefined) return Effect.succeed(received(now))
        if (timeoutMs === 0) return Effect.fail(new KernelError.TimedOut({ message: `recv: no message for ${name}` }))
        const waiting = Effect.callback<Received>((resume) => {
          const withdraw = mailbox.await({ session, deliver: (m) => resume(Effect.succeed(received(m))) })
          return Effect.sync(withdraw)
        })
        return timeoutMs === undefined
          ? waiting
          : waiting.pipe(
            Effect.timeoutOrElse({
              duration: timeoutMs,
              orElse: () => Effect.fail(new KernelError.TimedOut({ message: `recv: no message for ${name} within ${timeoutMs} ms` }))
            })
          )
      })

    const ack = (name: string, session: number, msgId: number) =>
      Effect.suspend(() =>
        mailboxes.get(name)?.ack(msgId, session) === true
          ? Effect.void
          : Effect.fail(new KernelError.NotFound({ message: `ack: message ${msgId} is not one ${name} received on this connection and has not acked` })))

    const stats = () =>
      [...mailboxes].map(([name, m]) => ({ name, depth: m.depth, unacked: m.unacked, bytes: m.usage.bytes, blockedSenders: m.blockedSenders }))

    const mailbox = (name: string): MailboxFigures | null => {
      const m = mailboxes.get(name)
      return m === undefined ? null : { depth: m.depth, inFlight: m.unacked }
    }

    return Router.of({ send, recv, ack, registerClient, stats, mailbox, routed: () => routed })
  }))
}
