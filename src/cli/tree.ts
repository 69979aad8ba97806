/** `agentos tree`: the supervision tree with each child's state (TREE); `--json` for machines. */
import { Console, Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { Client } from "../client/Client.ts"
import * as Boot from "../app/Boot.ts"
import * as Shared from "./shared.ts"

export const tree = Command.make("tree", {
  socket: Shared.socket,
  verbose: Shared.verbose,
  json: Flag.Boolean("json").pipe(Flag.withDescription("print TREE's answer as JSON"), Flag.withDefault(false))
}, ({ socket, json }) =>
  Effect.gen(function* () {
    const root = yield* (yield* Client).tree()
    if (json) return yield* Console.log(JSON.stringify(root, null, 2))
    if (root === null) return yield* Console.log("(no supervision tree)")
    for (const line of Boot.formatTree(root)) yield* Console.log(line)
  }).pipe(Effect.provide(Shared.clientLayer(socket)))).pipe(Command.withDescription("Show the supervision tree with each child's state"))
