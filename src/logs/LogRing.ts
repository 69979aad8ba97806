/**
 * An agent's newest log lines in memory, bounded twice: by a number of lines and by their
 * bytes, the oldest going first when either is exceeded (like a journal's size cap, applied
 * per agent name). One ring per name, across incarnations, so a crashed incarnation's last
 * lines are still there after its restart. Appending is O(1) amortised: a circular array, no
 * shifting.
 */

/** One line in a ring, with its size as counted against the ring's byte bound. @category models */
export interface Sized {
  readonly time: number
  /** UTF-8 bytes of the line. */
  readonly bytes: number
}

/** A ring of entries bounded by count and bytes. @category models */
export class LogRing<A extends Sized> {
  readonly maxLines: number
  readonly maxBytes: number
  private slots: Array<A | undefined>
  private head = 0
  private count = 0
  private used = 0

  constructor(maxLines: number, maxBytes: number) {
    this.maxLines = Math.max(1, maxLines)
    this.maxBytes = Math.max(0, maxBytes)
    // Grown on demand up to maxLines: most agents print a few lines, not a thousand.
    this.slots = new Array<A | undefined>(Math.min(this.maxLines, 64))
  }

  /** Lines held now. */
  get lines(): number {
    return this.count
  }

  /** Bytes of the lines held now; at most `maxBytes`, unless one line alone is bigger. */
  get bytes(): number {
    return this.used
  }

  /**
   * Adds a line, dropping the oldest ones until both bounds hold again. A single line bigger
   * than `maxBytes` is kept alone (a ring never drops the line just added).
   */
  push(entry: A): void {
    if (this.count === this.slots.length && this.count < this.maxLines) this.grow()
    if (this.count === this.maxLines) this.dropOldest()
    this.slots[(this.head + this.count) % this.slots.length] = entry
    this.count++
    this.used += entry.bytes
    while (this.used > this.maxBytes && this.count > 1) this.dropOldest()
  }

  /**
   * The newest `n` lines (all when n is undefined) whose time is at least `since`, oldest first.
   */
  tail(n?: number, since?: number): Array<A> {
    const out: Array<A> = []
    const limit = n ?? Number.POSITIVE_INFINITY
    // Newest first until enough are found, then reversed: `n` lines cost O(n), not O(ring).
    for (let i = this.count - 1; i >= 0 && out.length < limit; i--) {
      const entry = this.slots[(this.head + i) % this.slots.length]!
      if (since === undefined || entry.time >= since) out.push(entry)
    }
    return out.reverse()
  }

  private dropOldest(): void {
    const oldest = this.slots[this.head]!
    this.slots[this.head] = undefined
    this.head = (this.head + 1) % this.slots.length
    this.count--
    this.used -= oldest.bytes
  }

  private grow(): void {
    const bigger = new Array<A | undefined>(Math.min(this.maxLines, this.slots.length * 2))
    for (let i = 0; i < this.count; i++) bigger[i] = this.slots[(this.head + i) % this.slots.length]
    this.slots = bigger
    this.head = 0
  }
}
