/**
 * KILL (0x11): `{name or id, signal?}` → `{killed}`. SIGTERM by default: the agent is asked to
 * stop and its whole sandbox is SIGKILLed after its grace period (systemd's TimeoutStopSec).
 * SIGKILL takes the sandbox down at once; any other signal goes to the agent alone.
 */
import { Effect } from "effect"
import { Op } from "../../protocol/Op.ts"
import type { KillResult } from "../../protocol/Results.ts"
import { KillArgs } from "../../protocol/Syscalls.ts"
import * as ExitReason from "../../sandbox/ExitReason.ts"
import { Agents } from "../../process/Agents.ts"
import * as KernelError from "../../process/KernelError.ts"
import * as Syscall from "../Syscall.ts"
import * as Target from "./Target.ts"

const decode = Syscall.decodeArgs(KillArgs)

/** @category syscalls */
export const Kill = Syscall.make(Op.KILL, (args) =>
  Effect.gen(function* () {
    const request = yield* decode(args)
    const target = yield* Target.get(request, "kill")
    const signal = request.signal === undefined ? 15 : ExitReason.signalNumber(request.signal)
    if (signal === undefined || signal === 0) {
      return yield* new KernelError.InvalidArgument({ message: `kill: unknown signal ${JSON.stringify(request.signal)}`, field: "signal" })
    }
    yield* (yield* Agents).kill(target, signal)
    return { killed: true } satisfies KillResult
  }))
