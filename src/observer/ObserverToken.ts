/**
 * The observer's action token: 128 random bits as hex, printed at boot (or taken from
 * `AGENTOS_OBSERVE_TOKEN`). Reading the page needs no token; restarting or stopping a child
 * does, as `Authorization: Bearer <token>`. Comparison takes the same time wherever the first
 * difference is, so the token cannot be guessed a character at a time.
 */
import * as Crypto from "node:crypto"

/** A fresh token: 16 random bytes as 32 hex digits. @category constructors */
export const generate = (): string => Crypto.randomBytes(16).toString("hex")

/** The shortest token accepted from the environment: short ones are guessable. */
const MIN_LENGTH = 16

/**
 * The token to use: the given one, else `AGENTOS_OBSERVE_TOKEN`, else a fresh one. Fails (with
 * the reason) on a token that is too short or holds characters a header cannot carry.
 * @category constructors
 */
export const resolve = (given: string | undefined, env: Readonly<Record<string, string | undefined>> = process.env):
  { readonly _tag: "Ok"; readonly token: string } | { readonly _tag: "Invalid"; readonly message: string } => {
  const token = given ?? (env.AGENTOS_OBSERVE_TOKEN === undefined || env.AGENTOS_OBSERVE_TOKEN === "" ? undefined : env.AGENTOS_OBSERVE_TOKEN)
  if (token === undefined) return { _tag: "Ok", token: generate() }
  const source = given === undefined ? "AGENTOS_OBSERVE_TOKEN" : "observe token"
  if (token.length < MIN_LENGTH) return { _tag: "Invalid", message: `${source}: at least ${MIN_LENGTH} characters, got ${token.length}` }
  if (!/^[A-Za-z0-9._~+/=-]+$/.test(token)) return { _tag: "Invalid", message: `${source}: only letters, digits and ._~+/=- are allowed` }
  return { _tag: "Ok", token }
}

const digest = (text: string): Buffer => Crypto.createHash("sha256").update(text, "utf8").digest()

/**
 * Whether an `Authorization` header carries the token. Both sides are hashed first, so the
 * constant-time comparison also hides the token's length.
 * @category guards
 */
export const authorizes = (header: string | undefined, token: string): boolean => {
  if (header === undefined) return false
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  if (match === null) return false
  return Crypto.timingSafeEqual(digest(match[1]!), digest(token))
}
