/**
 * Where the web observer listens: `agentos boot --observe [host:]port`. A bare port binds
 * 127.0.0.1, so the observer is reachable from this machine only unless a host is named;
 * port 0 asks the system for a free port (the real one is printed at boot). IPv6 hosts are
 * written in brackets, as in a URL: `[::1]:8080`.
 */
import { Result } from "effect"
import * as Net from "node:net"

/** A host and port to listen on. @category models */
export interface ObserverAddress {
  readonly host: string
  readonly port: number
}

/** The host a bare port binds: loopback only. @category models */
export const defaultHost = "127.0.0.1"

const usage = "[host:]port, e.g. 8080, 127.0.0.1:0 or 0.0.0.0:8080"

const hostname = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/

/**
 * Parses `[host:]port`; the failure reads after "expected": the form, then what is wrong with
 * which part (the CLI reports it under the flag's name and the value given).
 * @category constructors
 */
export const parse = (text: string): Result.Result<ObserverAddress, string> => {
  const input = text.trim()
  const fail = (problem: string) => Result.fail(`${usage}; ${problem}`)
  if (input === "") return fail("empty")
  let host = defaultHost
  let portText = input
  if (input.startsWith("[")) {
    const match = /^\[([^\]]*)\]:(.*)$/.exec(input)
    if (match === null) return fail("an IPv6 host in brackets must be followed by :port")
    host = match[1]!
    portText = match[2]!
    if (Net.isIPv6(host) === false) return fail(`host ${JSON.stringify(host)} is not an IPv6 address`)
  } else if (input.includes(":")) {
    const colon = input.lastIndexOf(":")
    host = input.slice(0, colon)
    portText = input.slice(colon + 1)
    if (host.includes(":")) return fail("write an IPv6 host in brackets, e.g. [::1]:8080")
    if (host === "") return fail("the host before ':' is empty")
    if (Net.isIPv4(host) === false && hostname.test(host) === false) return fail(`host ${JSON.stringify(host)} is not an IP address or host name`)
  }
  if (!/^\d{1,5}$/.test(portText)) return fail(`port ${JSON.stringify(portText)} is not an integer 0–65535`)
  const port = Number(portText)
  if (port > 65535) return fail(`port ${port} is out of range 0–65535`)
  return Result.succeed({ host, port })
}

/** Whether a host only accepts connections from this machine. @category guards */
export const isLoopback = (host: string): boolean =>
  host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)

/** The base URL of a listening address (IPv6 in brackets). @category constructors */
export const url = (address: ObserverAddress): string =>
  `http://${Net.isIPv6(address.host) ? `[${address.host}]` : address.host}:${address.port}/`
