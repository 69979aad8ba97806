/**
 * Token buckets, pure: a bucket holds up to `capacity` tokens and refills continuously at
 * `perMs`; a request takes what it needs, and time is passed in, never read. The scheduler
 * keeps one bucket per limit (requests/min, tokens/min, a token budget) per agent and
 * globally. A bucket may go negative: tokens are taken at an estimate when a request starts
 * and corrected when the provider reports its usage, and a request larger than the whole
 * bucket may still go once the bucket is full (otherwise it could never go).
 */

/** Refill arithmetic is in floating point: a bucket this close to an amount holds it. */
const EPSILON = 1e-9

/** One bucket. @category models */
export interface Bucket {
  readonly capacity: number
  /** Tokens added per millisecond (0: never refills). */
  readonly perMs: number
  readonly tokens: number
  /** When `tokens` was last brought up to date. */
  readonly at: number
}

/** A full bucket of `capacity` tokens refilling at `perMs`. @category constructors */
export const make = (capacity: number, perMs: number, now: number): Bucket => ({ capacity, perMs, tokens: capacity, at: now })

/** A full bucket for a per-minute limit: `limit` tokens, refilled evenly over a minute. @category constructors */
export const perMinute = (limit: number, now: number): Bucket => make(limit, limit / 60_000, now)

/** The bucket brought up to `now`. @category constructors */
export const refill = (bucket: Bucket, now: number): Bucket => {
  if (now <= bucket.at) return bucket
  return { ...bucket, tokens: Math.min(bucket.capacity, bucket.tokens + (now - bucket.at) * bucket.perMs), at: now }
}

/**
 * Milliseconds until `amount` can be taken: 0 when it can be now, Infinity when the bucket
 * never refills enough. An amount over the capacity needs a full bucket.
 */
export const waitMs = (bucket: Bucket, amount: number, now: number): number => {
  const current = refill(bucket, now)
  const needed = Math.min(amount, current.capacity)
  if (current.tokens + EPSILON >= needed) return 0
  if (current.perMs <= 0) return Number.POSITIVE_INFINITY
  return Math.ceil((needed - current.tokens) / current.perMs)
}

/**
 * Milliseconds until `amount` tokens will have flowed into the bucket, however large: how long
 * a backlog of `amount` waits behind this limit (Infinity when it never refills enough).
 */
export const backlogMs = (bucket: Bucket, amount: number, now: number): number => {
  const current = refill(bucket, now)
  if (current.tokens + EPSILON >= amount) return 0
  if (current.perMs <= 0) return Number.POSITIVE_INFINITY
  return Math.ceil((amount - current.tokens) / current.perMs)
}

/** The bucket after taking `amount` at `now` (it may go negative). @category constructors */
export const take = (bucket: Bucket, amount: number, now: number): Bucket => {
  const current = refill(bucket, now)
  return { ...current, tokens: current.tokens - amount }
}

/** The bucket after giving back `amount` (a negative amount takes more), never above capacity. @category constructors */
export const giveBack = (bucket: Bucket, amount: number): Bucket => ({
  ...bucket,
  tokens: Math.min(bucket.capacity, bucket.tokens + amount)
})

/** The limits one agent (or the kernel as a whole) is under; absent ones do not limit. @category models */
export interface Limits {
  readonly requests?: Bucket | undefined
  readonly tokens?: Bucket | undefined
}

/** Milliseconds until a request of `requests` requests and `tokens` tokens fits every limit. */
export const limitsWaitMs = (limits: Limits, requests: number, tokens: number, now: number): number =>
  Math.max(
    limits.requests === undefined ? 0 : waitMs(limits.requests, requests, now),
    limits.tokens === undefined ? 0 : waitMs(limits.tokens, tokens, now)
  )

/** How long a backlog of `requests` requests and `tokens` tokens waits behind these limits. */
export const limitsBacklogMs = (limits: Limits, requests: number, tokens: number, now: number): number =>
  Math.max(
    limits.requests === undefined ? 0 : backlogMs(limits.requests, requests, now),
    limits.tokens === undefined ? 0 : backlogMs(limits.tokens, tokens, now)
  )

/** The limits after a request of `tokens` tokens starts at `now`. @category constructors */
export const limitsTake = (limits: Limits, tokens: number, now: number): Limits => ({
  requests: limits.requests === undefined ? undefined : take(limits.requests, 1, now),
  tokens: limits.tokens === undefined ? undefined : take(limits.tokens, tokens, now)
})

/** The limits after a request's token count is corrected by `delta` (actual minus estimated). @category constructors */
export const limitsCorrect = (limits: Limits, delta: number): Limits => ({
  requests: limits.requests,
  tokens: limits.tokens === undefined ? undefined : giveBack(limits.tokens, -delta)
})
