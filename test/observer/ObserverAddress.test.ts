/**
 * `--observe [host:]port`: a bare port binds loopback, a named host is kept, IPv6 goes in
 * brackets, port 0 is allowed (ephemeral); everything else fails with the part that is wrong.
 */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import * as ObserverAddress from "../../src/observer/ObserverAddress.ts"

const ok = (text: string) => {
  const parsed = ObserverAddress.parse(text)
  if (Result.isFailure(parsed)) throw new Error(`expected ${text} to parse: ${parsed.failure}`)
  return parsed.success
}
const problem = (text: string) => {
  const parsed = ObserverAddress.parse(text)
  if (!Result.isFailure(parsed)) throw new Error(`expected ${text} to be refused, got ${JSON.stringify(parsed.success)}`)
  return parsed.failure
}

describe("ObserverAddress.parse", () => {
  it("a bare port binds 127.0.0.1", () => {
    expect(ok("8080")).toEqual({ host: "127.0.0.1", port: 8080 })
    expect(ok(" 9000 ")).toEqual({ host: "127.0.0.1", port: 9000 })
  })

  it("port 0 asks for an ephemeral port", () => {
    expect(ok("127.0.0.1:0")).toEqual({ host: "127.0.0.1", port: 0 })
    expect(ok("0")).toEqual({ host: "127.0.0.1", port: 0 })
  })

  it("keeps a named host: IPv4, a host name, IPv6 in brackets", () => {
    expect(ok("0.0.0.0:8080")).toEqual({ host: "0.0.0.0", port: 8080 })
    expect(ok("localhost:65535")).toEqual({ host: "localhost", port: 65535 })
    expect(ok("observer.internal:80")).toEqual({ host: "observer.internal", port: 80 })
    expect(ok("[::1]:8080")).toEqual({ host: "::1", port: 8080 })
    expect(ok("[::]:0")).toEqual({ host: "::", port: 0 })
  })

  it("refuses a bad port, naming it", () => {
    expect(problem("")).toMatch(/empty/)
    expect(problem("abc")).toMatch(/port "abc" is not an integer 0–65535/)
    expect(problem("65536")).toMatch(/port 65536 is out of range/)
    expect(problem("127.0.0.1:")).toMatch(/port "" is not an integer/)
    expect(problem("127.0.0.1:-1")).toMatch(/port "-1"/)
    expect(problem("127.0.0.1:80x")).toMatch(/port "80x"/)
    expect(problem("8080.5")).toMatch(/port "8080.5"/)
  })

  it("refuses a bad host, naming it", () => {
    expect(problem(":8080")).toMatch(/host before ':' is empty/)
    expect(problem("::1:8080")).toMatch(/IPv6 host in brackets/)
    expect(problem("[::1]8080")).toMatch(/followed by :port/)
    expect(problem("[nothost]:8080")).toMatch(/"nothost" is not an IPv6 address/)
    expect(problem("bad_host!:8080")).toMatch(/host "bad_host!" is not an IP address or host name/)
  })

  it("every failure gives the expected form first, then the problem", () => {
    expect(problem("abc")).toBe('[host:]port, e.g. 8080, 127.0.0.1:0 or 0.0.0.0:8080; port "abc" is not an integer 0–65535')
  })
})

describe("ObserverAddress helpers", () => {
  it("url puts IPv6 in brackets", () => {
    expect(ObserverAddress.url({ host: "127.0.0.1", port: 8080 })).toBe("http://127.0.0.1:8080/")
    expect(ObserverAddress.url({ host: "::1", port: 80 })).toBe("http://[::1]:80/")
  })

  it("isLoopback knows 127/8, ::1 and localhost only", () => {
    expect(["127.0.0.1", "127.1.2.3", "::1", "localhost"].every(ObserverAddress.isLoopback)).toBe(true)
    expect(["0.0.0.0", "::", "10.0.0.1", "example.com"].some(ObserverAddress.isLoopback)).toBe(false)
  })
})
