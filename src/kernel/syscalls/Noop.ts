/**
 * NOOP (0x00): echoes its args exactly, as the bytes the client wrote; the cheapest round trip,
 * for liveness and benchmarks.
 */
import { Effect } from "effect"
import { Op } from "../../protocol/Op.ts"
import * as Syscall from "../Syscall.ts"

/** @category syscalls */
export const Noop = Syscall.make(Op.NOOP, (args) => Effect.succeed(args), "raw")
