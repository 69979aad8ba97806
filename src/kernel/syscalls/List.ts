/**
 * LIST (0x12): every agent of the process table, running or ended, one row each, with its
 * mailbox's figures (`mailbox: {depth, inFlight}`; null before anything was sent to it or received by it).
 */
import { Clock, Effect } from "effect"
import { Router } from "../../ipc/Router.ts"
import { Op } from "../../protocol/Op.ts"
import type * as Rows from "../../protocol/Rows.ts"
import * as Agents from "../../process/Agents.ts"
import * as Syscall from "../Syscall.ts"

/** @category syscalls */
export const List = Syscall.make(Op.LIST, () =>
  Effect.gen(function* () {
    const agents = yield* Agents.Agents
    const router = yield* Router
    const now = yield* Clock.currentTimeMillis
    return agents.list().map((agent): Rows.ListRow => ({ ...Agents.row(agent, now), mailbox: router.mailbox(agent.name) }))
  }))
