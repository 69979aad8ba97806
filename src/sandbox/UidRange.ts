/**
 * The pool of host uids handed to agents, one per live agent, like systemd's DynamicUser. Each
 * kernel starts at a random point of the range so two kernels on one machine rarely meet; a uid
 * goes back to the pool when its agent has ended and its sandbox is gone.
 */

/** A uid pool. @category models */
export class UidRange {
  readonly first: number
  readonly last: number
  private readonly inUse = new Set<number>()
  private cursor: number

  constructor(first: number, last: number, start: number = first + Math.floor(Math.random() * (last - first + 1))) {
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || first < 1 || last < first) {
      throw new RangeError(`invalid uid range ${first}–${last}`)
    }
    this.first = first
    this.last = last
    this.cursor = start
  }

  /** A free uid (`preferred` when it is free), or undefined when every uid is taken. */
  allocate(preferred?: number): number | undefined {
    if (preferred !== undefined && preferred >= this.first && preferred <= this.last && !this.inUse.has(preferred)) {
      this.inUse.add(preferred)
      return preferred
    }
    const size = this.last - this.first + 1
    for (let i = 0; i < size; i++) {
      const uid = this.first + ((this.cursor - this.first + i) % size)
      if (!this.inUse.has(uid)) {
        this.inUse.add(uid)
        this.cursor = uid + 1 > this.last ? this.first : uid + 1
        return uid
      }
    }
    return undefined
  }

  /** Returns a uid to the pool. */
  release(uid: number): void {
    this.inUse.delete(uid)
  }

  /** Uids handed out and not yet released. */
  get allocated(): number {
    return this.inUse.size
  }
}
