/**
 * The observer's action token: 128 random bits as hex unless one is given; only an exact
 * `Authorization: Bearer <token>` authorizes; a token from the environment must be long and
 * header-safe.
 */
import { describe, expect, it } from "vitest"
import * as ObserverToken from "../../src/observer/ObserverToken.ts"

describe("ObserverToken", () => {
  it("generates 32 hex digits, different each time", () => {
    const a = ObserverToken.generate()
    const b = ObserverToken.generate()
    expect(a).toMatch(/^[0-9a-f]{32}$/)
    expect(a).not.toBe(b)
  })

  it("resolve: the given token, else AGENTOS_OBSERVE_TOKEN, else a fresh one", () => {
    expect(ObserverToken.resolve("given-token-0123456789", { AGENTOS_OBSERVE_TOKEN: "env-token-0123456789" }))
      .toEqual({ _tag: "Ok", token: "given-token-0123456789" })
    expect(ObserverToken.resolve(undefined, { AGENTOS_OBSERVE_TOKEN: "env-token-0123456789" }))
      .toEqual({ _tag: "Ok", token: "env-token-0123456789" })
    const fresh = ObserverToken.resolve(undefined, {})
    expect(fresh._tag === "Ok" && /^[0-9a-f]{32}$/.test(fresh.token)).toBe(true)
  })

  it("resolve refuses a short or header-unsafe token from the environment", () => {
    expect(ObserverToken.resolve(undefined, { AGENTOS_OBSERVE_TOKEN: "short" }))
      .toEqual({ _tag: "Invalid", message: "AGENTOS_OBSERVE_TOKEN: at least 16 characters, got 5" })
    expect(ObserverToken.resolve(undefined, { AGENTOS_OBSERVE_TOKEN: "has spaces in it, sixteen+" })._tag).toBe("Invalid")
  })

  it("authorizes only the exact bearer token", () => {
    const token = ObserverToken.generate()
    expect(ObserverToken.authorizes(`Bearer ${token}`, token)).toBe(true)
    expect(ObserverToken.authorizes(`bearer ${token}`, token)).toBe(true)
    expect(ObserverToken.authorizes(undefined, token)).toBe(false)
    expect(ObserverToken.authorizes("", token)).toBe(false)
    expect(ObserverToken.authorizes(token, token)).toBe(false)
    expect(ObserverToken.authorizes(`Basic ${token}`, token)).toBe(false)
    expect(ObserverToken.authorizes(`Bearer ${token}0`, token)).toBe(false)
    expect(ObserverToken.authorizes(`Bearer ${token.slice(0, -1)}`, token)).toBe(false)
    expect(ObserverToken.authorizes(`Bearer ${ObserverToken.generate()}`, token)).toBe(false)
  })
})
