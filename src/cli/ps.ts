/** `agentos ps`: the kernel's agents (LIST), as a table or `--json`. */
import { Console, Effect } from "effect"
import { Command, Flag } from "effect/cli"
import type { AgentInfo } from "../client/Calls.ts"
import { Client } from "../client/Client.ts"
import * as Shared from "./shared.ts"

const duration = (ms: unknown): string => {
  if (typeof ms !== "number") return "-"
  const s = Math.floor(ms / 1000)
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m${s % 60}s` : `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`
}
const bytes = (n: unknown): string => (typeof n !== "number" ? "-" : n < 1024 * 1024 ? `${Math.round(n / 1024)}K` : `${(n / 1024 / 1024).toFixed(1)}M`)

/** Renders LIST rows as an aligned table. */
export const formatTable = (rows: ReadonlyArray<AgentInfo>): string => {
  const header = ["ID", "NAME", "PID", "STATUS", "RESTARTS", "UPTIME", "MEMORY", "REASON"]
  const lines = rows.map((r) => [
    r.id,
    r.name,
    r.pid === null ? "-" : String(r.pid),
    r.status,
    String(r.restarts),
    duration(r.uptimeMs),
    bytes(r.memoryBytes),
    typeof r.reason === "string" ? r.reason : ""
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const render = (cells: ReadonlyArray<string>) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()
  return [render(header), ...lines.map(render)].join("\n") + (rows.length === 0 ? "\n(no agents)" : "")
}

export const ps = Command.make("ps", {
  socket: Shared.socket,
  verbose: Shared.verbose,
  json: Flag.Boolean("json").pipe(Flag.withDescription("print LIST's answer as JSON"), Flag.withDefault(false))
}, ({ socket, json }) =>
  Effect.gen(function* () {
    const rows = yield* (yield* Client).list()
    yield* Console.log(json ? JSON.stringify(rows, null, 2) : formatTable(rows))
  }).pipe(Effect.provide(Shared.clientLayer(socket)))).pipe(Command.withDescription("List the kernel's agents"))
