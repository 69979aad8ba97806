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

/** One line of /etc/subuid or /etc/subgid: `user:first:count`. @category models */
export interface Subordinate {
  /** The user's name or uid, as written. */
  readonly owner: string
  readonly first: number
  readonly count: number
}

/** Parses /etc/subuid or /etc/subgid text; malformed lines are skipped, as shadow's tools do. @category constructors */
export const parseSubordinate = (text: string): ReadonlyArray<Subordinate> =>
  text.split("\n").map((line) => line.trim()).filter((line) => line !== "" && !line.startsWith("#")).flatMap((line) => {
    const [owner, first, count] = line.split(":")
    const f = Number(first)
    const c = Number(count)
    return owner && Number.isSafeInteger(f) && Number.isSafeInteger(c) && f > 0 && c > 0 ? [{ owner, first: f, count: c }] : []
  })

const overlaps = (a: { first: number; last: number }, b: Subordinate) => a.first < b.first + b.count && b.first <= a.last

/**
 * The root kernel's range for agents: `preferred` when no user's /etc/subuid or /etc/subgid
 * range overlaps it (those uids are that user's, through newuidmap), else, when `preferred` is
 * the default, the next block of the same size above it that overlaps none. An explicitly
 * configured range that overlaps is refused: it would hand an agent a uid another user owns.
 * @category constructors
 */
export const chooseRange = (
  preferred: { readonly first: number; readonly last: number },
  taken: ReadonlyArray<Subordinate>,
  explicit: boolean
): { readonly first: number; readonly last: number } | string => {
  const size = preferred.last - preferred.first + 1
  let range = { first: preferred.first, last: preferred.last }
  for (let tries = 0; tries < 4096; tries++) {
    const clash = taken.find((t) => overlaps(range, t))
    if (clash === undefined) return range
    if (explicit) {
      return `the agents' uid range ${preferred.first}–${preferred.last} overlaps ${clash.owner}'s subordinate ids ${clash.first}–${clash.first + clash.count - 1} (/etc/subuid, /etc/subgid): choose another range`
    }
    const next = clash.first + clash.count
    range = { first: next, last: next + size - 1 }
    if (range.last >= 2 ** 31 - 2) break
  }
  return `no free range of ${size} uids for agents: /etc/subuid and /etc/subgid hand out every one`
}
