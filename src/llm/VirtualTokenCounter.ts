/**
 * Virtual token counters (VTC), after Sheng et al., "Fairness in Serving Large Language
 * Models" (OSDI 2024): a fair queue across clients by tokens served. Each client has a counter
 * of the service it received, in tokens divided by its weight; the next request served is the
 * head of the backlogged client with the smallest counter. A client that arrives with nothing
 * queued has its counter lifted to the smallest counter among the backlogged (or, when no one
 * is, to that of the last client to leave the queue), so idling earns no credit to burst with
 * later, and a newcomer is not starved either. Pure: no clock, no effects; the scheduler
 * charges tokens as it learns them.
 *
 * The same structure with `policy: "fifo"` serves strictly in arrival order: the AIOS-style
 * baseline the benchmark compares against.
 */

/** How the next request is chosen. @category models */
export type Policy = "vtc" | "fifo"

interface Client<A> {
  counter: number
  weight: number
  readonly queue: Array<{ readonly item: A; readonly seq: number }>
}

/** A fair queue of items of type A from keyed clients. @category models */
export class VirtualTokenCounter<A> {
  readonly policy: Policy
  private readonly clients = new Map<string, Client<A>>()
  /** Clients with at least one item queued. */
  private readonly backlogged = new Set<string>()
  private lastLeft: string | undefined
  private seq = 0
  private count = 0

  constructor(options: { readonly policy?: Policy } = {}) {
    this.policy = options.policy ?? "vtc"
  }

  private client(key: string): Client<A> {
    let c = this.clients.get(key)
    if (c === undefined) {
      c = { counter: 0, weight: 1, queue: [] }
      this.clients.set(key, c)
    }
    return c
  }

  /** Items queued, over every client. */
  get size(): number {
    return this.count
  }

  /** Items a client has queued. */
  queued(key: string): number {
    return this.clients.get(key)?.queue.length ?? 0
  }

  /** The item a client would have served next. */
  head(key: string): A | undefined {
    return this.clients.get(key)?.queue[0]?.item
  }

  /** A client's counter: the service it received, in tokens per unit of weight. */
  counter(key: string): number {
    return this.clients.get(key)?.counter ?? 0
  }

  /** Sets a client's weight (default 1): it is served `weight` times the tokens of a weight-1 client. */
  setWeight(key: string, weight: number): void {
    if (!(weight > 0) || !Number.isFinite(weight)) throw new RangeError(`weight must be a positive number, got ${weight}`)
    this.client(key).weight = weight
  }

  weight(key: string): number {
    return this.clients.get(key)?.weight ?? 1
  }

  /** Queues an item; a client that had nothing queued is lifted first (VTC's counter lift). */
  enqueue(key: string, item: A): void {
    const c = this.client(key)
    if (c.queue.length === 0) {
      let floor: number | undefined
      for (const other of this.backlogged) {
        const counter = this.clients.get(other)!.counter
        if (floor === undefined || counter < floor) floor = counter
      }
      if (floor === undefined && this.lastLeft !== undefined) floor = this.clients.get(this.lastLeft)?.counter
      if (floor !== undefined && floor > c.counter) c.counter = floor
      this.backlogged.add(key)
    }
    c.queue.push({ item, seq: this.seq++ })
    this.count++
  }

  /**
   * The client whose head item is served next: the smallest counter among backlogged clients
   * that `eligible` accepts (ties: the earliest head), or the earliest head under FIFO.
   */
  peek(eligible: (key: string) => boolean = () => true): { readonly key: string; readonly item: A } | undefined {
    let best: string | undefined
    let bestCounter = 0
    let bestSeq = 0
    for (const key of this.backlogged) {
      const c = this.clients.get(key)!
      const head = c.queue[0]!
      const counter = this.policy === "fifo" ? 0 : c.counter
      if (best !== undefined && (counter > bestCounter || (counter === bestCounter && head.seq > bestSeq))) continue
      if (!eligible(key)) continue
      best = key
      bestCounter = counter
      bestSeq = head.seq
    }
    return best === undefined ? undefined : { key: best, item: this.clients.get(best)!.queue[0]!.item }
  }

  /** Takes the item `peek` would return. */
  dequeue(eligible?: (key: string) => boolean): { readonly key: string; readonly item: A } | undefined {
    const next = this.peek(eligible)
    if (next === undefined) return undefined
    this.removeHead(next.key)
    return next
  }

  private removeHead(key: string): void {
    const c = this.clients.get(key)!
    c.queue.shift()
    this.count--
    if (c.queue.length === 0) {
      this.backlogged.delete(key)
      if (this.backlogged.size === 0) this.lastLeft = key
    }
  }

  /** Removes a queued item (a cancelled request); false when it was not queued. */
  remove(key: string, item: A): boolean {
    const c = this.clients.get(key)
    if (c === undefined) return false
    const i = c.queue.findIndex((e) => e.item === item)
    if (i < 0) return false
    if (i === 0) {
      this.removeHead(key)
    } else {
      c.queue.splice(i, 1)
      this.count--
    }
    return true
  }

  /** Removes and returns every item a client has queued. */
  drain(key: string): Array<A> {
    const c = this.clients.get(key)
    if (c === undefined) return []
    const items = c.queue.map((e) => e.item)
    while (c.queue.length > 0) this.removeHead(key)
    return items
  }

  /** Forgets a client's counter and weight, dropping anything it still has queued. */
  forget(key: string): void {
    this.drain(key)
    this.clients.delete(key)
    if (this.lastLeft === key) this.lastLeft = undefined
  }

  /** Charges a client for `tokens` tokens of service (negative: a refund or a correction). */
  charge(key: string, tokens: number): void {
    const c = this.client(key)
    c.counter += tokens / c.weight
  }
}
