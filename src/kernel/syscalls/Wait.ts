/**
 * WAIT (0x13): `{name or id, timeoutMs?}` → `{code, signal, reason}` once the agent has ended
 * (at once when it already has); ETIMEDOUT when `timeoutMs` passes first.
 */
import { Effect } from "effect"
import { Op } from "../../protocol/Op.ts"
import { WaitArgs } from "../../protocol/Syscalls.ts"
import type { WaitResult } from "../../protocol/Results.ts"
import * as ExitReason from "../../sandbox/ExitReason.ts"
import { Agents } from "../../process/Agents.ts"
import * as Syscall from "../Syscall.ts"
import * as Target from "./Target.ts"

const decode = Syscall.decodeArgs(WaitArgs)

/** @category syscalls */
export const Wait = Syscall.make(Op.WAIT, (args) =>
  Effect.gen(function* () {
    const request = yield* decode(args)
    const target = yield* Target.get(request, "wait")
    const reason = yield* (yield* Agents).wait(target, request.timeoutMs)
    return { ...ExitReason.toWaitResult(reason), description: ExitReason.describe(reason) } satisfies WaitResult
  }))
